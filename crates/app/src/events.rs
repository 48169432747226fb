//! The facts of every change, recorded in the transaction that makes it: the
//! events feed (`GET /v1/events`) reads them, and each queues one delivery job
//! per webhook endpoint subscribed to its type. An event holds ids and the
//! names of changed fields, never content: no names, contact details, message
//! bodies, positions or secrets.

use serde_json::{json, Value};

use fieldcrm_db::accounts::Account;
use fieldcrm_db::events::{self, Event};
use fieldcrm_db::jobs::{self, Job};
use fieldcrm_db::people::Person;
use fieldcrm_db::{webhooks, DbConnection, Id, Ts};
use fieldcrm_domain::Action;

use crate::caller::Caller;
use crate::error::AppError;
use crate::state::AppState;

/// Every event type, in the order the documentation lists them.
pub const EVENT_TYPES: &[&str] = &[
    "customer.created",
    "customer.updated",
    "customer.deleted",
    "prospect.created",
    "prospect.updated",
    "prospect.deleted",
    "prospect.converted",
    "consent.changed",
    "appointment.created",
    "appointment.updated",
    "appointment.rescheduled",
    "appointment.status_changed",
    "appointment.deleted",
    "shift.clocked_in",
    "shift.clocked_out",
    "message.queued",
    "message.sent",
    "message.delivered",
    "message.failed",
    "message.suppressed",
    "user.created",
    "user.updated",
    "user.deleted",
    "account.deleted",
    "webhook.test",
];

/// The job that delivers one event to one endpoint: subject the endpoint,
/// payload the event's id.
pub const DELIVER: &str = "webhook_delivery";

/// Who made a change, as events name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    User,
    ApiKey,
    /// The service itself: upkeep, a sync, an automatic clock-out.
    System,
    /// The person a message went to: a STOP reply, an unsubscribe link.
    Contact,
}

impl Actor {
    pub fn of(caller: &Caller) -> Self {
        match caller.user() {
            Some(_) => Actor::User,
            None => Actor::ApiKey,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Actor::User => "user",
            Actor::ApiKey => "api_key",
            Actor::System => "system",
            Actor::Contact => "contact",
        }
    }
}

/// One change, as an event: its type and data, and the customer or prospect
/// it concerns, whose erasure removes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub event_type: &'static str,
    pub data: Value,
    pub person: Option<Id<Person>>,
}

impl Change {
    pub fn new(event_type: &'static str, data: Value) -> Self {
        debug_assert!(EVENT_TYPES.contains(&event_type), "{event_type}");
        Change {
            event_type,
            data,
            person: None,
        }
    }

    /// The change concerns this customer or prospect.
    pub fn about(mut self, person: Option<Id<Person>>) -> Self {
        self.person = person;
        self
    }

    /// `<object>.created` / `.deleted` and the like: the object's id only.
    pub fn of(event_type: &'static str, id: impl std::fmt::Display) -> Self {
        Change::new(event_type, json!({ "id": id.to_string() }))
    }

    /// `<object>.updated`: the id and the names of the fields that changed.
    pub fn updated(event_type: &'static str, id: impl std::fmt::Display, changed: &[&str]) -> Self {
        Change::new(
            event_type,
            json!({ "id": id.to_string(), "changed": changed }),
        )
    }
}

/// The event `change` makes, as `publish` stores it.
pub fn event_of(account: Id<Account>, actor: Actor, change: Change) -> Event {
    Event {
        id: Id::new(),
        account_id: account,
        event_type: change.event_type.to_owned(),
        occurred_at: Ts::now(),
        actor: actor.as_str().to_owned(),
        data: change.data.to_string(),
        person_id: change.person,
    }
}

/// Records `change` and queues its delivery to every enabled endpoint of the
/// account that subscribes to its type. Call inside the transaction that
/// makes the change, so both happen or neither does.
pub fn publish(
    conn: &mut DbConnection,
    account: Id<Account>,
    actor: Actor,
    change: Change,
) -> Result<Id<Event>, AppError> {
    let event = event_of(account, actor, change);
    if events::record(conn, &event)? {
        for endpoint in webhooks::enabled(conn, account)? {
            if subscribes(endpoint.event_types.as_deref(), &event.event_type) {
                queue_delivery(conn, account, endpoint.id, event.id, event.occurred_at)?;
            }
        }
    }
    Ok(event.id)
}

/// Queues one delivery of `event` to `endpoint`, due at `at`.
pub fn queue_delivery(
    conn: &mut DbConnection,
    account: Id<Account>,
    endpoint: Id<webhooks::Endpoint>,
    event: Id<Event>,
    at: Ts,
) -> Result<(), AppError> {
    let job = Job::new(
        Some(account),
        DELIVER,
        Some(Id::from_uuid(endpoint.uuid())),
        at,
        fieldcrm_webhooks::MAX_ATTEMPTS as i32,
    )
    .with_payload(event.uuid().to_string());
    Ok(jobs::enqueue(conn, &job)?)
}

/// Whether an endpoint with these types (a JSON array, `None` for all) wants
/// events of `event_type`.
pub fn subscribes(event_types: Option<&str>, event_type: &str) -> bool {
    match event_types {
        None => true,
        Some(list) => serde_json::from_str::<Vec<String>>(list)
            .map(|types| types.iter().any(|t| t == event_type))
            .unwrap_or(false),
    }
}

/// Whether events of this type carry `object` in full payloads: those about
/// a customer, prospect, appointment or user that still exists.
pub fn has_full_object(event_type: &str) -> bool {
    matches!(
        event_type.split('.').next(),
        Some("customer" | "prospect" | "appointment" | "user")
    ) && !event_type.ends_with(".deleted")
}

/// The names of the fields whose values differ, from `(name, changed)` pairs.
pub fn changed_fields(fields: &[(&'static str, bool)]) -> Vec<&'static str> {
    fields
        .iter()
        .filter(|(_, changed)| *changed)
        .map(|(name, _)| *name)
        .collect()
}

/// Up to `limit` events after `after`, oldest first, of `types` if any.
pub async fn feed(
    state: &AppState,
    caller: &Caller,
    types: Vec<String>,
    after: Option<Id<Event>>,
    limit: i64,
) -> Result<Vec<Event>, AppError> {
    caller.require(Action::ViewEvents)?;
    let account = caller.account_id;
    state
        .db(move |conn| Ok(events::list(conn, account, &types, after, limit)?))
        .await
}

/// Removes events and delivery-log rows older than the retention; returns how
/// many rows went. Bounded per call, so one upkeep round stays short.
pub fn purge(conn: &mut DbConnection, retention_days: u32, now: Ts) -> Result<usize, AppError> {
    let before = Ts::from(now.get() - chrono::Duration::days(i64::from(retention_days)));
    let events = events::purge_before(conn, before, 10_000)?;
    let deliveries = webhooks::purge_deliveries_before(conn, before, 10_000)?;
    Ok(events + deliveries)
}
