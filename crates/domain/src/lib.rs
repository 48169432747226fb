//! Plain types and rules of fieldcrm. No web framework, no database: input is
//! parsed into these types at the edge, so invalid input never reaches a query.

mod account;
mod people;
pub mod permissions;

pub use account::{AccountName, CountryCode, TimeZoneName};
pub use people::{Email, Password, PersonName};
pub use permissions::{Action, ApiKeyScope, Role};

/// Why a value was refused, in words a user can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);
