//! Google: connect, the OAuth redirect target and its confirmation in the
//! app, status, sync, disconnect, and the push-notification receiver.

use actix_web::http::header;
use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use fieldcrm_db::google::Integration;

use crate::auth::Caller;
use crate::extract::{Json, OptionalJson};
use crate::problem::Problem;
use fieldcrm_app::google_sync::{self, CallbackInput, Returned};
use fieldcrm_app::state::AppState;

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ConnectRequest {
    /// Also ask for permission to send the account's email through Gmail
    /// (scope `https://mail.google.com/`). Default false.
    #[serde(default)]
    pub send_email: bool,
    /// Where the person's browser goes once Google is done, with
    /// `#google_confirmation=<confirmation>` added: a page of the app that
    /// confirms it (`POST /v1/integrations/google/confirm`); if the person
    /// declines, `#google_error=<Google's error>` instead. Must be on an
    /// origin of `FIELDCRM_CORS_ALLOWED_ORIGINS` or a page of this server's
    /// web app (under `/app/`). Without it the callback shows the
    /// confirmation, or answers 400 when declined.
    #[schema(
        max_length = 2048,
        example = "https://dashboard.example.com/settings/google"
    )]
    pub return_url: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ConnectView {
    /// Send the person here; Google returns them to
    /// `/v1/integrations/google/callback` within 10 minutes.
    pub authorization_url: String,
}

/// A consent answered in a browser: nothing is connected until the person
/// who started connecting confirms it, signed in.
#[derive(Serialize, ToSchema)]
pub struct ConsentView {
    /// Confirm with this at `POST /v1/integrations/google/confirm`, as the
    /// person who started connecting. Enter it nowhere else.
    pub confirmation: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmRequest {
    /// What the callback gave the browser.
    #[schema(min_length = 1, max_length = 512)]
    pub confirmation: String,
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
/// when `send_email` is true. Nothing is connected until the caller confirms
/// what the browser brings back (`/v1/integrations/google/confirm`).
/// Connecting again replaces the earlier grant; see the README for what
/// connecting the same or another Google account keeps.
///
/// Permission: `ManageAccount`.
#[utoipa::path(
    tag = "integrations",
    security(("bearer" = [])),
    request_body(content = Option<ConnectRequest>, description = "Optional"),
    responses(
        (status = 200, description = "The consent screen's URL", body = ConnectView),
        (status = 403, description = "The caller may not change integrations, or is an API key", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`return_url` is not on an allowed origin or this server's web app", body = Problem, content_type = "application/problem+json"),
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
    let url = google_sync::connect(&state, &caller, request.send_email, request.return_url).await?;
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
/// service issued, unused and under 10 minutes old. Nothing is connected
/// here, since anyone holding a consent URL could finish it in any browser:
/// the code is kept sealed, and this browser gets a confirmation that only
/// the person who started connecting can use, signed in, within 10 minutes
/// (`POST /v1/integrations/google/confirm`). With a `return_url` the browser
/// is sent there with `#google_confirmation=<confirmation>`, or with
/// `#google_error=<Google's error>` when the person declined; otherwise the
/// confirmation is the answer.
///
/// Public: the state names the consent screen.
#[utoipa::path(
    tag = "integrations",
    params(CallbackQuery),
    responses(
        (status = 200, description = "Consent answered; confirm it in the app", body = ConsentView),
        (status = 303, description = "Consent answered: on to the `return_url`, the confirmation in its fragment; or declined at Google when connecting named a `return_url`: on to it with Google's `error` in the fragment", headers(("Location" = String, description = "The return URL with `#google_confirmation=...` or `#google_error=...` (such as `access_denied`)"))),
        (status = 400, description = "`invalid_state` (unknown, used or expired state), `consent_refused` (declined, and connecting named no `return_url`), or no code", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`google_not_configured`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/integrations/google/callback")]
pub async fn google_callback(
    state: web::Data<AppState>,
    query: web::Query<CallbackQuery>,
) -> Result<HttpResponse, Problem> {
    let query = query.into_inner();
    let returned = google_sync::callback(
        &state,
        CallbackInput {
            state: query.state,
            code: query.code,
            error: query.error,
        },
    )
    .await?;
    let answered = match returned {
        Returned::Answered(answered) => answered,
        Returned::Declined { return_url, error } => {
            return Ok(HttpResponse::SeeOther()
                .insert_header((
                    header::LOCATION,
                    format!("{return_url}#google_error={error}"),
                ))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .finish())
        }
    };
    // The confirmation must stay out of caches and referrers.
    let mut response = match &answered.return_url {
        Some(url) => {
            let mut response = HttpResponse::SeeOther();
            response.insert_header((
                header::LOCATION,
                format!("{url}#google_confirmation={}", answered.confirmation),
            ));
            response
        }
        None => HttpResponse::Ok(),
    };
    response
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"));
    Ok(match answered.return_url {
        Some(_) => response.finish(),
        None => response.json(ConsentView {
            confirmation: answered.confirmation,
            expires_at: answered.expires_at.get(),
        }),
    })
}

/// Finish connecting Google: the person who started connecting, signed in,
/// confirms the consent their browser answered. The code is exchanged with
/// the PKCE verifier, the grant stored sealed (AES-256-GCM), the account's
/// upcoming appointments queued for export and a first sync queued. A
/// confirmation is single use: shown by anyone else, it is refused and gone.
///
/// Permission: `ManageAccount`. Only the one who started connecting may confirm.
#[utoipa::path(
    tag = "integrations",
    security(("bearer" = [])),
    request_body = ConfirmRequest,
    responses(
        (status = 200, description = "Connected; the new status", body = IntegrationView),
        (status = 400, description = "`invalid_confirmation` (unknown, used, expired, or another person's), `invalid_code`, `calendar_not_granted`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller may not change integrations, or is an API key", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "`google_unavailable`: Google did not complete the exchange", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`google_not_configured`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/integrations/google/confirm")]
pub async fn confirm_google(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<ConfirmRequest>,
) -> Result<HttpResponse, Problem> {
    let integration = google_sync::confirm(&state, &caller, &body.0.confirmation).await?;
    Ok(HttpResponse::Ok().json(IntegrationView::from(Some(integration))))
}

/// The Google connection: the address, scopes, calendar, last sync, and
/// whether it must be connected again.
///
/// Permission: `ViewAccount`.
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
    let integration = google_sync::status(&state, &caller).await?;
    Ok(HttpResponse::Ok().json(IntegrationView::from(integration)))
}

/// Run a calendar sync now (it is queued; changes arrive within seconds).
///
/// Permission: `ManageAccount`.
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
    google_sync::sync_now(&state, &caller).await?;
    Ok(HttpResponse::Accepted().finish())
}

/// Disconnect Google: the grant is forgotten at once, and a job revokes it at
/// Google and stops the push channel. Appointments, and their events in
/// Google, stay.
///
/// Permission: `ManageAccount`.
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
    google_sync::disconnect(&state, &caller).await?;
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
    if google_sync::notification(&state, channel, token, resource_state).await? {
        Ok(HttpResponse::Ok().finish())
    } else {
        Err(Problem::not_found())
    }
}
