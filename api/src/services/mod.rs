//! The rules of each use case: handlers parse input into domain types and call
//! these; these call the `db` queries, inside one transaction where a use case
//! writes more than one row.

pub mod account;
pub mod api_keys;
pub mod appointments;
pub mod auth;
pub mod calendar_feed;
pub mod google;
pub mod idempotency;
pub mod messages;
pub mod people;
pub mod privacy;
pub mod time_clock;
pub mod users;

use fieldcrm_domain::Password;

use crate::auth::passwords;
use crate::problem::Problem;

/// Hashes a password on the blocking pool (argon2 takes tens of milliseconds).
pub(crate) async fn hash_password(password: Password) -> Result<String, Problem> {
    actix_web::web::block(move || passwords::hash(&password))
        .await?
        .map_err(|err| Problem::internal_from(&err))
}
