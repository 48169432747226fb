use diesel::prelude::*;

use crate::accounts::Account;
use crate::connection::{DbConnection, MultiBackend};
use crate::schema::{accounts, api_keys};
use crate::types::Stored;
use crate::users::User;
use crate::{DbResult, Id, Ts};

#[derive(serde::Serialize, Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = api_keys, check_for_backend(MultiBackend), treat_none_as_default_value = false)]
pub struct ApiKey {
    pub id: Id<ApiKey>,
    pub account_id: Id<Account>,
    pub name: String,
    pub scope: Stored<fieldcrm_domain::ApiKeyScope>,
    /// The first characters of the secret, to recognise a key in a list.
    pub prefix: String,
    /// SHA-256 of the secret; the secret itself is never stored.
    #[serde(skip)]
    pub secret_hash: Vec<u8>,
    pub created_by: Option<Id<User>>,
    pub created_at: Ts,
    pub last_used_at: Option<Ts>,
}

pub fn insert(conn: &mut DbConnection, key: &ApiKey) -> DbResult<()> {
    diesel::insert_into(api_keys::table)
        .values(key)
        .execute(conn)?;
    Ok(())
}

/// The key with this secret hash and its account's default country (for reading
/// phone numbers given without a country code), in one query.
pub fn find_by_hash(
    conn: &mut DbConnection,
    hash: &[u8],
) -> DbResult<Option<(ApiKey, Stored<fieldcrm_domain::CountryCode>)>> {
    Ok(api_keys::table
        .inner_join(accounts::table)
        .filter(api_keys::secret_hash.eq(hash))
        .select((ApiKey::as_select(), accounts::default_country))
        .first(conn)
        .optional()?)
}

pub fn list(
    conn: &mut DbConnection,
    account: Id<Account>,
    after: Option<Id<ApiKey>>,
    limit: i64,
) -> DbResult<Vec<ApiKey>> {
    let mut query = api_keys::table
        .filter(api_keys::account_id.eq(account))
        .select(ApiKey::as_select())
        .order(api_keys::id)
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(api_keys::id.gt(after));
    }
    Ok(query.load(conn)?)
}

/// Records a use, at most once per `stale_before` interval, so a busy
/// integration does not turn every read into a write.
pub fn touch(conn: &mut DbConnection, id: Id<ApiKey>, now: Ts, stale_before: Ts) -> DbResult<()> {
    diesel::update(
        api_keys::table.find(id).filter(
            api_keys::last_used_at
                .is_null()
                .or(api_keys::last_used_at.lt(stale_before)),
        ),
    )
    .set(api_keys::last_used_at.eq(now))
    .execute(conn)?;
    Ok(())
}

pub fn delete(conn: &mut DbConnection, account: Id<Account>, id: Id<ApiKey>) -> DbResult<bool> {
    let deleted = diesel::delete(
        api_keys::table
            .filter(api_keys::account_id.eq(account))
            .find(id),
    )
    .execute(conn)?;
    Ok(deleted > 0)
}

pub fn find(
    conn: &mut DbConnection,
    account: Id<Account>,
    id: Id<ApiKey>,
) -> DbResult<Option<ApiKey>> {
    Ok(api_keys::table
        .filter(api_keys::account_id.eq(account))
        .find(id)
        .select(ApiKey::as_select())
        .first(conn)
        .optional()?)
}

/// Revokes every key of the account that `user` made; returns their ids.
pub fn delete_created_by(
    conn: &mut DbConnection,
    account: Id<Account>,
    user: Id<User>,
) -> DbResult<Vec<Id<ApiKey>>> {
    let mine = api_keys::table
        .filter(api_keys::account_id.eq(account))
        .filter(api_keys::created_by.eq(user));
    let ids = mine.select(api_keys::id).load(conn)?;
    if !ids.is_empty() {
        diesel::delete(mine).execute(conn)?;
    }
    Ok(ids)
}
