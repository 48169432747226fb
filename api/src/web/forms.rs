//! Form controls with their labels and their field's message, named as the
//! JSON API names the field, so its validation messages land beside them.

use actix_web::http::StatusCode;
use maud::{html, Markup};
use serde::Deserialize;

use fieldcrm_app::preconditions::IfMatch;

use crate::problem::{FieldError, Problem};

/// The hidden input every form carries (see `session::SignedIn::check_csrf`).
pub fn csrf_input(token: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(token); }
}

/// A row's one-button form (remove, revoke, send again): the button says
/// `word`, and to screen readers also which row (`of`); with the script on,
/// `confirm` is asked first.
pub fn row_button(action: &str, csrf: &str, word: &str, of: &str, confirm: Option<&str>) -> Markup {
    html! {
        form method="post" action=(action) data-confirm=[confirm] {
            (csrf_input(csrf))
            button class="quiet" type="submit" { (word) " " span class="visually-hidden" { (of) } }
        }
    }
}

/// A form that only acts on a record as it was read: its token and the
/// version of the page (for `If-Match`).
#[derive(Deserialize)]
pub struct VersionedForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub version: String,
}

/// The messages of a refused form, by field.
#[derive(Default)]
pub struct Messages(pub Vec<FieldError>);

impl Messages {
    pub fn of(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|error| error.field == field)
            .map(|error| error.message.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// What an input is for.
pub struct Input<'a> {
    pub name: &'a str,
    pub label: &'a str,
    pub value: &'a str,
    /// `text`, `email`, `tel`, `password`, ...
    pub kind: &'a str,
    pub autocomplete: &'a str,
    pub required: bool,
    pub hint: Option<&'a str>,
}

fn id_of(name: &str) -> String {
    format!("f-{}", name.replace('.', "-"))
}

pub fn input(field: &Input<'_>, messages: &Messages) -> Markup {
    let id = id_of(field.name);
    let message = messages.of(field.name);
    let described = described_by(&id, field.hint.is_some(), message.is_some());
    html! {
        div class="field" {
            label for=(id) { (field.label) @if !field.required { " (optional)" } }
            @if let Some(hint) = field.hint { p class="hint" id=(format!("{id}-hint")) { (hint) } }
            @if let Some(message) = message { p class="error" id=(format!("{id}-error")) { "Error: " (message) } }
            input id=(id) name=(field.name) type=(field.kind) value=(field.value)
                autocomplete=(field.autocomplete) required[field.required]
                aria-invalid=[message.map(|_| "true")] aria-describedby=[described];
        }
    }
}

pub fn textarea(name: &str, label: &str, value: &str, messages: &Messages) -> Markup {
    let id = id_of(name);
    let message = messages.of(name);
    let described = described_by(&id, false, message.is_some());
    html! {
        div class="field" {
            label for=(id) { (label) " (optional)" }
            @if let Some(message) = message { p class="error" id=(format!("{id}-error")) { "Error: " (message) } }
            textarea id=(id) name=(name) rows="5"
                aria-invalid=[message.map(|_| "true")] aria-describedby=[described] { (value) }
        }
    }
}

fn described_by(id: &str, hint: bool, error: bool) -> Option<String> {
    let mut ids = Vec::new();
    if hint {
        ids.push(format!("{id}-hint"));
    }
    if error {
        ids.push(format!("{id}-error"));
    }
    (!ids.is_empty()).then(|| ids.join(" "))
}

/// The list of a refused form's messages, above it, so a screen reader hears
/// them first and each links to its field.
pub fn summary(messages: &Messages) -> Markup {
    html! {
        @if !messages.is_empty() {
            div class="notice" role="alert" {
                h2 { "The form has errors" }
                ul {
                    @for error in &messages.0 {
                        li { a href=(format!("#{}", id_of(&error.field))) { (error.field) ": " (error.message) } }
                    }
                }
            }
        }
    }
}

/// The version a form was filled from, for `If-Match`: a form without it
/// would act on whatever changed meanwhile.
pub fn version_of(raw: &str) -> IfMatch {
    raw.trim().parse().map_or(IfMatch::Never, IfMatch::Version)
}

/// Whether a refusal names fields a form can show its messages beside.
pub fn has_field_errors(problem: &Problem) -> bool {
    matches!(
        problem.status,
        StatusCode::UNPROCESSABLE_ENTITY | StatusCode::BAD_REQUEST
    ) && !problem.errors.is_empty()
}

/// The API's parse of a form, refused with the form's own messages (about
/// values it could not turn into the API's types) beside the API's.
pub fn with_own_messages<T>(
    parsed: Result<T, Problem>,
    mut own: Vec<FieldError>,
) -> Result<T, Problem> {
    match parsed {
        Ok(_) if !own.is_empty() => Err(Problem::validation(own)),
        Err(mut problem) if !problem.errors.is_empty() => {
            problem.errors.append(&mut own);
            Err(problem)
        }
        other => other,
    }
}

/// A select of `options` (value, words) with its label and message.
pub fn select(
    name: &str,
    label: &str,
    options: &[(String, String)],
    chosen: &str,
    messages: &Messages,
) -> Markup {
    let id = id_of(name);
    let message = messages.of(name);
    let described = described_by(&id, false, message.is_some());
    html! {
        div class="field" {
            label for=(id) { (label) }
            @if let Some(message) = message { p class="error" id=(format!("{id}-error")) { "Error: " (message) } }
            select id=(id) name=(name) aria-invalid=[message.map(|_| "true")] aria-describedby=[described] {
                @for (value, words) in options {
                    option value=(value) selected[value == chosen] { (words) }
                }
            }
        }
    }
}
