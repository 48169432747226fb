//! The technician's pages, phone-sized: today's and tomorrow's appointments,
//! the time clock, the status buttons and their own hours.
//!
//! Each page acts for the signed-in person on the use cases of the JSON API
//! (`/v1/appointments`, `/v1/shifts/clock-in`, ...): an owner who also works
//! in the field gets the same pages for their own appointments and shifts,
//! and whatever the permission table refuses them is refused here too.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{Datelike, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use maud::{html, Markup};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde::Deserialize;
use uuid::Uuid;

use fieldcrm_app::paging::PageRequest;
use fieldcrm_app::people;
use fieldcrm_app::preconditions::IfMatch;
use fieldcrm_app::scheduling::appointments::{self, ListRequest};
use fieldcrm_app::time_clock::{self, devices, ShiftSummary, TimesheetRequest};
use fieldcrm_app::AppState;
use fieldcrm_db::appointments::Appointment;
use fieldcrm_db::people::Person;
use fieldcrm_db::shifts::Shift;
use fieldcrm_db::users::User;
use fieldcrm_db::{Id, Ts};
use fieldcrm_domain::scheduling::Status;
use fieldcrm_domain::Stage;
use fieldcrm_trackers::setup::{TRACCAR_START_LINK, TRACCAR_STOP_LINK};

use super::auth::CsrfOnly;
use super::error::PageError;
use super::forms::csrf_input;
use super::layout::{self, Section};
use super::see_other;
use super::session::SignedIn;
use super::words;
use crate::problem::{FieldError, Problem};
use crate::routes::tracking::{parse_location, ClockRequest};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/today", web::get().to(today))
        .route("/today/{id}/status", web::post().to(change_status))
        .route("/clock-in", web::post().to(clock_in))
        .route("/clock-out", web::post().to(clock_out))
        .route("/my-timesheet", web::get().to(my_timesheet));
}

const TODAY: &str = "/app/today";

/// The statuses a technician moves an appointment through on site, in the
/// order they come; cancelling and no-shows are the office's.
const ON_SITE: [Status; 4] = [
    Status::Confirmed,
    Status::EnRoute,
    Status::InProgress,
    Status::Completed,
];

/// The signed-in person's own id: the pages are about their appointments
/// and shifts, whatever their role.
fn own_id(signed_in: &SignedIn) -> Result<Id<User>, PageError> {
    signed_in
        .caller
        .user()
        .map(|(id, _)| id)
        .ok_or_else(|| Problem::not_found().into())
}

// ---- today ----------------------------------------------------------------------

/// One appointment as the day's list shows it.
struct Visit {
    appointment: Appointment,
    person: Option<Person>,
}

/// The person an appointment is for, as the API lets the caller read them (a
/// technician: the people of their own appointments), whichever their stage.
async fn person_of(
    state: &AppState,
    signed_in: &SignedIn,
    id: Id<Person>,
) -> Result<Option<Person>, PageError> {
    for stage in [Stage::Customer, Stage::Prospect] {
        match people::get(state, &signed_in.caller, stage, id).await {
            Ok(record) => return Ok(Some(record.person)),
            Err(err) => {
                let problem = Problem::from(err);
                if problem.status != StatusCode::NOT_FOUND {
                    return Err(problem.into());
                }
            }
        }
    }
    Ok(None)
}

/// Where the person stands with a tracker app on their phone.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tracker {
    /// A device of theirs whose token works.
    Live,
    /// None yet, and they may set one up.
    ToSetUp,
    /// Their role has no tracker.
    NotTheirs,
}

async fn tracker_of(state: &AppState, signed_in: &SignedIn, me: Id<User>) -> Tracker {
    let page = PageRequest {
        after: None,
        limit: 100,
    };
    match devices::list(state, &signed_in.caller, me, page).await {
        Ok(found) if found.iter().any(|device| device.revoked_at.is_none()) => Tracker::Live,
        Ok(_) => Tracker::ToSetUp,
        Err(_) => Tracker::NotTheirs,
    }
}

pub async fn today(
    state: web::Data<AppState>,
    signed_in: SignedIn,
) -> Result<HttpResponse, PageError> {
    day_page(&state, &signed_in).await
}

/// The day's page.
async fn day_page(state: &AppState, signed_in: &SignedIn) -> Result<HttpResponse, PageError> {
    let me = own_id(signed_in)?;
    let zone = words::zone(state, signed_in).await?;
    let today = Utc::now().with_timezone(&zone).date_naive();
    let tomorrow = today + Duration::days(1);
    let shift = time_clock::open_shift(state, &signed_in.caller).await?;
    let (rows, _) = appointments::list(
        state,
        &signed_in.caller,
        ListRequest {
            from: Some(Ts::from(words::start_of(today, zone))),
            to: Some(Ts::from(words::start_of(
                tomorrow + Duration::days(1),
                zone,
            ))),
            technician: Some(me),
            person: None,
            status: None,
            after: None,
            fetch: 500,
        },
    )
    .await?;
    let mut visits = Vec::with_capacity(rows.len());
    for (appointment, _) in rows {
        let person = match appointment.person_id {
            Some(id) => person_of(state, signed_in, id).await?,
            None => None,
        };
        visits.push(Visit {
            appointment,
            person,
        });
    }
    visits.sort_by_key(|visit| visit.appointment.starts_at.get());
    let tracker = tracker_of(state, signed_in, me).await;
    // An appointment still going on from yesterday belongs to today.
    let day_of = |visit: &Visit| {
        visit
            .appointment
            .starts_at
            .get()
            .with_timezone(&zone)
            .date_naive()
            .max(today)
    };
    let csrf = signed_in.csrf();
    let content = html! {
        div class="phone" {
            h1 { "Today" }
            (clock(&csrf, shift.as_ref(), zone, today, tracker == Tracker::Live))
            @for (day, words) in [(today, "Today"), (tomorrow, "Tomorrow")] {
                @let heading = format!("{words}, {}", words::day(day));
                @let of_day: Vec<&Visit> = visits.iter().filter(|v| day_of(v) == day).collect();
                section class="day" aria-label=(heading) {
                    h2 { (heading) }
                    @if of_day.is_empty() {
                        p { "No appointments." }
                    }
                    @for visit in of_day {
                        (visit_card(&csrf, visit, zone))
                    }
                }
            }
            // Once per phone: below the day's work.
            @if tracker == Tracker::ToSetUp { (tracker_link()) }
        }
    };
    Ok(layout::frame(
        signed_in,
        Section::Today,
        StatusCode::OK,
        "Today",
        content,
    ))
}

/// The time clock: clocking in, or since when they are clocked in and
/// clocking out, with the links that start and stop the tracker app.
fn clock(csrf: &str, shift: Option<&Shift>, zone: Tz, today: NaiveDate, tracker: bool) -> Markup {
    html! {
        section class="clock" aria-labelledby="clock-heading" {
            h2 id="clock-heading" { "Time clock" }
            @match shift {
                None => {
                    p { "You are not clocked in." }
                    // app.js fills the position in when the browser may give it;
                    // without it the form is sent without one.
                    form method="post" action="/app/clock-in" data-clock-in-position {
                        (csrf_input(csrf))
                        input type="hidden" name="lat" value="";
                        input type="hidden" name="lon" value="";
                        button type="submit" { "Clock in" }
                    }
                    p class="hint" { "If your browser asks for your position, allowing it records where you clocked in, and nothing after that." }
                }
                Some(shift) => {
                    @let since = shift.clock_in_at.get().with_timezone(&zone);
                    p {
                        "Clocked in since "
                        @if since.date_naive() != today { (words::day(since.date_naive())) ", " }
                        (words::clock(since)) "."
                    }
                    @if tracker {
                        a class="button quiet" href=(TRACCAR_START_LINK) { "Start Traccar Client" }
                    }
                    form method="post" action="/app/clock-out" {
                        (csrf_input(csrf))
                        button type="submit" { "Clock out" }
                    }
                    @if tracker {
                        a class="button quiet" href=(TRACCAR_STOP_LINK) { "Stop Traccar Client" }
                        p class="hint" { "Positions are kept only while you are clocked in: stop the app when you clock out to save the battery." }
                    }
                }
            }
        }
    }
}

/// Leads to the person's phones, where a tracker app is set up (`devices`);
/// they may then start and stop it from the time clock.
fn tracker_link() -> Markup {
    html! {
        section class="tracker" aria-labelledby="tracker-heading" {
            h2 id="tracker-heading" { "Tracking on this phone" }
            p { "Traccar Client sends your position from this phone; only what it sends while you are clocked in is kept. Install it first, then set it up." }
            p { a class="button" href="/app/my-devices" { "Set up Traccar Client" } }
        }
    }
}

/// A `geo:` URI (RFC 5870) searching for the address: Android hands it to the
/// maps app the person chose, and most maps apps open it. `0,0` with `q=` is
/// the form that searches rather than pins the null point.
fn maps_link(address: &str) -> String {
    format!(
        "geo:0,0?q={}",
        utf8_percent_encode(address, NON_ALPHANUMERIC)
    )
}

fn visit_card(csrf: &str, visit: &Visit, zone: Tz) -> Markup {
    let a = &visit.appointment;
    let id = a.id.uuid();
    let heading = format!("appointment-{id}");
    let starts = a.starts_at.get().with_timezone(&zone);
    let ends = a.ends_at.get().with_timezone(&zone);
    let address = appointments::one_line_address(a);
    let phone = visit.person.as_ref().and_then(|p| p.phone.as_deref());
    let status = *a.status;
    let offered: Vec<Status> = ON_SITE
        .into_iter()
        .filter(|next| status.can_become(*next))
        .collect();
    html! {
        article class="appointment" id=(heading) aria-labelledby=(format!("{heading}-title")) {
            h3 id=(format!("{heading}-title")) {
                (words::clock(starts)) "–" (words::clock(ends)) ": " (a.title)
            }
            p { "Status: " strong { (words::status(status)) } }
            @if let Some(person) = &visit.person { p { "For " (person.name) } }
            @if let Some(address) = &address {
                p { a class="maps" href=(maps_link(address)) { (address) } span class="hint" { "Opens your maps app" } }
            }
            @if let (Some(person), Some(phone)) = (&visit.person, phone) {
                div class="contact" {
                    a class="button" href=(format!("tel:{phone}")) { "Call " (person.name) }
                    a class="button" href=(format!("sms:{phone}")) { "Text " (person.name) }
                }
            }
            @if !offered.is_empty() {
                div class="statuses" {
                    @for next in offered {
                        form method="post" action=(format!("{TODAY}/{id}/status")) {
                            (csrf_input(csrf))
                            input type="hidden" name="version" value=(a.version);
                            input type="hidden" name="status" value=(next.as_str());
                            button type="submit" { (words::status_action(next)) }
                        }
                    }
                }
            }
        }
    }
}

/// What a form on the day's page could not do, and the way back to it.
fn refused(
    signed_in: &SignedIn,
    status: StatusCode,
    heading: &str,
    notice: &str,
    errors: &[FieldError],
) -> HttpResponse {
    let content = html! {
        div class="phone" {
            h1 { (heading) }
            div class="notice" role="alert" {
                p { (notice) }
                @if !errors.is_empty() {
                    ul { @for error in errors { li { (error.field) ": " (error.message) } } }
                }
            }
            p { a class="button" href=(TODAY) { "Reload today's appointments" } }
        }
    };
    layout::frame(signed_in, Section::Today, status, heading, content)
}

/// The API's reason, as the end of a sentence.
fn reason(problem: &Problem) -> String {
    problem
        .detail
        .as_deref()
        .map_or_else(|| problem.title.to_owned(), str::to_owned)
}

// ---- status ------------------------------------------------------------------------

#[derive(Deserialize)]
pub struct StatusForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    status: String,
    /// The version the page showed, so a change made meanwhile is not overrun.
    #[serde(default)]
    version: String,
}

pub async fn change_status(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<String>,
    form: web::Form<StatusForm>,
) -> Result<HttpResponse, PageError> {
    signed_in.check_csrf(&form.csrf)?;
    let id = Uuid::parse_str(&path).map_err(|_| PageError::from(Problem::not_found()))?;
    let changed = match form.status.parse::<Status>() {
        Ok(to) => {
            let if_match = form
                .version
                .trim()
                .parse()
                .map_or(IfMatch::Never, IfMatch::Version);
            appointments::change_status(&state, &signed_in.caller, Id::from_uuid(id), to, if_match)
                .await
                .map_err(Problem::from)
        }
        Err(invalid) => Err(Problem::invalid_field("status", invalid.0)),
    };
    let problem = match changed {
        Ok(_) => return Ok(see_other(TODAY)),
        Err(problem) => problem,
    };
    let notice = match problem.status {
        StatusCode::PRECONDITION_FAILED => "Someone else changed this appointment since you opened the page, so its status was not changed.".to_owned(),
        StatusCode::CONFLICT | StatusCode::UNPROCESSABLE_ENTITY => {
            format!("The status was not changed: {}.", reason(&problem))
        }
        _ => return Err(problem.into()),
    };
    Ok(refused(
        &signed_in,
        problem.status,
        "Status not changed",
        &notice,
        &problem.errors,
    ))
}

// ---- the time clock ----------------------------------------------------------------

#[derive(Deserialize)]
pub struct ClockInForm {
    #[serde(default)]
    csrf: String,
    /// Filled in by the browser when the person allows it; empty otherwise.
    #[serde(default)]
    lat: String,
    #[serde(default)]
    lon: String,
}

impl ClockInForm {
    /// The position as the JSON body would carry it.
    fn request(&self) -> Result<ClockRequest, Problem> {
        let mut errors = Vec::new();
        let mut number = |field: &str, raw: &str| match raw.trim() {
            "" => None,
            raw => raw
                .parse::<f64>()
                .map_err(|_| errors.push(FieldError::new(field, "must be a number")))
                .ok(),
        };
        let lat = number("lat", &self.lat);
        let lon = number("lon", &self.lon);
        if errors.is_empty() {
            Ok(ClockRequest { lat, lon })
        } else {
            Err(Problem::validation(errors))
        }
    }
}

pub async fn clock_in(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    form: web::Form<ClockInForm>,
) -> Result<HttpResponse, PageError> {
    signed_in.check_csrf(&form.csrf)?;
    let clocked = match form.request().and_then(|body| parse_location(&body)) {
        Ok(at) => time_clock::clock_in(&state, &signed_in.caller, at)
            .await
            .map(drop)
            .map_err(Problem::from),
        Err(problem) => Err(problem),
    };
    after_clock(&signed_in, clocked, "Not clocked in")
}

pub async fn clock_out(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    signed_in.check_csrf(&form.csrf)?;
    // Only the clock-in point is asked of the browser.
    let clocked = time_clock::clock_out(&state, &signed_in.caller, None)
        .await
        .map(drop)
        .map_err(Problem::from);
    after_clock(&signed_in, clocked, "Not clocked out")
}

fn after_clock(
    signed_in: &SignedIn,
    clocked: Result<(), Problem>,
    heading: &str,
) -> Result<HttpResponse, PageError> {
    match clocked {
        Ok(()) => Ok(see_other(TODAY)),
        Err(problem)
            if matches!(
                problem.status,
                StatusCode::CONFLICT | StatusCode::UNPROCESSABLE_ENTITY
            ) =>
        {
            let notice = format!("{heading}: {}.", reason(&problem));
            Ok(refused(
                signed_in,
                problem.status,
                heading,
                &notice,
                &problem.errors,
            ))
        }
        Err(problem) => Err(problem.into()),
    }
}

// ---- timesheet -----------------------------------------------------------------------

#[derive(Deserialize)]
pub struct WeekQuery {
    /// Any day of the week to show (`YYYY-MM-DD`); this week otherwise.
    week: Option<String>,
}

fn monday_of(day: NaiveDate) -> NaiveDate {
    day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
}

fn week_link(monday: NaiveDate) -> String {
    format!("/app/my-timesheet?week={}", monday.format("%Y-%m-%d"))
}

pub async fn my_timesheet(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    query: web::Query<WeekQuery>,
) -> Result<HttpResponse, PageError> {
    let me = own_id(&signed_in)?;
    let zone = words::zone(&state, &signed_in).await?;
    let today = Utc::now().with_timezone(&zone).date_naive();
    let day = match query.week.as_deref().map(str::trim) {
        None | Some("") => today,
        Some(raw) => NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| {
            PageError::from(Problem::invalid_field(
                "week",
                "must be a date such as 2026-12-07",
            ))
        })?,
    };
    let monday = monday_of(day);
    let next_monday = monday + Duration::days(7);
    let sheet = time_clock::timesheet(
        &state,
        &signed_in.caller,
        TimesheetRequest {
            user: Some(me),
            from: Some(Ts::from(words::start_of(monday, zone))),
            to: Some(Ts::from(words::start_of(next_monday, zone))),
            after: None,
            fetch: i64::MAX,
        },
    )
    .await?;
    let this_week = monday == monday_of(today);
    let week_words = format!("the week of {}", monday.format("%A %-d %B %Y"));
    let title = if this_week {
        "My hours this week".to_owned()
    } else {
        format!("My hours in {week_words}")
    };
    let content = html! {
        div class="phone" {
            h1 { (title) }
            nav class="weeks" aria-label="Weeks" {
                a href=(week_link(monday - Duration::days(7))) rel="prev" { "Previous week" }
                @if !this_week { a href="/app/my-timesheet" { "This week" } }
                a href=(week_link(next_monday)) rel="next" { "Next week" }
            }
            @if sheet.rows.is_empty() {
                p { "No shifts in " (week_words) "." }
            } @else {
                table class="timesheet" {
                    caption { "Shifts in " (week_words) ", times in " (zone.name()) }
                    thead { tr {
                        th scope="col" { "Clock-in" }
                        th scope="col" { "Clock-out" }
                        th scope="col" { "Worked" }
                        th scope="col" { "Distance" }
                    } }
                    tbody {
                        @for row in &sheet.rows { (shift_row(row, zone)) }
                    }
                    tfoot { tr {
                        th scope="row" colspan="2" {
                            "Week's total: " (sheet.total_shifts) @if sheet.total_shifts == 1 { " shift" } @else { " shifts" }
                        }
                        td { (words::length(sheet.total_worked_s)) }
                        td { (words::distance(sheet.total_distance_m)) }
                    } }
                }
            }
        }
    };
    Ok(layout::frame(
        &signed_in,
        Section::MyTimesheet,
        StatusCode::OK,
        &title,
        content,
    ))
}

fn shift_row(row: &ShiftSummary, zone: Tz) -> Markup {
    let when = |at: Ts| {
        let at = at.get().with_timezone(&zone);
        format!("{}, {}", at.format("%a %-d %b"), words::clock(at))
    };
    html! {
        tr {
            th scope="row" { (when(row.shift.clock_in_at)) }
            td {
                @match row.shift.clock_out_at {
                    Some(at) => (when(at)),
                    None => "Still clocked in",
                }
            }
            td { (words::length(row.worked_s)) }
            td { (words::distance(row.distance_m)) }
        }
    }
}
