//! Who is calling: a person with an access token, or an integration with an API
//! key. The extractor answers 401 for anything else; `Caller::require` answers
//! 403 for what the caller's role or scope does not allow.

mod caller;
mod client;
pub mod passwords;
pub mod sessions;
pub mod tokens;

pub use caller::{Caller, Principal};
pub use client::client_address;
pub use sessions::SessionCache;
pub use tokens::{TokenPair, Tokens};
