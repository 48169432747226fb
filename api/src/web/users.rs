//! The account's users and their roles: who may sign in, and what each role
//! may do (the permission table decides; these pages only ask the use cases).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use maud::{html, Markup};
use serde::Deserialize;
use uuid::Uuid;

use fieldcrm_app::accounts::users::{self, UserPatch};
use fieldcrm_app::paging::PageRequest;
use fieldcrm_app::AppState;
use fieldcrm_db::users::User;
use fieldcrm_db::Id;
use fieldcrm_domain::Role;

use super::auth::CsrfOnly;
use super::error::PageError;
use super::forms::{csrf_input, input, row_button, summary, Input, Messages};
use super::layout::{self, Section};
use super::see_other;
use super::session::SignedIn;
use crate::problem::{FieldError, Problem};
use crate::routes::users::{parse_new_user, CreateUserRequest};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/users", web::get().to(list))
        .route("/users", web::post().to(create))
        .route("/users/{id}/role", web::post().to(change_role))
        .route("/users/{id}/remove", web::post().to(remove));
}

/// The roles with what a person who holds one does, as the page offers them.
const ROLES: [(Role, &str); 4] = [
    (
        Role::Technician,
        "Technician: their own day, clock and appointments",
    ),
    (
        Role::Dispatcher,
        "Dispatcher: customers, appointments, live map",
    ),
    (Role::Admin, "Admin: everything but the account's deletion"),
    (Role::Owner, "Owner: everything"),
];

/// A page of users is enough for the businesses this is for; the API pages on.
const USERS_SHOWN: i64 = 200;

pub async fn list(
    state: web::Data<AppState>,
    signed_in: SignedIn,
) -> Result<HttpResponse, PageError> {
    page(
        &state,
        &signed_in,
        StatusCode::OK,
        &NewUserForm::default(),
        &Messages::default(),
    )
    .await
}

async fn page(
    state: &AppState,
    signed_in: &SignedIn,
    status: StatusCode,
    typed: &NewUserForm,
    messages: &Messages,
) -> Result<HttpResponse, PageError> {
    let first_page = PageRequest {
        after: None,
        limit: USERS_SHOWN,
    };
    let rows = users::list(state, &signed_in.caller, first_page).await?;
    let csrf = signed_in.csrf();
    let me = signed_in.caller.user().map(|(id, _)| id);
    let content = html! {
        h1 { "Users" }
        table {
            caption { "Everyone who may sign in to this account" }
            thead { tr { th scope="col" { "Name" } th scope="col" { "Email" } th scope="col" { "Role" } th scope="col" { "Phones" } th scope="col" { "Remove" } } }
            tbody {
                @for user in &rows {
                    tr {
                        th scope="row" { (user.name) @if Some(user.id) == me { " (you)" } }
                        td { (user.email) }
                        td { (role_form(user, &csrf)) }
                        td { a href=(format!("/app/users/{}/devices", user.id.uuid())) { "Phones " span class="visually-hidden" { "of " (user.name) } } }
                        td {
                            @if Some(user.id) != me {
                                (row_button(&format!("/app/users/{}/remove", user.id.uuid()), &csrf, "Remove", &user.name,
                                    Some(&format!("Remove {}? They are signed out at once.", user.name))))
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="add-heading" {
            h2 id="add-heading" { "Add a user" }
            (summary(messages))
            form class="stack" method="post" action="/app/users" {
                (csrf_input(&csrf))
                (input(&Input { name: "name", label: "Name", value: &typed.name, kind: "text",
                    autocomplete: "off", required: true, hint: None }, messages))
                (input(&Input { name: "email", label: "Email address", value: &typed.email, kind: "email",
                    autocomplete: "off", required: true, hint: None }, messages))
                (role_select("f-role", "role", typed.role.parse().unwrap_or(Role::Technician), messages.of("role")))
                (input(&Input { name: "password", label: "Password", value: "", kind: "password",
                    autocomplete: "new-password", required: false,
                    hint: Some("12 to 128 characters; tell it to them yourself. Without one they cannot sign in yet."), }, messages))
                div { button type="submit" { "Add the user" } }
            }
        }
    };
    Ok(layout::frame(
        signed_in,
        Section::Users,
        status,
        "Users",
        content,
    ))
}

fn role_form(user: &User, csrf: &str) -> Markup {
    let id = format!("role-{}", user.id.uuid());
    html! {
        form class="inline" method="post" action=(format!("/app/users/{}/role", user.id.uuid())) {
            (csrf_input(csrf))
            label class="visually-hidden" for=(id) { "Role of " (user.name) }
            select id=(id) name="role" {
                @for (role, words) in ROLES {
                    option value=(role.as_str()) selected[role == user.role.0] { (words) }
                }
            }
            button class="quiet" type="submit" { "Change " span class="visually-hidden" { "the role of " (user.name) } }
        }
    }
}

fn role_select(id: &str, name: &str, current: Role, message: Option<&str>) -> Markup {
    html! {
        div class="field" {
            label for=(id) { "Role" }
            @if let Some(message) = message { p class="error" id=(format!("{id}-error")) { "Error: " (message) } }
            select id=(id) name=(name) aria-invalid=[message.map(|_| "true")]
                aria-describedby=[message.map(|_| format!("{id}-error"))] {
                @for (role, words) in ROLES {
                    option value=(role.as_str()) selected[role == current] { (words) }
                }
            }
        }
    }
}

#[derive(Deserialize, Default)]
pub struct NewUserForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
}

pub async fn create(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    form: web::Form<NewUserForm>,
) -> Result<HttpResponse, PageError> {
    signed_in.check_csrf(&form.csrf)?;
    let typed = form.into_inner();
    let request = CreateUserRequest {
        name: typed.name.clone(),
        email: typed.email.clone(),
        role: typed.role.clone(),
        password: Some(typed.password.clone()).filter(|p| !p.is_empty()),
    };
    let created = match parse_new_user(&request) {
        Ok(new_user) => users::create(&state, &signed_in.caller, new_user)
            .await
            .map_err(Problem::from),
        Err(problem) => Err(problem),
    };
    match created {
        Ok(_) => Ok(see_other("/app/users")),
        Err(problem) => {
            let messages = match problem.status {
                StatusCode::UNPROCESSABLE_ENTITY => Messages(problem.errors),
                StatusCode::CONFLICT => Messages(vec![FieldError {
                    field: "email".into(),
                    message: problem.detail.unwrap_or_default(),
                }]),
                _ => return Err(problem.into()),
            };
            page(&state, &signed_in, problem.status, &typed, &messages).await
        }
    }
}

fn user_id(raw: &str) -> Result<Id<User>, PageError> {
    Uuid::parse_str(raw)
        .map(Id::from_uuid)
        .map_err(|_| Problem::not_found().into())
}

#[derive(Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    role: String,
}

pub async fn change_role(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<String>,
    form: web::Form<RoleForm>,
) -> Result<HttpResponse, PageError> {
    signed_in.check_csrf(&form.csrf)?;
    let id = user_id(&path)?;
    users::authorize(&signed_in.caller)?;
    let role = form
        .role
        .parse::<Role>()
        .map_err(|err| Problem::invalid_field("role", err.to_string()))?;
    let patch = UserPatch {
        role: Some(role),
        ..UserPatch::default()
    };
    users::update(&state, &signed_in.caller, id, patch).await?;
    Ok(see_other("/app/users"))
}

pub async fn remove(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<String>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    signed_in.check_csrf(&form.csrf)?;
    let id = user_id(&path)?;
    users::delete(&state, &signed_in.caller, id).await?;
    Ok(see_other("/app/users"))
}
