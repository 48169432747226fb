use actix_web::http::StatusCode;
use actix_web::{delete, get, patch, post, web, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use fieldcrm_db::Id;
use fieldcrm_domain::{Email, Password, PersonName, Role};

use crate::auth::Caller;
use crate::extract::Json;
use crate::paging::{Page, PageQuery};
use crate::preconditions::IdempotencyKey;
use crate::problem::{Fields, Problem};
use crate::routes::{created_response, to_json};
use crate::views::UserView;
use fieldcrm_app::accounts::users::{self, NewUser, UserPatch};
use fieldcrm_app::idempotency;
use fieldcrm_app::state::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    pub name: String,
    pub email: String,
    /// `owner`, `admin`, `dispatcher` or `technician`. Only an owner may create an owner.
    #[schema(value_type = crate::vocabulary::RoleName, inline, example = "technician")]
    pub role: String,
    /// 12 to 128 characters. Without one, the user cannot sign in until a password is set.
    pub password: Option<String>,
}

/// Add a user to the account.
///
/// An address that belongs to a user of another account is refused (409); an
/// account told so `FIELDCRM_TAKEN_EMAILS_PER_ACCOUNT` times in an hour gets 429
/// for every new user and email change until the hour ends, taken or not.
///
/// Permission: `ManageUsers`.
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, max_length = 255, pattern = "^[!-~]+$", description = "Makes retries safe; see the README")),
    request_body = CreateUserRequest,
    responses(
        (status = 201, description = "The new user", body = UserView),
        (status = 403, description = "The caller's role may not manage users (or create an owner)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "A replay (same `Idempotency-Key`) of a request whose user has since been deleted", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A user with this email address exists", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "The account was told too often this hour that addresses belong to other accounts (`rate_limited`), or too many passwords are being hashed at once (`busy`); see `Retry-After`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("")]
pub async fn create_user(
    state: web::Data<AppState>,
    caller: Caller,
    key: IdempotencyKey,
    body: Json<CreateUserRequest>,
) -> Result<HttpResponse, Problem> {
    users::authorize(&caller)?;
    let Json(body, body_bytes) = body;
    let new_user = parse_new_user(&body)?;
    let prepared = users::prepare(&state, &caller, new_user).await?;
    let account = caller.account_id;
    let result = idempotency::run(
        &state,
        account,
        key.with_body(&body_bytes),
        move |conn| {
            let user = users::create_by(conn, &caller, prepared)?;
            Ok((
                StatusCode::CREATED.as_u16(),
                to_json(&UserView::from(user))?,
            ))
        },
        move |conn, id| {
            users::find_in(conn, account, Id::from_uuid(id))?
                .map(|user| to_json(&UserView::from(user)))
                .transpose()
        },
    )
    .await?;
    Ok(created_response(&result, "/v1/users"))
}

/// A new user's fields as domain values, with every field's message at once;
/// the web's users page sends the same fields.
pub fn parse_new_user(body: &CreateUserRequest) -> Result<NewUser, Problem> {
    let mut fields = Fields::default();
    let name = fields.check("name", PersonName::parse(&body.name));
    let email = fields.check("email", Email::parse(&body.email));
    let role = fields.check("role", body.role.parse::<Role>());
    let password = match body.password.as_deref() {
        Some(raw) => fields.check("password", Password::parse(raw)).map(Some),
        None => Some(None),
    };
    fields.finish()?;
    let (Some(name), Some(email), Some(role), Some(password)) = (name, email, role, password)
    else {
        return Err(Problem::internal());
    };
    Ok(NewUser {
        name,
        email,
        role,
        password,
    })
}

/// List the account's users, oldest first.
///
/// Permission: `ManageUsers`.
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "A page of users", body = Page<UserView>),
        (status = 403, description = "The caller's role may not manage users", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("")]
pub async fn list_users(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, Problem> {
    let page = query.parse()?;
    let rows = users::list(&state, &caller, page).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(page, rows, |u| u.id.uuid(), UserView::from)))
}

/// One user of the account.
///
/// Permission: `ManageUsers`.
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The user's id")),
    responses(
        (status = 200, description = "The user", body = UserView),
        (status = 403, description = "The caller's role may not manage users", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/{id}")]
pub async fn get_user(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, Problem> {
    let user = users::get(&state, &caller, Id::from_uuid(*id)).await?;
    Ok(HttpResponse::Ok().json(UserView::from(user)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    pub name: Option<String>,
    pub email: Option<String>,
    /// Only an owner may give or take the owner role; the last owner keeps it.
    #[schema(value_type = Option<crate::vocabulary::RoleName>, inline)]
    pub role: Option<String>,
    /// A new password ends all of the user's sessions and access tokens.
    pub password: Option<String>,
}

/// Change a user; only the fields given change.
///
/// An address that belongs to a user of another account is refused (409); an
/// account told so `FIELDCRM_TAKEN_EMAILS_PER_ACCOUNT` times in an hour gets 429
/// for every new user and email change until the hour ends, taken or not.
///
/// Permission: `ManageUsers`. Only an owner may change an owner.
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The user's id")),
    request_body = UpdateUserRequest,
    responses(
        (status = 200, description = "The changed user", body = UserView),
        (status = 403, description = "The caller's role may not make this change", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The email address is taken, or the last owner would be demoted", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "The account was told too often this hour that addresses belong to other accounts (`rate_limited`), or too many passwords are being hashed at once (`busy`); see `Retry-After`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/{id}")]
pub async fn update_user(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: Json<UpdateUserRequest>,
) -> Result<HttpResponse, Problem> {
    users::authorize(&caller)?;
    let body = body.0;
    let mut fields = Fields::default();
    let patch = UserPatch {
        name: body
            .name
            .as_deref()
            .and_then(|v| fields.check("name", PersonName::parse(v))),
        email: body
            .email
            .as_deref()
            .and_then(|v| fields.check("email", Email::parse(v))),
        role: body
            .role
            .as_deref()
            .and_then(|v| fields.check("role", v.parse::<Role>())),
        password: body
            .password
            .as_deref()
            .and_then(|v| fields.check("password", Password::parse(v))),
    };
    fields.finish()?;
    let user = users::update(&state, &caller, Id::from_uuid(*id), patch).await?;
    Ok(HttpResponse::Ok().json(UserView::from(user)))
}

/// Remove a user. Their tokens stop working at once.
///
/// Permission: `ManageUsers`. Only an owner may remove an owner, and the last owner stays.
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The user's id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, description = "The caller's role may not remove this user", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The user is the account's last owner", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/{id}")]
pub async fn delete_user(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, Problem> {
    users::delete(&state, &caller, Id::from_uuid(*id)).await?;
    Ok(HttpResponse::NoContent().finish())
}
