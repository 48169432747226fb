//! Webhook endpoints and the delivery of events to them (Standard Webhooks
//! 1.0, signed by `fieldcrm_webhooks`): at least once, through the jobs table,
//! one job per (event, endpoint), on the standard's retry schedule.

use std::time::Duration;

use chrono::TimeDelta;
use secrecy::ExposeSecret;
use serde_json::{json, Value};

use fieldcrm_db::accounts::Account;
use fieldcrm_db::events::{self, Event};
use fieldcrm_db::jobs::{self, Job, Outcome};
use fieldcrm_db::webhooks::{self, Delivery, Endpoint};
use fieldcrm_db::{DbConnection, Id, Ts};
use fieldcrm_domain::Action;
use fieldcrm_webhooks::{self as signing, Attempt, Failure, Message, Secret};

use crate::caller::Caller;
use crate::error::AppError;
use crate::events::{Actor, Change, EVENT_TYPES};
use crate::feed;
use crate::jobs::{Attempts, BackgroundJob};
use crate::outbound::Outbound;
use crate::state::{AppState, FullObject};
use crate::tx::Tx;
use crate::worker::Finish;

/// Endpoints one account may have.
pub const MAX_ENDPOINTS: i64 = 20;

/// The job that carries `account.deleted` to an endpoint of an account that no
/// longer exists: it belongs to no account and holds, sealed, only the URL,
/// the secret and the event; finishing it forgets them.
pub struct DeliverFinal;

impl BackgroundJob for DeliverFinal {
    const KIND: &'static str = "webhook_final_delivery";
    const ATTEMPTS: Attempts = Attempts::Fixed(signing::MAX_ATTEMPTS as i32);
}

/// What an endpoint receives in `data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadKind {
    /// The event: ids and changed field names.
    Thin,
    /// The event and, as `object`, the record as `GET` returns it when the
    /// delivery is made (`null` once it is gone).
    Full,
}

impl PayloadKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PayloadKind::Thin => "thin",
            PayloadKind::Full => "full",
        }
    }

    pub fn parse(text: &str) -> Result<Self, fieldcrm_domain::Invalid> {
        match text {
            "thin" => Ok(PayloadKind::Thin),
            "full" => Ok(PayloadKind::Full),
            _ => Err(fieldcrm_domain::Invalid("must be `thin` or `full`".into())),
        }
    }
}

/// A new endpoint, checked except for its URL (checked here: it needs DNS).
pub struct NewEndpoint {
    pub url: String,
    pub description: Option<String>,
    /// `None`: every type.
    pub event_types: Option<Vec<String>>,
    pub payload: PayloadKind,
    pub enabled: bool,
}

/// Changes: `None` leaves a field; `Some(None)` clears it.
#[derive(Default)]
pub struct EndpointPatch {
    pub url: Option<String>,
    pub description: Option<Option<String>>,
    pub event_types: Option<Option<Vec<String>>>,
    pub payload: Option<PayloadKind>,
    pub enabled: Option<bool>,
}

/// Checks a list of event types: known ones, at least one, no repeats.
pub fn parse_event_types(types: &[String]) -> Result<Vec<String>, fieldcrm_domain::Invalid> {
    if types.is_empty() {
        return Err(fieldcrm_domain::Invalid(
            "must name at least one event type; leave it out for every type".into(),
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for t in types {
        if !EVENT_TYPES.contains(&t.as_str()) {
            return Err(fieldcrm_domain::Invalid(format!(
                "`{t}` is not an event type; see the `webhooks` section of the API reference"
            )));
        }
        if !out.contains(t) {
            out.push(t.clone());
        }
    }
    Ok(out)
}

async fn checked_url(state: &AppState, url: &str) -> Result<String, AppError> {
    state
        .outbound
        .webhooks
        .check_target(url)
        .await
        .map(|target| target.as_str().to_owned())
        .map_err(|err| AppError::invalid_field("url", err.to_string()))
}

fn seal(outbound: &Outbound, endpoint: Id<Endpoint>, secret: &Secret) -> String {
    outbound.sealer.seal(
        secret.to_whsec().expose_secret(),
        endpoint.uuid().as_bytes(),
    )
}

fn open(outbound: &Outbound, endpoint: Id<Endpoint>, sealed: &str) -> Result<Secret, AppError> {
    let text = outbound
        .sealer
        .open(sealed, endpoint.uuid().as_bytes())
        .map_err(|err| AppError::internal_from(&err))?;
    Secret::parse(&text).map_err(|err| AppError::internal_from(&err))
}

/// 403 unless the caller may manage webhooks. Checked before the body is
/// looked at, so a caller without the right learns nothing from 422s.
pub fn authorize_changes(caller: &Caller) -> Result<(), AppError> {
    caller.require(Action::ManageWebhooks)
}

/// Registers an endpoint; returns it and its signing secret, shown this once.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    new: NewEndpoint,
) -> Result<(Endpoint, String), AppError> {
    caller.require(Action::ManageWebhooks)?;
    let url = checked_url(state, &new.url).await?;
    let id: Id<Endpoint> = Id::new();
    let secret = Secret::generate();
    let now = Ts::now();
    let endpoint = Endpoint {
        id,
        account_id: caller.account_id,
        url,
        description: new.description,
        event_types: new.event_types.map(|t| json!(t).to_string()),
        payload: new.payload.as_str().to_owned(),
        enabled: new.enabled,
        secret_sealed: seal(&state.outbound, id, &secret),
        previous_secret_sealed: None,
        previous_secret_until: None,
        failing_since: None,
        disabled_reason: None,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let saved = endpoint.clone();
    state
        .db(move |conn| {
            conn.write_transaction(|conn| {
                if webhooks::count(conn, saved.account_id)? >= MAX_ENDPOINTS {
                    return Err(AppError::conflict(format!(
                        "an account has at most {MAX_ENDPOINTS} webhook endpoints; remove one first"
                    )));
                }
                Ok(webhooks::insert(conn, &saved)?)
            })
        })
        .await?;
    Ok((endpoint, secret.to_whsec().expose_secret().to_owned()))
}

pub async fn list(
    state: &AppState,
    caller: &Caller,
    after: Option<Id<Endpoint>>,
    limit: i64,
) -> Result<Vec<Endpoint>, AppError> {
    caller.require(Action::ManageWebhooks)?;
    let account = caller.account_id;
    state
        .db(move |conn| Ok(webhooks::list(conn, account, after, limit)?))
        .await
}

pub async fn get(
    state: &AppState,
    caller: &Caller,
    id: Id<Endpoint>,
) -> Result<Endpoint, AppError> {
    caller.require(Action::ManageWebhooks)?;
    let account = caller.account_id;
    state
        .db(move |conn| webhooks::find(conn, account, id)?.ok_or_else(AppError::not_found))
        .await
}

pub async fn update(
    state: &AppState,
    caller: &Caller,
    id: Id<Endpoint>,
    patch: EndpointPatch,
) -> Result<Endpoint, AppError> {
    caller.require(Action::ManageWebhooks)?;
    let url = match &patch.url {
        Some(url) => Some(checked_url(state, url).await?),
        None => None,
    };
    let account = caller.account_id;
    state
        .db(move |conn| {
            conn.write_transaction(|conn| {
                let mut endpoint =
                    webhooks::find(conn, account, id)?.ok_or_else(AppError::not_found)?;
                let read_version = endpoint.version;
                if let Some(url) = url {
                    endpoint.url = url;
                }
                if let Some(description) = patch.description {
                    endpoint.description = description;
                }
                if let Some(types) = patch.event_types {
                    endpoint.event_types = types.map(|t| json!(t).to_string());
                }
                if let Some(payload) = patch.payload {
                    endpoint.payload = payload.as_str().to_owned();
                }
                if let Some(enabled) = patch.enabled {
                    // Enabling again starts afresh: the failures were seen.
                    if enabled && !endpoint.enabled {
                        endpoint.failing_since = None;
                        endpoint.disabled_reason = None;
                    }
                    if !enabled && endpoint.enabled {
                        endpoint.disabled_reason = Some("disabled by a user".into());
                    }
                    endpoint.enabled = enabled;
                }
                endpoint.version = read_version + 1;
                endpoint.updated_at = Ts::now();
                if !webhooks::save(conn, &endpoint, read_version)? {
                    return Err(AppError::conflict(
                        "the endpoint changed meanwhile; read it again and retry",
                    ));
                }
                Ok(endpoint)
            })
        })
        .await
}

/// Removes the endpoint, its delivery log and its queued deliveries.
pub async fn delete(state: &AppState, caller: &Caller, id: Id<Endpoint>) -> Result<(), AppError> {
    caller.require(Action::ManageWebhooks)?;
    let account = caller.account_id;
    state
        .db(move |conn| {
            conn.write_transaction(|conn| {
                if !webhooks::delete(conn, account, id)? {
                    return Err(AppError::not_found());
                }
                jobs::cancel_subjects(conn, &[Id::from_uuid(id.uuid())], Ts::now())?;
                Ok(())
            })
        })
        .await
}

/// A new signing secret; the old one keeps signing beside it for
/// `ROTATION_OVERLAP` (both signatures are sent), so receivers can switch.
pub async fn rotate_secret(
    state: &AppState,
    caller: &Caller,
    id: Id<Endpoint>,
) -> Result<(Endpoint, String), AppError> {
    caller.require(Action::ManageWebhooks)?;
    let account = caller.account_id;
    let secret = Secret::generate();
    let sealed = seal(&state.outbound, id, &secret);
    let overlap = TimeDelta::from_std(signing::ROTATION_OVERLAP).unwrap_or(TimeDelta::days(1));
    let endpoint = state
        .db(move |conn| {
            conn.write_transaction(|conn| {
                let mut endpoint =
                    webhooks::find(conn, account, id)?.ok_or_else(AppError::not_found)?;
                let read_version = endpoint.version;
                let now = Ts::now();
                endpoint.previous_secret_sealed = Some(endpoint.secret_sealed.clone());
                endpoint.previous_secret_until = Some(Ts::from(now.get() + overlap));
                endpoint.secret_sealed = sealed;
                endpoint.version = read_version + 1;
                endpoint.updated_at = now;
                if !webhooks::save(conn, &endpoint, read_version)? {
                    return Err(AppError::conflict(
                        "the endpoint changed meanwhile; try again",
                    ));
                }
                Ok(endpoint)
            })
        })
        .await?;
    Ok((endpoint, secret.to_whsec().expose_secret().to_owned()))
}

/// Queues a signed `webhook.test` to this endpoint alone; returns the event.
pub async fn send_test(
    state: &AppState,
    caller: &Caller,
    id: Id<Endpoint>,
) -> Result<Event, AppError> {
    caller.require(Action::ManageWebhooks)?;
    let account = caller.account_id;
    let actor = Actor::of(caller);
    state
        .db(move |conn| {
            conn.write_transaction(|conn| {
                let endpoint =
                    webhooks::find(conn, account, id)?.ok_or_else(AppError::not_found)?;
                let now = Ts::now();
                let event = Event {
                    id: Id::new(),
                    account_id: account,
                    event_type: "webhook.test".into(),
                    occurred_at: now,
                    actor: actor.as_str().to_owned(),
                    data: json!({ "endpoint_id": endpoint.id.uuid() }).to_string(),
                    person_id: None,
                };
                events::record(conn, &event)?;
                feed::queue_delivery(conn, account, endpoint.id, event.id, now)?;
                Ok(event)
            })
        })
        .await
}

pub async fn deliveries(
    state: &AppState,
    caller: &Caller,
    endpoint: Id<Endpoint>,
    before: Option<Id<Delivery>>,
    limit: i64,
) -> Result<Vec<Delivery>, AppError> {
    caller.require(Action::ManageWebhooks)?;
    let account = caller.account_id;
    state
        .db(move |conn| {
            webhooks::find(conn, account, endpoint)?.ok_or_else(AppError::not_found)?;
            Ok(webhooks::deliveries(
                conn, account, endpoint, before, limit,
            )?)
        })
        .await
}

/// Queues the delivery's event to its endpoint once more, now.
pub async fn retry(
    state: &AppState,
    caller: &Caller,
    endpoint: Id<Endpoint>,
    delivery: Id<Delivery>,
) -> Result<Id<Event>, AppError> {
    caller.require(Action::ManageWebhooks)?;
    let account = caller.account_id;
    state
        .db(move |conn| {
            conn.write_transaction(|conn| {
                let delivery = webhooks::find_delivery(conn, account, endpoint, delivery)?
                    .ok_or_else(AppError::not_found)?;
                if events::find(conn, account, delivery.event_id)?.is_none() {
                    return Err(AppError::conflict(
                        "the event is older than the events' retention and cannot be sent again",
                    ));
                }
                feed::queue_delivery(conn, account, endpoint, delivery.event_id, Ts::now())?;
                Ok(delivery.event_id)
            })
        })
        .await
}

/// The body `data` of an event for an endpoint: the event's own data, and
/// for full payloads the record as `GET` returns it now.
fn data_for(
    conn: &mut DbConnection,
    event: &Event,
    payload: PayloadKind,
    full_object: FullObject,
) -> Result<Value, AppError> {
    let mut data: Value = serde_json::from_str(&event.data).unwrap_or_else(|_| json!({}));
    if payload == PayloadKind::Full {
        if let Some(object) = full_object(conn, event)? {
            data["object"] = object;
        } else if crate::events::has_full_object(&event.event_type) {
            data["object"] = Value::Null;
        }
    }
    Ok(data)
}

/// One attempt to deliver an event to an endpoint (an `feed::Deliver` job).
/// The attempt is recorded in the transaction that finishes the job.
pub async fn run_delivery_job(state: &AppState, job: &Job) -> Result<Finish, AppError> {
    let (Some(subject), Some(account)) = (job.subject_id, job.account_id) else {
        return Ok(Outcome::Failed("the job names no endpoint".into()).into());
    };
    let Some(event_id) = job
        .payload
        .as_deref()
        .and_then(|p| uuid::Uuid::parse_str(p).ok())
        .map(Id::<Event>::from_uuid)
    else {
        return Ok(Outcome::Failed("the job names no event".into()).into());
    };
    let endpoint_id: Id<Endpoint> = Id::from_uuid(subject.uuid());
    let full_object = state.full_object;
    let found = state
        .db(move |conn| {
            let Some((endpoint, event)) =
                webhooks::endpoint_and_event(conn, account, endpoint_id, event_id)?
            else {
                return Ok(None);
            };
            let payload = PayloadKind::parse(&endpoint.payload).unwrap_or(PayloadKind::Thin);
            let data = data_for(conn, &event, payload, full_object)?;
            Ok(Some((endpoint, event, data)))
        })
        .await?;
    // The endpoint or the event is gone (removed, purged): nothing to send.
    let Some((endpoint, event, data)) = found else {
        return Ok(Outcome::Done.into());
    };
    if !endpoint.enabled {
        return Ok(Outcome::Done.into());
    }
    let mut target = signing::Endpoint::new(
        endpoint.url.clone(),
        open(&state.outbound, endpoint.id, &endpoint.secret_sealed)?,
    );
    if let (Some(previous), Some(until)) = (
        &endpoint.previous_secret_sealed,
        endpoint.previous_secret_until,
    ) {
        if until > Ts::now() {
            target = target.with_previous_secret(open(&state.outbound, endpoint.id, previous)?);
        }
    }
    let body = signing::envelope(&event.event_type, event.occurred_at.get(), &data);
    let message = Message::new(event.id.uuid().to_string(), body)
        .map_err(|err| AppError::internal_from(&err))?;
    let attempt = state.outbound.webhooks.deliver(&target, &message).await;
    let attempts_made = u32::try_from(job.attempts).unwrap_or(1);
    let outcome = outcome_of(&attempt, attempts_made);
    let health = health_after(&endpoint, &attempt);
    let delivery = Delivery {
        id: Id::new(),
        account_id: account,
        endpoint_id: endpoint.id,
        event_id: event.id,
        event_type: event.event_type.clone(),
        attempt: job.attempts,
        status_code: attempt.status().map(i32::from),
        duration_ms: i32::try_from(attempt.duration.as_millis()).unwrap_or(i32::MAX),
        error: attempt.error(),
        attempted_at: Ts::now(),
    };
    let before = (
        endpoint.enabled,
        endpoint.failing_since,
        endpoint.disabled_reason.clone(),
    );
    // Most attempts leave the endpoint's health as it was: their log row is
    // written by the statement that finishes the job.
    if health == before {
        return Ok(Finish::recording_delivery(outcome, delivery));
    }
    Ok(Finish::recorded_with(outcome, move |conn| {
        webhooks::record_delivery(conn, &delivery)?;
        webhooks::set_health(conn, endpoint.id, health.0, health.1, health.2.as_deref())?;
        Ok(())
    }))
}

/// What the job does next after an attempt.
fn outcome_of(attempt: &Attempt, attempts_made: u32) -> Outcome {
    match &attempt.outcome {
        signing::Outcome::Delivered { .. } | signing::Outcome::Gone => Outcome::Done,
        signing::Outcome::Failed(failure) => {
            let error = failure.to_string();
            match signing::retry_delay(attempts_made, &mut rand::thread_rng()) {
                Some(delay) => {
                    let wait = match failure {
                        Failure::Status {
                            retry_after: Some(asked),
                            ..
                        } => delay.max(*asked),
                        _ => delay,
                    };
                    Outcome::Retry(later(wait), error)
                }
                None => Outcome::Failed(error),
            }
        }
    }
}

fn later(wait: Duration) -> Ts {
    Ts::from(Ts::now().get() + TimeDelta::from_std(wait).unwrap_or(TimeDelta::days(1)))
}

/// The endpoint's (enabled, failing since, disabled reason) after an attempt:
/// a success clears the failures, `410 Gone` disables at once, and failing
/// every attempt for `DISABLE_AFTER_DAYS` days disables too.
fn health_after(endpoint: &Endpoint, attempt: &Attempt) -> (bool, Option<Ts>, Option<String>) {
    let now = Ts::now();
    match &attempt.outcome {
        signing::Outcome::Delivered { .. } => {
            (endpoint.enabled, None, endpoint.disabled_reason.clone())
        }
        signing::Outcome::Gone => (
            false,
            endpoint.failing_since.or(Some(now)),
            Some("the receiver answered 410 Gone".into()),
        ),
        signing::Outcome::Failed(_) => {
            let since = endpoint.failing_since.unwrap_or(now);
            if signing::should_disable(since.get(), now.get()) {
                (
                    false,
                    Some(since),
                    Some(format!(
                        "every delivery failed for {} days",
                        signing::DISABLE_AFTER_DAYS
                    )),
                )
            } else {
                (
                    endpoint.enabled,
                    Some(since),
                    endpoint.disabled_reason.clone(),
                )
            }
        }
    }
}

/// What a final delivery carries, sealed into its job.
#[derive(serde::Serialize, serde::Deserialize)]
struct FinalDelivery {
    url: String,
    secret: String,
    event_id: uuid::Uuid,
    body: String,
}

/// Queues `account.deleted` to every enabled endpoint of the account that
/// subscribes to it, as jobs that outlive the account. Call in the deleting
/// transaction, before the rows go.
pub fn queue_account_deleted(tx: &mut Tx<'_>, account: Id<Account>) -> Result<usize, AppError> {
    let now = Ts::now();
    let change = Change::of("account.deleted", account.uuid());
    let mut queued = 0;
    for endpoint in webhooks::subscribers(tx, account, change.event_type)? {
        let secret = open(tx.outbound(), endpoint.id, &endpoint.secret_sealed)?;
        let event_id = uuid::Uuid::now_v7();
        let body = signing::envelope(change.event_type, now.get(), &change.data);
        let job_id: Id<Job> = Id::new();
        let sealed = tx.outbound().sealer.seal(
            &json!(FinalDelivery {
                url: endpoint.url.clone(),
                secret: secret.to_whsec().expose_secret().to_owned(),
                event_id,
                body: String::from_utf8(body).map_err(|e| AppError::internal_from(&e))?,
            })
            .to_string(),
            job_id.uuid().as_bytes(),
        );
        let mut job = tx.job::<DeliverFinal>(None, None, now).with_payload(sealed);
        job.id = job_id;
        jobs::enqueue(tx, &job)?;
        queued += 1;
    }
    Ok(queued)
}

/// One attempt of a final delivery (a `DeliverFinal` job). No log: the
/// account it would belong to is gone.
pub async fn run_final_delivery_job(state: &AppState, job: &Job) -> Result<Outcome, AppError> {
    let opened = job
        .payload
        .as_deref()
        .and_then(|sealed| {
            state
                .outbound
                .sealer
                .open(sealed, job.id.uuid().as_bytes())
                .ok()
        })
        .and_then(|text| serde_json::from_str::<FinalDelivery>(&text).ok());
    let Some(delivery) = opened else {
        return Ok(Outcome::Failed("the job holds no delivery".into()));
    };
    let secret = Secret::parse(&delivery.secret).map_err(|err| AppError::internal_from(&err))?;
    let target = signing::Endpoint::new(delivery.url, secret);
    let message = Message::new(delivery.event_id.to_string(), delivery.body.into_bytes())
        .map_err(|err| AppError::internal_from(&err))?;
    let attempt = state.outbound.webhooks.deliver(&target, &message).await;
    Ok(outcome_of(
        &attempt,
        u32::try_from(job.attempts).unwrap_or(1),
    ))
}

/// Up to `limit` events after `after`, oldest first, of `types` if any.
pub async fn feed(
    state: &AppState,
    caller: &Caller,
    types: Vec<String>,
    after: Option<Id<fieldcrm_db::events::Event>>,
    limit: i64,
) -> Result<Vec<fieldcrm_db::events::Event>, AppError> {
    caller.require(Action::ViewEvents)?;
    let account = caller.account_id;
    state
        .db(move |conn| Ok(events::list(conn, account, &types, after, limit)?))
        .await
}
