//! Tracker apps on technicians' phones: their device tokens with the setup
//! each app reads, and the endpoints the apps send positions to (Traccar
//! Client and GPSLogger through the OsmAnd format, Overland, OwnTracks).

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};
use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use fieldcrm_db::devices::Device;
use fieldcrm_db::Id;
use fieldcrm_trackers::setup::{self, TraccarSettings, TRACCAR_START_LINK, TRACCAR_STOP_LINK};
use fieldcrm_trackers::{osmand, overland, owntracks, token, Answer, Request};

use crate::auth::Caller;
use crate::extract::{read_body, Json};
use crate::paging::{Page, PageQuery};
use crate::problem::Problem;
use fieldcrm_app::state::AppState;
use fieldcrm_app::time_clock::devices;

/// Most characters of a device's label.
const MAX_LABEL_CHARS: usize = 64;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDeviceRequest {
    /// A name for the phone, shown in lists and written into the apps'
    /// settings (1 to 64 characters).
    #[schema(example = "Anna's iPhone", min_length = 1, max_length = 64)]
    pub label: String,
}

#[derive(Serialize, ToSchema)]
pub struct DeviceCounters {
    /// Positions stored (recorded inside one of the person's shifts).
    pub stored: i64,
    /// Positions sent again and stored once.
    pub duplicates: i64,
    /// Positions recorded outside a shift: answered as delivered, stored nowhere.
    pub outside_shift: i64,
    /// Positions less accurate than the account accepts.
    pub low_accuracy: i64,
    /// Reports that could not be read or were refused otherwise (impossible
    /// values, a time in the future, too frequent, over the account's quota).
    pub unparseable: i64,
}

#[derive(Serialize, ToSchema)]
pub struct DeviceView {
    pub id: Uuid,
    /// The person whose positions the device sends.
    pub user_id: Uuid,
    pub label: String,
    /// The first characters of the token, to tell devices apart.
    #[schema(example = "fcrm_dev_Qm9v")]
    pub prefix: String,
    pub created_by: Option<Uuid>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// The last request the device made with its token.
    pub last_seen_at: Option<chrono::DateTime<chrono::Utc>>,
    /// `null` while the token works.
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
    pub counters: DeviceCounters,
}

impl From<Device> for DeviceView {
    fn from(d: Device) -> Self {
        Self {
            id: d.id.uuid(),
            user_id: d.user_id.uuid(),
            label: d.label,
            prefix: d.prefix,
            created_by: d.created_by.map(|id| id.uuid()),
            created_at: d.created_at.get(),
            last_seen_at: d.last_seen_at.map(|t| t.get()),
            revoked_at: d.revoked_at.map(|t| t.get()),
            counters: DeviceCounters {
                stored: d.stored,
                duplicates: d.duplicates,
                outside_shift: d.outside_shift,
                low_accuracy: d.low_accuracy,
                unparseable: d.unparseable,
            },
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct TraccarSetup {
    /// The server URL for Traccar Client (the token in its path, the settings
    /// as its query), as the QR code holds it.
    pub url: String,
    /// The same setup as a link to tap on the phone.
    pub setup_link: String,
    /// The QR code of `url`, as an SVG document.
    pub qr_svg: String,
    /// The QR code of `url`, as a PNG in base64.
    pub qr_png_base64: String,
    /// Starts tracking in the app (`org.traccar.client://action/start`).
    pub start_link: &'static str,
    /// Stops tracking in the app (`org.traccar.client://action/stop`).
    pub stop_link: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct OverlandSetup {
    pub endpoint: String,
    /// `overland://setup?...`: the endpoint, the token and the device name.
    pub link: String,
}

#[derive(Serialize, ToSchema)]
pub struct OwnTracksSetup {
    pub endpoint: String,
    /// `owntracks:///config?inline=...`: HTTP mode, the endpoint, the token
    /// as password.
    pub link: String,
}

#[derive(Serialize, ToSchema)]
pub struct GpsLoggerSetup {
    /// The custom URL (token in the path).
    pub url: String,
    pub method: &'static str,
    /// The body template, sent with no `Content-Type` (a form of GPSLogger's
    /// `%LAT`, `%LON`... placeholders; `speed_mps` since `%SPD` is in m/s).
    pub body: String,
    pub headers: String,
}

#[derive(Serialize, ToSchema)]
pub struct DeviceSetup {
    /// A page to open on a computer and scan from the phone; it holds the
    /// token, so treat it like the token.
    pub page_url: String,
    pub traccar: TraccarSetup,
    pub overland: OverlandSetup,
    pub owntracks: OwnTracksSetup,
    pub gpslogger: GpsLoggerSetup,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedDevice {
    #[serde(flatten)]
    pub device: DeviceView,
    /// The device token, shown this once: it is stored only as a hash.
    #[schema(example = "fcrm_dev_Qm9vX2V4YW1wbGVfdG9rZW5fMzJfYnl0ZXNfaW5fYjY0dXJs")]
    pub token: String,
    pub setup: DeviceSetup,
}

/// The endpoints of one device, under the server's public base URL.
struct Endpoints {
    osmand: String,
    overland: String,
    owntracks: String,
}

fn endpoints(state: &AppState, token: &str) -> Endpoints {
    let base = &state.outbound.public_base_url;
    Endpoints {
        osmand: format!("{base}/v1/ingest/osmand/{token}"),
        overland: format!("{base}/v1/ingest/overland"),
        owntracks: format!("{base}/v1/ingest/owntracks"),
    }
}

/// Every app's setup for a device and its token; the web's devices page shows it too.
pub fn device_setup(
    state: &AppState,
    device: &Device,
    token: &str,
) -> Result<DeviceSetup, Problem> {
    let ends = endpoints(state, token);
    let name = setup::device_name(&device.label);
    let traccar = TraccarSettings::new(&name);
    let url = setup::traccar_setup_url(&ends.osmand, &traccar);
    let qr_svg = setup::qr_svg(&url).map_err(|e| Problem::internal_from(&e))?;
    let qr_png = setup::qr_png(&url).map_err(|e| Problem::internal_from(&e))?;
    let gpslogger = setup::gpslogger_template(&ends.osmand, &device.label);
    Ok(DeviceSetup {
        page_url: format!(
            "{}/v1/users/{}/devices/{}/setup?token={token}",
            state.outbound.public_base_url, device.user_id, device.id
        ),
        traccar: TraccarSetup {
            setup_link: setup::traccar_setup_link(&ends.osmand, &traccar),
            url,
            qr_svg,
            qr_png_base64: base64::engine::general_purpose::STANDARD.encode(qr_png),
            start_link: TRACCAR_START_LINK,
            stop_link: TRACCAR_STOP_LINK,
        },
        overland: OverlandSetup {
            link: setup::overland_setup_link(&ends.overland, token, &name),
            endpoint: ends.overland,
        },
        owntracks: OwnTracksSetup {
            link: setup::owntracks_config_link(&setup::owntracks_config(
                &ends.owntracks,
                token,
                &device.label,
            )),
            endpoint: ends.owntracks,
        },
        gpslogger: GpsLoggerSetup {
            url: gpslogger.url,
            method: gpslogger.method,
            body: gpslogger.body,
            headers: gpslogger.headers,
        },
    })
}

pub fn parse_label(label: &str) -> Result<String, Problem> {
    let label = label.trim();
    if label.is_empty() || label.chars().count() > MAX_LABEL_CHARS {
        return Err(Problem::invalid_field(
            "label",
            format!("must be 1 to {MAX_LABEL_CHARS} characters"),
        ));
    }
    if label.chars().any(char::is_control) {
        return Err(Problem::invalid_field(
            "label",
            "must not hold control characters",
        ));
    }
    Ok(label.to_owned())
}

/// Issue a device token for a person's tracker app (Traccar Client, Overland,
/// OwnTracks or GPSLogger). The answer holds the token, shown this once, and
/// the setup of each app: Traccar's server URL and its QR code, the Overland
/// and OwnTracks setup links, GPSLogger's template, and a setup page to open
/// on a computer. The token only sends positions for this person; the
/// server keeps those recorded inside their shifts.
///
/// Permission: `ManageDevices`.
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The person's id")),
    request_body = CreateDeviceRequest,
    responses(
        (status = 201, description = "The device, its token and the apps' setup", body = CreatedDevice),
        (status = 403, description = "The caller may not manage this person's devices", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/{id}/devices")]
pub async fn create_device(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: Json<CreateDeviceRequest>,
) -> Result<HttpResponse, Problem> {
    let label = parse_label(&body.0.label)?;
    let (device, token) = devices::issue(&state, &caller, Id::from_uuid(*id), label).await?;
    let setup = device_setup(&state, &device, &token)?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/v1/users/{}/devices/{}", device.user_id, device.id),
        ))
        .json(CreatedDevice {
            device: device.into(),
            token,
            setup,
        }))
}

/// List a person's devices, revoked ones too, with their counters (never
/// their tokens).
///
/// Permission: `ManageDevices`.
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The person's id"), PageQuery),
    responses(
        (status = 200, description = "A page of devices", body = Page<DeviceView>),
        (status = 403, description = "The caller may not manage this person's devices", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/{id}/devices")]
pub async fn list_devices(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, Problem> {
    let page = query.parse()?;
    let rows = devices::list(&state, &caller, Id::from_uuid(*id), page).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(
        page,
        rows,
        |d| d.id.uuid(),
        DeviceView::from,
    )))
}

/// Revoke a device: its token is refused (401) from the next request on.
///
/// Permission: `ManageDevices`.
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    params(
        ("id" = Uuid, Path, description = "The person's id"),
        ("device_id" = Uuid, Path, description = "The device's id"),
    ),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, description = "The caller may not manage this person's devices", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/{id}/devices/{device_id}")]
pub async fn revoke_device(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, Problem> {
    let (user, device) = path.into_inner();
    devices::revoke(&state, &caller, Id::from_uuid(user), Id::from_uuid(device)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SetupQuery {
    /// The device's token, as the create answer's `setup.page_url` holds it.
    pub token: String,
}

/// The setup page of a device, to open on a computer and scan from the
/// phone: Traccar Client's QR code, the Overland and OwnTracks links,
/// GPSLogger's template, and the links that start and stop Traccar Client
/// with the shift.
///
/// Public: opened with the device's own token (the create answer's
/// `setup.page_url`); 404 for any other token or a revoked device.
#[utoipa::path(
    tag = "users",
    params(
        ("id" = Uuid, Path, description = "The person's id"),
        ("device_id" = Uuid, Path, description = "The device's id"),
        SetupQuery,
    ),
    responses(
        (status = 200, description = "The setup page", content_type = "text/html", body = String),
    )
)]
#[get("/{id}/devices/{device_id}/setup")]
pub async fn device_setup_page(
    state: web::Data<AppState>,
    path: web::Path<(Uuid, Uuid)>,
    query: web::Query<SetupQuery>,
) -> Result<HttpResponse, Problem> {
    let (user, id) = path.into_inner();
    let device =
        devices::for_setup(&state, Id::from_uuid(user), Id::from_uuid(id), &query.token).await?;
    let setup = device_setup(&state, &device, &query.token)?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'",
        ))
        .body(setup_page(&device, &setup)))
}

fn html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn setup_page(device: &Device, setup: &DeviceSetup) -> String {
    // The SVG without its XML declaration, to sit inside the page.
    let svg = setup
        .traccar
        .qr_svg
        .find("<svg")
        .map_or("", |at| &setup.traccar.qr_svg[at..]);
    let link = |href: &str, text: &str| format!("<a href=\"{}\">{}</a>", html(href), html(text));
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width\"><meta name=\"referrer\" content=\"no-referrer\">\
<title>Set up {label}</title></head><body>\n\
<h1>Set up the tracker of {label}</h1>\n\
<p>Positions are kept only while the technician is clocked in; everything else the phone sends is answered and thrown away.</p>\n\
<h2>Traccar Client (Android, iOS)</h2>\n<p>Scan this code from the app's settings, or open {setup_link} on the phone.</p>\n{svg}\n\
<p>Server URL: <code>{url}</code></p>\n\
<p>Start tracking with the shift: {start}; stop it: {stop}.</p>\n\
<h2>Overland (iOS)</h2>\n<p>Open {overland} on the phone.</p>\n\
<h2>OwnTracks (Android, iOS)</h2>\n<p>Open {owntracks} on the phone (HTTP mode).</p>\n\
<h2>GPSLogger (Android)</h2>\n<p>Custom URL: <code>{gl_url}</code>, method <code>{gl_method}</code>, \
body <code>{gl_body}</code>, no headers.</p>\n\
</body></html>\n",
        label = html(&device.label),
        setup_link = link(&setup.traccar.setup_link, "the setup link"),
        url = html(&setup.traccar.url),
        start = link(setup.traccar.start_link, setup.traccar.start_link),
        stop = link(setup.traccar.stop_link, setup.traccar.stop_link),
        overland = link(&setup.overland.link, "the Overland setup link"),
        owntracks = link(&setup.owntracks.link, "the OwnTracks configuration link"),
        gl_url = html(&setup.gpslogger.url),
        gl_method = setup.gpslogger.method,
        gl_body = html(&setup.gpslogger.body),
    )
}

// --- Ingest -----------------------------------------------------------------

/// Overland's largest batch is 1000 points of about 600 bytes: a refused
/// batch would be resent for ever, so its route takes more than others.
const OVERLAND_BODY_BYTES: usize = 2 * 1024 * 1024;

#[derive(Clone, Copy)]
enum Protocol {
    OsmAnd,
    Overland,
    OwnTracks,
}

impl Protocol {
    fn answer(self) -> Answer {
        match self {
            Protocol::OsmAnd => osmand::ANSWER,
            Protocol::Overland => overland::ANSWER,
            Protocol::OwnTracks => owntracks::ANSWER,
        }
    }
}

/// The token in the path, else the one in `Authorization` (Bearer, or Basic
/// with the token as password).
fn token_of(req: &HttpRequest, in_path: Option<String>) -> Option<String> {
    in_path.or_else(|| {
        req.headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(token::from_authorization)
    })
}

/// Every ingest request: the device, its rate, the body read into readings,
/// the one ingest path, and the answer the app takes as delivered, whatever
/// became of each position.
async fn ingest(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
    in_path: Option<web::Path<String>>,
    protocol: Protocol,
) -> Result<HttpResponse, Problem> {
    let token = token_of(req, in_path.map(web::Path::into_inner));
    let (device, account) = devices::authenticate(state, token).await?;
    state.device_rates.admit(device.id)?;
    let limit = match protocol {
        Protocol::Overland => OVERLAND_BODY_BYTES.max(state.settings.max_body_bytes),
        _ => state.settings.max_body_bytes,
    };
    let body = read_body(req, &mut payload.into_inner(), limit).await?;
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let request = Request {
        content_type: header("content-type"),
        query: req.query_string(),
        body: &body,
        limit_device: header("x-limit-d"),
    };
    let id = device.id.uuid();
    let parsed = match protocol {
        Protocol::OsmAnd => osmand::parse(id, &request),
        Protocol::Overland => overland::parse(id, &request),
        Protocol::OwnTracks => owntracks::parse(id, &request),
    };
    // Not kept while the batch waits for a database thread: 32 phones sending
    // Overland's largest batches at once held 9 MB of bodies already read.
    drop(body);
    devices::ingest(state, &device, account, parsed).await?;
    let answer = protocol.answer();
    let mut response =
        HttpResponse::build(StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK));
    if let Some(content_type) = answer.content_type {
        response.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(content_type)));
    }
    Ok(response.body(answer.body))
}

/// Traccar Client and GPSLogger with one fix in the query string (GPSLogger's
/// default method).
///
/// Public: the device token is the credential. Answered as
/// `POST /v1/ingest/osmand/{token}`.
#[utoipa::path(
    tag = "device protocols",
    params(("token" = String, Path, description = "The device token (`fcrm_dev_...`)")),
    responses(
        (status = 200, description = "Taken (stored, a duplicate, or discarded)"),
        DeviceRefusals,
    )
)]
#[get("/osmand/{token}")]
pub async fn osmand_get(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, Problem> {
    ingest(&state, &req, payload, Some(token), Protocol::OsmAnd).await
}

/// Traccar Client 10.x (a form body), 9.x (a JSON object), the SDK's JSON
/// array, legacy Traccar Client (the query string with an empty body), and
/// GPSLogger (its body template with no `Content-Type`). `speed` is in knots;
/// `speed_mps` in m/s is taken too. The device token is the path's last
/// segment.
///
/// Public: the device token is the credential. Answered `200` with an empty
/// body for every report of a valid token, stored or not: positions outside
/// the person's shifts, too inaccurate, or without a fix (heartbeats) are
/// answered the same and kept nowhere, so the phone's queue moves on. 401
/// only for an unknown or revoked token; 429 with `Retry-After` past the
/// device's rate.
#[utoipa::path(
    tag = "device protocols",
    params(("token" = String, Path, description = "The device token (`fcrm_dev_...`)")),
    request_body(content = OsmandFix, content_type = "application/x-www-form-urlencoded",
        description = "A form (also sent without a Content-Type); Traccar Client 9.x's JSON object and the SDK's JSON array are taken too, or no body"),
    responses(
        (status = 200, description = "Taken (stored, a duplicate, or discarded)"),
        DeviceRefusals,
    )
)]
#[post("/osmand/{token}")]
pub async fn osmand_post(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, Problem> {
    ingest(&state, &req, payload, Some(token), Protocol::OsmAnd).await
}

/// Overland (iOS): a batch of up to 1000 GeoJSON features plus `current`,
/// with `Authorization: Bearer <device token>`. Features that are not
/// positions (`action`, `visit`, `trip`) are skipped.
///
/// Public: the device token is the credential. Answered `200` with
/// `{"result":"ok"}` for every batch of a valid token, whatever became of
/// each position (stored, a duplicate, or discarded outside a shift), so the
/// app deletes the batch. 401 only for an unknown or revoked token; 429 with
/// `Retry-After` past the device's rate. Bodies up to 2 MiB.
#[utoipa::path(
    tag = "device protocols",
    request_body(content = serde_json::Value, description = "`{\"locations\": [Feature...], \"current\": Feature}`"),
    responses(
        (status = 200, description = "Taken", body = serde_json::Value, example = json!({"result": "ok"})),
        DeviceRefusals,
    )
)]
#[post("/overland")]
pub async fn overland_bearer(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Problem> {
    ingest(&state, &req, payload, None, Protocol::Overland).await
}

/// Overland with the device token in the path, for senders of its format
/// that cannot set a header.
///
/// Public: the device token is the credential. Answered as
/// `POST /v1/ingest/overland`.
#[utoipa::path(
    tag = "device protocols",
    params(("token" = String, Path, description = "The device token (`fcrm_dev_...`)")),
    request_body(content = serde_json::Value, description = "`{\"locations\": [Feature...], \"current\": Feature}`"),
    responses(
        (status = 200, description = "Taken", body = serde_json::Value, example = json!({"result": "ok"})),
        DeviceRefusals,
    )
)]
#[post("/overland/{token}")]
pub async fn overland_path(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, Problem> {
    ingest(&state, &req, payload, Some(token), Protocol::Overland).await
}

/// OwnTracks in HTTP mode: one JSON message per request, with
/// `Authorization: Basic` (any user name, the device token as password) or
/// `Bearer`. Only `_type: location` is a position; waypoints, transitions,
/// status messages and empty bodies are answered the same and skipped.
///
/// Public: the device token is the credential. Answered `200` with `[]` for
/// every message of a valid token, whatever
/// became of it (stored, a duplicate, or discarded outside a shift). 401
/// only for an unknown or revoked token; 429 with `Retry-After` past the
/// device's rate.
#[utoipa::path(
    tag = "device protocols",
    request_body(content = serde_json::Value, description = "An OwnTracks message"),
    responses(
        (status = 200, description = "Taken", body = serde_json::Value, example = json!([])),
        DeviceRefusals,
    )
)]
#[post("/owntracks")]
pub async fn owntracks_auth(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Problem> {
    ingest(&state, &req, payload, None, Protocol::OwnTracks).await
}

/// OwnTracks with the device token in the path.
///
/// Public: the device token is the credential. Answered as
/// `POST /v1/ingest/owntracks`.
#[utoipa::path(
    tag = "device protocols",
    params(("token" = String, Path, description = "The device token (`fcrm_dev_...`)")),
    request_body(content = serde_json::Value, description = "An OwnTracks message"),
    responses(
        (status = 200, description = "Taken", body = serde_json::Value, example = json!([])),
        DeviceRefusals,
    )
)]
#[post("/owntracks/{token}")]
pub async fn owntracks_path(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, Problem> {
    ingest(&state, &req, payload, Some(token), Protocol::OwnTracks).await
}

/// What every tracker endpoint may refuse: the device, or its pace.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // describes the refusals of the ingest endpoints to clients
enum DeviceRefusals {
    /// Unknown or revoked device token
    #[response(status = 401, content_type = "application/problem+json")]
    Unknown(Problem),
    /// Too many requests from this device; see `Retry-After`
    #[response(status = 429, content_type = "application/problem+json")]
    TooMany(Problem),
}

/// One fix as Traccar Client and GPSLogger send it to the OsmAnd endpoint:
/// every member is optional; a fix without `lat`/`lon` is a heartbeat.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // describes the form body of `osmand_post` to clients
pub struct OsmandFix {
    /// The device's own id (ignored: the token names the device).
    id: Option<String>,
    lat: Option<f64>,
    lon: Option<f64>,
    /// Unix seconds, milliseconds, or RFC 3339.
    timestamp: Option<String>,
    /// Knots (the protocol's unit).
    speed: Option<f64>,
    bearing: Option<f64>,
    altitude: Option<f64>,
    /// Metres; `0` or `-1` mean unknown.
    accuracy: Option<f64>,
    /// Battery level in percent.
    batt: Option<f64>,
}
