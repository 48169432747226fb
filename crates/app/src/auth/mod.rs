//! What proves who is calling: access and refresh tokens, API key and link
//! secrets, password hashes, and the cache of live sessions.

pub mod passwords;
pub mod sessions;
pub mod tokens;
