//! API keys for integrations: made with a scope, shown once, revoked at once.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use maud::html;
use serde::Deserialize;
use uuid::Uuid;

use fieldcrm_app::accounts::api_keys;
use fieldcrm_app::paging::PageRequest;
use fieldcrm_app::AppState;
use fieldcrm_db::Id;
use fieldcrm_domain::ApiKeyScope;

use super::auth::CsrfOnly;
use super::error::PageError;
use super::forms::{csrf_input, input, row_button, summary, Input, Messages};
use super::layout::{self, Section};
use super::see_other;
use super::session::SignedIn;
use super::words;
use crate::problem::Problem;
use crate::routes::api_keys::{parse_new_key, CreateApiKeyRequest};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api-keys", web::get().to(list))
        .route("/api-keys", web::post().to(create))
        .route("/api-keys/{id}/revoke", web::post().to(revoke));
}

const KEYS_SHOWN: i64 = 200;

/// The scopes, with what a key of each may do.
const SCOPES: [(ApiKeyScope, &str); 2] = [
    (ApiKeyScope::Read, "Read: reads business data"),
    (ApiKeyScope::Write, "Write: reads and changes it"),
];

#[derive(Deserialize, Default)]
pub struct NewKeyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    scope: String,
}

pub async fn list(
    state: web::Data<AppState>,
    signed_in: SignedIn,
) -> Result<HttpResponse, PageError> {
    page(
        &state,
        &signed_in,
        StatusCode::OK,
        &NewKeyForm::default(),
        &Messages::default(),
        None,
    )
    .await
}

/// The keys and the form; `secret` is a key just made, shown this once.
async fn page(
    state: &AppState,
    signed_in: &SignedIn,
    status: StatusCode,
    typed: &NewKeyForm,
    messages: &Messages,
    secret: Option<(&str, &str)>,
) -> Result<HttpResponse, PageError> {
    let first = PageRequest {
        after: None,
        limit: KEYS_SHOWN,
    };
    let keys = api_keys::list(state, &signed_in.caller, first).await?;
    let zone = words::zone(state, signed_in).await?;
    let when = |ts: fieldcrm_db::Ts| words::moment(ts.get(), zone);
    let csrf = signed_in.csrf();
    let content = html! {
        h1 { "API keys" }
        p { "Integrations send a key as " code { "Authorization: Bearer <key>" } " to the JSON API, whose reference is at " a href="/docs" { "/docs" } "." }
        @if let Some((name, secret)) = secret {
            div class="notice" role="status" {
                p { "The key “" (name) "” is made. Copy it now: it is shown this once and stored only as a hash." }
                p { code class="secret" { (secret) } }
            }
        }
        @if keys.is_empty() {
            p { "No key yet." }
        } @else {
            table {
                caption { "Keys of this account" }
                thead { tr {
                    th scope="col" { "Name" } th scope="col" { "Scope" } th scope="col" { "Starts with" }
                    th scope="col" { "Made" } th scope="col" { "Last used" } th scope="col" { "Revoke" }
                } }
                tbody {
                    @for key in &keys {
                        tr {
                            th scope="row" { (key.name) }
                            td { (key.scope.0.as_str()) }
                            td { code { (key.prefix) } }
                            td { (when(key.created_at)) }
                            td { (key.last_used_at.map(when).unwrap_or_else(|| "Never".into())) }
                            td {
                                (row_button(&format!("/app/api-keys/{}/revoke", key.id.uuid()), &csrf, "Revoke", &key.name,
                                    Some(&format!("Revoke {}? Integrations using it stop at once.", key.name))))
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="add-heading" {
            h2 id="add-heading" { "Make a key" }
            (summary(messages))
            form class="stack" method="post" action="/app/api-keys" {
                (csrf_input(&csrf))
                (input(&Input { name: "name", label: "What it is for", value: &typed.name, kind: "text",
                    autocomplete: "off", required: true, hint: Some("Such as the integration's name.") }, messages))
                div class="field" {
                    label for="f-scope" { "Scope" }
                    select id="f-scope" name="scope" {
                        @for (scope, words) in SCOPES {
                            option value=(scope.as_str()) selected[typed.scope == scope.as_str()] { (words) }
                        }
                    }
                }
                div { button type="submit" { "Make the key" } }
            }
        }
    };
    Ok(layout::frame(
        signed_in,
        Section::ApiKeys,
        status,
        "API keys",
        content,
    ))
}

pub async fn create(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    form: web::Form<NewKeyForm>,
) -> Result<HttpResponse, PageError> {
    signed_in.check_csrf(&form.csrf)?;
    let typed = form.into_inner();
    let request = CreateApiKeyRequest {
        name: typed.name.clone(),
        scope: typed.scope.clone(),
    };
    let made = match parse_new_key(&request) {
        Ok((name, scope)) => api_keys::create(&state, &signed_in.caller, name, scope)
            .await
            .map_err(Problem::from),
        Err(problem) => Err(problem),
    };
    match made {
        // The secret exists only in this answer: a page, not a redirect.
        Ok((key, secret)) => {
            let none = NewKeyForm::default();
            page(
                &state,
                &signed_in,
                StatusCode::CREATED,
                &none,
                &Messages::default(),
                Some((&key.name, &secret)),
            )
            .await
        }
        Err(problem) if problem.status == StatusCode::UNPROCESSABLE_ENTITY => {
            let messages = Messages(problem.errors);
            page(
                &state,
                &signed_in,
                StatusCode::UNPROCESSABLE_ENTITY,
                &typed,
                &messages,
                None,
            )
            .await
        }
        Err(problem) => Err(problem.into()),
    }
}

pub async fn revoke(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<String>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    signed_in.check_csrf(&form.csrf)?;
    let id = Uuid::parse_str(&path).map_err(|_| Problem::not_found())?;
    api_keys::revoke(&state, &signed_in.caller, Id::from_uuid(id)).await?;
    Ok(see_other("/app/api-keys"))
}
