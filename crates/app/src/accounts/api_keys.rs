use fieldcrm_db::api_keys::{self, ApiKey};
use fieldcrm_db::{Id, Stored, Ts};
use fieldcrm_domain::{Action, ApiKeyScope};

use crate::audit::{self, Audited};
use crate::auth::tokens::{new_secret, secret_hash, API_KEY_PREFIX};
use crate::caller::Caller;
use crate::error::AppError;
use crate::paging::PageRequest;
use crate::state::AppState;

/// How much of the secret a list shows.
const SHOWN_PREFIX_CHARS: usize = API_KEY_PREFIX.len() + 4;

/// Creates a key and returns it with its secret, which is not stored and cannot
/// be shown again.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    name: String,
    scope: ApiKeyScope,
) -> Result<(ApiKey, String), AppError> {
    caller.require(Action::ManageApiKeys)?;
    let secret = new_secret(API_KEY_PREFIX);
    let key = ApiKey {
        id: Id::new(),
        account_id: caller.account_id,
        name,
        scope: Stored(scope),
        prefix: secret.chars().take(SHOWN_PREFIX_CHARS).collect(),
        secret_hash: secret_hash(&secret),
        created_by: caller.user().map(|(id, _)| id),
        created_at: Ts::now(),
        last_used_at: None,
    };
    let caller = caller.clone();
    state
        .db(move |conn| {
            conn.write_transaction(|conn| {
                api_keys::insert(conn, &key)?;
                audit::record(
                    conn,
                    &caller,
                    Audited::ApiKeyCreated,
                    Some(key.id.uuid()),
                    Some(key.scope.as_str().to_owned()),
                )?;
                Ok((key, secret))
            })
        })
        .await
}

pub async fn list(
    state: &AppState,
    caller: &Caller,
    page: PageRequest,
) -> Result<Vec<ApiKey>, AppError> {
    caller.require(Action::ManageApiKeys)?;
    let account = caller.account_id;
    state
        .db(move |conn| Ok(api_keys::list(conn, account, page.after(), page.fetch())?))
        .await
}

/// Revokes a key: it stops working at once.
pub async fn revoke(state: &AppState, caller: &Caller, id: Id<ApiKey>) -> Result<(), AppError> {
    caller.require(Action::ManageApiKeys)?;
    let account = caller.account_id;
    let caller = caller.clone();
    state
        .db(move |conn| {
            conn.write_transaction(|conn| {
                if !api_keys::delete(conn, account, id)? {
                    return Err(AppError::not_found());
                }
                audit::record(conn, &caller, Audited::ApiKeyRevoked, Some(id.uuid()), None)
            })
        })
        .await
}
