//! Reminder rules on a form (the account's defaults, an appointment's own):
//! rows of a channel and the minutes before the appointment. A row's message
//! from the API (`reminders[k]` counts only the rows that hold a rule) is
//! shown on the row it was typed in.

use maud::{html, Markup};
use serde::Deserialize;

use super::forms::Messages;
use crate::problem::FieldError;
use crate::routes::appointments::ReminderBody;
use crate::views::AccountView;

/// How many rows a form offers (the API takes at most this many rules).
pub const ROWS: usize = 3;

/// The rows as sent: text as typed.
#[derive(Deserialize, Default, Clone)]
pub struct ReminderRows {
    #[serde(default)]
    reminder_channel_0: String,
    #[serde(default)]
    reminder_minutes_0: String,
    #[serde(default)]
    reminder_channel_1: String,
    #[serde(default)]
    reminder_minutes_1: String,
    #[serde(default)]
    reminder_channel_2: String,
    #[serde(default)]
    reminder_minutes_2: String,
}

impl ReminderRows {
    /// Rows filled with rules of a channel and minutes before.
    pub fn of<'a>(rules: impl IntoIterator<Item = (&'a str, i64)>) -> Self {
        let mut rows = Self::default();
        for (i, (channel, minutes)) in rules.into_iter().take(ROWS).enumerate() {
            let (c, m) = rows.row_mut(i);
            *c = channel.to_owned();
            *m = minutes.to_string();
        }
        rows
    }

    /// The account's default rules.
    pub fn defaults_of(account: &AccountView) -> Self {
        let rules = account
            .default_reminders
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        Self::of(rules.iter().map(|rule| {
            (
                rule["channel"].as_str().unwrap_or_default(),
                rule["minutes_before"].as_i64().unwrap_or_default(),
            )
        }))
    }

    fn row(&self, i: usize) -> (&str, &str) {
        match i {
            0 => (&self.reminder_channel_0, &self.reminder_minutes_0),
            1 => (&self.reminder_channel_1, &self.reminder_minutes_1),
            _ => (&self.reminder_channel_2, &self.reminder_minutes_2),
        }
    }

    fn row_mut(&mut self, i: usize) -> (&mut String, &mut String) {
        match i {
            0 => (&mut self.reminder_channel_0, &mut self.reminder_minutes_0),
            1 => (&mut self.reminder_channel_1, &mut self.reminder_minutes_1),
            _ => (&mut self.reminder_channel_2, &mut self.reminder_minutes_2),
        }
    }

    /// The rules as the API takes them, with the row each was typed in; a
    /// row without a channel holds none. Minutes that are not a number are
    /// the row's message in `errors`, named `{field}[row]`.
    pub fn rules(
        &self,
        field: &str,
        errors: &mut Vec<FieldError>,
    ) -> (Vec<ReminderBody>, Vec<usize>) {
        let mut rules = Vec::new();
        let mut rows = Vec::new();
        for i in 0..ROWS {
            let (channel, minutes) = self.row(i);
            if channel.is_empty() {
                continue;
            }
            match minutes.trim().parse::<f64>() {
                Ok(minutes) if minutes.is_finite() => {
                    rules.push(ReminderBody {
                        channel: channel.to_owned(),
                        minutes_before: minutes as i64,
                    });
                    rows.push(i);
                }
                _ => errors.push(FieldError::new(format!("{field}[{i}]"), "must be a number")),
            }
        }
        (rules, rows)
    }

    /// The rows, each a channel to choose and its minutes; `field` names
    /// their messages (`{field}[row]`).
    pub fn markup(&self, field: &str, messages: &Messages) -> Markup {
        html! {
            @for i in 0..ROWS {
                @let (channel, minutes) = self.row(i);
                @let message = messages.of(&format!("{field}[{i}]"));
                div class="field reminder" {
                    @if let Some(message) = message { p class="error" id=(format!("reminder-{i}-error")) { "Error: " (message) } }
                    label for=(format!("reminder-{i}-channel")) { "Reminder " (i + 1) }
                    select id=(format!("reminder-{i}-channel")) name=(format!("reminder_channel_{i}")) {
                        option value="" selected[channel.is_empty()] { "None" }
                        option value="sms" selected[channel == "sms"] { "Text message" }
                        option value="email" selected[channel == "email"] { "Email" }
                    }
                    label for=(format!("reminder-{i}-minutes")) { "Minutes before the appointment, reminder " (i + 1) }
                    input id=(format!("reminder-{i}-minutes")) name=(format!("reminder_minutes_{i}")) type="number"
                        min="0" max="43200" value=(minutes) aria-invalid=[message.map(|_| "true")];
                }
            }
        }
    }
}

/// The API's `{field}[k]`, the k-th rule sent, as the row it was typed in.
pub fn on_rows(mut error: FieldError, field: &str, rows: &[usize]) -> FieldError {
    let k = error
        .field
        .strip_prefix(field)
        .and_then(|rest| rest.strip_prefix('['))
        .and_then(|rest| rest.split(']').next())
        .and_then(|k| k.parse::<usize>().ok());
    if let Some(k) = k {
        let row = rows.get(k).copied().unwrap_or(k);
        error.field = format!("{field}[{row}]");
    }
    error
}
