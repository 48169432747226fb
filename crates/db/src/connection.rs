use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, SqliteConnection};

use crate::types::sql::{DbTimestamp, DbUuid};
use crate::url::DatabaseUrl;

/// One connection type for both backends. Queries are written once against its
/// `MultiBackend`; the few statements that differ per backend match on the variant.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

/// Per-connection settings for SQLite. WAL lets readers work while one writer
/// writes; the busy timeout makes a second writer wait instead of failing at once;
/// foreign keys are off by default in SQLite and must be switched on for every
/// connection, or `ON DELETE CASCADE` silently does nothing.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
PRAGMA foreign_keys = ON;
PRAGMA busy_timeout = 5000;
PRAGMA secure_delete = ON;";

#[diesel::declare_sql_function]
extern "SQL" {
    /// A new random (version 4) UUID, as statements write it: PostgreSQL's
    /// own function (13 and later); `DbConnection::open` gives every SQLite
    /// connection the same, returning the 16 bytes SQLite keeps ids as.
    fn gen_random_uuid() -> Binary;
}

/// Initialises OpenSSL before libpq does. libpq's own initialisation registers
/// OpenSSL's clean-up to run at process exit, which frees what other threads
/// still use for their TLS connections and can crash a process on its way out;
/// this one asks OpenSSL not to. Call before the first PostgreSQL connection
/// (`open` does); later calls do nothing.
pub fn init_tls() {
    openssl_sys::init();
}

impl DbConnection {
    /// Opens a connection for the backend the URL names. Never guesses: diesel's
    /// derived `establish` would try each backend in turn and could create a SQLite
    /// file named after a PostgreSQL URL.
    pub fn open(url: &DatabaseUrl) -> Result<Self, diesel::ConnectionError> {
        match url {
            DatabaseUrl::Postgres(url) => {
                init_tls();
                PgConnection::establish(url.expose()).map(Self::Pg)
            }
            DatabaseUrl::Sqlite(path) => {
                let path = path.to_str().ok_or_else(|| {
                    diesel::ConnectionError::InvalidConnectionUrl(
                        "the SQLite path is not valid UTF-8".into(),
                    )
                })?;
                let mut conn = SqliteConnection::establish(path)?;
                conn.batch_execute(SQLITE_PRAGMAS)
                    .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                gen_random_uuid_utils::register_nondeterministic_impl(&conn, || {
                    uuid::Uuid::new_v4().as_bytes().to_vec()
                })
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                Ok(Self::Sqlite(conn))
            }
        }
    }
}

/// Runs `$body` with the connection of its own backend bound to `$c`, rather
/// than through `MultiBackend`, whose query wrapper writes the SQL text of a
/// query out again on every run (two or three times) even when its prepared
/// statement is cached: for a GET by id that was a quarter of the server's
/// CPU. For the hot paths; `$body` is compiled once per backend.
#[macro_export]
macro_rules! natively {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::DbConnection::Pg($c) => $body,
            $crate::DbConnection::Sqlite($c) => $body,
        }
    };
}

/// Marks `$statement`, a statement written out by hand whose text its type
/// fixes, as one each connection prepares once and finds again by that type.
/// diesel prepares afresh each time every `UPDATE` it builds (a changeset may
/// leave fields out), every upsert and every `sql_query`, so PostgreSQL
/// parses and plans them again for each request; the hot ones are written out.
macro_rules! prepared_once {
    ($statement:ty) => {
        impl diesel::query_builder::QueryId for $statement {
            type QueryId = Self;
            const HAS_STATIC_QUERY_ID: bool = true;
        }

        impl<C> diesel::RunQueryDsl<C> for $statement {}
    };
}
pub(crate) use prepared_once;

/// A backend that takes the binds of the statements written out by hand in
/// this crate: both do.
pub(crate) trait WrittenOutBinds:
    diesel::backend::Backend
    + diesel::sql_types::HasSqlType<DbUuid>
    + diesel::sql_types::HasSqlType<DbTimestamp>
    + diesel::sql_types::HasSqlType<diesel::sql_types::BigInt>
    + diesel::sql_types::HasSqlType<diesel::sql_types::Text>
{
}

impl<DB> WrittenOutBinds for DB where
    DB: diesel::backend::Backend
        + diesel::sql_types::HasSqlType<DbUuid>
        + diesel::sql_types::HasSqlType<DbTimestamp>
        + diesel::sql_types::HasSqlType<diesel::sql_types::BigInt>
        + diesel::sql_types::HasSqlType<diesel::sql_types::Text>
{
}
