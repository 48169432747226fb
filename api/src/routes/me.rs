use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::problem::Problem;
use crate::views::{AccountView, ApiKeyView, UserView};
use fieldcrm_app::accounts::{self, SignedIn};
use fieldcrm_app::state::AppState;

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
    let whoami = accounts::whoami(&state, &caller).await?;
    let (user, api_key, role) = match whoami.signed_in {
        SignedIn::User(user) => {
            let role = user.role.as_str().to_owned();
            (Some(UserView::from(user)), None, Some(role))
        }
        SignedIn::ApiKey(key) => (None, Some(ApiKeyView::from(key)), None),
    };
    Ok(HttpResponse::Ok().json(Me {
        account: whoami.account.into(),
        user,
        api_key,
        role,
    }))
}
