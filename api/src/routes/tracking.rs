//! The time clock, GPS pings, timesheets, routes and live positions.

use actix_web::http::header::{self, ACCEPT};
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use fieldcrm_db::shifts::Shift;
use fieldcrm_db::{Id, Ts};
use fieldcrm_domain::tracking::MAX_PINGS_PER_BATCH;
use fieldcrm_domain::Coordinates;
use fieldcrm_trackers::setup::{TRACCAR_START_LINK, TRACCAR_STOP_LINK};

use crate::auth::Caller;
use crate::extract::{Json, OptionalJson};
use crate::paging::{Page, PageQuery};
use crate::problem::{FieldError, Fields, Problem};
use fieldcrm_app::state::AppState;
use fieldcrm_app::time_clock::{self, PingItem, Route, ShiftSummary, TimesheetRequest};

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ClockRequest {
    /// Where the person is, if the device knows (with `lon`).
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}

fn location(body: OptionalJson<ClockRequest>) -> Result<Option<Coordinates>, Problem> {
    parse_location(&body.0.unwrap_or_default())
}

/// Where a clock-in or clock-out happened: both coordinates or neither.
pub(crate) fn parse_location(body: &ClockRequest) -> Result<Option<Coordinates>, Problem> {
    match (body.lat, body.lon) {
        (None, None) => Ok(None),
        (Some(lat), Some(lon)) => Coordinates::parse(lat, lon)
            .map(Some)
            .map_err(|(field, invalid)| Problem::invalid_field(field, invalid.0)),
        (Some(_), None) => Err(Problem::invalid_field("lon", "is required with lat")),
        (None, Some(_)) => Err(Problem::invalid_field("lat", "is required with lon")),
    }
}

#[derive(Serialize, ToSchema)]
pub struct ShiftView {
    pub id: Uuid,
    pub user_id: Uuid,
    pub clock_in_at: DateTime<Utc>,
    /// `null` while the shift is open.
    pub clock_out_at: Option<DateTime<Utc>>,
    pub clock_in_lat: Option<f64>,
    pub clock_in_lon: Option<f64>,
    pub clock_out_lat: Option<f64>,
    pub clock_out_lon: Option<f64>,
    /// `self`, `user:<id>` (closed by an owner or admin) or `auto` (past the account's maximum length).
    pub closed_by: Option<String>,
    /// Worked time in seconds (until now while open).
    pub worked_s: i64,
    /// Distance travelled along the GPS trail, in metres.
    pub distance_m: f64,
}

impl From<ShiftSummary> for ShiftView {
    fn from(s: ShiftSummary) -> Self {
        let shift = s.shift;
        Self {
            id: shift.id.uuid(),
            user_id: shift.user_id.uuid(),
            clock_in_at: shift.clock_in_at.get(),
            clock_out_at: shift.clock_out_at.map(|t| t.get()),
            clock_in_lat: shift.clock_in_lat,
            clock_in_lon: shift.clock_in_lon,
            clock_out_lat: shift.clock_out_lat,
            clock_out_lon: shift.clock_out_lon,
            closed_by: shift.closed_by,
            worked_s: s.worked_s,
            distance_m: s.distance_m,
        }
    }
}

/// A clock-in or clock-out answer: the shift, and the link that starts or
/// stops Traccar Client with it.
#[derive(Serialize, ToSchema)]
pub struct ClockedShift {
    #[serde(flatten)]
    pub shift: ShiftView,
    /// `org.traccar.client://action/start` on clock-in, `.../stop` on
    /// clock-out: a client may open it to run the tracker app only during the
    /// shift, for the battery. The server never relies on it: positions
    /// outside a shift are discarded anyway.
    #[schema(example = "org.traccar.client://action/start")]
    pub traccar_link: &'static str,
}

fn just_closed(shift: Shift) -> ShiftView {
    let distance_m = shift.distance_m.unwrap_or(0.0);
    let end = shift.clock_out_at.unwrap_or_else(Ts::now).get();
    let worked_s = (end - shift.clock_in_at.get()).num_seconds().max(0);
    ShiftSummary {
        shift,
        worked_s,
        distance_m,
    }
    .into()
}

/// Clock in: starts a shift. GPS pings are stored only inside shifts.
///
/// Permission: `TrackOwnTime`.
#[utoipa::path(
    tag = "time clock",
    security(("bearer" = [])),
    request_body(content = Option<ClockRequest>, description = "Optional location"),
    responses(
        (status = 201, description = "The open shift", body = ClockedShift),
        (status = 403, description = "Called with an API key", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A shift is open already", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/clock-in")]
pub async fn clock_in(
    state: web::Data<AppState>,
    caller: Caller,
    body: OptionalJson<ClockRequest>,
) -> Result<HttpResponse, Problem> {
    let at = location(body)?;
    let shift = time_clock::clock_in(&state, &caller, at).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/v1/shifts/{}", shift.id)))
        .json(ClockedShift {
            shift: just_closed(shift),
            traccar_link: TRACCAR_START_LINK,
        }))
}

/// Clock out: ends the open shift. Pings recorded after this are refused;
/// pings recorded before it and uploaded late are still accepted.
///
/// Permission: `TrackOwnTime`.
#[utoipa::path(
    tag = "time clock",
    security(("bearer" = [])),
    request_body(content = Option<ClockRequest>, description = "Optional location"),
    responses(
        (status = 200, description = "The closed shift", body = ClockedShift),
        (status = 403, description = "Called with an API key", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No shift is open", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/clock-out")]
pub async fn clock_out(
    state: web::Data<AppState>,
    caller: Caller,
    body: OptionalJson<ClockRequest>,
) -> Result<HttpResponse, Problem> {
    let at = location(body)?;
    let shift = time_clock::clock_out(&state, &caller, at).await?;
    Ok(HttpResponse::Ok().json(ClockedShift {
        shift: just_closed(shift),
        traccar_link: TRACCAR_STOP_LINK,
    }))
}

/// Close someone's forgotten shift now.
///
/// Permission: `ManageShifts`.
#[utoipa::path(
    tag = "time clock",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The shift's id")),
    responses(
        (status = 200, description = "The closed shift", body = ShiftView),
        (status = 403, description = "The caller may not close others' shifts", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The shift is closed already", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/{id}/close")]
pub async fn close_shift(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, Problem> {
    let shift = time_clock::close_for(&state, &caller, Id::from_uuid(*id)).await?;
    Ok(HttpResponse::Ok().json(just_closed(shift)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TimesheetQuery {
    /// Only this person's shifts (technicians: only their own).
    pub user_id: Option<Uuid>,
    /// Shifts that started at or after this time (RFC 3339).
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// Shifts that started before this time (RFC 3339).
    #[param(format = DateTime)]
    pub to: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TimesheetTotals {
    pub shifts: usize,
    pub worked_s: i64,
    pub distance_m: f64,
}

#[derive(Serialize, ToSchema)]
pub struct TimesheetPage {
    pub data: Vec<ShiftView>,
    pub next_cursor: Option<String>,
    /// Over every shift the filters match, not only this page.
    pub totals: TimesheetTotals,
}

fn time_param(fields: &mut Fields, name: &str, raw: Option<&str>) -> Option<Ts> {
    let raw = raw?;
    match DateTime::parse_from_rfc3339(raw) {
        Ok(at) => Some(Ts::from(at.to_utc())),
        Err(_) => {
            fields.push(FieldError::new(
                name,
                "must be an RFC 3339 time such as 2026-05-01T00:00:00Z",
            ));
            None
        }
    }
}

/// Timesheet rows: shifts with worked time and distance, and totals.
///
/// Permission: `ViewShifts`.
#[utoipa::path(
    tag = "time clock",
    security(("bearer" = [])),
    params(TimesheetQuery, PageQuery),
    responses(
        (status = 200, description = "A page of shifts with totals", body = TimesheetPage),
        (status = 403, description = "The caller may not see these shifts", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("")]
pub async fn list_shifts(
    state: web::Data<AppState>,
    caller: Caller,
    filter: web::Query<TimesheetQuery>,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, Problem> {
    let page = page.parse()?;
    let mut fields = Fields::default();
    let from = time_param(&mut fields, "from", filter.from.as_deref());
    let to = time_param(&mut fields, "to", filter.to.as_deref());
    fields.finish()?;
    let sheet = time_clock::timesheet(
        &state,
        &caller,
        TimesheetRequest {
            user: filter.user_id.map(Id::from_uuid),
            from,
            to,
            after: page.after(),
            fetch: page.fetch(),
        },
    )
    .await?;
    let page = Page::from_rows(page, sheet.rows, |s| s.shift.id.uuid(), ShiftView::from);
    Ok(HttpResponse::Ok().json(TimesheetPage {
        data: page.data,
        next_cursor: page.next_cursor,
        totals: TimesheetTotals {
            shifts: sheet.total_shifts,
            worked_s: sheet.total_worked_s,
            distance_m: sheet.total_distance_m,
        },
    }))
}

/// One shift.
///
/// Permission: `ViewShifts`.
#[utoipa::path(
    tag = "time clock",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The shift's id")),
    responses(
        (status = 200, description = "The shift", body = ShiftView),
        (status = 403, description = "The caller may not see shifts", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/{id}")]
pub async fn get_shift(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, Problem> {
    let summary = time_clock::shift(&state, &caller, Id::from_uuid(*id)).await?;
    Ok(HttpResponse::Ok().json(ShiftView::from(summary)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RouteQuery {
    /// Default `geojson`; `Accept: application/gpx+xml` also gives GPX.
    #[param(value_type = Option<crate::vocabulary::RouteFormat>, inline)]
    pub format: Option<String>,
}

/// The route of a shift: a GeoJSON Feature whose LineString is the GPS trail,
/// with `distance_m` (geodesic), `duration_s`, `ping_count` and `stops`
/// (stationary for over 5 minutes within 50 m); or GPX 1.1.
///
/// Permission: `ViewShifts`.
#[utoipa::path(
    tag = "time clock",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The shift's id"), RouteQuery),
    responses(
        (status = 200, description = "The route", content(
            (RouteFeature = "application/geo+json"),
            (String = "application/gpx+xml"),
        )),
        (status = 403, description = "The caller may not see shifts", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/{id}/route")]
pub async fn shift_route(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<Uuid>,
    query: web::Query<RouteQuery>,
) -> Result<HttpResponse, Problem> {
    let wants_gpx = match query.format.as_deref() {
        Some("gpx") => true,
        Some("geojson") | None => req
            .headers()
            .get(ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("application/gpx+xml")),
        Some(_) => {
            return Err(Problem::invalid_field(
                "format",
                "must be `geojson` or `gpx`",
            ))
        }
    };
    let route = time_clock::route(&state, &caller, Id::from_uuid(*id)).await?;
    let shift_id = route.summary.shift.id.uuid();
    if wants_gpx {
        return Ok(HttpResponse::Ok()
            .content_type("application/gpx+xml")
            .body(route_gpx(&route)?));
    }
    let stops: Vec<serde_json::Value> = route
        .stops
        .iter()
        .map(|s| {
            json!({
                "lat": s.lat, "lon": s.lon,
                "arrived_at": s.arrived_at, "left_at": s.left_at,
                "duration_s": (s.left_at - s.arrived_at).num_seconds(),
            })
        })
        .collect();
    let mut properties = serde_json::Map::new();
    properties.insert("shift_id".into(), json!(shift_id));
    properties.insert("user_id".into(), json!(route.summary.shift.user_id.uuid()));
    properties.insert("distance_m".into(), json!(route.summary.distance_m));
    properties.insert("duration_s".into(), json!(route.summary.worked_s));
    properties.insert("ping_count".into(), json!(route.trail.len()));
    properties.insert("stops".into(), json!(stops));
    let feature = fieldcrm_geo_track::geojson_feature(&route.trail, properties);
    Ok(HttpResponse::Ok()
        .content_type("application/geo+json")
        .json(feature))
}

/// A shift's route as GPX 1.1, one track named after the shift; the web
/// app's download is the same document.
pub fn route_gpx(route: &Route) -> Result<String, Problem> {
    let shift_id = route.summary.shift.id.uuid();
    fieldcrm_geo_track::gpx(&route.trail, &format!("shift {shift_id}"))
        .map_err(|e| Problem::internal_from(&e))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PingBatch {
    /// Up to 1000 pings, each a `Ping`:
    /// `{id, recorded_at, lat, lon, accuracy_m?, speed_mps?, heading_deg?}`;
    /// `id` is a UUID made by the device so a resend is stored once. Any item is
    /// taken: one that is not such a ping is refused on its own (`malformed`).
    #[schema(value_type = Vec<PingDoc>, max_items = 1000)]
    pub pings: Vec<PingItem>,
}

/// One GPS fix as a device sends it: what each item of `PingBatch` should be.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Ping)]
#[allow(dead_code)] // only describes the items of `PingBatch` to clients
pub struct PingDoc {
    /// Made by the device, so a resend is stored once. Best time-ordered
    /// (UUID version 7): a person's pings are kept in id order, and random ids
    /// (version 4) scatter a batch's rows across that order: on SQLite a batch
    /// of 1000 with random ids cost the server twice the CPU.
    id: Uuid,
    /// When the fix was taken (RFC 3339).
    recorded_at: DateTime<Utc>,
    #[schema(minimum = -90, maximum = 90)]
    lat: f64,
    #[schema(minimum = -180, maximum = 180)]
    lon: f64,
    /// Horizontal accuracy in metres.
    accuracy_m: Option<f64>,
    speed_mps: Option<f64>,
    #[schema(minimum = 0, maximum = 360)]
    heading_deg: Option<f64>,
}

#[derive(Serialize, ToSchema)]
pub struct RejectedPing {
    /// The ping's id, when it had one.
    pub id: Option<String>,
    /// `malformed`, `invalid_coordinates`, `invalid_accuracy`, `invalid_speed`,
    /// `invalid_heading`, `in_future`, `low_accuracy`, `outside_shift`,
    /// `too_frequent` (within a second of another of the person's pings) or
    /// `over_quota` (the account stored its daily quota).
    pub reason: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct PingResult {
    /// Stored now.
    pub accepted: usize,
    /// Sent before; stored once.
    pub duplicates: usize,
    /// Not stored, each with its reason.
    pub rejected: Vec<RejectedPing>,
}

/// Upload GPS pings. Each is judged on its own: a ping is stored only when it
/// was recorded inside one of the caller's own shifts (from clock-in to
/// clock-out, or since clock-in of the open one) and is valid; buffered pings
/// uploaded after clock-out are accepted when recorded inside the shift.
///
/// Permission: `TrackOwnTime`.
#[utoipa::path(
    tag = "time clock",
    security(("bearer" = [])),
    request_body(content = PingBatch, example = json!({"pings": [
        {"id": "0193a5c5-2f10-7a3b-9c4d-1e2f3a4b5c6d", "recorded_at": "2026-12-08T15:02:11Z",
         "lat": 30.2672, "lon": -97.7431, "accuracy_m": 8.0, "speed_mps": 12.4, "heading_deg": 270.0}
    ]})),
    responses(
        (status = 200, description = "What was stored and what was refused", body = PingResult),
        (status = 403, description = "Called with an API key", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/pings")]
pub async fn upload_pings(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<PingBatch>,
) -> Result<HttpResponse, Problem> {
    let pings = body.0.pings;
    if pings.len() > MAX_PINGS_PER_BATCH {
        return Err(Problem::invalid_field(
            "pings",
            format!("must hold at most {MAX_PINGS_PER_BATCH} pings"),
        ));
    }
    let outcome = time_clock::ingest(&state, &caller, pings).await?;
    Ok(HttpResponse::Ok().json(PingResult {
        accepted: outcome.accepted,
        duplicates: outcome.duplicates,
        rejected: outcome
            .rejected
            .into_iter()
            .map(|(id, reason)| RejectedPing {
                id,
                reason: reason.as_str(),
            })
            .collect(),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct LivePositionView {
    pub user_id: Uuid,
    pub name: String,
    pub shift_id: Uuid,
    pub clocked_in_at: DateTime<Utc>,
    /// `null` until the first ping of the shift.
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub accuracy_m: Option<f64>,
    pub recorded_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, ToSchema)]
pub struct LivePositions {
    pub data: Vec<LivePositionView>,
}

/// The last position of each person clocked in now. Nobody clocked out appears.
///
/// Permission: `ViewLiveLocations`.
#[utoipa::path(
    tag = "time clock",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Clocked-in people and their last positions", body = LivePositions),
        (status = 403, description = "The caller may not see live positions", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/locations/live")]
pub async fn live_locations(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, Problem> {
    let positions = time_clock::live(&state, &caller).await?;
    Ok(HttpResponse::Ok().json(LivePositions {
        data: positions
            .into_iter()
            .map(|p| LivePositionView {
                user_id: p.shift.user_id.uuid(),
                name: p.user_name,
                shift_id: p.shift.id.uuid(),
                clocked_in_at: p.shift.clock_in_at.get(),
                lat: p.last.as_ref().map(|l| l.lat),
                lon: p.last.as_ref().map(|l| l.lon),
                accuracy_m: p.last.as_ref().and_then(|l| l.accuracy_m),
                recorded_at: p.last.as_ref().map(|l| l.recorded_at.get()),
            })
            .collect(),
    }))
}

/// A shift's route as GeoJSON (RFC 7946): one Feature whose LineString is the
/// trail, positions `[lon, lat]`, oldest first.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // describes the GeoJSON answer of `shift_route` to clients
pub struct RouteFeature {
    #[serde(rename = "type")]
    #[schema(value_type = String, pattern = "^Feature$", example = "Feature")]
    kind: (),
    geometry: RouteGeometry,
    properties: RouteProperties,
}

#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct RouteGeometry {
    #[serde(rename = "type")]
    #[schema(value_type = String, pattern = "^LineString$", example = "LineString")]
    kind: (),
    /// `[lon, lat]` per stored ping.
    #[schema(value_type = Vec<Vec<f64>>, example = json!([[-97.7431, 30.2672], [-97.7402, 30.2690]]))]
    coordinates: (),
}

#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct RouteProperties {
    shift_id: Uuid,
    user_id: Uuid,
    /// Along the trail, in metres.
    distance_m: f64,
    /// From clock-in to clock-out (or now), in seconds.
    duration_s: i64,
    ping_count: u64,
    /// Places the technician stayed a while.
    stops: Vec<RouteStop>,
}

#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct RouteStop {
    lat: f64,
    lon: f64,
    arrived_at: DateTime<Utc>,
    left_at: DateTime<Utc>,
    duration_s: i64,
}
