use actix_web::{post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use fieldcrm_domain::{AccountName, CountryCode, Email, Password, PersonName, TimeZoneName};

use crate::auth::{client_address, Caller};
use crate::extract::Json;
use crate::problem::{Fields, Problem};
use crate::views::{AccountView, UserView};
use fieldcrm_app::accounts::auth::{self, Signup};
use fieldcrm_app::state::AppState;

/// A new access and refresh token.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenPair {
    /// Send as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// Exchange at `POST /v1/auth/refresh` for a new pair; works once.
    pub refresh_token: String,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    #[schema(example = 900)]
    pub expires_in: u64,
}

impl From<fieldcrm_app::auth::tokens::TokenPair> for TokenPair {
    fn from(pair: fieldcrm_app::auth::tokens::TokenPair) -> Self {
        Self {
            access_token: pair.access_token,
            refresh_token: pair.refresh_token,
            token_type: "Bearer",
            expires_in: pair.expires_in,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    /// The business's name.
    #[schema(example = "Acme Plumbing")]
    pub account_name: String,
    /// The owner's name.
    #[schema(example = "Dana Reyes")]
    pub name: String,
    #[schema(example = "dana@acme-plumbing.example")]
    pub email: String,
    /// 12 to 128 characters.
    #[schema(min_length = 12, max_length = 128)]
    pub password: String,
    /// IANA time zone of the business (default `UTC`).
    #[schema(example = "America/Chicago")]
    pub time_zone: Option<String>,
    /// Country for phone numbers without a country code (default `US`).
    #[schema(example = "US")]
    pub default_country: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SignupResponse {
    pub account: AccountView,
    pub user: UserView,
    #[serde(flatten)]
    pub tokens: TokenPair,
}

/// Create an account and its owner, and sign the owner in.
///
/// Public. The email address must not belong to any user yet (409 otherwise).
/// Signups per client address are limited (`FIELDCRM_SIGNUPS_PER_IP` an hour),
/// and so is password hashing at once: 429 with `Retry-After` beyond either.
#[utoipa::path(
    tag = "auth",
    request_body(content = SignupRequest, example = json!({
        "account_name": "Acme Plumbing",
        "name": "Dana Reyes",
        "email": "dana@acme-plumbing.example",
        "password": "correct horse battery staple",
        "time_zone": "America/Chicago",
        "default_country": "US"
    })),
    responses(
        (status = 201, description = "The account, its owner and a token pair", body = SignupResponse),
        (status = 409, description = "A user with this email address exists", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many signups from this address (`rate_limited`), or too many passwords being hashed at once (`busy`); see `Retry-After`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/auth/signup")]
pub async fn signup(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<SignupRequest>,
) -> Result<HttpResponse, Problem> {
    let signup = parse_signup(&body.0)?;
    let signed_up = auth::signup(&state, signup, client_address(&req, &state.settings)).await?;
    Ok(HttpResponse::Created().json(SignupResponse {
        account: signed_up.account.into(),
        user: signed_up.user.into(),
        tokens: signed_up.tokens.into(),
    }))
}

/// A signup's fields as domain values, with every field's message at once;
/// the web's sign-up page sends the same fields.
pub fn parse_signup(body: &SignupRequest) -> Result<Signup, Problem> {
    let mut fields = Fields::default();
    let account_name = fields.check("account_name", AccountName::parse(&body.account_name));
    let name = fields.check("name", PersonName::parse(&body.name));
    let email = fields.check("email", Email::parse(&body.email));
    let password = fields.check("password", Password::parse(&body.password));
    let time_zone = fields.check(
        "time_zone",
        body.time_zone
            .as_deref()
            .map_or(Ok(TimeZoneName::default()), TimeZoneName::parse),
    );
    let default_country = fields.check(
        "default_country",
        CountryCode::parse(body.default_country.as_deref().unwrap_or("US")),
    );
    fields.finish()?;
    let (
        Some(account_name),
        Some(name),
        Some(email),
        Some(password),
        Some(time_zone),
        Some(default_country),
    ) = (
        account_name,
        name,
        email,
        password,
        time_zone,
        default_country,
    )
    else {
        return Err(Problem::internal());
    };
    Ok(Signup {
        account_name,
        time_zone,
        default_country,
        name,
        email,
        password,
    })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

/// Sign in with email and password.
///
/// Public. A wrong email and a wrong password get the same 401. After too many
/// failures for one email address from one client address, or from one client
/// address in all, within the window (`FIELDCRM_LOGIN_FAILURES_PER_EMAIL`,
/// `..._PER_IP`), 429 with `Retry-After`; also while too many passwords are
/// being checked at once (`busy`).
#[utoipa::path(
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "A token pair", body = TokenPair),
        (status = 401, description = "Wrong email or password", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed sign-ins (`rate_limited`), or too many passwords being checked at once (`busy`); see `Retry-After`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/auth/login")]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<LoginRequest>,
) -> Result<HttpResponse, Problem> {
    let client = client_address(&req, &state.settings);
    let LoginRequest { email, password } = body.0;
    let pair = auth::login(&state, &email, password, client).await?;
    Ok(HttpResponse::Ok().json(TokenPair::from(pair)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Exchange a refresh token for a new token pair.
///
/// Public (the refresh token is the credential). Each refresh token works once;
/// presenting a spent one again ends the whole session (401).
#[utoipa::path(
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new token pair; the old refresh token no longer works", body = TokenPair),
        (status = 401, description = "The refresh token is unknown, spent, revoked or expired", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/auth/refresh")]
pub async fn refresh(
    state: web::Data<AppState>,
    body: Json<RefreshRequest>,
) -> Result<HttpResponse, Problem> {
    let pair = auth::refresh(&state, body.0.refresh_token).await?;
    Ok(HttpResponse::Ok().json(TokenPair::from(pair)))
}

/// End the caller's session: its refresh tokens and access tokens stop working
/// at once. The user's other sessions go on.
///
/// Roles: any signed-in user. API keys: not accepted (403).
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Signed out"),
        (status = 403, description = "Called with an API key", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/auth/logout")]
pub async fn logout(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, Problem> {
    auth::logout(&state, &caller).await?;
    Ok(HttpResponse::NoContent().finish())
}
