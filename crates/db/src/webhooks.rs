//! Webhook endpoints of an account and the log of delivery attempts.

use diesel::backend::Backend;
use diesel::expression::{is_aggregate, ValidGrouping};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{Bool, HasSqlType, Integer, Nullable, Text};
use diesel::sqlite::Sqlite;

use crate::accounts::Account;
use crate::connection::{DbConnection, MultiBackend};
use crate::events::Event;
use crate::jobs::{self, Job};
use crate::schema::{webhook_deliveries, webhook_endpoints};
use crate::types::sql::{DbTimestamp, DbUuid};
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

/// The endpoint and the event a delivery job names, in one statement; `None`
/// when either is gone.
pub fn endpoint_and_event(
    conn: &mut DbConnection,
    account: Id<Account>,
    endpoint: Id<Endpoint>,
    event: Id<Event>,
) -> DbResult<Option<(Endpoint, Event)>> {
    use crate::schema::events;
    Ok(crate::natively!(conn, |c| webhook_endpoints::table
        .inner_join(events::table.on(events::account_id.eq(webhook_endpoints::account_id)))
        .filter(webhook_endpoints::account_id.eq(account))
        .filter(webhook_endpoints::id.eq(endpoint))
        .filter(events::id.eq(event))
        .select((Endpoint::as_select(), Event::as_select()))
        .first(c)
        .optional())?)
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

/// The endpoints `SubscribedTo` picks for an event of `event_type` in
/// `account` (a handful), oldest first.
pub fn subscribers(
    conn: &mut DbConnection,
    account: Id<Account>,
    event_type: &str,
) -> DbResult<Vec<Endpoint>> {
    let subscribed = SubscribedTo {
        account,
        event_type,
    };
    Ok(crate::natively!(conn, |c| webhook_endpoints::table
        .filter(subscribed)
        .order(webhook_endpoints::id.asc())
        .select(Endpoint::as_select())
        .load(c))?)
}

/// Queues a copy of `delivery` for every endpoint `SubscribedTo` picks for an
/// event of `event_type` in the delivery's account, each with a new id and
/// the endpoint as its subject, in one statement; returns how many.
pub fn queue_deliveries(
    conn: &mut DbConnection,
    delivery: &Job,
    event_type: &str,
) -> DbResult<usize> {
    let queue = QueueDeliveries::new(delivery, event_type)?;
    Ok(crate::natively!(conn, |c| queue.execute(c))?)
}

/// The rule that decides which endpoints receive an event, as a filter on
/// `webhook_endpoints`: the account's, enabled, with `event_types` unset (all
/// types) or holding the event's type. Every event picks its endpoints by
/// it, in SQL (a test send or a redelivery names its endpoint instead); only
/// the spelling of "the JSON array holds the type" differs per backend.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SubscribedTo<'a> {
    account: Id<Account>,
    event_type: &'a str,
}

impl Expression for SubscribedTo<'_> {
    type SqlType = Bool;
}

impl ValidGrouping<()> for SubscribedTo<'_> {
    type IsAggregate = is_aggregate::Never;
}

impl AppearsOnTable<webhook_endpoints::table> for SubscribedTo<'_> {}

impl SelectableExpression<webhook_endpoints::table> for SubscribedTo<'_> {}

impl QueryId for SubscribedTo<'_> {
    type QueryId = SubscribedTo<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl SubscribedTo<'_> {
    /// Writes the rule, with `holds_type` (SQL that ends where the type is
    /// bound, and `closing` after it) testing the endpoint's JSON array.
    fn walk<'b, DB>(
        &'b self,
        mut out: AstPass<'_, 'b, DB>,
        holds_type: &'static str,
        closing: &'static str,
    ) -> QueryResult<()>
    where
        DB: Backend + HasSqlType<DbUuid>,
        Id<Account>: ToSql<DbUuid, DB>,
        str: ToSql<Text, DB>,
    {
        out.push_sql("webhook_endpoints.account_id = ");
        out.push_bind_param::<DbUuid, _>(&self.account)?;
        out.push_sql(
            " AND webhook_endpoints.enabled AND (webhook_endpoints.event_types IS NULL OR ",
        );
        out.push_sql(holds_type);
        out.push_bind_param::<Text, _>(self.event_type)?;
        out.push_sql(closing);
        out.push_sql(")");
        Ok(())
    }
}

impl QueryFragment<Pg> for SubscribedTo<'_> {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.walk(out, "webhook_endpoints.event_types::jsonb ? ", "")
    }
}

impl QueryFragment<Sqlite> for SubscribedTo<'_> {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        self.walk(
            out,
            "EXISTS (SELECT 1 FROM json_each(webhook_endpoints.event_types) \
             WHERE json_each.value = ",
            ")",
        )
    }
}

/// `INSERT INTO jobs … SELECT … FROM webhook_endpoints WHERE <SubscribedTo>`:
/// the statement of `queue_deliveries`, which a larger statement can end
/// with (`people::insert_with_event_and_deliveries`). Built by hand since
/// diesel writes no `INSERT … SELECT` with a bound row; its text is the same
/// on every run, so its prepared statement is kept.
pub(crate) struct QueueDeliveries<'a> {
    delivery: &'a Job,
    subscribed: SubscribedTo<'a>,
}

impl<'a> QueueDeliveries<'a> {
    pub(crate) fn new(delivery: &'a Job, event_type: &'a str) -> DbResult<Self> {
        // A delivery belongs to the account of its event, and goes to that
        // account's endpoints only.
        let account = delivery.account_id.ok_or_else(|| {
            diesel::result::Error::QueryBuilderError("a delivery belongs to an account".into())
        })?;
        Ok(Self {
            delivery,
            subscribed: SubscribedTo {
                account,
                event_type,
            },
        })
    }
}

impl QueryId for QueueDeliveries<'_> {
    type QueryId = QueueDeliveries<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<Conn: Connection> RunQueryDsl<Conn> for QueueDeliveries<'_> {}

impl<DB> QueryFragment<DB> for QueueDeliveries<'_>
where
    DB: Backend
        + HasSqlType<DbUuid>
        + HasSqlType<DbTimestamp>
        + HasSqlType<Text>
        + HasSqlType<Integer>,
    Id<Account>: ToSql<DbUuid, DB>,
    Id<jobs::Lease>: ToSql<DbUuid, DB>,
    Ts: ToSql<DbTimestamp, DB>,
    String: ToSql<Text, DB>,
    i32: ToSql<Integer, DB>,
    for<'s> SubscribedTo<'s>: QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        let d = self.delivery;
        out.push_sql(
            "INSERT INTO jobs (id, account_id, kind, subject_id, status, run_at, attempts, \
             max_attempts, lease_id, lease_expires_at, last_error, created_at, updated_at, \
             payload) SELECT gen_random_uuid(), ",
        );
        out.push_bind_param::<Nullable<DbUuid>, _>(&d.account_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&d.kind)?;
        out.push_sql(", webhook_endpoints.id, ");
        out.push_bind_param::<Text, _>(&d.status)?;
        out.push_sql(", ");
        out.push_bind_param::<DbTimestamp, _>(&d.run_at)?;
        for count in [&d.attempts, &d.max_attempts] {
            out.push_sql(", ");
            out.push_bind_param::<Integer, _>(count)?;
        }
        out.push_sql(", ");
        out.push_bind_param::<Nullable<DbUuid>, _>(&d.lease_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<DbTimestamp>, _>(&d.lease_expires_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&d.last_error)?;
        for at in [&d.created_at, &d.updated_at] {
            out.push_sql(", ");
            out.push_bind_param::<DbTimestamp, _>(at)?;
        }
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&d.payload)?;
        out.push_sql(" FROM webhook_endpoints WHERE ");
        self.subscribed.walk_ast(out.reborrow())
    }
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

/// Records a delivery attempt and its job's outcome under its lease
/// (`jobs::finish`). On PostgreSQL that is one statement, the delivery's
/// `INSERT` in a `WITH`: one round trip where a transaction takes four.
/// SQLite, which has no writes in a `WITH`, runs the two in one transaction.
/// The attempt was made, so it is recorded even when the lease was lost
/// meanwhile; false then.
pub fn record_delivery_and_finish(
    conn: &mut DbConnection,
    delivery: &Delivery,
    job: Id<Job>,
    lease: jobs::LeaseId,
    outcome: &jobs::Outcome,
    now: Ts,
) -> DbResult<bool> {
    let finish = jobs::Finish {
        job,
        lease,
        outcome,
        now,
    };
    let changed = if let DbConnection::Pg(pg) = conn {
        RecordAndFinish {
            record: diesel::insert_into(webhook_deliveries::table).values(delivery),
            finish,
        }
        .execute(pg)?
    } else {
        conn.write_transaction(|conn| -> DbResult<usize> {
            record_delivery(conn, delivery)?;
            Ok(crate::natively!(conn, |c| finish.execute(c))?)
        })?
    };
    Ok(changed == 1)
}

/// `WITH recorded AS (<the delivery's INSERT>) <the job's finish>`. Its text
/// depends on the outcome, as the finish's does, so its prepared statement is
/// found by its text.
struct RecordAndFinish<'a, Insert> {
    record: Insert,
    finish: jobs::Finish<'a>,
}

impl<Insert> QueryId for RecordAndFinish<'_, Insert> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Insert> RunQueryDsl<diesel::PgConnection> for RecordAndFinish<'_, Insert> {}

impl<Insert: QueryFragment<Pg>> QueryFragment<Pg> for RecordAndFinish<'_, Insert> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("WITH recorded AS (");
        self.record.walk_ast(out.reborrow())?;
        out.push_sql(") ");
        self.finish.walk_ast(out)
    }
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
