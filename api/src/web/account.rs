//! The account's own pages: signing up, and privacy (the export, the audit
//! trail and the account's deletion), with the JSON API's use cases and
//! parsing.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};
use serde::Deserialize;

use fieldcrm_app::accounts::{auth, privacy, settings};
use fieldcrm_app::AppState;
use fieldcrm_domain::Action;

use super::auth::{sign_in_cookie_value, signed_in, SIGN_IN_FORM_LASTS};
use super::error::PageError;
use super::forms::{csrf_input, input, summary, Input, Messages};
use super::layout::{self, Section};
use super::session::{cookie, removal, sign_in_binding, SignedIn, SESSION_COOKIE, SIGN_IN_COOKIE};
use super::words;
use crate::auth::client_address;
use crate::problem::{FieldError, Problem};
use crate::routes::account::export_download;
use crate::routes::auth::{parse_signup, SignupRequest};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/sign-up", web::get().to(sign_up_page))
        .route("/sign-up", web::post().to(sign_up))
        .route("/account", web::get().to(privacy_page))
        .route("/account/export", web::get().to(export))
        .route("/account/delete", web::post().to(delete));
}

// ---- sign-up ---------------------------------------------------------------------

#[derive(Deserialize, Default)]
pub struct SignUpForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    account_name: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    time_zone: String,
    #[serde(default)]
    default_country: String,
}

pub async fn sign_up_page(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let typed = SignUpForm {
        time_zone: "UTC".into(),
        default_country: "US".into(),
        ..SignUpForm::default()
    };
    sign_up_form(&state, &req, StatusCode::OK, &typed, &Messages::default())
}

/// The sign-up form, bound to the browser's sign-in cookie as the sign-in
/// form is, with what was typed (but the password) and the fields' messages.
fn sign_up_form(
    state: &AppState,
    req: &HttpRequest,
    status: StatusCode,
    typed: &SignUpForm,
    messages: &Messages,
) -> HttpResponse {
    let value = sign_in_cookie_value(req);
    let csrf = state.tokens.csrf_token(&sign_in_binding(&value));
    let markup = layout::page(
        "Create an account",
        None,
        html! {
            h1 { "Create an account" }
            p { "An account for your business, and you as its owner. Already have one? " a href="/app/sign-in" { "Sign in" } "." }
            (summary(messages))
            form class="stack" method="post" action="/app/sign-up" {
                (csrf_input(&csrf))
                (input(&Input { name: "account_name", label: "Business name", value: &typed.account_name,
                    kind: "text", autocomplete: "organization", required: true, hint: None }, messages))
                (input(&Input { name: "name", label: "Your name", value: &typed.name,
                    kind: "text", autocomplete: "name", required: true, hint: None }, messages))
                (input(&Input { name: "email", label: "Email address", value: &typed.email,
                    kind: "email", autocomplete: "username", required: true, hint: None }, messages))
                (input(&Input { name: "password", label: "Password", value: "",
                    kind: "password", autocomplete: "new-password", required: true,
                    hint: Some("12 to 128 characters."), }, messages))
                (input(&Input { name: "time_zone", label: "Time zone", value: &typed.time_zone,
                    kind: "text", autocomplete: "off", required: true,
                    hint: Some("Where the business works, as a tz database name such as America/Chicago or Europe/Berlin."), }, messages))
                (input(&Input { name: "default_country", label: "Country", value: &typed.default_country,
                    kind: "text", autocomplete: "country", required: true,
                    hint: Some("Two letters, such as US or DE: phone numbers without a country code are read as this country's."), }, messages))
                div { button type="submit" { "Create the account" } }
            }
        },
    );
    let mut response = layout::html(status, markup);
    // Failing to set the cookie only means the form will be refused.
    let _ = response.add_cookie(&cookie(state, SIGN_IN_COOKIE, value, SIGN_IN_FORM_LASTS));
    response
}

pub async fn sign_up(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<SignUpForm>,
) -> Result<HttpResponse, PageError> {
    let typed = form.into_inner();
    let bound = req.cookie(SIGN_IN_COOKIE).is_some_and(|c| {
        state
            .tokens
            .check_csrf(&sign_in_binding(c.value()), &typed.csrf)
    });
    if !bound {
        return Err(PageError::forbidden_form());
    }
    let request = SignupRequest {
        account_name: typed.account_name.clone(),
        name: typed.name.clone(),
        email: typed.email.clone(),
        password: typed.password.clone(),
        time_zone: Some(typed.time_zone.clone()),
        default_country: Some(typed.default_country.clone()),
    };
    let refused = |problem: Problem| {
        let messages = match problem.status {
            StatusCode::UNPROCESSABLE_ENTITY => Messages(problem.errors.clone()),
            StatusCode::CONFLICT => Messages(vec![FieldError {
                field: "email".into(),
                message: problem.detail.clone().unwrap_or_default(),
            }]),
            // Too many sign-ups from this address: the error page says when
            // to try again.
            _ => return Err(PageError::Problem(problem)),
        };
        Ok(sign_up_form(
            &state,
            &req,
            problem.status,
            &typed,
            &messages,
        ))
    };
    let signup = match parse_signup(&request) {
        Ok(signup) => signup,
        Err(problem) => return refused(problem),
    };
    let client = client_address(&req, &state.settings);
    match auth::signup_in_browser(&state, signup, client).await {
        Ok(session) => signed_in(&state, session),
        Err(err) => refused(Problem::from(err)),
    }
}

// ---- privacy ---------------------------------------------------------------------

/// How many of the audit trail's latest entries the page shows.
const AUDIT_SHOWN: i64 = 50;

pub async fn privacy_page(
    state: web::Data<AppState>,
    signed_in: SignedIn,
) -> Result<HttpResponse, PageError> {
    signed_in.office()?;
    privacy_with(&state, &signed_in, StatusCode::OK, &Messages::default()).await
}

async fn privacy_with(
    state: &AppState,
    signed_in: &SignedIn,
    status: StatusCode,
    messages: &Messages,
) -> Result<HttpResponse, PageError> {
    let account = settings::get(state, &signed_in.caller).await?;
    let owner = signed_in
        .caller
        .require(Action::ExportOrDeleteAccount)
        .is_ok();
    let trail = if owner {
        privacy::audit_trail(state, &signed_in.caller, None, None, AUDIT_SHOWN).await?
    } else {
        Vec::new()
    };
    let time_zone = account.time_zone.0.tz();
    let content = html! {
        h1 { "Account" }
        dl {
            dt { "Business" } dd { (account.name) }
            dt { "Time zone" } dd { (account.time_zone.0.tz().name()) }
        }
        @if !owner {
            p { "Only the account's owner can download its data or delete it." }
        } @else {
            section aria-labelledby="export-heading" {
                h2 id="export-heading" { "Download everything" }
                p { "One JSON file with every record this account holds: people, consent, appointments, shifts and their positions, messages, users and the audit trail. Large accounts take a while." }
                p { a class="button" href="/app/account/export" download { "Download the export" } }
            }
            section aria-labelledby="audit-heading" {
                h2 id="audit-heading" { "Audit trail" }
                @if trail.is_empty() {
                    p { "Nothing recorded yet." }
                } @else {
                    table {
                        caption { "The latest " (trail.len()) " entries, newest first" }
                        thead { tr { th scope="col" { "When" } th scope="col" { "What" } th scope="col" { "Who" } } }
                        tbody {
                            @for entry in &trail {
                                tr {
                                    td { (words::moment(entry.at.get(), time_zone)) }
                                    td { (entry.action) }
                                    td { (entry.actor) }
                                }
                            }
                        }
                    }
                }
            }
            section aria-labelledby="delete-heading" class="danger" {
                h2 id="delete-heading" { "Delete the account" }
                p { "Deletes the account and every record of it at once, for every user. It cannot be undone: download the export first if you want to keep anything." }
                (summary(messages))
                form class="stack" method="post" action="/app/account/delete" data-confirm="Delete the account and everything in it, for good?" {
                    (csrf_input(&signed_in.csrf()))
                    (input(&Input { name: "confirm", label: "The business's name, as shown above", value: "",
                        kind: "text", autocomplete: "off", required: true, hint: None }, messages))
                    (input(&Input { name: "password", label: "Your password", value: "",
                        kind: "password", autocomplete: "current-password", required: true, hint: None }, messages))
                    div class="field" {
                        input id="f-delete_calendar_events" type="checkbox" name="delete_calendar_events" value="true";
                        label for="f-delete_calendar_events" { "Also delete the events this account put in Google Calendar" }
                    }
                    div { button class="danger" type="submit" { "Delete the account" } }
                }
            }
        }
    };
    Ok(layout::frame(
        signed_in,
        Section::Account,
        status,
        "Account",
        content,
    ))
}

pub async fn export(
    state: web::Data<AppState>,
    signed_in: SignedIn,
) -> Result<HttpResponse, PageError> {
    let chunks = privacy::export(&state, &signed_in.caller).await?;
    Ok(export_download(chunks))
}

#[derive(Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    confirm: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    delete_calendar_events: bool,
}

pub async fn delete(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    req: HttpRequest,
    form: web::Form<DeleteForm>,
) -> Result<HttpResponse, PageError> {
    signed_in.check_csrf(&form.csrf)?;
    let form = form.into_inner();
    let client = client_address(&req, &state.settings);
    let deleted = privacy::delete_account(
        &state,
        &signed_in.caller,
        form.password,
        form.confirm,
        form.delete_calendar_events,
        client,
    )
    .await;
    let receipt = match deleted {
        Ok(receipt) => receipt,
        Err(err) => {
            let problem = Problem::from(err);
            let messages = match problem.status {
                StatusCode::UNPROCESSABLE_ENTITY => Messages(problem.errors.clone()),
                StatusCode::UNAUTHORIZED | StatusCode::TOO_MANY_REQUESTS => {
                    Messages(vec![FieldError {
                        field: "password".into(),
                        message: problem.detail.clone().unwrap_or_default(),
                    }])
                }
                _ => return Err(PageError::Problem(problem)),
            };
            return privacy_with(&state, &signed_in, problem.status, &messages).await;
        }
    };
    let mut response = layout::html(
        StatusCode::OK,
        layout::page(
            "Account deleted",
            None,
            deleted_page(&receipt.id.uuid().to_string()),
        ),
    );
    response
        .add_removal_cookie(&removal(&state, SESSION_COOKIE))
        .map_err(|err| Problem::internal_from(&err))?;
    Ok(response)
}

fn deleted_page(receipt: &str) -> Markup {
    html! {
        h1 { "The account is deleted" }
        p { "Every record of it is gone, and every session and key of it has ended." }
        p { "Receipt: " code { (receipt) } " (keep it to show that the deletion happened)." }
        p { a href="/app/sign-up" { "Create a new account" } }
    }
}
