use actix_web::{get, patch, web, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

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
    };
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
