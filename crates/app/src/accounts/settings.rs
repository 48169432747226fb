//! The account's own settings.

use std::collections::BTreeMap;

use chrono::NaiveTime;
use serde_json::json;

use fieldcrm_db::accounts::{self, Account};
use fieldcrm_db::{Stored, Ts};
use fieldcrm_domain::account::{ArrivalRadius, MaxShiftHours, PingAccuracyLimit, RetentionDays};
use fieldcrm_domain::messaging::{MessageKind, Template};
use fieldcrm_domain::scheduling::ReminderRule;
use fieldcrm_domain::{AccountName, Action, CountryCode, TimeZoneName};

use crate::caller::Caller;
use crate::error::AppError;
use crate::state::AppState;

#[derive(Default)]
pub struct SettingsPatch {
    pub name: Option<AccountName>,
    pub time_zone: Option<TimeZoneName>,
    pub default_country: Option<CountryCode>,
    pub ping_accuracy_limit_m: Option<PingAccuracyLimit>,
    pub max_shift_hours: Option<MaxShiftHours>,
    pub ping_retention_days: Option<RetentionDays>,
    pub arrival_radius_m: Option<ArrivalRadius>,
    pub default_reminders: Option<Vec<ReminderRule>>,
    pub quiet_hours_start: Option<NaiveTime>,
    pub quiet_hours_end: Option<NaiveTime>,
    /// Kinds mapped to a new template, or to `None` for the built-in again.
    pub message_templates: Vec<(MessageKind, Option<Template>)>,
    /// `Some(None)` clears it.
    pub postal_address: Option<Option<String>>,
    pub message_body_retention_days: Option<RetentionDays>,
}

pub fn authorize_changes(caller: &Caller) -> Result<(), AppError> {
    caller.require(Action::ManageAccount)
}

pub async fn get(state: &AppState, caller: &Caller) -> Result<Account, AppError> {
    caller.require(Action::ViewAccount)?;
    let id = caller.account_id;
    state
        .db(move |conn| accounts::find(conn, id)?.ok_or_else(AppError::unauthorized))
        .await
}

pub async fn update(
    state: &AppState,
    caller: &Caller,
    patch: SettingsPatch,
) -> Result<Account, AppError> {
    authorize_changes(caller)?;
    let id = caller.account_id;
    let updated = state
        .db(move |conn| {
            conn.write_transaction(|conn| {
                let mut account = accounts::find(conn, id)?.ok_or_else(AppError::unauthorized)?;
                if let Some(name) = patch.name {
                    account.name = name.as_str().to_owned();
                }
                if let Some(zone) = patch.time_zone {
                    account.time_zone = Stored(zone);
                }
                if let Some(country) = patch.default_country {
                    account.default_country = Stored(country);
                }
                if let Some(limit) = patch.ping_accuracy_limit_m {
                    account.ping_accuracy_limit_m = limit.get();
                }
                if let Some(hours) = patch.max_shift_hours {
                    account.max_shift_hours = hours.get();
                }
                if let Some(days) = patch.ping_retention_days {
                    account.ping_retention_days = days.get();
                }
                if let Some(radius) = patch.arrival_radius_m {
                    account.arrival_radius_m = radius.get();
                }
                if let Some(rules) = patch.default_reminders {
                    let stored: Vec<_> = rules
                        .iter()
                        .map(|r| json!({"channel": r.channel.as_str(), "minutes_before": r.minutes_before}))
                        .collect();
                    account.default_reminders = serde_json::Value::Array(stored).to_string();
                }
                if let Some(start) = patch.quiet_hours_start {
                    account.quiet_hours_start = start.format("%H:%M").to_string();
                }
                if let Some(end) = patch.quiet_hours_end {
                    account.quiet_hours_end = end.format("%H:%M").to_string();
                }
                if !patch.message_templates.is_empty() {
                    let mut stored: BTreeMap<String, String> =
                        serde_json::from_str(&account.message_templates).unwrap_or_default();
                    for (kind, template) in patch.message_templates {
                        match template {
                            Some(t) => stored.insert(kind.as_str().to_owned(), t.as_str().to_owned()),
                            None => stored.remove(kind.as_str()),
                        };
                    }
                    account.message_templates =
                        serde_json::to_string(&stored).map_err(|e| AppError::internal_from(&e))?;
                }
                if let Some(address) = patch.postal_address {
                    account.postal_address = address;
                }
                if let Some(days) = patch.message_body_retention_days {
                    account.message_body_retention_days = days.get();
                }
                account.updated_at = Ts::now();
                accounts::save(conn, &account)?;
                Ok(account)
            })
        })
        .await;
    // Requests read phone numbers with the account's country.
    state.sessions.forget_account(id);
    updated
}
