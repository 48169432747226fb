//! Signing in and out in a browser, with the API's sign-in use case and its
//! limits.

use std::time::Duration;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use maud::html;
use serde::Deserialize;

use fieldcrm_app::accounts::auth::{self, BrowserSession};
use fieldcrm_app::auth::tokens::new_secret;
use fieldcrm_app::AppState;

use super::error::PageError;
use super::forms::{csrf_input, input, Input, Messages};
use super::layout;
use super::see_other;
use super::session::{cookie, removal, sign_in_binding, SignedIn, SESSION_COOKIE, SIGN_IN_COOKIE};
use crate::auth::client_address;
use crate::problem::Problem;

/// How long a sign-in or sign-up page may stay open before its form is out of date.
pub const SIGN_IN_FORM_LASTS: Duration = Duration::from_secs(3600);

/// The start page: the office's appointments; a technician's day.
pub async fn home(signed_in: SignedIn) -> Result<HttpResponse, PageError> {
    Ok(see_other(if signed_in.is_office() {
        "/app/appointments"
    } else {
        "/app/today"
    }))
}

pub async fn sign_in_page(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    sign_in_form(&state, &req, StatusCode::OK, "", None)
}

/// The sign-in form, bound to the browser's sign-in cookie (made here when it
/// has none), with `email` kept and `notice` above it.
fn sign_in_form(
    state: &AppState,
    req: &HttpRequest,
    status: StatusCode,
    email: &str,
    notice: Option<&str>,
) -> HttpResponse {
    let value = sign_in_cookie_value(req);
    let csrf = state.tokens.csrf_token(&sign_in_binding(&value));
    let none = Messages::default();
    let markup = layout::page(
        "Sign in",
        None,
        html! {
            h1 { "Sign in" }
            @if let Some(notice) = notice {
                div class="notice" role="alert" { p { (notice) } }
            }
            form class="stack" method="post" action="/app/sign-in" {
                (csrf_input(&csrf))
                (input(&Input { name: "email", label: "Email address", value: email, kind: "email",
                    autocomplete: "username", required: true, hint: None }, &none))
                (input(&Input { name: "password", label: "Password", value: "", kind: "password",
                    autocomplete: "current-password", required: true, hint: None }, &none))
                div { button type="submit" { "Sign in" } }
            }
            p { "New here? " a href="/app/sign-up" { "Create an account" } " for your business." }
        },
    );
    let mut response = layout::html(status, markup);
    // Failing to set the cookie only means the form will be refused.
    let _ = response.add_cookie(&cookie(state, SIGN_IN_COOKIE, value, SIGN_IN_FORM_LASTS));
    response
}

/// The browser's sign-in cookie, or a new random one to set: the forms of
/// people not signed in (sign-in, sign-up) are bound to it.
pub fn sign_in_cookie_value(req: &HttpRequest) -> String {
    req.cookie(SIGN_IN_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 64)
        .unwrap_or_else(|| new_secret(""))
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

pub async fn sign_in(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<SignInForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    let bound = req.cookie(SIGN_IN_COOKIE).is_some_and(|c| {
        state
            .tokens
            .check_csrf(&sign_in_binding(c.value()), &form.csrf)
    });
    if !bound {
        return Err(PageError::forbidden_form());
    }
    let client = client_address(&req, &state.settings);
    match auth::start_browser_session(&state, &form.email, form.password, client).await {
        Ok(session) => signed_in(&state, session),
        Err(err) => {
            let problem = Problem::from(err);
            let notice = match problem.status {
                StatusCode::UNAUTHORIZED => "The email address or password is wrong.".to_owned(),
                StatusCode::TOO_MANY_REQUESTS => format!(
                    "Too many attempts: {}.",
                    problem.detail.as_deref().unwrap_or("try again later")
                ),
                _ => return Err(PageError::Problem(problem)),
            };
            let mut response =
                sign_in_form(&state, &req, problem.status, &form.email, Some(&notice));
            if let Some(retry) = problem.header(header::RETRY_AFTER) {
                response.headers_mut().insert(header::RETRY_AFTER, retry);
            }
            Ok(response)
        }
    }
}

/// To the start page with the new session's cookie; the sign-in cookie has
/// served its purpose.
pub fn signed_in(state: &AppState, session: BrowserSession) -> Result<HttpResponse, PageError> {
    let mut response = see_other("/app/");
    response
        .add_cookie(&cookie(state, SESSION_COOKIE, session.token, session.lasts))
        .map_err(|err| Problem::internal_from(&err))?;
    response
        .add_removal_cookie(&removal(state, SIGN_IN_COOKIE))
        .map_err(|err| Problem::internal_from(&err))?;
    Ok(response)
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    pub csrf: String,
}

/// Ends the session on the refresh chain, as `POST /v1/auth/logout` does.
pub async fn sign_out(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    signed_in.check_csrf(&form.csrf)?;
    auth::logout(&state, &signed_in.caller).await?;
    let mut response = see_other("/app/sign-in");
    response
        .add_removal_cookie(&removal(&state, SESSION_COOKIE))
        .map_err(|err| Problem::internal_from(&err))?;
    Ok(response)
}
