//! The data layer: one diesel connection type over SQLite and PostgreSQL, the
//! portable schema, the SQL types that make ids and timestamps native on both,
//! the pool, the embedded migrations and the queries.
//!
//! Nothing above this crate writes SQL.
//!
//! Every `Insertable` writes a `None` as NULL
//! (`treat_none_as_default_value = false`): no nullable column has a default,
//! and diesel never prepares and caches an insert that may write `DEFAULT`, so
//! without it each insert would be parsed and planned anew.

pub mod accounts;
pub mod address;
pub mod api_keys;
pub mod appointments;
pub mod audit;
pub mod calendar_feeds;
mod connection;
pub mod consent;
pub mod devices;
pub mod erasure;
mod error;
pub mod events;
pub mod export;
pub mod google;
pub mod idempotency;
pub mod jobs;
pub mod link_keys;
pub mod login_failures;
pub mod messages;
pub mod migrations;
pub mod people;
pub mod pings;
mod pool;
pub mod refresh_tokens;
pub mod schema;
pub mod session_changes;
pub mod shifts;
pub mod types;
mod url;
pub mod users;
pub mod webhooks;

pub use connection::{init_tls, DbConnection, MultiBackend};
pub use error::DbError;
pub use pool::{
    without_statement_timeout, DbPool, PoolOptions, PoolStatus, PooledConnection, DB_THREAD_NAME,
};
pub use types::{Id, Stored, Ts};
pub use url::{Backend, DatabaseUrl, InvalidDatabaseUrl};

/// The result of every query function in this crate.
pub type DbResult<T> = Result<T, DbError>;

#[cfg(test)]
mod tests {
    use diesel::pg::Pg;
    use diesel::query_builder::QueryFragment;

    use crate::people::Person;
    use crate::schema::people;
    use crate::{Id, Stored, Ts};

    #[test]
    fn every_insertable_writes_none_as_null() {
        for (name, source) in [
            ("accounts", include_str!("accounts.rs")),
            ("address", include_str!("address.rs")),
            ("api_keys", include_str!("api_keys.rs")),
            ("appointments", include_str!("appointments.rs")),
            ("audit", include_str!("audit.rs")),
            ("consent", include_str!("consent.rs")),
            ("google", include_str!("google.rs")),
            ("idempotency", include_str!("idempotency.rs")),
            ("jobs", include_str!("jobs.rs")),
            ("messages", include_str!("messages.rs")),
            ("people", include_str!("people.rs")),
            ("pings", include_str!("pings.rs")),
            ("refresh_tokens", include_str!("refresh_tokens.rs")),
            ("shifts", include_str!("shifts.rs")),
            ("users", include_str!("users.rs")),
        ] {
            let derives = source.split("#[derive(").skip(1);
            for derive in derives.filter(|d| d[..d.find(')').unwrap_or(0)].contains("Insertable")) {
                let attributes = &derive[..derive.find("pub struct").unwrap_or(derive.len())];
                assert!(
                    attributes.contains("treat_none_as_default_value = false"),
                    "an Insertable in {name}.rs lacks treat_none_as_default_value = false"
                );
            }
        }
    }

    #[test]
    fn a_new_persons_insert_can_be_prepared_once() {
        let now = Ts::now();
        let person = Person {
            id: Id::new(),
            account_id: Id::new(),
            stage: Stored(fieldcrm_domain::Stage::Customer),
            name: "Ann".into(),
            sort_name: "ann".into(),
            company: None,
            email: None,
            phone: None,
            address: Default::default(),
            notes: None,
            search_text: "ann".into(),
            sms_consent: None,
            email_consent: None,
            version: 1,
            converted_at: None,
            created_at: now,
            updated_at: now,
        };
        let insert = diesel::insert_into(people::table).values(&person);
        assert!(QueryFragment::<Pg>::is_safe_to_cache_prepared(&insert, &Pg).unwrap());
    }
}
