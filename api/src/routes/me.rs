use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use fieldcrm_db::{accounts, api_keys, users};

use crate::auth::{Caller, Principal};
use crate::problem::Problem;
use crate::views::{AccountView, ApiKeyView, UserView};
use fieldcrm_app::state::AppState;
use fieldcrm_app::AppError;

#[derive(Serialize, ToSchema)]
pub struct Me {
    pub account: AccountView,
    /// The signed-in user; `null` when called with an API key.
    pub user: Option<UserView>,
    /// The API key in use; `null` when called by a user.
    pub api_key: Option<ApiKeyView>,
    /// The user's role; `null` for an API key.
    #[schema(example = "owner")]
    pub role: Option<String>,
}

/// The caller, its role and its account.
///
/// Roles: any. API keys: any scope.
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    responses((status = 200, description = "Who is calling", body = Me))
)]
#[get("/v1/me")]
pub async fn me(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, Problem> {
    let me = state
        .db(move |conn| {
            let account =
                accounts::find(conn, caller.account_id)?.ok_or_else(AppError::unauthorized)?;
            let (user, api_key, role) = match caller.principal {
                Principal::User { id, role, .. } => {
                    let user = users::find(conn, caller.account_id, id)?
                        .ok_or_else(AppError::unauthorized)?;
                    (Some(user.into()), None, Some(role.as_str().to_owned()))
                }
                Principal::ApiKey { id, .. } => {
                    let key = api_keys::find(conn, caller.account_id, id)?
                        .ok_or_else(AppError::unauthorized)?;
                    (None, Some(ApiKeyView::from(key)), None)
                }
            };
            Ok(Me {
                account: account.into(),
                user,
                api_key,
                role,
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(me))
}
