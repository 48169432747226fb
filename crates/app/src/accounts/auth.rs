//! Signup, login with throttling, refresh-token rotation with reuse detection,
//! logout.

use chrono::{DateTime, Utc};

use fieldcrm_db::accounts::{self, Account};
use fieldcrm_db::api_keys;
use fieldcrm_db::refresh_tokens::{self, RefreshToken, Session};
use fieldcrm_db::users::{self, User};
use fieldcrm_db::{login_failures, DbConnection, Id, Stored, Ts};
use fieldcrm_domain::{AccountName, CountryCode, Email, Password, PersonName, Role, TimeZoneName};

use crate::auth::passwords;
use crate::auth::tokens::{
    new_secret, secret_hash, Claims, TokenError, TokenPair, Tokens, API_KEY_PREFIX, AUDIENCE,
    BROWSER_AUDIENCE, ISSUER, REFRESH_PREFIX,
};
use crate::caller::{Caller, Principal};
use crate::error::{AppError, AppResult, Failure};
use crate::state::AppState;

pub struct Signup {
    pub account_name: AccountName,
    pub time_zone: TimeZoneName,
    pub default_country: CountryCode,
    pub name: PersonName,
    pub email: Email,
    pub password: Password,
}

pub struct SignedUp {
    pub account: Account,
    pub user: User,
    pub tokens: TokenPair,
}

pub fn email_conflict() -> AppError {
    AppError::conflict("a user with this email address already exists")
}

pub fn email_taken(err: fieldcrm_db::DbError) -> AppError {
    if users::is_email_taken(&err) {
        email_conflict()
    } else {
        err.into()
    }
}

/// Signups per client address are counted in windows of this length.
const SIGNUP_WINDOW_SECS: i64 = 3600;

/// Creates an account and its owner in one transaction and signs the owner in.
/// Signups are limited per client address (429); the email address is checked
/// before the password is hashed, so a taken one costs no hashing.
pub async fn signup(
    state: &AppState,
    input: Signup,
    client: Option<String>,
) -> Result<SignedUp, AppError> {
    let (account, user, tokens) =
        create_account(state, input, client, |conn, tokens, user, now| {
            issue(conn, tokens, user, Id::new(), now)
        })
        .await?;
    Ok(SignedUp {
        account,
        user,
        tokens,
    })
}

/// [`signup`] from the web pages: the owner is signed in with a browser
/// session (see [`start_browser_session`]) instead of a token pair.
pub async fn signup_in_browser(
    state: &AppState,
    input: Signup,
    client: Option<String>,
) -> Result<BrowserSession, AppError> {
    let (_, _, session) = create_account(state, input, client, browser_session).await?;
    Ok(session)
}

/// The account and its owner, and what `sign_in` hands the owner, in one
/// transaction.
async fn create_account<T: Send + 'static>(
    state: &AppState,
    input: Signup,
    client: Option<String>,
    sign_in: fn(&mut DbConnection, &Tokens, &User, Ts) -> Result<T, AppError>,
) -> Result<(Account, User, T), AppError> {
    if let Some(client) = client {
        let key = state.tokens.throttle_key("signup-ip", &client);
        let limit = state.settings.signups_per_ip;
        count_within(state, key, SIGNUP_WINDOW_SECS, limit, "Too many signups").await?;
    }
    let email = input.email.as_str().to_owned();
    let taken = state
        .db(move |conn| Ok(users::find_by_email(conn, &email)?.is_some()))
        .await?;
    if taken {
        return Err(email_conflict());
    }
    let password_hash = super::hash_password(state, input.password).await?;
    let tokens = state.tokens.clone();
    state
        .db(move |conn| {
            conn.write_transaction(|conn| {
                let now = Ts::now();
                let account = Account {
                    id: Id::new(),
                    name: input.account_name.as_str().to_owned(),
                    time_zone: Stored(input.time_zone),
                    default_country: Stored(input.default_country),
                    created_at: now,
                    updated_at: now,
                    ping_accuracy_limit_m: Account::DEFAULT_PING_ACCURACY_LIMIT_M,
                    max_shift_hours: Account::DEFAULT_MAX_SHIFT_HOURS,
                    ping_retention_days: Account::DEFAULT_PING_RETENTION_DAYS,
                    default_reminders: Account::DEFAULT_REMINDERS.to_owned(),
                    arrival_radius_m: Account::DEFAULT_ARRIVAL_RADIUS_M,
                    quiet_hours_start: Account::DEFAULT_QUIET_HOURS_START.into(),
                    quiet_hours_end: Account::DEFAULT_QUIET_HOURS_END.into(),
                    message_templates: "{}".into(),
                    postal_address: None,
                    message_body_retention_days: Account::DEFAULT_MESSAGE_BODY_RETENTION_DAYS,
                };
                accounts::insert(conn, &account)?;
                let user = User {
                    id: Id::new(),
                    account_id: account.id,
                    name: input.name.into_inner(),
                    email: input.email.into_inner(),
                    password_hash: Some(password_hash),
                    role: Stored(Role::Owner),
                    token_version: 0,
                    created_at: now,
                    updated_at: now,
                };
                users::insert(conn, &user).map_err(email_taken)?;
                let signed_in = sign_in(conn, &tokens, &user, now)?;
                Ok((account, user, signed_in))
            })
        })
        .await
}

/// Signs a person in. Wrong email and wrong password get the same answer after
/// the same work; too many attempts for one email address from one client
/// address, or from one client address in all, get 429 (see
/// [`check_password`]).
pub async fn login(
    state: &AppState,
    email: &str,
    password: String,
    client: Option<String>,
) -> Result<TokenPair, AppError> {
    let user = credentials(state, email, password, client).await?;
    let tokens = state.tokens.clone();
    state
        .db(move |conn| {
            conn.write_transaction(|conn| issue(conn, &tokens, &user, Id::new(), Ts::now()))
        })
        .await
}

/// A browser's sign-in: a session of the refresh chain like [`login`]'s, under
/// the same limits, whose proof is one token the browser keeps in a cookie.
pub struct BrowserSession {
    /// Signed, of the browser audience; shown again at every request.
    pub token: String,
    pub session: Id<Session>,
    /// How long the token is good for, unless the session ends first: the
    /// idle timeout, renewed while the person uses the pages.
    pub lasts: std::time::Duration,
}

/// Signs a person in from the web pages. The session is a refresh chain of
/// its own, so signing out, a new password and the removal of the user or the
/// account end it exactly as they end an API session. Its refresh token is
/// never handed out: the browser's token lasts as long as one would.
pub async fn start_browser_session(
    state: &AppState,
    email: &str,
    password: String,
    client: Option<String>,
) -> Result<BrowserSession, AppError> {
    let user = credentials(state, email, password, client).await?;
    let tokens = state.tokens.clone();
    state
        .db(move |conn| {
            conn.write_transaction(|conn| browser_session(conn, &tokens, &user, Ts::now()))
        })
        .await
}

/// A new refresh chain for `user` in a browser, and the token the browser keeps.
fn browser_session(
    conn: &mut DbConnection,
    tokens: &Tokens,
    user: &User,
    now: Ts,
) -> Result<BrowserSession, AppError> {
    let session = Id::new();
    chain_link(conn, tokens, user, session, now)?;
    let issued_at = now.get().timestamp();
    let claims = Claims {
        exp: tokens.browser_expiry(issued_at, issued_at),
        auth_time: Some(issued_at),
        ..claims(user, session, BROWSER_AUDIENCE, now, tokens.browser_idle)
    };
    browser_token(tokens, &claims, session)
}

/// The browser's token for `claims`, and how long its cookie is kept.
fn browser_token(
    tokens: &Tokens,
    claims: &Claims,
    session: Id<Session>,
) -> Result<BrowserSession, AppError> {
    let token = tokens
        .issue_access(claims)
        .map_err(|err| AppError::internal_from(&err))?;
    let lasts = u64::try_from(claims.exp - claims.iat).unwrap_or(0);
    Ok(BrowserSession {
        token,
        session,
        lasts: std::time::Duration::from_secs(lasts),
    })
}

/// The user whose email and password these are, checked under the sign-in limits.
async fn credentials(
    state: &AppState,
    email: &str,
    password: String,
    client: Option<String>,
) -> Result<User, AppError> {
    let email = email.trim().to_lowercase();
    let user = {
        let email = email.clone();
        state
            .db(move |conn| Ok(users::find_by_email(conn, &email)?))
            .await?
    };
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    // The password is kept past the check only when its hash is to be renewed.
    let renewal = stored
        .as_deref()
        .is_some_and(passwords::is_outdated)
        .then(|| password.clone());
    let matches = check_password(state, &email, client.as_deref(), stored, password).await?;
    match user {
        Some(user) if matches => {
            if let Some(password) = renewal {
                renew_outdated_hash(state, &user, password).await;
            }
            Ok(user)
        }
        _ => Err(AppError::unauthorized().with_detail("the email address or password is wrong")),
    }
}

/// After a right password: a hash made with earlier parameters is replaced by
/// one made now, the one moment the password is at hand. A failure leaves the
/// old hash, which still works, and does not fail the sign-in.
async fn renew_outdated_hash(state: &AppState, user: &User, password: String) {
    let Some(old) = user.password_hash.clone() else {
        return;
    };
    // One set under other length rules keeps its hash.
    let Ok(password) = Password::parse(&password) else {
        return;
    };
    let id = user.id;
    let renewed = match super::hash_password(state, password).await {
        Ok(new) => {
            state
                .db(move |conn| Ok(users::renew_password_hash(conn, id, &old, &new)?))
                .await
        }
        Err(err) => Err(err),
    };
    if let Err(err) = renewed {
        tracing::warn!(error = %err, "an outdated password hash was not renewed");
    }
}

/// Checks a password given for `email` (a sign-in, or a signed-in owner
/// confirming a deletion) under the sign-in limits. The attempt is counted
/// before the password is checked, in one statement per key, so attempts made
/// at the same moment cannot all slip under the limit; past it the answer is
/// 429 and the password is not checked. Attempts are counted per pair of email
/// and client address (`login_failures_per_email`), so someone else's wrong
/// guesses do not lock the owner of the address out of their own, and per
/// client address (`login_failures_per_ip`). A right password takes its
/// attempt back and clears the pair's count.
pub async fn check_password(
    state: &AppState,
    email: &str,
    client: Option<&str>,
    stored: Option<String>,
    candidate: String,
) -> Result<bool, AppError> {
    let settings = state.settings.clone();
    let now = Ts::now().get();
    let window = settings.login_failure_window_secs as i64;
    let window_start = window_start(now, window);
    let email = email.trim().to_lowercase();
    let pair_key = match client {
        Some(addr) => state
            .tokens
            .throttle_key("email-client", &format!("{email}\n{addr}")),
        // Without an address, the email address alone.
        None => state.tokens.throttle_key("email", &email),
    };
    let client_key = client.map(|addr| state.tokens.throttle_key("ip", addr));

    let blocked = {
        let (pair_key, client_key) = (pair_key.clone(), client_key.clone());
        state
            .db(move |conn| {
                let by_pair = login_failures::hit(conn, &pair_key, window_start)?;
                let by_client = match &client_key {
                    Some(key) => login_failures::hit(conn, key, window_start)?,
                    None => 0,
                };
                Ok(by_pair > settings.login_failures_per_email as i32
                    || by_client > settings.login_failures_per_ip as i32)
            })
            .await?
    };
    if blocked {
        return Err(rate_limited(
            "Too many failed sign-ins",
            retry_after(window_start, window, now),
        ));
    }

    let checked = super::verify_password(state, stored, candidate).await;
    let matches = *checked.as_ref().unwrap_or(&false);
    state
        .db(move |conn| {
            if checked.is_err() {
                // Not checked (too busy): the attempt does not count.
                login_failures::forgive(conn, &pair_key, window_start)?;
                if let Some(key) = &client_key {
                    login_failures::forgive(conn, key, window_start)?;
                }
                return checked.map(|_| ());
            }
            if matches {
                login_failures::clear(conn, &pair_key)?;
                if let Some(key) = &client_key {
                    login_failures::forgive(conn, key, window_start)?;
                }
            } else {
                let expired = Ts::from(window_start.get() - chrono::Duration::seconds(window));
                login_failures::prune(conn, expired)?;
            }
            Ok(())
        })
        .await?;
    Ok(matches)
}

/// Counts one use of `key` in a fixed window of `window_secs` and answers 429
/// once more than `limit` were counted in it.
pub(crate) async fn count_within(
    state: &AppState,
    key: Vec<u8>,
    window_secs: i64,
    limit: u32,
    title: &'static str,
) -> Result<(), AppError> {
    let now = Ts::now().get();
    let start = window_start(now, window_secs);
    let count = state
        .db(move |conn| Ok(login_failures::hit(conn, &key, start)?))
        .await?;
    if count > limit as i32 {
        return Err(rate_limited(title, retry_after(start, window_secs, now)));
    }
    Ok(())
}

/// How many uses of `key` were counted in the current window of `window_secs`,
/// and the seconds until that window ends.
pub(crate) fn counted_now(
    conn: &mut DbConnection,
    key: &[u8],
    window_secs: i64,
) -> Result<(i32, i64), AppError> {
    let now = Ts::now().get();
    let start = window_start(now, window_secs);
    Ok((
        login_failures::count(conn, key, start)?,
        retry_after(start, window_secs, now),
    ))
}

/// Counts one use of `key` in the current window of `window_secs`.
pub(crate) fn count_now(
    conn: &mut DbConnection,
    key: &[u8],
    window_secs: i64,
) -> Result<(), AppError> {
    let start = window_start(Ts::now().get(), window_secs);
    login_failures::hit(conn, key, start)?;
    Ok(())
}

fn retry_after(window_start: Ts, window_secs: i64, now: DateTime<Utc>) -> i64 {
    (window_start.get().timestamp() + window_secs - now.timestamp()).max(1)
}

pub(crate) fn rate_limited(title: &'static str, retry_after: i64) -> AppError {
    AppError::rate_limited(
        title,
        u64::try_from(retry_after).unwrap_or(1),
        format!(
            "{}; try again in {retry_after} seconds",
            title.to_lowercase()
        ),
    )
}

enum Refreshed {
    Issued(TokenPair),
    Refused(&'static str),
    /// A spent token came back: the session of this user was ended.
    Ended(Id<User>),
}

/// Exchanges a refresh token for a new pair. Each token works once; showing a
/// spent one again revokes the whole session, since one of its holders stole it.
pub async fn refresh(state: &AppState, token: String) -> Result<TokenPair, AppError> {
    let tokens = state.tokens.clone();
    let hash = secret_hash(&token);
    let outcome = state
        .db(move |conn| {
            conn.write_transaction(|conn| {
                let now = Ts::now();
                let Some(row) = refresh_tokens::find_by_hash(conn, &hash)? else {
                    return Ok(Refreshed::Refused("the refresh token is not valid"));
                };
                if row.revoked_at.is_some() {
                    return Ok(Refreshed::Refused("the session was ended; sign in again"));
                }
                if row.spent_at.is_some() || !refresh_tokens::spend(conn, row.id, now)? {
                    // Committed with the transaction: the revocation must stick.
                    refresh_tokens::revoke_session(conn, row.user_id, row.family_id, now)?;
                    tracing::warn!(user = %row.user_id, "refresh token reused; session revoked");
                    return Ok(Refreshed::Ended(row.user_id));
                }
                if row.expires_at < now {
                    return Ok(Refreshed::Refused(
                        "the refresh token has expired; sign in again",
                    ));
                }
                let Some(user) = users::find(conn, row.account_id, row.user_id)? else {
                    return Ok(Refreshed::Refused("the refresh token is not valid"));
                };
                Ok(Refreshed::Issued(issue(
                    conn,
                    &tokens,
                    &user,
                    row.family_id,
                    now,
                )?))
            })
        })
        .await?;
    match outcome {
        Refreshed::Issued(pair) => Ok(pair),
        Refreshed::Refused(why) => Err(AppError::unauthorized().with_detail(why)),
        Refreshed::Ended(user) => {
            // Its access tokens end with it, from this process's next request on.
            state.sessions.forget_user(user);
            Err(AppError::unauthorized().with_detail(
                "the refresh token was already used; the session was ended for safety",
            ))
        }
    }
}

/// Ends the caller's session: its refresh and access tokens stop working.
pub async fn logout(state: &AppState, caller: &Caller) -> Result<(), AppError> {
    let Principal::User { id, session, .. } = caller.principal else {
        return Err(AppError::forbidden(
            "API keys have no session to end; revoke the key instead",
        ));
    };
    let ended = state
        .db(move |conn| {
            refresh_tokens::revoke_session(conn, id, session, Ts::now())?;
            Ok(())
        })
        .await;
    // The session's access tokens end from this process's next request on.
    state.sessions.forget_user(id);
    ended
}

/// A new access token and the next refresh token of `session`.
fn issue(
    conn: &mut DbConnection,
    tokens: &Tokens,
    user: &User,
    session: Id<Session>,
    now: Ts,
) -> Result<TokenPair, AppError> {
    let refresh_token = chain_link(conn, tokens, user, session, now)?;
    let ttl = tokens.access_ttl;
    let access_token = tokens
        .issue_access(&claims(user, session, AUDIENCE, now, ttl))
        .map_err(|err| AppError::internal_from(&err))?;
    Ok(TokenPair {
        access_token,
        refresh_token,
        expires_in: ttl.as_secs(),
    })
}

/// Stores the next refresh token of `session` and returns its secret.
fn chain_link(
    conn: &mut DbConnection,
    tokens: &Tokens,
    user: &User,
    session: Id<Session>,
    now: Ts,
) -> Result<String, AppError> {
    let refresh_token = new_secret(REFRESH_PREFIX);
    refresh_tokens::insert(
        conn,
        &RefreshToken {
            id: Id::new(),
            account_id: user.account_id,
            user_id: user.id,
            family_id: session,
            token_hash: secret_hash(&refresh_token),
            created_at: now,
            expires_at: Ts::from(now.get() + tokens.refresh_ttl),
            spent_at: None,
            revoked_at: None,
        },
    )?;
    Ok(refresh_token)
}

fn claims(
    user: &User,
    session: Id<Session>,
    audience: &str,
    now: Ts,
    ttl: std::time::Duration,
) -> Claims {
    let issued_at = now.get().timestamp();
    Claims {
        iss: ISSUER.into(),
        aud: audience.into(),
        sub: user.id.uuid(),
        acc: user.account_id.uuid(),
        role: user.role.as_str().to_owned(),
        sid: session.uuid(),
        ver: user.token_version,
        iat: issued_at,
        exp: issued_at + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2),
        auth_time: None,
    }
}

fn window_start(now: DateTime<Utc>, window_secs: i64) -> Ts {
    let start = now.timestamp() - now.timestamp().rem_euclid(window_secs);
    Ts::from(DateTime::from_timestamp(start, 0).unwrap_or(now))
}

/// The caller a bearer token names: a person's access token or an API key. A
/// device token only sends positions.
pub async fn authenticate(state: &AppState, token: &str) -> AppResult<Caller> {
    if token.starts_with(fieldcrm_trackers::token::DEVICE_TOKEN_PREFIX) {
        return Err(invalid_token(
            "a device token only sends positions, to /v1/ingest/...",
        ));
    }
    if token.starts_with(API_KEY_PREFIX) {
        authenticate_key(state, token).await
    } else {
        authenticate_user(state, token).await
    }
}

/// 401 for a token that is not (or no longer) valid.
fn invalid_token(detail: &str) -> AppError {
    AppError::new(Failure::InvalidToken).with_detail(detail)
}

/// How often an API key's `last_used_at` is written at most.
const KEY_USE_RESOLUTION_SECS: i64 = 60;

pub async fn authenticate_user(state: &AppState, token: &str) -> AppResult<Caller> {
    let claims = state.tokens.verify_access(token).map_err(|err| match err {
        TokenError::Expired => invalid_token("the access token has expired; refresh it"),
        TokenError::Invalid => invalid_token("the access token is not valid"),
    })?;
    live_session(state, &claims).await
}

/// The person a browser's session token names, checked as an access token
/// is; with the token issued again when it is due (see
/// `Tokens::renewed_browser`), for the browser to keep instead.
pub async fn authenticate_browser(
    state: &AppState,
    token: &str,
) -> AppResult<(Caller, Option<BrowserSession>)> {
    let claims = state
        .tokens
        .verify_browser(token)
        .map_err(|_| invalid_token("the session is not valid; sign in again"))?;
    let caller = live_session(state, &claims).await?;
    let renewed = state
        .tokens
        .renewed_browser(&claims, Utc::now().timestamp())
        .map(|claims| browser_token(&state.tokens, &claims, Id::from_uuid(claims.sid)))
        .transpose()?;
    Ok((caller, renewed))
}

/// The caller of verified claims, if their user, account and session still
/// stand as the claims say.
async fn live_session(state: &AppState, claims: &Claims) -> AppResult<Caller> {
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
    let role = *current.role;
    Ok(Caller {
        account_id,
        default_country: *current.default_country,
        principal: Principal::User {
            id: user_id,
            role,
            session,
        },
    })
}

pub async fn authenticate_key(state: &AppState, secret: &str) -> AppResult<Caller> {
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
    Ok(Caller {
        account_id: key.account_id,
        default_country: *default_country,
        principal: Principal::ApiKey {
            id: key.id,
            scope: *key.scope,
        },
    })
}
