use actix_web::{get, patch, web, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use std::collections::BTreeMap;

use fieldcrm_domain::messaging::{MessageKind, QuietHours, Template};
use fieldcrm_domain::scheduling::ReminderRule;
use fieldcrm_domain::{AccountName, CountryCode, TimeZoneName};

use crate::auth::Caller;
use crate::extract::Json;
use crate::problem::{FieldError, Fields, Problem};
use crate::routes::appointments::ReminderBody;
use crate::services::account::{self, SettingsPatch};
use crate::state::AppState;
use crate::views::AccountView;

/// The account and its settings.
///
/// Roles: any. API keys: `read` scope or wider.
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
    let account = account::get(&state, &caller).await?;
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

fn within<T: PartialOrd + Copy + std::fmt::Display>(
    fields: &mut Fields,
    name: &str,
    value: Option<T>,
    low: T,
    high: T,
) -> Option<T> {
    let value = value?;
    if value >= low && value <= high {
        Some(value)
    } else {
        fields.push(FieldError::new(
            name,
            format!("must be between {low} and {high}"),
        ));
        None
    }
}

/// Change the account's settings; only the fields given change.
///
/// Roles: owner, admin. API keys: not accepted.
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
    account::authorize_changes(&caller)?;
    let body = body.0;
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
        ping_accuracy_limit_m: within(
            &mut fields,
            "ping_accuracy_limit_m",
            body.ping_accuracy_limit_m,
            1.0,
            1000.0,
        ),
        max_shift_hours: within(&mut fields, "max_shift_hours", body.max_shift_hours, 1, 24),
        ping_retention_days: within(
            &mut fields,
            "ping_retention_days",
            body.ping_retention_days,
            1,
            3650,
        ),
        arrival_radius_m: within(
            &mut fields,
            "arrival_radius_m",
            body.arrival_radius_m,
            10.0,
            5000.0,
        ),
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
        message_body_retention_days: within(
            &mut fields,
            "message_body_retention_days",
            body.message_body_retention_days,
            1,
            3650,
        ),
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
    let account = account::update(&state, &caller, patch).await?;
    Ok(HttpResponse::Ok().json(AccountView::from(account)))
}
