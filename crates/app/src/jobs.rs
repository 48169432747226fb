//! The kinds of background work and how many attempts each gets. The outbox
//! (`fieldcrm_db::jobs`) keeps them; `worker` runs them; `wiring::JOBS` lists
//! every kind with what running one does.

use chrono::Duration;
use rand::Rng;

use fieldcrm_db::accounts::Account;
use fieldcrm_db::jobs::{Job, SubjectId};
use fieldcrm_db::{Id, Ts};

use crate::config::Settings;

/// How many times a kind of job is tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempts {
    /// The configured retry ceiling (`FIELDCRM_JOB_MAX_ATTEMPTS`).
    Ceiling,
    /// A number of its own (webhook deliveries follow their published schedule).
    Fixed(i32),
    /// Until it is done: work that waits on something certain to end.
    Unbounded,
}

/// A kind of background work: its name in the jobs table and how many
/// attempts it gets.
pub trait BackgroundJob {
    const KIND: &'static str;
    const ATTEMPTS: Attempts = Attempts::Ceiling;
}

/// What queueing a job needs from the settings: the retry ceiling.
#[derive(Debug, Clone, Copy)]
pub struct Queueing {
    ceiling: i32,
}

impl Queueing {
    pub fn new(settings: &Settings) -> Self {
        Self {
            ceiling: i32::try_from(settings.job_max_attempts).unwrap_or(i32::MAX),
        }
    }

    /// A job of kind `K` due at `run_at`, with the attempts its kind gets.
    pub fn job<K: BackgroundJob>(
        self,
        account: Option<Id<Account>>,
        subject: Option<SubjectId>,
        run_at: Ts,
    ) -> Job {
        let attempts = match K::ATTEMPTS {
            Attempts::Ceiling => self.ceiling,
            Attempts::Fixed(n) => n,
            Attempts::Unbounded => i32::MAX,
        };
        Job::new(account, K::KIND, subject, run_at, attempts)
    }
}

/// Whether a failed run of `job` may be tried again.
pub fn attempts_left(job: &Job) -> bool {
    job.attempts < job.max_attempts
}

/// When to try again after `attempts` failed ones: exponential from `base_ms`,
/// at most an hour, with jitter so retries of many jobs spread out.
pub fn retry_time(attempts: i32, base_ms: u64) -> Ts {
    let exponent = u32::try_from(attempts.clamp(1, 20) - 1).unwrap_or(0);
    let delay = base_ms.saturating_mul(1u64 << exponent).min(3_600_000) as f64;
    let jittered = delay * rand::thread_rng().gen_range(0.8..1.2);
    Ts::from(Ts::now().get() + Duration::milliseconds(jittered as i64))
}
