//! Everything of one account, a page at a time in id order, so an export of any
//! size is read in constant memory.

use diesel::prelude::*;
use fieldcrm_domain::Stage;

use crate::accounts::Account;
use crate::api_keys::ApiKey;
use crate::appointments::{Appointment, Reminder, StatusChange};
use crate::audit::AuditEvent;
use crate::connection::DbConnection;
use crate::consent::ConsentEvent;
use crate::devices::Device;
use crate::events::Event;
use crate::jobs::Job;
use crate::messages::Message;
use crate::people::Person;
use crate::pings::Ping;
use crate::schema::{
    api_keys, appointment_status_changes, appointments, audit_events, consent_events, devices,
    events, jobs, messages, people, person_tags, pings, reminders, shifts, users,
    webhook_deliveries, webhook_endpoints,
};
use crate::shifts::Shift;
use crate::types::Stored;
use crate::users::User;
use crate::webhooks::{Delivery, Endpoint};
use crate::{DbResult, Id};

macro_rules! pages_by_id {
    ($(#[$doc:meta])* $name:ident, $table:ident, $row:ty) => {
        $(#[$doc])*
        pub fn $name(
            conn: &mut DbConnection,
            account: Id<Account>,
            after: Option<Id<$row>>,
            limit: i64,
        ) -> DbResult<Vec<$row>> {
            let mut query = $table::table
                .filter($table::account_id.eq(account))
                .into_boxed();
            if let Some(after) = after {
                query = query.filter($table::id.gt(after));
            }
            Ok(query
                .order($table::id.asc())
                .limit(limit)
                .select(<$row>::as_select())
                .load(conn)?)
        }
    };
}

pages_by_id!(users_page, users, User);
pages_by_id!(api_keys_page, api_keys, ApiKey);
pages_by_id!(devices_page, devices, Device);
pages_by_id!(consent_page, consent_events, ConsentEvent);
pages_by_id!(appointments_page, appointments, Appointment);
pages_by_id!(
    status_changes_page,
    appointment_status_changes,
    StatusChange
);
pages_by_id!(reminders_page, reminders, Reminder);
pages_by_id!(shifts_page, shifts, Shift);
pages_by_id!(messages_page, messages, Message);
pages_by_id!(audit_page, audit_events, AuditEvent);
pages_by_id!(jobs_page, jobs, Job);
pages_by_id!(events_page, events, Event);
pages_by_id!(webhook_endpoints_page, webhook_endpoints, Endpoint);
pages_by_id!(webhook_deliveries_page, webhook_deliveries, Delivery);

/// People in id order. Their indexes lead with the account and then the stage,
/// so one range per stage is read, a page at most each, and the two merged:
/// a page costs the same wherever it is in the account, without a fourth index
/// on a table every create writes.
pub fn people_page(
    conn: &mut DbConnection,
    account: Id<Account>,
    after: Option<Id<Person>>,
    limit: i64,
) -> DbResult<Vec<Person>> {
    let mut rows = Vec::new();
    for stage in Stage::ALL {
        let mut query = people::table
            .filter(people::account_id.eq(account))
            .filter(people::stage.eq(Stored(stage)))
            .into_boxed();
        if let Some(after) = after {
            query = query.filter(people::id.gt(after));
        }
        rows.extend(
            query
                .order(people::id.asc())
                .limit(limit)
                .select(Person::as_select())
                .load(conn)?,
        );
    }
    rows.sort_unstable_by_key(|person: &Person| person.id.uuid());
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    Ok(rows)
}

/// Which Google event each appointment is, in appointment order.
pub fn google_events_page(
    conn: &mut DbConnection,
    account: Id<Account>,
    after: Option<Id<Appointment>>,
    limit: i64,
) -> DbResult<Vec<crate::google::EventLink>> {
    use crate::schema::google_events;
    let mut query = google_events::table
        .filter(google_events::account_id.eq(account))
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(google_events::appointment_id.gt(after));
    }
    Ok(query
        .order(google_events::appointment_id.asc())
        .limit(limit)
        .select(crate::google::EventLink::as_select())
        .load(conn)?)
}

/// The tags of these people, as (person, tag).
pub fn tags_of(
    conn: &mut DbConnection,
    people_ids: &[Id<Person>],
) -> DbResult<Vec<(Id<Person>, String)>> {
    Ok(person_tags::table
        .filter(person_tags::person_id.eq_any(people_ids))
        .order((person_tags::person_id, person_tags::tag))
        .select((person_tags::person_id, person_tags::tag))
        .load(conn)?)
}

/// Pings in (user, id) order after the given position, for the given users in
/// order. Each query names one user, so it walks the primary key (user_id, id)
/// instead of scanning: a page costs the same at the end as at the start.
pub fn pings_page(
    conn: &mut DbConnection,
    users: &[Id<User>],
    after: Option<(Id<User>, Id<Ping>)>,
    limit: i64,
) -> DbResult<Vec<Ping>> {
    let start = match after {
        Some((user, _)) => users.iter().position(|u| *u == user).unwrap_or(users.len()),
        None => 0,
    };
    let mut rows: Vec<Ping> = Vec::new();
    for (n, user) in users.iter().enumerate().skip(start) {
        // The users are the account's, so their pings are too; naming only the
        // user keeps the planner on the primary key.
        let mut query = pings::table.filter(pings::user_id.eq(*user)).into_boxed();
        if let (0, Some((_, id))) = (n - start, after) {
            query = query.filter(pings::id.gt(id));
        }
        let wanted = limit - rows.len() as i64;
        rows.extend(
            query
                .order(pings::id.asc())
                .limit(wanted)
                .select(Ping::as_select())
                .load(conn)?,
        );
        if rows.len() as i64 >= limit {
            break;
        }
    }
    Ok(rows)
}

/// The ids of the account's users, in id order.
pub fn user_ids(conn: &mut DbConnection, account: Id<Account>) -> DbResult<Vec<Id<User>>> {
    Ok(users::table
        .filter(users::account_id.eq(account))
        .order(users::id.asc())
        .select(users::id)
        .load(conn)?)
}
