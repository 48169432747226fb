//! The message log: every SMS and email and what became of it.

use diesel::prelude::*;

use crate::accounts::Account;
use crate::appointments::{Appointment, Reminder};
use crate::connection::{DbConnection, MultiBackend};
use crate::people::Person;
use crate::schema::messages;
use fieldcrm_domain::messaging::{MessageKind, MessageStatus};
use fieldcrm_domain::Channel;

use crate::types::Stored;
use crate::{DbResult, Id, Ts};

#[derive(
    serde::Serialize, Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset,
)]
#[diesel(table_name = messages, check_for_backend(MultiBackend), treat_none_as_null = true, treat_none_as_default_value = false)]
pub struct Message {
    pub id: Id<Message>,
    pub account_id: Id<Account>,
    pub person_id: Id<Person>,
    pub appointment_id: Option<Id<Appointment>>,
    pub reminder_id: Option<Id<Reminder>>,
    /// `manual`, `reminder`, `confirmation` or `on_my_way`.
    pub kind: Stored<MessageKind>,
    pub channel: Stored<Channel>,
    pub recipient: Option<String>,
    pub subject: Option<String>,
    pub body: Option<String>,
    /// `queued`, `sending`, `sent`, `delivered`, `undelivered`, `failed`, `suppressed`.
    pub status: Stored<MessageStatus>,
    pub status_reason: Option<String>,
    pub error_code: Option<String>,
    pub provider_message_id: Option<String>,
    pub attempts: i32,
    /// Quiet hours moved the sending to this time.
    pub send_after: Option<Ts>,
    pub created_by: String,
    pub created_at: Ts,
    pub updated_at: Ts,
    pub sent_at: Option<Ts>,
}

pub fn insert(conn: &mut DbConnection, message: &Message) -> DbResult<()> {
    diesel::insert_into(messages::table)
        .values(message)
        .execute(conn)?;
    Ok(())
}

pub fn find(
    conn: &mut DbConnection,
    account: Id<Account>,
    id: Id<Message>,
) -> DbResult<Option<Message>> {
    Ok(messages::table
        .filter(messages::account_id.eq(account))
        .filter(messages::id.eq(id))
        .select(Message::as_select())
        .first(conn)
        .optional()?)
}

/// For background work, which acts for whichever account the message is of.
pub fn find_any(conn: &mut DbConnection, id: Id<Message>) -> DbResult<Option<Message>> {
    Ok(messages::table
        .find(id)
        .select(Message::as_select())
        .first(conn)
        .optional()?)
}

pub fn find_by_provider_id(
    conn: &mut DbConnection,
    provider_message_id: &str,
) -> DbResult<Option<Message>> {
    Ok(messages::table
        .filter(messages::provider_message_id.eq(provider_message_id))
        .select(Message::as_select())
        .first(conn)
        .optional()?)
}

pub fn save(conn: &mut DbConnection, message: &Message) -> DbResult<()> {
    diesel::update(messages::table.find(message.id))
        .set(message)
        .execute(conn)?;
    Ok(())
}

/// Moves a queued message to `sending`; false when another worker got there first
/// or it is no longer queued.
pub fn start_sending(
    conn: &mut DbConnection,
    id: Id<Message>,
    recipient: &str,
    now: Ts,
) -> DbResult<bool> {
    let changed = diesel::update(
        messages::table
            .filter(messages::id.eq(id))
            .filter(messages::status.eq("queued")),
    )
    .set((
        messages::status.eq("sending"),
        messages::recipient.eq(recipient),
        messages::attempts.eq(messages::attempts + 1),
        messages::send_after.eq(None::<Ts>),
        messages::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub status: Option<MessageStatus>,
    pub channel: Option<Channel>,
    pub person: Option<Id<Person>>,
    pub appointment: Option<Id<Appointment>>,
    /// Newest first: the page starts below this id.
    pub before: Option<Id<Message>>,
    pub limit: i64,
}

/// The account's messages, newest first.
pub fn list(
    conn: &mut DbConnection,
    account: Id<Account>,
    filter: &Filter,
) -> DbResult<Vec<Message>> {
    let mut query = messages::table
        .filter(messages::account_id.eq(account))
        .into_boxed();
    if let Some(status) = &filter.status {
        query = query.filter(messages::status.eq(Stored(*status)));
    }
    if let Some(channel) = &filter.channel {
        query = query.filter(messages::channel.eq(Stored(*channel)));
    }
    if let Some(person) = filter.person {
        query = query.filter(messages::person_id.eq(person));
    }
    if let Some(appointment) = filter.appointment {
        query = query.filter(messages::appointment_id.eq(appointment));
    }
    if let Some(before) = filter.before {
        query = query.filter(messages::id.lt(before));
    }
    Ok(query
        .order(messages::id.desc())
        .limit(filter.limit)
        .select(Message::as_select())
        .load(conn)?)
}

/// Clears subject and body of the account's finished messages created before
/// `before`; the record of what was sent when, and to whom, stays.
pub fn purge_bodies(conn: &mut DbConnection, account: Id<Account>, before: Ts) -> DbResult<usize> {
    Ok(diesel::update(
        messages::table
            .filter(messages::account_id.eq(account))
            .filter(messages::created_at.lt(before))
            .filter(messages::status.ne_all(["queued", "sending"]))
            .filter(messages::body.is_not_null()),
    )
    .set((
        messages::body.eq(None::<String>),
        messages::subject.eq(None::<String>),
    ))
    .execute(conn)?)
}
