//! Customers and prospects: one set of pages for both stages, as the JSON API
//! has one set of operations (`routes::people`), whose parsing these pages use.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use maud::{html, Markup};
use serde::Deserialize;
use uuid::Uuid;

use fieldcrm_app::people::{self, Record};
use fieldcrm_app::AppState;
use fieldcrm_db::Id;
use fieldcrm_domain::{Channel, ConsentSource, Stage};

use super::address::{self, AddressForm};
use super::error::PageError;
use super::forms::{
    csrf_input, has_field_errors, input, summary, textarea, version_of, with_own_messages, Input,
    Messages, VersionedForm,
};
use super::layout::{self, Section};
use super::see_other;
use super::session::SignedIn;
use super::words;
use crate::problem::Problem;
use crate::routes::people::{
    page, parse_consent, parse_list, parse_new, parse_patch, ConsentEventView, ConsentRequest,
    CreatePersonRequest, PeopleQuery, UpdatePersonRequest,
};
use crate::views::PersonView;

/// The words of a stage.
#[derive(Clone, Copy)]
struct Kind {
    stage: Stage,
    section: Section,
    path: &'static str,
    plural: &'static str,
    one: &'static str,
}

const CUSTOMERS: Kind = Kind {
    stage: Stage::Customer,
    section: Section::Customers,
    path: "/app/customers",
    plural: "Customers",
    one: "customer",
};

const PROSPECTS: Kind = Kind {
    stage: Stage::Prospect,
    section: Section::Prospects,
    path: "/app/prospects",
    plural: "Prospects",
    one: "prospect",
};

fn kind(segment: &str) -> Result<Kind, PageError> {
    match segment {
        "customers" => Ok(CUSTOMERS),
        "prospects" => Ok(PROSPECTS),
        _ => Err(Problem::not_found().into()),
    }
}

/// A person's id from the path; anything else is a page that does not exist.
fn person_id(raw: &str) -> Result<Uuid, PageError> {
    Uuid::parse_str(raw).map_err(|_| Problem::not_found().into())
}

fn frame(
    signed_in: &SignedIn,
    kind: Kind,
    status: StatusCode,
    title: &str,
    content: Markup,
) -> HttpResponse {
    layout::frame(signed_in, kind.section, status, title, content)
}

// ---- list ------------------------------------------------------------------------

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    cursor: String,
}

fn non_empty(text: &str) -> Option<String> {
    (!text.trim().is_empty()).then(|| text.to_owned())
}

pub async fn list(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<String>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, PageError> {
    let kind = kind(&path)?;
    signed_in.office()?;
    let request = parse_list(&PeopleQuery {
        q: non_empty(&query.q),
        tag: None,
        updated_since: None,
        sort: None,
        limit: None,
        cursor: non_empty(&query.cursor),
    })?;
    let limit = request.limit;
    let rows = people::list(&state, &signed_in.caller, kind.stage, request).await?;
    let found = page(limit, "created", rows);
    let next = found.next_cursor.as_ref().map(|cursor| {
        let query = serde_urlencoded::to_string([("q", query.q.as_str()), ("cursor", cursor)])
            .unwrap_or_default();
        format!("{}?{query}", kind.path)
    });
    let searching = !query.q.trim().is_empty();
    let content = html! {
        h1 { (kind.plural) }
        div class="actions" { a class="button" href=(format!("{}/new", kind.path)) { "Add a " (kind.one) } }
        form class="search" role="search" method="get" action=(kind.path) {
            div class="field" {
                label for="q" { "Search " (kind.plural.to_lowercase()) }
                input id="q" type="search" name="q" value=(query.q) maxlength="200";
            }
            button type="submit" { "Search" }
        }
        @if found.data.is_empty() {
            p { @if searching { "No " (kind.plural.to_lowercase()) " match “" (query.q) "”." } @else { "No " (kind.plural.to_lowercase()) " yet." } }
        } @else {
            table {
                caption { @if searching { (kind.plural) " matching “" (query.q) "”" } @else { "All " (kind.plural.to_lowercase()) ", oldest first" } }
                thead { tr { th scope="col" { "Name" } th scope="col" { "Company" } th scope="col" { "Email" } th scope="col" { "Phone" } th scope="col" { "Tags" } } }
                tbody {
                    @for person in &found.data {
                        tr {
                            th scope="row" { a href=(format!("{}/{}", kind.path, person.id)) { (person.name) } }
                            td { (person.company.as_deref().unwrap_or("")) }
                            td { (person.email.as_deref().unwrap_or("")) }
                            td { (person.phone.as_deref().unwrap_or("")) }
                            td { (person.tags.join(", ")) }
                        }
                    }
                }
            }
        }
        @if let Some(next) = next {
            p { a href=(next) rel="next" { "Next page" } }
        }
    };
    Ok(frame(
        &signed_in,
        kind,
        StatusCode::OK,
        kind.plural,
        content,
    ))
}

// ---- one -------------------------------------------------------------------------

fn consent_words(status: Option<&str>) -> &'static str {
    match status {
        Some("opted_in") => "Opted in",
        Some("opted_out") => "Opted out",
        Some("reset") => "Reset: the contact detail changed",
        _ => "Not asked",
    }
}

/// The channels, with their words on the page.
const CHANNELS: [(Channel, &str); 2] = [
    (Channel::Sms, "Text messages (SMS)"),
    (Channel::Email, "Email"),
];

/// The sources someone in the office may state (`ConsentSource::parse_from_client`
/// checks what comes back).
const SOURCES: [(ConsentSource, &str); 4] = [
    (ConsentSource::Form, "A form they filled in"),
    (
        ConsentSource::Verbal,
        "Said to us, on the phone or in person",
    ),
    (ConsentSource::Import, "Brought over from another system"),
    (ConsentSource::Api, "An integration"),
];

fn channel_words(channel: &str) -> &str {
    CHANNELS
        .iter()
        .find(|(c, _)| c.as_str() == channel)
        .map_or(channel, |(_, words)| words)
}

fn source_words(source: &str) -> &str {
    match source {
        "inbound_stop" => "They replied STOP",
        "unsubscribe_link" => "The unsubscribe link of an email",
        "contact_changed" => "A new phone number or email address",
        other => SOURCES
            .iter()
            .find(|(s, _)| s.as_str() == other)
            .map_or(other, |(_, words)| words),
    }
}

/// The person a page is about, as the API reads them for the same caller.
async fn person_of(
    state: &AppState,
    signed_in: &SignedIn,
    path: &(String, String),
) -> Result<(Kind, PersonView), PageError> {
    let kind = kind(&path.0)?;
    let id = person_id(&path.1)?;
    signed_in.office()?;
    let record = people::get(state, &signed_in.caller, kind.stage, Id::from_uuid(id)).await?;
    Ok((kind, PersonView::from(record)))
}

/// The person a form is about, once the form is this session's (checked first)
/// and its sender works in the office.
fn form_about(
    signed_in: &SignedIn,
    path: &(String, String),
    csrf: &str,
) -> Result<(Kind, Uuid), PageError> {
    let kind = kind(&path.0)?;
    let id = person_id(&path.1)?;
    signed_in.check_csrf(csrf)?;
    signed_in.office()?;
    Ok((kind, id))
}

/// A consent form that was refused: its channel and why.
struct ConsentRefused {
    channel: String,
    messages: Messages,
}

pub async fn show(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    person_page(&state, &signed_in, &path, StatusCode::OK, None).await
}

/// The person's page; with a refused consent form, that form's messages.
async fn person_page(
    state: &AppState,
    signed_in: &SignedIn,
    path: &(String, String),
    status: StatusCode,
    refused: Option<ConsentRefused>,
) -> Result<HttpResponse, PageError> {
    let (kind, person) = person_of(state, signed_in, path).await?;
    let (_, history) = people::consent_history(
        state,
        &signed_in.caller,
        kind.stage,
        Id::from_uuid(person.id),
    )
    .await?;
    let history: Vec<ConsentEventView> = history.into_iter().map(Into::into).collect();
    let zone = words::zone(state, signed_in).await?;
    let address = person.address.as_ref().map(address::lines);
    let csrf = signed_in.csrf();
    let here = format!("{}/{}", kind.path, person.id);
    let current = |channel: Channel| match channel {
        Channel::Sms => person.consent.sms.as_deref(),
        Channel::Email => person.consent.email.as_deref(),
    };
    let content = html! {
        p { a href=(kind.path) { "All " (kind.plural.to_lowercase()) } }
        h1 { (person.name) }
        div class="actions" {
            a class="button" href=(format!("{here}/edit")) { "Edit" }
            @if kind.stage == Stage::Prospect {
                form method="post" action=(format!("{here}/convert")) {
                    (csrf_input(&csrf))
                    input type="hidden" name="version" value=(person.version);
                    button type="submit" { "Make a customer" }
                }
            }
            a href=(format!("{here}/erase")) { "Erase…" }
        }
        dl class="details" {
            dt { "Company" } dd { (person.company.as_deref().unwrap_or("—")) }
            dt { "Email" } dd { (person.email.as_deref().unwrap_or("—")) }
            dt { "Phone" } dd { (person.phone.as_deref().unwrap_or("—")) }
            dt { "Address" } dd { (address.as_deref().unwrap_or("—")) }
            dt { "Tags" } dd { @if person.tags.is_empty() { "—" } @else { (person.tags.join(", ")) } }
            dt { "Notes" } dd { (person.notes.as_deref().unwrap_or("—")) }
        }
        h2 id="consent" { "Consent" }
        dl class="details" {
            @for (channel, words) in CHANNELS {
                dt { (words) } dd { (consent_words(current(channel))) }
            }
        }
        @for (channel, words) in CHANNELS {
            @let messages = refused.as_ref().filter(|r| r.channel == channel.as_str()).map(|r| &r.messages);
            (consent_form(&csrf, &here, channel, words, messages))
        }
        @if history.is_empty() {
            p { "No consent decisions recorded yet." }
        } @else {
            table {
                caption { "Consent history, oldest first" }
                thead { tr { th scope="col" { "When" } th scope="col" { "Channel" } th scope="col" { "Change" } th scope="col" { "Source" } } }
                tbody {
                    @for event in &history {
                        tr {
                            td { (words::time_element(event.at, zone)) }
                            td { (channel_words(&event.channel)) }
                            td { (consent_words(Some(&event.status))) }
                            td { (source_words(&event.source)) }
                        }
                    }
                }
            }
        }
    };
    Ok(frame(signed_in, kind, status, &person.name, content))
}

/// The form that records a decision on one channel.
fn consent_form(
    csrf: &str,
    here: &str,
    channel: Channel,
    words: &str,
    messages: Option<&Messages>,
) -> Markup {
    let none = Messages::default();
    let messages = messages.unwrap_or(&none);
    let id = |name: &str| format!("consent-{}-{name}", channel.as_str());
    let error = |field: &str| {
        html! {
            @if let Some(message) = messages.of(field) {
                p class="error" id=(id(&format!("{field}-error"))) { "Error: " (message) }
            }
        }
    };
    html! {
        form class="stack" method="post" action=(format!("{here}/consent")) novalidate {
            (csrf_input(csrf))
            input type="hidden" name="channel" value=(channel.as_str());
            fieldset {
                legend { "Record a decision: " (words) }
                (error("channel"))
                (error("status"))
                @for (value, label) in [("opted_in", "Opted in"), ("opted_out", "Opted out")] {
                    div {
                        input type="radio" id=(id(value)) name="status" value=(value);
                        " " label for=(id(value)) { (label) }
                    }
                }
                div class="field" {
                    label for=(id("source")) { "Where it came from" }
                    (error("source"))
                    select id=(id("source")) name="source" {
                        @for (source, label) in SOURCES {
                            option value=(source.as_str()) { (label) }
                        }
                    }
                }
                div { button type="submit" { "Record" } }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct ConsentForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    source: String,
}

pub async fn record_consent(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<(String, String)>,
    form: web::Form<ConsentForm>,
) -> Result<HttpResponse, PageError> {
    let (kind, id) = form_about(&signed_in, &path, &form.csrf)?;
    let body = ConsentRequest {
        channel: form.channel.clone(),
        status: form.status.clone(),
        source: form.source.clone(),
    };
    let recorded = match parse_consent(&body) {
        Ok((channel, status, source)) => people::record_consent(
            &state,
            &signed_in.caller,
            kind.stage,
            Id::from_uuid(id),
            channel,
            status,
            source,
        )
        .await
        .map_err(Problem::from),
        Err(problem) => Err(problem),
    };
    match recorded {
        Ok(_) => Ok(see_other(&format!("{}/{id}#consent", kind.path))),
        Err(problem) if has_field_errors(&problem) => {
            let refused = ConsentRefused {
                channel: form.channel.clone(),
                messages: Messages(problem.errors),
            };
            person_page(&state, &signed_in, &path, problem.status, Some(refused)).await
        }
        Err(problem) => Err(problem.into()),
    }
}

// ---- convert and erase ---------------------------------------------------------

/// A prospect becomes a customer; the page they were on is then the customer's.
pub async fn convert(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<(String, String)>,
    form: web::Form<VersionedForm>,
) -> Result<HttpResponse, PageError> {
    let (kind, id) = form_about(&signed_in, &path, &form.csrf)?;
    if kind.stage != Stage::Prospect {
        return Err(Problem::not_found().into());
    }
    let converted = people::convert(
        &state,
        &signed_in.caller,
        Id::from_uuid(id),
        version_of(&form.version),
    )
    .await
    .map_err(Problem::from);
    let problem = match converted {
        Ok(record) => {
            return Ok(see_other(&format!(
                "{}/{}",
                CUSTOMERS.path, record.person.id
            )))
        }
        Err(problem) => problem,
    };
    let (notice, link, words) = match problem.status {
        StatusCode::CONFLICT => (
            "This person is a customer already: someone converted them meanwhile.",
            format!("{}/{id}", CUSTOMERS.path),
            "Go to the customer",
        ),
        StatusCode::PRECONDITION_FAILED => (
            "Someone else changed this prospect since you opened the page, so they were not converted.",
            format!("{}/{id}", kind.path),
            "Reload the prospect",
        ),
        _ => return Err(problem.into()),
    };
    let content = html! {
        h1 { "Not converted" }
        div class="notice" role="alert" { p { (notice) } }
        p { a href=(link) { (words) } }
    };
    Ok(frame(
        &signed_in,
        kind,
        problem.status,
        "Not converted",
        content,
    ))
}

#[derive(Deserialize, Default)]
pub struct EraseForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    confirm: String,
}

/// The page that asks for the name before anything is erased.
fn erase_page(
    signed_in: &SignedIn,
    kind: Kind,
    person: &PersonView,
    typed: &str,
    status: StatusCode,
    messages: &Messages,
) -> HttpResponse {
    let here = format!("{}/{}", kind.path, person.id);
    let title = format!("Erase {}", person.name);
    let label = format!("Type the name “{}” to confirm", person.name);
    let content = html! {
        h1 { (title) }
        (summary(messages))
        p { "Erasing removes this " (kind.one) " and everything about them: their details, tags, consent history and whatever else refers to them. There is no undo." }
        form class="stack" method="post" action=(format!("{here}/erase")) novalidate {
            (csrf_input(&signed_in.csrf()))
            (input(&Input { name: "confirm", label: &label, value: typed, kind: "text", autocomplete: "off",
                required: true, hint: Some("Exactly as it is shown above.") }, messages))
            div class="actions" {
                button type="submit" { "Erase for good" }
                a href=(here) { "Cancel" }
            }
        }
    };
    frame(signed_in, kind, status, &title, content)
}

pub async fn erase_form(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (kind, person) = person_of(&state, &signed_in, &path).await?;
    Ok(erase_page(
        &signed_in,
        kind,
        &person,
        "",
        StatusCode::OK,
        &Messages::default(),
    ))
}

pub async fn erase(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<(String, String)>,
    form: web::Form<EraseForm>,
) -> Result<HttpResponse, PageError> {
    let (kind, id) = form_about(&signed_in, &path, &form.csrf)?;
    let erased = people::delete_confirmed(
        &state,
        &signed_in.caller,
        kind.stage,
        Id::from_uuid(id),
        form.confirm.clone(),
    )
    .await
    .map_err(Problem::from);
    match erased {
        Ok(()) => Ok(see_other(kind.path)),
        Err(problem) if has_field_errors(&problem) => {
            let (kind, person) = person_of(&state, &signed_in, &path).await?;
            Ok(erase_page(
                &signed_in,
                kind,
                &person,
                &form.confirm,
                problem.status,
                &Messages(problem.errors),
            ))
        }
        Err(problem) => Err(problem.into()),
    }
}

// ---- create and edit ----------------------------------------------------------------

/// The form's fields, named as the JSON body's (`address.line1`), so the API's
/// messages name them.
#[derive(Deserialize, Default)]
pub struct PersonForm {
    #[serde(default)]
    csrf: String,
    /// The version the form was filled from (the `ETag`), for `If-Match`.
    #[serde(default)]
    version: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    company: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
    #[serde(flatten)]
    address: AddressForm,
    #[serde(default)]
    notes: String,
    #[serde(default)]
    tags: String,
}

impl PersonForm {
    fn of(person: &PersonView) -> Self {
        let text = |v: Option<&String>| v.cloned().unwrap_or_default();
        Self {
            version: person.version.to_string(),
            name: person.name.clone(),
            company: text(person.company.as_ref()),
            email: text(person.email.as_ref()),
            phone: text(person.phone.as_ref()),
            address: AddressForm::of(person.address.as_ref()),
            notes: text(person.notes.as_ref()),
            tags: person.tags.join(", "),
            ..Self::default()
        }
    }

    fn tags(&self) -> Vec<String> {
        self.tags
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// A form's refusal: its messages by field, or a notice about the whole of it.
enum Refused {
    Fields(Messages),
    Notice(StatusCode, String),
}

/// What to show again for a failed write: the form for what the person can
/// mend (invalid fields, a record changed meanwhile), a page for the rest.
fn refused(problem: Problem) -> Result<(StatusCode, Refused), PageError> {
    match problem.status {
        _ if has_field_errors(&problem) => {
            Ok((problem.status, Refused::Fields(Messages(problem.errors))))
        }
        StatusCode::PRECONDITION_FAILED => Ok((
            problem.status,
            Refused::Notice(problem.status, "Someone else changed this record since you opened the form, so your changes were not saved.".into()),
        )),
        StatusCode::CONFLICT => Ok((
            problem.status,
            Refused::Notice(problem.status, format!("Not saved: {}.", problem.detail.as_deref().unwrap_or("it conflicts with another record"))),
        )),
        _ => Err(problem.into()),
    }
}

/// The form, with what was typed and why it was refused.
fn person_form(
    signed_in: &SignedIn,
    kind: Kind,
    editing: Option<Uuid>,
    form: &PersonForm,
    status: StatusCode,
    refusal: Option<&Refused>,
) -> HttpResponse {
    let none = Messages::default();
    let messages = match refusal {
        Some(Refused::Fields(messages)) => messages,
        _ => &none,
    };
    let (title, action, back) = match editing {
        Some(id) => (
            format!("Edit {}", form.name),
            format!("{}/{id}", kind.path),
            format!("{}/{id}", kind.path),
        ),
        None => (
            format!("Add a {}", kind.one),
            kind.path.to_owned(),
            kind.path.to_owned(),
        ),
    };
    let text = |name: &'static str,
                label: &'static str,
                value: &str,
                kind: &'static str,
                autocomplete: &'static str,
                required: bool| {
        input(
            &Input {
                name,
                label,
                value,
                kind,
                autocomplete,
                required,
                hint: None,
            },
            messages,
        )
    };
    let content = html! {
        h1 { (title) }
        @if let Some(Refused::Notice(status, notice)) = refusal {
            div class="notice" role="alert" {
                p { (notice) }
                @if *status == StatusCode::PRECONDITION_FAILED {
                    p { "What you typed is kept below. " a href=(format!("{back}/edit")) { "Reload the current version" } " to start again from it." }
                }
            }
        }
        (summary(messages))
        form class="stack" method="post" action=(action) novalidate {
            (csrf_input(&signed_in.csrf()))
            @if editing.is_some() { input type="hidden" name="version" value=(form.version); }
            (text("name", "Name", &form.name, "text", "name", true))
            (text("company", "Company", &form.company, "text", "organization", false))
            (text("email", "Email address", &form.email, "email", "email", false))
            (input(&Input { name: "phone", label: "Phone", value: &form.phone, kind: "tel", autocomplete: "tel", required: false,
                hint: Some("Without a country code it is read as a number of the account's country.") }, messages))
            (form.address.fieldset("Address (optional)", None, messages))
            (textarea("notes", "Notes", &form.notes, messages))
            (input(&Input { name: "tags", label: "Tags", value: &form.tags, kind: "text", autocomplete: "off", required: false,
                hint: Some("Separated by commas.") }, messages))
            div class="actions" {
                button type="submit" { "Save" }
                a href=(back) { "Cancel" }
            }
        }
    };
    frame(signed_in, kind, status, &title, content)
}

pub async fn new_form(
    signed_in: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let kind = kind(&path)?;
    signed_in.office()?;
    Ok(person_form(
        &signed_in,
        kind,
        None,
        &PersonForm::default(),
        StatusCode::OK,
        None,
    ))
}

pub async fn create(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<String>,
    form: web::Form<PersonForm>,
) -> Result<HttpResponse, PageError> {
    let kind = kind(&path)?;
    signed_in.check_csrf(&form.csrf)?;
    signed_in.office()?;
    let mut own = Vec::new();
    let body = CreatePersonRequest {
        name: form.name.clone(),
        company: non_empty(&form.company),
        email: non_empty(&form.email),
        phone: non_empty(&form.phone),
        address: form.address.body(&mut own),
        notes: non_empty(&form.notes),
        tags: Some(form.tags()),
    };
    let parsed = parse_new(&body, signed_in.caller.default_country);
    let saved = match with_own_messages(parsed, own) {
        Ok(input) => people::create(&state, &signed_in.caller, kind.stage, input)
            .await
            .map_err(Problem::from),
        Err(problem) => Err(problem),
    };
    after_save(saved, &signed_in, kind, None, &form)
}

/// The saved person's page, or the form again with why it was refused.
fn after_save(
    saved: Result<Record, Problem>,
    signed_in: &SignedIn,
    kind: Kind,
    editing: Option<Uuid>,
    form: &PersonForm,
) -> Result<HttpResponse, PageError> {
    match saved {
        Ok(record) => Ok(see_other(&format!("{}/{}", kind.path, record.person.id))),
        Err(problem) => {
            let (status, refusal) = refused(problem)?;
            Ok(person_form(
                signed_in,
                kind,
                editing,
                form,
                status,
                Some(&refusal),
            ))
        }
    }
}

pub async fn edit_form(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (kind, person) = person_of(&state, &signed_in, &path).await?;
    Ok(person_form(
        &signed_in,
        kind,
        Some(person.id),
        &PersonForm::of(&person),
        StatusCode::OK,
        None,
    ))
}

pub async fn update(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<(String, String)>,
    form: web::Form<PersonForm>,
) -> Result<HttpResponse, PageError> {
    let (kind, id) = form_about(&signed_in, &path, &form.csrf)?;
    let mut own = Vec::new();
    // Every field is on the form: an empty one clears it.
    let body = UpdatePersonRequest {
        name: Some(Some(form.name.clone())),
        company: Some(non_empty(&form.company)),
        email: Some(non_empty(&form.email)),
        phone: Some(non_empty(&form.phone)),
        address: Some(form.address.body(&mut own)),
        notes: Some(non_empty(&form.notes)),
        tags: Some(Some(form.tags())),
    };
    let if_match = version_of(&form.version);
    let parsed = parse_patch(&body, signed_in.caller.default_country);
    let saved = match with_own_messages(parsed, own) {
        Ok(patch) => people::update(
            &state,
            &signed_in.caller,
            kind.stage,
            Id::from_uuid(id),
            if_match,
            patch,
        )
        .await
        .map_err(Problem::from),
        Err(problem) => Err(problem),
    };
    after_save(saved, &signed_in, kind, Some(id), &form)
}
