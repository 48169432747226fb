//! Accounts and who may act in them: sign-up and sign-in, users, API keys,
//! the account's settings, its export and its erasure.

pub mod api_keys;
pub mod auth;
pub mod privacy;
pub mod settings;
pub mod users;

use fieldcrm_domain::Password;

use crate::auth::passwords;
use crate::error::AppError;
use crate::state::AppState;

/// Hashes a password on the blocking pool, within the bound of password work.
pub(crate) async fn hash_password(
    state: &AppState,
    password: Password,
) -> Result<String, AppError> {
    state
        .passwords
        .run(move || passwords::hash(&password))
        .await?
        .map_err(|err| AppError::internal_from(&err))
}

/// Checks a password against a stored hash (or the decoy, see
/// `passwords::verify`), within the bound of password work.
pub(crate) async fn verify_password(
    state: &AppState,
    stored: Option<String>,
    candidate: String,
) -> Result<bool, AppError> {
    state
        .passwords
        .run(move || passwords::verify(stored.as_deref(), &candidate))
        .await
}
