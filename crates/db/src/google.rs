//! The Google grant of an account, consent screens in progress, and which Google
//! event each appointment is. Tokens arrive here sealed; this layer never sees
//! them in clear.

use diesel::prelude::*;

use crate::accounts::Account;
use crate::appointments::Appointment;
use crate::connection::{DbConnection, MultiBackend};
use crate::people::Person;
use crate::schema::{appointments, google_events, google_integrations, google_oauth_states};
use crate::users::User;
use crate::{DbResult, Id, Ts};

#[derive(serde::Serialize, Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = google_integrations, check_for_backend(MultiBackend), treat_none_as_default_value = false)]
pub struct Integration {
    pub account_id: Id<Account>,
    pub connected_by: Option<Id<User>>,
    pub email: Option<String>,
    /// The Google account (OpenID `sub`) that granted access; '' when it was
    /// connected before this was recorded.
    pub google_subject: String,
    /// Space-separated, as granted.
    pub scopes: String,
    pub calendar_id: String,
    #[serde(skip)]
    pub refresh_token: String,
    #[serde(skip)]
    pub access_token: Option<String>,
    #[serde(skip)]
    pub access_token_expires_at: Option<Ts>,
    pub needs_reconnect: bool,
    pub last_error: Option<String>,
    #[serde(skip)]
    pub sync_token: Option<String>,
    pub last_synced_at: Option<Ts>,
    #[serde(skip)]
    pub channel_id: Option<String>,
    #[serde(skip)]
    pub channel_resource_id: Option<String>,
    #[serde(skip)]
    pub channel_token_hash: Option<Vec<u8>>,
    pub channel_expires_at: Option<Ts>,
    pub created_at: Ts,
    pub updated_at: Ts,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = google_oauth_states, check_for_backend(MultiBackend), treat_none_as_default_value = false)]
pub struct OAuthState {
    pub state_hash: Vec<u8>,
    pub account_id: Id<Account>,
    pub user_id: Id<User>,
    /// Sealed.
    pub pkce_verifier: String,
    pub scopes: String,
    pub expires_at: Ts,
    /// Where the browser goes once Google sends it back.
    pub return_url: Option<String>,
    /// Sealed; set when the browser came back with it.
    pub auth_code: Option<String>,
    /// Set with the code: the hash of what confirms it in the app.
    pub confirmation_hash: Option<Vec<u8>>,
}

#[derive(serde::Serialize, Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = google_events, check_for_backend(MultiBackend), treat_none_as_default_value = false)]
pub struct EventLink {
    pub appointment_id: Id<Appointment>,
    pub account_id: Id<Account>,
    pub event_id: String,
    /// `exported` (made here first) or `imported` (made in Google first).
    pub origin: String,
    pub etag: Option<String>,
    pub google_updated_at: Option<Ts>,
    /// The Google account whose calendar holds the event.
    pub google_subject: String,
    /// Digests of the fields fieldcrm owns, as they were when the event and
    /// the appointment last agreed.
    #[serde(skip)]
    pub owned_digest: Option<String>,
}

pub fn save_state(conn: &mut DbConnection, state: &OAuthState) -> DbResult<()> {
    diesel::insert_into(google_oauth_states::table)
        .values(state)
        .execute(conn)?;
    Ok(())
}

/// Takes a state the browser has not come back with yet, once: a second use,
/// or one past its time, finds nothing.
pub fn take_state(conn: &mut DbConnection, hash: &[u8], now: Ts) -> DbResult<Option<OAuthState>> {
    conn.write_transaction(|conn| {
        let unanswered = google_oauth_states::table
            .find(hash)
            .filter(google_oauth_states::confirmation_hash.is_null());
        let found: Option<OAuthState> = unanswered
            .select(OAuthState::as_select())
            .first(conn)
            .optional()?;
        diesel::delete(unanswered).execute(conn)?;
        Ok(found.filter(|state| state.expires_at > now))
    })
}

/// The browser came back with a code: it waits, sealed, for the confirmation
/// whose hash is given, until `expires_at`. Once per state, like `take_state`.
pub fn answer_state(
    conn: &mut DbConnection,
    hash: &[u8],
    now: Ts,
    auth_code: &str,
    confirmation_hash: &[u8],
    expires_at: Ts,
) -> DbResult<Option<OAuthState>> {
    conn.write_transaction(|conn| {
        let unanswered = google_oauth_states::table
            .find(hash)
            .filter(google_oauth_states::confirmation_hash.is_null())
            .filter(google_oauth_states::expires_at.gt(now));
        let answered = diesel::update(unanswered)
            .set((
                google_oauth_states::auth_code.eq(auth_code),
                google_oauth_states::confirmation_hash.eq(confirmation_hash),
                google_oauth_states::expires_at.eq(expires_at),
            ))
            .execute(conn)?;
        if answered == 0 {
            return Ok(None);
        }
        Ok(google_oauth_states::table
            .find(hash)
            .select(OAuthState::as_select())
            .first(conn)
            .optional()?)
    })
}

/// Takes an answered consent by its confirmation, once, unless past its time.
pub fn take_confirmation(
    conn: &mut DbConnection,
    confirmation_hash: &[u8],
    now: Ts,
) -> DbResult<Option<OAuthState>> {
    conn.write_transaction(|conn| {
        let row = google_oauth_states::table
            .filter(google_oauth_states::confirmation_hash.eq(confirmation_hash));
        let found: Option<OAuthState> =
            row.select(OAuthState::as_select()).first(conn).optional()?;
        diesel::delete(row).execute(conn)?;
        Ok(found.filter(|state| state.expires_at > now))
    })
}

pub fn purge_states(conn: &mut DbConnection, now: Ts) -> DbResult<usize> {
    Ok(
        diesel::delete(google_oauth_states::table.filter(google_oauth_states::expires_at.le(now)))
            .execute(conn)?,
    )
}

/// Stores the account's grant, replacing an earlier one.
pub fn replace(conn: &mut DbConnection, integration: &Integration) -> DbResult<()> {
    conn.write_transaction(|conn| {
        diesel::delete(google_integrations::table.find(integration.account_id)).execute(conn)?;
        diesel::insert_into(google_integrations::table)
            .values(integration)
            .execute(conn)?;
        Ok(())
    })
}

pub fn find(conn: &mut DbConnection, account: Id<Account>) -> DbResult<Option<Integration>> {
    Ok(google_integrations::table
        .find(account)
        .select(Integration::as_select())
        .first(conn)
        .optional()?)
}

pub fn find_by_channel(conn: &mut DbConnection, channel_id: &str) -> DbResult<Option<Integration>> {
    Ok(google_integrations::table
        .filter(google_integrations::channel_id.eq(channel_id))
        .select(Integration::as_select())
        .first(conn)
        .optional()?)
}

/// Removes the grant; returns what was removed. The links of appointments to
/// events stay, for a connect of the same Google account.
pub fn delete(conn: &mut DbConnection, account: Id<Account>) -> DbResult<Option<Integration>> {
    conn.write_transaction(|conn| {
        let found = find(conn, account)?;
        diesel::delete(google_integrations::table.find(account)).execute(conn)?;
        Ok(found)
    })
}

/// Links recorded under an earlier id of the same Google account (`legacy`)
/// become links of `subject`.
pub fn adopt_links(
    conn: &mut DbConnection,
    account: Id<Account>,
    legacy: &[String],
    subject: &str,
) -> DbResult<usize> {
    Ok(diesel::update(
        google_events::table
            .filter(google_events::account_id.eq(account))
            .filter(google_events::google_subject.eq_any(legacy)),
    )
    .set(google_events::google_subject.eq(subject))
    .execute(conn)?)
}

/// Forgets the events this service put into another Google account's
/// calendar (they stay there); links to events made there stay, so those
/// appointments are not copied into this account's calendar.
pub fn forget_exports_to_others(
    conn: &mut DbConnection,
    account: Id<Account>,
    subject: &str,
) -> DbResult<usize> {
    Ok(diesel::delete(
        google_events::table
            .filter(google_events::account_id.eq(account))
            .filter(google_events::google_subject.ne(subject))
            .filter(google_events::origin.eq("exported")),
    )
    .execute(conn)?)
}

/// A fresh access token (and a rotated refresh token, when Google sent one).
pub fn save_tokens(
    conn: &mut DbConnection,
    account: Id<Account>,
    access_token: &str,
    expires_at: Ts,
    refresh_token: Option<&str>,
    now: Ts,
) -> DbResult<()> {
    let row = google_integrations::table.find(account);
    diesel::update(row)
        .set((
            google_integrations::access_token.eq(access_token),
            google_integrations::access_token_expires_at.eq(expires_at),
            google_integrations::last_error.eq(None::<String>),
            google_integrations::updated_at.eq(now),
        ))
        .execute(conn)?;
    if let Some(refresh) = refresh_token {
        diesel::update(row)
            .set(google_integrations::refresh_token.eq(refresh))
            .execute(conn)?;
    }
    Ok(())
}

/// Google refused the grant: nothing more is tried until the owner connects again.
pub fn mark_needs_reconnect(
    conn: &mut DbConnection,
    account: Id<Account>,
    reason: &str,
    now: Ts,
) -> DbResult<()> {
    diesel::update(google_integrations::table.find(account))
        .set((
            google_integrations::needs_reconnect.eq(true),
            google_integrations::access_token.eq(None::<String>),
            google_integrations::access_token_expires_at.eq(None::<Ts>),
            google_integrations::last_error.eq(reason),
            google_integrations::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn set_last_error(
    conn: &mut DbConnection,
    account: Id<Account>,
    error: Option<&str>,
    now: Ts,
) -> DbResult<()> {
    diesel::update(google_integrations::table.find(account))
        .set((
            google_integrations::last_error.eq(error),
            google_integrations::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// After a sync: the token to continue from (None forces a full sync next time).
pub fn set_sync_token(
    conn: &mut DbConnection,
    account: Id<Account>,
    sync_token: Option<&str>,
    synced_at: Option<Ts>,
    now: Ts,
) -> DbResult<()> {
    diesel::update(google_integrations::table.find(account))
        .set((
            google_integrations::sync_token.eq(sync_token),
            google_integrations::updated_at.eq(now),
        ))
        .execute(conn)?;
    if let Some(at) = synced_at {
        diesel::update(google_integrations::table.find(account))
            .set(google_integrations::last_synced_at.eq(at))
            .execute(conn)?;
    }
    Ok(())
}

/// A push channel: (id, resource id, hash of its secret token, expiry); None forgets it.
pub type ChannelRow = (String, String, Vec<u8>, Option<Ts>);

pub fn set_channel(
    conn: &mut DbConnection,
    account: Id<Account>,
    channel: Option<ChannelRow>,
    now: Ts,
) -> DbResult<()> {
    let (id, resource, hash, expires) = match channel {
        Some((id, resource, hash, expires)) => (Some(id), Some(resource), Some(hash), expires),
        None => (None, None, None, None),
    };
    diesel::update(google_integrations::table.find(account))
        .set((
            google_integrations::channel_id.eq(id),
            google_integrations::channel_resource_id.eq(resource),
            google_integrations::channel_token_hash.eq(hash),
            google_integrations::channel_expires_at.eq(expires),
            google_integrations::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Integrations whose grant works, for the periodic sync and channel renewal.
pub fn active(conn: &mut DbConnection) -> DbResult<Vec<Integration>> {
    Ok(google_integrations::table
        .filter(google_integrations::needs_reconnect.eq(false))
        .select(Integration::as_select())
        .load(conn)?)
}

/// Google refused the cached access token: the next call refreshes it.
pub fn forget_access_token(conn: &mut DbConnection, account: Id<Account>, now: Ts) -> DbResult<()> {
    diesel::update(google_integrations::table.find(account))
        .set((
            google_integrations::access_token.eq(None::<String>),
            google_integrations::access_token_expires_at.eq(None::<Ts>),
            google_integrations::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Open appointments from `since` on, to put into the calendar of the Google
/// account `subject` just connected: all but those whose event is in another
/// Google account's calendar.
pub fn appointments_to_export(
    conn: &mut DbConnection,
    account: Id<Account>,
    subject: &str,
    since: Ts,
    limit: i64,
) -> DbResult<Vec<Id<Appointment>>> {
    let elsewhere = google_events::table
        .filter(google_events::account_id.eq(account))
        .filter(google_events::google_subject.ne(subject))
        .select(google_events::appointment_id);
    Ok(appointments::table
        .filter(appointments::account_id.eq(account))
        .filter(appointments::id.ne_all(elsewhere))
        .filter(appointments::starts_at.ge(since))
        .filter(appointments::status.ne_all(["cancelled", "completed", "no_show"]))
        .order(appointments::starts_at.asc())
        .limit(limit)
        .select(appointments::id)
        .load(conn)?)
}

pub fn link_of(
    conn: &mut DbConnection,
    appointment: Id<Appointment>,
) -> DbResult<Option<EventLink>> {
    Ok(google_events::table
        .find(appointment)
        .select(EventLink::as_select())
        .first(conn)
        .optional()?)
}

/// The link of an event in the calendar of the Google account `subject`.
pub fn link_by_event(
    conn: &mut DbConnection,
    account: Id<Account>,
    subject: &str,
    event_id: &str,
) -> DbResult<Option<EventLink>> {
    Ok(google_events::table
        .filter(google_events::account_id.eq(account))
        .filter(google_events::google_subject.eq(subject))
        .filter(google_events::event_id.eq(event_id))
        .select(EventLink::as_select())
        .first(conn)
        .optional()?)
}

pub fn save_link(conn: &mut DbConnection, link: &EventLink) -> DbResult<()> {
    conn.write_transaction(|conn| {
        diesel::delete(google_events::table.find(link.appointment_id)).execute(conn)?;
        diesel::insert_into(google_events::table)
            .values(link)
            .execute(conn)?;
        Ok(())
    })
}

pub fn unlink(conn: &mut DbConnection, appointment: Id<Appointment>) -> DbResult<()> {
    diesel::delete(google_events::table.find(appointment)).execute(conn)?;
    Ok(())
}

/// The events this service put into the calendar of the Google account `subject`.
pub fn exported_event_ids(
    conn: &mut DbConnection,
    account: Id<Account>,
    subject: &str,
) -> DbResult<Vec<String>> {
    Ok(google_events::table
        .filter(google_events::account_id.eq(account))
        .filter(google_events::google_subject.eq(subject))
        .filter(google_events::origin.eq("exported"))
        .select(google_events::event_id)
        .load(conn)?)
}

/// The events of one person's appointments in the calendar of the Google
/// account `subject`.
pub fn event_ids_of_person(
    conn: &mut DbConnection,
    account: Id<Account>,
    subject: &str,
    person: Id<Person>,
) -> DbResult<Vec<String>> {
    Ok(google_events::table
        .inner_join(appointments::table.on(appointments::id.eq(google_events::appointment_id)))
        .filter(google_events::account_id.eq(account))
        .filter(google_events::google_subject.eq(subject))
        .filter(appointments::person_id.eq(person))
        .select(google_events::event_id)
        .load(conn)?)
}
