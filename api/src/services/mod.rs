//! The rules of each use case: handlers parse input into domain types and call
//! these; these call the `db` queries, inside one transaction where a use case
//! writes more than one row.

pub mod account;
pub mod api_keys;
pub mod appointments;
pub mod auth;
pub mod calendar_feed;
pub mod devices;
pub mod events;
pub mod google;
pub mod idempotency;
pub mod messages;
pub mod people;
pub mod privacy;
pub mod time_clock;
pub mod users;
pub mod webhooks;

use actix_web::http::header::{HeaderValue, RETRY_AFTER};
use actix_web::http::StatusCode;
use tokio::sync::Semaphore;

use fieldcrm_domain::Password;

use crate::auth::passwords;
use crate::problem::Problem;
use crate::state::AppState;

/// Requests that may wait for password work, per one running.
const WAITING_PER_RUNNING: usize = 4;

/// Bounds password hashing and checking (argon2id: 19 MiB and tens of
/// milliseconds each): so many run at once, a few times as many wait, and
/// beyond that a request is refused with 429 rather than adding to a pile
/// whose memory and latency have no bound.
pub struct PasswordWork {
    admitted: Semaphore,
    running: Semaphore,
}

impl PasswordWork {
    /// `at_once` 0 means one per CPU core.
    pub fn new(at_once: usize) -> Self {
        let at_once = match at_once {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            n => n,
        };
        Self {
            admitted: Semaphore::new(at_once * (1 + WAITING_PER_RUNNING)),
            running: Semaphore::new(at_once),
        }
    }

    async fn run<T, F>(&self, work: F) -> Result<T, Problem>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let Ok(_admitted) = self.admitted.try_acquire() else {
            return Err(Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "busy",
                "Too many password checks at once",
            )
            .with_detail("the server is checking too many passwords at once; try again shortly")
            .with_header(RETRY_AFTER, HeaderValue::from(1)));
        };
        let _running = self
            .running
            .acquire()
            .await
            .map_err(|err| Problem::internal_from(&err))?;
        Ok(actix_web::web::block(work).await?)
    }
}

/// Hashes a password on the blocking pool, within the bound of password work.
pub(crate) async fn hash_password(state: &AppState, password: Password) -> Result<String, Problem> {
    state
        .passwords
        .run(move || passwords::hash(&password))
        .await?
        .map_err(|err| Problem::internal_from(&err))
}

/// Checks a password against a stored hash (or the decoy, see
/// `passwords::verify`), within the bound of password work.
pub(crate) async fn verify_password(
    state: &AppState,
    stored: Option<String>,
    candidate: String,
) -> Result<bool, Problem> {
    state
        .passwords
        .run(move || passwords::verify(stored.as_deref(), &candidate))
        .await
}
