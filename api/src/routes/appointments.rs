use actix_web::http::header::{ETAG, LOCATION};
use actix_web::http::StatusCode;
use actix_web::{delete, get, patch, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use fieldcrm_db::appointments::{Appointment, Reminder};
use fieldcrm_db::{Id, Ts};
use fieldcrm_domain::parse_notes;
use fieldcrm_domain::scheduling::{ReminderRule, Status, TimeSlot, Title};

use crate::auth::Caller;
use crate::extract::Json;
use crate::paging::{Page, PageQuery};
use crate::preconditions::{etag, IdempotencyKey, IfMatch};
use crate::problem::{FieldError, Fields, Problem};
use crate::routes::people::{parse_address, AddressBody};
use crate::routes::{created_response, to_json};
use crate::views::AddressView;
use fieldcrm_app::idempotency;
use fieldcrm_app::scheduling::appointments::{
    self, AppointmentPatch, Detail, ListRequest, NewAppointment,
};
use fieldcrm_app::state::AppState;

#[derive(Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct ReminderBody {
    #[schema(value_type = crate::vocabulary::ChannelName, inline)]
    pub channel: String,
    /// 0 to 43200 (30 days).
    #[schema(minimum = 0, maximum = 43200)]
    pub minutes_before: i64,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAppointmentRequest {
    /// The customer or prospect.
    pub customer_id: Uuid,
    pub technician_id: Option<Uuid>,
    #[schema(example = "Annual boiler service")]
    pub title: String,
    pub starts_at: DateTime<Utc>,
    /// After `starts_at`.
    pub ends_at: DateTime<Utc>,
    pub notes: Option<String>,
    /// Defaults to the customer's address.
    pub address: Option<AddressBody>,
    /// Defaults to the account's reminder rules; `[]` for none.
    pub reminders: Option<Vec<ReminderBody>>,
    /// Book even if the technician has an overlapping open appointment.
    #[serde(default)]
    pub allow_overlap: bool,
}

/// Absent: unchanged; `null` clears (`address: null` goes back to the customer's).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAppointmentRequest {
    pub title: Option<String>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "crate::extract::nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub technician_id: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "crate::extract::nullable")]
    #[schema(value_type = Option<String>)]
    pub notes: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::extract::nullable")]
    #[schema(value_type = Option<AddressBody>)]
    pub address: Option<Option<AddressBody>>,
    /// Replaces the reminders.
    pub reminders: Option<Vec<ReminderBody>>,
    #[serde(default)]
    pub allow_overlap: bool,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {
    /// The next status: scheduled → confirmed → en_route → in_progress →
    /// completed, or `cancelled` / `no_show` from any open status.
    #[schema(value_type = crate::vocabulary::AppointmentStatusName, inline, example = "confirmed")]
    pub status: String,
}

#[derive(Serialize, ToSchema)]
pub struct ReminderView {
    #[schema(value_type = crate::vocabulary::ChannelName)]
    pub channel: String,
    pub minutes_before: i32,
    /// When it goes out.
    pub due_at: DateTime<Utc>,
    #[schema(value_type = crate::vocabulary::ReminderStatusName)]
    pub status: String,
}

#[derive(Serialize, ToSchema)]
pub struct StatusChangeView {
    pub from: Option<String>,
    pub to: String,
    /// `user:<id>` or `api_key:<id>`.
    pub by: String,
    pub at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct AppointmentView {
    pub id: Uuid,
    /// The customer or prospect; null for an event made in Google Calendar that
    /// none of the account's customers or prospects attends.
    pub customer_id: Option<Uuid>,
    pub technician_id: Option<Uuid>,
    pub title: String,
    pub notes: Option<String>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// `starts_at` in the account's time zone, for showing to people.
    #[schema(example = "2026-03-09T09:00:00-05:00")]
    pub local_starts_at: String,
    pub local_ends_at: String,
    /// The account's IANA time zone.
    pub time_zone: String,
    pub address: Option<AddressView>,
    #[schema(value_type = crate::vocabulary::AppointmentStatusName)]
    pub status: String,
    /// When the technician's GPS first came within the account's radius
    /// (150 m by default) of the place that day.
    pub arrived_at: Option<DateTime<Utc>>,
    /// When it first left again after arriving.
    pub departed_at: Option<DateTime<Utc>>,
    pub reminders: Vec<ReminderView>,
    /// Every status change, oldest first (only on single reads).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_history: Option<Vec<StatusChangeView>>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn view(
    a: Appointment,
    reminders: Vec<Reminder>,
    zone: chrono_tz::Tz,
    history: Option<Vec<StatusChangeView>>,
) -> AppointmentView {
    let local = |t: Ts| t.get().with_timezone(&zone).to_rfc3339();
    AppointmentView {
        id: a.id.uuid(),
        customer_id: a.person_id.map(|p| p.uuid()),
        technician_id: a.technician_id.map(|t| t.uuid()),
        title: a.title,
        notes: a.notes,
        starts_at: a.starts_at.get(),
        ends_at: a.ends_at.get(),
        local_starts_at: local(a.starts_at),
        local_ends_at: local(a.ends_at),
        time_zone: zone.name().to_owned(),
        address: a.address.address().map(AddressView::from),
        status: a.status.as_str().to_owned(),
        arrived_at: a.arrived_at.map(|t| t.get()),
        departed_at: a.departed_at.map(|t| t.get()),
        reminders: reminders
            .into_iter()
            .map(|r| ReminderView {
                channel: r.channel.as_str().to_owned(),
                minutes_before: r.minutes_before,
                due_at: r.due_at.get(),
                status: r.status.as_str().to_owned(),
            })
            .collect(),
        status_history: history,
        version: a.version,
        created_at: a.created_at.get(),
        updated_at: a.updated_at.get(),
    }
}

pub(crate) fn detail_view(d: Detail) -> AppointmentView {
    let history = d
        .history
        .into_iter()
        .map(|c| StatusChangeView {
            from: c.from_status.map(|s| s.as_str().to_owned()),
            to: c.to_status.as_str().to_owned(),
            by: c.changed_by,
            at: c.changed_at.get(),
        })
        .collect();
    view(d.appointment, d.reminders, d.time_zone, Some(history))
}

fn respond(status: actix_web::http::StatusCode, detail: Detail) -> HttpResponse {
    let body = detail_view(detail);
    let mut response = HttpResponse::build(status);
    response.insert_header((ETAG, etag(body.version)));
    if status == actix_web::http::StatusCode::CREATED {
        response.insert_header((LOCATION, format!("/v1/appointments/{}", body.id)));
    }
    response.json(body)
}

fn rules(fields: &mut Fields, raw: Option<&[ReminderBody]>) -> Option<Vec<ReminderRule>> {
    let raw = raw?;
    if raw.len() > ReminderRule::MAX_PER_APPOINTMENT {
        fields.push(FieldError::new(
            "reminders",
            format!("must hold at most {}", ReminderRule::MAX_PER_APPOINTMENT),
        ));
        return None;
    }
    let mut parsed = Vec::new();
    for (i, r) in raw.iter().enumerate() {
        match ReminderRule::parse(&r.channel, r.minutes_before) {
            Ok(rule) => parsed.push(rule),
            Err(invalid) => fields.push(FieldError::new(format!("reminders[{i}]"), invalid.0)),
        }
    }
    Some(parsed)
}

/// The booking the use case takes, or 422 naming every invalid field.
pub fn parse_new(body: &CreateAppointmentRequest) -> Result<NewAppointment, Problem> {
    let mut fields = Fields::default();
    let title = fields.check("title", Title::parse(&body.title));
    let notes = fields.check(
        "notes",
        parse_notes(body.notes.as_deref().unwrap_or_default()),
    );
    let slot = fields.check("ends_at", TimeSlot::new(body.starts_at, body.ends_at));
    let address = parse_address(&mut fields, body.address.as_ref()).flatten();
    let reminders = rules(&mut fields, body.reminders.as_deref());
    fields.finish()?;
    let (Some(title), Some(notes), Some(slot)) = (title, notes, slot) else {
        return Err(Problem::internal());
    };
    Ok(NewAppointment {
        person_id: Id::from_uuid(body.customer_id),
        technician_id: body.technician_id.map(Id::from_uuid),
        title,
        notes,
        slot,
        address,
        reminders,
        allow_overlap: body.allow_overlap,
    })
}

/// The change the use case takes, or 422 naming every invalid field.
pub fn parse_patch(body: &UpdateAppointmentRequest) -> Result<AppointmentPatch, Problem> {
    let mut fields = Fields::default();
    let mut patch = AppointmentPatch {
        allow_overlap: body.allow_overlap,
        ..Default::default()
    };
    if let Some(title) = &body.title {
        patch.title = fields.check("title", Title::parse(title));
    }
    if let Some(notes) = &body.notes {
        patch.notes = fields.check("notes", parse_notes(notes.as_deref().unwrap_or_default()));
    }
    patch.starts_at = body.starts_at.map(Ts::from);
    patch.ends_at = body.ends_at.map(Ts::from);
    patch.technician_id = body.technician_id.map(|t| t.map(Id::from_uuid));
    if let Some(raw) = &body.address {
        patch.address = parse_address(&mut fields, raw.as_ref());
    }
    patch.reminders = rules(&mut fields, body.reminders.as_deref());
    fields.finish()?;
    Ok(patch)
}

/// The status asked for, or 422.
pub fn parse_status(body: &StatusRequest) -> Result<Status, Problem> {
    body.status
        .parse::<Status>()
        .map_err(|e| Problem::invalid_field("status", e.0))
}

/// Create an appointment. Booking a technician into an overlapping open
/// appointment is 409 (with `conflicting_id`) unless `allow_overlap` is true.
/// Its reminders (given, or the account's defaults) are scheduled at once.
/// Send an `Idempotency-Key` to make retries safe: the same key and body
/// return the first response again (with `Idempotency-Replayed: true`) for
/// 24 hours, and book once; the same key with another body is 422.
///
/// Permission: `ManageAppointments`.
#[utoipa::path(
    tag = "appointments",
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, max_length = 255, pattern = "^[!-~]+$", description = "A unique key per intended creation, e.g. a UUID")),
    request_body(content = CreateAppointmentRequest, example = json!({
        "customer_id": "0193a5c4-0a4e-7c1d-9f0e-3c2b1a0f9e8d",
        "technician_id": "0193a5c4-1b2c-7d3e-8f40-5a6b7c8d9e0f",
        "title": "Boiler service",
        "starts_at": "2026-12-08T15:00:00Z",
        "ends_at": "2026-12-08T16:30:00Z",
        "notes": "Side gate code 4417",
        "reminders": [{"channel": "sms", "minutes_before": 1440}]
    })),
    responses(
        (status = 201, description = "The appointment, with its reminders", body = AppointmentView),
        (status = 403, description = "The caller may not schedule", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "A replay (same `Idempotency-Key`) of a request whose appointment has since been deleted", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The technician is booked then (`conflicting_id`), or a request with this Idempotency-Key is still being processed", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("")]
pub async fn create_appointment(
    state: web::Data<AppState>,
    caller: Caller,
    key: IdempotencyKey,
    raw: Json<CreateAppointmentRequest>,
) -> Result<HttpResponse, Problem> {
    appointments::authorize_changes(&caller)?;
    let input = parse_new(&raw.0)?;
    let account = caller.account_id;
    let result = idempotency::run(
        &state,
        account,
        key.with_body(&raw.1),
        move |conn| {
            let detail = appointments::create_in(conn, &caller, input)?;
            Ok((StatusCode::CREATED.as_u16(), to_json(&detail_view(detail))?))
        },
        move |conn, id| {
            appointments::detail_of(conn, account, Id::from_uuid(id))?
                .map(|detail| to_json(&detail_view(detail)))
                .transpose()
        },
    )
    .await?;
    Ok(created_response(&result, "/v1/appointments"))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AppointmentQuery {
    /// Appointments that end after this time (RFC 3339): with `to`, those overlapping the range.
    pub from: Option<DateTime<Utc>>,
    /// Appointments that start before this time (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Only appointments assigned to this technician.
    pub technician_id: Option<Uuid>,
    /// Only appointments of this customer or prospect.
    pub customer_id: Option<Uuid>,
    /// Only appointments in this status.
    #[param(value_type = Option<crate::vocabulary::AppointmentStatusName>, inline)]
    pub status: Option<String>,
}

/// List appointments.
///
/// Permission: `ViewAppointments`.
#[utoipa::path(
    tag = "appointments",
    security(("bearer" = [])),
    params(AppointmentQuery, PageQuery),
    responses(
        (status = 200, description = "A page of appointments", body = Page<AppointmentView>),
        (status = 403, description = "The caller may not see appointments", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("")]
pub async fn list_appointments(
    state: web::Data<AppState>,
    caller: Caller,
    filter: web::Query<AppointmentQuery>,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, Problem> {
    let page = page.parse()?;
    let status = match filter.status.as_deref() {
        None => None,
        Some(raw) => Some(
            raw.parse::<Status>()
                .map_err(|e| Problem::invalid_field("status", e.0))?,
        ),
    };
    let (rows, zone) = appointments::list(
        &state,
        &caller,
        ListRequest {
            from: filter.from.map(Ts::from),
            to: filter.to.map(Ts::from),
            technician: filter.technician_id.map(Id::from_uuid),
            person: filter.customer_id.map(Id::from_uuid),
            status,
            after: page.after(),
            fetch: page.fetch(),
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(
        page,
        rows,
        |(a, _)| a.id.uuid(),
        |(a, r)| view(a, r, zone, None),
    )))
}

/// One appointment with its reminders and status history.
///
/// Permission: `ViewAppointments`.
#[utoipa::path(
    tag = "appointments",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The appointment's id")),
    responses(
        (status = 200, description = "The appointment", body = AppointmentView),
        (status = 403, description = "The caller may not see appointments", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/{id}")]
pub async fn get_appointment(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, Problem> {
    let detail = appointments::get(&state, &caller, Id::from_uuid(*id)).await?;
    Ok(respond(actix_web::http::StatusCode::OK, detail))
}

/// Change or reschedule an appointment; rescheduling moves its reminders.
/// `If-Match` refuses a stale change (412).
///
/// Permission: `ManageAppointments`.
#[utoipa::path(
    tag = "appointments",
    security(("bearer" = [])),
    params(
        ("id" = Uuid, Path, description = "The appointment's id"),
        ("If-Match" = Option<String>, Header, pattern = r#"^(\*|(W/)?"[^"]*"( *, *(W/)?"[^"]*")*)$"#, description = "The `ETag` last read"),
    ),
    request_body = UpdateAppointmentRequest,
    responses(
        (status = 200, description = "The changed appointment", body = AppointmentView),
        (status = 403, description = "The caller may not schedule", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The technician is booked then (`conflicting_id`)", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed since the `ETag` in `If-Match`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/{id}")]
pub async fn update_appointment(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: Json<UpdateAppointmentRequest>,
) -> Result<HttpResponse, Problem> {
    appointments::authorize_changes(&caller)?;
    let patch = parse_patch(&body.0)?;
    let detail =
        appointments::update(&state, &caller, Id::from_uuid(*id), *if_match, patch).await?;
    Ok(respond(actix_web::http::StatusCode::OK, detail))
}

/// Delete an appointment and its reminders.
///
/// Permission: `ManageAppointments`.
#[utoipa::path(
    tag = "appointments",
    security(("bearer" = [])),
    params(
        ("id" = Uuid, Path, description = "The appointment's id"),
        ("If-Match" = Option<String>, Header, pattern = r#"^(\*|(W/)?"[^"]*"( *, *(W/)?"[^"]*")*)$"#, description = "The `ETag` last read"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "The caller may not schedule", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed since the `ETag` in `If-Match`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/{id}")]
pub async fn delete_appointment(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> Result<HttpResponse, Problem> {
    appointments::delete(&state, &caller, Id::from_uuid(*id), *if_match).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Move an appointment to its next status. An illegal move is 422 naming the
/// statuses allowed (`allowed`). Closing it (completed, cancelled, no_show)
/// cancels its pending reminders. `If-Match` refuses a move based on a stale
/// read (412).
///
/// Permission: `UpdateAppointmentStatus`.
#[utoipa::path(
    tag = "appointments",
    security(("bearer" = [])),
    params(
        ("id" = Uuid, Path, description = "The appointment's id"),
        ("If-Match" = Option<String>, Header, pattern = r#"^(\*|(W/)?"[^"]*"( *, *(W/)?"[^"]*")*)$"#, description = "The `ETag` last read"),
    ),
    request_body = StatusRequest,
    responses(
        (status = 200, description = "The appointment in its new status", body = AppointmentView),
        (status = 403, description = "The caller may not change statuses", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed since the `ETag` in `If-Match`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/{id}/status")]
pub async fn change_status(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: Json<StatusRequest>,
) -> Result<HttpResponse, Problem> {
    let to = parse_status(&body.0)?;
    let detail =
        appointments::change_status(&state, &caller, Id::from_uuid(*id), to, *if_match).await?;
    Ok(respond(actix_web::http::StatusCode::OK, detail))
}

#[derive(Serialize, ToSchema)]
pub struct CalendarFeed {
    /// Subscribe to this URL in a calendar app. Keep it secret: anyone with it
    /// sees the appointments. Rotating makes a new one and ends the old.
    pub url: String,
}

/// Make (or replace) the caller's secret iCalendar feed URL of the appointments
/// assigned to them. The previous URL stops working. The URL is under the
/// service's public base URL (`FIELDCRM_PUBLIC_BASE_URL`), whatever host the
/// request was sent to.
///
/// Permission: `UseOwnCalendarFeed`.
#[utoipa::path(
    tag = "appointments",
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The new feed URL", body = CalendarFeed),
        (status = 403, description = "Called with an API key", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/me/calendar-feed")]
pub async fn rotate_calendar_feed(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, Problem> {
    let token = fieldcrm_app::scheduling::calendar_feed::rotate(&state, &caller).await?;
    // Never from the request's `Host` or scheme: a forged one would put
    // another site into the link a technician subscribes to.
    let url = format!(
        "{}/v1/calendar-feeds/{token}",
        state.outbound.public_base_url
    );
    Ok(HttpResponse::Created().json(CalendarFeed { url }))
}

/// Turn the caller's calendar feed off.
///
/// Permission: `UseOwnCalendarFeed`.
#[utoipa::path(
    tag = "appointments",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The feed URL no longer works"),
        (status = 403, description = "Called with an API key", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/v1/me/calendar-feed")]
pub async fn revoke_calendar_feed(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, Problem> {
    fieldcrm_app::scheduling::calendar_feed::revoke(&state, &caller).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A person's open appointments (from a week ago on) as iCalendar (RFC 5545).
///
/// Public: the secret token in the path is the credential.
#[utoipa::path(
    tag = "appointments",
    params(("token" = String, Path, description = "The secret from `POST /v1/me/calendar-feed`")),
    responses(
        (status = 200, description = "The calendar", content_type = "text/calendar", body = String),
    )
)]
#[get("/v1/calendar-feeds/{token}")]
pub async fn calendar_feed(
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    let ics = fieldcrm_app::scheduling::calendar_feed::render(&state, token.into_inner()).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/calendar; charset=utf-8")
        .insert_header((
            actix_web::http::header::CACHE_CONTROL,
            "private, max-age=300",
        ))
        .body(ics))
}
