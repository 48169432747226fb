//! Plain types and rules of fieldcrm. No web framework, no database: input is
//! parsed into these types at the edge, so invalid input never reaches a query.

pub mod account;
mod contact;
pub mod messaging;
mod people;
pub mod permissions;
pub mod scheduling;
pub mod tracking;

pub use account::{AccountName, CountryCode, TimeZoneName};
pub use contact::{
    parse_notes, start_restores_consent, Address, AddressInput, Channel, ConsentChange,
    ConsentSource, ConsentStatus, Coordinates, Phone, Tag,
};
pub use people::{Email, Password, PersonName, Stage};
pub use permissions::{Action, ApiKeyScope, Role};

/// Why a value was refused, in words a user can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

/// Text a person types on one line: trimmed, 1 to `max_chars` characters, no
/// control characters.
pub fn single_line(raw: &str, max_chars: usize) -> Result<String, Invalid> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(Invalid("must not be empty".into()));
    }
    if text.chars().count() > max_chars {
        return Err(Invalid(format!("must be at most {max_chars} characters")));
    }
    if text.chars().any(char::is_control) {
        return Err(Invalid("must not contain control characters".into()));
    }
    Ok(text.to_owned())
}
