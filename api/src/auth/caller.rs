use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, FromRequest, HttpRequest};

use fieldcrm_db::accounts::Account;
use fieldcrm_db::api_keys::{self, ApiKey};
use fieldcrm_db::refresh_tokens::Session;
use fieldcrm_db::users::{self, User};
use fieldcrm_db::{Id, Ts};
use fieldcrm_domain::{Action, ApiKeyScope, CountryCode, Role};

use super::tokens::{secret_hash, TokenError, API_KEY_PREFIX};
use crate::problem::Problem;
use crate::state::AppState;

/// The authenticated caller of a request and its account.
#[derive(Debug, Clone)]
pub struct Caller {
    pub account_id: Id<Account>,
    /// The account's: phone numbers given without a country code are read as
    /// numbers of this country.
    pub default_country: CountryCode,
    pub principal: Principal,
}

#[derive(Debug, Clone)]
pub enum Principal {
    User {
        id: Id<User>,
        role: Role,
        session: Id<Session>,
    },
    ApiKey {
        id: Id<ApiKey>,
        scope: ApiKeyScope,
    },
}

impl Caller {
    /// 403 unless the caller's role (or key scope) allows the action.
    pub fn require(&self, action: Action) -> Result<(), Problem> {
        let allowed = match &self.principal {
            Principal::User { role, .. } => action.allows_role(*role),
            Principal::ApiKey { scope, .. } => action.allows_key(*scope),
        };
        if allowed {
            Ok(())
        } else {
            Err(Problem::forbidden(format!(
                "your {} may not do this. {}",
                match &self.principal {
                    Principal::User { role, .. } => format!("role ({role})"),
                    Principal::ApiKey { scope, .. } =>
                        format!("API key ({} scope)", scope.as_str()),
                },
                action.describe()
            )))
        }
    }

    /// Who did something, for histories and the audit trail: `user:<id>` or
    /// `api_key:<id>`.
    pub fn actor(&self) -> String {
        match &self.principal {
            Principal::User { id, .. } => format!("user:{id}"),
            Principal::ApiKey { id, .. } => format!("api_key:{id}"),
        }
    }

    pub fn user(&self) -> Option<(Id<User>, Role)> {
        match self.principal {
            Principal::User { id, role, .. } => Some((id, role)),
            Principal::ApiKey { .. } => None,
        }
    }
}

/// How often an API key's `last_used_at` is written at most.
const KEY_USE_RESOLUTION_SECS: i64 = 60;

impl FromRequest for Caller {
    type Error = Problem;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Problem>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer_token(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| Problem::internal_from(&"AppState missing"))?;
            let token = token?;
            if token.starts_with(fieldcrm_trackers::token::DEVICE_TOKEN_PREFIX) {
                return Err(invalid_token(
                    "a device token only sends positions, to /v1/ingest/...",
                ));
            }
            if token.starts_with(API_KEY_PREFIX) {
                authenticate_key(&state, &token).await
            } else {
                authenticate_user(&state, &token).await
            }
        })
    }
}

fn bearer_token(req: &HttpRequest) -> Result<String, Problem> {
    let value = req.headers().get(header::AUTHORIZATION).ok_or_else(|| {
        Problem::unauthorized().with_detail("send `Authorization: Bearer <token>`")
    })?;
    let value = value.to_str().unwrap_or_default();
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim().to_owned())
        }
        _ => Err(Problem::unauthorized()
            .with_detail("the Authorization header must be `Bearer <token>`")),
    }
}

fn invalid_token(detail: &str) -> Problem {
    Problem::unauthorized()
        .with_detail(detail.to_owned())
        .with_header(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer error=\"invalid_token\""),
        )
}

async fn authenticate_user(state: &AppState, token: &str) -> Result<Caller, Problem> {
    let claims = state.tokens.verify_access(token).map_err(|err| match err {
        TokenError::Expired => invalid_token("the access token has expired; refresh it"),
        TokenError::Invalid => invalid_token("the access token is not valid"),
    })?;
    let account_id = Id::<Account>::from_uuid(claims.acc);
    let user_id = Id::<User>::from_uuid(claims.sub);
    let session = Id::<Session>::from_uuid(claims.sid);
    let current = match state.sessions.get(account_id, user_id, session) {
        Some(kept) => Some(kept),
        None => {
            let ticket = state.sessions.ticket();
            let read = state
                .db(move |conn| Ok(users::session(conn, account_id, user_id, session)?))
                .await?;
            // An ended session (signed out, or its refresh token reused) is
            // as good as no user: its tokens end with it.
            let live = read.and_then(|(facts, ended)| (!ended).then_some(facts));
            if let (Some(ticket), Some(live)) = (ticket, &live) {
                state
                    .sessions
                    .keep(ticket, account_id, user_id, session, live.clone());
            }
            live
        }
    };
    // A deleted user or account, an ended session, or a raised token version
    // ends the token now.
    let Some(current) = current.filter(|current| current.token_version == claims.ver) else {
        return Err(invalid_token(
            "the access token is no longer valid; sign in again",
        ));
    };
    let role = current
        .role
        .parse::<Role>()
        .map_err(|err| Problem::internal_from(&err))?;
    Ok(Caller {
        account_id,
        default_country: country(&current.default_country)?,
        principal: Principal::User {
            id: user_id,
            role,
            session,
        },
    })
}

async fn authenticate_key(state: &AppState, secret: &str) -> Result<Caller, Problem> {
    let hash = secret_hash(secret);
    let key = state
        .db(move |conn| {
            let found = api_keys::find_by_hash(conn, &hash)?;
            if let Some((key, _)) = &found {
                let now = Ts::now();
                let stale =
                    Ts::from(now.get() - chrono::Duration::seconds(KEY_USE_RESOLUTION_SECS));
                // Checked here first: even an UPDATE that matches nothing takes
                // SQLite's write lock, and most requests need no write.
                if key.last_used_at.is_none_or(|at| at < stale) {
                    api_keys::touch(conn, key.id, now, stale)?;
                }
            }
            Ok(found)
        })
        .await?
        .ok_or_else(|| invalid_token("the API key is not valid or was revoked"))?;
    let (key, default_country) = key;
    let scope = key
        .scope
        .parse::<ApiKeyScope>()
        .map_err(|err| Problem::internal_from(&err))?;
    Ok(Caller {
        account_id: key.account_id,
        default_country: country(&default_country)?,
        principal: Principal::ApiKey { id: key.id, scope },
    })
}

fn country(stored: &str) -> Result<CountryCode, Problem> {
    CountryCode::parse(stored).map_err(|err| Problem::internal_from(&err))
}
