//! The job runner: claims due jobs from the outbox under a lease, runs them, and
//! records each outcome under the same lease. Runs inside `fieldcrm serve` and
//! alone as `fieldcrm worker`; any number of processes may run it against one
//! database.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use futures_util::future::join_all;
use tokio::task::JoinSet;
use tokio::time::{sleep_until, Instant};

use fieldcrm_db::jobs::{self, Job, LeaseId, Outcome};
use fieldcrm_db::webhooks::{self, Delivery};
use fieldcrm_db::{Id, Ts};

use crate::error::{AppError, AppResult};
use crate::jobs::{attempts_left, BackgroundJob};
use crate::state::AppState;
use crate::tx::Tx;

/// A job's run, as the runner holds it.
pub type RunFuture<'a> = Pin<Box<dyn Future<Output = AppResult<Finish>> + Send + 'a>>;

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

/// The run of a job that ends with its outcome alone.
pub fn plain<'a>(run: impl Future<Output = AppResult<Outcome>> + Send + 'a) -> RunFuture<'a> {
    Box::pin(async move { run.await.map(Finish::from) })
}

/// Writes of a job's run, committed in the transaction that records its
/// outcome.
pub type Writes = Box<dyn FnOnce(&mut Tx<'_>) -> AppResult<()> + Send>;

/// What a job's run writes with its outcome.
pub enum Record {
    Writes(Writes),
    /// A webhook delivery's log row, written by the statement that records
    /// the outcome: one round trip per delivery.
    Delivery(Delivery),
}

/// How a job's run ended: its outcome, and what to write with it. Writing both
/// at once saves a commit per job, and a job whose record could not be written
/// is not recorded as done.
pub struct Finish {
    outcome: Outcome,
    record: Option<Record>,
}

impl Finish {
    pub fn recorded_with(
        outcome: Outcome,
        record: impl FnOnce(&mut Tx<'_>) -> AppResult<()> + Send + 'static,
    ) -> Self {
        Self {
            outcome,
            record: Some(Record::Writes(Box::new(record))),
        }
    }

    pub fn recording_delivery(outcome: Outcome, delivery: Delivery) -> Self {
        Self {
            outcome,
            record: Some(Record::Delivery(delivery)),
        }
    }
}

impl From<Outcome> for Finish {
    fn from(outcome: Outcome) -> Self {
        Self {
            outcome,
            record: None,
        }
    }
}

/// Jobs one process runs at once.
const IN_FLIGHT: usize = 16;

/// Claimed at once by `run_due`, and the fewest free places `run` claims for:
/// one claim per few jobs rather than one per job.
const BATCH: usize = 8;

/// Runs due jobs until the process stops, up to `IN_FLIGHT` at once. While
/// claims come back full it claims again as soon as `BATCH` places are free;
/// otherwise, and whatever the places, it looks once per poll interval. So a
/// job that takes long (a receiver that answers only at its timeout) holds its
/// own place, not the jobs behind it.
pub async fn run(state: AppState, kinds: &'static [Registered]) {
    let idle = Duration::from_millis(state.settings.job_poll_interval_ms);
    tracing::info!("job worker started");
    // Each job a task of its own: jobs go on while the next claim waits for
    // the database, and on every core.
    let mut running = JoinSet::new();
    // Whether the last claim filled every free place, so more may be due now.
    let mut more_due = true;
    let mut next_look = Instant::now();
    loop {
        let room = IN_FLIGHT - running.len();
        let look = room > 0 && ((more_due && room >= BATCH) || Instant::now() >= next_look);
        if look {
            match claim(&state, room).await {
                Ok((lease, claimed)) => {
                    more_due = claimed.len() == room;
                    for job in claimed {
                        let state = state.clone();
                        running.spawn(async move { run_one(&state, kinds, job, lease).await });
                    }
                }
                Err(err) => {
                    tracing::warn!(%err, "could not claim jobs; trying again");
                    more_due = false;
                }
            }
            next_look = Instant::now() + idle;
        }
        if running.is_empty() {
            if !more_due {
                sleep_until(next_look).await;
            }
            continue;
        }
        let has_room = running.len() < IN_FLIGHT;
        tokio::select! {
            Some(ended) = running.join_next() => {
                if let Err(err) = ended {
                    tracing::error!(%err, "a job's run panicked; its lease will run out");
                }
            }
            _ = sleep_until(next_look), if has_room => {}
        }
    }
}

/// Claims one batch of due jobs, runs them and records their outcomes; returns
/// how many were claimed.
pub async fn run_due(state: &AppState, kinds: &[Registered]) -> Result<usize, AppError> {
    let (lease, claimed) = claim(state, BATCH).await?;
    let count = claimed.len();
    join_all(
        claimed
            .into_iter()
            .map(|job| run_one(state, kinds, job, lease)),
    )
    .await;
    Ok(count)
}

/// Up to `limit` due jobs under a new lease.
async fn claim(state: &AppState, limit: usize) -> Result<(LeaseId, Vec<Job>), AppError> {
    let lease: LeaseId = Id::new();
    let now = Ts::now();
    let lease_secs = i64::try_from(state.settings.job_lease_secs).unwrap_or(300);
    let until = Ts::from(now.get() + chrono::Duration::seconds(lease_secs));
    let limit = i64::try_from(limit).unwrap_or(1);
    let claimed = state
        .db(move |conn| Ok(jobs::claim(conn, now, lease, until, limit)?))
        .await?;
    Ok((lease, claimed))
}

async fn run_one(state: &AppState, kinds: &[Registered], job: Job, lease: LeaseId) {
    let registered = kinds.iter().find(|r| r.kind == job.kind);
    let finish = match registered {
        Some(registered) => (registered.run)(state, &job).await,
        None => Ok(Outcome::Failed(format!("no handler for jobs of kind {}", job.kind)).into()),
    };
    let recorded = match finish {
        Ok(Finish { outcome, record }) => commit(state, &job, lease, outcome, record).await,
        Err(err) => Err(err),
    };
    // The run failed, or its record could not be written: the job's outcome
    // is that failure's.
    let recorded = match recorded {
        Err(err) => {
            let outcome = after_failure(&job, &err);
            commit(state, &job, lease, outcome, None).await
        }
        recorded => recorded,
    };
    match recorded {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(job = %job.id.uuid(), "the job's lease ran out before it finished")
        }
        // The lease will expire and the job run again; its handler sees what is done.
        Err(err) => {
            tracing::warn!(%err, job = %job.id.uuid(), "could not record a job outcome")
        }
    }
}

/// What becomes of a job whose run failed.
fn after_failure(job: &Job, err: &AppError) -> Outcome {
    tracing::warn!(%err, job = %job.id.uuid(), kind = %job.kind, "job failed");
    // A database hiccup: the job stays due and is tried again shortly.
    if err.is_transient() && attempts_left(job) {
        Outcome::Retry(
            Ts::from(Ts::now().get() + chrono::Duration::seconds(5)),
            "internal error".into(),
        )
    } else {
        Outcome::Failed(err.to_string())
    }
}

/// Records the outcome under the lease, with the run's own record if it has
/// one; false when the lease was lost meanwhile.
async fn commit(
    state: &AppState,
    job: &Job,
    lease: LeaseId,
    outcome: Outcome,
    record: Option<Record>,
) -> AppResult<bool> {
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
    state
        .db(move |conn| match record {
            Some(Record::Writes(record)) => conn.write_transaction(|conn| {
                record(conn)?;
                Ok(jobs::finish(conn, id, lease, &outcome, Ts::now())?)
            }),
            Some(Record::Delivery(delivery)) => Ok(webhooks::record_delivery_and_finish(
                conn,
                &delivery,
                id,
                lease,
                &outcome,
                Ts::now(),
            )?),
            None => Ok(jobs::finish(conn, id, lease, &outcome, Ts::now())?),
        })
        .await
}

#[cfg(test)]
mod tests {
    use diesel::prelude::*;

    use fieldcrm_db::jobs::{self, Job};
    use fieldcrm_db::schema::jobs as table;
    use fieldcrm_db::{Id, Ts};

    use std::time::Duration;

    use fieldcrm_db::jobs::Outcome;

    use super::{plain, register, run, run_due, Finish, Registered, IN_FLIGHT};
    use crate::error::{AppError, Failure};
    use crate::jobs::{Attempts, BackgroundJob};
    use crate::testing::World;

    /// A kind of job for these tests, with the attempts it gets.
    macro_rules! kind {
        ($(#[$doc:meta])* $name:ident, $attempts:literal) => {
            $(#[$doc])*
            struct $name;

            impl BackgroundJob for $name {
                const KIND: &'static str = concat!("test_", stringify!($name));
                const ATTEMPTS: Attempts = Attempts::Fixed($attempts);
            }
        };
    }

    kind!(
        /// Fails with a failure that waiting does not cure.
        NeedsReconnect,
        5
    );
    kind!(
        /// Fails as if the database were briefly away.
        DatabaseAway,
        2
    );
    kind!(
        /// Done at once.
        Quick,
        1
    );
    kind!(
        /// Waits far longer than any test, as a receiver that never answers.
        Stuck,
        1
    );
    kind!(
        /// Done, but what it has to write with its outcome cannot be written.
        RecordFails,
        3
    );

    const KINDS: &[Registered] = &[
        register::<NeedsReconnect>(|_, _| {
            plain(async { Err(AppError::new(Failure::NeedsReconnect)) })
        }),
        register::<DatabaseAway>(|_, _| plain(async { Err(AppError::new(Failure::Unavailable)) })),
        register::<Quick>(|_, _| plain(async { Ok(Outcome::Done) })),
        register::<Stuck>(|_, _| {
            plain(async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok(Outcome::Done)
            })
        }),
        register::<RecordFails>(|_, _| {
            Box::pin(async {
                Ok(Finish::recorded_with(Outcome::Done, |_| {
                    Err(AppError::new(Failure::Unavailable))
                }))
            })
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

    #[tokio::test]
    async fn a_job_whose_record_cannot_be_written_is_not_done() {
        let world = World::new(|_| {}).await;
        let id = queue::<RecordFails>(&world);

        run_due(&world.state, KINDS).await.unwrap();

        let job = stored(&world, id);
        assert_eq!(job.status, "queued", "tried again, not done");
        assert_eq!(job.attempts, 1);
        assert_eq!(job.last_error.as_deref(), Some("internal error"));
    }

    #[tokio::test]
    async fn a_job_that_never_ends_holds_back_none_of_the_jobs_behind_it() {
        let world = World::new(|settings| settings.job_poll_interval_ms = 10).await;
        // Oldest first: the first claim takes the stuck jobs before the quick
        // ones, so a worker that waited for a whole batch, or for a batch's
        // worth of free places, would never reach these.
        let stuck: Vec<_> = (0..IN_FLIGHT - 1).map(|_| queue::<Stuck>(&world)).collect();
        let quick: Vec<_> = (0..2 * IN_FLIGHT).map(|_| queue::<Quick>(&world)).collect();

        let worker = tokio::spawn(run(world.state.clone(), KINDS));
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let done = |ids: &[Id<Job>]| {
            ids.iter()
                .filter(|id| stored(&world, **id).status == "done")
                .count()
        };
        while done(&quick) < quick.len() && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        worker.abort();

        assert_eq!(done(&quick), quick.len(), "every quick job done");
        assert_eq!(done(&stuck), 0);
        assert!(stuck
            .iter()
            .all(|id| stored(&world, *id).status == "running"));
    }
}
