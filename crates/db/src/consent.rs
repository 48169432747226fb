//! The append-only history of consent per person and channel.

use diesel::prelude::*;

use crate::accounts::Account;
use crate::connection::{DbConnection, MultiBackend};
use crate::people::Person;
use crate::schema::consent_events;
use crate::types::Stored;
use crate::{DbResult, Id, Ts};
use fieldcrm_domain::{Channel, ConsentChange, ConsentSource};

#[derive(serde::Serialize, Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = consent_events, check_for_backend(MultiBackend), treat_none_as_default_value = false)]
pub struct ConsentEvent {
    pub id: Id<ConsentEvent>,
    pub account_id: Id<Account>,
    pub person_id: Id<Person>,
    pub channel: Stored<Channel>,
    /// `opted_in`, `opted_out`, or `reset` (contact details changed).
    pub status: Stored<ConsentChange>,
    pub source: Stored<ConsentSource>,
    pub recorded_by: String,
    pub recorded_at: Ts,
}

pub fn record(conn: &mut DbConnection, event: &ConsentEvent) -> DbResult<()> {
    diesel::insert_into(consent_events::table)
        .values(event)
        .execute(conn)?;
    Ok(())
}

/// Oldest first.
pub fn history(
    conn: &mut DbConnection,
    account: Id<Account>,
    person: Id<Person>,
) -> DbResult<Vec<ConsentEvent>> {
    Ok(consent_events::table
        .filter(consent_events::account_id.eq(account))
        .filter(consent_events::person_id.eq(person))
        .order(consent_events::id.asc())
        .select(ConsentEvent::as_select())
        .load(conn)?)
}

/// The person's last two decisions on the channel, newest first.
pub fn last_two(
    conn: &mut DbConnection,
    person: Id<Person>,
    channel: Channel,
) -> DbResult<Vec<ConsentEvent>> {
    Ok(consent_events::table
        .filter(consent_events::person_id.eq(person))
        .filter(consent_events::channel.eq(Stored(channel)))
        .order(consent_events::id.desc())
        .limit(2)
        .select(ConsentEvent::as_select())
        .load(conn)?)
}
