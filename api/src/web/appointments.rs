//! The office's appointments: a day and a week per technician, booking,
//! rescheduling, assigning and changing the status. Each form is parsed by the
//! JSON API's own functions (`routes::appointments`) and sent to the same use
//! case; times are typed and shown in the account's time zone.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use maud::{html, Markup};
use serde::Deserialize;
use uuid::Uuid;

use fieldcrm_app::accounts::settings;
use fieldcrm_app::people;
use fieldcrm_app::scheduling::appointments::{self, Detail, ListRequest};
use fieldcrm_app::{AppError, AppState, Failure};
use fieldcrm_db::appointments::Appointment;
use fieldcrm_db::people::Person;
use fieldcrm_db::users::User;
use fieldcrm_db::{Id, Ts};
use fieldcrm_domain::scheduling::Status;
use fieldcrm_domain::{Role, Stage};

use super::address::{self, AddressForm};
use super::error::PageError;
use super::forms::{
    csrf_input, has_field_errors, input, select, summary, textarea, version_of, with_own_messages,
    Input, Messages, VersionedForm,
};
use super::layout::{self, Section};
use super::reminders::{self, ReminderRows};
use super::see_other;
use super::session::SignedIn;
use super::words;
use crate::problem::{FieldError, Problem};
use crate::routes::appointments::{
    detail_view, parse_new, parse_patch, parse_status, AppointmentView, CreateAppointmentRequest,
    StatusRequest, UpdateAppointmentRequest,
};
use crate::routes::people::{parse_list, PeopleQuery};
use crate::views::AccountView;

const SCHEDULE: &str = "/app/appointments";
/// The API's name of an appointment's reminder rules, which their messages carry.
const REMINDERS: &str = "reminders";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/appointments", web::get().to(schedule))
        .route("/appointments", web::post().to(create))
        .route("/appointments/new", web::get().to(new_form))
        .route("/appointments/{id}", web::get().to(show))
        .route("/appointments/{id}", web::post().to(update))
        .route("/appointments/{id}/edit", web::get().to(edit_form))
        .route("/appointments/{id}/status", web::post().to(change_status))
        .route("/appointments/{id}/delete", web::post().to(delete));
}

fn frame(signed_in: &SignedIn, status: StatusCode, title: &str, content: Markup) -> HttpResponse {
    layout::frame(signed_in, Section::Appointments, status, title, content)
}

/// An id from the path or a link; anything else is a page that does not exist.
fn id_in(raw: &str) -> Result<Uuid, PageError> {
    Uuid::parse_str(raw.trim()).map_err(|_| Problem::not_found().into())
}

fn non_empty(text: &str) -> Option<String> {
    (!text.trim().is_empty()).then(|| text.to_owned())
}

// ---- times in the account's zone ---------------------------------------------------

/// "Monday 9 March 2026, 09:00 to 10:30", with the end's day when it differs.
fn when_words(starts: DateTime<Utc>, ends: DateTime<Utc>, zone: Tz) -> String {
    let (starts, ends) = (starts.with_timezone(&zone), ends.with_timezone(&zone));
    if starts.date_naive() == ends.date_naive() {
        format!(
            "{}, {} to {}",
            words::day(starts.date_naive()),
            words::clock(starts),
            words::clock(ends)
        )
    } else {
        format!(
            "{}, {} to {}, {}",
            words::day(starts.date_naive()),
            words::clock(starts),
            words::day(ends.date_naive()),
            words::clock(ends)
        )
    }
}

/// What a `datetime-local` control shows for a time.
fn local_input(at: DateTime<Utc>, zone: Tz) -> String {
    at.with_timezone(&zone).format("%Y-%m-%dT%H:%M").to_string()
}

/// A `datetime-local` value read in the account's time zone, or why not.
fn typed_time(raw: &str, zone: Tz) -> Result<DateTime<Utc>, String> {
    let raw = raw.trim();
    let local = NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| "must be a date and time, such as 2026-03-09T09:00".to_owned())?;
    zone.from_local_datetime(&local)
        .earliest()
        .map(|at| at.with_timezone(&Utc))
        .ok_or_else(|| {
            format!(
                "does not exist in {}: the clocks go forward then",
                zone.name()
            )
        })
}

// ---- words ---------------------------------------------------------------------------

fn role_words(role: Role) -> &'static str {
    match role {
        Role::Owner => "owner",
        Role::Admin => "admin",
        Role::Dispatcher => "dispatcher",
        Role::Technician => "technician",
    }
}

/// Whom appointments may be assigned to, as the select offers them.
fn technician_options(technicians: &[User], none: &str) -> Vec<(String, String)> {
    std::iter::once((String::new(), none.to_owned()))
        .chain(technicians.iter().map(|user| {
            let words = match *user.role {
                Role::Technician => user.name.clone(),
                role => format!("{} ({})", user.name, role_words(role)),
            };
            (user.id.to_string(), words)
        }))
        .collect()
}

/// The people appointments are for: their names and where their page is.
struct Customers(HashMap<Uuid, (String, Stage)>);

impl Customers {
    async fn of(
        state: &AppState,
        signed_in: &SignedIn,
        ids: impl Iterator<Item = Option<Uuid>>,
    ) -> Result<Self, PageError> {
        let mut ids: Vec<Id<Person>> = ids.flatten().map(Id::from_uuid).collect();
        ids.sort_unstable_by_key(|id| id.uuid());
        ids.dedup();
        let names = appointments::customer_names(state, &signed_in.caller, ids).await?;
        Ok(Customers(
            names
                .into_iter()
                .map(|(id, name, stage)| (id.uuid(), (name, stage)))
                .collect(),
        ))
    }

    fn link(&self, id: Option<Uuid>) -> Markup {
        match id.and_then(|id| self.0.get(&id).map(|found| (id, found))) {
            Some((id, (name, stage))) => {
                let path = match stage {
                    Stage::Customer => "customers",
                    Stage::Prospect => "prospects",
                };
                html! { a href=(format!("/app/{path}/{id}")) { (name) } }
            }
            None => html! { "No customer" },
        }
    }
}

// ---- the schedule -----------------------------------------------------------------

#[derive(Deserialize)]
pub struct ScheduleQuery {
    #[serde(default)]
    date: String,
    #[serde(default)]
    view: String,
    #[serde(default)]
    technician: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum View {
    Day,
    Week,
}

impl View {
    fn as_str(self) -> &'static str {
        match self {
            View::Day => "day",
            View::Week => "week",
        }
    }
}

/// The schedule's address for a day, a view and a technician (or all).
fn schedule_href(day: NaiveDate, view: View, technician: Option<Uuid>) -> String {
    let technician = technician.map(|id| id.to_string()).unwrap_or_default();
    let mut query = vec![
        ("date", day.to_string()),
        ("view", view.as_str().to_owned()),
    ];
    if !technician.is_empty() {
        query.push(("technician", technician));
    }
    format!(
        "{SCHEDULE}?{}",
        serde_urlencoded::to_string(query).unwrap_or_default()
    )
}

/// One technician's appointments (or the unassigned ones), in time order.
struct Group<'a> {
    heading: String,
    appointments: Vec<&'a Appointment>,
}

/// The day view's and the week view's groups: every technician, then whoever
/// else is booked, then the appointments no one is assigned to.
fn groups<'a>(rows: &'a [Appointment], technicians: &[User], only: Option<Uuid>) -> Vec<Group<'a>> {
    let of = |who: Option<Uuid>| -> Vec<&'a Appointment> {
        rows.iter()
            .filter(|a| a.technician_id.map(|t| t.uuid()) == who)
            .collect()
    };
    let mut groups: Vec<Group<'a>> = technicians
        .iter()
        .filter(|user| match only {
            Some(id) => user.id.uuid() == id,
            None => {
                *user.role == Role::Technician
                    || rows.iter().any(|a| a.technician_id == Some(user.id))
            }
        })
        .map(|user| Group {
            heading: user.name.clone(),
            appointments: of(Some(user.id.uuid())),
        })
        .collect();
    let unassigned = of(None);
    if only.is_none() && !unassigned.is_empty() {
        groups.push(Group {
            heading: "Not assigned".into(),
            appointments: unassigned,
        });
    }
    groups
}

fn appointment_list(appointments: &[&Appointment], customers: &Customers, zone: Tz) -> Markup {
    html! {
        @if appointments.is_empty() {
            p class="quiet" { "Nothing booked." }
        } @else {
            ol class="appointments" {
                @for a in appointments {
                    li {
                        span class="when" {
                            (words::clock(a.starts_at.get().with_timezone(&zone))) " to "
                            (words::clock(a.ends_at.get().with_timezone(&zone)))
                        }
                        " "
                        a href=(format!("{SCHEDULE}/{}", a.id)) { (a.title) }
                        span class="who" { (customers.link(a.person_id.map(|p| p.uuid()))) }
                        span class=(format!("status status-{}", a.status.as_str())) {
                            "Status: " (words::status(*a.status))
                        }
                    }
                }
            }
        }
    }
}

/// More appointments than one page of the schedule shows.
const MOST_ON_A_PAGE: i64 = 1000;

pub async fn schedule(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    query: web::Query<ScheduleQuery>,
) -> Result<HttpResponse, PageError> {
    signed_in.office()?;
    let zone = words::zone(&state, &signed_in).await?;
    let today = Utc::now().with_timezone(&zone).date_naive();
    let day = match query.date.trim() {
        "" => today,
        raw => NaiveDate::parse_from_str(raw, "%Y-%m-%d")
            .map_err(|_| Problem::bad_request("the date must be written as 2026-03-09"))?,
    };
    let view = match query.view.as_str() {
        "week" => View::Week,
        _ => View::Day,
    };
    let technicians = appointments::technicians(&state, &signed_in.caller).await?;
    let only = match query.technician.trim() {
        "" => None,
        raw => {
            let id = id_in(raw)?;
            if !technicians.iter().any(|user| user.id.uuid() == id) {
                return Err(Problem::not_found().into());
            }
            Some(id)
        }
    };
    let (first, days) = match view {
        View::Day => (day, 1),
        View::Week => (
            day - Duration::days(i64::from(day.weekday().num_days_from_monday())),
            7,
        ),
    };
    let last = first + Duration::days(days - 1);
    let (mut rows, _) = appointments::list(
        &state,
        &signed_in.caller,
        ListRequest {
            from: Some(Ts::from(words::start_of(first, zone))),
            to: Some(Ts::from(words::start_of(last + Duration::days(1), zone))),
            technician: only.map(Id::from_uuid),
            person: None,
            status: None,
            after: None,
            fetch: MOST_ON_A_PAGE + 1,
        },
    )
    .await?;
    let cut = rows.len() > MOST_ON_A_PAGE as usize;
    rows.truncate(MOST_ON_A_PAGE as usize);
    let mut rows: Vec<Appointment> = rows.into_iter().map(|(a, _)| a).collect();
    rows.sort_by_key(|a| (a.starts_at, a.ends_at));
    let customers = Customers::of(
        &state,
        &signed_in,
        rows.iter().map(|a| a.person_id.map(|p| p.uuid())),
    )
    .await?;
    let groups = groups(&rows, &technicians, only);
    // An appointment begun before the first day is listed on it.
    let local_day = |a: &Appointment| {
        a.starts_at
            .get()
            .with_timezone(&zone)
            .date_naive()
            .max(first)
    };
    let step = Duration::days(days);
    let title = match view {
        View::Day => format!("Appointments on {}", words::day(day)),
        View::Week => format!("Appointments in the week of {}", words::day(first)),
    };
    let (previous, next, unit) = match view {
        View::Day => ("Previous day", "Next day", "Today"),
        View::Week => ("Previous week", "Next week", "This week"),
    };
    let choices = technician_options(&technicians, "All technicians");
    let content = html! {
        h1 { (title) }
        div class="actions" {
            a class="button" href=(format!("{SCHEDULE}/new")) { "Book an appointment" }
        }
        nav class="pager" aria-label="Dates" {
            ul {
                li { a href=(schedule_href(day - step, view, only)) { (previous) } }
                li {
                    @if day == today { a href=(schedule_href(today, view, only)) aria-current="date" { (unit) } }
                    @else { a href=(schedule_href(today, view, only)) { (unit) } }
                }
                li { a href=(schedule_href(day + step, view, only)) { (next) } }
            }
        }
        nav class="pager" aria-label="Views" {
            ul {
                @for (each, words) in [(View::Day, "Day"), (View::Week, "Week")] {
                    li {
                        @if each == view { a href=(schedule_href(day, each, only)) aria-current="page" { (words) } }
                        @else { a href=(schedule_href(day, each, only)) { (words) } }
                    }
                }
            }
        }
        form class="search" method="get" action=(SCHEDULE) {
            div class="field" {
                label for="date" { "Date" }
                input id="date" type="date" name="date" value=(day.to_string());
            }
            (select("technician", "Technician", &choices, &query.technician, &Messages::default()))
            input type="hidden" name="view" value=(view.as_str());
            button type="submit" { "Show" }
        }
        @if cut {
            div class="notice" role="status" { p { "Only the first " (MOST_ON_A_PAGE) " appointments are shown: choose one technician to see theirs." } }
        }
        @if groups.is_empty() {
            p { "Nothing booked, and no technicians yet." }
        }
        @for group in &groups {
            section class="group" {
                h2 { (group.heading) }
                @match view {
                    View::Day => (appointment_list(&group.appointments, &customers, zone)),
                    View::Week => {
                        @for offset in 0..days {
                            @let date = first + Duration::days(offset);
                            @let those: Vec<&Appointment> = group.appointments.iter().copied().filter(|a| local_day(a) == date).collect();
                            h3 { (words::day(date)) }
                            (appointment_list(&those, &customers, zone))
                        }
                    }
                }
            }
        }
    };
    Ok(frame(&signed_in, StatusCode::OK, &title, content))
}

// ---- one appointment --------------------------------------------------------------

async fn detail_of(
    state: &AppState,
    signed_in: &SignedIn,
    id: Uuid,
) -> Result<AppointmentView, PageError> {
    let detail: Detail = appointments::get(state, &signed_in.caller, Id::from_uuid(id)).await?;
    Ok(detail_view(detail))
}

/// An appointment's page or form: the appointment, the account's time zone
/// and whom it may be assigned to.
struct Opened {
    zone: Tz,
    appointment: AppointmentView,
    technicians: Vec<User>,
}

async fn opened(state: &AppState, signed_in: &SignedIn, path: &str) -> Result<Opened, PageError> {
    let id = id_in(path)?;
    signed_in.office()?;
    Ok(Opened {
        zone: words::zone(state, signed_in).await?,
        appointment: detail_of(state, signed_in, id).await?,
        technicians: appointments::technicians(state, &signed_in.caller).await?,
    })
}

pub async fn show(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let Opened {
        zone,
        appointment,
        technicians,
    } = opened(&state, &signed_in, &path).await?;
    let customers =
        Customers::of(&state, &signed_in, std::iter::once(appointment.customer_id)).await?;
    let technician = appointment
        .technician_id
        .and_then(|t| technicians.iter().find(|user| user.id.uuid() == t))
        .map_or("Not assigned", |user| user.name.as_str());
    let status: Status = appointment
        .status
        .parse()
        .map_err(|_| Problem::internal())?;
    let here = format!("{SCHEDULE}/{}", appointment.id);
    let local_day = appointment.starts_at.with_timezone(&zone).date_naive();
    let csrf = signed_in.csrf();
    let content = html! {
        p { a href=(schedule_href(local_day, View::Day, None)) { "The schedule of " (words::day(local_day)) } }
        h1 { (appointment.title) }
        div class="actions" {
            a class="button" href=(format!("{here}/edit")) { "Reschedule or assign" }
            form method="post" action=(format!("{here}/delete"))
                data-confirm="Delete this appointment? It is gone for good, with its reminders; the customer is not told. To tell them, cancel it instead." {
                (csrf_input(&csrf))
                input type="hidden" name="version" value=(appointment.version);
                button class="danger" type="submit" { "Delete" }
            }
        }
        dl class="details" {
            dt { "When" } dd { (when_words(appointment.starts_at, appointment.ends_at, zone)) " (" (zone.name()) ")" }
            dt { "Technician" } dd { (technician) }
            dt { "Customer" } dd { (customers.link(appointment.customer_id)) }
            dt { "Address" } dd { (appointment.address.as_ref().map(address::lines).as_deref().unwrap_or("—")) }
            dt { "Status" } dd { (words::status(status)) }
            dt { "Notes" } dd { (appointment.notes.as_deref().unwrap_or("—")) }
        }
        h2 { "Change the status" }
        @if status.next().is_empty() {
            p { "A " (words::status(status).to_lowercase()) " appointment keeps its status." }
        } @else {
            div class="actions" {
                @for next in status.next() {
                    form method="post" action=(format!("{here}/status"))
                        data-confirm=[(*next == Status::Cancelled).then_some("Cancel this appointment? The customer is told.")] {
                        (csrf_input(&csrf))
                        input type="hidden" name="version" value=(appointment.version);
                        input type="hidden" name="status" value=(next.as_str());
                        button type="submit" { (words::status_action(*next)) }
                    }
                }
            }
        }
    };
    Ok(frame(
        &signed_in,
        StatusCode::OK,
        &appointment.title,
        content,
    ))
}

#[derive(Deserialize)]
pub struct StatusForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    status: String,
}

pub async fn change_status(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<String>,
    form: web::Form<StatusForm>,
) -> Result<HttpResponse, PageError> {
    let id = id_in(&path)?;
    signed_in.check_csrf(&form.csrf)?;
    signed_in.office()?;
    let to = parse_status(&StatusRequest {
        status: form.status.clone(),
    })?;
    let changed = appointments::change_status(
        &state,
        &signed_in.caller,
        Id::from_uuid(id),
        to,
        version_of(&form.version),
    )
    .await
    .map_err(Problem::from);
    let problem = match changed {
        Ok(_) => return Ok(see_other(&format!("{SCHEDULE}/{id}"))),
        Err(problem) => problem,
    };
    // A page read before someone else moved the appointment on.
    let why: Vec<String> = match problem.status {
        StatusCode::PRECONDITION_FAILED => vec![
            "Someone else changed this appointment since you opened the page, so its status was not changed.".into(),
        ],
        _ if has_field_errors(&problem) => problem
            .errors
            .iter()
            .map(|error| format!("Not changed: {}.", error.message))
            .collect(),
        _ => return Err(problem.into()),
    };
    let content = html! {
        h1 { "Status not changed" }
        div class="notice" role="alert" { @for line in &why { p { (line) } } }
        p { a href=(format!("{SCHEDULE}/{id}")) { "Reload the appointment" } }
    };
    Ok(frame(
        &signed_in,
        problem.status,
        "Status not changed",
        content,
    ))
}

// ---- book, reschedule and assign ----------------------------------------------------

/// The form's fields, named as the JSON body's, so the API's messages name them.
#[derive(Deserialize, Default)]
pub struct AppointmentForm {
    #[serde(default)]
    csrf: String,
    /// The version the form was filled from, for `If-Match`.
    #[serde(default)]
    version: String,
    #[serde(default)]
    customer_id: String,
    #[serde(default)]
    technician_id: String,
    #[serde(default)]
    title: String,
    /// `datetime-local`, in the account's time zone.
    #[serde(default)]
    starts_at: String,
    #[serde(default)]
    ends_at: String,
    #[serde(default)]
    notes: String,
    /// Empty: the customer's address.
    #[serde(flatten)]
    address: AddressForm,
    #[serde(flatten)]
    reminders: ReminderRows,
    /// Ticked after a double booking was shown: book anyway.
    #[serde(default)]
    allow_overlap: Option<String>,
}

impl AppointmentForm {
    fn of(view: &AppointmentView, zone: Tz) -> Self {
        Self {
            version: view.version.to_string(),
            customer_id: view
                .customer_id
                .map(|id| id.to_string())
                .unwrap_or_default(),
            technician_id: view
                .technician_id
                .map(|id| id.to_string())
                .unwrap_or_default(),
            title: view.title.clone(),
            starts_at: local_input(view.starts_at, zone),
            ends_at: local_input(view.ends_at, zone),
            notes: view.notes.clone().unwrap_or_default(),
            address: AddressForm::of(view.address.as_ref()),
            reminders: ReminderRows::of(
                view.reminders
                    .iter()
                    .map(|r| (r.channel.as_str(), i64::from(r.minutes_before))),
            ),
            ..Self::default()
        }
    }

    fn allow_overlap(&self) -> bool {
        self.allow_overlap.is_some()
    }

    /// The chosen technician; one that is not an id is noted in `own`.
    fn technician(&self, own: &mut Vec<FieldError>) -> Option<Uuid> {
        match self.technician_id.trim() {
            "" => None,
            raw => Uuid::parse_str(raw)
                .map_err(|_| {
                    own.push(FieldError::new(
                        "technician_id",
                        "choose a technician from the list",
                    ))
                })
                .ok(),
        }
    }

    /// Both times, or None for one that could not be read (noted in `own`).
    fn times(
        &self,
        zone: Tz,
        own: &mut Vec<FieldError>,
    ) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        let mut read = |field: &str, raw: &str| {
            typed_time(raw, zone)
                .map_err(|message| own.push(FieldError::new(field, message)))
                .ok()
        };
        (
            read("starts_at", &self.starts_at),
            read("ends_at", &self.ends_at),
        )
    }
}

/// Why a form was not saved.
enum Refused {
    Fields(Messages),
    /// Changed by someone else since the form was read.
    Stale,
    /// The technician is booked then, for this appointment.
    DoubleBooked(Option<Box<AppointmentView>>, Uuid),
}

/// What to show again for a failed write: the form for what the person can
/// mend, a page for the rest.
async fn refused(
    state: &AppState,
    signed_in: &SignedIn,
    error: Result<AppError, Problem>,
    reminder_rows: &[usize],
) -> Result<(StatusCode, Refused), PageError> {
    let problem = match error {
        Ok(AppError {
            failure: Failure::DoubleBooked { conflicting },
            ..
        }) => {
            // The office sees every appointment; should it have gone since, the id remains.
            let other = detail_of(state, signed_in, conflicting)
                .await
                .ok()
                .map(Box::new);
            return Ok((
                StatusCode::CONFLICT,
                Refused::DoubleBooked(other, conflicting),
            ));
        }
        Ok(error) => Problem::from(error),
        Err(problem) => problem,
    };
    match problem.status {
        _ if has_field_errors(&problem) => {
            let on_rows = |error| reminders::on_rows(error, REMINDERS, reminder_rows);
            let messages = problem.errors.into_iter().map(on_rows).collect();
            Ok((problem.status, Refused::Fields(Messages(messages))))
        }
        StatusCode::PRECONDITION_FAILED => Ok((problem.status, Refused::Stale)),
        _ => Err(problem.into()),
    }
}

/// Whom a new appointment is for, as the form shows it.
struct For {
    id: Uuid,
    /// Their name and stage, for the link to their page.
    known: Customers,
}

/// The booking or editing form, with what was typed and why it was refused.
#[allow(clippy::too_many_arguments)]
fn appointment_form(
    signed_in: &SignedIn,
    editing: Option<&AppointmentView>,
    customer: Option<&For>,
    technicians: &[User],
    zone: Tz,
    form: &AppointmentForm,
    status: StatusCode,
    refusal: Option<&Refused>,
) -> HttpResponse {
    let none = Messages::default();
    let messages = match refusal {
        Some(Refused::Fields(messages)) => messages,
        _ => &none,
    };
    let (title, action, back) = match editing {
        Some(view) => (
            format!("Reschedule or assign: {}", view.title),
            format!("{SCHEDULE}/{}", view.id),
            format!("{SCHEDULE}/{}", view.id),
        ),
        None => (
            "Book an appointment".to_owned(),
            SCHEDULE.to_owned(),
            SCHEDULE.to_owned(),
        ),
    };
    let zone_hint = format!("In the account's time zone, {}.", zone.name());
    let time = |name: &'static str, label: &'static str, value: &str| {
        input(
            &Input {
                name,
                label,
                value,
                kind: "datetime-local",
                autocomplete: "off",
                required: true,
                hint: Some(&zone_hint),
            },
            messages,
        )
    };
    let choices = technician_options(technicians, "Not assigned");
    let content = html! {
        h1 { (title) }
        @match refusal {
            Some(Refused::Stale) => div class="notice" role="alert" {
                p { "Someone else changed this appointment since you opened the form, so your changes were not saved." }
                p { "What you typed is kept below. " a href=(format!("{back}/edit")) { "Reload the current version" } " to start again from it." }
            },
            Some(Refused::DoubleBooked(other, id)) => div class="notice" role="alert" {
                p { "Not saved: the technician is booked then." }
                p {
                    "The other appointment: "
                    a href=(format!("{SCHEDULE}/{id}")) {
                        @if let Some(other) = other { (other.title) } @else { "see it" }
                    }
                    @if let Some(other) = other { ", " (when_words(other.starts_at, other.ends_at, zone)) "." }
                }
                p { "Choose another time or technician, or tick “Book anyway” below." }
            },
            _ => {}
        }
        (summary(messages))
        form class="stack" method="post" action=(action) novalidate {
            (csrf_input(&signed_in.csrf()))
            @if editing.is_some() { input type="hidden" name="version" value=(form.version); }
            @if let Some(customer) = customer {
                input type="hidden" name="customer_id" value=(customer.id);
                p { "For " (customer.known.link(Some(customer.id))) ". " a href=(format!("{SCHEDULE}/new")) { "Choose someone else" } }
                @if let Some(message) = messages.of("customer_id") { p class="error" { "Error: " (message) } }
            }
            (input(&Input { name: "title", label: "Title", value: &form.title, kind: "text", autocomplete: "off", required: true,
                hint: Some("What the work is, such as “Annual boiler service”.") }, messages))
            (time("starts_at", "Starts", &form.starts_at))
            (time("ends_at", "Ends", &form.ends_at))
            (select("technician_id", "Technician", &choices, &form.technician_id, messages))
            (textarea("notes", "Notes", &form.notes, messages))
            (form.address.fieldset("Address (optional)", Some("Empty: the customer's address."), messages))
            fieldset {
                legend { "Reminders" }
                p class="hint" { "Sent the given minutes before, to a customer who agreed to that channel. A new booking starts with the account's default reminders." }
                (form.reminders.markup(REMINDERS, messages))
            }
            @if matches!(refusal, Some(Refused::DoubleBooked(..))) || form.allow_overlap() {
                div class="field" {
                    input id="f-allow_overlap" type="checkbox" name="allow_overlap" value="on" checked[form.allow_overlap()];
                    " " label for="f-allow_overlap" { "Book anyway: the technician is then booked twice" }
                }
            }
            div class="actions" {
                button type="submit" { "Save" }
                a href=(back) { "Cancel" }
            }
        }
    };
    frame(signed_in, status, &title, content)
}

#[derive(Deserialize)]
pub struct NewQuery {
    #[serde(default)]
    customer: String,
    #[serde(default)]
    q: String,
}

/// The person a booking is for, from its link; another account's is not found.
async fn customer_for(state: &AppState, signed_in: &SignedIn, raw: &str) -> Result<For, PageError> {
    let id = id_in(raw)?;
    let customers = Customers::of(state, signed_in, std::iter::once(Some(id))).await?;
    if !customers.0.contains_key(&id) {
        return Err(Problem::not_found().into());
    }
    Ok(For {
        id,
        known: customers,
    })
}

pub async fn new_form(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    query: web::Query<NewQuery>,
) -> Result<HttpResponse, PageError> {
    signed_in.office()?;
    if query.customer.trim().is_empty() {
        return customer_search(&state, &signed_in, &query.q).await;
    }
    let customer = customer_for(&state, &signed_in, &query.customer).await?;
    // One read of the account for its time zone and its default reminders.
    let settings = settings::get(&state, &signed_in.caller).await?;
    let zone = settings.time_zone.tz();
    let account = AccountView::from(settings);
    let technicians = appointments::technicians(&state, &signed_in.caller).await?;
    let form = AppointmentForm {
        reminders: ReminderRows::defaults_of(&account),
        ..AppointmentForm::default()
    };
    Ok(appointment_form(
        &signed_in,
        None,
        Some(&customer),
        &technicians,
        zone,
        &form,
        StatusCode::OK,
        None,
    ))
}

/// The first step of booking: whom it is for.
async fn customer_search(
    state: &AppState,
    signed_in: &SignedIn,
    q: &str,
) -> Result<HttpResponse, PageError> {
    let mut found = Vec::new();
    if !q.trim().is_empty() {
        for (stage, words) in [(Stage::Customer, "customer"), (Stage::Prospect, "prospect")] {
            let request = parse_list(&PeopleQuery {
                q: non_empty(q),
                tag: None,
                updated_since: None,
                sort: None,
                limit: None,
                cursor: None,
            })?;
            for record in people::list(state, &signed_in.caller, stage, request).await? {
                found.push((record.person, words));
            }
        }
    }
    let content = html! {
        h1 { "Book an appointment" }
        p { "First, whom is it for?" }
        form class="search" role="search" method="get" action=(format!("{SCHEDULE}/new")) {
            div class="field" {
                label for="q" { "Search customers and prospects" }
                input id="q" type="search" name="q" value=(q) maxlength="200";
            }
            button type="submit" { "Search" }
        }
        @if !q.trim().is_empty() {
            @if found.is_empty() {
                p { "Nobody matches “" (q) "”. " a href="/app/customers/new" { "Add a customer" } }
            } @else {
                ul class="choices" {
                    @for (person, words) in &found {
                        li {
                            a href=(format!("{SCHEDULE}/new?customer={}", person.id)) { "Book for " (person.name) }
                            " (" (words) @if let Some(company) = &person.company { ", " (company) } ")"
                        }
                    }
                }
            }
        }
    };
    Ok(frame(
        signed_in,
        StatusCode::OK,
        "Book an appointment",
        content,
    ))
}

pub async fn create(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    form: web::Form<AppointmentForm>,
) -> Result<HttpResponse, PageError> {
    signed_in.check_csrf(&form.csrf)?;
    signed_in.office()?;
    let customer = customer_for(&state, &signed_in, &form.customer_id).await?;
    let zone = words::zone(&state, &signed_in).await?;
    let mut own = Vec::new();
    let technician = form.technician(&mut own);
    let (starts, ends) = form.times(zone, &mut own);
    let (rules, rows) = form.reminders.rules(REMINDERS, &mut own);
    // A time that could not be read stands in as one minute beside the other,
    // so that the API's parse still checks the rest of the form.
    let minute = Duration::minutes(1);
    let (starts_at, ends_at) = match (starts, ends) {
        (Some(starts), Some(ends)) => (starts, ends),
        (Some(starts), None) => (starts, starts + minute),
        (None, Some(ends)) => (ends - minute, ends),
        (None, None) => (DateTime::UNIX_EPOCH, DateTime::UNIX_EPOCH + minute),
    };
    let body = CreateAppointmentRequest {
        customer_id: customer.id,
        technician_id: technician,
        title: form.title.clone(),
        starts_at,
        ends_at,
        notes: non_empty(&form.notes),
        address: form.address.body(&mut own),
        reminders: Some(rules),
        allow_overlap: form.allow_overlap(),
    };
    let saved = match with_own_messages(parse_new(&body), own) {
        Ok(input) => appointments::create(&state, &signed_in.caller, input)
            .await
            .map_err(Ok),
        Err(problem) => Err(Err(problem)),
    };
    match saved {
        Ok(detail) => Ok(see_other(&format!("{SCHEDULE}/{}", detail.appointment.id))),
        Err(error) => {
            let (status, refusal) = refused(&state, &signed_in, error, &rows).await?;
            let technicians = appointments::technicians(&state, &signed_in.caller).await?;
            Ok(appointment_form(
                &signed_in,
                None,
                Some(&customer),
                &technicians,
                zone,
                &form,
                status,
                Some(&refusal),
            ))
        }
    }
}

pub async fn edit_form(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let Opened {
        zone,
        appointment,
        technicians,
    } = opened(&state, &signed_in, &path).await?;
    let form = AppointmentForm::of(&appointment, zone);
    Ok(appointment_form(
        &signed_in,
        Some(&appointment),
        None,
        &technicians,
        zone,
        &form,
        StatusCode::OK,
        None,
    ))
}

pub async fn update(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<String>,
    form: web::Form<AppointmentForm>,
) -> Result<HttpResponse, PageError> {
    let id = id_in(&path)?;
    signed_in.check_csrf(&form.csrf)?;
    signed_in.office()?;
    let zone = words::zone(&state, &signed_in).await?;
    let mut own = Vec::new();
    let technician = form.technician(&mut own);
    let (starts_at, ends_at) = form.times(zone, &mut own);
    let (rules, rows) = form.reminders.rules(REMINDERS, &mut own);
    // Reminders are replaced only when changed: a replaced one that went
    // out already would go out again.
    let current = detail_of(&state, &signed_in, id).await?;
    let changed = rules
        .iter()
        .map(|r| (r.channel.as_str(), r.minutes_before))
        .ne(current
            .reminders
            .iter()
            .map(|r| (r.channel.as_str(), i64::from(r.minutes_before))));
    // Every field is on the form: an empty one clears it.
    let body = UpdateAppointmentRequest {
        title: Some(form.title.clone()),
        starts_at,
        ends_at,
        technician_id: Some(technician),
        notes: Some(non_empty(&form.notes)),
        address: Some(form.address.body(&mut own)),
        reminders: changed.then_some(rules),
        allow_overlap: form.allow_overlap(),
    };
    let saved = match with_own_messages(parse_patch(&body), own) {
        Ok(patch) => appointments::update(
            &state,
            &signed_in.caller,
            Id::from_uuid(id),
            version_of(&form.version),
            patch,
        )
        .await
        .map_err(Ok),
        Err(problem) => Err(Err(problem)),
    };
    match saved {
        Ok(_) => Ok(see_other(&format!("{SCHEDULE}/{id}"))),
        Err(error) => {
            let (status, refusal) = refused(&state, &signed_in, error, &rows).await?;
            // The page as it is now, with the form as it was typed.
            let appointment = detail_of(&state, &signed_in, id).await?;
            let technicians = appointments::technicians(&state, &signed_in.caller).await?;
            Ok(appointment_form(
                &signed_in,
                Some(&appointment),
                None,
                &technicians,
                zone,
                &form,
                status,
                Some(&refusal),
            ))
        }
    }
}

/// Deletes the appointment as read (`If-Match`), back to its day's schedule.
pub async fn delete(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<String>,
    form: web::Form<VersionedForm>,
) -> Result<HttpResponse, PageError> {
    let id = id_in(&path)?;
    signed_in.check_csrf(&form.csrf)?;
    signed_in.office()?;
    let zone = words::zone(&state, &signed_in).await?;
    let appointment = detail_of(&state, &signed_in, id).await?;
    let deleted = appointments::delete(
        &state,
        &signed_in.caller,
        Id::from_uuid(id),
        version_of(&form.version),
    )
    .await
    .map_err(Problem::from);
    match deleted {
        Ok(()) => {
            let day = appointment.starts_at.with_timezone(&zone).date_naive();
            Ok(see_other(&schedule_href(day, View::Day, None)))
        }
        Err(problem) if problem.status == StatusCode::PRECONDITION_FAILED => {
            let here = format!("{SCHEDULE}/{id}");
            let content = html! {
                h1 { "Not deleted" }
                div class="notice" role="alert" {
                    p { "Someone else changed this appointment since you opened it, so it was not deleted." }
                    p { a href=(here) { "Open the current version" } " and decide again." }
                }
            };
            Ok(frame(&signed_in, problem.status, "Not deleted", content))
        }
        Err(problem) => Err(problem.into()),
    }
}
