//! Word from PostgreSQL that what an access token is checked against has
//! changed: a user's role or token version, a removed user, an account's
//! country or a removed account. Triggers (migration `notify_session_changes`)
//! send it on commit to every process listening, so an API process may keep
//! those facts between requests and still drop them when any process, or an
//! operator with `psql`, changes them.
//!
//! SQLite has no such channel; there every request reads the facts afresh.

use diesel::connection::SimpleConnection;
use diesel::sql_types::Text;
use diesel::{Connection, PgConnection, RunQueryDsl};

use crate::accounts::Account;
use crate::users::User;
use crate::{init_tls, DatabaseUrl, DbError, DbResult, Id};

/// The notification channel the triggers send on.
pub const CHANNEL: &str = "fieldcrm_session_changes";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionChange {
    User(Id<User>),
    Account(Id<Account>),
    /// A listener's own probe (see [`SessionListener::send_heartbeat`]).
    Heartbeat(String),
}

impl SessionChange {
    /// Reads a trigger's payload (`user:<uuid>`, `account:<uuid>`) or a heartbeat.
    pub fn parse(payload: &str) -> Option<Self> {
        let (kind, value) = payload.split_once(':')?;
        match kind {
            "user" => value.parse().ok().map(|id| Self::User(Id::from_uuid(id))),
            "account" => value
                .parse()
                .ok()
                .map(|id| Self::Account(Id::from_uuid(id))),
            "heartbeat" => Some(Self::Heartbeat(value.to_owned())),
            _ => None,
        }
    }
}

/// A connection of its own that listens on [`CHANNEL`]. It is never pooled: a
/// pooled connection would stop listening whenever another job borrowed it.
pub struct SessionListener {
    conn: PgConnection,
}

impl SessionListener {
    /// Connects and starts listening; `None` for SQLite.
    pub fn connect(url: &DatabaseUrl) -> DbResult<Option<Self>> {
        let DatabaseUrl::Postgres(url) = url else {
            return Ok(None);
        };
        init_tls();
        let mut conn = PgConnection::establish(url.expose())
            .map_err(|err| DbError::Unavailable(err.to_string()))?;
        conn.batch_execute(&format!(
            "SET application_name = 'fieldcrm-session-listener'; LISTEN {CHANNEL}"
        ))?;
        Ok(Some(Self { conn }))
    }

    /// Sends a probe through the database to every listener, this one included.
    /// Its arrival proves the channel works end to end, which a connection that
    /// merely stays open does not (a pooler in transaction mode keeps `LISTEN`
    /// on one server connection and sends `NOTIFY` through another).
    pub fn send_heartbeat(&mut self, token: &str) -> DbResult<()> {
        diesel::sql_query("SELECT pg_notify($1, $2)")
            .bind::<Text, _>(CHANNEL)
            .bind::<Text, _>(format!("heartbeat:{token}"))
            .execute(&mut self.conn)?;
        Ok(())
    }

    /// What has arrived since the last call, without waiting. An error means
    /// the connection is gone and notifications may have been missed.
    pub fn received(&mut self) -> DbResult<Vec<SessionChange>> {
        let mut changes = Vec::new();
        for notification in self.conn.notifications_iter() {
            let notification = notification.map_err(|err| DbError::Unavailable(err.to_string()))?;
            if notification.channel == CHANNEL {
                changes.extend(SessionChange::parse(&notification.payload));
            }
        }
        Ok(changes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_of_the_triggers_and_heartbeats_are_read() {
        let id = uuid::Uuid::now_v7();
        assert_eq!(
            SessionChange::parse(&format!("user:{id}")),
            Some(SessionChange::User(Id::from_uuid(id)))
        );
        assert_eq!(
            SessionChange::parse(&format!("account:{id}")),
            Some(SessionChange::Account(Id::from_uuid(id)))
        );
        assert_eq!(
            SessionChange::parse("heartbeat:abc"),
            Some(SessionChange::Heartbeat("abc".into()))
        );
        assert_eq!(SessionChange::parse("user:not-a-uuid"), None);
        assert_eq!(SessionChange::parse("something else"), None);
    }
}
