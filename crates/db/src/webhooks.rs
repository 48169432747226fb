//! Webhook endpoints of an account and the log of delivery attempts.

use diesel::prelude::*;

use crate::accounts::Account;
use crate::connection::{DbConnection, MultiBackend};
use crate::events::Event;
use crate::schema::{webhook_deliveries, webhook_endpoints};
use crate::{DbResult, Id, Ts};

#[derive(
    Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset, serde::Serialize,
)]
#[diesel(
    table_name = webhook_endpoints,
    check_for_backend(MultiBackend),
    treat_none_as_null = true,
    treat_none_as_default_value = false
)]
pub struct Endpoint {
    pub id: Id<Endpoint>,
    pub account_id: Id<Account>,
    pub url: String,
    pub description: Option<String>,
    /// A JSON array of event types; `None` for every type.
    pub event_types: Option<String>,
    /// `thin` or `full`.
    pub payload: String,
    pub enabled: bool,
    /// Never exported, even sealed.
    #[serde(skip)]
    pub secret_sealed: String,
    #[serde(skip)]
    pub previous_secret_sealed: Option<String>,
    pub previous_secret_until: Option<Ts>,
    /// The first failed attempt since the last success.
    pub failing_since: Option<Ts>,
    pub disabled_reason: Option<String>,
    pub created_at: Ts,
    pub updated_at: Ts,
    pub version: i32,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = webhook_deliveries, check_for_backend(MultiBackend), treat_none_as_default_value = false)]
pub struct Delivery {
    pub id: Id<Delivery>,
    pub account_id: Id<Account>,
    pub endpoint_id: Id<Endpoint>,
    pub event_id: Id<Event>,
    pub event_type: String,
    pub attempt: i32,
    pub status_code: Option<i32>,
    pub duration_ms: i32,
    pub error: Option<String>,
    pub attempted_at: Ts,
}

pub fn insert(conn: &mut DbConnection, endpoint: &Endpoint) -> DbResult<()> {
    diesel::insert_into(webhook_endpoints::table)
        .values(endpoint)
        .execute(conn)?;
    Ok(())
}

pub fn find(
    conn: &mut DbConnection,
    account: Id<Account>,
    id: Id<Endpoint>,
) -> DbResult<Option<Endpoint>> {
    Ok(webhook_endpoints::table
        .filter(webhook_endpoints::account_id.eq(account))
        .find(id)
        .select(Endpoint::as_select())
        .first(conn)
        .optional()?)
}

/// Oldest first, after `after`.
pub fn list(
    conn: &mut DbConnection,
    account: Id<Account>,
    after: Option<Id<Endpoint>>,
    limit: i64,
) -> DbResult<Vec<Endpoint>> {
    let mut query = webhook_endpoints::table
        .filter(webhook_endpoints::account_id.eq(account))
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(webhook_endpoints::id.gt(after));
    }
    Ok(query
        .order(webhook_endpoints::id.asc())
        .limit(limit)
        .select(Endpoint::as_select())
        .load(conn)?)
}

/// The account's enabled endpoints (a handful: the caller picks by type).
pub fn enabled(conn: &mut DbConnection, account: Id<Account>) -> DbResult<Vec<Endpoint>> {
    Ok(webhook_endpoints::table
        .filter(webhook_endpoints::account_id.eq(account))
        .filter(webhook_endpoints::enabled.eq(true))
        .order(webhook_endpoints::id.asc())
        .select(Endpoint::as_select())
        .load(conn)?)
}

/// How many endpoints the account has.
pub fn count(conn: &mut DbConnection, account: Id<Account>) -> DbResult<i64> {
    Ok(webhook_endpoints::table
        .filter(webhook_endpoints::account_id.eq(account))
        .count()
        .get_result(conn)?)
}

/// Writes a changed endpoint; false if its version is no longer
/// `expected_version` (someone else changed it).
pub fn save(conn: &mut DbConnection, endpoint: &Endpoint, expected_version: i32) -> DbResult<bool> {
    let updated = diesel::update(
        webhook_endpoints::table
            .filter(webhook_endpoints::account_id.eq(endpoint.account_id))
            .find(endpoint.id)
            .filter(webhook_endpoints::version.eq(expected_version)),
    )
    .set(endpoint)
    .execute(conn)?;
    Ok(updated == 1)
}

/// Records how deliveries to the endpoint go, without touching what its
/// owner edits (URL, types, secret).
pub fn set_health(
    conn: &mut DbConnection,
    id: Id<Endpoint>,
    enabled: bool,
    failing_since: Option<Ts>,
    disabled_reason: Option<&str>,
) -> DbResult<()> {
    diesel::update(webhook_endpoints::table.find(id))
        .set((
            webhook_endpoints::enabled.eq(enabled),
            webhook_endpoints::failing_since.eq(failing_since),
            webhook_endpoints::disabled_reason.eq(disabled_reason),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn delete(conn: &mut DbConnection, account: Id<Account>, id: Id<Endpoint>) -> DbResult<bool> {
    let deleted = diesel::delete(
        webhook_endpoints::table
            .filter(webhook_endpoints::account_id.eq(account))
            .find(id),
    )
    .execute(conn)?;
    Ok(deleted == 1)
}

pub fn record_delivery(conn: &mut DbConnection, delivery: &Delivery) -> DbResult<()> {
    diesel::insert_into(webhook_deliveries::table)
        .values(delivery)
        .execute(conn)?;
    Ok(())
}

pub fn find_delivery(
    conn: &mut DbConnection,
    account: Id<Account>,
    endpoint: Id<Endpoint>,
    id: Id<Delivery>,
) -> DbResult<Option<Delivery>> {
    Ok(webhook_deliveries::table
        .filter(webhook_deliveries::account_id.eq(account))
        .filter(webhook_deliveries::endpoint_id.eq(endpoint))
        .find(id)
        .select(Delivery::as_select())
        .first(conn)
        .optional()?)
}

/// Newest first, before `before`.
pub fn deliveries(
    conn: &mut DbConnection,
    account: Id<Account>,
    endpoint: Id<Endpoint>,
    before: Option<Id<Delivery>>,
    limit: i64,
) -> DbResult<Vec<Delivery>> {
    let mut query = webhook_deliveries::table
        .filter(webhook_deliveries::account_id.eq(account))
        .filter(webhook_deliveries::endpoint_id.eq(endpoint))
        .into_boxed();
    if let Some(before) = before {
        query = query.filter(webhook_deliveries::id.lt(before));
    }
    Ok(query
        .order(webhook_deliveries::id.desc())
        .limit(limit)
        .select(Delivery::as_select())
        .load(conn)?)
}

/// Removes the log of attempts made before `before`, at most `batch` rows.
pub fn purge_deliveries_before(conn: &mut DbConnection, before: Ts, batch: i64) -> DbResult<usize> {
    let ids: Vec<Id<Delivery>> = webhook_deliveries::table
        .filter(webhook_deliveries::attempted_at.lt(before))
        .select(webhook_deliveries::id)
        .limit(batch)
        .load(conn)?;
    if ids.is_empty() {
        return Ok(0);
    }
    Ok(
        diesel::delete(webhook_deliveries::table.filter(webhook_deliveries::id.eq_any(ids)))
            .execute(conn)?,
    )
}
