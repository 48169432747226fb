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

use fieldcrm_domain::Password;

use crate::auth::passwords;
use crate::problem::Problem;
use crate::state::AppState;

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
