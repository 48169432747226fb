//! What a POST sent with an `Idempotency-Key` created: its status and the
//! record's id, never the response body (a replay reads the record anew, so an
//! erased person or a cleared message body is not kept here).

use diesel::prelude::*;

use crate::accounts::Account;
use crate::connection::{DbConnection, MultiBackend};
use crate::schema::idempotency_keys;
use crate::{DbResult, Id, Ts};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = idempotency_keys, check_for_backend(MultiBackend), treat_none_as_default_value = false)]
pub struct StoredResponse {
    pub account_id: Id<Account>,
    pub idempotency_key: String,
    /// SHA-256 of method, path and body: the same key with another request is refused.
    pub request_hash: Vec<u8>,
    pub response_status: i32,
    /// The record the request created.
    pub resource_id: Option<Id<()>>,
    pub created_at: Ts,
}

pub fn find(
    conn: &mut DbConnection,
    account: Id<Account>,
    key: &str,
) -> DbResult<Option<StoredResponse>> {
    Ok(idempotency_keys::table
        .find((account, key))
        .select(StoredResponse::as_select())
        .first(conn)
        .optional()?)
}

pub fn insert(conn: &mut DbConnection, stored: &StoredResponse) -> DbResult<()> {
    diesel::insert_into(idempotency_keys::table)
        .values(stored)
        .execute(conn)?;
    Ok(())
}

/// Forgets the account's keys stored before `before`.
pub fn forget_older_than(
    conn: &mut DbConnection,
    account: Id<Account>,
    before: Ts,
) -> DbResult<usize> {
    Ok(diesel::delete(
        idempotency_keys::table
            .filter(idempotency_keys::account_id.eq(account))
            .filter(idempotency_keys::created_at.lt(before)),
    )
    .execute(conn)?)
}

/// Forgets every account's keys stored before `before`: the upkeep's part, so
/// keys expire whether or not their account sends another keyed request.
pub fn forget_all_older_than(conn: &mut DbConnection, before: Ts) -> DbResult<usize> {
    Ok(
        diesel::delete(idempotency_keys::table.filter(idempotency_keys::created_at.lt(before)))
            .execute(conn)?,
    )
}
