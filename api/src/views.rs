//! Response bodies shared by several endpoints.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use fieldcrm_db::accounts::Account;
use fieldcrm_db::api_keys::ApiKey;
use fieldcrm_db::people::Person;
use fieldcrm_db::users::User;
use fieldcrm_db::Stored;
use fieldcrm_domain::messaging::MessageKind;
use fieldcrm_domain::{Address, ConsentStatus};

use fieldcrm_app::messaging::template_of;

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountView {
    pub id: Uuid,
    pub name: String,
    /// IANA time zone used for reminders and anything shown to people.
    #[schema(example = "America/Chicago")]
    pub time_zone: String,
    /// Country for phone numbers given without a country code (ISO 3166-1 alpha-2).
    #[schema(example = "US")]
    pub default_country: String,
    /// Pings less accurate than this many metres are refused.
    #[schema(example = 100.0)]
    pub ping_accuracy_limit_m: f64,
    /// Open shifts close automatically after this many hours.
    #[schema(example = 16)]
    pub max_shift_hours: i32,
    /// Pings are deleted after this many days; shift totals stay.
    #[schema(example = 90)]
    pub ping_retention_days: i32,
    /// Within this many metres of an appointment's place a technician has arrived.
    #[schema(example = 150.0)]
    pub arrival_radius_m: f64,
    /// Reminders of appointments booked without their own.
    #[schema(value_type = Vec<DefaultReminder>)]
    pub default_reminders: serde_json::Value,
    /// Local time from which SMS wait (HH:MM); equal to `quiet_hours_end` for none.
    #[schema(example = "21:00")]
    pub quiet_hours_start: String,
    /// Local time when waiting SMS go out (HH:MM).
    #[schema(example = "08:00")]
    pub quiet_hours_end: String,
    /// The text of each automatic message: `reminder`, `confirmation`,
    /// `on_my_way`, with placeholders `{customer_name}`, `{time}`, `{address}`,
    /// `{business_name}`, `{title}`. The account's own or the built-in.
    #[schema(value_type = MessageTemplates)]
    pub message_templates: serde_json::Value,
    /// Printed in the footer of every email.
    pub postal_address: Option<String>,
    /// Bodies of sent messages are cleared after this many days.
    #[schema(example = 90)]
    pub message_body_retention_days: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One reminder the account gives appointments booked without their own.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // describes `AccountView::default_reminders` to clients
pub struct DefaultReminder {
    #[schema(value_type = crate::vocabulary::ChannelName)]
    pub channel: String,
    /// 0 to 43200 (30 days).
    pub minutes_before: i64,
}

/// The text of each automatic message.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // describes `AccountView::message_templates` to clients
pub struct MessageTemplates {
    #[schema(example = "Hi {customer_name}, a reminder of {title} at {time}. {business_name}")]
    pub reminder: String,
    pub confirmation: String,
    pub on_my_way: String,
}

impl From<Account> for AccountView {
    fn from(a: Account) -> Self {
        let message_templates = MessageKind::TEMPLATED
            .iter()
            .map(|kind| {
                (
                    kind.as_str().to_owned(),
                    serde_json::Value::String(template_of(&a, *kind).as_str().to_owned()),
                )
            })
            .collect::<serde_json::Map<_, _>>()
            .into();
        Self {
            message_templates,
            id: a.id.uuid(),
            name: a.name,
            time_zone: a.time_zone.name().to_owned(),
            default_country: a.default_country.as_str().to_owned(),
            ping_accuracy_limit_m: a.ping_accuracy_limit_m,
            max_shift_hours: a.max_shift_hours,
            ping_retention_days: a.ping_retention_days,
            arrival_radius_m: a.arrival_radius_m,
            default_reminders: serde_json::from_str(&a.default_reminders).unwrap_or_default(),
            quiet_hours_start: a.quiet_hours_start,
            quiet_hours_end: a.quiet_hours_end,
            postal_address: a.postal_address,
            message_body_retention_days: a.message_body_retention_days,
            created_at: a.created_at.get(),
            updated_at: a.updated_at.get(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub account_id: Uuid,
    pub name: String,
    pub email: String,
    #[schema(value_type = crate::vocabulary::RoleName, example = "dispatcher")]
    pub role: String,
    /// Whether the user has a password and so can sign in.
    pub has_password: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        Self {
            id: u.id.uuid(),
            account_id: u.account_id.uuid(),
            name: u.name,
            email: u.email,
            role: u.role.as_str().to_owned(),
            has_password: u.password_hash.is_some(),
            created_at: u.created_at.get(),
            updated_at: u.updated_at.get(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyView {
    pub id: Uuid,
    pub name: String,
    #[schema(value_type = crate::vocabulary::ApiKeyScopeName, example = "read")]
    pub scope: String,
    /// The first characters of the secret, to tell keys apart.
    #[schema(example = "fcrm_key_Xb4d")]
    pub prefix: String,
    /// The user who made the key. Removing them, or giving them a role that
    /// may not manage keys, revokes it; `null` when its maker was removed
    /// before keys were revoked with their maker.
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    /// Accurate to about a minute.
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<ApiKey> for ApiKeyView {
    fn from(k: ApiKey) -> Self {
        Self {
            id: k.id.uuid(),
            name: k.name,
            scope: k.scope.as_str().to_owned(),
            prefix: k.prefix,
            created_by: k.created_by.map(|id| id.uuid()),
            created_at: k.created_at.get(),
            last_used_at: k.last_used_at.map(|t| t.get()),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AddressView {
    pub line1: String,
    pub line2: Option<String>,
    pub city: Option<String>,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}

impl From<Address> for AddressView {
    fn from(a: Address) -> Self {
        Self {
            line1: a.line1,
            line2: a.line2,
            city: a.city,
            region: a.region,
            postal_code: a.postal_code,
            country: a.country.map(|c| c.as_str().to_owned()),
            lat: a.coordinates.map(|c| c.lat),
            lon: a.coordinates.map(|c| c.lon),
        }
    }
}

/// Current consent per channel: `opted_in`, `opted_out`, or `null` (never given).
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentSummary {
    #[schema(value_type = Option<crate::vocabulary::ConsentStatusName>, example = "opted_in")]
    pub sms: Option<String>,
    #[schema(value_type = Option<crate::vocabulary::ConsentStatusName>)]
    pub email: Option<String>,
}

impl From<&Person> for ConsentSummary {
    fn from(p: &Person) -> Self {
        let word = |c: Option<Stored<ConsentStatus>>| c.map(|c| c.as_str().to_owned());
        Self {
            sms: word(p.sms_consent),
            email: word(p.email_consent),
        }
    }
}

/// A customer or a prospect.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonView {
    pub id: Uuid,
    #[schema(example = "Jordan Blake")]
    pub name: String,
    pub company: Option<String>,
    pub email: Option<String>,
    /// E.164.
    #[schema(example = "+15125550123")]
    pub phone: Option<String>,
    pub address: Option<AddressView>,
    pub notes: Option<String>,
    /// Sorted, lower-case.
    pub tags: Vec<String>,
    pub consent: ConsentSummary,
    /// Raised on every change; the `ETag` is this number in quotes.
    pub version: i32,
    /// When a prospect became a customer.
    pub converted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<fieldcrm_app::people::Record> for PersonView {
    fn from(record: fieldcrm_app::people::Record) -> Self {
        let p = record.person;
        let consent = ConsentSummary::from(&p);
        Self {
            id: p.id.uuid(),
            name: p.name,
            company: p.company,
            email: p.email,
            phone: p.phone,
            address: p.address.address().map(AddressView::from),
            notes: p.notes,
            tags: record.tags,
            consent,
            version: p.version,
            converted_at: p.converted_at.map(|t| t.get()),
            created_at: p.created_at.get(),
            updated_at: p.updated_at.get(),
        }
    }
}
