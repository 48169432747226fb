//! Appointments: scheduling rules (no double-booking unless asked), the status
//! lifecycle with its history, and the reminders each appointment will send.

use serde::Deserialize;

use fieldcrm_db::accounts::{self, Account};
use fieldcrm_db::address::AppointmentAddress;
use fieldcrm_db::appointments::{self, Appointment, Filter, Reminder, StatusChange};
use fieldcrm_db::people::{self, Person};
use fieldcrm_db::users::{self, User};
use fieldcrm_db::{DbConnection, Id, Stored, Ts};
use fieldcrm_domain::scheduling::{ReminderRule, ReminderStatus, Status, TimeSlot, Title};
use fieldcrm_domain::{Action, Address, Role, Stage};

use crate::caller::Caller;
use crate::error::{AppError, AppResult, Failure};
use crate::events::{self, Actor, Event, Origin, Saved};
use crate::preconditions::{self, IfMatch};
use crate::state::AppState;
use crate::tx::Tx;

pub struct NewAppointment {
    pub person_id: Id<Person>,
    pub technician_id: Option<Id<User>>,
    pub title: Title,
    pub notes: Option<String>,
    pub slot: TimeSlot,
    pub address: Option<Address>,
    pub reminders: Option<Vec<ReminderRule>>,
    pub allow_overlap: bool,
}

#[derive(Default)]
pub struct AppointmentPatch {
    pub title: Option<Title>,
    pub notes: Option<Option<String>>,
    pub starts_at: Option<Ts>,
    pub ends_at: Option<Ts>,
    pub technician_id: Option<Option<Id<User>>>,
    pub address: Option<Option<Address>>,
    pub reminders: Option<Vec<ReminderRule>>,
    pub allow_overlap: bool,
}

/// An appointment with its reminders and status history, and the account's
/// time zone for showing its times to people.
pub struct Detail {
    pub appointment: Appointment,
    pub reminders: Vec<Reminder>,
    pub history: Vec<StatusChange>,
    pub time_zone: chrono_tz::Tz,
}

/// Technicians see and move only the appointments assigned to them.
fn only_assigned(caller: &Caller) -> Option<Id<User>> {
    match caller.user() {
        Some((id, Role::Technician)) => Some(id),
        _ => None,
    }
}

/// A new appointment, not yet assigned, without an address.
fn scheduled(
    account: Id<Account>,
    person: Option<Id<Person>>,
    title: Title,
    slot: TimeSlot,
    now: Ts,
) -> Appointment {
    Appointment {
        id: Id::new(),
        account_id: account,
        person_id: person,
        technician_id: None,
        title: title.into_inner(),
        notes: None,
        starts_at: Ts::from(slot.starts_at()),
        ends_at: Ts::from(slot.ends_at()),
        address: AppointmentAddress::default(),
        status: Stored(Status::Scheduled),
        version: 1,
        created_at: now,
        updated_at: now,
        arrived_at: None,
        departed_at: None,
    }
}

/// The rules of the reminders still to come, to move them with the appointment.
fn pending_rules(
    conn: &mut DbConnection,
    id: Id<Appointment>,
) -> Result<Vec<ReminderRule>, AppError> {
    Ok(appointments::reminders_of(conn, &[id])?
        .iter()
        .filter(|r| r.status == ReminderStatus::Scheduled)
        .map(|r| ReminderRule {
            channel: *r.channel,
            minutes_before: r.minutes_before,
        })
        .collect())
}

#[derive(Deserialize)]
struct StoredRule {
    channel: String,
    minutes_before: i64,
}

fn default_rules(json: &str) -> Vec<ReminderRule> {
    serde_json::from_str::<Vec<StoredRule>>(json)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|r| ReminderRule::parse(&r.channel, r.minutes_before).ok())
        .collect()
}

fn reminders_for(a: &Appointment, rules: &[ReminderRule], now: Ts) -> AppResult<Vec<Reminder>> {
    let initial = if a.status.is_open() {
        ReminderStatus::Scheduled
    } else {
        ReminderStatus::Cancelled
    };
    Ok(rules
        .iter()
        .map(|rule| Reminder {
            id: Id::new(),
            account_id: a.account_id,
            appointment_id: a.id,
            channel: Stored(rule.channel),
            minutes_before: rule.minutes_before,
            due_at: Ts::from(rule.due_at(a.starts_at.get())),
            status: Stored(initial),
            created_at: now,
            updated_at: now,
        })
        .collect())
}

fn check_technician(
    conn: &mut DbConnection,
    caller: &Caller,
    technician: Option<Id<User>>,
) -> Result<(), AppError> {
    if let Some(id) = technician {
        if users::find(conn, caller.account_id, id)?.is_none() {
            return Err(AppError::invalid_field(
                "technician_id",
                "is not a user of this account",
            ));
        }
    }
    Ok(())
}

fn check_overlap(conn: &mut DbConnection, a: &Appointment, allow: bool) -> Result<(), AppError> {
    let Some(technician) = a.technician_id else {
        return Ok(());
    };
    if allow || !a.status.is_open() {
        return Ok(());
    }
    if let Some(other) =
        appointments::first_overlap(conn, technician, a.starts_at, a.ends_at, a.id)?
    {
        return Err(AppError::new(Failure::DoubleBooked { conflicting: other.uuid() })
            .with_detail(format!(
                "the technician has appointment {other} at that time; send `allow_overlap: true` to book anyway"
            )));
    }
    Ok(())
}

fn detail(conn: &mut DbConnection, appointment: Appointment) -> Result<Detail, AppError> {
    let reminders = appointments::reminders_of(conn, &[appointment.id])?;
    let history = appointments::history(conn, appointment.id)?;
    let time_zone = time_zone(conn, &appointment)?;
    Ok(Detail {
        appointment,
        reminders,
        history,
        time_zone,
    })
}

/// The appointment as `GET` shows it, for whoever may see the whole account.
pub fn detail_of(
    conn: &mut DbConnection,
    account: Id<Account>,
    id: Id<Appointment>,
) -> Result<Option<Detail>, AppError> {
    match appointments::find(conn, account, id)? {
        Some(appointment) => Ok(Some(detail(conn, appointment)?)),
        None => Ok(None),
    }
}

fn time_zone(conn: &mut DbConnection, a: &Appointment) -> Result<chrono_tz::Tz, AppError> {
    let account = accounts::find(conn, a.account_id)?.ok_or_else(AppError::unauthorized)?;
    Ok(account.time_zone.tz())
}

pub fn authorize_changes(caller: &Caller) -> Result<(), AppError> {
    caller.require(Action::ManageAppointments)
}

/// Books an appointment in one transaction (with its reminders and its export
/// to Google), inside the caller's connection: for the idempotency store.
pub fn create_in(
    tx: &mut Tx<'_>,
    caller: &Caller,
    input: NewAppointment,
) -> Result<Detail, AppError> {
    authorize_changes(caller)?;
    tx.write_transaction(|tx| {
        let person = people::find(tx, caller.account_id, input.person_id)?.ok_or_else(|| {
            AppError::invalid_field(
                "customer_id",
                "is not a customer or prospect of this account",
            )
        })?;
        check_technician(tx, caller, input.technician_id)?;
        let now = Ts::now();
        let mut appointment = scheduled(
            caller.account_id,
            Some(person.id),
            input.title,
            input.slot,
            now,
        );
        appointment.technician_id = input.technician_id;
        appointment.notes = input.notes;
        match &input.address {
            Some(address) => appointment.address = Some(address).into(),
            None => appointment.address = (&person.address).into(),
        }
        check_overlap(tx, &appointment, input.allow_overlap)?;
        appointments::insert(tx, &appointment)?;
        appointments::record_change(
            tx,
            &StatusChange {
                id: Id::new(),
                account_id: caller.account_id,
                appointment_id: appointment.id,
                from_status: None,
                to_status: appointment.status,
                changed_by: caller.actor(),
                changed_at: now,
            },
        )?;
        let rules = match input.reminders {
            Some(rules) => rules,
            None => {
                let account =
                    accounts::find(tx, caller.account_id)?.ok_or_else(AppError::unauthorized)?;
                default_rules(&account.default_reminders)
            }
        };
        let reminders = reminders_for(&appointment, &rules, now)?;
        tx.publish(Event::AppointmentSaved {
            appointment: &appointment,
            saved: Saved::Created,
            reminders: Some(&reminders),
            actor: Actor::of(caller),
            origin: Origin::Api,
        })?;
        detail(tx, appointment)
    })
}

/// Books an appointment on its own: a creation with no `Idempotency-Key` to
/// keep beside it (the web's forms).
pub async fn create(
    state: &AppState,
    caller: &Caller,
    input: NewAppointment,
) -> Result<Detail, AppError> {
    authorize_changes(caller)?;
    let caller = caller.clone();
    state.db(move |conn| create_in(conn, &caller, input)).await
}

/// More users than an account of a field-service business has.
const MOST_USERS: i64 = 1000;

/// Whom an appointment may be assigned to: any user of the account, as
/// `technician_id` takes. For those who schedule, who need not manage users.
pub async fn technicians(state: &AppState, caller: &Caller) -> Result<Vec<User>, AppError> {
    authorize_changes(caller)?;
    let account = caller.account_id;
    state
        .db(move |conn| Ok(users::list(conn, account, None, MOST_USERS)?))
        .await
}

/// The names and stages of the people appointments are for, by id: what a
/// schedule shows beside each appointment.
pub async fn customer_names(
    state: &AppState,
    caller: &Caller,
    ids: Vec<Id<Person>>,
) -> Result<Vec<(Id<Person>, String, Stage)>, AppError> {
    authorize_changes(caller)?;
    let account = caller.account_id;
    state
        .db(move |conn| {
            Ok(people::names_of(conn, account, &ids)?
                .into_iter()
                .map(|(id, name, stage)| (id, name, *stage))
                .collect())
        })
        .await
}

fn load_visible(
    conn: &mut DbConnection,
    caller: &Caller,
    id: Id<fieldcrm_db::appointments::Appointment>,
) -> Result<Appointment, AppError> {
    let appointment =
        appointments::find(conn, caller.account_id, id)?.ok_or_else(AppError::not_found)?;
    if let Some(own) = only_assigned(caller) {
        if appointment.technician_id != Some(own) {
            return Err(AppError::not_found());
        }
    }
    Ok(appointment)
}

pub async fn get(
    state: &AppState,
    caller: &Caller,
    id: Id<Appointment>,
) -> Result<Detail, AppError> {
    caller.require(Action::ViewAppointments)?;
    let caller = caller.clone();
    state
        .db(move |conn| {
            let appointment = load_visible(conn, &caller, id)?;
            detail(conn, appointment)
        })
        .await
}

pub struct ListRequest {
    pub from: Option<Ts>,
    pub to: Option<Ts>,
    pub technician: Option<Id<User>>,
    pub person: Option<Id<Person>>,
    pub status: Option<Status>,
    pub after: Option<Id<Appointment>>,
    pub fetch: i64,
}

/// Appointments with their reminders, and the account's time zone.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    request: ListRequest,
) -> Result<(Vec<(Appointment, Vec<Reminder>)>, chrono_tz::Tz), AppError> {
    caller.require(Action::ViewAppointments)?;
    let technician = match (only_assigned(caller), request.technician) {
        (Some(own), Some(asked)) if own != asked => return Ok((Vec::new(), chrono_tz::UTC)),
        (Some(own), _) => Some(own),
        (None, asked) => asked,
    };
    let account = caller.account_id;
    state
        .db(move |conn| {
            let rows = appointments::list(
                conn,
                &Filter {
                    account,
                    from: request.from,
                    to: request.to,
                    technician,
                    person: request.person,
                    status: request.status,
                    after: request.after,
                    limit: request.fetch,
                },
            )?;
            let ids: Vec<_> = rows.iter().map(|a| a.id).collect();
            let mut reminders = appointments::reminders_of(conn, &ids)?;
            let account = accounts::find(conn, account)?.ok_or_else(AppError::unauthorized)?;
            let zone = account.time_zone.tz();
            let rows = rows
                .into_iter()
                .map(|a| {
                    let (mine, rest): (Vec<_>, Vec<_>) =
                        reminders.drain(..).partition(|r| r.appointment_id == a.id);
                    reminders = rest;
                    (a, mine)
                })
                .collect();
            Ok((rows, zone))
        })
        .await
}

pub async fn update(
    state: &AppState,
    caller: &Caller,
    id: Id<Appointment>,
    if_match: IfMatch,
    patch: AppointmentPatch,
) -> Result<Detail, AppError> {
    authorize_changes(caller)?;
    let caller = caller.clone();
    state
        .db(move |conn| {
            conn.write_transaction(|conn| {
                let mut a = appointments::find(conn, caller.account_id, id)?
                    .ok_or_else(AppError::not_found)?;
                if_match.check(a.version)?;
                let read_version = a.version;
                let starts_before = a.starts_at;
                let before = a.clone();
                let reminders_given = patch.reminders.is_some();
                if let Some(title) = patch.title {
                    a.title = title.into_inner();
                }
                if let Some(notes) = patch.notes {
                    a.notes = notes;
                }
                if let Some(starts_at) = patch.starts_at {
                    a.starts_at = starts_at;
                }
                if let Some(ends_at) = patch.ends_at {
                    a.ends_at = ends_at;
                }
                TimeSlot::new(a.starts_at.get(), a.ends_at.get())
                    .map_err(|invalid| AppError::invalid_field("ends_at", invalid.0))?;
                if let Some(technician) = patch.technician_id {
                    check_technician(conn, &caller, technician)?;
                    a.technician_id = technician;
                }
                match patch.address {
                    None => {}
                    Some(Some(address)) => a.address = Some(&address).into(),
                    Some(None) => match a.person_id {
                        Some(person) => {
                            let person = people::find(conn, caller.account_id, person)?
                                .ok_or_else(AppError::not_found)?;
                            a.address = (&person.address).into();
                        }
                        None => a.address = AppointmentAddress::default(),
                    },
                }
                check_overlap(conn, &a, patch.allow_overlap)?;
                let now = Ts::now();
                a.version = read_version + 1;
                a.updated_at = now;
                if !appointments::save(conn, &a, read_version)? {
                    return Err(preconditions::stale(None));
                }
                // Rescheduling moves the reminders; new rules replace them.
                let rules: Option<Vec<ReminderRule>> = match patch.reminders {
                    Some(rules) => Some(rules),
                    None if a.starts_at != starts_before => Some(pending_rules(conn, a.id)?),
                    None => None,
                };
                let reminders = rules
                    .map(|rules| reminders_for(&a, &rules, now))
                    .transpose()?;
                let changed = events::changed_fields(&[
                    ("title", a.title != before.title),
                    ("notes", a.notes != before.notes),
                    ("starts_at", a.starts_at != before.starts_at),
                    ("ends_at", a.ends_at != before.ends_at),
                    ("technician_id", a.technician_id != before.technician_id),
                    (
                        "address",
                        // The parts a calendar or a technician acts on.
                        (
                            &a.address.address_line1,
                            &a.address.city,
                            &a.address.postal_code,
                            a.address.lat.map(f64::to_bits),
                        ) != (
                            &before.address.address_line1,
                            &before.address.city,
                            &before.address.postal_code,
                            before.address.lat.map(f64::to_bits),
                        ),
                    ),
                    ("reminders", reminders_given),
                ]);
                conn.publish(Event::AppointmentSaved {
                    appointment: &a,
                    saved: Saved::Updated { changed: &changed },
                    reminders: reminders.as_deref(),
                    actor: Actor::of(&caller),
                    origin: Origin::Api,
                })?;
                detail(conn, a)
            })
        })
        .await
}

pub async fn delete(
    state: &AppState,
    caller: &Caller,
    id: Id<Appointment>,
    if_match: IfMatch,
) -> Result<(), AppError> {
    authorize_changes(caller)?;
    let account = caller.account_id;
    let actor = Actor::of(caller);
    state
        .db(move |conn| {
            conn.write_transaction(|conn| {
                let a = appointments::find(conn, account, id)?.ok_or_else(AppError::not_found)?;
                if_match.check(a.version)?;
                conn.publish(Event::AppointmentsRemoving {
                    account,
                    appointments: std::slice::from_ref(&a),
                    actor,
                })?;
                appointments::delete(conn, account, id)?;
                Ok(())
            })
        })
        .await
}

/// Moves the appointment to `to` if the lifecycle allows it (422 naming the
/// statuses it could move to otherwise); closing it cancels its reminders.
pub async fn change_status(
    state: &AppState,
    caller: &Caller,
    id: Id<Appointment>,
    to: Status,
    if_match: IfMatch,
) -> Result<Detail, AppError> {
    caller.require(Action::UpdateAppointmentStatus)?;
    let caller = caller.clone();
    state
        .db(move |conn| {
            conn.write_transaction(|conn| {
                let mut a = load_visible(conn, &caller, id)?;
                if_match.check(a.version)?;
                let from = *a.status;
                if !from.can_become(to) {
                    let allowed: Vec<&'static str> =
                        from.next().iter().map(|s| s.as_str()).collect();
                    let detail = if allowed.is_empty() {
                        format!("a {from} appointment cannot change status")
                    } else {
                        format!("a {from} appointment can become {}", allowed.join(", "))
                    };
                    return Err(AppError::new(Failure::StatusNotAllowed {
                        message: detail,
                        allowed,
                    }));
                }
                let now = Ts::now();
                let read_version = a.version;
                a.status = Stored(to);
                a.version = read_version + 1;
                a.updated_at = now;
                if !appointments::save(conn, &a, read_version)? {
                    return Err(preconditions::stale(None));
                }
                appointments::record_change(
                    conn,
                    &StatusChange {
                        id: Id::new(),
                        account_id: a.account_id,
                        appointment_id: a.id,
                        from_status: Some(Stored(from)),
                        to_status: Stored(to),
                        changed_by: caller.actor(),
                        changed_at: now,
                    },
                )?;
                conn.publish(Event::AppointmentStatusChanged {
                    appointment: &a,
                    from,
                    to,
                    by: &caller.actor(),
                    actor: Actor::of(&caller),
                    origin: Origin::Api,
                })?;
                detail(conn, a)
            })
        })
        .await
}

/// The address on one line, as calendars show it.
pub fn one_line_address(a: &Appointment) -> Option<String> {
    let parts: Vec<&str> = [
        a.address.address_line1.as_deref(),
        a.address.address_line2.as_deref(),
        a.address.city.as_deref(),
        a.address.postal_code.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// An appointment for an event made in Google, for the person among its
/// attendees, or for nobody.
pub(crate) fn insert_from_google(
    tx: &mut Tx<'_>,
    account: Id<Account>,
    person: Option<&Person>,
    title: Title,
    slot: TimeSlot,
) -> Result<Appointment, AppError> {
    let now = Ts::now();
    let mut appointment = scheduled(account, person.map(|p| p.id), title, slot, now);
    if let Some(person) = person {
        appointment.address = (&person.address).into();
    }
    appointments::insert(tx, &appointment)?;
    appointments::record_change(
        tx,
        &StatusChange {
            id: Id::new(),
            account_id: appointment.account_id,
            appointment_id: appointment.id,
            from_status: None,
            to_status: appointment.status,
            changed_by: GOOGLE_ACTOR.into(),
            changed_at: now,
        },
    )?;
    // Nobody to remind without a person.
    let reminders = match person {
        Some(_) => {
            let account = accounts::find(tx, account)?.ok_or_else(AppError::not_found)?;
            Some(reminders_for(
                &appointment,
                &default_rules(&account.default_reminders),
                now,
            )?)
        }
        None => None,
    };
    tx.publish(Event::AppointmentSaved {
        appointment: &appointment,
        saved: Saved::Created,
        reminders: reminders.as_deref(),
        actor: Actor::System,
        origin: Origin::Google,
    })?;
    Ok(appointment)
}

/// Who changed an appointment when the change came from Google Calendar.
pub(crate) const GOOGLE_ACTOR: &str = "google_calendar";

/// A change made in Google Calendar: a new title or time, or a cancellation.
/// Returns the appointment as saved, or None when it changed here meanwhile
/// (try again).
pub(crate) fn apply_from_google(
    tx: &mut Tx<'_>,
    mut a: Appointment,
    title: Option<String>,
    times: Option<TimeSlot>,
    cancelled: bool,
) -> Result<Option<Appointment>, AppError> {
    let now = Ts::now();
    let read_version = a.version;
    let from = *a.status;
    let starts_before = a.starts_at;
    let before = a.clone();
    if cancelled {
        if !from.can_become(Status::Cancelled) {
            return Ok(Some(a));
        }
        a.status = Stored(Status::Cancelled);
    }
    if let Some(title) = title.filter(|t| !t.trim().is_empty()) {
        a.title = Title::imported(Some(&title)).into_inner();
    }
    if let Some(slot) = times {
        a.starts_at = Ts::from(slot.starts_at());
        a.ends_at = Ts::from(slot.ends_at());
    }
    a.version = read_version + 1;
    a.updated_at = now;
    if !appointments::save(tx, &a, read_version)? {
        return Ok(None);
    }
    if cancelled {
        appointments::record_change(
            tx,
            &StatusChange {
                id: Id::new(),
                account_id: a.account_id,
                appointment_id: a.id,
                from_status: Some(Stored(from)),
                to_status: a.status,
                changed_by: GOOGLE_ACTOR.into(),
                changed_at: now,
            },
        )?;
        tx.publish(Event::AppointmentStatusChanged {
            appointment: &a,
            from,
            to: Status::Cancelled,
            by: GOOGLE_ACTOR,
            actor: Actor::System,
            origin: Origin::Google,
        })?;
    }
    let changed = events::changed_fields(&[
        ("title", a.title != before.title),
        ("starts_at", a.starts_at != before.starts_at),
        ("ends_at", a.ends_at != before.ends_at),
    ]);
    if !changed.is_empty() {
        // A cancelled appointment's reminders went with its status.
        let reminders = if !cancelled && a.starts_at != starts_before {
            Some(reminders_for(&a, &pending_rules(tx, a.id)?, now)?)
        } else {
            None
        };
        tx.publish(Event::AppointmentSaved {
            appointment: &a,
            saved: Saved::Updated { changed: &changed },
            reminders: reminders.as_deref(),
            actor: Actor::System,
            origin: Origin::Google,
        })?;
    }
    Ok(Some(a))
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, Utc};
    use serde_json::json;

    use fieldcrm_db::appointments;
    use fieldcrm_db::{Id, Ts};
    use fieldcrm_domain::messaging::MessageKind;
    use fieldcrm_domain::scheduling::{ReminderRule, ReminderStatus, Status, TimeSlot, Title};

    use fieldcrm_db::messages;
    use fieldcrm_domain::Channel;

    use super::{
        apply_from_google, change_status, create_in, update, AppointmentPatch, NewAppointment,
    };
    use crate::error::Failure;
    use crate::preconditions::IfMatch;
    use crate::testing::World;

    fn booking(
        world_person: Id<fieldcrm_db::people::Person>,
        hours_from_now: i64,
    ) -> NewAppointment {
        let starts = Utc::now() + Duration::hours(hours_from_now);
        NewAppointment {
            person_id: world_person,
            technician_id: None,
            title: Title::parse("Deep clean").unwrap(),
            notes: None,
            slot: TimeSlot::new(starts, starts + Duration::hours(1)).unwrap(),
            address: None,
            reminders: Some(vec![ReminderRule::parse("sms", 60).unwrap()]),
            allow_overlap: false,
        }
    }

    #[tokio::test]
    async fn a_technician_is_not_booked_twice_at_once_unless_asked() {
        let world = World::new(|_| {}).await;
        let (tech, _) = world.technician("Tom").await;
        let anna = world.customer("Anna", "+4915112345678", "anna@example.com");
        let first = world
            .tx(|tx| {
                let input = NewAppointment {
                    technician_id: Some(tech.id),
                    ..booking(anna.id, 24)
                };
                create_in(tx, &world.owner, input)
            })
            .unwrap();
        // Half an hour into the first one.
        let overlapping = |allow_overlap| {
            let mut input = NewAppointment {
                technician_id: Some(tech.id),
                allow_overlap,
                ..booking(anna.id, 24)
            };
            input.slot = TimeSlot::new(
                first.appointment.starts_at.get() + Duration::minutes(30),
                first.appointment.ends_at.get() + Duration::minutes(30),
            )
            .unwrap();
            input
        };
        let refused = world
            .tx(|tx| create_in(tx, &world.owner, overlapping(false)))
            .err()
            .expect("a double booking is refused");
        assert_eq!(
            refused.failure,
            Failure::DoubleBooked {
                conflicting: first.appointment.id.uuid()
            }
        );
        // Another technician, or the first one right after, is free.
        let (other, _) = world.technician("Uma").await;
        world
            .tx(|tx| {
                let mut input = overlapping(false);
                input.technician_id = Some(other.id);
                create_in(tx, &world.owner, input)
            })
            .unwrap();
        world
            .tx(|tx| {
                let mut input = booking(anna.id, 25);
                input.technician_id = Some(tech.id);
                create_in(tx, &world.owner, input)
            })
            .unwrap();
        world
            .tx(|tx| create_in(tx, &world.owner, overlapping(true)))
            .unwrap();
    }

    #[tokio::test]
    async fn reminders_move_with_the_appointment_and_end_when_it_closes() {
        let world = World::new(|_| {}).await;
        let anna = world.customer("Anna", "+4915112345678", "anna@example.com");
        let booked = world
            .tx(|tx| create_in(tx, &world.owner, booking(anna.id, 48)))
            .unwrap();
        let id = booked.appointment.id;
        let reminders =
            |world: &World| appointments::reminders_of(&mut world.conn(), &[id]).unwrap();
        let [first] = reminders(&world).try_into().unwrap();
        assert_eq!(first.status, ReminderStatus::Scheduled);
        assert_eq!(
            first.due_at.get(),
            booked.appointment.starts_at.get() - Duration::minutes(60)
        );

        let later = booked.appointment.starts_at.get() + Duration::days(1);
        let patch = AppointmentPatch {
            starts_at: Some(Ts::from(later)),
            ends_at: Some(Ts::from(later + Duration::hours(1))),
            ..AppointmentPatch::default()
        };
        update(&world.state, &world.owner, id, IfMatch::Absent, patch)
            .await
            .unwrap();
        let [moved] = reminders(&world).try_into().unwrap();
        assert_eq!(moved.status, ReminderStatus::Scheduled);
        assert_eq!(moved.due_at.get(), later - Duration::minutes(60));

        change_status(
            &world.state,
            &world.owner,
            id,
            Status::Cancelled,
            IfMatch::Absent,
        )
        .await
        .unwrap();
        let [closed] = reminders(&world).try_into().unwrap();
        assert_eq!(closed.status, ReminderStatus::Cancelled);
    }

    #[tokio::test]
    async fn a_status_change_texts_the_customer_unless_it_came_from_google() {
        let world = World::new(|_| {}).await;
        let anna = world
            .customer_with_sms_consent("Anna", "+4915112345678", "anna@example.com")
            .await;
        let booked = world
            .tx(|tx| create_in(tx, &world.owner, booking(anna.id, 48)))
            .unwrap();
        let id = booked.appointment.id;
        let texts = |world: &World| {
            let filter = messages::Filter {
                status: None,
                channel: None,
                person: None,
                appointment: Some(id),
                before: None,
                limit: 10,
            };
            messages::list(&mut world.conn(), world.owner.account_id, &filter).unwrap()
        };

        change_status(
            &world.state,
            &world.owner,
            id,
            Status::Confirmed,
            IfMatch::Absent,
        )
        .await
        .unwrap();
        let [confirmation] = texts(&world).try_into().unwrap();
        assert_eq!(
            (*confirmation.kind, *confirmation.channel),
            (MessageKind::Confirmation, Channel::Sms)
        );

        // Cancelled in Google: the reminders end, and nobody is texted.
        let confirmed = appointments::find(&mut world.conn(), world.owner.account_id, id)
            .unwrap()
            .unwrap();
        let saved = world
            .tx(|tx| apply_from_google(tx, confirmed, None, None, true))
            .unwrap()
            .unwrap();
        assert_eq!(saved.status, Status::Cancelled);
        assert_eq!(texts(&world).len(), 1);
        let reminders = appointments::reminders_of(&mut world.conn(), &[id]).unwrap();
        assert!(
            reminders
                .iter()
                .all(|r| r.status == ReminderStatus::Cancelled),
            "{reminders:?}"
        );
    }

    #[tokio::test]
    async fn a_change_made_in_google_shows_in_the_events_feed_as_made_by_the_system() {
        let world = World::new(|_| {}).await;
        let anna = world.customer("Anna", "+4915112345678", "anna@example.com");
        let booked = world
            .tx(|tx| create_in(tx, &world.owner, booking(anna.id, 48)))
            .unwrap()
            .appointment;
        let id = booked.id.to_string();
        let renamed = world
            .tx(|tx| apply_from_google(tx, booked, Some("Windows".into()), None, false))
            .unwrap()
            .unwrap();
        let starts = renamed.starts_at.get() + Duration::hours(2);
        let moved = TimeSlot::new(starts, starts + Duration::hours(1)).unwrap();
        world
            .tx(|tx| apply_from_google(tx, renamed, None, Some(moved), true))
            .unwrap()
            .unwrap();

        let feed: Vec<(String, String, serde_json::Value)> =
            fieldcrm_db::events::list(&mut world.conn(), world.owner.account_id, &[], None, 50)
                .unwrap()
                .into_iter()
                .filter(|e| e.event_type.starts_with("appointment."))
                .map(|e| {
                    (
                        e.event_type,
                        e.actor,
                        serde_json::from_str(&e.data).unwrap(),
                    )
                })
                .collect();
        let entry = |event_type: &str, actor: &str, data| (event_type.into(), actor.into(), data);
        assert_eq!(
            feed,
            [
                entry("appointment.created", "user", json!({ "id": id })),
                entry(
                    "appointment.updated",
                    "system",
                    json!({ "id": id, "changed": ["title"] })
                ),
                entry(
                    "appointment.status_changed",
                    "system",
                    json!({ "id": id, "from": "scheduled", "to": "cancelled" })
                ),
                entry(
                    "appointment.rescheduled",
                    "system",
                    json!({ "id": id, "changed": ["starts_at", "ends_at"] })
                ),
            ]
        );
    }
}
