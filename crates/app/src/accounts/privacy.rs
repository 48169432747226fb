//! Privacy: the audit trail, the export of everything an account holds, and the
//! deletion of an account.

use std::collections::BTreeMap;
use std::io::Write;

use bytes::Bytes;
use chrono::Duration;
use serde::Serialize;
use tokio::sync::mpsc;

use fieldcrm_db::audit::{self, AuditEvent};
use fieldcrm_db::erasure::{self, Receipt, ScrubPlan};
use fieldcrm_db::jobs::{self, Job, Outcome};
use fieldcrm_db::{accounts, export, users, DbConnection, DbPool, Id, Ts};
use fieldcrm_domain::Action;

use crate::accounts::auth;
use crate::audit::Audited;
use crate::caller::Caller;
use crate::error::{AppError, Failure};
use crate::events::Event;
use crate::jobs::{Attempts, BackgroundJob};
use crate::state::AppState;
use crate::tx::Tx;

pub async fn audit_trail(
    state: &AppState,
    caller: &Caller,
    action: Option<String>,
    before: Option<Id<AuditEvent>>,
    limit: i64,
) -> Result<Vec<AuditEvent>, AppError> {
    caller.require(Action::ExportOrDeleteAccount)?;
    let account = caller.account_id;
    state
        .db(move |conn| {
            Ok(audit::list(
                conn,
                account,
                action.as_deref(),
                before,
                limit,
            )?)
        })
        .await
}

/// The answer to a deletion: figures only, and whether the database's files
/// are rid of the rows yet.
pub struct DeletionReceipt {
    pub id: Id<Receipt>,
    pub deleted_at: Ts,
    pub counts: BTreeMap<String, i64>,
    pub scrubbed_at: Option<Ts>,
}

/// The job that scrubs a deletion, queued in the deleting transaction: right
/// away, or once no reader from before the deletion is left. It waits for
/// readers and never gives up.
pub struct ScrubDeletion;

impl BackgroundJob for ScrubDeletion {
    const KIND: &'static str = "scrub_deletion";
    const ATTEMPTS: Attempts = Attempts::Unbounded;
}

/// Deletes the account and every record of it, after the owner proved who they
/// are (password: 401) and what they delete (the account's name: 422). Every
/// token and key of the account stops working when this returns.
pub async fn delete_account(
    state: &AppState,
    caller: &Caller,
    password: String,
    confirm: String,
    delete_calendar_events: bool,
    client: Option<String>,
) -> Result<DeletionReceipt, AppError> {
    caller.require(Action::ExportOrDeleteAccount)?;
    let Some((user_id, _)) = caller.user() else {
        return Err(AppError::forbidden(
            "only a signed-in owner can delete the account",
        ));
    };
    let account_id = caller.account_id;
    let (user, account) = state
        .db(move |conn| {
            let user =
                users::find(conn, account_id, user_id)?.ok_or_else(AppError::unauthorized)?;
            let account = accounts::find(conn, account_id)?.ok_or_else(AppError::unauthorized)?;
            Ok((user, account))
        })
        .await?;
    // The name first, so a wrong name says nothing about the password; the
    // password counts with sign-ins, so this is no way around their limit.
    if confirm.trim() != account.name {
        return Err(AppError::invalid_field(
            "confirm",
            "must be the account's name exactly as it is shown; nothing was deleted",
        ));
    }
    let (email, stored_hash) = (user.email, user.password_hash);
    if !auth::check_password(state, &email, client.as_deref(), stored_hash, password).await? {
        return Err(AppError::new(Failure::WrongPassword)
            .with_detail("the password is not correct; nothing was deleted"));
    }
    let tokens = state.tokens.clone();
    let receipt = state
        .db(move |conn| {
            let now = Ts::now();
            let (plan, counts) = conn.write_transaction(|conn| {
                let mut keys = Vec::new();
                let mut after = None;
                loop {
                    let page = users::list(conn, account_id, after, 200)?;
                    keys.extend(page.iter().map(|u| tokens.throttle_key("email", &u.email)));
                    match page.last() {
                        Some(last) if page.len() == 200 => after = Some(last.id),
                        _ => break,
                    }
                }
                conn.publish(Event::AccountErasing {
                    account: account_id,
                    delete_calendar_events,
                })?;
                let (plan, counts) = erasure::erase_account(conn, account_id, &keys, now)?;
                // The scrub vacuums whole tables, every account's rows in them:
                // its time grows with the database, not with this account, so
                // the answer does not wait for it. Queued with the deletion, it
                // is never lost to a process that stops in between.
                queue_scrub(conn, &plan)?;
                Ok::<_, AppError>((plan, counts))
            })?;
            Ok(DeletionReceipt {
                id: plan.receipt,
                deleted_at: now,
                counts,
                scrubbed_at: None,
            })
        })
        .await;
    // Every token of the account is dead from this process's next request on;
    // forgetting is harmless if the deletion failed.
    state.sessions.forget_account(account_id);
    let receipt = receipt?;
    tracing::info!(receipt = %receipt.id.uuid(), rows = receipt.counts.values().sum::<i64>(), "account deleted");
    Ok(receipt)
}

fn queue_scrub(tx: &mut Tx<'_>, plan: &ScrubPlan) -> Result<(), AppError> {
    let payload = serde_json::to_string(plan).map_err(|e| AppError::internal_from(&e))?;
    // Counts no attempts while it waits (`Defer`).
    let job = tx
        .job::<ScrubDeletion>(None, None, Ts::now())
        .with_payload(payload);
    Ok(jobs::enqueue(tx, &job)?)
}

/// Scrubs a deletion; while a reader from before it is still open, looks
/// again after a tenth of the time waited so far (1 s to 1 min).
pub async fn run_scrub_job(state: &AppState, job: &Job) -> Result<Outcome, AppError> {
    let plan: ScrubPlan = match job.payload.as_deref().map(serde_json::from_str) {
        Some(Ok(plan)) => plan,
        _ => return Ok(Outcome::Failed("the job holds no scrub plan".into())),
    };
    let queued_at = job.created_at;
    state
        .db(move |conn| {
            if erasure::scrub(conn, &plan, Ts::now())? {
                return Ok(Outcome::Done);
            }
            let waited = (Ts::now().get() - queued_at.get()).num_milliseconds();
            let delay = (waited / 10).clamp(1000, 60_000);
            Ok(Outcome::Defer(Ts::from(
                Ts::now().get() + Duration::milliseconds(delay),
            )))
        })
        .await
}

/// A deletion's receipt, for whoever holds its id: figures only.
pub async fn receipt(state: &AppState, id: Id<Receipt>) -> Result<DeletionReceipt, AppError> {
    state
        .db(move |conn| {
            let receipt = erasure::receipt(conn, id)?.ok_or_else(AppError::not_found)?;
            Ok(DeletionReceipt {
                id: receipt.id,
                deleted_at: receipt.deleted_at,
                counts: serde_json::from_str(&receipt.counts)
                    .map_err(|e| AppError::internal_from(&e))?,
                scrubbed_at: receipt.scrubbed_at,
            })
        })
        .await
}

/// How often an account may export.
pub const EXPORT_EVERY_MINUTES: i64 = 5;

/// Rows read per query while exporting: memory stays bounded by this.
const EXPORT_PAGE: i64 = 500;

/// Seconds to come back after when this process runs as many exports as it may.
const EXPORTS_BUSY_RETRY_SECS: u64 = 30;

/// Starts an export: checks the caller, the process's cap on concurrent
/// exports and the account's rate limit, records it in the audit trail, and
/// returns a stream of JSON chunks written by a blocking task that reads the
/// account a page at a time. No database connection is held while the client
/// reads: each page takes one from the pool and gives it back before the page
/// is sent, and a client that stops reading for `export_stall_timeout_secs`
/// ends its export.
pub async fn export(
    state: &AppState,
    caller: &Caller,
) -> Result<mpsc::Receiver<Result<Bytes, std::io::Error>>, AppError> {
    caller.require(Action::ExportOrDeleteAccount)?;
    let permit = state.exports.clone().try_acquire_owned().map_err(|_| {
        AppError::rate_limited(
            "Too many requests",
            EXPORTS_BUSY_RETRY_SECS,
            "this server is busy with other exports; try again shortly",
        )
    })?;
    let account = caller.account_id;
    let audit_caller = caller.clone();
    state
        .db(move |conn| {
            conn.write_transaction(|conn| {
                if let Some(last) = audit::last_at(conn, account, Audited::AccountExported.as_str())? {
                    let next = last.get() + Duration::minutes(EXPORT_EVERY_MINUTES);
                    let wait = (next - Ts::now().get()).num_seconds();
                    if wait > 0 {
                        return Err(AppError::rate_limited(
                            "Too many requests",
                            u64::try_from(wait).unwrap_or(60),
                            format!(
                                "an export was made in the last {EXPORT_EVERY_MINUTES} minutes; try again later"
                            ),
                        ));
                    }
                }
                crate::audit::record(conn, &audit_caller, Audited::AccountExported, None, None)
            })
        })
        .await?;
    let (sender, receiver) = mpsc::channel(4);
    let pool = state.pool.clone();
    let stall = std::time::Duration::from_secs(state.settings.export_stall_timeout_secs);
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let mut out = ChunkWriter {
            sender: sender.clone(),
            buffer: Vec::with_capacity(64 * 1024),
            runtime,
            stall,
        };
        if let Err(err) = write_export(&pool, account, &mut out).and_then(|_| out.flush_chunk()) {
            // The client sees a cut-off document (invalid JSON), never a partial one
            // that looks complete.
            tracing::warn!(error = %err, "an export stopped before its end");
            let _ = sender.try_send(Err(std::io::Error::other("export failed")));
        }
    });
    Ok(receiver)
}

/// Collects output and hands it to the response in chunks of about 64 KiB.
struct ChunkWriter {
    sender: mpsc::Sender<Result<Bytes, std::io::Error>>,
    buffer: Vec<u8>,
    runtime: tokio::runtime::Handle,
    /// How long a chunk may wait for the client to take it.
    stall: std::time::Duration,
}

impl ChunkWriter {
    fn flush_chunk(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buffer));
        let sent = self.runtime.block_on(tokio::time::timeout(
            self.stall,
            self.sender.send(Ok(chunk)),
        ));
        match sent {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(std::io::Error::other("the client went away")),
            Err(_) => Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the client stopped reading",
            )),
        }
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= 64 * 1024 {
            self.flush_chunk()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn io_error(err: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(err.to_string())
}

/// Runs one read with a connection from the pool, given back before the
/// caller writes what it read.
fn read<T>(
    pool: &DbPool,
    query: impl FnOnce(&mut DbConnection) -> fieldcrm_db::DbResult<T>,
) -> std::io::Result<T> {
    let mut conn = pool.get().map_err(io_error)?;
    query(&mut conn).map_err(io_error)
}

/// Writes `"name": [rows...]` a page at a time.
fn section<T: Serialize, C>(
    out: &mut ChunkWriter,
    name: &str,
    pool: &DbPool,
    mut page: impl FnMut(&mut DbConnection, Option<C>) -> fieldcrm_db::DbResult<Vec<T>>,
    cursor: impl Fn(&T) -> C,
) -> std::io::Result<()> {
    write!(out, ",\"{name}\":[")?;
    let mut after = None;
    let mut first = true;
    loop {
        let rows = read(pool, |conn| page(conn, after.take()))?;
        for row in &rows {
            if !first {
                out.write_all(b",")?;
            }
            first = false;
            serde_json::to_writer(&mut *out, row).map_err(io_error)?;
        }
        match rows.last() {
            Some(last) if rows.len() as i64 == EXPORT_PAGE => after = Some(cursor(last)),
            _ => break,
        }
    }
    out.write_all(b"]")
}

/// The export document: see `ExportDocument` in the OpenAPI description. Each
/// page is read as the database is at that moment: no transaction spans the
/// export, which would hold a connection (and, on PostgreSQL, old row
/// versions) for as long as the client takes to read.
fn write_export(
    pool: &DbPool,
    account_id: Id<accounts::Account>,
    out: &mut ChunkWriter,
) -> std::io::Result<()> {
    let account = read(pool, |conn| accounts::find(conn, account_id))?
        .ok_or_else(|| io_error("the account is gone"))?;
    write!(
        out,
        "{{\"format\":\"fieldcrm-export/1\",\"exported_at\":{},\"account\":",
        serde_json::to_string(&Ts::now()).map_err(io_error)?
    )?;
    serde_json::to_writer(&mut *out, &account).map_err(io_error)?;
    let a = account_id;
    let n = EXPORT_PAGE;
    section(
        out,
        "users",
        pool,
        |c, after| export::users_page(c, a, after, n),
        |r| r.id,
    )?;
    section(
        out,
        "api_keys",
        pool,
        |c, after| export::api_keys_page(c, a, after, n),
        |r| r.id,
    )?;
    section(
        out,
        "devices",
        pool,
        |c, after| export::devices_page(c, a, after, n),
        |r| r.id,
    )?;
    section(
        out,
        "people",
        pool,
        |c, after| {
            let people = export::people_page(c, a, after, n)?;
            let ids: Vec<_> = people.iter().map(|p| p.id).collect();
            let mut tags = export::tags_of(c, &ids)?;
            Ok(people
                .into_iter()
                .map(|person| {
                    let (mine, rest): (Vec<_>, Vec<_>) =
                        tags.drain(..).partition(|(id, _)| *id == person.id);
                    tags = rest;
                    PersonExport {
                        tags: mine.into_iter().map(|(_, tag)| tag).collect(),
                        person,
                    }
                })
                .collect())
        },
        |r| r.person.id,
    )?;
    section(
        out,
        "consent_events",
        pool,
        |c, after| export::consent_page(c, a, after, n),
        |r| r.id,
    )?;
    section(
        out,
        "appointments",
        pool,
        |c, after| export::appointments_page(c, a, after, n),
        |r| r.id,
    )?;
    section(
        out,
        "appointment_status_changes",
        pool,
        |c, after| export::status_changes_page(c, a, after, n),
        |r| r.id,
    )?;
    section(
        out,
        "reminders",
        pool,
        |c, after| export::reminders_page(c, a, after, n),
        |r| r.id,
    )?;
    section(
        out,
        "shifts",
        pool,
        |c, after| export::shifts_page(c, a, after, n),
        |r| r.id,
    )?;
    let people_who_track = read(pool, |conn| export::user_ids(conn, a))?;
    section(
        out,
        "pings",
        pool,
        |c, after| export::pings_page(c, &people_who_track, after, n),
        |r| (r.user_id, r.id),
    )?;
    section(
        out,
        "messages",
        pool,
        |c, after| export::messages_page(c, a, after, n),
        |r| r.id,
    )?;
    section(
        out,
        "jobs",
        pool,
        |c, after| export::jobs_page(c, a, after, n),
        |r| r.id,
    )?;
    section(
        out,
        "google_integrations",
        pool,
        |c, after: Option<()>| match after {
            None => Ok(fieldcrm_db::google::find(c, a)?.into_iter().collect()),
            Some(()) => Ok(Vec::new()),
        },
        |_| (),
    )?;
    section(
        out,
        "google_events",
        pool,
        |c, after| export::google_events_page(c, a, after, n),
        |r| r.appointment_id,
    )?;
    section(
        out,
        "audit_events",
        pool,
        |c, after| export::audit_page(c, a, after, n),
        |r| r.id,
    )?;
    section(
        out,
        "events",
        pool,
        |c, after| export::events_page(c, a, after, n),
        |r| r.id,
    )?;
    section(
        out,
        "webhook_endpoints",
        pool,
        |c, after| export::webhook_endpoints_page(c, a, after, n),
        |r| r.id,
    )?;
    section(
        out,
        "webhook_deliveries",
        pool,
        |c, after| export::webhook_deliveries_page(c, a, after, n),
        |r| r.id,
    )?;
    out.write_all(b"}")
}

#[derive(Serialize)]
struct PersonExport {
    #[serde(flatten)]
    person: fieldcrm_db::people::Person,
    tags: Vec<String>,
}
