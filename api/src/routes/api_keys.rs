use actix_web::{delete, get, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use fieldcrm_db::Id;
use fieldcrm_domain::{ApiKeyScope, PersonName};

use crate::auth::Caller;
use crate::extract::Json;
use crate::paging::{Page, PageQuery};
use crate::problem::{Fields, Problem};
use crate::views::ApiKeyView;
use fieldcrm_app::accounts::api_keys;
use fieldcrm_app::state::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyRequest {
    /// What the key is for, e.g. the integration's name.
    #[schema(example = "Accounting sync")]
    pub name: String,
    /// `read` (read business data) or `write` (also change it).
    #[schema(value_type = crate::vocabulary::ApiKeyScopeName, inline, example = "read")]
    pub scope: String,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub key: ApiKeyView,
    /// The secret, shown this once: send it as `Authorization: Bearer <secret>`.
    #[schema(example = "fcrm_key_Xb4dQ0...")]
    pub secret: String,
}

/// Create an API key for an integration. The response holds the secret; it is
/// stored only as a hash and cannot be shown again.
///
/// Permission: `ManageApiKeys`.
#[utoipa::path(
    tag = "api-keys",
    security(("bearer" = [])),
    request_body = CreateApiKeyRequest,
    responses(
        (status = 201, description = "The key and its secret", body = CreatedApiKey),
        (status = 403, description = "The caller's role may not manage API keys", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("")]
pub async fn create_api_key(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<CreateApiKeyRequest>,
) -> Result<HttpResponse, Problem> {
    let (name, scope) = parse_new_key(&body.0)?;
    let (key, secret) = api_keys::create(&state, &caller, name, scope).await?;
    Ok(HttpResponse::Created().json(CreatedApiKey {
        key: key.into(),
        secret,
    }))
}

/// A new key's name and scope, with every field's message at once; the web's
/// API keys page sends the same fields.
pub fn parse_new_key(body: &CreateApiKeyRequest) -> Result<(String, ApiKeyScope), Problem> {
    let mut fields = Fields::default();
    let name = fields.check("name", PersonName::parse(&body.name));
    let scope = fields.check("scope", body.scope.parse::<ApiKeyScope>());
    fields.finish()?;
    let (Some(name), Some(scope)) = (name, scope) else {
        return Err(Problem::internal());
    };
    Ok((name.into_inner(), scope))
}

/// List the account's API keys (never their secrets).
///
/// Permission: `ManageApiKeys`.
#[utoipa::path(
    tag = "api-keys",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "A page of keys", body = Page<ApiKeyView>),
        (status = 403, description = "The caller's role may not manage API keys", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("")]
pub async fn list_api_keys(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, Problem> {
    let page = query.parse()?;
    let rows = api_keys::list(&state, &caller, page).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(
        page,
        rows,
        |k| k.id.uuid(),
        ApiKeyView::from,
    )))
}

/// Revoke an API key: it stops working at once.
///
/// Permission: `ManageApiKeys`.
#[utoipa::path(
    tag = "api-keys",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The key's id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, description = "The caller's role may not manage API keys", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/{id}")]
pub async fn revoke_api_key(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, Problem> {
    api_keys::revoke(&state, &caller, Id::from_uuid(*id)).await?;
    Ok(HttpResponse::NoContent().finish())
}
