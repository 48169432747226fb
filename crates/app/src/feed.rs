//! The events feed: every change recorded in the transaction that makes it.
//! `GET /v1/events` reads the records, and each queues one delivery job per
//! webhook endpoint subscribed to its type.

use fieldcrm_db::accounts::Account;
use fieldcrm_db::events::{self, Event as Recorded};
use fieldcrm_db::jobs::{self, Job};
use fieldcrm_db::{webhooks, DbConnection, Id, Ts};

use crate::error::AppError;
use crate::events::{Actor, Change};
use crate::jobs::{Attempts, BackgroundJob};
use crate::tx::Tx;

/// The job that delivers one event to one endpoint: subject the endpoint,
/// payload the event's id. Its attempts follow the published schedule.
pub struct Deliver;

impl BackgroundJob for Deliver {
    const KIND: &'static str = "webhook_delivery";
    const ATTEMPTS: Attempts = Attempts::Fixed(fieldcrm_webhooks::MAX_ATTEMPTS as i32);
}

/// The event `change` makes, as `record` stores it.
pub fn event_of(account: Id<Account>, actor: Actor, change: Change) -> Recorded {
    Recorded {
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
///
/// A published `Event` is recorded by `wiring::react`; use cases call this
/// for the changes no other context reacts to (people, consent, shifts,
/// messages, users created or changed), which have no `Event`.
pub fn record(
    tx: &mut Tx<'_>,
    account: Id<Account>,
    actor: Actor,
    change: Change,
) -> Result<Id<Recorded>, AppError> {
    let event = event_of(account, actor, change);
    if events::record(tx, &event)? {
        let delivery = delivery_of(tx, &event);
        webhooks::queue_deliveries(tx, &delivery, &event.event_type)?;
    }
    Ok(event.id)
}

/// Queues one delivery of `event` to `endpoint`, due at `at`.
pub fn queue_delivery(
    tx: &mut Tx<'_>,
    account: Id<Account>,
    endpoint: Id<webhooks::Endpoint>,
    event: Id<Recorded>,
    at: Ts,
) -> Result<(), AppError> {
    let job = delivery(tx, account, Some(endpoint), event, at);
    Ok(jobs::enqueue(tx, &job)?)
}

/// The delivery of a just-recorded `event`, without its endpoint: what
/// `webhooks::queue_deliveries` copies for each endpoint that subscribes.
pub fn delivery_of(tx: &Tx<'_>, event: &Recorded) -> Job {
    delivery(tx, event.account_id, None, event.id, event.occurred_at)
}

/// The job that delivers `event` to `endpoint` (`None`: filled in per
/// endpoint by the statement that queues it), due at `at`.
fn delivery(
    tx: &Tx<'_>,
    account: Id<Account>,
    endpoint: Option<Id<webhooks::Endpoint>>,
    event: Id<Recorded>,
    at: Ts,
) -> Job {
    let subject = endpoint.map(|endpoint| Id::from_uuid(endpoint.uuid()));
    tx.job::<Deliver>(Some(account), subject, at)
        .with_payload(event.uuid().to_string())
}

/// Removes events and delivery-log rows older than the retention; returns how
/// many rows went. Bounded per call, so one upkeep round stays short.
pub fn purge(conn: &mut DbConnection, retention_days: u32, now: Ts) -> Result<usize, AppError> {
    let before = Ts::from(now.get() - chrono::Duration::days(i64::from(retention_days)));
    let events = events::purge_before(conn, before, 10_000)?;
    let deliveries = webhooks::purge_deliveries_before(conn, before, 10_000)?;
    Ok(events + deliveries)
}
