//! Google: connecting an account (OAuth 2.0 with PKCE and a single-use state
//! bound to the person who started it), the grant's tokens sealed at rest and
//! refreshed before they expire, the two-way Calendar sync, push notifications,
//! and the clean-up at Google after a disconnect or an account deletion.
//!
//! Every call to Google runs as a job in the outbox, enqueued in the same
//! transaction as the change that needs it: an outage at Google delays a change
//! and never loses it. Jobs carry ids only; the one that outlives its account
//! carries the grant sealed, since no row is left to read it from.

use std::sync::Arc;

use chrono::Duration;
use serde::{Deserialize, Serialize};

use fieldcrm_db::accounts::{self, Account};
use fieldcrm_db::appointments::{self, Appointment};
use fieldcrm_db::audit::{self, AuditEvent};
use fieldcrm_db::google::{self, EventLink, Integration, OAuthState};
use fieldcrm_db::jobs::{self, Job, Outcome, SubjectId};
use fieldcrm_db::people::{self, Person};
use fieldcrm_db::{DbConnection, Id, Ts};
use fieldcrm_domain::scheduling::{Status, TimeSlot, Title};
use fieldcrm_domain::Action;
use fieldcrm_google::{
    CalendarError, CalendarEvent, EventPatch, EventTimes, OAuthError, SCOPES_IDENTITY,
    SCOPE_CALENDAR_EVENTS, SCOPE_GMAIL,
};
use fieldcrm_notify::{EmailSender, SendError, SmtpRelay};
use secrecy::SecretString;

use crate::audit::Audited;
use crate::auth::tokens::{new_secret, secret_hash};
use crate::caller::Caller;
use crate::error::{AppError, AppResult, Failure};
use crate::jobs::{attempts_left, retry_time, BackgroundJob};
use crate::outbound::Google;
use crate::scheduling::appointments as appointment_rules;
use crate::state::{AccountMail, AppState, OwnSender};
use crate::tx::Tx;

/// Writes one appointment to its Google event: subject the appointment.
pub struct ExportEvent;

impl BackgroundJob for ExportEvent {
    const KIND: &'static str = "google.export_event";
}

/// Deletes Google events of appointments that are gone: their ids sealed.
pub struct DeleteEvents;

impl BackgroundJob for DeleteEvents {
    const KIND: &'static str = "google.delete_events";
}

/// Reads what changed in the account's calendar.
pub struct Sync;

impl BackgroundJob for Sync {
    const KIND: &'static str = "google.sync";
}

/// Opens or renews the account's push channel.
pub struct Watch;

impl BackgroundJob for Watch {
    const KIND: &'static str = "google.watch";
}

/// What is left to do at Google after a grant is gone: the grant sealed.
pub struct Cleanup;

impl BackgroundJob for Cleanup {
    const KIND: &'static str = "google.cleanup";
}

/// How long a consent screen may stay open.
const STATE_TTL_MINUTES: i64 = 10;
/// An access token this close to its end is refreshed first.
const REFRESH_MARGIN_SECS: i64 = 120;
/// Push channels are renewed this long before Google ends them.
const RENEW_CHANNEL_BEFORE_HOURS: i64 = 24;
/// Appointments exported when an account connects: from this long ago on.
const EXPORT_PAST_DAYS: i64 = 1;
const EXPORT_AT_CONNECT: i64 = 5000;

fn configured(state: &AppState) -> Result<Arc<Google>, AppError> {
    state.outbound.google.clone().ok_or_else(|| {
        AppError::new(Failure::GoogleNotConfigured)
        .with_detail(
            "this service has no Google OAuth client; the operator sets FIELDCRM_GOOGLE_CLIENT_ID, FIELDCRM_GOOGLE_CLIENT_SECRET and FIELDCRM_TOKEN_ENCRYPTION_KEYS",
        )
    })
}

fn owner(account: Id<Account>) -> [u8; 16] {
    *account.uuid().as_bytes()
}

fn subject<T>(id: Id<T>) -> SubjectId {
    Id::from_uuid(id.uuid())
}

fn sealed_failure(err: fieldcrm_google::CipherError) -> AppError {
    AppError::internal_from(&format!("a sealed Google token could not be opened: {err}"))
}

// ---------------------------------------------------------------- connecting

/// Starts a consent screen; returns the URL to send the person to.
/// `return_url`: where the browser goes back to once Google is done, on an
/// origin of `FIELDCRM_CORS_ALLOWED_ORIGINS` (the app that confirms there) or
/// a page of this server's own web app (`/app/`).
pub async fn connect(
    state: &AppState,
    caller: &Caller,
    send_email: bool,
    return_url: Option<String>,
) -> Result<String, AppError> {
    caller.require(Action::ManageAccount)?;
    let Some((user_id, _)) = caller.user() else {
        return Err(AppError::forbidden(
            "connecting Google needs a signed-in person: the consent screen is theirs",
        ));
    };
    let google = configured(state)?;
    if let Some(url) = &return_url {
        let web_app = format!("{}/app", state.outbound.public_base_url);
        let origins = state.settings.cors_origins();
        if !allowed_return_url(url, origins, &web_app) {
            return Err(AppError::invalid_field(
                "return_url",
                "must be a URL without a fragment on one of the origins in FIELDCRM_CORS_ALLOWED_ORIGINS or a page of this server's web app",
            ));
        }
    }
    let mut scopes = vec![SCOPE_CALENDAR_EVENTS];
    scopes.extend(SCOPES_IDENTITY);
    if send_email {
        scopes.push(SCOPE_GMAIL);
    }
    let authorization = google.oauth.authorize(&scopes);
    let state_hash = secret_hash(&authorization.state);
    let now = Ts::now();
    let pending = OAuthState {
        pkce_verifier: google
            .cipher
            .seal(&authorization.pkce_verifier, &state_hash),
        state_hash,
        account_id: caller.account_id,
        user_id,
        scopes: scopes.join(" "),
        expires_at: Ts::from(now.get() + Duration::minutes(STATE_TTL_MINUTES)),
        return_url,
        auth_code: None,
        confirmation_hash: None,
    };
    state
        .db(move |conn| {
            google::purge_states(conn, now)?;
            google::save_state(conn, &pending)?;
            Ok(())
        })
        .await?;
    Ok(authorization.url)
}

/// A return URL on one of the app's origins, or under `web_app` (this
/// server's pages), so the confirmation in its fragment reaches that app and
/// nothing else.
fn allowed_return_url<'a>(
    url: &str,
    origins: impl Iterator<Item = &'a str>,
    web_app: &'a str,
) -> bool {
    url.len() <= 2048
        && !url.contains('#')
        && !url.chars().any(|c| c.is_control() || c.is_whitespace())
        && origins.chain([web_app]).any(|origin| {
            let origin = origin.trim_end_matches('/');
            url == origin || url.starts_with(&format!("{origin}/"))
        })
}

/// What Google sent back to the redirect URL.
pub struct CallbackInput {
    pub state: Option<String>,
    pub code: Option<String>,
    pub error: Option<String>,
}

/// What the browser is told once Google sent it back.
pub enum Returned {
    /// Consent given: the app confirms it.
    Answered(Answered),
    /// The person declined at Google, and the app they started from named a
    /// page to return to: they go back there with Google's error code.
    Declined { return_url: String, error: String },
}

/// A consent answered in a browser, waiting for the app to confirm it.
pub struct Answered {
    /// Shown to that browser only; the person who started connecting
    /// confirms with it (`confirm`).
    pub confirmation: String,
    pub expires_at: Ts,
    pub return_url: Option<String>,
}

/// Google sent a browser back from the consent screen. Nothing is attached
/// here: whoever holds a consent URL can finish it, in any browser. The code
/// is kept sealed, and the browser gets a confirmation that only the person
/// who started connecting can use, signed in (RFC 6749 §10.12: the grant is
/// bound to the one who asked for it).
pub async fn callback(state: &AppState, input: CallbackInput) -> Result<Returned, AppError> {
    let google = configured(state)?;
    let invalid_state = || {
        AppError::new(Failure::InvalidState)
        .with_detail("the consent screen was not started here, was finished already, or is older than 10 minutes; connect again")
    };
    let raw_state = input.state.filter(|s| !s.is_empty() && s.len() <= 512);
    let Some(raw_state) = raw_state else {
        return Err(invalid_state());
    };
    let state_hash = secret_hash(&raw_state);
    let now = Ts::now();
    if let Some(error) = input.error {
        let lookup = state_hash.clone();
        let taken = state
            .db(move |conn| Ok(google::take_state(conn, &lookup, now)?))
            .await?
            .ok_or_else(invalid_state)?;
        return match taken.return_url {
            Some(return_url) => Ok(Returned::Declined {
                return_url,
                error: error_code(&error),
            }),
            None => Err(declined(&error)),
        };
    }
    let code = input
        .code
        .filter(|c| !c.is_empty() && c.len() <= 2048)
        .ok_or_else(|| AppError::malformed("the `code` parameter is missing"))?;
    let confirmation = new_secret("");
    let sealed_code = google.cipher.seal(&code, &state_hash);
    let confirmation_hash = secret_hash(&confirmation);
    let expires_at = Ts::from(now.get() + Duration::minutes(STATE_TTL_MINUTES));
    let answered = state
        .db(move |conn| {
            Ok(google::answer_state(
                conn,
                &state_hash,
                now,
                &sealed_code,
                &confirmation_hash,
                expires_at,
            )?)
        })
        .await?
        .ok_or_else(invalid_state)?;
    Ok(Returned::Answered(Answered {
        confirmation,
        expires_at,
        return_url: answered.return_url,
    }))
}

/// The person declined at Google (`error` is Google's, such as
/// `access_denied`), as an app that confirms shows it.
pub fn declined(error: &str) -> AppError {
    let code = error_code(error);
    AppError::new(Failure::ConsentRefused)
        .with_detail(format!("Google answered `{code}`; nothing was connected"))
}

/// Google's error code as it may be shown or put in a URL: its letters,
/// digits and underscores.
fn error_code(error: &str) -> String {
    error
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(64)
        .collect()
}

/// The person who started connecting confirms, signed in, the consent their
/// browser answered: the code is exchanged with the PKCE verifier, the grant
/// stored sealed, and the first sync started. A confirmation from anyone
/// else is refused and used up.
pub async fn confirm(
    state: &AppState,
    caller: &Caller,
    confirmation: &str,
) -> Result<Integration, AppError> {
    caller.require(Action::ManageAccount)?;
    let Some((user_id, _)) = caller.user() else {
        return Err(AppError::forbidden(
            "connecting Google needs a signed-in person: the consent screen is theirs",
        ));
    };
    let google = configured(state)?;
    let now = Ts::now();
    let lookup = secret_hash(confirmation);
    let pending = state
        .db(move |conn| Ok(google::take_confirmation(conn, &lookup, now)?))
        .await?
        .filter(|pending| pending.account_id == caller.account_id && pending.user_id == user_id)
        .ok_or_else(|| {
            AppError::new(Failure::InvalidConfirmation)
            .with_detail("it is unknown, was used already, is older than 10 minutes, or belongs to a consent someone else started; connect again")
        })?;
    let open = |sealed: &str| {
        google
            .cipher
            .open(sealed, &pending.state_hash)
            .map_err(sealed_failure)
    };
    let verifier = open(&pending.pkce_verifier)?;
    let code = open(pending.auth_code.as_deref().unwrap_or_default())?;
    let grant = google
        .oauth
        .exchange(&code, &verifier)
        .await
        .map_err(|err| match err {
            OAuthError::InvalidGrant => AppError::new(Failure::InvalidCode)
                .with_detail("the code expired or was used already; connect again"),
            other => google_unavailable(&other.to_string()),
        })?;
    let Some(refresh_token) = grant.refresh_token.as_deref() else {
        return Err(google_unavailable("Google issued no refresh token"));
    };
    let scopes = if grant.scopes.is_empty() {
        pending.scopes.clone()
    } else {
        grant.scopes.join(" ")
    };
    if !scopes.split(' ').any(|s| s == SCOPE_CALENDAR_EVENTS) {
        return Err(AppError::new(Failure::CalendarNotGranted)
        .with_detail("the calendar permission was unticked on Google's consent screen; connect again and allow it"));
    }
    let account = pending.account_id;
    // The Google account's stable id; its address only if Google sent no id.
    let google_account = grant
        .subject
        .clone()
        .or_else(|| grant.email.as_ref().map(|e| legacy_identity(e)))
        .unwrap_or_default();
    let integration = Integration {
        account_id: account,
        connected_by: Some(pending.user_id),
        email: grant.email.clone(),
        google_subject: google_account.clone(),
        scopes,
        calendar_id: google.calendar_id.clone(),
        refresh_token: google.cipher.seal(refresh_token, &owner(account)),
        access_token: Some(google.cipher.seal(&grant.access_token, &owner(account))),
        access_token_expires_at: Some(Ts::from(grant.expires_at)),
        needs_reconnect: false,
        last_error: None,
        sync_token: None,
        last_synced_at: None,
        channel_id: None,
        channel_resource_id: None,
        channel_token_hash: None,
        channel_expires_at: None,
        created_at: now,
        updated_at: now,
    };
    let push = google.push_enabled;
    let email = grant.email.clone();
    let stored = state
        .db(move |conn| {
            conn.write_transaction(|conn| {
                let mut stored = integration.clone();
                let earlier = google::find(conn, account)?;
                // Links made before the Google account was recorded carry its
                // address, or nothing; the same address is the same account.
                let mut legacy = vec![String::new()];
                legacy.extend(email.as_deref().map(legacy_identity));
                google::adopt_links(conn, account, &legacy, &google_account)?;
                match earlier {
                    Some(earlier)
                        if earlier.google_subject == google_account
                            || legacy.contains(&earlier.google_subject) =>
                    {
                        // The same calendar: the sync goes on from where it
                        // was, and the push channel stays until the watch job
                        // has opened the next one and stops it.
                        if earlier.calendar_id == stored.calendar_id {
                            stored.sync_token = earlier.sync_token;
                            stored.last_synced_at = earlier.last_synced_at;
                        }
                        stored.channel_id = earlier.channel_id;
                        stored.channel_resource_id = earlier.channel_resource_id;
                        stored.channel_token_hash = earlier.channel_token_hash;
                        stored.channel_expires_at = earlier.channel_expires_at;
                    }
                    // Another Google account: its channel is stopped and its
                    // grant revoked. (Never for the same account: revoking
                    // one grant of a Google account ends all of them.)
                    Some(earlier) => enqueue_cleanup(conn, &google, &earlier, Vec::new())?,
                    None => {}
                }
                google::forget_exports_to_others(conn, account, &google_account)?;
                google::replace(conn, &stored)?;
                audit::record(
                    conn,
                    &AuditEvent {
                        id: Id::new(),
                        account_id: account,
                        actor: format!("user:{}", pending.user_id),
                        action: Audited::GoogleConnected.as_str().to_owned(),
                        subject_id: None,
                        detail: Some(format!("scopes: {}", stored.scopes)),
                        at: now,
                    },
                )?;
                // What is not in this calendar yet, or changed here since;
                // the export writes nothing to an event that is up to date.
                let since = Ts::from(now.get() - Duration::days(EXPORT_PAST_DAYS));
                for id in google::appointments_to_export(
                    conn,
                    account,
                    &google_account,
                    since,
                    EXPORT_AT_CONNECT,
                )? {
                    enqueue::<ExportEvent>(conn, account, Some(subject(id)))?;
                }
                enqueue::<Sync>(conn, account, None)?;
                if push {
                    enqueue::<Watch>(conn, account, None)?;
                }
                Ok(stored)
            })
        })
        .await?;
    tracing::info!(account = %account.uuid(), "Google connected");
    Ok(stored)
}

/// How a Google account was told apart before its OpenID id was recorded.
fn legacy_identity(email: &str) -> String {
    format!("email:{}", email.to_lowercase())
}

fn google_unavailable(reason: &str) -> AppError {
    tracing::warn!(%reason, "Google refused or failed a sign-in");
    AppError::new(Failure::GoogleUnavailable)
        .with_detail("Google did not answer as expected; try connecting again in a moment")
}

pub async fn status(state: &AppState, caller: &Caller) -> Result<Option<Integration>, AppError> {
    caller.require(Action::ViewAccount)?;
    let account = caller.account_id;
    state.db(move |conn| Ok(google::find(conn, account)?)).await
}

/// Queues a sync now; 404 when no Google account is connected.
pub async fn sync_now(state: &AppState, caller: &Caller) -> Result<(), AppError> {
    caller.require(Action::ManageAccount)?;
    let account = caller.account_id;
    state
        .db(move |conn| {
            conn.write_transaction(|conn| {
                let integration = google::find(conn, account)?.ok_or_else(not_connected)?;
                if integration.needs_reconnect {
                    return Err(needs_reconnect());
                }
                enqueue::<Sync>(conn, account, None)
            })
        })
        .await
}

fn not_connected() -> AppError {
    AppError::new(Failure::NotConnected)
}

fn needs_reconnect() -> AppError {
    AppError::new(Failure::NeedsReconnect)
        .with_detail("Google no longer accepts the grant; connect again")
}

/// Forgets the grant at once (appointments stay); revoking it and stopping the
/// push channel at Google follow as a job.
pub async fn disconnect(state: &AppState, caller: &Caller) -> Result<(), AppError> {
    caller.require(Action::ManageAccount)?;
    let google = configured(state)?;
    let caller = caller.clone();
    state
        .db(move |conn| {
            conn.write_transaction(|conn| {
                let removed = google::delete(conn, caller.account_id)?.ok_or_else(not_connected)?;
                enqueue_cleanup(conn, &google, &removed, Vec::new())?;
                crate::audit::record(conn, &caller, Audited::GoogleDisconnected, None, None)
            })
        })
        .await
}

// ------------------------------------------------------- reactions to other contexts

/// Queues the export of a changed appointment when the account syncs with Google.
pub fn appointment_changed(tx: &mut Tx<'_>, appointment: &Appointment) -> Result<(), AppError> {
    match google::find(tx, appointment.account_id)? {
        Some(integration) if !integration.needs_reconnect => {
            enqueue::<ExportEvent>(tx, appointment.account_id, Some(subject(appointment.id)))
        }
        _ => Ok(()),
    }
}

/// Before appointments are deleted: queues the removal of their Google events.
pub fn appointments_removed(
    tx: &mut Tx<'_>,
    account: Id<Account>,
    ids: &[Id<Appointment>],
) -> Result<(), AppError> {
    // Only events in the connected calendar can be reached.
    let Some(integration) = google::find(tx, account)? else {
        return Ok(());
    };
    let mut events = Vec::new();
    for id in ids {
        if let Some(link) = google::link_of(tx, *id)? {
            if link.google_subject == integration.google_subject {
                events.push(link.event_id);
            }
        }
    }
    queue_event_deletion(tx, account, events)
}

/// Before a person is erased: queues the removal of their appointments' events.
pub fn person_removed(
    tx: &mut Tx<'_>,
    account: Id<Account>,
    person: Id<Person>,
) -> Result<(), AppError> {
    // Only events in the connected calendar can be reached.
    let Some(integration) = google::find(tx, account)? else {
        return Ok(());
    };
    let events = google::event_ids_of_person(tx, account, &integration.google_subject, person)?;
    queue_event_deletion(tx, account, events)
}

fn queue_event_deletion(
    tx: &mut Tx<'_>,
    account: Id<Account>,
    events: Vec<String>,
) -> Result<(), AppError> {
    let Some(google_config) = tx.outbound().google.clone() else {
        return Ok(());
    };
    if events.is_empty() {
        return Ok(());
    }
    let job = tx.job::<DeleteEvents>(Some(account), None, Ts::now());
    let payload = serde_json::to_string(&events).map_err(|e| AppError::internal_from(&e))?;
    let sealed = google_config
        .cipher
        .seal(&payload, job.id.uuid().as_bytes());
    jobs::enqueue(tx, &job.with_payload(sealed))?;
    Ok(())
}

/// Inside an account deletion: queues what must happen at Google afterwards
/// (stop the push channel, delete our events if asked, revoke the grant). The
/// job belongs to no account and carries the grant sealed.
pub fn account_removed(
    tx: &mut Tx<'_>,
    account: Id<Account>,
    delete_calendar_events: bool,
) -> Result<(), AppError> {
    let Some(integration) = google::find(tx, account)? else {
        return Ok(());
    };
    let Some(google_config) = tx.outbound().google.clone() else {
        tracing::warn!("an account with a Google grant was deleted while Google is not configured; the grant could not be revoked");
        return Ok(());
    };
    let events = if delete_calendar_events {
        google::exported_event_ids(tx, account, &integration.google_subject)?
    } else {
        Vec::new()
    };
    enqueue_cleanup(tx, &google_config, &integration, events)
}

#[derive(Serialize, Deserialize)]
struct CleanupPayload {
    refresh_token: String,
    calendar_id: String,
    channel: Option<(String, String)>,
    delete_events: Vec<String>,
}

fn enqueue_cleanup(
    tx: &mut Tx<'_>,
    google_config: &Google,
    integration: &Integration,
    delete_events: Vec<String>,
) -> Result<(), AppError> {
    let refresh_token = google_config
        .cipher
        .open(&integration.refresh_token, &owner(integration.account_id))
        .map_err(sealed_failure)?;
    let payload = CleanupPayload {
        refresh_token,
        calendar_id: integration.calendar_id.clone(),
        channel: integration
            .channel_id
            .clone()
            .zip(integration.channel_resource_id.clone()),
        delete_events,
    };
    let job = tx.job::<Cleanup>(None, None, Ts::now());
    let json = serde_json::to_string(&payload).map_err(|e| AppError::internal_from(&e))?;
    let sealed = google_config.cipher.seal(&json, job.id.uuid().as_bytes());
    jobs::enqueue(tx, &job.with_payload(sealed))?;
    Ok(())
}

/// Queues a job of kind `K` now, unless one for the same subject is queued.
fn enqueue<K: BackgroundJob>(
    tx: &mut Tx<'_>,
    account: Id<Account>,
    subject: Option<SubjectId>,
) -> Result<(), AppError> {
    let job = tx.job::<K>(Some(account), subject, Ts::now());
    jobs::enqueue_once(tx, &job)?;
    Ok(())
}

/// The periodic part: a sync for every connected account not synced within the
/// interval (the fallback when push notifications do not arrive), and push
/// channels opened or renewed before they end (`push`: only when Google can
/// reach the service, over https).
pub fn schedule_periodic(
    tx: &mut Tx<'_>,
    sync_every: Duration,
    push: bool,
    now: Ts,
) -> Result<(), AppError> {
    let stale = Ts::from(now.get() - sync_every);
    for integration in google::active(tx)? {
        if integration.last_synced_at.is_none_or(|at| at < stale) {
            enqueue::<Sync>(tx, integration.account_id, None)?;
        }
        let renew_by = Ts::from(now.get() + Duration::hours(RENEW_CHANNEL_BEFORE_HOURS));
        if push
            && integration
                .channel_expires_at
                .is_none_or(|at| at < renew_by)
        {
            enqueue::<Watch>(tx, integration.account_id, None)?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------- jobs

/// Ends a job early with this outcome, or on a database problem.
enum Stop {
    With(Outcome),
    Db(AppError),
}

impl From<AppError> for Stop {
    fn from(err: AppError) -> Self {
        Stop::Db(err)
    }
}

type Step<T> = Result<T, Stop>;

fn finish(step: Step<Outcome>) -> Result<Outcome, AppError> {
    match step {
        Ok(outcome) | Err(Stop::With(outcome)) => Ok(outcome),
        Err(Stop::Db(err)) => Err(err),
    }
}

fn retry(state: &AppState, job: &Job, reason: String) -> Stop {
    Stop::With(if attempts_left(job) {
        Outcome::Retry(
            retry_time(job.attempts, state.settings.job_retry_base_ms),
            reason,
        )
    } else {
        Outcome::Failed(reason)
    })
}

/// What a failed Calendar call means for the job.
fn calendar_stop(
    state: &AppState,
    job: &Job,
    account: Option<Id<Account>>,
    err: CalendarError,
) -> Stop {
    match err {
        CalendarError::Transient(reason) => retry(state, job, format!("Google Calendar: {reason}")),
        CalendarError::Unauthorized => {
            if let Some(account) = account {
                // The cached token was refused (revoked or expired early):
                // the next attempt refreshes it.
                let pool = state.pool.clone();
                tokio::task::spawn_blocking(move || {
                    if let Ok(mut conn) = pool.get() {
                        let _ = google::forget_access_token(&mut conn, account, Ts::now());
                    }
                });
            }
            retry(
                state,
                job,
                "Google Calendar refused the access token".into(),
            )
        }
        other => Stop::With(Outcome::Failed(format!("Google Calendar: {other}"))),
    }
}

/// The grant of the job's account; a job for an account that disconnected, or
/// whose grant Google refused, has nothing left to do.
async fn active_grant(state: &AppState, account: Id<Account>) -> Step<(Arc<Google>, Integration)> {
    let Some(google_config) = state.outbound.google.clone() else {
        return Err(Stop::With(Outcome::Failed(
            "Google is not configured".into(),
        )));
    };
    match state
        .db(move |conn| Ok(google::find(conn, account)?))
        .await?
    {
        Some(integration) if !integration.needs_reconnect => Ok((google_config, integration)),
        _ => Err(Stop::With(Outcome::Done)),
    }
}

/// Why no access token could be had.
pub(crate) enum GrantError {
    /// Google refused the grant (`invalid_grant`); the integration is now
    /// marked `needs_reconnect`.
    Refused,
    Transient(String),
    Rejected(String),
    Db(AppError),
}

impl From<AppError> for GrantError {
    fn from(err: AppError) -> Self {
        GrantError::Db(err)
    }
}

/// A valid access token: the stored one while it lasts, else a refreshed one,
/// stored sealed for every process. `invalid_grant` marks the integration
/// `needs_reconnect`.
async fn fresh_access_token(
    state: &AppState,
    google_config: &Google,
    integration: &Integration,
) -> Result<String, GrantError> {
    let account = integration.account_id;
    let now = Ts::now();
    if let (Some(sealed), Some(expires)) = (
        &integration.access_token,
        integration.access_token_expires_at,
    ) {
        if expires.get() > now.get() + Duration::seconds(REFRESH_MARGIN_SECS) {
            return Ok(google_config
                .cipher
                .open(sealed, &owner(account))
                .map_err(sealed_failure)?);
        }
    }
    let refresh_token = google_config
        .cipher
        .open(&integration.refresh_token, &owner(account))
        .map_err(sealed_failure)?;
    match google_config.oauth.refresh(&refresh_token).await {
        Ok(grant) => {
            let access = google_config
                .cipher
                .seal(&grant.access_token, &owner(account));
            let rotated = grant
                .refresh_token
                .as_deref()
                .map(|t| google_config.cipher.seal(t, &owner(account)));
            let expires = Ts::from(grant.expires_at);
            state
                .db(move |conn| {
                    google::save_tokens(
                        conn,
                        account,
                        &access,
                        expires,
                        rotated.as_deref(),
                        Ts::now(),
                    )?;
                    Ok(())
                })
                .await?;
            Ok(grant.access_token)
        }
        Err(OAuthError::InvalidGrant) => {
            state
                .db(move |conn| {
                    google::mark_needs_reconnect(
                        conn,
                        account,
                        "Google refused the grant (invalid_grant): connect again",
                        Ts::now(),
                    )?;
                    Ok(())
                })
                .await?;
            tracing::warn!(account = %account.uuid(), "Google grant refused; the account must connect again");
            Err(GrantError::Refused)
        }
        Err(OAuthError::Transient(reason)) => {
            Err(GrantError::Transient(format!("token refresh: {reason}")))
        }
        Err(OAuthError::Rejected(reason)) => {
            let error = format!("token refresh refused: {reason}");
            let stored = error.clone();
            state
                .db(move |conn| {
                    google::set_last_error(conn, account, Some(&stored), Ts::now())?;
                    Ok(())
                })
                .await?;
            Err(GrantError::Rejected(error))
        }
    }
}

/// The access token for a job; a refused grant ends the job for good.
async fn access_token(
    state: &AppState,
    job: &Job,
    google_config: &Google,
    integration: &Integration,
) -> Step<String> {
    fresh_access_token(state, google_config, integration)
        .await
        .map_err(|err| match err {
            GrantError::Refused => Stop::With(Outcome::Failed(
                "the Google grant is no longer valid; the account must connect again".into(),
            )),
            GrantError::Transient(reason) => retry(state, job, reason),
            GrantError::Rejected(reason) => Stop::With(Outcome::Failed(reason)),
            GrantError::Db(err) => Stop::Db(err),
        })
}

/// Whether the account's email goes out through Gmail with its own grant.
/// Gmail, for accounts whose Google connection granted sending.
pub struct Gmail;

impl AccountMail for Gmail {
    fn sends_own_mail(&self, conn: &mut DbConnection, account: Id<Account>) -> AppResult<bool> {
        Ok(google::find(conn, account)?.is_some_and(|i| grants_gmail(&i)))
    }

    fn own_sender<'a>(&'a self, state: &'a AppState, account: Id<Account>) -> OwnSender<'a> {
        Box::pin(gmail_sender(state, account))
    }
}

fn grants_gmail(integration: &Integration) -> bool {
    !integration.needs_reconnect
        && integration.email.is_some()
        && integration.scopes.split(' ').any(|s| s == SCOPE_GMAIL)
}

/// Where the account's email goes out when it granted Gmail: its own Google
/// address, over Gmail's SMTP with XOAUTH2 and a fresh access token. None when
/// it did not (or the grant needs a reconnect): the server's SMTP relay sends.
async fn gmail_sender(
    state: &AppState,
    account: Id<Account>,
) -> Result<Option<Arc<dyn EmailSender>>, SendError> {
    let Some(google_config) = state.outbound.google.clone() else {
        return Ok(None);
    };
    let integration = state
        .db(move |conn| Ok(google::find(conn, account)?))
        .await
        .map_err(|_| SendError::Transient("the database is unavailable".into()))?;
    let Some(integration) = integration.filter(grants_gmail) else {
        return Ok(None);
    };
    let Some(address) = integration.email.clone() else {
        return Ok(None);
    };
    let token = fresh_access_token(state, &google_config, &integration)
        .await
        .map_err(|err| match err {
            GrantError::Refused => SendError::Permanent {
                code: None,
                message: "Google refused the grant used for Gmail; connect Google again".into(),
            },
            GrantError::Transient(reason) => SendError::Transient(reason),
            GrantError::Rejected(reason) => SendError::Permanent {
                code: None,
                message: reason,
            },
            GrantError::Db(_) => SendError::Transient("the database is unavailable".into()),
        })?;
    Ok(Some(Arc::new(SmtpRelay::new(
        google_config.gmail_smtp(address, SecretString::from(token)),
    ))))
}

fn job_account(job: &Job) -> Step<Id<Account>> {
    job.account_id
        .ok_or_else(|| Stop::With(Outcome::Failed("the job names no account".into())))
}

/// Our id for the event of an appointment: chosen by us, so a retried insert
/// finds the event it made the first time instead of making a second one.
fn event_id_for(appointment: Id<Appointment>) -> String {
    format!("fc{}", appointment.uuid().simple())
}

/// Who made an event first; see `EventLink::origin`.
const EXPORTED: &str = "exported";
const IMPORTED: &str = "imported";

/// The event fieldcrm makes for an appointment made here.
fn event_of(a: &Appointment, event_id: String, time_zone: &str) -> CalendarEvent {
    CalendarEvent {
        id: event_id,
        summary: Some(a.title.clone()),
        description: a.notes.clone(),
        location: appointment_rules::one_line_address(a),
        start: Some(a.starts_at.get()),
        end: Some(a.ends_at.get()),
        time_zone: Some(time_zone.to_owned()),
        appointment_id: Some(a.id.uuid().to_string()),
        ..Default::default()
    }
}

/// The fields fieldcrm owns on an event, as digests of their values here when
/// the event and the appointment last agreed. A field is written to Google
/// only when its value here has changed since, so whatever someone changed in
/// Google meanwhile stays. `None` is unknown: the field is written.
///
/// Title and time are synced both ways. Location (the appointment's address)
/// and description (its notes) are fieldcrm's only on events it made, and
/// only ever written, never read back.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Owned {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    when: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
}

/// A short digest of a known value: the link needs to know whether a value
/// changed, not the value (the notes and address stay in their own table).
fn digest(value: &str) -> Option<String> {
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(value.as_bytes());
    Some(hash[..8].iter().map(|b| format!("{b:02x}")).collect())
}

impl Owned {
    fn of(a: &Appointment) -> Owned {
        Owned {
            title: digest(&a.title),
            when: digest(&format!(
                "{}/{}",
                a.starts_at.get().timestamp_micros(),
                a.ends_at.get().timestamp_micros()
            )),
            location: digest(&appointment_rules::one_line_address(a).unwrap_or_default()),
            description: digest(a.notes.as_deref().unwrap_or_default()),
        }
    }

    fn of_link(link: &EventLink) -> Owned {
        link.owned_digest
            .as_deref()
            .and_then(|text| serde_json::from_str(text).ok())
            .unwrap_or_default()
    }

    fn text(&self) -> Option<String> {
        serde_json::to_string(self).ok()
    }

    /// Title and time as they are in `a` now, agreed with Google; location
    /// and description as they were.
    fn agreeing_on_title_and_time(self, a: &Appointment) -> Owned {
        let now = Owned::of(a);
        Owned {
            title: now.title,
            when: now.when,
            ..self
        }
    }

    /// Title and time to be written again (ours won a conflict).
    fn forgetting_title_and_time(self) -> Owned {
        Owned {
            title: None,
            when: None,
            ..self
        }
    }
}

/// What to write to the event of `a`: the fields it owns whose value changed
/// since the event and the appointment last agreed, and nothing else.
fn changes(a: &Appointment, link: &EventLink, time_zone: &str) -> EventPatch {
    let now = Owned::of(a);
    let then = Owned::of_link(link);
    let mut patch = EventPatch::default();
    if now.title != then.title {
        patch.summary = Some(a.title.clone());
    }
    if now.when != then.when {
        patch.times = Some(EventTimes {
            start: a.starts_at.get(),
            end: a.ends_at.get(),
            time_zone: time_zone.to_owned(),
        });
    }
    if link.origin == EXPORTED {
        if now.location != then.location {
            patch.location = Some(appointment_rules::one_line_address(a));
        }
        if now.description != then.description {
            patch.description = Some(a.notes.clone());
        }
    }
    patch
}

/// The link once this version of the event is known, with what the two
/// sides agree on.
fn seen(link: &EventLink, event: &CalendarEvent, owned: Owned) -> EventLink {
    EventLink {
        etag: event.etag.clone(),
        google_updated_at: event.updated.map(Ts::from),
        owned_digest: owned.text(),
        ..link.clone()
    }
}

/// A new link between an appointment and its event.
fn new_link(a: &Appointment, event: &CalendarEvent, origin: &str, subject: &str) -> EventLink {
    EventLink {
        appointment_id: a.id,
        account_id: a.account_id,
        event_id: event.id.clone(),
        origin: origin.into(),
        etag: event.etag.clone(),
        google_updated_at: event.updated.map(Ts::from),
        google_subject: subject.to_owned(),
        owned_digest: Owned::of(a).text(),
    }
}

/// Saves a link unless a later version of the event is known already: a
/// listing read before our own write must not take the link back to it.
fn remember(conn: &mut DbConnection, link: &EventLink) -> Result<(), AppError> {
    let known = google::link_of(conn, link.appointment_id)?;
    let newer_known = known.is_some_and(|known| {
        known.event_id == link.event_id
            && known.google_subject == link.google_subject
            && known
                .google_updated_at
                .is_some_and(|at| link.google_updated_at.is_none_or(|new| at > new))
    });
    if !newer_known {
        google::save_link(conn, link)?;
    }
    Ok(())
}

/// Puts one appointment into Google: insert, a patch of the fields it owns
/// that changed here, or delete when it was cancelled.
pub async fn run_export_job(state: &AppState, job: &Job) -> Result<Outcome, AppError> {
    finish(export(state, job).await)
}

/// How often an export reads again after a conflict before it retries later.
const EXPORT_ROUNDS: usize = 3;

async fn export(state: &AppState, job: &Job) -> Step<Outcome> {
    let account = job_account(job)?;
    let Some(subject_id) = job.subject_id else {
        return Ok(Outcome::Failed("the job names no appointment".into()));
    };
    let id: Id<Appointment> = Id::from_uuid(subject_id.uuid());
    let (google_config, integration) = active_grant(state, account).await?;
    let google_account = integration.google_subject.clone();
    let calendar = &google_config.calendar;
    let calendar_id = integration.calendar_id.as_str();
    let stop = |err| calendar_stop(state, job, Some(account), err);
    let mut token = None;
    for _ in 0..EXPORT_ROUNDS {
        let (appointment, link, time_zone) = state
            .db(move |conn| {
                Ok((
                    appointments::find(conn, account, id)?,
                    google::link_of(conn, id)?,
                    accounts::find(conn, account)?.map(|a| a.time_zone.name()),
                ))
            })
            .await?;
        let Some(a) = appointment else {
            // Deleted meanwhile: its event went with the delete job.
            return Ok(Outcome::Done);
        };
        if link
            .as_ref()
            .is_some_and(|l| l.google_subject != google_account)
        {
            // Its event is in another Google account's calendar.
            return Ok(Outcome::Done);
        }
        let time_zone = time_zone.unwrap_or("UTC");
        if token.is_none() {
            token = Some(access_token(state, job, &google_config, &integration).await?);
        }
        let token = token.as_deref().unwrap_or_default();
        if a.status == Status::Cancelled {
            if let Some(link) = link {
                calendar
                    .delete(token, calendar_id, &link.event_id)
                    .await
                    .map_err(stop)?;
                state.db(move |conn| Ok(google::unlink(conn, id)?)).await?;
            }
            return Ok(Outcome::Done);
        }
        let Some(link) = link else {
            let event = event_of(&a, event_id_for(a.id), time_zone);
            let link = match calendar.insert(token, calendar_id, &event).await {
                Ok(created) => new_link(&a, &created, EXPORTED, &google_account),
                // A retried insert whose first try got through: the event is
                // ours; its title and time are written again below.
                Err(CalendarError::Conflict) => {
                    let existing = calendar
                        .get(token, calendar_id, &event.id)
                        .await
                        .map_err(stop)?;
                    if existing.cancelled {
                        // Deleted in Google already: not made again.
                        return Ok(Outcome::Done);
                    }
                    let link = new_link(&a, &existing, EXPORTED, &google_account);
                    seen(&link, &existing, Owned::of(&a).forgetting_title_and_time())
                }
                Err(err) => return Err(stop(err)),
            };
            state.db(move |conn| remember(conn, &link)).await?;
            continue;
        };
        let patch = changes(&a, &link, time_zone);
        if patch.is_empty() {
            return Ok(Outcome::Done);
        }
        let etag = link.etag.clone().unwrap_or_default();
        match calendar
            .patch(token, calendar_id, &link.event_id, &patch, &etag)
            .await
        {
            Ok(written) => {
                let link = seen(&link, &written, Owned::of(&a));
                state.db(move |conn| remember(conn, &link)).await?;
                return Ok(Outcome::Done);
            }
            Err(CalendarError::PreconditionFailed) => {
                // Changed in Google since we last saw it: the later change
                // wins the title and time; the rest of the event is left
                // as Google has it either way.
                let current = match calendar.get(token, calendar_id, &link.event_id).await {
                    Ok(current) if !current.cancelled => current,
                    // Deleted in Google: the next sync cancels the appointment.
                    Ok(_) => return Ok(Outcome::Done),
                    Err(CalendarError::NotFound) | Err(CalendarError::Gone) => {
                        state.db(move |conn| Ok(google::unlink(conn, id)?)).await?;
                        return Ok(Outcome::Done);
                    }
                    Err(err) => return Err(stop(err)),
                };
                if current.updated.is_some_and(|at| at > a.updated_at.get()) {
                    let applied = state
                        .db(move |conn| {
                            conn.write_transaction(|conn| apply_remote(conn, a, &current, &link))
                        })
                        .await?;
                    if !applied {
                        return Ok(Outcome::Retry(
                            Ts::now(),
                            "the appointment changed meanwhile".into(),
                        ));
                    }
                } else {
                    let ours = seen(
                        &link,
                        &current,
                        Owned::of_link(&link).forgetting_title_and_time(),
                    );
                    state.db(move |conn| remember(conn, &ours)).await?;
                }
            }
            Err(CalendarError::NotFound) | Err(CalendarError::Gone) => {
                // Deleted in Google: the next sync cancels the appointment.
                state.db(move |conn| Ok(google::unlink(conn, id)?)).await?;
                return Ok(Outcome::Done);
            }
            Err(err) => return Err(stop(err)),
        }
    }
    Ok(Outcome::Retry(
        Ts::now(),
        "the event kept changing in Google".into(),
    ))
}

/// Applies Google's version of an event to its appointment and remembers the
/// version seen, so the same change is not applied or exported twice.
fn apply_remote(
    tx: &mut Tx<'_>,
    a: Appointment,
    event: &CalendarEvent,
    link: &EventLink,
) -> Result<bool, AppError> {
    // A time Google shows that is not a slot (an end before the start) is
    // left as it is here.
    let times = event
        .start
        .zip(event.end)
        .and_then(|(s, e)| TimeSlot::new(s, e).ok());
    let Some(saved) =
        appointment_rules::apply_from_google(tx, a, event.summary.clone(), times, event.cancelled)?
    else {
        return Ok(false);
    };
    if event.cancelled {
        google::unlink(tx, link.appointment_id)?;
    } else {
        let owned = Owned::of_link(link).agreeing_on_title_and_time(&saved);
        google::save_link(tx, &seen(link, event, owned))?;
    }
    Ok(true)
}

/// Deletes the Google events of appointments or people erased here.
pub async fn run_delete_events_job(state: &AppState, job: &Job) -> Result<Outcome, AppError> {
    finish(delete_events(state, job).await)
}

async fn delete_events(state: &AppState, job: &Job) -> Step<Outcome> {
    let account = job_account(job)?;
    let (google_config, integration) = active_grant(state, account).await?;
    let Some(sealed) = job.payload.as_deref() else {
        return Ok(Outcome::Failed("the job carries no events".into()));
    };
    let json = google_config
        .cipher
        .open(sealed, job.id.uuid().as_bytes())
        .map_err(sealed_failure)?;
    let events: Vec<String> =
        serde_json::from_str(&json).map_err(|e| AppError::internal_from(&e))?;
    let token = access_token(state, job, &google_config, &integration).await?;
    for event in &events {
        google_config
            .calendar
            .delete(&token, &integration.calendar_id, event)
            .await
            .map_err(|err| calendar_stop(state, job, Some(account), err))?;
    }
    Ok(Outcome::Done)
}

/// After a disconnect or an account deletion: stop the push channel, delete
/// our events if asked, and revoke the grant. Each step may repeat safely.
pub async fn run_cleanup_job(state: &AppState, job: &Job) -> Result<Outcome, AppError> {
    finish(cleanup(state, job).await)
}

async fn cleanup(state: &AppState, job: &Job) -> Step<Outcome> {
    let Some(google_config) = state.outbound.google.clone() else {
        return Ok(Outcome::Failed("Google is not configured".into()));
    };
    let Some(sealed) = job.payload.as_deref() else {
        return Ok(Outcome::Failed("the job carries no grant".into()));
    };
    let json = google_config
        .cipher
        .open(sealed, job.id.uuid().as_bytes())
        .map_err(sealed_failure)?;
    let payload: CleanupPayload =
        serde_json::from_str(&json).map_err(|e| AppError::internal_from(&e))?;
    if payload.channel.is_some() || !payload.delete_events.is_empty() {
        let token = match google_config.oauth.refresh(&payload.refresh_token).await {
            Ok(grant) => Some(grant.access_token),
            // Revoked already: the channel ends on its own, the events stay out of reach.
            Err(OAuthError::InvalidGrant) | Err(OAuthError::Rejected(_)) => None,
            Err(OAuthError::Transient(reason)) => {
                return Err(retry(state, job, format!("token refresh: {reason}")))
            }
        };
        if let Some(token) = token {
            let stop = |err| calendar_stop(state, job, None, err);
            if let Some((channel, resource)) = &payload.channel {
                google_config
                    .calendar
                    .stop(&token, channel, resource)
                    .await
                    .map_err(stop)?;
            }
            for event in &payload.delete_events {
                google_config
                    .calendar
                    .delete(&token, &payload.calendar_id, event)
                    .await
                    .map_err(stop)?;
            }
        }
    }
    match google_config.oauth.revoke(&payload.refresh_token).await {
        Ok(()) => Ok(Outcome::Done),
        Err(OAuthError::Transient(reason)) => {
            Err(retry(state, job, format!("revocation: {reason}")))
        }
        Err(other) => Ok(Outcome::Failed(format!("revocation: {other}"))),
    }
}

/// How a sync went, for the log.
#[derive(Default, Debug)]
struct SyncCounts {
    created: usize,
    updated: usize,
    cancelled: usize,
    exported_back: usize,
    skipped: usize,
}

/// Reads what changed in Google since the last sync (everything the first time,
/// or after Google expired the sync token) and applies it here.
pub async fn run_sync_job(state: &AppState, job: &Job) -> Result<Outcome, AppError> {
    finish(sync(state, job).await)
}

async fn sync(state: &AppState, job: &Job) -> Step<Outcome> {
    let account = job_account(job)?;
    let (google_config, integration) = active_grant(state, account).await?;
    let token = access_token(state, job, &google_config, &integration).await?;
    let mut sync_token = integration.sync_token.clone();
    let mut page_token: Option<String> = None;
    let mut restarted = false;
    let mut counts = SyncCounts::default();
    loop {
        // Every page repeats the query it belongs to, the sync token included.
        let listing = google_config
            .calendar
            .list(
                &token,
                &integration.calendar_id,
                sync_token.as_deref(),
                page_token.as_deref(),
            )
            .await;
        let page = match listing {
            Ok(page) => page,
            Err(CalendarError::Gone) if !restarted => {
                // The sync token expired: start over with a full sync.
                tracing::info!(account = %account.uuid(), "Google sync token expired; full sync");
                sync_token = None;
                page_token = None;
                restarted = true;
                continue;
            }
            Err(err) => return Err(calendar_stop(state, job, Some(account), err)),
        };
        let events = page.events;
        let google_account = integration.google_subject.clone();
        let page_counts = state
            .db(move |conn| {
                conn.write_transaction(|conn| {
                    let mut counts = SyncCounts::default();
                    for event in &events {
                        import_one(conn, account, &google_account, event, &mut counts)?;
                    }
                    Ok(counts)
                })
            })
            .await?;
        counts.created += page_counts.created;
        counts.updated += page_counts.updated;
        counts.cancelled += page_counts.cancelled;
        counts.exported_back += page_counts.exported_back;
        counts.skipped += page_counts.skipped;
        if let Some(next) = page.next_page_token {
            page_token = Some(next);
            continue;
        }
        let next_sync = page.next_sync_token;
        let now = Ts::now();
        state
            .db(move |conn| {
                google::set_sync_token(conn, account, next_sync.as_deref(), Some(now), now)?;
                Ok(())
            })
            .await?;
        break;
    }
    tracing::info!(account = %account.uuid(), ?counts, "Google sync done");
    Ok(Outcome::Done)
}

fn import_one(
    tx: &mut Tx<'_>,
    account: Id<Account>,
    google_account: &str,
    event: &CalendarEvent,
    counts: &mut SyncCounts,
) -> Result<(), AppError> {
    let mut link = google::link_by_event(tx, account, google_account, &event.id)?;
    if link.is_none() {
        // Ours, but unlinked (an export whose link was lost, or a link
        // forgotten before links outlived a disconnect): link it back, unless
        // the appointment is linked to an event already.
        if let Some(id) = event
            .appointment_id
            .as_deref()
            .and_then(|id| uuid::Uuid::parse_str(id).ok())
        {
            let id: Id<Appointment> = Id::from_uuid(id);
            match appointments::find(tx, account, id)? {
                Some(a) if google::link_of(tx, id)?.is_none() => {
                    let mut relinked = new_link(&a, event, EXPORTED, google_account);
                    // Unknown version: compare by time below.
                    relinked.etag = None;
                    relinked.google_updated_at = None;
                    google::save_link(tx, &relinked)?;
                    link = Some(relinked);
                }
                _ => {
                    counts.skipped += 1;
                    return Ok(());
                }
            }
        }
    }
    match link {
        Some(link) => {
            if event.etag.is_some() && event.etag == link.etag {
                // Our own write coming back.
                counts.skipped += 1;
                return Ok(());
            }
            if link
                .google_updated_at
                .zip(event.updated)
                .is_some_and(|(known, listed)| listed < known.get())
            {
                // A listing older than what we know (it was read before our
                // own last write): nothing new.
                counts.skipped += 1;
                return Ok(());
            }
            let Some(a) = appointments::find(tx, account, link.appointment_id)? else {
                google::unlink(tx, link.appointment_id)?;
                counts.skipped += 1;
                return Ok(());
            };
            if event.cancelled || event.updated.is_some_and(|at| at > a.updated_at.get()) {
                let cancelled = event.cancelled;
                if apply_remote(tx, a, event, &link)? {
                    if cancelled {
                        counts.cancelled += 1;
                    } else {
                        counts.updated += 1;
                    }
                }
            } else {
                // Changed here after it changed there: our title and time win
                // and go out again.
                let ours = seen(
                    &link,
                    event,
                    Owned::of_link(&link).forgetting_title_and_time(),
                );
                google::save_link(tx, &ours)?;
                enqueue::<ExportEvent>(tx, account, Some(subject(a.id)))?;
                counts.exported_back += 1;
            }
        }
        None => {
            let slot = event.start.zip(event.end).map(|(s, e)| TimeSlot::new(s, e));
            let Some(Ok(slot)) = slot.filter(|_| !event.cancelled) else {
                counts.skipped += 1;
                return Ok(());
            };
            let emails: Vec<String> = event
                .attendee_emails
                .iter()
                .map(|e| e.trim().to_lowercase())
                .collect();
            // The customer or prospect among the attendees, if any.
            let person = people::with_email(tx, account, &emails)?;
            let a = appointment_rules::insert_from_google(
                tx,
                account,
                person.as_ref(),
                Title::imported(event.summary.as_deref()),
                slot,
            )?;
            google::save_link(tx, &new_link(&a, event, IMPORTED, google_account))?;
            counts.created += 1;
        }
    }
    Ok(())
}

/// Opens (or renews) the push channel of the account's calendar.
pub async fn run_watch_job(state: &AppState, job: &Job) -> Result<Outcome, AppError> {
    finish(watch(state, job).await)
}

async fn watch(state: &AppState, job: &Job) -> Step<Outcome> {
    let account = job_account(job)?;
    let (google_config, integration) = active_grant(state, account).await?;
    let token = access_token(state, job, &google_config, &integration).await?;
    let channel_id = uuid::Uuid::now_v7().to_string();
    let secret = new_secret("");
    let stop = |err| calendar_stop(state, job, Some(account), err);
    let opened = google_config
        .calendar
        .watch(
            &token,
            &integration.calendar_id,
            &channel_id,
            &google_config.webhook_url,
            &secret,
        )
        .await
        .map_err(stop)?;
    let row = (
        channel_id,
        opened.resource_id,
        secret_hash(&secret),
        opened.expires_at.map(Ts::from),
    );
    state
        .db(move |conn| {
            google::set_channel(conn, account, Some(row), Ts::now())?;
            Ok(())
        })
        .await?;
    if let (Some(old), Some(resource)) = (&integration.channel_id, &integration.channel_resource_id)
    {
        // The old channel would go on notifying until it ends.
        if let Err(err) = google_config.calendar.stop(&token, old, resource).await {
            tracing::info!(%err, "an old Google push channel could not be stopped; it ends on its own");
        }
    }
    Ok(Outcome::Done)
}

/// A push notification: the channel's secret token must match, then a sync is
/// queued. Returns false for a channel this service does not know.
pub async fn notification(
    state: &AppState,
    channel_id: String,
    channel_token: String,
    resource_state: String,
) -> Result<bool, AppError> {
    state
        .db(move |conn| {
            conn.write_transaction(|conn| {
                let Some(integration) = google::find_by_channel(conn, &channel_id)? else {
                    return Ok(false);
                };
                // Hashes are compared, so the time taken says nothing about the token.
                if integration.channel_token_hash.as_deref()
                    != Some(&secret_hash(&channel_token)[..])
                {
                    return Err(AppError::new(Failure::InvalidChannelToken));
                }
                // `sync` only confirms that the channel was opened.
                if resource_state != "sync" && !integration.needs_reconnect {
                    enqueue::<Sync>(conn, integration.account_id, None)?;
                }
                Ok(true)
            })
        })
        .await
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, Utc};

    use fieldcrm_db::appointments::{self, Appointment};
    use fieldcrm_db::google;
    use fieldcrm_domain::scheduling::{TimeSlot, Title};
    use fieldcrm_google::CalendarEvent;

    use super::{event_id_for, import_one, new_link, SyncCounts, EXPORTED};
    use crate::scheduling::appointments::{create_in, NewAppointment};
    use crate::testing::World;

    const GOOGLE_ACCOUNT: &str = "olga@gmail.example";

    /// An appointment booked here and exported: its link knows the event as
    /// Google had it then (`v1`).
    fn exported(world: &World) -> (Appointment, CalendarEvent) {
        let anna = world.customer("Anna", "+4915112345678", "anna@example.com");
        let starts = Utc::now() + Duration::days(2);
        let booked = world
            .tx(|tx| {
                let input = NewAppointment {
                    person_id: anna.id,
                    technician_id: None,
                    title: Title::parse("Deep clean").unwrap(),
                    notes: None,
                    slot: TimeSlot::new(starts, starts + Duration::hours(1)).unwrap(),
                    address: None,
                    reminders: Some(Vec::new()),
                    allow_overlap: false,
                };
                create_in(tx, &world.owner, input)
            })
            .unwrap();
        let a = booked.appointment;
        let event = CalendarEvent {
            id: event_id_for(a.id),
            etag: Some("\"v1\"".into()),
            cancelled: false,
            summary: Some(a.title.clone()),
            description: None,
            location: None,
            start: Some(a.starts_at.get()),
            end: Some(a.ends_at.get()),
            time_zone: None,
            updated: Some(a.updated_at.get() - Duration::minutes(5)),
            appointment_id: Some(a.id.uuid().to_string()),
            attendee_emails: Vec::new(),
        };
        let link = new_link(&a, &event, EXPORTED, GOOGLE_ACCOUNT);
        google::save_link(&mut world.conn(), &link).unwrap();
        (a, event)
    }

    /// The same event as a later listing shows it: retitled and moved two
    /// hours, with Google's change made at `updated`.
    fn edited_in_google(event: &CalendarEvent, updated: chrono::DateTime<Utc>) -> CalendarEvent {
        CalendarEvent {
            etag: Some("\"v2\"".into()),
            summary: Some("Window cleaning".into()),
            start: event.start.map(|s| s + Duration::hours(2)),
            end: event.end.map(|e| e + Duration::hours(2)),
            updated: Some(updated),
            ..event.clone()
        }
    }

    fn import(world: &World, event: &CalendarEvent) -> (SyncCounts, Appointment) {
        let account = world.owner.account_id;
        let mut counts = SyncCounts::default();
        world
            .tx(|tx| import_one(tx, account, GOOGLE_ACCOUNT, event, &mut counts))
            .unwrap();
        let id = uuid::Uuid::parse_str(event.appointment_id.as_deref().unwrap()).unwrap();
        let now = appointments::find(&mut world.conn(), account, fieldcrm_db::Id::from_uuid(id))
            .unwrap()
            .unwrap();
        (counts, now)
    }

    #[tokio::test]
    async fn a_change_made_in_google_after_ours_wins_the_title_and_time() {
        let world = World::new(|_| {}).await;
        let (a, event) = exported(&world);
        let later = edited_in_google(&event, a.updated_at.get() + Duration::minutes(1));
        let (counts, now) = import(&world, &later);
        assert_eq!(counts.updated, 1);
        assert_eq!(now.title, "Window cleaning");
        assert_eq!(now.starts_at.get(), a.starts_at.get() + Duration::hours(2));
    }

    #[tokio::test]
    async fn a_change_made_here_after_googles_wins_and_goes_out_again() {
        let world = World::new(|_| {}).await;
        let (a, event) = exported(&world);
        let earlier = edited_in_google(&event, a.updated_at.get() - Duration::minutes(1));
        let (counts, now) = import(&world, &earlier);
        assert_eq!((counts.updated, counts.exported_back), (0, 1));
        assert_eq!(now.title, "Deep clean");
        assert_eq!(now.starts_at, a.starts_at);
    }
}
