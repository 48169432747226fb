//! Everything of one account, a page at a time in id order, so an export of any
//! size is read in constant memory.

use diesel::prelude::*;

use crate::accounts::Account;
use crate::api_keys::ApiKey;
use crate::appointments::{Appointment, Reminder, StatusChange};
use crate::audit::AuditEvent;
use crate::connection::DbConnection;
use crate::consent::ConsentEvent;
use crate::jobs::Job;
use crate::messages::Message;
use crate::people::Person;
use crate::pings::Ping;
use crate::schema::{
    api_keys, appointment_status_changes, appointments, audit_events, consent_events, jobs,
    messages, people, person_tags, pings, reminders, shifts, users,
};
use crate::shifts::Shift;
use crate::users::User;
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
pages_by_id!(people_page, people, Person);
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

/// Pings in (user, id) order, after the given position.
pub fn pings_page(
    conn: &mut DbConnection,
    account: Id<Account>,
    after: Option<(Id<User>, Id<Ping>)>,
    limit: i64,
) -> DbResult<Vec<Ping>> {
    let mut query = pings::table
        .filter(pings::account_id.eq(account))
        .into_boxed();
    if let Some((user, id)) = after {
        query = query.filter(
            pings::user_id
                .gt(user)
                .or(pings::user_id.eq(user).and(pings::id.gt(id))),
        );
    }
    Ok(query
        .order((pings::user_id.asc(), pings::id.asc()))
        .limit(limit)
        .select(Ping::as_select())
        .load(conn)?)
}
