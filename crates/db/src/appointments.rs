//! Appointments, their status history and their reminders.

use diesel::prelude::*;

use crate::accounts::Account;
use crate::connection::{DbConnection, MultiBackend};
use crate::people::Person;
use crate::schema::{appointment_status_changes, appointments, reminders};
use crate::users::User;
use fieldcrm_domain::scheduling::{ReminderStatus, Status};
use fieldcrm_domain::Channel;

use crate::address::AppointmentAddress;
use crate::types::Stored;
use crate::{DbResult, Id, Ts};

/// Statuses that no longer hold the technician's time.
pub const CLOSED_STATUSES: [&str; 3] = ["completed", "cancelled", "no_show"];

#[derive(
    serde::Serialize, Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset,
)]
#[diesel(table_name = appointments, check_for_backend(MultiBackend), treat_none_as_null = true, treat_none_as_default_value = false)]
pub struct Appointment {
    pub id: Id<Appointment>,
    pub account_id: Id<Account>,
    /// None for an event made in Google Calendar that no customer or prospect attends.
    pub person_id: Option<Id<Person>>,
    pub technician_id: Option<Id<User>>,
    pub title: String,
    pub notes: Option<String>,
    pub starts_at: Ts,
    pub ends_at: Ts,
    /// Flat in an export, as the columns are.
    #[diesel(embed)]
    #[serde(flatten)]
    pub address: AppointmentAddress,
    pub status: Stored<Status>,
    pub version: i32,
    pub created_at: Ts,
    pub updated_at: Ts,
    /// First GPS fix of the technician within the arrival radius.
    pub arrived_at: Option<Ts>,
    /// First fix outside the radius after arriving.
    pub departed_at: Option<Ts>,
}

#[derive(serde::Serialize, Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = appointment_status_changes, check_for_backend(MultiBackend), treat_none_as_default_value = false)]
pub struct StatusChange {
    pub id: Id<StatusChange>,
    pub account_id: Id<Account>,
    pub appointment_id: Id<Appointment>,
    pub from_status: Option<Stored<Status>>,
    pub to_status: Stored<Status>,
    pub changed_by: String,
    pub changed_at: Ts,
}

#[derive(serde::Serialize, Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = reminders, check_for_backend(MultiBackend), treat_none_as_default_value = false)]
pub struct Reminder {
    pub id: Id<Reminder>,
    pub account_id: Id<Account>,
    pub appointment_id: Id<Appointment>,
    pub channel: Stored<Channel>,
    pub minutes_before: i32,
    pub due_at: Ts,
    pub status: Stored<ReminderStatus>,
    pub created_at: Ts,
    pub updated_at: Ts,
}

pub fn insert(conn: &mut DbConnection, appointment: &Appointment) -> DbResult<()> {
    diesel::insert_into(appointments::table)
        .values(appointment)
        .execute(conn)?;
    Ok(())
}

pub fn find(
    conn: &mut DbConnection,
    account: Id<Account>,
    id: Id<Appointment>,
) -> DbResult<Option<Appointment>> {
    Ok(appointments::table
        .filter(appointments::account_id.eq(account))
        .find(id)
        .select(Appointment::as_select())
        .first(conn)
        .optional()?)
}

/// Writes the appointment if its stored version is still `expected_version`.
pub fn save(
    conn: &mut DbConnection,
    appointment: &Appointment,
    expected_version: i32,
) -> DbResult<bool> {
    let updated = diesel::update(
        appointments::table
            .filter(appointments::account_id.eq(appointment.account_id))
            .find(appointment.id)
            .filter(appointments::version.eq(expected_version)),
    )
    .set(appointment)
    .execute(conn)?;
    Ok(updated == 1)
}

pub fn delete(
    conn: &mut DbConnection,
    account: Id<Account>,
    id: Id<Appointment>,
) -> DbResult<bool> {
    let deleted = diesel::delete(
        appointments::table
            .filter(appointments::account_id.eq(account))
            .find(id),
    )
    .execute(conn)?;
    Ok(deleted > 0)
}

/// An open appointment of the technician that overlaps `[starts_at, ends_at)`.
pub fn first_overlap(
    conn: &mut DbConnection,
    technician: Id<User>,
    starts_at: Ts,
    ends_at: Ts,
    except: Id<Appointment>,
) -> DbResult<Option<Id<Appointment>>> {
    Ok(appointments::table
        .filter(appointments::technician_id.eq(technician))
        .filter(appointments::id.ne(except))
        .filter(appointments::status.ne_all(CLOSED_STATUSES))
        .filter(appointments::starts_at.lt(ends_at))
        .filter(appointments::ends_at.gt(starts_at))
        .order(appointments::starts_at.asc())
        .select(appointments::id)
        .first(conn)
        .optional()?)
}

pub struct Filter {
    pub account: Id<Account>,
    /// Appointments that end after this time.
    pub from: Option<Ts>,
    /// Appointments that start before this time.
    pub to: Option<Ts>,
    pub technician: Option<Id<User>>,
    pub person: Option<Id<Person>>,
    pub status: Option<Status>,
    pub after: Option<Id<Appointment>>,
    pub limit: i64,
}

/// In creation (id) order.
pub fn list(conn: &mut DbConnection, filter: &Filter) -> DbResult<Vec<Appointment>> {
    let mut query = appointments::table
        .filter(appointments::account_id.eq(filter.account))
        .select(Appointment::as_select())
        .order(appointments::id.asc())
        .limit(filter.limit)
        .into_boxed();
    if let Some(from) = filter.from {
        query = query.filter(appointments::ends_at.gt(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(appointments::starts_at.lt(to));
    }
    if let Some(technician) = filter.technician {
        query = query.filter(appointments::technician_id.eq(technician));
    }
    if let Some(person) = filter.person {
        query = query.filter(appointments::person_id.eq(person));
    }
    if let Some(status) = &filter.status {
        query = query.filter(appointments::status.eq(Stored(*status)));
    }
    if let Some(after) = filter.after {
        query = query.filter(appointments::id.gt(after));
    }
    Ok(query.load(conn)?)
}

pub fn record_change(conn: &mut DbConnection, change: &StatusChange) -> DbResult<()> {
    diesel::insert_into(appointment_status_changes::table)
        .values(change)
        .execute(conn)?;
    Ok(())
}

pub fn history(
    conn: &mut DbConnection,
    appointment: Id<Appointment>,
) -> DbResult<Vec<StatusChange>> {
    Ok(appointment_status_changes::table
        .filter(appointment_status_changes::appointment_id.eq(appointment))
        .order(appointment_status_changes::id.asc())
        .select(StatusChange::as_select())
        .load(conn)?)
}

/// Replaces the appointment's reminders with `new`.
pub fn replace_reminders(
    conn: &mut DbConnection,
    appointment: Id<Appointment>,
    new: &[Reminder],
) -> DbResult<()> {
    diesel::delete(reminders::table.filter(reminders::appointment_id.eq(appointment)))
        .execute(conn)?;
    for reminder in new {
        diesel::insert_into(reminders::table)
            .values(reminder)
            .execute(conn)?;
    }
    Ok(())
}

pub fn reminders_of(
    conn: &mut DbConnection,
    appointments: &[Id<Appointment>],
) -> DbResult<Vec<Reminder>> {
    if appointments.is_empty() {
        return Ok(Vec::new());
    }
    Ok(reminders::table
        .filter(reminders::appointment_id.eq_any(appointments.to_vec()))
        .order((
            reminders::appointment_id,
            reminders::due_at,
            reminders::channel,
        ))
        .select(Reminder::as_select())
        .load(conn)?)
}

pub fn find_reminder(conn: &mut DbConnection, id: Id<Reminder>) -> DbResult<Option<Reminder>> {
    Ok(reminders::table
        .find(id)
        .select(Reminder::as_select())
        .first(conn)
        .optional()?)
}

pub fn set_reminder_status(
    conn: &mut DbConnection,
    id: Id<Reminder>,
    status: ReminderStatus,
    now: Ts,
) -> DbResult<()> {
    diesel::update(reminders::table.find(id))
        .set((
            reminders::status.eq(Stored(status)),
            reminders::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Cancels the reminders of the appointment that have not gone out.
pub fn cancel_reminders(
    conn: &mut DbConnection,
    appointment: Id<Appointment>,
    now: Ts,
) -> DbResult<usize> {
    Ok(diesel::update(
        reminders::table
            .filter(reminders::appointment_id.eq(appointment))
            .filter(reminders::status.eq("scheduled")),
    )
    .set((
        reminders::status.eq("cancelled"),
        reminders::updated_at.eq(now),
    ))
    .execute(conn)?)
}

/// The person's open appointments ending after `since`, by start time.
pub fn open_for_technician(
    conn: &mut DbConnection,
    account: Id<Account>,
    technician: Id<User>,
    since: Ts,
    limit: i64,
) -> DbResult<Vec<Appointment>> {
    Ok(appointments::table
        .filter(appointments::account_id.eq(account))
        .filter(appointments::technician_id.eq(technician))
        .filter(appointments::status.ne_all(CLOSED_STATUSES))
        .filter(appointments::ends_at.gt(since))
        .order(appointments::starts_at.asc())
        .limit(limit)
        .select(Appointment::as_select())
        .load(conn)?)
}

/// The technician's appointments with a known place that start between `from`
/// and `to`: candidates for arrival detection.
pub fn located_for_technician(
    conn: &mut DbConnection,
    technician: Id<User>,
    from: Ts,
    to: Ts,
) -> DbResult<Vec<Appointment>> {
    Ok(appointments::table
        .filter(appointments::technician_id.eq(technician))
        .filter(appointments::status.ne_all(["cancelled", "no_show"]))
        .filter(appointments::lat.is_not_null())
        .filter(appointments::lon.is_not_null())
        .filter(appointments::starts_at.ge(from))
        .filter(appointments::starts_at.le(to))
        .order(appointments::starts_at.asc())
        .select(Appointment::as_select())
        .load(conn)?)
}
