//! Webhook endpoints: where the account's events are sent, signed.

use actix_web::{delete, get, patch, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use fieldcrm_db::webhooks::{Delivery, Endpoint};
use fieldcrm_db::{Id, Ts};
use fieldcrm_domain::single_line;

use crate::auth::Caller;
use crate::extract::Json;
use crate::paging::{Page, PageQuery};
use crate::problem::{Fields, Problem};
use fieldcrm_app::state::AppState;
use fieldcrm_app::webhooks::{self, EndpointPatch, NewEndpoint, PayloadKind};

const MAX_DESCRIPTION: usize = 200;

/// A webhook endpoint, without its secret.
#[derive(Serialize, ToSchema)]
pub struct WebhookEndpointView {
    pub id: Uuid,
    #[schema(example = "https://hooks.example.com/fieldcrm")]
    pub url: String,
    pub description: Option<String>,
    /// The event types sent; `null` for every type.
    #[schema(value_type = Option<Vec<crate::vocabulary::EventTypeName>>)]
    pub event_types: Option<Vec<String>>,
    #[schema(value_type = crate::vocabulary::WebhookPayloadName, inline)]
    pub payload: String,
    /// Deliveries are made only while enabled. A `410 Gone` answer, or failing
    /// every attempt for five days, disables the endpoint.
    pub enabled: bool,
    /// Why the endpoint was disabled.
    pub disabled_reason: Option<String>,
    /// The first failed attempt since the last success.
    pub failing_since: Option<DateTime<Utc>>,
    /// After a rotation: until then, the previous secret signs beside the new one.
    pub previous_secret_until: Option<DateTime<Utc>>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Endpoint> for WebhookEndpointView {
    fn from(e: Endpoint) -> Self {
        let now = Ts::now();
        WebhookEndpointView {
            id: e.id.uuid(),
            url: e.url,
            description: e.description,
            event_types: e.event_types.and_then(|t| serde_json::from_str(&t).ok()),
            payload: e.payload,
            enabled: e.enabled,
            disabled_reason: e.disabled_reason,
            failing_since: e.failing_since.map(|t| t.get()),
            previous_secret_until: e
                .previous_secret_until
                .filter(|until| *until > now)
                .map(|t| t.get()),
            version: e.version,
            created_at: e.created_at.get(),
            updated_at: e.updated_at.get(),
        }
    }
}

/// An endpoint and its signing secret, shown this once.
#[derive(Serialize, ToSchema)]
pub struct WebhookEndpointWithSecret {
    #[serde(flatten)]
    pub endpoint: WebhookEndpointView,
    /// The signing secret (`whsec_` and base64): verify each delivery's
    /// `webhook-signature` with it. Stored sealed; not shown again.
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookEndpointRequest {
    /// An `https` URL on a public address.
    #[schema(example = "https://hooks.example.com/fieldcrm")]
    pub url: String,
    #[schema(example = "Accounting sync")]
    pub description: Option<String>,
    /// The event types to send; leave out for every type.
    #[schema(value_type = Option<Vec<crate::vocabulary::EventTypeName>>, min_items = 1)]
    pub event_types: Option<Vec<String>>,
    /// `thin` (the default) or `full`.
    #[schema(value_type = Option<crate::vocabulary::WebhookPayloadName>)]
    pub payload: Option<String>,
    /// Default `true`.
    pub enabled: Option<bool>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhookEndpointRequest {
    pub url: Option<String>,
    #[serde(default, deserialize_with = "crate::extract::nullable")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// `null` for every type.
    #[serde(default, deserialize_with = "crate::extract::nullable")]
    #[schema(value_type = Option<Vec<crate::vocabulary::EventTypeName>>, min_items = 1)]
    pub event_types: Option<Option<Vec<String>>>,
    #[schema(value_type = Option<crate::vocabulary::WebhookPayloadName>)]
    pub payload: Option<String>,
    /// `true` enables a disabled endpoint again and clears its failures.
    pub enabled: Option<bool>,
}

/// One attempt to deliver an event: never its body.
#[derive(Serialize, ToSchema)]
pub struct WebhookDeliveryView {
    pub id: Uuid,
    /// The event, also the `webhook-id` header of the attempt.
    pub event_id: Uuid,
    #[schema(value_type = crate::vocabulary::EventTypeName, inline)]
    pub event_type: String,
    /// 1 for the first attempt.
    pub attempt: i32,
    /// The receiver's status code, if it answered.
    pub status_code: Option<i32>,
    pub duration_ms: i32,
    /// Why the attempt failed: a status, a timeout, a refused address, a
    /// network error.
    pub error: Option<String>,
    pub attempted_at: DateTime<Utc>,
}

impl From<Delivery> for WebhookDeliveryView {
    fn from(d: Delivery) -> Self {
        WebhookDeliveryView {
            id: d.id.uuid(),
            event_id: d.event_id.uuid(),
            event_type: d.event_type,
            attempt: d.attempt,
            status_code: d.status_code,
            duration_ms: d.duration_ms,
            error: d.error,
            attempted_at: d.attempted_at.get(),
        }
    }
}

/// The event a test or a retry queued.
#[derive(Serialize, ToSchema)]
pub struct QueuedEvent {
    pub event_id: Uuid,
}

fn description(fields: &mut Fields, raw: Option<&str>) -> Option<Option<String>> {
    match raw.map(str::trim).filter(|r| !r.is_empty()) {
        None => Some(None),
        Some(raw) => fields
            .check("description", single_line(raw, MAX_DESCRIPTION))
            .map(Some),
    }
}

fn payload(fields: &mut Fields, raw: Option<&str>) -> Option<Option<PayloadKind>> {
    match raw {
        None => Some(None),
        Some(raw) => fields.check("payload", PayloadKind::parse(raw)).map(Some),
    }
}

fn event_types(fields: &mut Fields, raw: Option<&[String]>) -> Option<Option<Vec<String>>> {
    match raw {
        None => Some(None),
        Some(raw) => fields
            .check("event_types", webhooks::parse_event_types(raw))
            .map(Some),
    }
}

fn url(fields: &mut Fields, raw: &str) -> Option<String> {
    let url = raw.trim();
    if url.is_empty() {
        fields.check::<()>(
            "url",
            Err(fieldcrm_domain::Invalid("must not be empty".into())),
        );
        return None;
    }
    Some(url.to_owned())
}

/// A new endpoint as domain values, with every field's message at once; the
/// web's webhooks page sends the same fields.
pub fn parse_new(body: CreateWebhookEndpointRequest) -> Result<NewEndpoint, Problem> {
    let mut fields = Fields::default();
    let url = url(&mut fields, &body.url);
    let description = description(&mut fields, body.description.as_deref());
    let event_types = event_types(&mut fields, body.event_types.as_deref());
    let payload = payload(&mut fields, body.payload.as_deref());
    fields.finish()?;
    let (Some(url), Some(description), Some(event_types), Some(payload)) =
        (url, description, event_types, payload)
    else {
        return Err(Problem::internal());
    };
    Ok(NewEndpoint {
        url,
        description,
        event_types,
        payload: payload.unwrap_or(PayloadKind::Thin),
        enabled: body.enabled.unwrap_or(true),
    })
}

fn parse_patch(body: UpdateWebhookEndpointRequest) -> Result<EndpointPatch, Problem> {
    let mut fields = Fields::default();
    let mut patch = EndpointPatch {
        enabled: body.enabled,
        ..EndpointPatch::default()
    };
    if let Some(raw) = &body.url {
        patch.url = url(&mut fields, raw);
    }
    if let Some(raw) = &body.description {
        patch.description = description(&mut fields, raw.as_deref());
    }
    if let Some(raw) = &body.event_types {
        patch.event_types = event_types(&mut fields, raw.as_deref());
    }
    if let Some(raw) = &body.payload {
        patch.payload = payload(&mut fields, Some(raw)).flatten();
    }
    fields.finish()?;
    Ok(patch)
}

/// Register a webhook endpoint. The answer holds its signing secret, shown
/// this once. The URL must be `https` and resolve to public addresses only
/// (unless the operator allows private targets); it is checked again on
/// every delivery. At most 20 endpoints per account (409 beyond).
///
/// Permission: `ManageWebhooks`.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = [])),
    request_body = CreateWebhookEndpointRequest,
    responses(
        (status = 201, description = "The endpoint and its secret", body = WebhookEndpointWithSecret),
        (status = 403, description = "The caller may not manage webhooks", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The account has 20 endpoints already", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("")]
pub async fn create_webhook_endpoint(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<CreateWebhookEndpointRequest>,
) -> Result<HttpResponse, Problem> {
    webhooks::authorize_changes(&caller)?;
    let new = parse_new(body.0)?;
    let (endpoint, secret) = webhooks::create(&state, &caller, new).await?;
    Ok(HttpResponse::Created()
        .insert_header((
            actix_web::http::header::LOCATION,
            format!("/v1/webhook-endpoints/{}", endpoint.id.uuid()),
        ))
        .json(WebhookEndpointWithSecret {
            endpoint: endpoint.into(),
            secret,
        }))
}

/// List the account's webhook endpoints (never their secrets).
///
/// Permission: `ManageWebhooks`.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "A page of endpoints", body = Page<WebhookEndpointView>),
        (status = 403, description = "The caller may not manage webhooks", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("")]
pub async fn list_webhook_endpoints(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, Problem> {
    let page = query.parse()?;
    let rows = webhooks::list(&state, &caller, page.after(), page.fetch()).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(
        page,
        rows,
        |e| e.id.uuid(),
        WebhookEndpointView::from,
    )))
}

/// One webhook endpoint (never its secret).
///
/// Permission: `ManageWebhooks`.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The endpoint's id")),
    responses(
        (status = 200, description = "The endpoint", body = WebhookEndpointView),
        (status = 403, description = "The caller may not manage webhooks", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/{id}")]
pub async fn get_webhook_endpoint(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, Problem> {
    let endpoint = webhooks::get(&state, &caller, Id::from_uuid(*path)).await?;
    Ok(HttpResponse::Ok().json(WebhookEndpointView::from(endpoint)))
}

/// Change an endpoint: its URL (checked as on creation), description, event
/// types, payload kind, or whether it is enabled.
///
/// Permission: `ManageWebhooks`.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The endpoint's id")),
    request_body = UpdateWebhookEndpointRequest,
    responses(
        (status = 200, description = "The changed endpoint", body = WebhookEndpointView),
        (status = 403, description = "The caller may not manage webhooks", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The endpoint changed meanwhile", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/{id}")]
pub async fn update_webhook_endpoint(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: Json<UpdateWebhookEndpointRequest>,
) -> Result<HttpResponse, Problem> {
    webhooks::authorize_changes(&caller)?;
    let patch = parse_patch(body.0)?;
    let endpoint = webhooks::update(&state, &caller, Id::from_uuid(*path), patch).await?;
    Ok(HttpResponse::Ok().json(WebhookEndpointView::from(endpoint)))
}

/// Remove an endpoint, its delivery log and its queued deliveries.
///
/// Permission: `ManageWebhooks`.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The endpoint's id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, description = "The caller may not manage webhooks", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/{id}")]
pub async fn delete_webhook_endpoint(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, Problem> {
    webhooks::delete(&state, &caller, Id::from_uuid(*path)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Replace the signing secret. The answer holds the new one, shown this once;
/// for 24 hours the old one keeps signing beside it (both signatures are in
/// `webhook-signature`), so a receiver can switch without losing a delivery.
///
/// Permission: `ManageWebhooks`.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The endpoint's id")),
    responses(
        (status = 200, description = "The endpoint and its new secret", body = WebhookEndpointWithSecret),
        (status = 403, description = "The caller may not manage webhooks", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The endpoint changed meanwhile", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/{id}/rotate-secret")]
pub async fn rotate_webhook_secret(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, Problem> {
    let (endpoint, secret) = webhooks::rotate_secret(&state, &caller, Id::from_uuid(*path)).await?;
    Ok(HttpResponse::Ok().json(WebhookEndpointWithSecret {
        endpoint: endpoint.into(),
        secret,
    }))
}

/// Send a signed `webhook.test` event to this endpoint (only), through the
/// same queue as every delivery; its outcome appears in the delivery log.
///
/// Permission: `ManageWebhooks`.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The endpoint's id")),
    responses(
        (status = 202, description = "Queued", body = QueuedEvent),
        (status = 403, description = "The caller may not manage webhooks", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/{id}/test")]
pub async fn test_webhook_endpoint(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, Problem> {
    let event = webhooks::send_test(&state, &caller, Id::from_uuid(*path)).await?;
    Ok(HttpResponse::Accepted().json(QueuedEvent {
        event_id: event.id.uuid(),
    }))
}

/// The endpoint's delivery log, newest first: one row per attempt, with the
/// status code, duration and error; never the body. Kept as long as events.
///
/// Permission: `ManageWebhooks`.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The endpoint's id"), PageQuery),
    responses(
        (status = 200, description = "A page of attempts", body = Page<WebhookDeliveryView>),
        (status = 403, description = "The caller may not manage webhooks", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/{id}/deliveries")]
pub async fn list_webhook_deliveries(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, Problem> {
    let page = query.parse()?;
    let rows = webhooks::deliveries(
        &state,
        &caller,
        Id::from_uuid(*path),
        page.after(),
        page.fetch(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(
        page,
        rows,
        |d| d.id.uuid(),
        WebhookDeliveryView::from,
    )))
}

/// Send a delivery's event to the endpoint again, now (a new attempt with
/// the same `webhook-id`). 409 once the event is older than the retention.
///
/// Permission: `ManageWebhooks`.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = [])),
    params(
        ("id" = Uuid, Path, description = "The endpoint's id"),
        ("delivery_id" = Uuid, Path, description = "The delivery's id"),
    ),
    responses(
        (status = 202, description = "Queued", body = QueuedEvent),
        (status = 403, description = "The caller may not manage webhooks", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The event is no longer kept", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/{id}/deliveries/{delivery_id}/retry")]
pub async fn retry_webhook_delivery(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, Problem> {
    let (endpoint, delivery) = *path;
    let event = webhooks::retry(
        &state,
        &caller,
        Id::from_uuid(endpoint),
        Id::from_uuid(delivery),
    )
    .await?;
    Ok(HttpResponse::Accepted().json(QueuedEvent {
        event_id: event.uuid(),
    }))
}
