//! The job runner: claims due jobs from the outbox under a lease, runs them, and
//! records each outcome under the same lease. Runs inside `fieldcrm serve` and
//! alone as `fieldcrm worker`; any number of processes may run it against one
//! database.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use futures_util::future::join_all;

use fieldcrm_db::jobs::{self, Job, LeaseId, Outcome};
use fieldcrm_db::{Id, Ts};

use crate::error::{AppError, AppResult};
use crate::jobs::{attempts_left, BackgroundJob};
use crate::state::AppState;

/// A job's run, as the runner holds it.
pub type RunFuture<'a> = Pin<Box<dyn Future<Output = AppResult<Outcome>> + Send + 'a>>;

/// One kind of job the runner knows, and what running one does.
pub struct Registered {
    pub kind: &'static str,
    run: for<'a> fn(&'a AppState, &'a Job) -> RunFuture<'a>,
}

/// The registry entry of a kind of job.
pub const fn register<J: BackgroundJob>(
    run: for<'a> fn(&'a AppState, &'a Job) -> RunFuture<'a>,
) -> Registered {
    Registered { kind: J::KIND, run }
}

/// Jobs claimed at once; they run concurrently.
const BATCH: i64 = 8;

/// Runs due jobs until the process stops, looking again at once after a full
/// batch and after the poll interval otherwise.
pub async fn run(state: AppState, kinds: &[Registered]) {
    let idle = Duration::from_millis(state.settings.job_poll_interval_ms);
    tracing::info!("job worker started");
    loop {
        match run_due(&state, kinds).await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(err) => tracing::warn!(%err, "could not claim jobs; trying again"),
        }
        tokio::time::sleep(idle).await;
    }
}

/// Claims one batch of due jobs, runs them and records their outcomes; returns
/// how many were claimed.
pub async fn run_due(state: &AppState, kinds: &[Registered]) -> Result<usize, AppError> {
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
    join_all(
        claimed
            .into_iter()
            .map(|job| run_one(state, kinds, job, lease)),
    )
    .await;
    Ok(count)
}

async fn run_one(state: &AppState, kinds: &[Registered], job: Job, lease: LeaseId) {
    let registered = kinds.iter().find(|r| r.kind == job.kind);
    let outcome = match registered {
        Some(registered) => (registered.run)(state, &job).await,
        None => Ok(Outcome::Failed(format!(
            "no handler for jobs of kind {}",
            job.kind
        ))),
    };
    let outcome = outcome.unwrap_or_else(|err| {
        tracing::warn!(%err, job = %job.id.uuid(), kind = %job.kind, "job failed");
        // A database hiccup: the job stays due and is tried again shortly.
        if err.is_transient() && attempts_left(&job) {
            Outcome::Retry(
                Ts::from(Ts::now().get() + chrono::Duration::seconds(5)),
                "internal error".into(),
            )
        } else {
            Outcome::Failed(err.to_string())
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
        Err(err) => {
            tracing::warn!(%err, job = %id.uuid(), "could not record a job outcome")
        }
    }
}

#[cfg(test)]
mod tests {
    use diesel::prelude::*;

    use fieldcrm_db::jobs::{self, Job};
    use fieldcrm_db::schema::jobs as table;
    use fieldcrm_db::{Id, Ts};

    use super::{register, run_due, Registered};
    use crate::error::{AppError, Failure};
    use crate::jobs::{Attempts, BackgroundJob};
    use crate::testing::World;

    /// Fails with a failure that waiting does not cure.
    struct NeedsReconnect;

    impl BackgroundJob for NeedsReconnect {
        const KIND: &'static str = "test_needs_reconnect";
        const ATTEMPTS: Attempts = Attempts::Fixed(5);
    }

    /// Fails as if the database were briefly away.
    struct DatabaseAway;

    impl BackgroundJob for DatabaseAway {
        const KIND: &'static str = "test_database_away";
        const ATTEMPTS: Attempts = Attempts::Fixed(2);
    }

    const KINDS: &[Registered] = &[
        register::<NeedsReconnect>(|_, _| {
            Box::pin(async { Err(AppError::new(Failure::NeedsReconnect)) })
        }),
        register::<DatabaseAway>(|_, _| {
            Box::pin(async { Err(AppError::new(Failure::Unavailable)) })
        }),
    ];

    fn queue<K: BackgroundJob>(world: &World) -> Id<Job> {
        world.tx(|tx| {
            let job = tx.job::<K>(None, None, Ts::now());
            jobs::enqueue(tx, &job).unwrap();
            job.id
        })
    }

    fn stored(world: &World, id: Id<Job>) -> Job {
        table::table
            .find(id)
            .select(Job::as_select())
            .first(&mut *world.conn())
            .unwrap()
    }

    #[tokio::test]
    async fn a_job_that_fails_for_a_lasting_reason_fails_at_once_with_attempts_left() {
        let world = World::new(|_| {}).await;
        let id = queue::<NeedsReconnect>(&world);

        assert_eq!(run_due(&world.state, KINDS).await.unwrap(), 1);

        let job = stored(&world, id);
        assert_eq!(job.status, "failed");
        assert_eq!(job.attempts, 1);
        assert_eq!(job.last_error.as_deref(), Some("NeedsReconnect"));
    }

    #[tokio::test]
    async fn a_job_that_fails_for_a_passing_reason_is_retried_until_its_attempts_run_out() {
        let world = World::new(|_| {}).await;
        let id = queue::<DatabaseAway>(&world);

        run_due(&world.state, KINDS).await.unwrap();
        let job = stored(&world, id);
        assert_eq!(job.status, "queued");
        assert_eq!(job.attempts, 1);
        assert!(job.run_at > Ts::now(), "retried later, not at once");
        assert_eq!(job.last_error.as_deref(), Some("internal error"));

        // Due again now: the second attempt is its last.
        diesel::update(table::table.find(id))
            .set(table::run_at.eq(Ts::now()))
            .execute(&mut *world.conn())
            .unwrap();
        run_due(&world.state, KINDS).await.unwrap();
        let job = stored(&world, id);
        assert_eq!(job.status, "failed");
        assert_eq!(job.attempts, 2);
        assert_eq!(job.last_error.as_deref(), Some("Unavailable"));
    }
}
