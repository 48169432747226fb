//! The account's settings: time zone, quiet hours, reminders, the automatic
//! messages' texts and how long positions and message texts are kept. The form
//! sends what `PATCH /v1/account` takes, checked by the same parsing.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use maud::html;
use serde::Deserialize;

use fieldcrm_app::accounts::settings;
use fieldcrm_app::AppState;
use fieldcrm_domain::Action;

use super::error::PageError;
use super::forms::{csrf_input, input, summary, textarea, Input, Messages};
use super::layout::{self, Section};
use super::reminders::{self, ReminderRows};
use super::see_other;
use super::session::SignedIn;
use crate::problem::{FieldError, Problem};
use crate::routes::account::{parse_patch, UpdateAccountRequest};
use crate::views::AccountView;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/settings", web::get().to(show))
        .route("/settings", web::post().to(save));
}

/// The automatic messages, with their names on the page.
const TEMPLATES: [(&str, &str); 3] = [
    ("reminder", "Reminder before an appointment"),
    ("confirmation", "When an appointment is confirmed"),
    ("on_my_way", "When the technician is on the way"),
];

/// The API's name of the reminder rules, which their messages carry.
const REMINDERS: &str = "default_reminders";

/// The settings form as sent: every value as text, so what was typed comes
/// back as typed when something is refused.
#[derive(Deserialize, Default, Clone)]
pub struct SettingsForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    time_zone: String,
    #[serde(default)]
    default_country: String,
    #[serde(default)]
    quiet_hours_start: String,
    #[serde(default)]
    quiet_hours_end: String,
    #[serde(flatten)]
    reminders: ReminderRows,
    #[serde(default)]
    template_reminder: String,
    #[serde(default)]
    template_confirmation: String,
    #[serde(default)]
    template_on_my_way: String,
    #[serde(default)]
    postal_address: String,
    #[serde(default)]
    ping_retention_days: String,
    #[serde(default)]
    message_body_retention_days: String,
    #[serde(default)]
    max_shift_hours: String,
    #[serde(default)]
    arrival_radius_m: String,
}

impl SettingsForm {
    fn of(account: &AccountView) -> Self {
        let template = |kind: &str| {
            account.message_templates[kind]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        };
        SettingsForm {
            name: account.name.clone(),
            time_zone: account.time_zone.clone(),
            default_country: account.default_country.clone(),
            quiet_hours_start: account.quiet_hours_start.clone(),
            quiet_hours_end: account.quiet_hours_end.clone(),
            template_reminder: template("reminder"),
            template_confirmation: template("confirmation"),
            template_on_my_way: template("on_my_way"),
            postal_address: account.postal_address.clone().unwrap_or_default(),
            ping_retention_days: account.ping_retention_days.to_string(),
            message_body_retention_days: account.message_body_retention_days.to_string(),
            max_shift_hours: account.max_shift_hours.to_string(),
            arrival_radius_m: account.arrival_radius_m.to_string(),
            reminders: ReminderRows::defaults_of(account),
            ..SettingsForm::default()
        }
    }

    fn template(&self, kind: &str) -> &str {
        match kind {
            "reminder" => &self.template_reminder,
            "confirmation" => &self.template_confirmation,
            _ => &self.template_on_my_way,
        }
    }

    /// The request `PATCH /v1/account` would get, with the form's row of each
    /// reminder it holds; a number that is not one is the field's message, as
    /// the API's JSON parser would refuse it.
    fn request(&self) -> Result<(UpdateAccountRequest, Vec<usize>), Problem> {
        let mut errors = Vec::new();
        let mut number = |field: &str, text: &str| -> Option<f64> {
            match text.trim().parse::<f64>() {
                Ok(value) if value.is_finite() => Some(value),
                _ => {
                    errors.push(FieldError::new(field, "must be a number"));
                    None
                }
            }
        };
        let ping_retention_days = number("ping_retention_days", &self.ping_retention_days);
        let message_body_retention_days = number(
            "message_body_retention_days",
            &self.message_body_retention_days,
        );
        let max_shift_hours = number("max_shift_hours", &self.max_shift_hours);
        let arrival_radius_m = number("arrival_radius_m", &self.arrival_radius_m);
        let (reminders, rows) = self.reminders.rules(REMINDERS, &mut errors);
        if !errors.is_empty() {
            return Err(Problem::validation(errors));
        }
        // Whole numbers where the API takes integers; an out-of-range value is
        // the API's own message.
        let whole =
            |value: Option<f64>| value.map(|v| v.clamp(i32::MIN.into(), i32::MAX.into()) as i32);
        let templates: BTreeMap<String, Option<String>> = TEMPLATES
            .iter()
            .map(|(kind, _)| {
                let text = self.template(kind).trim();
                (
                    (*kind).to_owned(),
                    (!text.is_empty()).then(|| text.to_owned()),
                )
            })
            .collect();
        let postal = self.postal_address.trim();
        let request = UpdateAccountRequest {
            name: Some(self.name.clone()),
            time_zone: Some(self.time_zone.clone()),
            default_country: Some(self.default_country.clone()),
            ping_accuracy_limit_m: None,
            max_shift_hours: whole(max_shift_hours),
            ping_retention_days: whole(ping_retention_days),
            arrival_radius_m,
            default_reminders: Some(reminders),
            quiet_hours_start: Some(self.quiet_hours_start.clone()),
            quiet_hours_end: Some(self.quiet_hours_end.clone()),
            message_templates: Some(templates),
            postal_address: Some((!postal.is_empty()).then(|| postal.to_owned())),
            message_body_retention_days: whole(message_body_retention_days),
        };
        Ok((request, rows))
    }
}

pub async fn show(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    query: web::Query<Saved>,
) -> Result<HttpResponse, PageError> {
    signed_in.office()?;
    let account = AccountView::from(settings::get(&state, &signed_in.caller).await?);
    Ok(page(
        &signed_in,
        StatusCode::OK,
        &SettingsForm::of(&account),
        &Messages::default(),
        query.saved.is_some(),
    ))
}

#[derive(Deserialize)]
pub struct Saved {
    saved: Option<String>,
}

fn page(
    signed_in: &SignedIn,
    status: StatusCode,
    form: &SettingsForm,
    messages: &Messages,
    saved: bool,
) -> HttpResponse {
    let may_change = signed_in.caller.require(Action::ManageAccount).is_ok();
    let text = |name: &'static str,
                label: &'static str,
                value: &str,
                kind: &'static str,
                hint: Option<&'static str>| {
        input(
            &Input {
                name,
                label,
                value,
                kind,
                autocomplete: "off",
                required: true,
                hint,
            },
            messages,
        )
    };
    let content = html! {
        h1 { "Settings" }
        p { a href="/app/settings/google" { "Google Calendar and Gmail" } }
        @if saved { div class="notice saved" role="status" { p { "The settings are saved." } } }
        @if !may_change { p { "Only an owner or an admin can change these." } }
        (summary(messages))
        form class="stack" method="post" action="/app/settings" novalidate {
            (csrf_input(&signed_in.csrf()))
            fieldset disabled[!may_change] {
                legend { "The business" }
                (text("name", "Business name", &form.name, "text", None))
                (text("time_zone", "Time zone", &form.time_zone, "text",
                    Some("A tz database name such as America/Chicago: reminders and every time shown use it.")))
                (text("default_country", "Country", &form.default_country, "text",
                    Some("Two letters: phone numbers without a country code are read as this country's.")))
                (textarea("postal_address", "Postal address printed in every email", &form.postal_address, messages))
            }
            fieldset disabled[!may_change] {
                legend { "Texts and reminders" }
                (text("quiet_hours_start", "Quiet hours start", &form.quiet_hours_start, "time",
                    Some("No text is sent between the start and the end; what is due waits until the end. The same time twice: none.")))
                (text("quiet_hours_end", "Quiet hours end", &form.quiet_hours_end, "time", None))
                (form.reminders.markup(REMINDERS, messages))
                @for (kind, words) in TEMPLATES {
                    (textarea(&format!("template_{kind}"), words, form.template(kind), messages))
                }
                p class="hint" { "Placeholders: {customer_name}, {time}, {address}, {business_name}, {title}. Empty: the built-in text." }
            }
            fieldset disabled[!may_change] {
                legend { "Time clock and keeping data" }
                (text("max_shift_hours", "Close a forgotten shift after (hours)", &form.max_shift_hours, "number", None))
                (text("arrival_radius_m", "Counts as arrived within (metres)", &form.arrival_radius_m, "number", None))
                (text("ping_retention_days", "Keep positions for (days)", &form.ping_retention_days, "number",
                    Some("Older positions are deleted; shift totals stay.")))
                (text("message_body_retention_days", "Keep the text of sent messages for (days)", &form.message_body_retention_days, "number", None))
            }
            @if may_change { div { button type="submit" { "Save the settings" } } }
        }
    };
    layout::frame(signed_in, Section::Settings, status, "Settings", content)
}

pub async fn save(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    form: web::Form<SettingsForm>,
) -> Result<HttpResponse, PageError> {
    signed_in.check_csrf(&form.csrf)?;
    settings::authorize_changes(&signed_in.caller)?;
    let typed = form.into_inner();
    let (request, rows) = match typed.request() {
        Ok(parsed) => parsed,
        Err(problem) => return refused(&signed_in, &typed, problem, &[]),
    };
    let saved = match parse_patch(request) {
        Ok(patch) => settings::update(&state, &signed_in.caller, patch)
            .await
            .map_err(Problem::from),
        Err(problem) => Err(problem),
    };
    match saved {
        Ok(_) => Ok(see_other("/app/settings?saved=1")),
        Err(problem) => refused(&signed_in, &typed, problem, &rows),
    }
}

/// The form again with each field's message, or the error page for what is no
/// field's fault.
fn refused(
    signed_in: &SignedIn,
    typed: &SettingsForm,
    problem: Problem,
    rows: &[usize],
) -> Result<HttpResponse, PageError> {
    if problem.status != StatusCode::UNPROCESSABLE_ENTITY {
        return Err(problem.into());
    }
    let messages = Messages(form_fields(problem.errors, rows));
    Ok(page(signed_in, problem.status, typed, &messages, false))
}

/// The API's field names as the form's: a template's `message_templates.<kind>`
/// is the textarea `template_<kind>`, and its `default_reminders[k]` is the
/// k-th reminder the form held, on the row it was typed in.
fn form_fields(errors: Vec<FieldError>, rows: &[usize]) -> Vec<FieldError> {
    errors
        .into_iter()
        .map(|mut error| {
            if let Some(kind) = error.field.strip_prefix("message_templates.") {
                error.field = format!("template_{kind}");
                error
            } else {
                reminders::on_rows(error, REMINDERS, rows)
            }
        })
        .collect()
}
