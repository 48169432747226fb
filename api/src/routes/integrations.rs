//! Google: connect, the OAuth redirect target, status, sync, disconnect, and
//! the push-notification receiver.

use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use fieldcrm_db::google::Integration;

use crate::auth::Caller;
use crate::extract::OptionalJson;
use crate::problem::Problem;
use crate::services::google::{self, CallbackInput};
use crate::state::AppState;

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ConnectRequest {
    /// Also ask for permission to send the account's email through Gmail
    /// (scope `https://mail.google.com/`). Default false.
    #[serde(default)]
    pub send_email: bool,
}

#[derive(Serialize, ToSchema)]
pub struct ConnectView {
    /// Send the person here; Google returns them to
    /// `/v1/integrations/google/callback` within 10 minutes.
    pub authorization_url: String,
}

/// The Google connection of the account; no tokens, ever.
#[derive(Serialize, ToSchema)]
pub struct IntegrationView {
    pub connected: bool,
    /// The Google address that granted access.
    pub email: Option<String>,
    pub scopes: Vec<String>,
    /// The calendar appointments sync with.
    pub calendar_id: Option<String>,
    pub last_synced_at: Option<DateTime<Utc>>,
    /// Google refused the grant (revoked or expired): nothing syncs until the
    /// account connects again.
    pub needs_reconnect: bool,
    /// Why the last call to Google failed, if it did.
    pub last_error: Option<String>,
    /// When the push channel ends (it is renewed a day before).
    pub push_channel_expires_at: Option<DateTime<Utc>>,
    pub connected_at: Option<DateTime<Utc>>,
}

impl From<Option<Integration>> for IntegrationView {
    fn from(integration: Option<Integration>) -> Self {
        match integration {
            None => IntegrationView {
                connected: false,
                email: None,
                scopes: Vec::new(),
                calendar_id: None,
                last_synced_at: None,
                needs_reconnect: false,
                last_error: None,
                push_channel_expires_at: None,
                connected_at: None,
            },
            Some(i) => IntegrationView {
                connected: true,
                email: i.email,
                scopes: i.scopes.split(' ').map(str::to_owned).collect(),
                calendar_id: Some(i.calendar_id),
                last_synced_at: i.last_synced_at.map(|t| t.get()),
                needs_reconnect: i.needs_reconnect,
                last_error: i.last_error,
                push_channel_expires_at: i.channel_expires_at.map(|t| t.get()),
                connected_at: Some(i.created_at.get()),
            },
        }
    }
}

/// Start connecting a Google account: returns the consent screen's URL, with
/// PKCE and a single-use `state` bound to the caller. Asks for offline access
/// to calendar events and the address (`openid email`), and for Gmail only
/// when `send_email` is true. Connecting again replaces the earlier grant.
///
/// Roles: owner, admin. API keys: not accepted (the consent screen is a person's).
#[utoipa::path(
    tag = "integrations",
    security(("bearer" = [])),
    request_body(content = Option<ConnectRequest>, description = "Optional"),
    responses(
        (status = 200, description = "The consent screen's URL", body = ConnectView),
        (status = 403, description = "The caller may not change integrations, or is an API key", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`google_not_configured`: this server has no Google OAuth client", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/integrations/google/connect")]
pub async fn connect_google(
    state: web::Data<AppState>,
    caller: Caller,
    body: OptionalJson<ConnectRequest>,
) -> Result<HttpResponse, Problem> {
    let request = body.0.unwrap_or_default();
    let url = google::connect(&state, &caller, request.send_email).await?;
    Ok(HttpResponse::Ok().json(ConnectView {
        authorization_url: url,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    /// The `state` of the consent screen.
    pub state: Option<String>,
    /// The authorization code.
    pub code: Option<String>,
    /// Set instead of `code` when the person declined.
    pub error: Option<String>,
    /// The scopes granted, space-separated (informational).
    pub scope: Option<String>,
}

/// Google's redirect after the consent screen. The `state` must be one this
/// service issued, unused and under 10 minutes old; the code is exchanged with
/// the PKCE verifier, the grant stored sealed (AES-256-GCM), the account's
/// upcoming appointments queued for export and a first sync queued. Opened by
/// the person's browser, so it takes no bearer token: the state is the proof.
///
/// Public: the state names the person.
#[utoipa::path(
    tag = "integrations",
    params(CallbackQuery),
    responses(
        (status = 200, description = "Connected; the new status", body = IntegrationView),
        (status = 400, description = "`invalid_state` (unknown, used or expired state), `consent_refused`, `invalid_code`, `calendar_not_granted`, or no code", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "`google_unavailable`: Google did not complete the exchange", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`google_not_configured`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/integrations/google/callback")]
pub async fn google_callback(
    state: web::Data<AppState>,
    query: web::Query<CallbackQuery>,
) -> Result<HttpResponse, Problem> {
    let query = query.into_inner();
    let integration = google::callback(
        &state,
        CallbackInput {
            state: query.state,
            code: query.code,
            error: query.error,
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(IntegrationView::from(Some(integration))))
}

/// The Google connection: the address, scopes, calendar, last sync, and
/// whether it must be connected again.
///
/// Roles: any. API keys: `read` scope or wider.
#[utoipa::path(
    tag = "integrations",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The status (`connected: false` when there is none)", body = IntegrationView),
    )
)]
#[get("/v1/integrations/google")]
pub async fn google_status(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, Problem> {
    let integration = google::status(&state, &caller).await?;
    Ok(HttpResponse::Ok().json(IntegrationView::from(integration)))
}

/// Run a calendar sync now (it is queued; changes arrive within seconds).
///
/// Roles: owner, admin. API keys: not accepted.
#[utoipa::path(
    tag = "integrations",
    security(("bearer" = [])),
    responses(
        (status = 202, description = "Queued"),
        (status = 403, description = "The caller may not change integrations", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_connected`: no Google account is connected", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`needs_reconnect`: Google refused the grant; connect again", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/integrations/google/sync")]
pub async fn sync_google(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, Problem> {
    google::sync_now(&state, &caller).await?;
    Ok(HttpResponse::Accepted().finish())
}

/// Disconnect Google: the grant is forgotten at once, and a job revokes it at
/// Google and stops the push channel. Appointments, and their events in
/// Google, stay.
///
/// Roles: owner, admin. API keys: not accepted.
#[utoipa::path(
    tag = "integrations",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Disconnected"),
        (status = 403, description = "The caller may not change integrations", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_connected`: no Google account is connected", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`google_not_configured`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/v1/integrations/google")]
pub async fn disconnect_google(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, Problem> {
    google::disconnect(&state, &caller).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Google Calendar's push notification. `X-Goog-Channel-ID` must name a
/// channel this service opened and `X-Goog-Channel-Token` must be its secret;
/// then a sync of that account is queued (`sync`, the channel's first message,
/// only confirms it).
///
/// Public: the channel token is the proof.
#[utoipa::path(
    tag = "integrations",
    params(
        ("X-Goog-Channel-ID" = String, Header, min_length = 1, description = "The channel"),
        ("X-Goog-Channel-Token" = String, Header, min_length = 1, description = "The channel's secret"),
        ("X-Goog-Resource-State" = String, Header, min_length = 1, description = "`sync`, `exists` or `not_exists`"),
    ),
    responses(
        (status = 200, description = "Accepted"),
        (status = 400, description = "A required header is missing", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`invalid_channel_token`: the token is wrong; nothing queued", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such channel (it was replaced or the account disconnected)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/webhooks/google/calendar")]
pub async fn google_calendar_notification(
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, Problem> {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .unwrap_or_default()
    };
    let (channel, token, resource_state) = (
        header("x-goog-channel-id"),
        header("x-goog-channel-token"),
        header("x-goog-resource-state"),
    );
    if channel.is_empty() || token.is_empty() || resource_state.is_empty() {
        return Err(Problem::bad_request(
            "X-Goog-Channel-ID, X-Goog-Channel-Token and X-Goog-Resource-State are required",
        ));
    }
    if channel.len() > 128 || token.len() > 256 {
        return Err(Problem::not_found());
    }
    if google::notification(&state, channel, token, resource_state).await? {
        Ok(HttpResponse::Ok().finish())
    } else {
        Err(Problem::not_found())
    }
}
