use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use fieldcrm_db::accounts::Account;
use fieldcrm_db::{DbConnection, DbPool, Id};
use fieldcrm_notify::{EmailSender, SendError};

use crate::auth::{sessions::SessionCache, tokens::Tokens};
use crate::config::Settings;
use crate::error::{AppError, AppResult};
use crate::limits::{DeviceRates, PasswordWork};
use crate::outbound::Outbound;
use crate::tx::{Effects, Tx};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub pool: DbPool,
    pub settings: Arc<Settings>,
    pub tokens: Arc<Tokens>,
    pub outbound: Arc<Outbound>,
    pub db_threads: Arc<DbThreads>,
    /// What access tokens are checked against, kept between requests.
    pub sessions: Arc<SessionCache>,
    /// Exports this process may run at once (`max_concurrent_exports`).
    pub exports: Arc<tokio::sync::Semaphore>,
    /// The bound on password hashing and checking.
    pub passwords: Arc<PasswordWork>,
    /// Each tracker device's requests in the current minute.
    pub device_rates: Arc<DeviceRates>,
    /// The record an event is about as `GET` shows it, for full webhook
    /// payloads: the views are the HTTP layer's, so it is handed in here
    /// rather than called from the use cases.
    pub full_object: FullObject,
    /// How an account sends email from its own mailbox: asked by `messaging`,
    /// answered by `google_sync` (Gmail), handed in by the crate root.
    pub account_mail: &'static dyn AccountMail,
    /// What the side effects of use cases need (`Tx`).
    pub effects: Arc<Effects>,
}

/// Reads the record an event is about, as its `GET` answers it.
pub type FullObject = fn(
    &mut fieldcrm_db::DbConnection,
    &fieldcrm_db::events::Event,
) -> Result<Option<serde_json::Value>, crate::error::AppError>;

/// How an account sends email from its own mailbox. The port is defined
/// here, beside the state that holds it, because the kernel names no context:
/// `messaging` asks through it and never learns that Gmail answers.
pub trait AccountMail: Send + Sync {
    /// Whether the account's email goes out from its own mailbox.
    fn sends_own_mail(&self, conn: &mut DbConnection, account: Id<Account>) -> AppResult<bool>;

    /// The sender for the account's own mailbox; `None` sends through the
    /// server's relay.
    fn own_sender<'a>(&'a self, state: &'a AppState, account: Id<Account>) -> OwnSender<'a>;
}

/// What `AccountMail::own_sender` answers.
pub type OwnSender<'a> =
    Pin<Box<dyn Future<Output = Result<Option<Arc<dyn EmailSender>>, SendError>> + Send + 'a>>;

impl AppState {
    /// Runs blocking database work with a pooled connection on the database
    /// threads, so the async workers never wait on the database.
    pub async fn db<T, F>(&self, work: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut Tx<'_>) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        let effects = self.effects.clone();
        self.db_threads
            .run(move || {
                let mut conn = pool.get()?;
                let result = work(&mut Tx::new(&mut conn, &effects));
                if result.is_ok() {
                    conn.vouch();
                }
                result
            })
            .await
            .map_err(|err| AppError::internal_from(&err))?
    }
}

/// The threads that run database work: as many as the pool has connections,
/// shared by all HTTP workers, so work beyond them waits in a queue. On the
/// general blocking pool every waiting request held a thread of its own (about
/// a hundred under load at 32 connections), and each slept and woke on the
/// pool's lock; on two cores those context switches cost more than the queries,
/// and the slowest requests waited half a second while the median took 3 ms.
/// A dedicated runtime's blocking pool bounded the threads but kept one lock
/// for its queue and its idle threads, which the workers handing work in and
/// the threads waiting for it fought over (a tenth of a GET's CPU, in futex
/// waits and yields); a channel queues without that lock and wakes one waiting
/// thread.
pub struct DbThreads {
    queue: crossbeam_channel::Sender<Job>,
}

type Job = Box<dyn FnOnce() + Send>;

/// The work handed to [`DbThreads::run`] panicked.
#[derive(Debug, thiserror::Error)]
#[error("database work panicked")]
pub struct WorkPanicked;

impl DbThreads {
    pub fn new(threads: usize) -> std::io::Result<Self> {
        let (queue, jobs) = crossbeam_channel::unbounded::<Job>();
        for _ in 0..threads.max(1) {
            let jobs = jobs.clone();
            // Each thread ends once the queue is dropped and empty.
            std::thread::Builder::new()
                .name(fieldcrm_db::DB_THREAD_NAME.to_owned())
                .spawn(move || jobs.iter().for_each(|job| job()))?;
        }
        Ok(Self { queue })
    }

    /// Runs `work` on one of the threads, once one is free. The work runs to
    /// its end even when the caller stops waiting, as a request whose client
    /// left does.
    pub async fn run<T, F>(&self, work: F) -> Result<T, WorkPanicked>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            // A panic is the request's failure, not the thread's end.
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
            // Nobody listens when the caller stopped waiting.
            let _ = done.send(outcome);
        });
        self.queue
            .send(job)
            .expect("the threads end only when the queue is dropped");
        match result.await {
            Ok(Ok(value)) => Ok(value),
            _ => Err(WorkPanicked),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use super::DbThreads;

    #[tokio::test]
    async fn runs_no_more_work_at_once_than_it_has_threads_and_finishes_the_rest() {
        let threads = DbThreads::new(3).unwrap();
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let work = (0..12).map(|i| {
            let (running, most) = (running.clone(), most.clone());
            threads.run(move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(20));
                running.fetch_sub(1, Ordering::SeqCst);
                i
            })
        });
        let done: Vec<usize> = futures_util::future::join_all(work)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(done, (0..12).collect::<Vec<_>>());
        assert_eq!(most.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_panic_fails_its_own_work_and_the_thread_goes_on() {
        let threads = DbThreads::new(1).unwrap();
        let failed = threads.run(|| -> usize { panic!("a bug in one request") });
        assert!(failed.await.is_err());
        // Had the panic ended the only thread, nothing would take this work.
        let next = tokio::time::timeout(Duration::from_secs(5), threads.run(|| 7));
        assert_eq!(next.await.expect("the thread still runs work").unwrap(), 7);
    }
}
