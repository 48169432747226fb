//! Webhook endpoints with their delivery log: where the account's events are
//! sent, signed, and what each attempt got back.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use maud::html;
use serde::Deserialize;
use uuid::Uuid;

use fieldcrm_app::{webhooks, AppState};
use fieldcrm_db::webhooks::Endpoint;
use fieldcrm_db::Id;

use super::auth::CsrfOnly;
use super::error::PageError;
use super::forms::{csrf_input, input, row_button, summary, Input, Messages};
use super::layout::{self, Section};
use super::see_other;
use super::session::SignedIn;
use super::words;
use crate::problem::Problem;
use crate::routes::webhook_endpoints::{parse_new, CreateWebhookEndpointRequest};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/webhooks", web::get().to(list))
        .route("/webhooks", web::post().to(create))
        .route("/webhooks/{id}", web::get().to(show))
        .route("/webhooks/{id}/test", web::post().to(send_test))
        .route("/webhooks/{id}/delete", web::post().to(delete))
        .route(
            "/webhooks/{id}/deliveries/{delivery}/retry",
            web::post().to(retry),
        );
}

/// An account has at most 20 endpoints; the log shows the latest attempts.
const ENDPOINTS_SHOWN: i64 = 20;
const DELIVERIES_SHOWN: i64 = 50;

fn id_of<T>(raw: &str) -> Result<Id<T>, PageError> {
    Uuid::parse_str(raw)
        .map(Id::from_uuid)
        .map_err(|_| Problem::not_found().into())
}

fn events_words(endpoint: &Endpoint) -> String {
    match &endpoint.event_types {
        None => "Every event".into(),
        Some(json) => serde_json::from_str::<Vec<String>>(json)
            .map(|types| types.join(", "))
            .unwrap_or_default(),
    }
}

#[derive(Deserialize, Default)]
pub struct NewEndpointForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    event_types: String,
    #[serde(default)]
    payload: String,
}

pub async fn list(
    state: web::Data<AppState>,
    signed_in: SignedIn,
) -> Result<HttpResponse, PageError> {
    page(
        &state,
        &signed_in,
        StatusCode::OK,
        &NewEndpointForm::default(),
        &Messages::default(),
        None,
    )
    .await
}

/// The endpoints and the form; `secret` is a new endpoint's, shown this once.
async fn page(
    state: &AppState,
    signed_in: &SignedIn,
    status: StatusCode,
    typed: &NewEndpointForm,
    messages: &Messages,
    secret: Option<&str>,
) -> Result<HttpResponse, PageError> {
    let endpoints = webhooks::list(state, &signed_in.caller, None, ENDPOINTS_SHOWN).await?;
    let csrf = signed_in.csrf();
    let content = html! {
        h1 { "Webhooks" }
        p { "Each event of the account is sent to the endpoints that want it, signed with the endpoint's secret (see the API reference at " a href="/docs" { "/docs" } ")." }
        @if let Some(secret) = secret {
            div class="notice" role="status" {
                p { "The endpoint is added. Its signing secret is shown this once: put it in the receiving system now." }
                p { code class="secret" { (secret) } }
            }
        }
        @if endpoints.is_empty() {
            p { "No endpoint yet." }
        } @else {
            table {
                caption { "Endpoints" }
                thead { tr { th scope="col" { "URL" } th scope="col" { "Description" } th scope="col" { "Events" } th scope="col" { "State" } } }
                tbody {
                    @for endpoint in &endpoints {
                        tr {
                            th scope="row" { a href=(format!("/app/webhooks/{}", endpoint.id.uuid())) { (endpoint.url) } }
                            td { (endpoint.description.as_deref().unwrap_or("")) }
                            td { (events_words(endpoint)) }
                            td {
                                @if !endpoint.enabled { "Off" @if let Some(why) = &endpoint.disabled_reason { ": " (why) } }
                                @else if endpoint.failing_since.is_some() { "Failing" }
                                @else { "On" }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="add-heading" {
            h2 id="add-heading" { "Add an endpoint" }
            (summary(messages))
            form class="stack" method="post" action="/app/webhooks" {
                (csrf_input(&csrf))
                (input(&Input { name: "url", label: "URL", value: &typed.url, kind: "url",
                    autocomplete: "off", required: true, hint: Some("An https address on the public internet.") }, messages))
                (input(&Input { name: "description", label: "Description", value: &typed.description, kind: "text",
                    autocomplete: "off", required: false, hint: None }, messages))
                (input(&Input { name: "event_types", label: "Events", value: &typed.event_types, kind: "text",
                    autocomplete: "off", required: false,
                    hint: Some("Event types separated by commas, such as appointment.created, customer.updated. Empty: every event.") }, messages))
                div class="field" {
                    label for="f-payload" { "What each event carries" }
                    select id="f-payload" name="payload" {
                        option value="thin" selected[typed.payload != "full"] { "The ids of what changed (thin)" }
                        option value="full" selected[typed.payload == "full"] { "The changed records (full)" }
                    }
                }
                div { button type="submit" { "Add the endpoint" } }
            }
        }
    };
    Ok(layout::frame(
        signed_in,
        Section::Webhooks,
        status,
        "Webhooks",
        content,
    ))
}

pub async fn create(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    form: web::Form<NewEndpointForm>,
) -> Result<HttpResponse, PageError> {
    signed_in.check_csrf(&form.csrf)?;
    webhooks::authorize_changes(&signed_in.caller)?;
    let typed = form.into_inner();
    let types: Vec<String> = typed
        .event_types
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    let request = CreateWebhookEndpointRequest {
        url: typed.url.trim().to_owned(),
        description: Some(typed.description.trim().to_owned()).filter(|d| !d.is_empty()),
        event_types: (!types.is_empty()).then_some(types),
        payload: Some(typed.payload.clone()).filter(|p| !p.is_empty()),
        enabled: Some(true),
    };
    let made = match parse_new(request) {
        Ok(new) => webhooks::create(&state, &signed_in.caller, new)
            .await
            .map_err(Problem::from),
        Err(problem) => Err(problem),
    };
    match made {
        // The secret exists only in this answer: a page, not a redirect.
        Ok((_, secret)) => {
            let none = NewEndpointForm::default();
            let no_messages = Messages::default();
            page(
                &state,
                &signed_in,
                StatusCode::CREATED,
                &none,
                &no_messages,
                Some(&secret),
            )
            .await
        }
        Err(problem) if problem.status == StatusCode::UNPROCESSABLE_ENTITY => {
            let messages = Messages(problem.errors);
            page(&state, &signed_in, problem.status, &typed, &messages, None).await
        }
        Err(problem) => Err(problem.into()),
    }
}

pub async fn show(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let id = id_of::<Endpoint>(&path)?;
    let endpoint = webhooks::get(&state, &signed_in.caller, id).await?;
    let deliveries =
        webhooks::deliveries(&state, &signed_in.caller, id, None, DELIVERIES_SHOWN).await?;
    let zone = words::zone(&state, &signed_in).await?;
    let csrf = signed_in.csrf();
    let here = format!("/app/webhooks/{}", id.uuid());
    let content = html! {
        h1 { "Endpoint " (endpoint.url) }
        dl {
            dt { "Description" } dd { (endpoint.description.as_deref().unwrap_or("—")) }
            dt { "Events" } dd { (events_words(&endpoint)) }
            dt { "Carries" } dd { (endpoint.payload) }
            dt { "State" } dd { @if endpoint.enabled { "On" } @else { "Off" } }
        }
        div class="actions" {
            form method="post" action=(format!("{here}/test")) {
                (csrf_input(&csrf))
                button type="submit" { "Send a test event" }
            }
            form method="post" action=(format!("{here}/delete")) data-confirm="Delete this endpoint? Nothing more is sent to it." {
                (csrf_input(&csrf))
                button class="danger" type="submit" { "Delete the endpoint" }
            }
        }
        h2 { "Deliveries" }
        @if deliveries.is_empty() {
            p { "Nothing sent yet." }
        } @else {
            table {
                caption { "The latest attempts, newest first" }
                thead { tr {
                    th scope="col" { "When" } th scope="col" { "Event" } th scope="col" { "Attempt" }
                    th scope="col" { "Answer" } th scope="col" { "Took" } th scope="col" { "Again" }
                } }
                tbody {
                    @for delivery in &deliveries {
                        tr {
                            td { (words::moment(delivery.attempted_at.get(), zone)) }
                            td { (delivery.event_type) }
                            td { (delivery.attempt) }
                            td {
                                @match (delivery.status_code, &delivery.error) {
                                    (Some(code), _) => { "HTTP " (code) }
                                    (None, Some(error)) => { (error) }
                                    (None, None) => { "No answer" }
                                }
                            }
                            td { (delivery.duration_ms) " ms" }
                            td {
                                (row_button(&format!("{here}/deliveries/{}/retry", delivery.id.uuid()), &csrf, "Send again",
                                    &format!("{} of attempt {}", delivery.event_type, delivery.attempt), None))
                            }
                        }
                    }
                }
            }
        }
        p { a href="/app/webhooks" { "All endpoints" } }
    };
    Ok(layout::frame(
        &signed_in,
        Section::Webhooks,
        StatusCode::OK,
        "Endpoint",
        content,
    ))
}

pub async fn send_test(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<String>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    signed_in.check_csrf(&form.csrf)?;
    let id = id_of::<Endpoint>(&path)?;
    webhooks::send_test(&state, &signed_in.caller, id).await?;
    Ok(see_other(&format!("/app/webhooks/{}", id.uuid())))
}

pub async fn delete(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<String>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    signed_in.check_csrf(&form.csrf)?;
    webhooks::delete(&state, &signed_in.caller, id_of(&path)?).await?;
    Ok(see_other("/app/webhooks"))
}

pub async fn retry(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    signed_in.check_csrf(&form.csrf)?;
    let (endpoint, delivery) = path.into_inner();
    let endpoint = id_of::<Endpoint>(&endpoint)?;
    webhooks::retry(&state, &signed_in.caller, endpoint, id_of(&delivery)?).await?;
    Ok(see_other(&format!("/app/webhooks/{}", endpoint.uuid())))
}
