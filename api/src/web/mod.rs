//! The web app at `/app/`: pages for people in browsers, a second adapter
//! beside the JSON routes. Every page calls the use cases the JSON handlers
//! call, with the same `Caller`, and parses input with the same functions;
//! nothing here decides a rule of the business.
//!
//! Pages are written with maud: templates are Rust, checked by the compiler and
//! built into the binary, and every value is escaped unless marked otherwise.
//! (askama would need template files beside the code and a second syntax.)
//!
//! A signed-in browser holds a session cookie (`session`); every form carries a
//! CSRF token bound to it (`session::SignedIn::check_csrf`); every page is sent
//! with a Content-Security-Policy that allows no inline script or style.

mod account;
mod address;
mod api_keys;
mod appointments;
mod assets;
mod auth;
mod devices;
mod error;
mod forms;
mod google;
mod layout;
mod messages;
mod people;
mod reminders;
mod session;
mod settings;
mod technician;
mod tracking;
mod users;
mod webhooks;
mod words;

use actix_web::http::header::{self, HeaderName};
use actix_web::middleware::{from_fn, DefaultHeaders};
use actix_web::{web, HttpResponse};

use crate::problem::Problem;
use error::PageError;

/// The pages' headers, where a handler set none of its own (the stylesheet
/// sets its cache lifetime).
fn page_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((
            header::CONTENT_SECURITY_POLICY,
            content_security_policy(None, false, None),
        ))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "same-origin"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::CACHE_CONTROL, "no-store"))
        .add((
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ))
}

/// The pages' Content-Security-Policy. A map page may also show images from
/// the origin of the tile server the operator configured, a page that
/// refreshes itself may fetch from the server, and a form whose answer sends
/// the browser on to another site (Google's consent screen) may go there.
pub(crate) fn content_security_policy(
    tile_origin: Option<&str>,
    fetches_itself: bool,
    form_sends_on_to: Option<&str>,
) -> String {
    let images = match tile_origin {
        Some(origin) => format!("'self' data: {origin}"),
        None => "'self' data:".to_owned(),
    };
    let connect = if fetches_itself {
        " connect-src 'self';"
    } else {
        ""
    };
    let forms = match form_sends_on_to {
        Some(origin) => format!("'self' {origin}"),
        None => "'self'".to_owned(),
    };
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src {images};{connect} \
         form-action {forms}; frame-ancestors 'none'; base-uri 'none'"
    )
}

/// A path of the people pages, whose first segment is the stage.
macro_rules! people_path {
    ($rest:literal) => {
        concat!("/{people:customers|prospects}", $rest)
    };
}

/// Registers `/` (a redirect to the web app) and every page under `/app`.
/// Pages are not part of the API, so they stay out of the OpenAPI document.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(to_app)).service(
        web::scope("/app")
            .wrap(from_fn(session::keep_renewed_session))
            .wrap(page_headers())
            // Notes may be 5,000 characters of any script.
            .app_data(
                web::FormConfig::default()
                    .limit(64 * 1024)
                    .error_handler(|err, _| error::unreadable_form(err).into()),
            )
            .app_data(
                web::QueryConfig::default()
                    .error_handler(|err, _| error::unreadable_query(err).into()),
            )
            .app_data(
                web::PathConfig::default()
                    .error_handler(|_, _| PageError::Problem(Problem::not_found()).into()),
            )
            .route("", web::get().to(to_app))
            .route("/", web::get().to(auth::home))
            .route("/static/{file}", web::get().to(assets::asset))
            .route("/sign-in", web::get().to(auth::sign_in_page))
            .route("/sign-in", web::post().to(auth::sign_in))
            .route("/sign-out", web::post().to(auth::sign_out))
            .configure(account::configure)
            .configure(appointments::configure)
            .configure(tracking::configure)
            .configure(technician::configure)
            .configure(users::configure)
            .configure(messages::configure)
            .configure(settings::configure)
            .configure(google::configure)
            .configure(devices::configure)
            .configure(api_keys::configure)
            .configure(webhooks::configure)
            .route(people_path!(""), web::get().to(people::list))
            .route(people_path!(""), web::post().to(people::create))
            .route(people_path!("/new"), web::get().to(people::new_form))
            .route(people_path!("/{id}"), web::get().to(people::show))
            .route(people_path!("/{id}"), web::post().to(people::update))
            .route(people_path!("/{id}/edit"), web::get().to(people::edit_form))
            .route(
                people_path!("/{id}/consent"),
                web::post().to(people::record_consent),
            )
            .route(
                people_path!("/{id}/convert"),
                web::post().to(people::convert),
            )
            .route(
                people_path!("/{id}/erase"),
                web::get().to(people::erase_form),
            )
            .route(people_path!("/{id}/erase"), web::post().to(people::erase))
            .default_service(web::to(error::not_found)),
    );
}

async fn to_app() -> HttpResponse {
    see_other("/app/")
}

/// 303: after a form, the browser follows with a GET.
pub(crate) fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}
