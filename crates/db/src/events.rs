//! The account's change feed: what changed, in order, without the content.

use diesel::prelude::*;

use crate::accounts::Account;
use crate::connection::{DbConnection, MultiBackend};
use crate::people::Person;
use crate::schema::{events, webhook_endpoints};
use crate::{DbResult, Id, Ts};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = events, check_for_backend(MultiBackend), treat_none_as_default_value = false)]
pub struct Event {
    /// UUIDv7: the order of occurrence.
    pub id: Id<Event>,
    pub account_id: Id<Account>,
    pub event_type: String,
    pub occurred_at: Ts,
    /// `user`, `api_key`, `system` or `contact`.
    pub actor: String,
    /// A JSON object: ids and the names of changed fields.
    pub data: String,
    /// The customer or prospect it concerns; erasing them removes it.
    pub person_id: Option<Id<Person>>,
}

/// Stores the event, and answers in the same statement whether its account
/// has an enabled webhook endpoint: a write in an account without one (most
/// of them) sends no second query to find out.
pub fn record(conn: &mut DbConnection, event: &Event) -> DbResult<bool> {
    let listening = webhook_endpoints::table
        .filter(webhook_endpoints::account_id.eq(event.account_id))
        .filter(webhook_endpoints::enabled.eq(true));
    Ok(crate::natively!(conn, |c| diesel::insert_into(
        events::table
    )
    .values(event)
    .returning(diesel::dsl::exists(listening))
    .get_result(c))?)
}

pub fn find(
    conn: &mut DbConnection,
    account: Id<Account>,
    id: Id<Event>,
) -> DbResult<Option<Event>> {
    Ok(events::table
        .filter(events::account_id.eq(account))
        .find(id)
        .select(Event::as_select())
        .first(conn)
        .optional()?)
}

/// Oldest first, after `after`; only the given types when there are any.
pub fn list(
    conn: &mut DbConnection,
    account: Id<Account>,
    types: &[String],
    after: Option<Id<Event>>,
    limit: i64,
) -> DbResult<Vec<Event>> {
    let mut query = events::table
        .filter(events::account_id.eq(account))
        .into_boxed();
    if !types.is_empty() {
        query = query.filter(events::event_type.eq_any(types.to_vec()));
    }
    if let Some(after) = after {
        query = query.filter(events::id.gt(after));
    }
    Ok(query
        .order(events::id.asc())
        .limit(limit)
        .select(Event::as_select())
        .load(conn)?)
}

/// Removes the events that occurred before `before`, at most `batch` of them;
/// returns how many went.
pub fn purge_before(conn: &mut DbConnection, before: Ts, batch: i64) -> DbResult<usize> {
    let ids: Vec<Id<Event>> = events::table
        .filter(events::occurred_at.lt(before))
        .select(events::id)
        .limit(batch)
        .load(conn)?;
    if ids.is_empty() {
        return Ok(0);
    }
    Ok(diesel::delete(events::table.filter(events::id.eq_any(ids))).execute(conn)?)
}
