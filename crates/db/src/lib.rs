//! The data layer: one diesel connection type over SQLite and PostgreSQL, the
//! portable schema, the SQL types that make ids and timestamps native on both,
//! the pool, the embedded migrations and the queries.
//!
//! Nothing above this crate writes SQL.

pub mod accounts;
pub mod api_keys;
pub mod appointments;
pub mod audit;
pub mod calendar_feeds;
mod connection;
pub mod consent;
pub mod erasure;
mod error;
pub mod export;
pub mod google;
pub mod idempotency;
pub mod jobs;
pub mod login_failures;
pub mod messages;
pub mod migrations;
pub mod people;
pub mod pings;
mod pool;
pub mod refresh_tokens;
pub mod schema;
pub mod shifts;
pub mod types;
mod url;
pub mod users;

pub use connection::{init_tls, DbConnection, MultiBackend};
pub use error::DbError;
pub use pool::{DbPool, PoolOptions, PoolStatus, PooledConnection};
pub use types::{Id, Ts};
pub use url::{Backend, DatabaseUrl, InvalidDatabaseUrl};

/// The result of every query function in this crate.
pub type DbResult<T> = Result<T, DbError>;
