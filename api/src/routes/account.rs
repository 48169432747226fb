use actix_web::{delete, get, patch, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use std::collections::BTreeMap;

use fieldcrm_domain::account::{ArrivalRadius, MaxShiftHours, PingAccuracyLimit, RetentionDays};
use fieldcrm_domain::messaging::{MessageKind, QuietHours, Template};
use fieldcrm_domain::scheduling::ReminderRule;
use fieldcrm_domain::{AccountName, CountryCode, TimeZoneName};

use fieldcrm_db::Id;

use crate::auth::Caller;
use crate::export_docs;
use crate::extract::Json;
use crate::problem::{FieldError, Fields, Problem};
use crate::routes::appointments::ReminderBody;
use crate::views::AccountView;
use fieldcrm_app::accounts::privacy;
use fieldcrm_app::accounts::settings::{self, SettingsPatch};
use fieldcrm_app::state::AppState;

/// The account and its settings.
///
/// Permission: `ViewAccount`.
#[utoipa::path(
    tag = "account",
    security(("bearer" = [])),
    responses((status = 200, description = "The account", body = AccountView))
)]
#[get("/v1/account")]
pub async fn get_account(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, Problem> {
    let account = settings::get(&state, &caller).await?;
    Ok(HttpResponse::Ok().json(AccountView::from(account)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAccountRequest {
    pub name: Option<String>,
    /// IANA time zone, e.g. `America/Chicago`.
    pub time_zone: Option<String>,
    /// ISO 3166-1 alpha-2, for phone numbers without a country code.
    pub default_country: Option<String>,
    /// Pings less accurate than this are refused (1 to 1000 m).
    pub ping_accuracy_limit_m: Option<f64>,
    /// Open shifts close automatically after this many hours (1 to 24).
    pub max_shift_hours: Option<i32>,
    /// Pings are deleted after this many days (1 to 3650).
    pub ping_retention_days: Option<i32>,
    /// Radius around an appointment's place that counts as arrived (10 to 5000 m).
    pub arrival_radius_m: Option<f64>,
    /// Reminders of appointments booked without their own.
    pub default_reminders: Option<Vec<ReminderBody>>,
    /// Local time (HH:MM) from which SMS wait; the same as the end for none.
    pub quiet_hours_start: Option<String>,
    /// Local time (HH:MM) when waiting SMS go out.
    pub quiet_hours_end: Option<String>,
    /// Templates by kind (`reminder`, `confirmation`, `on_my_way`); `null` for a
    /// kind restores the built-in. Placeholders: `{customer_name}`, `{time}`,
    /// `{address}`, `{business_name}`, `{title}`; others are refused.
    #[schema(value_type = Option<Object>)]
    pub message_templates: Option<BTreeMap<String, Option<String>>>,
    /// Printed in every email's footer (up to 500 characters); `null` clears it.
    #[serde(default, deserialize_with = "crate::extract::nullable")]
    #[schema(value_type = Option<String>)]
    pub postal_address: Option<Option<String>>,
    /// Bodies of sent messages are cleared after this many days (1 to 3650).
    pub message_body_retention_days: Option<i32>,
}

/// A postal address as printed: up to 6 lines, 500 characters.
fn parse_postal_address(raw: &str) -> Result<String, fieldcrm_domain::Invalid> {
    let text = raw.trim();
    if text.is_empty() || text.chars().count() > 500 || text.lines().count() > 6 {
        return Err(fieldcrm_domain::Invalid(
            "must be 1 to 500 characters on at most 6 lines".into(),
        ));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(fieldcrm_domain::Invalid(
            "must not contain control characters".into(),
        ));
    }
    Ok(text.to_owned())
}

/// Change the account's settings; only the fields given change.
///
/// Permission: `ManageAccount`.
#[utoipa::path(
    tag = "account",
    security(("bearer" = [])),
    request_body = UpdateAccountRequest,
    responses(
        (status = 200, description = "The account with its new settings", body = AccountView),
        (status = 403, description = "The caller may not change settings", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/v1/account")]
pub async fn update_account(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<UpdateAccountRequest>,
) -> Result<HttpResponse, Problem> {
    settings::authorize_changes(&caller)?;
    let patch = parse_patch(body.0)?;
    let account = settings::update(&state, &caller, patch).await?;
    Ok(HttpResponse::Ok().json(AccountView::from(account)))
}

/// The settings a patch changes, as domain values, with every field's
/// message at once; the web's settings page sends the same fields.
pub fn parse_patch(body: UpdateAccountRequest) -> Result<SettingsPatch, Problem> {
    let mut fields = Fields::default();
    let mut patch = SettingsPatch {
        name: body
            .name
            .as_deref()
            .and_then(|v| fields.check("name", AccountName::parse(v))),
        time_zone: body
            .time_zone
            .as_deref()
            .and_then(|v| fields.check("time_zone", TimeZoneName::parse(v))),
        default_country: body
            .default_country
            .as_deref()
            .and_then(|v| fields.check("default_country", CountryCode::parse(v))),
        ping_accuracy_limit_m: body
            .ping_accuracy_limit_m
            .and_then(|v| fields.check("ping_accuracy_limit_m", PingAccuracyLimit::parse(v))),
        max_shift_hours: body
            .max_shift_hours
            .and_then(|v| fields.check("max_shift_hours", MaxShiftHours::parse(v))),
        ping_retention_days: body
            .ping_retention_days
            .and_then(|v| fields.check("ping_retention_days", RetentionDays::parse(v))),
        arrival_radius_m: body
            .arrival_radius_m
            .and_then(|v| fields.check("arrival_radius_m", ArrivalRadius::parse(v))),
        default_reminders: None,
        quiet_hours_start: body
            .quiet_hours_start
            .as_deref()
            .and_then(|v| fields.check("quiet_hours_start", QuietHours::parse_time(v))),
        quiet_hours_end: body
            .quiet_hours_end
            .as_deref()
            .and_then(|v| fields.check("quiet_hours_end", QuietHours::parse_time(v))),
        message_templates: Vec::new(),
        postal_address: match &body.postal_address {
            None => None,
            Some(None) => Some(None),
            Some(Some(text)) => fields
                .check("postal_address", parse_postal_address(text))
                .map(Some),
        },
        message_body_retention_days: body
            .message_body_retention_days
            .and_then(|v| fields.check("message_body_retention_days", RetentionDays::parse(v))),
    };
    for (name, text) in body.message_templates.iter().flatten() {
        let field = format!("message_templates.{name}");
        let Some(kind) = fields
            .check(&field, name.parse::<MessageKind>())
            .filter(|k| *k != MessageKind::Manual)
        else {
            if name == "manual" {
                fields.push(FieldError::new(field, "manual messages have no template"));
            }
            continue;
        };
        match text {
            None => patch.message_templates.push((kind, None)),
            Some(text) => {
                if let Some(template) = fields.check(&field, Template::parse(text)) {
                    patch.message_templates.push((kind, Some(template)));
                }
            }
        }
    }
    if let Some(rules) = &body.default_reminders {
        if rules.len() > ReminderRule::MAX_PER_APPOINTMENT {
            fields.push(FieldError::new(
                "default_reminders",
                format!("must hold at most {}", ReminderRule::MAX_PER_APPOINTMENT),
            ));
        } else {
            let mut parsed = Vec::new();
            for (i, r) in rules.iter().enumerate() {
                match ReminderRule::parse(&r.channel, r.minutes_before) {
                    Ok(rule) => parsed.push(rule),
                    Err(invalid) => fields.push(FieldError::new(
                        format!("default_reminders[{i}]"),
                        invalid.0,
                    )),
                }
            }
            patch.default_reminders = Some(parsed);
        }
    }
    fields.finish()?;
    Ok(patch)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteAccountRequest {
    /// The caller's current password.
    pub password: String,
    /// The account's name, typed as confirmation.
    pub confirm: String,
    /// Also delete the events this service put into the connected Google
    /// calendar (events made in Google stay). Default false.
    #[serde(default)]
    pub delete_calendar_events: bool,
}

/// What a deletion removed, in figures only. The service keeps this receipt and
/// nothing else of the account.
#[derive(Serialize, ToSchema)]
pub struct DeletionReceiptView {
    pub receipt_id: Uuid,
    pub deleted_at: DateTime<Utc>,
    /// Rows removed per kind of record (table), e.g. `{"people": 120, "pings": 53000}`.
    #[schema(value_type = std::collections::HashMap<String, i64>)]
    pub counts: BTreeMap<String, i64>,
    pub scrub: ScrubView,
}

/// Whether the deleted rows are gone from the database's files too, not only
/// from its tables.
#[derive(Serialize, ToSchema)]
pub struct ScrubView {
    /// `pending` until a background job has scrubbed the tables, right after
    /// the deletion or, while a reader that began before it still holds the
    /// old rows, as soon as that reader ends; then `complete`. The deletion
    /// answers `pending`; follow it at `GET /v1/deletion-receipts/{receipt_id}`.
    #[schema(example = "complete")]
    pub status: &'static str,
    pub completed_at: Option<DateTime<Utc>>,
}

impl From<privacy::DeletionReceipt> for DeletionReceiptView {
    fn from(receipt: privacy::DeletionReceipt) -> Self {
        Self {
            receipt_id: receipt.id.uuid(),
            deleted_at: receipt.deleted_at.get(),
            counts: receipt.counts,
            scrub: ScrubView {
                status: if receipt.scrubbed_at.is_some() {
                    "complete"
                } else {
                    "pending"
                },
                completed_at: receipt.scrubbed_at.map(|at| at.get()),
            },
        }
    }
}

/// Delete the account and every record of it: users, tokens, API keys,
/// customers and prospects, consent history, appointments, shifts, pings,
/// messages, queued jobs, idempotency records and the audit trail, in one
/// transaction; then a background job scrubs the space they took (SQLite:
/// zeroed pages and an emptied write-ahead log; PostgreSQL: VACUUM of the
/// tables, whose time grows with every account's rows in them, so the answer
/// does not wait for it), right away or, while a reader that began before the
/// deletion still holds the old rows, as soon as it ends. The answer's
/// `scrub` is `pending`; `GET /v1/deletion-receipts/{receipt_id}` follows it
/// to `complete`. Every token
/// and API key of the account answers 401 from then on, and no queued message
/// of it is sent. `confirm` not the account's name: 422 (checked first, so it
/// says nothing of the password); wrong password: 401 `wrong_password`,
/// counted with failed sign-ins (429 with `Retry-After` past their limit);
/// either way nothing changes.
///
/// With Google connected, a job then stops the push channel, deletes the events
/// this service exported when `delete_calendar_events` is true, and revokes the
/// grant at Google; it carries the grant sealed and nothing else of the
/// account, and retries until Google answers. The deletion does not wait for it.
///
/// Permission: `ExportOrDeleteAccount`.
#[utoipa::path(
    tag = "account",
    security(("bearer" = [])),
    request_body = DeleteAccountRequest,
    responses(
        (status = 200, description = "Deleted; the receipt", body = DeletionReceiptView),
        (status = 403, description = "The caller is not an owner", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong passwords (`rate_limited`), or too many passwords being checked at once (`busy`); see `Retry-After`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/v1/account")]
pub async fn delete_account(
    state: web::Data<AppState>,
    caller: Caller,
    req: actix_web::HttpRequest,
    body: Json<DeleteAccountRequest>,
) -> Result<HttpResponse, Problem> {
    let body = body.0;
    let receipt = privacy::delete_account(
        &state,
        &caller,
        body.password,
        body.confirm,
        body.delete_calendar_events,
        crate::auth::client_address(&req, &state.settings),
    )
    .await?;
    Ok(HttpResponse::Ok().json(DeletionReceiptView::from(receipt)))
}

/// A deletion's receipt: the figures of `DELETE /v1/account`'s answer, with
/// the scrub's status as it is now. Its id is the only key: it holds nothing
/// of the account, not even the account's id, and the account's credentials
/// are gone, so whoever holds the id may read it.
///
/// Public: no authentication.
#[utoipa::path(
    tag = "account",
    params(("id" = Uuid, Path, description = "`receipt_id` from the deletion's answer")),
    responses(
        (status = 200, description = "The receipt", body = DeletionReceiptView),
        (status = 404, description = "No such receipt", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/deletion-receipts/{id}")]
pub async fn deletion_receipt(
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, Problem> {
    let receipt = privacy::receipt(&state, Id::from_uuid(*id)).await?;
    Ok(HttpResponse::Ok().json(DeletionReceiptView::from(receipt)))
}

/// The export document: the account, then each list of its records as they
/// are stored, without password hashes, key or token hashes, or secrets.
#[derive(Serialize, ToSchema)]
pub struct ExportDocument {
    /// `fieldcrm-export/1`
    pub format: String,
    pub exported_at: DateTime<Utc>,
    /// The account and its settings.
    #[schema(value_type = export_docs::ExportedAccount)]
    pub account: serde_json::Value,
    #[schema(value_type = Vec<export_docs::ExportedUser>)]
    pub users: Vec<serde_json::Value>,
    /// Name, scope, prefix and use; never the secret.
    #[schema(value_type = Vec<export_docs::ExportedApiKey>)]
    pub api_keys: Vec<serde_json::Value>,
    /// Tracker devices, never their token.
    #[schema(value_type = Vec<export_docs::ExportedDevice>)]
    pub devices: Vec<serde_json::Value>,
    /// Customers and prospects (`stage`), with their `tags`.
    #[schema(value_type = Vec<export_docs::ExportedPerson>)]
    pub people: Vec<serde_json::Value>,
    #[schema(value_type = Vec<export_docs::ExportedConsentEvent>)]
    pub consent_events: Vec<serde_json::Value>,
    #[schema(value_type = Vec<export_docs::ExportedAppointment>)]
    pub appointments: Vec<serde_json::Value>,
    #[schema(value_type = Vec<export_docs::ExportedStatusChange>)]
    pub appointment_status_changes: Vec<serde_json::Value>,
    #[schema(value_type = Vec<export_docs::ExportedReminder>)]
    pub reminders: Vec<serde_json::Value>,
    #[schema(value_type = Vec<export_docs::ExportedShift>)]
    pub shifts: Vec<serde_json::Value>,
    #[schema(value_type = Vec<export_docs::ExportedPing>)]
    pub pings: Vec<serde_json::Value>,
    #[schema(value_type = Vec<export_docs::ExportedMessage>)]
    pub messages: Vec<serde_json::Value>,
    /// Background work of the account (sending, reminders), without payloads.
    #[schema(value_type = Vec<export_docs::ExportedJob>)]
    pub jobs: Vec<serde_json::Value>,
    /// The Google connection (address, scopes, calendar, sync times), never its tokens.
    #[schema(value_type = Vec<export_docs::ExportedGoogleIntegration>)]
    pub google_integrations: Vec<serde_json::Value>,
    /// Which Google event each appointment is.
    #[schema(value_type = Vec<export_docs::ExportedGoogleEvent>)]
    pub google_events: Vec<serde_json::Value>,
    #[schema(value_type = Vec<export_docs::ExportedAuditEvent>)]
    pub audit_events: Vec<serde_json::Value>,
    /// The events feed as it is kept.
    #[schema(value_type = Vec<export_docs::ExportedEvent>)]
    pub events: Vec<serde_json::Value>,
    /// Webhook endpoints, never their secrets, sealed or not.
    #[schema(value_type = Vec<export_docs::ExportedWebhookEndpoint>)]
    pub webhook_endpoints: Vec<serde_json::Value>,
    /// The delivery log.
    #[schema(value_type = Vec<export_docs::ExportedWebhookDelivery>)]
    pub webhook_deliveries: Vec<serde_json::Value>,
}

/// Everything the account holds, as one JSON document streamed as it is read
/// (any size, constant memory on the server), a page at a time, each page as
/// the data is when it is read. One export per account every 5 minutes, and a
/// few at once per server (429 with `Retry-After` otherwise); each is kept in
/// the audit trail. A client that stops reading for a minute loses the
/// export. A document cut off by an error is not valid JSON, so it cannot be
/// mistaken for a complete one.
///
/// Permission: `ExportOrDeleteAccount`.
#[utoipa::path(
    tag = "account",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The export", body = ExportDocument),
        (status = 403, description = "The caller is not an owner", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "An export was made in the last 5 minutes, or the server runs as many exports as it may", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/account/export")]
pub async fn export_account(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, Problem> {
    Ok(export_download(privacy::export(&state, &caller).await?))
}

/// The export as a download, sent as the blocking task writes it; the web's
/// privacy page sends the same.
pub fn export_download(
    chunks: tokio::sync::mpsc::Receiver<Result<actix_web::web::Bytes, std::io::Error>>,
) -> HttpResponse {
    let stream = futures_util::stream::unfold(chunks, |mut chunks| async move {
        chunks.recv().await.map(|chunk| (chunk, chunks))
    });
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            "attachment; filename=\"fieldcrm-export.json\"",
        ))
        .streaming(stream)
}
