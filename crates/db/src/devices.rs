//! Device tokens: the trackers of technicians' phones, each sending positions
//! for one person of one account. The token is stored only as its hash.

use diesel::prelude::*;

use crate::accounts::Account;
use crate::connection::DbConnection;
use crate::schema::{accounts, devices};
use crate::types::sql::{DbTimestamp, DbUuid};
use crate::users::User;
use crate::{DbResult, Id, Ts};

#[derive(serde::Serialize, Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = devices, check_for_backend(crate::MultiBackend), treat_none_as_default_value = false)]
pub struct Device {
    pub id: Id<Device>,
    pub account_id: Id<Account>,
    pub user_id: Id<User>,
    pub label: String,
    /// The first characters of the token, to recognise a device in a list.
    pub prefix: String,
    /// SHA-256 of the token; the token itself is never stored.
    #[serde(skip)]
    pub token_hash: Vec<u8>,
    pub created_by: Option<Id<User>>,
    pub created_at: Ts,
    pub last_seen_at: Option<Ts>,
    pub stored: i64,
    pub duplicates: i64,
    pub outside_shift: i64,
    pub low_accuracy: i64,
    pub unparseable: i64,
    pub revoked_at: Option<Ts>,
}

/// What one request of a device added to its counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub stored: i64,
    pub duplicates: i64,
    pub outside_shift: i64,
    pub low_accuracy: i64,
    pub unparseable: i64,
}

pub fn insert(conn: &mut DbConnection, device: &Device) -> DbResult<()> {
    diesel::insert_into(devices::table)
        .values(device)
        .execute(conn)?;
    Ok(())
}

/// The live (not revoked) device with this token hash, and its account: all
/// an ingest reads of them, in one statement.
pub fn find_live_with_account_by_hash(
    conn: &mut DbConnection,
    hash: &[u8],
) -> DbResult<Option<(Device, Account)>> {
    Ok(devices::table
        .inner_join(accounts::table)
        .filter(devices::token_hash.eq(hash))
        .filter(devices::revoked_at.is_null())
        .select((Device::as_select(), Account::as_select()))
        .first(conn)
        .optional()?)
}

pub fn find(
    conn: &mut DbConnection,
    account: Id<Account>,
    user: Id<User>,
    id: Id<Device>,
) -> DbResult<Option<Device>> {
    Ok(devices::table
        .filter(devices::account_id.eq(account))
        .filter(devices::user_id.eq(user))
        .find(id)
        .select(Device::as_select())
        .first(conn)
        .optional()?)
}

/// A person's devices, revoked ones included, in id order.
pub fn list(
    conn: &mut DbConnection,
    account: Id<Account>,
    user: Id<User>,
    after: Option<Id<Device>>,
    limit: i64,
) -> DbResult<Vec<Device>> {
    let mut query = devices::table
        .filter(devices::account_id.eq(account))
        .filter(devices::user_id.eq(user))
        .select(Device::as_select())
        .order(devices::id)
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(devices::id.gt(after));
    }
    Ok(query.load(conn)?)
}

/// Revokes one device; `false` when there is no such live device.
pub fn revoke(
    conn: &mut DbConnection,
    account: Id<Account>,
    user: Id<User>,
    id: Id<Device>,
    at: Ts,
) -> DbResult<bool> {
    let updated = diesel::update(
        devices::table
            .filter(devices::account_id.eq(account))
            .filter(devices::user_id.eq(user))
            .filter(devices::revoked_at.is_null())
            .find(id),
    )
    .set(devices::revoked_at.eq(at))
    .execute(conn)?;
    Ok(updated > 0)
}

/// Revokes every live device of a person; returns their ids.
pub fn revoke_all_of(
    conn: &mut DbConnection,
    account: Id<Account>,
    user: Id<User>,
    at: Ts,
) -> DbResult<Vec<Id<Device>>> {
    let live = devices::table
        .filter(devices::account_id.eq(account))
        .filter(devices::user_id.eq(user))
        .filter(devices::revoked_at.is_null());
    let ids = live.select(devices::id).load(conn)?;
    if !ids.is_empty() {
        diesel::update(live)
            .set(devices::revoked_at.eq(at))
            .execute(conn)?;
    }
    Ok(ids)
}

/// Records a request of the device: when it was last seen and what it sent.
pub fn record_use(conn: &mut DbConnection, id: Id<Device>, at: Ts, counts: Counts) -> DbResult<()> {
    crate::natively!(conn, |c| RecordUse { id, at, counts }.execute(c))?;
    Ok(())
}

/// `record_use`'s `UPDATE`, written out so that each connection prepares it
/// once (`prepared_once!`): it runs with every tracker request.
struct RecordUse {
    id: Id<Device>,
    at: Ts,
    counts: Counts,
}

crate::connection::prepared_once!(RecordUse);

impl<DB> diesel::query_builder::QueryFragment<DB> for RecordUse
where
    DB: crate::connection::WrittenOutBinds,
    Id<Device>: diesel::serialize::ToSql<DbUuid, DB>,
    Ts: diesel::serialize::ToSql<DbTimestamp, DB>,
    i64: diesel::serialize::ToSql<diesel::sql_types::BigInt, DB>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> QueryResult<()> {
        out.push_sql("UPDATE devices SET last_seen_at = ");
        out.push_bind_param::<DbTimestamp, _>(&self.at)?;
        let counts = &self.counts;
        for (column, added) in [
            ("stored", &counts.stored),
            ("duplicates", &counts.duplicates),
            ("outside_shift", &counts.outside_shift),
            ("low_accuracy", &counts.low_accuracy),
            ("unparseable", &counts.unparseable),
        ] {
            out.push_sql(", ");
            out.push_sql(column);
            out.push_sql(" = ");
            out.push_sql(column);
            out.push_sql(" + ");
            out.push_bind_param::<diesel::sql_types::BigInt, _>(added)?;
        }
        out.push_sql(" WHERE id = ");
        out.push_bind_param::<DbUuid, _>(&self.id)
    }
}
