//! Where the technicians are and were: the live map of clocked-in
//! technicians, each shift's route, and the timesheets. The office's pages,
//! on the time clock's use cases (`time_clock::live`, `route`, `timesheet`);
//! drawings are SVG in the page, so nothing is fetched from elsewhere.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use actix_web::http::header::{
    self, ContentDisposition, DispositionParam, DispositionType, HeaderValue,
};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use maud::{html, Markup};
use serde::Deserialize;
use uuid::Uuid;

use fieldcrm_app::accounts::settings;
use fieldcrm_app::config::MapTiles;
use fieldcrm_app::time_clock::{self, LivePosition, Route, ShiftSummary, TimesheetRequest};
use fieldcrm_app::AppState;
use fieldcrm_db::{Id, Ts};
use fieldcrm_geo_track::{Fix, Stop};

use super::content_security_policy;
use super::error::PageError;
use super::forms::{input, summary, Input, Messages};
use super::layout::{self, Section};
use super::session::SignedIn;
use super::words;
use crate::problem::{FieldError, Problem};
use crate::routes::tracking::route_gpx;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/live", web::get().to(live))
        .route("/shifts/{id}", web::get().to(shift))
        .route("/shifts/{id}/route.gpx", web::get().to(shift_gpx))
        .route("/timesheets", web::get().to(timesheets))
        .route("/timesheets.csv", web::get().to(timesheet_csv));
}

/// Seconds between the live page's refreshes (read by `app.js`).
const REFRESH_SECONDS: u32 = 15;
/// The most points of a drawn route: enough for any screen, and the page stays
/// small for a shift of tens of thousands of pings.
const DRAWN_POINTS: usize = 2_000;

/// For the office only: the account's time zone, in which its pages show times.
async fn office_zone(state: &AppState, signed_in: &SignedIn) -> Result<Tz, PageError> {
    signed_in.office()?;
    Ok(settings::get(state, &signed_in.caller)
        .await?
        .time_zone
        .0
        .tz())
}

/// The route of the shift in the path, for the office; an id that is not a
/// shift of the account is a page that does not exist.
async fn route_of(
    state: &AppState,
    signed_in: &SignedIn,
    raw_id: &str,
) -> Result<(Uuid, Route), PageError> {
    signed_in.office()?;
    let id = Uuid::parse_str(raw_id).map_err(|_| Problem::not_found())?;
    let route = time_clock::route(state, &signed_in.caller, Id::from_uuid(id)).await?;
    Ok((id, route))
}

// ---- words for times, lengths and distances ---------------------------------------

// ---- drawing ------------------------------------------------------------------------

const WIDTH: f64 = 800.0;
const HEIGHT: f64 = 500.0;
const MARGIN: f64 = 48.0;
/// The least span drawn, in world units (about 200 m at the equator), so a
/// single position sits in the middle of a drawing rather than filling it.
const LEAST_SPAN: f64 = 0.002 / 360.0;
/// Web Mercator stops short of the poles.
const MAX_LAT: f64 = 85.051_128_78;
/// Pixels of a map tile's side.
const TILE_PX: f64 = 256.0;
const MAX_ZOOM: f64 = 19.0;

/// Web Mercator in world units (the world is one unit wide and high, north at
/// 0): the projection of map tiles, so a drawing and its tiles agree.
fn mercator(lat: f64, lon: f64) -> (f64, f64) {
    let phi = lat.clamp(-MAX_LAT, MAX_LAT).to_radians();
    (
        (lon + 180.0) / 360.0,
        (1.0 - (phi.tan() + 1.0 / phi.cos()).ln() / std::f64::consts::PI) / 2.0,
    )
}

/// Web Mercator fitted to the positions' bounding box, with a margin.
struct Projection {
    centre: (f64, f64),
    /// Drawing units per world unit.
    scale: f64,
    /// Degrees of latitude per world unit at the middle of the drawing.
    lat_deg_per_unit: f64,
}

impl Projection {
    fn fitting(positions: impl IntoIterator<Item = (f64, f64)>) -> Option<Self> {
        let mut bounds: Option<((f64, f64), (f64, f64))> = None;
        for (lat, lon) in positions {
            let (x, y) = mercator(lat, lon);
            let ((west, north), (east, south)) = bounds.unwrap_or(((x, y), (x, y)));
            bounds = Some(((west.min(x), north.min(y)), (east.max(x), south.max(y))));
        }
        let ((west, north), (east, south)) = bounds?;
        let across = (east - west).max(LEAST_SPAN);
        let down = (south - north).max(LEAST_SPAN);
        let scale = ((WIDTH - 2.0 * MARGIN) / across).min((HEIGHT - 2.0 * MARGIN) / down);
        let centre = ((west + east) / 2.0, (north + south) / 2.0);
        // Mercator's y grows by 1/(360 cos lat) world units per degree.
        let mid_lat = (std::f64::consts::PI * (1.0 - 2.0 * centre.1))
            .sinh()
            .atan();
        let lat_deg_per_unit = 360.0 * mid_lat.cos();
        Some(Projection {
            centre,
            scale,
            lat_deg_per_unit,
        })
    }

    fn drawn(&self, (x, y): (f64, f64)) -> (f64, f64) {
        (
            WIDTH / 2.0 + (x - self.centre.0) * self.scale,
            HEIGHT / 2.0 + (y - self.centre.1) * self.scale,
        )
    }

    fn at(&self, lat: f64, lon: f64) -> (f64, f64) {
        self.drawn(mercator(lat, lon))
    }

    /// The world units at a point of the drawing.
    fn world(&self, (x, y): (f64, f64)) -> (f64, f64) {
        (
            self.centre.0 + (x - WIDTH / 2.0) / self.scale,
            self.centre.1 + (y - HEIGHT / 2.0) / self.scale,
        )
    }

    /// Half a drawing unit, in degrees: what a simplified line may leave out.
    fn half_unit_deg(&self) -> f64 {
        0.5 / self.scale * self.lat_deg_per_unit
    }
}

/// A number of the drawing, to a tenth of a unit.
fn unit(value: f64) -> String {
    format!("{value:.1}")
}

/// The SVG of a map, on the operator's tiles if there are any, with their credit.
fn drawing(
    label: &str,
    class: &str,
    projection: &Projection,
    tiles: Option<&MapTiles<'_>>,
    content: Markup,
) -> Markup {
    html! {
        svg class=(format!("drawing {class}")) viewBox=(format!("0 0 {WIDTH} {HEIGHT}"))
            role="img" aria-label=(label) xmlns="http://www.w3.org/2000/svg" {
            title { (label) }
            rect class="ground" x="0" y="0" width=(WIDTH) height=(HEIGHT) {}
            (tiles_under(projection, tiles))
            (content)
        }
        @if let Some(tiles) = tiles {
            p class="attribution" { "Map: " (tiles.attribution) }
        }
    }
}

/// The operator's map tiles under a drawing, at the zoom whose tiles come
/// closest to their own size; nothing when no tile server is set.
fn tiles_under(projection: &Projection, tiles: Option<&MapTiles<'_>>) -> Markup {
    let Some(tiles) = tiles else {
        return html! {};
    };
    let zoom = (projection.scale / TILE_PX)
        .log2()
        .round()
        .clamp(0.0, MAX_ZOOM);
    let count = 2f64.powf(zoom);
    let side = projection.scale / count;
    let (west, north) = projection.world((0.0, 0.0));
    let (east, south) = projection.world((WIDTH, HEIGHT));
    let index = |world: f64| (world * count).floor().clamp(0.0, count - 1.0);
    let columns = index(west) as u32..=index(east) as u32;
    let rows = index(north) as u32..=index(south) as u32;
    html! {
        g class="tiles" {
            @for row in rows {
                @for column in columns.clone() {
                    @let (x, y) = projection.drawn((f64::from(column) / count, f64::from(row) / count));
                    image href=(tiles.url.replace("{z}", &zoom.to_string()).replace("{x}", &column.to_string()).replace("{y}", &row.to_string()))
                        x=(unit(x)) y=(unit(y)) width=(unit(side)) height=(unit(side)) {}
                }
            }
        }
    }
}

/// A page with a drawing: when tiles are shown, its policy lets their server's
/// images in; the live map's also lets its script fetch the page again.
fn map_policy(
    mut response: HttpResponse,
    tiles: Option<&MapTiles<'_>>,
    refreshes: bool,
) -> HttpResponse {
    if tiles.is_some() || refreshes {
        let policy = content_security_policy(tiles.map(|tiles| tiles.origin), refreshes, None);
        if let Ok(policy) = HeaderValue::from_str(&policy) {
            response
                .headers_mut()
                .insert(header::CONTENT_SECURITY_POLICY, policy);
        }
    }
    response
}

/// A point with its name beside it.
fn marker(class: &str, (x, y): (f64, f64), name: &str) -> Markup {
    html! {
        g class=(class) {
            circle cx=(unit(x)) cy=(unit(y)) r="7" {}
            text x=(unit(x + 11.0)) y=(unit(y + 5.0)) { (name) }
        }
    }
}

// ---- live ---------------------------------------------------------------------------

pub async fn live(
    state: web::Data<AppState>,
    signed_in: SignedIn,
) -> Result<HttpResponse, PageError> {
    let zone = office_zone(&state, &signed_in).await?;
    let mut positions = time_clock::live(&state, &signed_in.caller).await?;
    positions.sort_by(|a, b| a.user_name.cmp(&b.user_name));
    let now = Utc::now();
    let tiles = state.settings.map_tiles();
    let content = html! {
        h1 { "Live map" }
        section id="live-positions" class="live" data-refresh=(REFRESH_SECONDS) aria-labelledby="live-heading" {
            h2 id="live-heading" { "Clocked in now" }
            p {
                "As of " (words::time_element(now, zone)) ". "
                a href="/app/live" { "Refresh" }
            }
            @if positions.is_empty() {
                p { "Nobody is clocked in." }
            } @else {
                (live_drawing(&positions, tiles.as_ref()))
                (live_table(&positions, zone, now))
            }
        }
    };
    let page = layout::frame(
        &signed_in,
        Section::Live,
        StatusCode::OK,
        "Live map",
        content,
    );
    Ok(map_policy(page, tiles.as_ref(), true))
}

fn live_drawing(positions: &[LivePosition], tiles: Option<&MapTiles<'_>>) -> Markup {
    let seen: Vec<(&str, f64, f64)> = positions
        .iter()
        .filter_map(|p| {
            Some((
                p.user_name.as_str(),
                p.last.as_ref()?.lat,
                p.last.as_ref()?.lon,
            ))
        })
        .collect();
    let Some(projection) = Projection::fitting(seen.iter().map(|(_, lat, lon)| (*lat, *lon)))
    else {
        return html! { p { "No positions have arrived yet." } };
    };
    let label = format!(
        "Last positions of {}; the table below has the same information",
        words::plural(i64::try_from(seen.len()).unwrap_or(i64::MAX), "technician")
    );
    drawing(
        &label,
        "live-map",
        &projection,
        tiles,
        html! {
            @for (name, lat, lon) in &seen {
                (marker("technician", projection.at(*lat, *lon), name))
            }
        },
    )
}

fn live_table(positions: &[LivePosition], zone: Tz, now: DateTime<Utc>) -> Markup {
    html! {
        table {
            caption { "Clocked-in technicians and their last positions" }
            thead {
                tr {
                    th scope="col" { "Technician" }
                    th scope="col" { "Clocked in" }
                    th scope="col" { "Last position" }
                    th scope="col" { "How long ago" }
                    th scope="col" { "Accuracy" }
                    th scope="col" { "Route" }
                }
            }
            tbody {
                @for position in positions {
                    tr {
                        th scope="row" { (position.user_name) }
                        td { (words::time_element(position.shift.clock_in_at.get(), zone)) }
                        @if let Some(last) = &position.last {
                            td { (words::time_element(last.recorded_at.get(), zone)) " at " (format!("{:.5}, {:.5}", last.lat, last.lon)) }
                            td { (words::ago((now - last.recorded_at.get()).num_seconds())) }
                            td { @if let Some(accuracy) = last.accuracy_m { "within " (words::distance(accuracy)) } @else { "not known" } }
                        } @else {
                            td { "none yet" }
                            td { "—" }
                            td { "—" }
                        }
                        td {
                            a href=(format!("/app/shifts/{}", position.shift.id.uuid())) {
                                "Route" span class="visually-hidden" { " of " (position.user_name) }
                            }
                        }
                    }
                }
            }
        }
    }
}

// ---- one shift's route ----------------------------------------------------------------

pub async fn shift(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let (id, route) = route_of(&state, &signed_in, &path).await?;
    let shift = &route.summary.shift;
    let name = time_clock::technician_names(&state, &signed_in.caller, vec![shift.user_id])
        .await?
        .remove(&shift.user_id)
        .unwrap_or_else(|| "A former technician".to_owned());
    let zone = office_zone(&state, &signed_in).await?;
    let clock_in = shift.clock_in_at.get();
    let tiles = state.settings.map_tiles();
    let title = format!(
        "{name}'s shift on {}",
        words::day(clock_in.with_timezone(&zone).date_naive())
    );
    let content = html! {
        h1 { (title) }
        dl class="details" {
            dt { "Technician" } dd { (name) }
            dt { "Clocked in" } dd { (words::time_element(clock_in, zone)) }
            dt { "Clocked out" }
            dd {
                @if let Some(out) = shift.clock_out_at { (words::time_element(out.get(), zone)) } @else { "Still clocked in" }
            }
            dt { "Duration" } dd { (words::length(route.summary.worked_s)) }
            dt { "Distance" } dd { (words::distance(route.summary.distance_m)) }
            dt { "Positions recorded" } dd { (route.trail.len()) }
        }
        p class="actions" {
            a class="button" href=(format!("/app/shifts/{id}/route.gpx")) download { "Download GPX" }
            a href="/app/timesheets" { "Timesheets" }
        }
        section aria-labelledby="route-heading" {
            h2 id="route-heading" { "Route" }
            (route_drawing(&route.trail, &route.stops, shift.clock_out_at.is_some(), tiles.as_ref()))
        }
        @if !route.stops.is_empty() {
            section aria-labelledby="stops-heading" {
                h2 id="stops-heading" { "Stops" }
                table {
                    caption { "Places where " (name) " stayed five minutes or more" }
                    thead { tr { th scope="col" { "Stop" } th scope="col" { "Arrived" } th scope="col" { "Left" } th scope="col" { "Stayed" } th scope="col" { "Where" } } }
                    tbody {
                        @for (number, stop) in route.stops.iter().enumerate() {
                            tr {
                                th scope="row" { (number + 1) }
                                td { (words::time_element(stop.arrived_at, zone)) }
                                td { (words::time_element(stop.left_at, zone)) }
                                td { (words::length((stop.left_at - stop.arrived_at).num_seconds())) }
                                td { (format!("{:.5}, {:.5}", stop.lat, stop.lon)) }
                            }
                        }
                    }
                }
            }
        }
    };
    let page = layout::frame(
        &signed_in,
        Section::Timesheets,
        StatusCode::OK,
        &title,
        content,
    );
    Ok(map_policy(page, tiles.as_ref(), false))
}

fn route_drawing(
    trail: &[Fix],
    stops: &[Stop],
    closed: bool,
    tiles: Option<&MapTiles<'_>>,
) -> Markup {
    let Some(projection) = Projection::fitting(trail.iter().map(|f| (f.lat, f.lon))) else {
        return html! { p { "No positions were recorded in this shift." } };
    };
    let drawn = fieldcrm_geo_track::simplified(trail, projection.half_unit_deg(), DRAWN_POINTS);
    let mut points = String::with_capacity(drawn.len() * 12);
    for fix in &drawn {
        let (x, y) = projection.at(fix.lat, fix.lon);
        let _ = write!(points, "{x:.1},{y:.1} ");
    }
    let (first, last) = (&trail[0], &trail[trail.len() - 1]);
    let label = format!(
        "The route from its start to its {}, with {} numbered as in the table of stops",
        if closed { "end" } else { "last position" },
        words::plural(i64::try_from(stops.len()).unwrap_or(i64::MAX), "stop")
    );
    drawing(
        &label,
        "route-map",
        &projection,
        tiles,
        html! {
            polyline class="track" points=(points.trim_end()) {}
            @for (number, stop) in stops.iter().enumerate() {
                (marker("stop", projection.at(stop.lat, stop.lon), &(number + 1).to_string()))
            }
            (marker("start", projection.at(first.lat, first.lon), "Start"))
            (marker("end", projection.at(last.lat, last.lon), if closed { "End" } else { "Last position" }))
        },
    )
}

pub async fn shift_gpx(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let (id, route) = route_of(&state, &signed_in, &path).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/gpx+xml")
        .insert_header(attachment(format!("shift-{id}.gpx")))
        .body(route_gpx(&route)?))
}

fn attachment(filename: String) -> ContentDisposition {
    ContentDisposition {
        disposition: DispositionType::Attachment,
        parameters: vec![DispositionParam::Filename(filename)],
    }
}

// ---- timesheets ---------------------------------------------------------------------

#[derive(Deserialize)]
pub struct RangeQuery {
    from: Option<String>,
    to: Option<String>,
}

/// A year at most on one page, which stays a size a browser shows at once.
const LONGEST_RANGE_DAYS: i64 = 366;

/// Days in the account's zone, both included.
struct Range {
    first: NaiveDate,
    last: NaiveDate,
}

fn day_param(raw: Option<&str>, name: &str, messages: &mut Vec<FieldError>) -> Option<NaiveDate> {
    let raw = raw.map(str::trim).filter(|raw| !raw.is_empty())?;
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map_err(|_| messages.push(FieldError::new(name, "must be a date such as 2026-12-07")))
        .ok()
}

/// The asked days; without them, this week (Monday to Sunday) in the account's zone.
fn range_of(query: &RangeQuery, zone: Tz) -> Result<Range, Messages> {
    let mut messages = Vec::new();
    let today = Utc::now().with_timezone(&zone).date_naive();
    let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
    let first = day_param(query.from.as_deref(), "from", &mut messages).unwrap_or(monday);
    let last =
        day_param(query.to.as_deref(), "to", &mut messages).unwrap_or(first + Duration::days(6));
    if messages.is_empty() && last < first {
        messages.push(FieldError::new("to", "must not be before the first day"));
    }
    if messages.is_empty() && last - first >= Duration::days(LONGEST_RANGE_DAYS) {
        messages.push(FieldError::new(
            "to",
            format!("must be within {LONGEST_RANGE_DAYS} days of the first day"),
        ));
    }
    if messages.is_empty() {
        Ok(Range { first, last })
    } else {
        Err(Messages(messages))
    }
}

/// One technician's shifts in the range.
struct Group {
    name: String,
    rows: Vec<ShiftSummary>,
}

impl Group {
    fn worked_s(&self) -> i64 {
        self.rows.iter().map(|row| row.worked_s).sum()
    }

    fn distance_m(&self) -> f64 {
        self.rows
            .iter()
            .fold(0.0, |total, row| total + row.distance_m)
    }
}

struct Sheet {
    groups: Vec<Group>,
    total_shifts: usize,
    total_worked_s: i64,
    total_distance_m: f64,
}

/// Every shift that started in the range, by technician (in name order).
async fn sheet(
    state: &AppState,
    signed_in: &SignedIn,
    range: &Range,
    zone: Tz,
) -> Result<Sheet, PageError> {
    let sheet = time_clock::timesheet(
        state,
        &signed_in.caller,
        TimesheetRequest {
            user: None,
            from: Some(Ts::from(words::start_of(range.first, zone))),
            to: Some(Ts::from(words::start_of(
                range.last + Duration::days(1),
                zone,
            ))),
            after: None,
            fetch: i64::MAX,
        },
    )
    .await?;
    let mut people: Vec<_> = sheet.rows.iter().map(|row| row.shift.user_id).collect();
    people.sort_by_key(|id| id.uuid());
    people.dedup_by_key(|id| id.uuid());
    let names = time_clock::technician_names(state, &signed_in.caller, people).await?;
    let mut groups: BTreeMap<(String, Uuid), Vec<ShiftSummary>> = BTreeMap::new();
    for row in sheet.rows {
        let name = names
            .get(&row.shift.user_id)
            .cloned()
            .unwrap_or_else(|| "A former technician".to_owned());
        groups
            .entry((name, row.shift.user_id.uuid()))
            .or_default()
            .push(row);
    }
    Ok(Sheet {
        groups: groups
            .into_iter()
            .map(|((name, _), rows)| Group { name, rows })
            .collect(),
        total_shifts: sheet.total_shifts,
        total_worked_s: sheet.total_worked_s,
        total_distance_m: sheet.total_distance_m,
    })
}

pub async fn timesheets(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    query: web::Query<RangeQuery>,
) -> Result<HttpResponse, PageError> {
    let zone = office_zone(&state, &signed_in).await?;
    let (status, content) = match range_of(&query, zone) {
        Ok(range) => {
            let sheet = sheet(&state, &signed_in, &range, zone).await?;
            let typed = RangeQuery {
                from: Some(range.first.to_string()),
                to: Some(range.last.to_string()),
            };
            let content = html! {
                h1 { "Timesheets" }
                (range_form(&typed, &Messages::default()))
                (timesheet_tables(&sheet, &range, zone))
            };
            (StatusCode::OK, content)
        }
        Err(messages) => {
            let content = html! {
                h1 { "Timesheets" }
                (summary(&messages))
                (range_form(&query, &messages))
            };
            (StatusCode::UNPROCESSABLE_ENTITY, content)
        }
    };
    Ok(layout::frame(
        &signed_in,
        Section::Timesheets,
        status,
        "Timesheets",
        content,
    ))
}

fn range_form(typed: &RangeQuery, messages: &Messages) -> Markup {
    let day = |name, label, value: &Option<String>| {
        input(
            &Input {
                name,
                label,
                value: value.as_deref().unwrap_or_default(),
                kind: "date",
                autocomplete: "off",
                required: true,
                hint: None,
            },
            messages,
        )
    };
    html! {
        form class="search" method="get" action="/app/timesheets" {
            (day("from", "First day", &typed.from))
            (day("to", "Last day", &typed.to))
            button type="submit" { "Show" }
        }
    }
}

fn timesheet_tables(sheet: &Sheet, range: &Range, zone: Tz) -> Markup {
    let csv = format!("/app/timesheets.csv?from={}&to={}", range.first, range.last);
    let span = format!("{} to {}", words::day(range.first), words::day(range.last));
    html! {
        p class="actions" { a class="button" href=(csv) download { "Download CSV" } }
        @if sheet.groups.is_empty() {
            p { "No shifts started from " (span) "." }
        } @else {
            table class="totals" {
                caption { "Totals from " (span) }
                thead { tr { th scope="col" { "Technician" } th scope="col" { "Shifts" } th scope="col" { "Worked" } th scope="col" { "Distance" } } }
                tbody {
                    @for group in &sheet.groups {
                        tr {
                            th scope="row" { (group.name) }
                            td { (group.rows.len()) }
                            td { (words::length(group.worked_s())) }
                            td { (words::distance(group.distance_m())) }
                        }
                    }
                }
                tfoot {
                    tr {
                        th scope="row" { "All technicians" }
                        td { (sheet.total_shifts) }
                        td { (words::length(sheet.total_worked_s)) }
                        td { (words::distance(sheet.total_distance_m)) }
                    }
                }
            }
            @for group in &sheet.groups {
                section class="technician-shifts" {
                    h2 { (group.name) }
                    table {
                        caption { "Shifts of " (group.name) " from " (span) }
                        thead { tr { th scope="col" { "Clocked in" } th scope="col" { "Clocked out" } th scope="col" { "Worked" } th scope="col" { "Distance" } th scope="col" { "Route" } } }
                        tbody {
                            @for row in &group.rows {
                                tr {
                                    th scope="row" { (words::time_element(row.shift.clock_in_at.get(), zone)) }
                                    td { @if let Some(out) = row.shift.clock_out_at { (words::time_element(out.get(), zone)) } @else { "still clocked in" } }
                                    td { (words::length(row.worked_s)) }
                                    td { (words::distance(row.distance_m)) }
                                    td {
                                        a href=(format!("/app/shifts/{}", row.shift.id.uuid())) {
                                            "Route" span class="visually-hidden" { " of the shift from " (words::moment(row.shift.clock_in_at.get(), zone)) }
                                        }
                                    }
                                }
                            }
                        }
                        tfoot {
                            tr {
                                th scope="row" colspan="2" { "Total for " (group.name) }
                                td { (words::length(group.worked_s())) }
                                td { (words::distance(group.distance_m())) }
                                td {}
                            }
                        }
                    }
                }
            }
        }
    }
}

pub async fn timesheet_csv(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    query: web::Query<RangeQuery>,
) -> Result<HttpResponse, PageError> {
    let zone = office_zone(&state, &signed_in).await?;
    let range = range_of(&query, zone).map_err(|messages| Problem::validation(messages.0))?;
    let sheet = sheet(&state, &signed_in, &range, zone).await?;
    let mut out = String::new();
    push_record(
        &mut out,
        &[
            "technician",
            "shift_id",
            "clock_in",
            "clock_out",
            "hours",
            "distance_km",
        ],
    );
    let iso = |at: DateTime<Utc>| {
        at.with_timezone(&zone)
            .format("%Y-%m-%dT%H:%M:%S%:z")
            .to_string()
    };
    for group in &sheet.groups {
        for row in &group.rows {
            push_record(
                &mut out,
                &[
                    &group.name,
                    &row.shift.id.uuid().to_string(),
                    &iso(row.shift.clock_in_at.get()),
                    &row.shift
                        .clock_out_at
                        .map(|t| iso(t.get()))
                        .unwrap_or_default(),
                    &format!("{:.2}", row.worked_s as f64 / 3600.0),
                    &format!("{:.2}", row.distance_m / 1000.0 + 0.0),
                ],
            );
        }
    }
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(attachment(format!(
            "timesheet-{}-{}.csv",
            range.first, range.last
        )))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(out))
}

/// One CSV record (RFC 4180). Written here rather than with the csv crate,
/// which the workspace does not have: quoting is the one rule these few columns need.
fn push_record(out: &mut String, cells: &[&str]) {
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&csv_cell(cell));
    }
    out.push_str("\r\n");
}

/// A cell a spreadsheet will not run: one that would start a formula gets a
/// leading `'`; quoted where it holds a comma, a quote or a line break.
fn csv_cell(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_that_would_start_a_formula_are_neutralised_and_quoted_when_needed() {
        assert_eq!(csv_cell("=cmd|' /C calc'!A0"), "'=cmd|' /C calc'!A0");
        assert_eq!(csv_cell("-2+3"), "'-2+3");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("Reyes, Dana"), "\"Reyes, Dana\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(
            csv_cell("2026-12-07T08:00:00-06:00"),
            "2026-12-07T08:00:00-06:00"
        );
    }
}
