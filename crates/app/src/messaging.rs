//! Messages: written to the outbox in the same transaction as whatever asked for
//! them (a request, a reminder coming due, a status change) and sent by the
//! worker, which checks consent and quiet hours at the moment of sending, not
//! only when the message was queued.

use std::collections::BTreeMap;

use chrono::Duration;

use fieldcrm_db::accounts::{self, Account};
use fieldcrm_db::appointments::{self, Appointment, Reminder};
use fieldcrm_db::consent;
use fieldcrm_db::jobs::{self, Job, Outcome, SubjectId};
use fieldcrm_db::messages::{self, Filter, Message};
use fieldcrm_db::people::{self, Person};
use fieldcrm_db::{DbConnection, Id, Stored, Ts};
use fieldcrm_domain::messaging::{
    MessageBody, MessageKind, MessageStatus, QuietHours, SmsKeyword, Template,
};
use fieldcrm_domain::scheduling::{ReminderStatus, Status};
use fieldcrm_domain::{start_restores_consent, Action, Channel, ConsentSource, ConsentStatus};
use fieldcrm_notify::{OutgoingEmail, OutgoingSms, SendError};

use crate::caller::Caller;
use crate::error::{AppError, AppResult, Failure};
use crate::events::{Actor, Change};
use crate::feed;
use crate::jobs::{attempts_left, retry_time, BackgroundJob};
use crate::people::apply_consent;
use crate::state::{AccountMail, AppState};
use crate::tx::Tx;

/// Job kinds of this module.
/// Sends one message: subject the message.
pub struct SendMessage;

impl BackgroundJob for SendMessage {
    const KIND: &'static str = "send_message";
}

/// Sends one reminder when it is due: subject the reminder.
pub struct SendReminder;

impl BackgroundJob for SendReminder {
    const KIND: &'static str = "send_reminder";
}

/// A message someone asked to send.
pub struct NewMessage {
    pub person: Id<Person>,
    pub channel: Channel,
    pub body: MessageBody,
    pub subject: Option<String>,
}

fn opted_in(person: &Person, channel: Channel) -> bool {
    let current = match channel {
        Channel::Sms => &person.sms_consent,
        Channel::Email => &person.email_consent,
    };
    current.is_some_and(|c| c == ConsentStatus::OptedIn)
}

fn recipient(person: &Person, channel: Channel) -> Option<&str> {
    match channel {
        Channel::Sms => person.phone.as_deref(),
        Channel::Email => person.email.as_deref(),
    }
}

pub fn authorize_sending(caller: &Caller) -> Result<(), AppError> {
    caller.require(Action::SendMessages)
}

fn consent_required(channel: Channel) -> AppError {
    AppError::new(Failure::ConsentRequired).with_detail(format!(
        "the person has not opted in to {}; record their consent first",
        channel.as_str()
    ))
}

/// Queues a message: checks consent and stores the message and its job in one
/// transaction.
pub fn queue_in(
    tx: &mut Tx<'_>,
    state: &AppState,
    caller: &Caller,
    input: NewMessage,
) -> Result<Message, AppError> {
    authorize_sending(caller)?;
    tx.write_transaction(|tx| queue_checked(tx, state, caller, input))
}

fn queue_checked(
    tx: &mut Tx<'_>,
    state: &AppState,
    caller: &Caller,
    input: NewMessage,
) -> Result<Message, AppError> {
    let person = people::find(tx, caller.account_id, input.person)?.ok_or_else(|| {
        AppError::invalid_field("customer_id", "no customer or prospect has this id")
    })?;
    if !opted_in(&person, input.channel) {
        return Err(consent_required(input.channel));
    }
    let configured = match input.channel {
        Channel::Sms => state.outbound.sms.is_some(),
        Channel::Email => {
            state.outbound.email.is_some()
                || (state.outbound.google.is_some()
                    && state.account_mail.sends_own_mail(tx, caller.account_id)?)
        }
    };
    if !configured {
        return Err(
            AppError::new(Failure::ChannelUnavailable).with_detail(format!(
                "sending {} is not configured on this server",
                input.channel.as_str()
            )),
        );
    }
    let account = accounts::find(tx, caller.account_id)?.ok_or_else(AppError::unauthorized)?;
    let subject = match input.channel {
        Channel::Sms => None,
        Channel::Email => Some(match input.subject {
            Some(subject) => subject,
            None => render(
                MessageKind::Manual.subject(),
                &values(&account, &person, None)?,
            ),
        }),
    };
    let message = new_message(
        &person,
        MessageKind::Manual,
        input.channel,
        subject,
        input.body.as_str().to_owned(),
        caller.actor(),
    );
    enqueue(tx, &message)?;
    Ok(message)
}

fn new_message(
    person: &Person,
    kind: MessageKind,
    channel: Channel,
    subject: Option<String>,
    body: String,
    created_by: String,
) -> Message {
    let now = Ts::now();
    Message {
        id: Id::new(),
        account_id: person.account_id,
        person_id: person.id,
        appointment_id: None,
        reminder_id: None,
        kind: Stored(kind),
        channel: Stored(channel),
        recipient: None,
        subject,
        body: Some(body),
        status: Stored(MessageStatus::Queued),
        status_reason: None,
        error_code: None,
        provider_message_id: None,
        attempts: 0,
        send_after: None,
        created_by,
        created_at: now,
        updated_at: now,
        sent_at: None,
    }
}

/// What events say of a message: ids, channel and status, never the text.
fn message_event_data(message: &Message) -> serde_json::Value {
    serde_json::json!({
        "id": message.id.uuid(),
        "customer_id": message.person_id.uuid(),
        "appointment_id": message.appointment_id.map(|a| a.uuid()),
        "channel": message.channel.as_str(),
        "status": message.status.as_str(),
    })
}

/// Stores the message and its sending job.
fn enqueue(tx: &mut Tx<'_>, message: &Message) -> Result<(), AppError> {
    let conn = tx;
    messages::insert(conn, message)?;
    let actor = match message.created_by.split(':').next() {
        Some("user") => Actor::User,
        Some("api_key") => Actor::ApiKey,
        _ => Actor::System,
    };
    feed::record(
        conn,
        message.account_id,
        actor,
        Change::new("message.queued", message_event_data(message)).about(Some(message.person_id)),
    )?;
    let job = conn.job::<SendMessage>(
        Some(message.account_id),
        Some(subject(message.id)),
        message.created_at,
    );
    jobs::enqueue(conn, &job)?;
    Ok(())
}

fn subject<T>(id: Id<T>) -> SubjectId {
    Id::from_uuid(id.uuid())
}

pub async fn get(state: &AppState, caller: &Caller, id: Id<Message>) -> Result<Message, AppError> {
    caller.require(Action::ViewMessages)?;
    let account = caller.account_id;
    state
        .db(move |conn| find_in(conn, account, id)?.ok_or_else(AppError::not_found))
        .await
}

pub fn find_in(
    conn: &mut DbConnection,
    account: Id<Account>,
    id: Id<Message>,
) -> Result<Option<Message>, AppError> {
    Ok(messages::find(conn, account, id)?)
}

pub async fn list(
    state: &AppState,
    caller: &Caller,
    filter: Filter,
) -> Result<Vec<Message>, AppError> {
    caller.require(Action::ViewMessages)?;
    let account = caller.account_id;
    state
        .db(move |conn| Ok(messages::list(conn, account, &filter)?))
        .await
}

// ---- templates -----------------------------------------------------------

/// The account's template for `kind`: its own if it set one, else the built-in.
pub fn template_of(account: &Account, kind: MessageKind) -> Template {
    serde_json::from_str::<BTreeMap<String, String>>(&account.message_templates)
        .ok()
        .and_then(|overrides| overrides.get(kind.as_str()).cloned())
        .and_then(|text| Template::parse(&text).ok())
        .unwrap_or_else(|| Template::built_in(kind))
}

fn values(
    account: &Account,
    person: &Person,
    appointment: Option<&Appointment>,
) -> AppResult<BTreeMap<&'static str, String>> {
    let zone = account.time_zone.tz();
    let mut values = BTreeMap::from([
        ("customer_name", person.name.clone()),
        ("business_name", account.name.clone()),
    ]);
    if let Some(a) = appointment {
        let local = a.starts_at.get().with_timezone(&zone);
        values.insert("time", local.format("%a %b %-d at %-I:%M %p").to_string());
        values.insert("title", a.title.clone());
        let place: Vec<&str> = [
            a.address.address_line1.as_deref(),
            a.address.city.as_deref(),
        ]
        .into_iter()
        .flatten()
        .collect();
        values.insert("address", place.join(", "));
    }
    Ok(values)
}

fn render(text: &str, values: &BTreeMap<&'static str, String>) -> String {
    Template::parse(text)
        .map(|t| t.render(values))
        .unwrap_or_else(|_| text.to_owned())
}

// ---- appointments --------------------------------------------------------

/// Replaces the appointment's reminders, and their jobs: each scheduled
/// reminder is a job due at its time, so moving an appointment moves them.
pub fn replace_reminders(
    tx: &mut Tx<'_>,
    appointment: Id<Appointment>,
    new: &[Reminder],
) -> Result<(), AppError> {
    let old: Vec<SubjectId> = appointments::reminders_of(tx, &[appointment])?
        .iter()
        .map(|r| subject(r.id))
        .collect();
    jobs::cancel_subjects(tx, &old, Ts::now())?;
    appointments::replace_reminders(tx, appointment, new)?;
    for reminder in new.iter().filter(|r| r.status == ReminderStatus::Scheduled) {
        let job = tx.job::<SendReminder>(
            Some(reminder.account_id),
            Some(subject(reminder.id)),
            reminder.due_at,
        );
        jobs::enqueue(tx, &job)?;
    }
    Ok(())
}

/// Cancels the appointment's reminders that have not gone out, and their jobs.
pub fn cancel_reminders(
    conn: &mut DbConnection,
    appointment: Id<Appointment>,
) -> Result<(), AppError> {
    let now = Ts::now();
    let ids: Vec<SubjectId> = appointments::reminders_of(conn, &[appointment])?
        .iter()
        .filter(|r| r.status == ReminderStatus::Scheduled)
        .map(|r| subject(r.id))
        .collect();
    jobs::cancel_subjects(conn, &ids, now)?;
    appointments::cancel_reminders(conn, appointment, now)?;
    Ok(())
}

/// Tells the customer that their appointment is confirmed or that the
/// technician is on the way, on the first channel they opted in to (SMS first).
pub fn notify_status(
    tx: &mut Tx<'_>,
    appointment: &Appointment,
    to: Status,
    created_by: &str,
) -> Result<(), AppError> {
    let kind = match to {
        Status::Confirmed => MessageKind::Confirmation,
        Status::EnRoute => MessageKind::OnMyWay,
        _ => return Ok(()),
    };
    let Some(person_id) = appointment.person_id else {
        return Ok(());
    };
    let Some(person) = people::find(tx, appointment.account_id, person_id)? else {
        return Ok(());
    };
    let Some(channel) = [Channel::Sms, Channel::Email]
        .into_iter()
        .find(|c| opted_in(&person, *c))
    else {
        return Ok(());
    };
    let account = accounts::find(tx, appointment.account_id)?.ok_or_else(AppError::unauthorized)?;
    let values = values(&account, &person, Some(appointment))?;
    let mut message = new_message(
        &person,
        kind,
        channel,
        (channel == Channel::Email).then(|| render(kind.subject(), &values)),
        template_of(&account, kind).render(&values),
        created_by.to_owned(),
    );
    message.appointment_id = Some(appointment.id);
    enqueue(tx, &message)
}

// ---- the worker's side ---------------------------------------------------

/// A reminder came due: turn it into a message (once), unless the appointment
/// was closed or has already begun.
pub async fn run_reminder_job(state: &AppState, job: &Job) -> Result<Outcome, AppError> {
    let Some(reminder_id) = job.subject_id else {
        return Ok(Outcome::Failed("the job names no reminder".into()));
    };
    state
        .db(move |conn| {
            conn.write_transaction(|conn| {
                let id = Id::from_uuid(reminder_id.uuid());
                let Some(reminder) = appointments::find_reminder(conn, id)? else {
                    return Ok(Outcome::Done);
                };
                if reminder.status != ReminderStatus::Scheduled {
                    return Ok(Outcome::Done);
                }
                let now = Ts::now();
                let appointment =
                    appointments::find(conn, reminder.account_id, reminder.appointment_id)?;
                let Some(appointment) =
                    appointment.filter(|a| a.status.is_open() && a.starts_at > now)
                else {
                    appointments::set_reminder_status(conn, id, ReminderStatus::Cancelled, now)?;
                    return Ok(Outcome::Done);
                };
                // An appointment without a customer has nobody to remind.
                let person = match appointment.person_id {
                    Some(person) => people::find(conn, reminder.account_id, person)?,
                    None => None,
                };
                let account = accounts::find(conn, reminder.account_id)?;
                let (Some(person), Some(account)) = (person, account) else {
                    return Ok(Outcome::Done);
                };
                let channel = *reminder.channel;
                let values = values(&account, &person, Some(&appointment))?;
                let mut message = new_message(
                    &person,
                    MessageKind::Reminder,
                    channel,
                    (channel == Channel::Email)
                        .then(|| render(MessageKind::Reminder.subject(), &values)),
                    template_of(&account, MessageKind::Reminder).render(&values),
                    "reminder".into(),
                );
                message.appointment_id = Some(appointment.id);
                message.reminder_id = Some(reminder.id);
                enqueue(conn, &message)?;
                // Handed over: the message's own status tells the rest.
                appointments::set_reminder_status(conn, id, ReminderStatus::Sent, now)?;
                Ok(Outcome::Done)
            })
        })
        .await
}

/// What the worker needs to send, read and marked `sending` in one transaction.
struct Prepared {
    message: Message,
    recipient: String,
    account: Account,
}

enum Step {
    Finished(Outcome),
    Send(Box<Prepared>),
}

/// Sends one message: checks consent and quiet hours now, marks it `sending`,
/// calls the provider outside any transaction, and records the answer.
pub async fn run_send_job(state: &AppState, job: &Job) -> Result<Outcome, AppError> {
    let Some(message_id) = job.subject_id else {
        return Ok(Outcome::Failed("the job names no message".into()));
    };
    let id: Id<Message> = Id::from_uuid(message_id.uuid());
    let sms_ready = state.outbound.sms.is_some();
    let email_ready = state.outbound.email.is_some();
    let gmail_ready = state.outbound.google.is_some();
    let account_mail = state.account_mail;
    let step = state
        .db(move |conn| {
            conn.write_transaction(|conn| {
                prepare(conn, id, sms_ready, email_ready, gmail_ready, account_mail)
            })
        })
        .await?;
    let prepared = match step {
        Step::Finished(outcome) => return Ok(outcome),
        Step::Send(prepared) => prepared,
    };
    let result = deliver(state, &prepared).await;
    let attempts_left = attempts_left(job);
    let retry_at = retry_time(job.attempts, state.settings.job_retry_base_ms);
    state
        .db(move |conn| {
            conn.write_transaction(|conn| {
                record(conn, prepared.message, result, attempts_left, retry_at)
            })
        })
        .await
}

fn prepare(
    tx: &mut Tx<'_>,
    id: Id<Message>,
    sms_ready: bool,
    email_ready: bool,
    gmail_ready: bool,
    account_mail: &dyn AccountMail,
) -> Result<Step, AppError> {
    let Some(mut message) = messages::find_any(tx, id)? else {
        return Ok(Step::Finished(Outcome::Done));
    };
    let now = Ts::now();
    match *message.status {
        MessageStatus::Queued => {}
        MessageStatus::Sending => {
            // The process that was sending it died mid-call: whether the provider
            // got it is unknown, and sending again could deliver it twice.
            finish(
                tx,
                &mut message,
                MessageStatus::Failed,
                Some("interrupted while sending; not retried so it cannot arrive twice"),
                now,
            )?;
            return Ok(Step::Finished(Outcome::Failed(
                "interrupted while sending".into(),
            )));
        }
        _ => return Ok(Step::Finished(Outcome::Done)),
    }
    let person = people::find(tx, message.account_id, message.person_id)?;
    let account = accounts::find(tx, message.account_id)?;
    let (Some(person), Some(account)) = (person, account) else {
        return Ok(Step::Finished(Outcome::Done));
    };
    let channel = *message.channel;
    if !opted_in(&person, channel) {
        finish(
            tx,
            &mut message,
            MessageStatus::Suppressed,
            Some("no_consent"),
            now,
        )?;
        return Ok(Step::Finished(Outcome::Done));
    }
    let Some(to) = recipient(&person, channel).map(str::to_owned) else {
        finish(
            tx,
            &mut message,
            MessageStatus::Failed,
            Some("no_recipient"),
            now,
        )?;
        return Ok(Step::Finished(Outcome::Done));
    };
    let ready = match channel {
        Channel::Sms => sms_ready,
        Channel::Email => {
            email_ready || (gmail_ready && account_mail.sends_own_mail(tx, account.id)?)
        }
    };
    if !ready {
        let reason = format!("{} is not configured on this server", channel.as_str());
        finish(tx, &mut message, MessageStatus::Failed, Some(&reason), now)?;
        return Ok(Step::Finished(Outcome::Failed(reason)));
    }
    if channel == Channel::Sms {
        let zone = account.time_zone.tz();
        let quiet = QuietHours::from_stored(&account.quiet_hours_start, &account.quiet_hours_end);
        if let Some(until) = quiet.defer_until(now.get(), zone) {
            message.send_after = Some(Ts::from(until));
            message.status_reason = Some("quiet_hours".into());
            message.updated_at = now;
            messages::save(tx, &message)?;
            return Ok(Step::Finished(Outcome::Defer(Ts::from(until))));
        }
    }
    if !messages::start_sending(tx, id, &to, now)? {
        return Ok(Step::Finished(Outcome::Done));
    }
    message.status = Stored(MessageStatus::Sending);
    message.recipient = Some(to.clone());
    message.attempts += 1;
    Ok(Step::Send(Box::new(Prepared {
        message,
        recipient: to,
        account,
    })))
}

async fn deliver(state: &AppState, prepared: &Prepared) -> Result<String, SendError> {
    let message = &prepared.message;
    let base = &state.outbound.public_base_url;
    let body = message.body.clone().unwrap_or_default();
    match *message.channel {
        Channel::Sms => {
            let sender = state.outbound.sms.as_ref().ok_or_else(not_configured)?;
            let sms = OutgoingSms {
                to: prepared.recipient.clone(),
                body,
                status_callback: Some(format!("{base}/v1/webhooks/twilio/status")),
            };
            sender.send(&sms).await
        }
        Channel::Email => {
            // An account that granted Gmail sends from its own address.
            let sender = match state
                .account_mail
                .own_sender(state, message.account_id)
                .await?
            {
                Some(gmail) => gmail,
                None => state.outbound.email.clone().ok_or_else(not_configured)?,
            };
            let token = state.tokens.unsubscribe_token(message.person_id.uuid());
            let unsubscribe_url = format!("{base}/v1/unsubscribe?token={token}");
            let mut footer = format!("\n\n--\n{}\n", prepared.account.name);
            if let Some(address) = &prepared.account.postal_address {
                footer.push_str(address);
                footer.push('\n');
            }
            footer.push_str(&format!(
                "To stop receiving these emails, unsubscribe: {unsubscribe_url}\n"
            ));
            let host = base
                .split("://")
                .nth(1)
                .and_then(|rest| rest.split([':', '/']).next())
                .unwrap_or("fieldcrm.invalid");
            let email = OutgoingEmail {
                from_name: prepared.account.name.clone(),
                to: prepared.recipient.clone(),
                subject: message.subject.clone().unwrap_or_default(),
                text: format!("{body}{footer}"),
                unsubscribe_url,
                message_id: format!("<{}@{host}>", message.id.uuid()),
            };
            sender.send(&email).await
        }
    }
}

fn not_configured() -> SendError {
    SendError::Permanent {
        code: None,
        message: "the channel is not configured".into(),
    }
}

fn record(
    tx: &mut Tx<'_>,
    mut message: Message,
    result: Result<String, SendError>,
    attempts_left: bool,
    retry_at: Ts,
) -> Result<Outcome, AppError> {
    let now = Ts::now();
    match result {
        Ok(provider_id) => {
            message.provider_message_id = Some(provider_id);
            message.sent_at = Some(now);
            message.error_code = None;
            finish(tx, &mut message, MessageStatus::Sent, None, now)?;
            Ok(Outcome::Done)
        }
        Err(SendError::Unsubscribed { code }) => {
            message.error_code = Some(code);
            finish(
                tx,
                &mut message,
                MessageStatus::Failed,
                Some("recipient_unsubscribed"),
                now,
            )?;
            opt_out_person(
                tx,
                &message,
                Channel::Sms,
                ConsentSource::InboundStop,
                "system",
            )?;
            Ok(Outcome::Done)
        }
        Err(SendError::Permanent { code, message: why }) => {
            message.error_code = code;
            finish(tx, &mut message, MessageStatus::Failed, Some(&why), now)?;
            Ok(Outcome::Failed(why))
        }
        Err(SendError::Transient(why)) if attempts_left => {
            message.status = Stored(MessageStatus::Queued);
            message.status_reason = Some(why.clone());
            message.updated_at = now;
            messages::save(tx, &message)?;
            Ok(Outcome::Retry(retry_at, why))
        }
        Err(SendError::Transient(why)) => {
            finish(tx, &mut message, MessageStatus::Failed, Some(&why), now)?;
            Ok(Outcome::Failed(why))
        }
    }
}

/// Sets a final status on the message, and on the reminder it came from.
fn finish(
    tx: &mut Tx<'_>,
    message: &mut Message,
    status: MessageStatus,
    reason: Option<&str>,
    now: Ts,
) -> Result<(), AppError> {
    message.status = Stored(status);
    message.status_reason = reason.map(str::to_owned);
    message.send_after = None;
    message.updated_at = now;
    messages::save(tx, message)?;
    let event_type = match status {
        MessageStatus::Sent => "message.sent",
        MessageStatus::Delivered => "message.delivered",
        MessageStatus::Suppressed => "message.suppressed",
        _ => "message.failed",
    };
    feed::record(
        tx,
        message.account_id,
        Actor::System,
        Change::new(event_type, message_event_data(message)).about(Some(message.person_id)),
    )?;
    if let Some(reminder) = message.reminder_id {
        let reminder_status = match status {
            MessageStatus::Sent | MessageStatus::Delivered => ReminderStatus::Sent,
            MessageStatus::Suppressed => ReminderStatus::Suppressed,
            _ => ReminderStatus::Failed,
        };
        appointments::set_reminder_status(tx, reminder, reminder_status, now)?;
    }
    Ok(())
}

fn opt_out_person(
    tx: &mut Tx<'_>,
    message: &Message,
    channel: Channel,
    source: ConsentSource,
    by: &str,
) -> Result<(), AppError> {
    if let Some(mut person) = people::find(tx, message.account_id, message.person_id)? {
        if opted_in(&person, channel) {
            apply_consent(
                tx,
                &mut person,
                channel,
                ConsentStatus::OptedOut,
                source,
                by.to_owned(),
                Actor::Contact,
            )?;
        }
    }
    Ok(())
}

// ---- webhooks and links --------------------------------------------------

/// A Twilio status callback: moves the message forward, never back (callbacks
/// can arrive out of order).
pub async fn delivery_report(
    state: &AppState,
    provider_id: String,
    provider_status: String,
    error_code: Option<String>,
) -> Result<(), AppError> {
    let reported = match provider_status.as_str() {
        "sent" => MessageStatus::Sent,
        "delivered" => MessageStatus::Delivered,
        "undelivered" => MessageStatus::Undelivered,
        "failed" => MessageStatus::Failed,
        // queued, sending, accepted, scheduled...: nothing new for the log.
        _ => return Ok(()),
    };
    state
        .db(move |conn| {
            conn.write_transaction(|conn| {
                let Some(mut message) = messages::find_by_provider_id(conn, &provider_id)? else {
                    return Ok(());
                };
                if !message.status.may_become(reported) {
                    return Ok(());
                }
                if error_code.is_some() {
                    message.error_code = error_code.clone();
                }
                let reason = (!matches!(reported, MessageStatus::Sent | MessageStatus::Delivered))
                    .then(|| format!("the carrier reported {}", reported.as_str()));
                finish(conn, &mut message, reported, reason.as_deref(), Ts::now())?;
                if error_code.as_deref() == Some("21610") {
                    opt_out_person(
                        conn,
                        &message,
                        Channel::Sms,
                        ConsentSource::InboundStop,
                        "system",
                    )?;
                }
                Ok(())
            })
        })
        .await
}

/// A text someone sent to the service's number. A whole-body STOP word opts
/// that number out of SMS from every account that holds it (they share the
/// sending number, which the carrier now blocks for the person); a START word
/// undoes only what such a STOP did (`start_restores_consent`). Returns how
/// many people it changed.
pub async fn inbound_sms(state: &AppState, from: String, body: String) -> Result<usize, AppError> {
    let Some(keyword) = SmsKeyword::of(&body) else {
        return Ok(0);
    };
    let status = match keyword {
        SmsKeyword::Stop => ConsentStatus::OptedOut,
        SmsKeyword::Start => ConsentStatus::OptedIn,
    };
    state
        .db(move |conn| {
            conn.write_transaction(|conn| {
                let mut changed = 0;
                for mut person in people::with_phone(conn, &from)? {
                    if person.sms_consent.is_some_and(|c| c == status) {
                        continue;
                    }
                    if keyword == SmsKeyword::Start {
                        let last = consent::last_two(conn, person.id, Channel::Sms)?;
                        let decision = |n: usize| last.get(n).map(|e| (*e.status, *e.source));
                        if !start_restores_consent(decision(0), decision(1)) {
                            continue;
                        }
                    }
                    apply_consent(
                        conn,
                        &mut person,
                        Channel::Sms,
                        status,
                        ConsentSource::InboundStop,
                        "system".into(),
                        Actor::Contact,
                    )?;
                    changed += 1;
                }
                Ok(changed)
            })
        })
        .await
}

/// Whether an unsubscribe token is one this service signed.
pub fn check_unsubscribe_token(state: &AppState, token: &str) -> Result<Id<Person>, AppError> {
    state
        .tokens
        .verify_unsubscribe(token)
        .map(Id::from_uuid)
        .ok_or_else(|| {
            AppError::new(Failure::InvalidLink)
                .with_detail("this unsubscribe link is not valid; use the link from the email")
        })
}

/// Opts the person of a valid unsubscribe link out of email. Idempotent: a
/// second click changes nothing, and a person erased meanwhile has nothing left
/// to unsubscribe.
pub async fn unsubscribe(state: &AppState, token: &str) -> Result<(), AppError> {
    let person = check_unsubscribe_token(state, token)?;
    state
        .db(move |conn| {
            conn.write_transaction(|conn| {
                let Some(mut found) = people::find_any(conn, person)? else {
                    return Ok(());
                };
                if found
                    .email_consent
                    .is_some_and(|c| c == ConsentStatus::OptedOut)
                {
                    return Ok(());
                }
                apply_consent(
                    conn,
                    &mut found,
                    Channel::Email,
                    ConsentStatus::OptedOut,
                    ConsentSource::UnsubscribeLink,
                    "system".into(),
                    Actor::Contact,
                )?;
                Ok(())
            })
        })
        .await
}

/// Clears the bodies of messages older than each account's retention.
pub fn purge_bodies(conn: &mut DbConnection, now: Ts) -> Result<usize, AppError> {
    let mut purged = 0;
    for (account, days) in accounts::message_retention(conn)? {
        let before = Ts::from(now.get() - Duration::days(i64::from(days)));
        purged += messages::purge_bodies(conn, account, before)?;
    }
    jobs::purge_finished(conn, Ts::from(now.get() - Duration::days(7)))?;
    Ok(purged)
}

#[cfg(test)]
mod tests {
    use fieldcrm_db::{messages, Stored};
    use fieldcrm_domain::messaging::{MessageBody, MessageStatus};
    use fieldcrm_domain::Channel;
    use secrecy::SecretString;

    use super::{delivery_report, queue_in, NewMessage};
    use crate::testing::World;

    /// A texted message that the carrier reported as `status`, under `provider_id`.
    async fn message_reported(world: &World, provider_id: &str, status: &str) -> messages::Message {
        let anna = world
            .customer_with_sms_consent("Anna", "+4915112345678", "anna@example.com")
            .await;
        let input = NewMessage {
            person: anna.id,
            channel: Channel::Sms,
            body: MessageBody::parse("Your cleaner comes at 9", Channel::Sms).unwrap(),
            subject: None,
        };
        let mut message = world
            .tx(|tx| queue_in(tx, &world.state, &world.owner, input))
            .unwrap();
        assert_eq!(message.status, MessageStatus::Queued);
        message.status = Stored(status.parse().unwrap());
        message.provider_message_id = Some(provider_id.to_owned());
        messages::save(&mut world.conn(), &message).unwrap();
        message
    }

    async fn status_after(world: &World, message: &messages::Message, reported: &str) -> String {
        let provider_id = message.provider_message_id.clone().unwrap();
        delivery_report(&world.state, provider_id, reported.to_owned(), None)
            .await
            .unwrap();
        messages::find(&mut world.conn(), message.account_id, message.id)
            .unwrap()
            .unwrap()
            .status
            .as_str()
            .to_owned()
    }

    #[tokio::test]
    async fn a_late_delivery_report_moves_a_message_forward_never_back() {
        let world = World::new(|s| {
            s.twilio_account_sid = Some("AC00000000000000000000000000000000".into());
            s.twilio_auth_token = Some(SecretString::from("token"));
            s.twilio_from = Some("+15005550006".into());
        })
        .await;
        let sent = message_reported(&world, "SM1", "sent").await;
        // Reports arrive out of order: a `sent` after `delivered` changes nothing.
        assert_eq!(status_after(&world, &sent, "delivered").await, "delivered");
        assert_eq!(status_after(&world, &sent, "sent").await, "delivered");
        assert_eq!(status_after(&world, &sent, "failed").await, "delivered");
        assert_eq!(status_after(&world, &sent, "queued").await, "delivered");

        let sending = message_reported(&world, "SM2", "sending").await;
        assert_eq!(status_after(&world, &sending, "sent").await, "sent");
        assert_eq!(
            status_after(&world, &sending, "undelivered").await,
            "undelivered"
        );
    }
}
