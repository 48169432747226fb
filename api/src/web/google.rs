//! The Google connection: its state, connecting (Google's consent screen, then
//! back here to confirm), a sync now, and disconnecting. The same use cases as
//! `/v1/integrations/google`; the consent screen returns to this app's own
//! page, which the connect use case allows as a `return_url`.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use maud::{html, Markup};
use serde::Deserialize;

use fieldcrm_app::google_sync;
use fieldcrm_app::AppState;
use fieldcrm_domain::Action;

use super::auth::CsrfOnly;
use super::content_security_policy;
use super::error::PageError;
use super::forms::csrf_input;
use super::layout::{self, Section};
use super::see_other;
use super::session::SignedIn;
use super::words;
use crate::routes::integrations::IntegrationView;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/settings/google", web::get().to(show))
        .route("/settings/google/connect", web::post().to(connect))
        .route("/settings/google/return", web::get().to(returned))
        .route("/settings/google/confirm", web::post().to(confirm))
        .route("/settings/google/sync", web::post().to(sync))
        .route("/settings/google/disconnect", web::post().to(disconnect));
}

const HERE: &str = "/app/settings/google";

/// What a scope lets fieldcrm do, in words.
fn scope_words(scope: &str) -> Option<&'static str> {
    match scope {
        fieldcrm_google::SCOPE_CALENDAR_EVENTS => Some("Read and write calendar events"),
        fieldcrm_google::SCOPE_GMAIL => Some("Send the account's email through Gmail"),
        _ => None,
    }
}

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

/// What the page says was just done, from its `?done=` (a fixed word, so the
/// address cannot put other text on the page).
fn done_words(done: Option<&str>) -> Option<&'static str> {
    match done? {
        "connected" => {
            Some("Google is connected. Upcoming appointments are being copied to the calendar.")
        }
        "sync" => Some("A sync has started; changes arrive within seconds."),
        "disconnected" => {
            Some("Google is disconnected. Appointments, and their events in Google, stay.")
        }
        _ => None,
    }
}

pub async fn show(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    query: web::Query<Done>,
) -> Result<HttpResponse, PageError> {
    let status = IntegrationView::from(google_sync::status(&state, &signed_in.caller).await?);
    let zone = words::zone(&state, &signed_in).await?;
    let when = |at: Option<chrono::DateTime<chrono::Utc>>| {
        at.map_or_else(|| "—".to_owned(), |at| words::moment(at, zone))
    };
    let configured = state.outbound.google.is_some();
    let may_change = signed_in.caller.require(Action::ManageAccount).is_ok();
    let csrf = signed_in.csrf();
    let content = html! {
        p { a href="/app/settings" { "Settings" } }
        h1 { "Google Calendar" }
        @if let Some(done) = done_words(query.done.as_deref()) {
            div class="notice saved" role="status" { p { (done) } }
        }
        p { "Appointments are copied to the connected Google calendar, and changes made there come back: times, titles, and events that invite a technician. Email can go out through the same Google account's Gmail." }
        @if status.connected {
            @if status.needs_reconnect {
                div class="notice" role="alert" {
                    p { "Google refused the connection (it was revoked or expired). Nothing syncs until it is connected again." }
                }
            }
            dl class="details" {
                dt { "Google account" } dd { (status.email.as_deref().unwrap_or("—")) }
                dt { "Calendar" } dd { (status.calendar_id.as_deref().unwrap_or("—")) }
                dt { "Allowed" } dd {
                    @let allowed: Vec<&str> = status.scopes.iter().filter_map(|s| scope_words(s)).collect();
                    (allowed.join("; "))
                }
                dt { "Connected" } dd { (when(status.connected_at)) }
                dt { "Last sync" } dd { (when(status.last_synced_at)) }
                dt { "Last error" } dd { (status.last_error.as_deref().unwrap_or("None")) }
            }
        } @else {
            p { "No Google account is connected." }
        }
        @if !configured {
            p { "This server has no Google OAuth client. Whoever runs it sets FIELDCRM_GOOGLE_CLIENT_ID, FIELDCRM_GOOGLE_CLIENT_SECRET and FIELDCRM_TOKEN_ENCRYPTION_KEYS (see the README)." }
        } @else if !may_change {
            p { "Only an owner or an admin can connect or disconnect Google." }
        } @else {
            (connect_form(&csrf, status.connected))
            @if status.connected {
                div class="actions" {
                    @if !status.needs_reconnect {
                        form method="post" action=(format!("{HERE}/sync")) {
                            (csrf_input(&csrf))
                            button type="submit" { "Sync now" }
                        }
                    }
                    form method="post" action=(format!("{HERE}/disconnect"))
                        data-confirm="Disconnect Google? Appointments stop being copied; events already in the calendar stay." {
                        (csrf_input(&csrf))
                        button class="danger" type="submit" { "Disconnect" }
                    }
                }
            }
        }
    };
    let mut response = layout::frame(
        &signed_in,
        Section::Settings,
        StatusCode::OK,
        "Google Calendar",
        content,
    );
    // The connect form's answer sends the browser on to Google's consent
    // screen, which `form-action` must allow.
    if configured {
        let policy = content_security_policy(None, false, state.settings.google_consent_origin());
        if let Ok(policy) = HeaderValue::from_str(&policy) {
            response
                .headers_mut()
                .insert(header::CONTENT_SECURITY_POLICY, policy);
        }
    }
    Ok(response)
}

fn connect_form(csrf: &str, connected: bool) -> Markup {
    html! {
        form class="stack" method="post" action=(format!("{HERE}/connect")) {
            (csrf_input(csrf))
            div class="field" {
                label class="choice" {
                    input type="checkbox" name="send_email" value="true";
                    " Also send this account's email through Gmail"
                }
            }
            div {
                button type="submit" {
                    @if connected { "Connect again" } @else { "Connect Google" }
                }
            }
            p class="hint" { "Google asks you to choose an account and allow access, then sends you back here to finish." }
        }
    }
}

#[derive(Deserialize, Default)]
pub struct ConnectForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    send_email: String,
}

pub async fn connect(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    form: web::Form<ConnectForm>,
) -> Result<HttpResponse, PageError> {
    signed_in.check_csrf(&form.csrf)?;
    let return_url = format!("{}{HERE}/return", state.outbound.public_base_url);
    let consent_screen = google_sync::connect(
        &state,
        &signed_in.caller,
        form.send_email == "true",
        Some(return_url),
    )
    .await?;
    Ok(see_other(&consent_screen))
}

/// Where Google's consent screen sends the browser back (by way of the API's
/// callback), with `#google_confirmation=…` or `#google_error=…`. A fragment
/// never reaches the server: the script moves it into the form and sends it;
/// without the script, the person copies it from the address bar.
pub async fn returned(signed_in: SignedIn) -> Result<HttpResponse, PageError> {
    signed_in.caller.require(Action::ManageAccount)?;
    let content = html! {
        p { a href=(HERE) { "Google Calendar" } }
        h1 { "Finish connecting Google" }
        form class="stack" method="post" action=(format!("{HERE}/confirm"))
            data-from-fragment="google_confirmation google_error" {
            (csrf_input(&signed_in.csrf()))
            input type="hidden" name="google_error" value="";
            div class="field" {
                label for="f-google_confirmation" { "Confirmation from Google" }
                p class="hint" id="f-google_confirmation-hint" {
                    "Filled in by this page. Without JavaScript, copy what follows "
                    code { "#google_confirmation=" } " in the address bar."
                }
                input id="f-google_confirmation" name="google_confirmation" type="text"
                    autocomplete="off" aria-describedby="f-google_confirmation-hint";
            }
            div { button type="submit" { "Finish connecting" } }
        }
    };
    Ok(layout::frame(
        &signed_in,
        Section::Settings,
        StatusCode::OK,
        "Finish connecting Google",
        content,
    ))
}

#[derive(Deserialize, Default)]
pub struct ConfirmForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    google_confirmation: String,
    #[serde(default)]
    google_error: String,
}

pub async fn confirm(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    form: web::Form<ConfirmForm>,
) -> Result<HttpResponse, PageError> {
    signed_in.check_csrf(&form.csrf)?;
    if !form.google_error.is_empty() {
        return Err(google_sync::declined(&form.google_error).into());
    }
    google_sync::confirm(&state, &signed_in.caller, form.google_confirmation.trim()).await?;
    Ok(see_other(&format!("{HERE}?done=connected")))
}

pub async fn sync(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    signed_in.check_csrf(&form.csrf)?;
    google_sync::sync_now(&state, &signed_in.caller).await?;
    Ok(see_other(&format!("{HERE}?done=sync")))
}

pub async fn disconnect(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    signed_in.check_csrf(&form.csrf)?;
    google_sync::disconnect(&state, &signed_in.caller).await?;
    Ok(see_other(&format!("{HERE}?done=disconnected")))
}
