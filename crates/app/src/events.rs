//! What happens: the facts other contexts react to (`Event`, run through
//! `wiring`), and the changes the events feed records (`Change`, see `feed`).
//! A recorded change holds ids and the names of changed fields, never content:
//! no names, contact details, message bodies, positions or secrets.

use serde_json::{json, Value};

use fieldcrm_db::accounts::Account;
use fieldcrm_db::appointments::{Appointment, Reminder};
use fieldcrm_db::people::Person;
use fieldcrm_db::users::User;
use fieldcrm_db::Id;
use fieldcrm_domain::scheduling::Status;

use crate::caller::Caller;

/// Every event type, in the order the documentation lists them.
pub const EVENT_TYPES: &[&str] = &[
    "customer.created",
    "customer.updated",
    "customer.deleted",
    "prospect.created",
    "prospect.updated",
    "prospect.deleted",
    "prospect.converted",
    "consent.changed",
    "appointment.created",
    "appointment.updated",
    "appointment.rescheduled",
    "appointment.status_changed",
    "appointment.deleted",
    "shift.clocked_in",
    "shift.clocked_out",
    "message.queued",
    "message.sent",
    "message.delivered",
    "message.failed",
    "message.suppressed",
    "user.created",
    "user.updated",
    "user.deleted",
    "account.deleted",
    "webhook.test",
];

/// Where a change came from: what reacts to it depends on it (a change made
/// in Google is not sent back to Google and texts nobody).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A person or integration through the API.
    Api,
    /// An edit in the connected Google Calendar.
    Google,
    /// The technician's phone: an arrival or departure found in GPS pings.
    Gps,
}

/// A fact other contexts react to, published inside the transaction that
/// makes it (`Tx::publish`); `wiring::react` says what happens next and
/// records what the events feed shows of it (`Event::feed_entries`).
#[derive(Debug)]
pub enum Event<'a> {
    /// An appointment was booked or changed. `reminders` is its new plan of
    /// reminders when that changed (booked, moved, or new rules).
    AppointmentSaved {
        appointment: &'a Appointment,
        saved: Saved<'a>,
        reminders: Option<&'a [Reminder]>,
        actor: Actor,
        origin: Origin,
    },
    /// An appointment's status changed; `by` is who changed it.
    AppointmentStatusChanged {
        appointment: &'a Appointment,
        from: Status,
        to: Status,
        by: &'a str,
        actor: Actor,
        origin: Origin,
    },
    /// Appointments are about to be deleted: published before the rows go.
    AppointmentsRemoving {
        account: Id<Account>,
        appointments: &'a [Appointment],
        actor: Actor,
    },
    /// A customer or prospect is about to be erased: before the rows go.
    PersonErasing {
        account: Id<Account>,
        person: Id<Person>,
    },
    /// A user is about to be removed by `caller`: before the rows go.
    UserRemoving { caller: &'a Caller, user: Id<User> },
    /// The whole account is about to be erased: before the rows go.
    AccountErasing {
        account: Id<Account>,
        delete_calendar_events: bool,
    },
}

/// What saving an appointment did.
#[derive(Debug, Clone, Copy)]
pub enum Saved<'a> {
    /// It was booked.
    Created,
    /// These of its fields changed (perhaps none).
    Updated { changed: &'a [&'static str] },
}

/// One entry of the events feed, as `feed::record` takes it.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedEntry {
    pub account: Id<Account>,
    pub actor: Actor,
    pub change: Change,
}

impl Event<'_> {
    /// What the events feed records of this event. The erasures record
    /// nothing here: whether a customer or a prospect went is the people
    /// context's word, and the account's end goes out on its own path
    /// (`webhooks::queue_account_deleted`).
    pub fn feed_entries(&self) -> Vec<FeedEntry> {
        match *self {
            // A visit found in GPS pings is the phone's reading, not an edit:
            // the feed shows what people and Google changed.
            Event::AppointmentSaved {
                origin: Origin::Gps,
                ..
            } => Vec::new(),
            Event::AppointmentSaved {
                appointment,
                saved,
                actor,
                ..
            } => {
                let change = match saved {
                    Saved::Created => Change::of("appointment.created", appointment.id),
                    Saved::Updated { changed } => {
                        // A new time is what calendars and customers act on: its own type.
                        let event_type = if changed.contains(&"starts_at") || changed.contains(&"ends_at") {
                            "appointment.rescheduled"
                        } else {
                            "appointment.updated"
                        };
                        Change::updated(event_type, appointment.id, changed)
                    }
                };
                vec![FeedEntry {
                    account: appointment.account_id,
                    actor,
                    change: change.about(appointment.person_id),
                }]
            }
            Event::AppointmentStatusChanged {
                appointment,
                from,
                to,
                actor,
                ..
            } => vec![FeedEntry {
                account: appointment.account_id,
                actor,
                change: Change::new(
                    "appointment.status_changed",
                    json!({ "id": appointment.id.uuid(), "from": from.as_str(), "to": to.as_str() }),
                )
                .about(appointment.person_id),
            }],
            Event::AppointmentsRemoving {
                account,
                appointments,
                actor,
            } => appointments
                .iter()
                .map(|appointment| FeedEntry {
                    account,
                    actor,
                    change: Change::of("appointment.deleted", appointment.id)
                        .about(appointment.person_id),
                })
                .collect(),
            Event::UserRemoving { caller, user } => vec![FeedEntry {
                account: caller.account_id,
                actor: Actor::of(caller),
                change: Change::of("user.deleted", user),
            }],
            Event::PersonErasing { .. } | Event::AccountErasing { .. } => Vec::new(),
        }
    }
}

/// Who made a change, as events name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    User,
    ApiKey,
    /// The service itself: upkeep, a sync, an automatic clock-out.
    System,
    /// The person a message went to: a STOP reply, an unsubscribe link.
    Contact,
}

impl Actor {
    pub fn of(caller: &Caller) -> Self {
        match caller.user() {
            Some(_) => Actor::User,
            None => Actor::ApiKey,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Actor::User => "user",
            Actor::ApiKey => "api_key",
            Actor::System => "system",
            Actor::Contact => "contact",
        }
    }
}

/// One change, as an event: its type and data, and the customer or prospect
/// it concerns, whose erasure removes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub event_type: &'static str,
    pub data: Value,
    pub person: Option<Id<Person>>,
}

impl Change {
    pub fn new(event_type: &'static str, data: Value) -> Self {
        debug_assert!(EVENT_TYPES.contains(&event_type), "{event_type}");
        Change {
            event_type,
            data,
            person: None,
        }
    }

    /// The change concerns this customer or prospect.
    pub fn about(mut self, person: Option<Id<Person>>) -> Self {
        self.person = person;
        self
    }

    /// `<object>.created` / `.deleted` and the like: the object's id only.
    pub fn of(event_type: &'static str, id: impl std::fmt::Display) -> Self {
        Change::new(event_type, json!({ "id": id.to_string() }))
    }

    /// `<object>.updated`: the id and the names of the fields that changed.
    pub fn updated(event_type: &'static str, id: impl std::fmt::Display, changed: &[&str]) -> Self {
        Change::new(
            event_type,
            json!({ "id": id.to_string(), "changed": changed }),
        )
    }
}

/// Whether events of this type carry `object` in full payloads: those about
/// a customer, prospect, appointment or user that still exists.
pub fn has_full_object(event_type: &str) -> bool {
    matches!(
        event_type.split('.').next(),
        Some("customer" | "prospect" | "appointment" | "user")
    ) && !event_type.ends_with(".deleted")
}

/// The names of the fields whose values differ, from `(name, changed)` pairs.
pub fn changed_fields(fields: &[(&'static str, bool)]) -> Vec<&'static str> {
    fields
        .iter()
        .filter(|(_, changed)| *changed)
        .map(|(name, _)| *name)
        .collect()
}
