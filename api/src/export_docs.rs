//! The shapes of the export document's records, for the OpenAPI description.
//! The export writes the stored rows (`fieldcrm_db`, without secrets); these
//! mirror them field for field, and `tests/api/privacy.rs` checks a full
//! export against the description, so the two cannot drift apart unnoticed.

use chrono::{DateTime, Utc};
use utoipa::ToSchema;
use uuid::Uuid;

/// The account as exported.
#[derive(ToSchema)]
pub struct ExportedAccount {
    pub id: Uuid,
    pub name: String,
    /// IANA time zone name, e.g. `America/Chicago`.
    pub time_zone: String,
    /// ISO 3166-1 alpha-2 country used for phone numbers given without a country code.
    pub default_country: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
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

/// A record of `users` as exported.
#[derive(ToSchema)]
pub struct ExportedUser {
    pub id: Uuid,
    pub account_id: Uuid,
    pub name: String,
    /// Lower-cased; unique across the service.
    pub email: String,
    pub role: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A record of `api_keys` as exported.
#[derive(ToSchema)]
pub struct ExportedApiKey {
    pub id: Uuid,
    pub account_id: Uuid,
    pub name: String,
    pub scope: String,
    /// The first characters of the secret, to recognise a key in a list.
    pub prefix: String,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A record of `devices` as exported.
#[derive(ToSchema)]
pub struct ExportedDevice {
    pub id: Uuid,
    pub account_id: Uuid,
    pub user_id: Uuid,
    pub label: String,
    /// The first characters of the token, to recognise a device in a list.
    pub prefix: String,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub stored: i64,
    pub duplicates: i64,
    pub outside_shift: i64,
    pub low_accuracy: i64,
    pub unparseable: i64,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A record of `people` as exported.
#[derive(ToSchema)]
pub struct ExportedPerson {
    pub id: Uuid,
    pub account_id: Uuid,
    /// `prospect` or `customer`.
    pub stage: String,
    pub name: String,
    pub company: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub city: Option<String>,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub notes: Option<String>,
    pub sms_consent: Option<String>,
    pub email_consent: Option<String>,
    pub version: i32,
    pub converted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub tags: Vec<String>,
}

/// A record of `consent_events` as exported.
#[derive(ToSchema)]
pub struct ExportedConsentEvent {
    pub id: Uuid,
    pub account_id: Uuid,
    pub person_id: Uuid,
    pub channel: String,
    /// `opted_in`, `opted_out`, or `reset` (contact details changed).
    pub status: String,
    pub source: String,
    pub recorded_by: String,
    pub recorded_at: DateTime<Utc>,
}

/// A record of `appointments` as exported.
#[derive(ToSchema)]
pub struct ExportedAppointment {
    pub id: Uuid,
    pub account_id: Uuid,
    /// `null` for an event made in Google Calendar that no customer or prospect attends.
    pub person_id: Option<Uuid>,
    pub technician_id: Option<Uuid>,
    pub title: String,
    pub notes: Option<String>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub city: Option<String>,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub status: String,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// First GPS fix of the technician within the arrival radius.
    pub arrived_at: Option<DateTime<Utc>>,
    /// First fix outside the radius after arriving.
    pub departed_at: Option<DateTime<Utc>>,
}

/// A record of `appointment_status_changes` as exported.
#[derive(ToSchema)]
pub struct ExportedStatusChange {
    pub id: Uuid,
    pub account_id: Uuid,
    pub appointment_id: Uuid,
    pub from_status: Option<String>,
    pub to_status: String,
    pub changed_by: String,
    pub changed_at: DateTime<Utc>,
}

/// A record of `reminders` as exported.
#[derive(ToSchema)]
pub struct ExportedReminder {
    pub id: Uuid,
    pub account_id: Uuid,
    pub appointment_id: Uuid,
    pub channel: String,
    pub minutes_before: i32,
    pub due_at: DateTime<Utc>,
    /// `scheduled`, `cancelled`, `sent`, `failed`, `suppressed`.
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A record of `shifts` as exported.
#[derive(ToSchema)]
pub struct ExportedShift {
    pub id: Uuid,
    pub account_id: Uuid,
    pub user_id: Uuid,
    pub clock_in_at: DateTime<Utc>,
    pub clock_out_at: Option<DateTime<Utc>>,
    pub clock_in_lat: Option<f64>,
    pub clock_in_lon: Option<f64>,
    pub clock_out_lat: Option<f64>,
    pub clock_out_lon: Option<f64>,
    pub closed_by: Option<String>,
    pub distance_m: Option<f64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A record of `pings` as exported.
#[derive(ToSchema)]
pub struct ExportedPing {
    pub user_id: Uuid,
    /// Made by the device.
    pub id: Uuid,
    pub account_id: Uuid,
    pub shift_id: Uuid,
    pub recorded_at: DateTime<Utc>,
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: Option<f64>,
    pub speed_mps: Option<f64>,
    pub heading_deg: Option<f64>,
    pub received_at: DateTime<Utc>,
}

/// A record of `messages` as exported.
#[derive(ToSchema)]
pub struct ExportedMessage {
    pub id: Uuid,
    pub account_id: Uuid,
    pub person_id: Uuid,
    pub appointment_id: Option<Uuid>,
    pub reminder_id: Option<Uuid>,
    /// `manual`, `reminder`, `confirmation` or `on_my_way`.
    pub kind: String,
    pub channel: String,
    pub recipient: Option<String>,
    pub subject: Option<String>,
    pub body: Option<String>,
    /// `queued`, `sending`, `sent`, `delivered`, `undelivered`, `failed`, `suppressed`.
    pub status: String,
    pub status_reason: Option<String>,
    pub error_code: Option<String>,
    pub provider_message_id: Option<String>,
    pub attempts: i32,
    /// Quiet hours moved the sending to this time.
    pub send_after: Option<DateTime<Utc>>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// A record of `jobs` as exported.
#[derive(ToSchema)]
pub struct ExportedJob {
    pub id: Uuid,
    pub account_id: Option<Uuid>,
    pub kind: String,
    pub subject_id: Option<Uuid>,
    pub status: String,
    pub run_at: DateTime<Utc>,
    /// Claims so far, counting the current one.
    pub attempts: i32,
    pub max_attempts: i32,
    pub lease_expires_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A record of `google_integrations` as exported.
#[derive(ToSchema)]
pub struct ExportedGoogleIntegration {
    pub account_id: Uuid,
    pub connected_by: Option<Uuid>,
    pub email: Option<String>,
    /// The Google account (OpenID `sub`) that granted access; '' when it was connected before this was recorded.
    pub google_subject: String,
    /// Space-separated, as granted.
    pub scopes: String,
    pub calendar_id: String,
    pub needs_reconnect: bool,
    pub last_error: Option<String>,
    pub last_synced_at: Option<DateTime<Utc>>,
    pub channel_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A record of `google_events` as exported.
#[derive(ToSchema)]
pub struct ExportedGoogleEvent {
    pub appointment_id: Uuid,
    pub account_id: Uuid,
    pub event_id: String,
    /// `exported` (made here first) or `imported` (made in Google first).
    pub origin: String,
    pub etag: Option<String>,
    pub google_updated_at: Option<DateTime<Utc>>,
    /// The Google account whose calendar holds the event.
    pub google_subject: String,
}

/// A record of `audit_events` as exported.
#[derive(ToSchema)]
pub struct ExportedAuditEvent {
    pub id: Uuid,
    pub account_id: Uuid,
    /// `user:<id>`, `api_key:<id>` or `system`.
    pub actor: String,
    pub action: String,
    pub subject_id: Option<Uuid>,
    pub detail: Option<String>,
    pub at: DateTime<Utc>,
}

/// A record of `events` as exported.
#[derive(ToSchema)]
pub struct ExportedEvent {
    /// UUIDv7: the order of occurrence.
    pub id: Uuid,
    pub account_id: Uuid,
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    /// `user`, `api_key`, `system` or `contact`.
    pub actor: String,
    /// A JSON object: ids and the names of changed fields.
    pub data: String,
    /// The customer or prospect it concerns; erasing them removes it.
    pub person_id: Option<Uuid>,
}

/// A record of `webhook_endpoints` as exported.
#[derive(ToSchema)]
pub struct ExportedWebhookEndpoint {
    pub id: Uuid,
    pub account_id: Uuid,
    pub url: String,
    pub description: Option<String>,
    /// A JSON array of event types; `null` for every type.
    pub event_types: Option<String>,
    /// `thin` or `full`.
    pub payload: String,
    pub enabled: bool,
    pub previous_secret_until: Option<DateTime<Utc>>,
    /// The first failed attempt since the last success.
    pub failing_since: Option<DateTime<Utc>>,
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

/// A record of `webhook_deliveries` as exported.
#[derive(ToSchema)]
pub struct ExportedWebhookDelivery {
    pub id: Uuid,
    pub account_id: Uuid,
    pub endpoint_id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    pub attempt: i32,
    pub status_code: Option<i32>,
    pub duration_ms: i32,
    pub error: Option<String>,
    pub attempted_at: DateTime<Utc>,
}
