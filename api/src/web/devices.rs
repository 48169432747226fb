//! A person's phones: the tracker apps that send their positions (Traccar
//! Client, Overland, OwnTracks, GPSLogger), each with a token of its own. A new
//! one is shown with its QR code and setup links, this once; the shift rule
//! still decides which positions are kept.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use maud::{html, Markup};
use serde::Deserialize;
use uuid::Uuid;

use fieldcrm_app::paging::PageRequest;
use fieldcrm_app::time_clock::devices;
use fieldcrm_app::AppState;
use fieldcrm_db::users::User;
use fieldcrm_db::Id;

use super::auth::CsrfOnly;
use super::error::PageError;
use super::forms::{csrf_input, input, row_button, summary, Input, Messages};
use super::layout::{self, Section};
use super::see_other;
use super::session::SignedIn;
use super::words;
use crate::problem::Problem;
use crate::routes::devices::{device_setup, parse_label, DeviceSetup};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/my-devices", web::get().to(mine))
        .route("/users/{id}/devices", web::get().to(list))
        .route("/users/{id}/devices", web::post().to(issue))
        .route(
            "/users/{id}/devices/{device_id}/revoke",
            web::post().to(revoke),
        );
}

/// The phones a person may have at once, as the page lists them.
const DEVICES_SHOWN: i64 = 50;

fn id_of<T>(raw: &str) -> Result<Id<T>, PageError> {
    Uuid::parse_str(raw)
        .map(Id::from_uuid)
        .map_err(|_| Problem::not_found().into())
}

/// Where the signed-in person's own phones are.
pub async fn mine(signed_in: SignedIn) -> Result<HttpResponse, PageError> {
    let (me, _) = signed_in
        .caller
        .user()
        .ok_or_else(|| Problem::forbidden("only a person has phones"))?;
    Ok(see_other(&format!("/app/users/{}/devices", me.uuid())))
}

/// The office reaches a person's phones from the users page; a technician
/// has their own in the navigation.
fn section(signed_in: &SignedIn) -> Section {
    if signed_in.is_office() {
        Section::Users
    } else {
        Section::MyDevices
    }
}

pub async fn list(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let user = id_of::<User>(&path)?;
    page(
        &state,
        &signed_in,
        user,
        StatusCode::OK,
        "",
        &Messages::default(),
    )
    .await
}

async fn page(
    state: &AppState,
    signed_in: &SignedIn,
    user: Id<User>,
    status: StatusCode,
    label: &str,
    messages: &Messages,
) -> Result<HttpResponse, PageError> {
    let first = PageRequest {
        after: None,
        limit: DEVICES_SHOWN,
    };
    let rows = devices::list(state, &signed_in.caller, user, first).await?;
    let zone = words::zone(state, signed_in).await?;
    let when = |ts: fieldcrm_db::Ts| words::moment(ts.get(), zone);
    let csrf = signed_in.csrf();
    let here = format!("/app/users/{}/devices", user.uuid());
    let content = html! {
        h1 { "Phones that send positions" }
        p { "Each phone's tracker app sends positions with a token of its own. Positions are kept only while their person is clocked in, whatever the app sends." }
        @if rows.is_empty() {
            p { "No phone yet." }
        } @else {
            table {
                caption { "Phones, newest first" }
                thead { tr {
                    th scope="col" { "Name" } th scope="col" { "Token starts" } th scope="col" { "Last heard from" }
                    th scope="col" { "Positions kept" } th scope="col" { "Outside shifts" } th scope="col" { "Status" }
                } }
                tbody {
                    @for device in &rows {
                        tr {
                            th scope="row" { (device.label) }
                            td { code { (device.prefix) } }
                            td { (device.last_seen_at.map(when).unwrap_or_else(|| "Never".into())) }
                            td { (device.stored) }
                            td { (device.outside_shift) }
                            td {
                                @if let Some(revoked) = device.revoked_at {
                                    "Turned off " (when(revoked))
                                } @else {
                                    (row_button(&format!("{here}/{}/revoke", device.id.uuid()), &csrf, "Turn off", &device.label,
                                        Some(&format!("Turn off {}? Its app's positions are refused from then on.", device.label))))
                                }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="add-heading" {
            h2 id="add-heading" { "Add a phone" }
            (summary(messages))
            form class="stack" method="post" action=(here) {
                (csrf_input(&csrf))
                (input(&Input { name: "label", label: "A name for the phone", value: label, kind: "text",
                    autocomplete: "off", required: true, hint: Some("Such as “Tom's Android”: shown here and in the app.") }, messages))
                div { button type="submit" { "Add and show the setup" } }
            }
        }
    };
    Ok(layout::frame(
        signed_in,
        section(signed_in),
        status,
        "Phones",
        content,
    ))
}

#[derive(Deserialize)]
pub struct NewDevice {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    label: String,
}

/// Issues the token and shows its setup at once: it is never shown again, so
/// this answer is a page, not a redirect.
pub async fn issue(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<String>,
    form: web::Form<NewDevice>,
) -> Result<HttpResponse, PageError> {
    signed_in.check_csrf(&form.csrf)?;
    let user = id_of::<User>(&path)?;
    let issued = match parse_label(&form.label) {
        Ok(label) => devices::issue(&state, &signed_in.caller, user, label)
            .await
            .map_err(Problem::from),
        Err(problem) => Err(problem),
    };
    let (device, token) = match issued {
        Ok(issued) => issued,
        Err(problem) if problem.status == StatusCode::UNPROCESSABLE_ENTITY => {
            let messages = Messages(problem.errors);
            return page(
                &state,
                &signed_in,
                user,
                problem.status,
                &form.label,
                &messages,
            )
            .await;
        }
        Err(problem) => return Err(problem.into()),
    };
    let setup = device_setup(&state, &device, &token)?;
    let back = format!("/app/users/{}/devices", user.uuid());
    Ok(layout::frame(
        &signed_in,
        section(&signed_in),
        StatusCode::CREATED,
        "Set up the phone",
        setup_content(&device.label, &setup, &back),
    ))
}

fn setup_content(label: &str, setup: &DeviceSetup, back: &str) -> Markup {
    html! {
        h1 { "Set up " (label) }
        div class="notice" role="status" {
            p { "This is the only time the setup is shown: it holds the phone's token. Set the phone up now, or turn it off and add it again later." }
        }
        h2 { "Traccar Client (Android and iOS)" }
        p { "On the phone, with Traccar Client installed:" }
        p { a class="button" href=(setup.traccar.setup_link) { "Set up Traccar Client" } }
        p { "Or, from another screen, scan this code with the QR scanner in Traccar Client's settings:" }
        img class="qr" src=(format!("data:image/png;base64,{}", setup.traccar.qr_png_base64))
            alt=(format!("QR code with the server address for {label}"));
        p { "Then start Traccar Client from the time clock when you clock in, and stop it when you clock out." }
        h2 { "Other apps" }
        ul {
            li { a href=(setup.overland.link) { "Set up Overland (iOS)" } }
            li { a href=(setup.owntracks.link) { "Set up OwnTracks" } }
            li { "GPSLogger: custom URL " code { (setup.gpslogger.url) } ", method " (setup.gpslogger.method) ", body " code { (setup.gpslogger.body) } }
        }
        p { a href=(setup.page_url) { "A page with this setup to open on a computer" } " (keep it to yourself: it holds the token)." }
        p { a href=(back) { "Back to the phones" } }
    }
}

pub async fn revoke(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    signed_in.check_csrf(&form.csrf)?;
    let (user, device) = path.into_inner();
    let user = id_of::<User>(&user)?;
    devices::revoke(&state, &signed_in.caller, user, id_of(&device)?).await?;
    Ok(see_other(&format!("/app/users/{}/devices", user.uuid())))
}
