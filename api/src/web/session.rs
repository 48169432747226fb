//! A browser's session: the cookie that carries it and the CSRF token bound
//! to it.
//!
//! The cookie holds a token the app signs like an access token but for the
//! browser audience (`accounts::auth::start_browser_session`): no session store
//! beyond the refresh chain it belongs to, and every request checks that chain,
//! the user and their token version, as a bearer token is checked, so signing
//! out, a new password and the removal of the user or the account end it at
//! once. The token expires after `FIELDCRM_WEB_IDLE_TIMEOUT_SECS` and is issued
//! again while the person uses the pages (`keep_renewed_session`), never past
//! the refresh lifetime from signing in. jsonwebtoken already signs and checks
//! the API's tokens; a second signing scheme (the cookie crate's signed jar,
//! actix-session) would add a key and a format, and actix-session's stores know
//! nothing of the refresh chain.
//!
//! CSRF tokens are a MAC of the session's id under a server key: nothing stored,
//! the same on every form of a session, worthless to another session.

use std::future::Future;
use std::pin::Pin;

use actix_web::body::MessageBody;
use actix_web::cookie::{time, Cookie, SameSite};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};

use fieldcrm_app::accounts::auth::{authenticate_browser, BrowserSession};
use fieldcrm_app::caller::Principal;
use fieldcrm_app::{AppState, Caller};
use fieldcrm_domain::Action;

use super::error::PageError;
use crate::problem::Problem;

/// The session cookie.
pub const SESSION_COOKIE: &str = "fieldcrm_session";
/// A random value given to a browser before it signs in, which the sign-in
/// form's CSRF token is bound to.
pub const SIGN_IN_COOKIE: &str = "fieldcrm_sign_in";

/// A cookie of the web app: script cannot read it, other sites' links carry it
/// only on top-level GETs, and only pages under `/app` receive it; `Secure`
/// when the public base URL is https.
pub fn cookie(
    state: &AppState,
    name: &'static str,
    value: String,
    lasts: std::time::Duration,
) -> Cookie<'static> {
    let secure = state
        .settings
        .public_base_url
        .as_deref()
        .is_some_and(|url| url.starts_with("https://"));
    Cookie::build(name, value)
        .path("/app")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(time::Duration::seconds(
            i64::try_from(lasts.as_secs()).unwrap_or(i64::MAX),
        ))
        .finish()
}

/// The same cookie, ended.
pub fn removal(state: &AppState, name: &'static str) -> Cookie<'static> {
    let mut cookie = cookie(state, name, String::new(), std::time::Duration::ZERO);
    cookie.make_removal();
    cookie
}

/// Binds the CSRF token of a session's forms to the session.
fn session_binding(caller: &Caller) -> Option<Vec<u8>> {
    match caller.principal {
        Principal::User { session, .. } => {
            Some([b"session:".as_slice(), session.uuid().as_bytes()].concat())
        }
        Principal::ApiKey { .. } => None,
    }
}

/// Binds the sign-in form's CSRF token to the browser's sign-in cookie.
pub fn sign_in_binding(value: &str) -> Vec<u8> {
    [b"sign-in:".as_slice(), value.as_bytes()].concat()
}

/// A person signed in in this browser; otherwise the page sends them to the
/// sign-in page.
pub struct SignedIn {
    pub caller: Caller,
    state: web::Data<AppState>,
}

impl SignedIn {
    /// The token their forms carry.
    pub fn csrf(&self) -> String {
        session_binding(&self.caller)
            .map(|binding| self.state.tokens.csrf_token(&binding))
            .unwrap_or_default()
    }

    /// 403 unless `token` is this session's: checked before a form is read
    /// further, so a forged form changes nothing.
    pub fn check_csrf(&self, token: &str) -> Result<(), PageError> {
        match session_binding(&self.caller) {
            Some(binding) if self.state.tokens.check_csrf(&binding, token) => Ok(()),
            _ => Err(PageError::forbidden_form()),
        }
    }

    /// The office's pages: for those who manage customers (owner, admin,
    /// dispatcher in the permission table).
    pub fn office(&self) -> Result<(), PageError> {
        Ok(self.caller.require(Action::ManageCustomers)?)
    }

    /// Whether the office's pages are theirs (otherwise, a technician's).
    pub fn is_office(&self) -> bool {
        self.caller.require(Action::ManageCustomers).is_ok()
    }
}

impl FromRequest for SignedIn {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, PageError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned());
        let req = req.clone();
        Box::pin(async move {
            let state = state.ok_or_else(|| Problem::internal_from(&"AppState missing"))?;
            let token = token.ok_or(PageError::SignIn)?;
            let (caller, renewed) = authenticate_browser(&state, &token).await?;
            if let Some(renewed) = renewed {
                req.extensions_mut().insert(Renewed(renewed));
            }
            Ok(SignedIn { caller, state })
        })
    }
}

/// A session token issued again while the request was answered, for the
/// response to hand to the browser (`keep_renewed_session`).
struct Renewed(BrowserSession);

/// Gives the browser its renewed session token, so its idle timeout starts
/// again; not when the answer sets or ends the session itself (signing in or
/// out, a deleted account).
pub async fn keep_renewed_session(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut res = next.call(req).await?;
    let renewed = res.request().extensions_mut().remove::<Renewed>();
    let state = res.request().app_data::<web::Data<AppState>>().cloned();
    let sets_its_own = res
        .response()
        .cookies()
        .any(|cookie| cookie.name() == SESSION_COOKIE);
    if let (Some(Renewed(session)), Some(state), false) = (renewed, state, sets_its_own) {
        res.response_mut().add_cookie(&cookie(
            &state,
            SESSION_COOKIE,
            session.token,
            session.lasts,
        ))?;
    }
    Ok(res)
}
