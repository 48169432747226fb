//! The job runner: claims due jobs from the outbox under a lease, runs them, and
//! records each outcome under the same lease. Runs inside `fieldcrm serve` and
//! alone as `fieldcrm worker`; any number of processes may run it against one
//! database.

use std::time::Duration;

use futures_util::future::join_all;

use fieldcrm_db::jobs::{self, Job, LeaseId, Outcome};
use fieldcrm_db::{Id, Ts};

use crate::accounts::privacy;
use crate::error::AppError;
use crate::state::AppState;
use crate::{events, google_sync as google, messaging as messages, webhooks};

/// Jobs claimed at once; they run concurrently.
const BATCH: i64 = 8;

/// Runs due jobs until the process stops, looking again at once after a full
/// batch and after the poll interval otherwise.
pub async fn run(state: AppState) {
    let idle = Duration::from_millis(state.settings.job_poll_interval_ms);
    tracing::info!("job worker started");
    loop {
        match run_due(&state).await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(problem) => tracing::warn!(%problem, "could not claim jobs; trying again"),
        }
        tokio::time::sleep(idle).await;
    }
}

/// Claims one batch of due jobs, runs them and records their outcomes; returns
/// how many were claimed.
pub async fn run_due(state: &AppState) -> Result<usize, AppError> {
    let lease: LeaseId = Id::new();
    let now = Ts::now();
    let lease_secs = i64::try_from(state.settings.job_lease_secs).unwrap_or(300);
    let until = Ts::from(now.get() + chrono::Duration::seconds(lease_secs));
    let claimed = state
        .db(move |conn| {
            conn.write_transaction(|conn| Ok(jobs::claim(conn, now, lease, until, BATCH)?))
        })
        .await?;
    let count = claimed.len();
    join_all(claimed.into_iter().map(|job| run_one(state, job, lease))).await;
    Ok(count)
}

async fn run_one(state: &AppState, job: Job, lease: LeaseId) {
    let outcome = match job.kind.as_str() {
        messages::SEND_MESSAGE => messages::run_send_job(state, &job).await,
        messages::SEND_REMINDER => messages::run_reminder_job(state, &job).await,
        google::EXPORT_EVENT => google::run_export_job(state, &job).await,
        google::DELETE_EVENTS => google::run_delete_events_job(state, &job).await,
        google::SYNC => google::run_sync_job(state, &job).await,
        google::WATCH => google::run_watch_job(state, &job).await,
        google::CLEANUP => google::run_cleanup_job(state, &job).await,
        privacy::SCRUB_DELETION => privacy::run_scrub_job(state, &job).await,
        events::DELIVER => webhooks::run_delivery_job(state, &job).await,
        webhooks::DELIVER_FINAL => webhooks::run_final_delivery_job(state, &job).await,
        other => Ok(Outcome::Failed(format!(
            "no handler for jobs of kind {other}"
        ))),
    };
    let outcome = outcome.unwrap_or_else(|problem| {
        // A database hiccup: the job stays due and is tried again shortly.
        tracing::warn!(%problem, job = %job.id.uuid(), kind = %job.kind, "job failed");
        if job.attempts < job.max_attempts {
            Outcome::Retry(
                Ts::from(Ts::now().get() + chrono::Duration::seconds(5)),
                "internal error".into(),
            )
        } else {
            Outcome::Failed("internal error".into())
        }
    });
    match &outcome {
        Outcome::Failed(reason) => {
            tracing::warn!(job = %job.id.uuid(), kind = %job.kind, %reason, "job failed for good")
        }
        Outcome::Retry(_, reason) => {
            tracing::info!(job = %job.id.uuid(), kind = %job.kind, attempt = job.attempts, %reason, "job will be retried")
        }
        _ => {}
    }
    let id = job.id;
    let recorded = state
        .db(move |conn| Ok(jobs::finish(conn, id, lease, &outcome, Ts::now())?))
        .await;
    match recorded {
        Ok(true) => {}
        Ok(false) => tracing::warn!(job = %id.uuid(), "the job's lease ran out before it finished"),
        // The lease will expire and the job run again; its handler sees what is done.
        Err(problem) => {
            tracing::warn!(%problem, job = %id.uuid(), "could not record a job outcome")
        }
    }
}
