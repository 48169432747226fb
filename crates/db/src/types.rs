//! Ids and timestamps that are native on both backends.
//!
//! PostgreSQL stores `uuid` and `timestamptz`; SQLite stores a 16-byte BLOB and a
//! fixed-width RFC 3339 UTC text (which sorts in time order). Plain `Uuid` and
//! `DateTime<Utc>` cannot be bound through the multi connection (orphan rules),
//! so queries bind these newtypes.
//!
//! `Stored<T>` does the same for the domain's words kept in text columns (a
//! status, a channel, a role): a column is parsed once, as its row is read.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::marker::PhantomData;
use std::ops::Deref;
use std::str::FromStr;

use chrono::{DateTime, SubsecRound, Utc};
use diesel::deserialize::{self, FromSql};
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::{Binary, HasSqlType, Text};
use diesel::sqlite::{Sqlite, SqliteValue};
use diesel::{AsExpression, FromSqlRow};
use uuid::Uuid;

use crate::connection::MultiBackend;

pub mod sql {
    /// `uuid` on PostgreSQL, a 16-byte BLOB on SQLite.
    #[derive(Debug, Clone, Copy, Default, diesel::SqlType, diesel::QueryId)]
    #[diesel(postgres_type(oid = 2950, array_oid = 2951))]
    #[diesel(sqlite_type(name = "Binary"))]
    pub struct DbUuid;

    /// `timestamptz` on PostgreSQL, RFC 3339 UTC text with microseconds on SQLite.
    #[derive(Debug, Clone, Copy, Default, diesel::SqlType, diesel::QueryId)]
    #[diesel(postgres_type(oid = 1184, array_oid = 1185))]
    #[diesel(sqlite_type(name = "Text"))]
    pub struct DbTimestamp;
}
use sql::{DbTimestamp, DbUuid};

/// The id of a row of kind `T` (a UUIDv7, so ids sort by creation time).
/// The kind keeps a customer id from being passed where a user id is expected.
#[derive(AsExpression, FromSqlRow)]
#[diesel(sql_type = DbUuid)]
pub struct Id<T>(Uuid, PhantomData<fn() -> T>);

impl<T> Id<T> {
    pub fn new() -> Self {
        Self::from_uuid(Uuid::now_v7())
    }

    pub const fn from_uuid(uuid: Uuid) -> Self {
        Self(uuid, PhantomData)
    }

    pub const fn uuid(&self) -> Uuid {
        self.0
    }
}

impl<T> Default for Id<T> {
    fn default() -> Self {
        Self::new()
    }
}
impl<T> Clone for Id<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Id<T> {}
impl<T> PartialEq for Id<T> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}
impl<T> Eq for Id<T> {}
impl<T> Hash for Id<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}
impl<T> fmt::Debug for Id<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}
impl<T> fmt::Display for Id<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}
impl<T> From<Uuid> for Id<T> {
    fn from(uuid: Uuid) -> Self {
        Self::from_uuid(uuid)
    }
}
impl<T> From<Id<T>> for Uuid {
    fn from(id: Id<T>) -> Self {
        id.0
    }
}

impl<T> ToSql<DbUuid, Pg> for Id<T> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        out.write_all(self.0.as_bytes())?;
        Ok(IsNull::No)
    }
}
impl<T> FromSql<DbUuid, Pg> for Id<T> {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        Ok(Self::from_uuid(Uuid::from_slice(value.as_bytes())?))
    }
}
impl<T> ToSql<DbUuid, Sqlite> for Id<T> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.0.as_bytes().as_slice());
        Ok(IsNull::No)
    }
}
impl<T> FromSql<DbUuid, Sqlite> for Id<T> {
    fn from_sql(value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        let bytes = <Vec<u8> as FromSql<Binary, Sqlite>>::from_sql(value)?;
        Ok(Self::from_uuid(Uuid::from_slice(&bytes)?))
    }
}
impl HasSqlType<DbUuid> for MultiBackend {
    fn metadata(lookup: &mut Self::MetadataLookup) -> Self::TypeMetadata {
        MultiBackend::lookup_sql_type::<DbUuid>(lookup)
    }
}
impl<T: 'static> ToSql<DbUuid, MultiBackend> for Id<T> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
        out.set_value((DbUuid, self));
        Ok(IsNull::No)
    }
}
impl<T: 'static> FromSql<DbUuid, MultiBackend> for Id<T> {
    fn from_sql(
        value: <MultiBackend as diesel::backend::Backend>::RawValue<'_>,
    ) -> deserialize::Result<Self> {
        value.from_sql::<Self, DbUuid>()
    }
}

/// A point in time, UTC, truncated to microseconds: what both databases keep, so
/// a value written and read back compares equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, AsExpression, FromSqlRow)]
#[diesel(sql_type = DbTimestamp)]
pub struct Ts(DateTime<Utc>);

impl Ts {
    pub fn now() -> Self {
        Self::from(Utc::now())
    }

    pub const fn get(&self) -> DateTime<Utc> {
        self.0
    }

    /// Fixed width, so text comparison in SQLite orders like time.
    fn to_sqlite_text(self) -> String {
        self.0.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
    }
}

/// RFC 3339, as the API shows it.
impl serde::Serialize for Ts {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<T> serde::Serialize for Id<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de, T> serde::Deserialize<'de> for Id<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Uuid::deserialize(deserializer).map(Self::from_uuid)
    }
}

impl From<DateTime<Utc>> for Ts {
    fn from(at: DateTime<Utc>) -> Self {
        Self(at.trunc_subsecs(6))
    }
}
impl From<Ts> for DateTime<Utc> {
    fn from(ts: Ts) -> Self {
        ts.0
    }
}

impl ToSql<DbTimestamp, Pg> for Ts {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <DateTime<Utc> as ToSql<diesel::sql_types::Timestamptz, Pg>>::to_sql(&self.0, out)
    }
}
impl FromSql<DbTimestamp, Pg> for Ts {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        <DateTime<Utc> as FromSql<diesel::sql_types::Timestamptz, Pg>>::from_sql(value).map(Self)
    }
}
impl ToSql<DbTimestamp, Sqlite> for Ts {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.to_sqlite_text());
        Ok(IsNull::No)
    }
}
impl FromSql<DbTimestamp, Sqlite> for Ts {
    fn from_sql(value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        let text = <String as FromSql<Text, Sqlite>>::from_sql(value)?;
        Ok(Self::from(
            DateTime::parse_from_rfc3339(&text)?.with_timezone(&Utc),
        ))
    }
}
impl HasSqlType<DbTimestamp> for MultiBackend {
    fn metadata(lookup: &mut Self::MetadataLookup) -> Self::TypeMetadata {
        MultiBackend::lookup_sql_type::<DbTimestamp>(lookup)
    }
}
impl ToSql<DbTimestamp, MultiBackend> for Ts {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
        out.set_value((DbTimestamp, self));
        Ok(IsNull::No)
    }
}
impl FromSql<DbTimestamp, MultiBackend> for Ts {
    fn from_sql(
        value: <MultiBackend as diesel::backend::Backend>::RawValue<'_>,
    ) -> deserialize::Result<Self> {
        value.from_sql::<Self, DbTimestamp>()
    }
}

/// A domain value kept in a text column as its word.
pub trait StoredText: FromStr + fmt::Debug + 'static {
    /// The word written to the column; `from_str` reads it back.
    fn stored_text(&self) -> &str;
}

/// A text column read as the domain type `T`. The column is parsed when its row
/// is read, so a use case never handles the raw word; a stored word that does
/// not parse fails the read (a deserialization error), never becomes a default.
#[derive(Clone, Copy, PartialEq, Eq, Hash, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
pub struct Stored<T>(pub T);

impl<T> Deref for Stored<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}
impl<T> From<T> for Stored<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}
impl<T: PartialEq> PartialEq<T> for Stored<T> {
    fn eq(&self, other: &T) -> bool {
        self.0 == *other
    }
}
impl<T: fmt::Debug> fmt::Debug for Stored<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The stored word, as an export shows it.
impl<T: StoredText> serde::Serialize for Stored<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.stored_text())
    }
}

/// Text on every backend, so one impl serves the multi connection and the hot
/// queries that run on a backend's own connection.
impl<T, DB> ToSql<Text, DB> for Stored<T>
where
    T: StoredText,
    DB: diesel::backend::Backend,
    str: ToSql<Text, DB>,
{
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
        self.0.stored_text().to_sql(out)
    }
}
impl<T, DB> FromSql<Text, DB> for Stored<T>
where
    T: StoredText,
    DB: diesel::backend::Backend,
    String: FromSql<Text, DB>,
{
    fn from_sql(value: DB::RawValue<'_>) -> deserialize::Result<Self> {
        let text = String::from_sql(value)?;
        text.parse().map(Self).map_err(|_| {
            format!(
                "the stored word `{text}` is not a {}",
                std::any::type_name::<T>()
            )
            .into()
        })
    }
}

/// The domain's enums by the words their `as_str` writes.
macro_rules! stored_as_str {
    ($($t:ty),* $(,)?) => {$(
        impl StoredText for $t {
            fn stored_text(&self) -> &str {
                self.as_str()
            }
        }
    )*};
}
stored_as_str!(
    fieldcrm_domain::scheduling::Status,
    fieldcrm_domain::scheduling::ReminderStatus,
    fieldcrm_domain::messaging::MessageStatus,
    fieldcrm_domain::messaging::MessageKind,
    fieldcrm_domain::Channel,
    fieldcrm_domain::ConsentStatus,
    fieldcrm_domain::ConsentChange,
    fieldcrm_domain::ConsentSource,
    fieldcrm_domain::Stage,
    fieldcrm_domain::Role,
    fieldcrm_domain::ApiKeyScope,
    fieldcrm_domain::CountryCode,
);

impl StoredText for fieldcrm_domain::TimeZoneName {
    fn stored_text(&self) -> &str {
        self.name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_text_is_fixed_width_and_round_trips() {
        let whole = Ts::from(
            DateTime::parse_from_rfc3339("2026-03-29T01:00:00Z")
                .unwrap()
                .to_utc(),
        );
        let fine = Ts::from(
            DateTime::parse_from_rfc3339("2026-03-29T01:00:00.123456789Z")
                .unwrap()
                .to_utc(),
        );
        assert_eq!(whole.to_sqlite_text(), "2026-03-29T01:00:00.000000Z");
        assert_eq!(fine.to_sqlite_text(), "2026-03-29T01:00:00.123456Z");
        assert!(whole.to_sqlite_text() < fine.to_sqlite_text());
        let back = DateTime::parse_from_rfc3339(&fine.to_sqlite_text())
            .unwrap()
            .to_utc();
        assert_eq!(Ts::from(back), fine);
    }

    #[test]
    fn ids_are_time_ordered() {
        let a: Id<()> = Id::new();
        let b: Id<()> = Id::new();
        assert!(a.uuid() < b.uuid());
        assert_eq!(a.uuid().get_version_num(), 7);
    }

    #[test]
    fn a_stored_word_that_does_not_parse_fails_the_read() {
        use diesel::connection::SimpleConnection;

        use crate::accounts::{self, Account};
        use crate::{DatabaseUrl, DbConnection, DbError};

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("words.db");
        let url = DatabaseUrl::parse(&format!("sqlite://{}", path.display())).unwrap();
        let mut conn = DbConnection::open(&url).unwrap();
        crate::migrations::run_pending(&mut conn).unwrap();
        let now = Ts::now().to_sqlite_text();
        let mut insert = |time_zone: &str| {
            let id: Id<Account> = Id::new();
            conn.batch_execute(&format!(
                "INSERT INTO accounts (id, name, time_zone, created_at, updated_at) \
                 VALUES (x'{}', 'Acme', '{time_zone}', '{now}', '{now}')",
                id.uuid().simple()
            ))
            .unwrap();
            id
        };
        let (good, bad) = (insert("Europe/Berlin"), insert("Mars/Olympus_Mons"));

        let read = accounts::find(&mut conn, good).unwrap().unwrap();
        assert_eq!(read.time_zone.name(), "Europe/Berlin");
        let err = accounts::find(&mut conn, bad).unwrap_err();
        assert!(
            matches!(
                &err,
                DbError::Query(diesel::result::Error::DeserializationError(_))
            ),
            "{err:?}"
        );
        assert!(
            format!("{err:?}").contains("`Mars/Olympus_Mons`"),
            "{err:?}"
        );
    }
}
