//! Accounts and who may act in them: sign-up and sign-in, users, API keys,
//! the account's settings, its export and its erasure.

pub mod api_keys;
pub mod auth;
pub mod privacy;
pub mod settings;
pub mod users;

use fieldcrm_db::accounts::Account;
use fieldcrm_db::api_keys::ApiKey;
use fieldcrm_db::users::User;
use fieldcrm_domain::Password;

use crate::auth::passwords;
use crate::caller::{Caller, Principal};
use crate::error::AppError;
use crate::state::AppState;

/// Who is calling: the account and the user or API key, as stored now.
pub struct Whoami {
    pub account: Account,
    pub signed_in: SignedIn,
}

pub enum SignedIn {
    User(User),
    ApiKey(ApiKey),
}

/// The caller's account and identity. A caller whose user or key is gone
/// since its credential was issued is unauthorised.
pub async fn whoami(state: &AppState, caller: &Caller) -> Result<Whoami, AppError> {
    let (account_id, principal) = (caller.account_id, caller.principal.clone());
    state
        .db(move |conn| {
            let account = fieldcrm_db::accounts::find(conn, account_id)?
                .ok_or_else(AppError::unauthorized)?;
            let signed_in = match principal {
                Principal::User { id, .. } => SignedIn::User(
                    fieldcrm_db::users::find(conn, account_id, id)?
                        .ok_or_else(AppError::unauthorized)?,
                ),
                Principal::ApiKey { id, .. } => SignedIn::ApiKey(
                    fieldcrm_db::api_keys::find(conn, account_id, id)?
                        .ok_or_else(AppError::unauthorized)?,
                ),
            };
            Ok(Whoami { account, signed_in })
        })
        .await
}

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
