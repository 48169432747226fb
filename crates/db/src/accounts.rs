use diesel::prelude::*;

use crate::connection::{DbConnection, MultiBackend};
use crate::schema::accounts;
use fieldcrm_domain::{CountryCode, TimeZoneName};

use crate::types::Stored;
use crate::{DbResult, Id, Ts};

/// A tenant: one business and everything it holds.
#[derive(
    serde::Serialize, Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset,
)]
#[diesel(table_name = accounts, check_for_backend(MultiBackend), treat_none_as_default_value = false)]
pub struct Account {
    pub id: Id<Account>,
    pub name: String,
    /// IANA time zone name, e.g. `America/Chicago`.
    pub time_zone: Stored<TimeZoneName>,
    /// ISO 3166-1 alpha-2 country used for phone numbers given without a country code.
    pub default_country: Stored<CountryCode>,
    pub created_at: Ts,
    pub updated_at: Ts,
    /// Pings less accurate than this many metres are refused (data minimisation).
    pub ping_accuracy_limit_m: f64,
    /// Open shifts are closed automatically after this many hours.
    pub max_shift_hours: i32,
    /// Pings older than this many days are purged; shift totals stay.
    pub ping_retention_days: i32,
    /// JSON list of `{"channel", "minutes_before"}` used when an appointment names no reminders.
    pub default_reminders: String,
    /// Metres from an appointment's place within which a technician has arrived.
    pub arrival_radius_m: f64,
    /// Local "HH:MM" from which SMS wait until `quiet_hours_end`.
    pub quiet_hours_start: String,
    pub quiet_hours_end: String,
    /// JSON object of template overrides by message kind.
    pub message_templates: String,
    /// Printed in the footer of every email.
    pub postal_address: Option<String>,
    /// Bodies of sent messages are cleared after this many days.
    pub message_body_retention_days: i32,
}

impl Account {
    pub const DEFAULT_PING_ACCURACY_LIMIT_M: f64 = 100.0;
    pub const DEFAULT_MAX_SHIFT_HOURS: i32 = 16;
    pub const DEFAULT_PING_RETENTION_DAYS: i32 = 90;
    pub const DEFAULT_ARRIVAL_RADIUS_M: f64 = 150.0;
    pub const DEFAULT_QUIET_HOURS_START: &'static str = "21:00";
    pub const DEFAULT_QUIET_HOURS_END: &'static str = "08:00";
    pub const DEFAULT_MESSAGE_BODY_RETENTION_DAYS: i32 = 90;
    pub const DEFAULT_REMINDERS: &'static str =
        r#"[{"channel":"email","minutes_before":1440},{"channel":"sms","minutes_before":60}]"#;
}

pub fn insert(conn: &mut DbConnection, account: &Account) -> DbResult<()> {
    diesel::insert_into(accounts::table)
        .values(account)
        .execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut DbConnection, id: Id<Account>) -> DbResult<Option<Account>> {
    Ok(accounts::table
        .find(id)
        .select(Account::as_select())
        .first(conn)
        .optional()?)
}

/// Every account with its message body retention in days.
pub fn message_retention(conn: &mut DbConnection) -> DbResult<Vec<(Id<Account>, i32)>> {
    Ok(accounts::table
        .select((accounts::id, accounts::message_body_retention_days))
        .load(conn)?)
}

/// Every account with its ping retention in days.
pub fn retention(conn: &mut DbConnection) -> DbResult<Vec<(Id<Account>, i32)>> {
    Ok(accounts::table
        .select((accounts::id, accounts::ping_retention_days))
        .load(conn)?)
}

pub fn save(conn: &mut DbConnection, account: &Account) -> DbResult<()> {
    diesel::update(accounts::table.find(account.id))
        .set(account)
        .execute(conn)?;
    Ok(())
}
