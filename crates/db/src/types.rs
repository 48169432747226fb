//! Ids and timestamps that are native on both backends.
//!
//! PostgreSQL stores `uuid` and `timestamptz`; SQLite stores a 16-byte BLOB and a
//! fixed-width RFC 3339 UTC text (which sorts in time order). Plain `Uuid` and
//! `DateTime<Utc>` cannot be bound through the multi connection (orphan rules),
//! so queries bind these newtypes.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::marker::PhantomData;

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
}
