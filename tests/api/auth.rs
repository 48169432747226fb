//! Signup, login, refresh rotation, logout and the ways a token can be bad.

use fieldcrm_test_support::{
    problem, skipped, spawn_app, spawn_app_with, wait_until, Backend, TestApp, PASSWORD,
};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{json, Value};

const SECRET: &str = "test-secret-that-is-long-enough-0123456789";

#[tokio::test]
async fn signup_creates_the_account_and_its_owner_and_signs_in() {
    let app = spawn_app().await;
    let response = app
        .post_json(
            "/v1/auth/signup",
            &json!({
                "account_name": "  Zoë's Cleaning 🧽 ",
                "name": "Zoë Ñandú",
                "email": "Zoe@Example.com",
                "password": PASSWORD,
                "time_zone": "Europe/Berlin",
                "default_country": "de",
            }),
        )
        .await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["account"]["name"], "Zoë's Cleaning 🧽");
    assert_eq!(body["account"]["time_zone"], "Europe/Berlin");
    assert_eq!(body["account"]["default_country"], "DE");
    assert_eq!(body["user"]["name"], "Zoë Ñandú");
    assert_eq!(body["user"]["email"], "zoe@example.com");
    assert_eq!(body["user"]["role"], "owner");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert!(!body.to_string().contains(PASSWORD));
    assert!(!body.to_string().contains("argon2"), "no hash in responses");

    let me: Value = app
        .authed(
            Method::GET,
            "/v1/me",
            body["access_token"].as_str().unwrap(),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["role"], "owner");
    assert_eq!(me["user"]["email"], "zoe@example.com");
    assert_eq!(me["account"]["id"], body["account"]["id"]);
}

#[tokio::test]
async fn signup_lists_every_invalid_field_and_creates_nothing() {
    let app = spawn_app().await;
    let response = app
        .post_json(
            "/v1/auth/signup",
            &json!({
                "account_name": "",
                "name": "Dana",
                "email": "not-an-email",
                "password": "short",
                "time_zone": "Mars/Olympus",
            }),
        )
        .await;
    assert_eq!(response.status(), 422);
    let body = problem(response).await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["account_name", "email", "password", "time_zone"]);
    // Nothing was written: the same email can sign up properly afterwards.
    let ok = app
        .post_json(
            "/v1/auth/signup",
            &json!({"account_name": "A", "name": "Dana", "email": "dana@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(ok.status(), 201);
}

#[tokio::test]
async fn an_email_belongs_to_one_user_whatever_its_case() {
    let app = spawn_app().await;
    let first = app.signup().await;
    let response = app
        .post_json(
            "/v1/auth/signup",
            &json!({"account_name": "B", "name": "B", "email": first.email.to_uppercase(), "password": PASSWORD}),
        )
        .await;
    assert_eq!(response.status(), 409);
    problem(response).await;
    // The failed signup left no account behind.
    let count: i64 = {
        use diesel::prelude::*;
        let mut conn = app.pool.get().unwrap();
        fieldcrm_db::schema::accounts::table
            .count()
            .get_result(&mut *conn)
            .unwrap()
    };
    assert_eq!(count, 1);
}

#[tokio::test]
async fn login_answers_alike_for_an_unknown_email_and_a_wrong_password() {
    let app = spawn_app().await;
    let owner = app.signup().await;

    let ok = app.login(&owner.email.to_uppercase(), PASSWORD).await;
    assert_eq!(ok.status(), 200);
    let tokens: Value = ok.json().await.unwrap();
    assert!(tokens["access_token"].as_str().is_some());
    assert!(tokens["refresh_token"]
        .as_str()
        .unwrap()
        .starts_with("fcrm_rt_"));

    let wrong_password = problem(app.login(&owner.email, "not the password at all").await).await;
    let unknown_email = problem(app.login("nobody@example.com", PASSWORD).await).await;
    assert_eq!(wrong_password["status"], 401);
    assert_eq!(wrong_password, unknown_email);
}

#[tokio::test]
async fn refresh_rotates_and_a_reused_token_ends_the_session() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let refresh = |token: String| {
        app.client
            .post(app.url("/v1/auth/refresh"))
            .json(&json!({"refresh_token": token}))
            .send()
    };

    let first = refresh(owner.refresh.clone()).await.unwrap();
    assert_eq!(first.status(), 200);
    let second: Value = first.json().await.unwrap();
    let next = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(next, owner.refresh);

    // The spent token again: refused, and the whole session with it.
    let reuse = refresh(owner.refresh.clone()).await.unwrap();
    assert_eq!(reuse.status(), 401);
    problem(reuse).await;
    assert_eq!(
        refresh(next).await.unwrap().status(),
        401,
        "the stolen chain is dead"
    );

    // Another session of the same user is untouched.
    let other: Value = app
        .login(&owner.email, PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let other_refresh = other["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(refresh(other_refresh).await.unwrap().status(), 200);

    assert_eq!(
        refresh("fcrm_rt_made-up".into()).await.unwrap().status(),
        401
    );
}

#[tokio::test]
async fn logout_ends_the_session() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let out = app
        .authed(Method::POST, "/v1/auth/logout", &owner.access)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    let refresh = app
        .post_json("/v1/auth/refresh", &json!({"refresh_token": owner.refresh}))
        .await;
    assert_eq!(refresh.status(), 401);
}

fn claims(owner: &fieldcrm_test_support::Signed, iss: &str, aud: &str, exp_offset: i64) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "iss": iss, "aud": aud, "sub": owner.user_id, "acc": owner.account_id,
        "role": "owner", "sid": uuid::Uuid::now_v7(), "ver": 0,
        "iat": now, "exp": now + exp_offset,
    })
}

#[tokio::test]
async fn bad_access_tokens_are_401() {
    let app = spawn_app_with(|s| s.jwt_secret = Some(SECRET.into())).await;
    let owner = app.signup().await;
    let key = EncodingKey::from_secret(SECRET.as_bytes());
    let sign = |alg: Algorithm, claims: &Value| encode(&Header::new(alg), claims, &key).unwrap();

    let good = sign(
        Algorithm::HS256,
        &claims(&owner, "fieldcrm", "fieldcrm-api", 600),
    );
    let ok = app
        .authed(Method::GET, "/v1/me", &good)
        .send()
        .await
        .unwrap();
    assert_eq!(
        ok.status(),
        200,
        "a token made with the configured key works"
    );

    let mut tampered = owner.access.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let none_alg = {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = b64.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = b64.encode(claims(&owner, "fieldcrm", "fieldcrm-api", 600).to_string());
        format!("{header}.{payload}.")
    };
    let cases = [
        (
            "expired",
            sign(
                Algorithm::HS256,
                &claims(&owner, "fieldcrm", "fieldcrm-api", -600),
            ),
        ),
        ("tampered", tampered),
        (
            "other algorithm",
            sign(
                Algorithm::HS512,
                &claims(&owner, "fieldcrm", "fieldcrm-api", 600),
            ),
        ),
        ("alg none", none_alg),
        (
            "wrong issuer",
            sign(
                Algorithm::HS256,
                &claims(&owner, "someone-else", "fieldcrm-api", 600),
            ),
        ),
        (
            "wrong audience",
            sign(
                Algorithm::HS256,
                &claims(&owner, "fieldcrm", "other-api", 600),
            ),
        ),
        (
            "other key",
            encode(
                &Header::default(),
                &claims(&owner, "fieldcrm", "fieldcrm-api", 600),
                &EncodingKey::from_secret(b"another-secret-another-secret-xx"),
            )
            .unwrap(),
        ),
        ("garbage", "not.a.jwt".to_owned()),
    ];
    for (what, token) in cases {
        let response = app
            .authed(Method::GET, "/v1/me", &token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{what}");
        assert!(
            response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer"),
            "{what}"
        );
        problem(response).await;
    }

    let missing = app.get("/v1/me").await;
    assert_eq!(missing.status(), 401);
    problem(missing).await;
    let basic = app
        .client
        .get(app.url("/v1/me"))
        .basic_auth("a", Some("b"))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 401);
}

#[tokio::test]
async fn removing_a_user_or_changing_their_password_ends_their_tokens_at_once() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let tech = app.user_with_role(&owner, "technician").await;
    let dispatcher = app.user_with_role(&owner, "dispatcher").await;
    let me = |token: String| app.authed(Method::GET, "/v1/me", &token).send();
    assert_eq!(me(tech.access.clone()).await.unwrap().status(), 200);

    let removed = app
        .authed(
            Method::DELETE,
            &format!("/v1/users/{}", tech.user_id),
            &owner.access,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 204);
    assert_eq!(me(tech.access.clone()).await.unwrap().status(), 401);
    assert_eq!(app.login(&tech.email, PASSWORD).await.status(), 401);

    let changed = app
        .authed(
            Method::PATCH,
            &format!("/v1/users/{}", dispatcher.user_id),
            &owner.access,
        )
        .json(&json!({"password": "a brand new passphrase"}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    assert_eq!(me(dispatcher.access.clone()).await.unwrap().status(), 401);
    let refresh = app
        .post_json(
            "/v1/auth/refresh",
            &json!({"refresh_token": dispatcher.refresh}),
        )
        .await;
    assert_eq!(refresh.status(), 401);
    assert_eq!(
        app.login(&dispatcher.email, "a brand new passphrase")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn repeated_failures_for_one_email_get_429_with_retry_after() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    for _ in 0..5 {
        assert_eq!(
            app.login(&owner.email, "wrong password, sorry")
                .await
                .status(),
            401
        );
    }
    let blocked = app.login(&owner.email, PASSWORD).await;
    assert_eq!(blocked.status(), 429, "even the right password waits");
    let retry_after: u64 = blocked.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    assert_eq!(problem(blocked).await["code"], "rate_limited");

    // Other people are not locked out.
    let other = app.signup().await;
    assert_eq!(app.login(&other.email, PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn repeated_failures_from_one_address_get_429_across_emails() {
    let app = spawn_app_with(|s| s.login_failures_per_ip = 3).await;
    let owner = app.signup().await;
    for n in 0..3 {
        let status = app
            .login(&format!("guess{n}@example.com"), "wrong password!!")
            .await
            .status();
        assert_eq!(status, 401);
    }
    assert_eq!(app.login(&owner.email, PASSWORD).await.status(), 429);
}

#[tokio::test]
async fn a_success_clears_the_email_failures() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    for _ in 0..4 {
        app.login(&owner.email, "wrong password, sorry").await;
    }
    assert_eq!(app.login(&owner.email, PASSWORD).await.status(), 200);
    for _ in 0..4 {
        assert_eq!(
            app.login(&owner.email, "wrong password, sorry")
                .await
                .status(),
            401
        );
    }
    assert_eq!(app.login(&owner.email, PASSWORD).await.status(), 200);
}

/// The account row goes, deleted by someone other than this server (another
/// process, an operator): every token and key of the account fails as soon as
/// the database's notification arrives (on SQLite, at once), and another
/// account is untouched. The deletion endpoint itself ends them at once
/// (`privacy.rs`).
#[tokio::test]
async fn when_an_account_is_gone_all_its_credentials_fail_within_moments() {
    use diesel::prelude::*;
    let app = spawn_app().await;
    let owner = app.signup().await;
    let tech = app.user_with_role(&owner, "technician").await;
    let (_, key) = app.api_key(&owner, "read").await;
    let other = app.signup().await;

    let id: fieldcrm_db::Id<fieldcrm_db::accounts::Account> =
        fieldcrm_db::Id::from_uuid(owner.account_id.parse().unwrap());
    let deleted = {
        let mut conn = app.pool.get().unwrap();
        diesel::delete(fieldcrm_db::schema::accounts::table.find(id))
            .execute(&mut *conn)
            .unwrap()
    };
    assert_eq!(deleted, 1);

    for token in [&owner.access, &tech.access, &key] {
        assert_eq!(status_within(&app, "/v1/me", token, 401).await, 401);
    }
    let refresh = app
        .post_json("/v1/auth/refresh", &json!({"refresh_token": owner.refresh}))
        .await;
    assert_eq!(refresh.status(), 401);
    assert_eq!(app.login(&owner.email, PASSWORD).await.status(), 401);
    let theirs = app
        .authed(Method::GET, "/v1/me", &other.access)
        .send()
        .await
        .unwrap();
    assert_eq!(theirs.status(), 200);
}

/// How long a change made outside this server may take to reach its requests:
/// the notification's poll interval is 10 ms; this leaves room for a slow machine.
const NOTIFICATION_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Asks `path` with the token until it answers `expected` or the grace has
/// passed; returns the last status.
async fn status_within(app: &TestApp, path: &str, token: &str, expected: u16) -> u16 {
    let deadline = std::time::Instant::now() + NOTIFICATION_GRACE;
    loop {
        let status = app
            .authed(Method::GET, path, token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        if status == expected || std::time::Instant::now() >= deadline {
            return status;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// `GET /v1/users`'s status, and whether the caller's session was one the
/// server had kept.
async fn users_from_kept_session(app: &TestApp, token: &str) -> (u16, bool) {
    let hits = app.state.sessions.hits();
    let status = app
        .authed(Method::GET, "/v1/users", token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    (status, app.state.sessions.hits() > hits)
}

fn set_role_in_database(app: &TestApp, user_id: &str, role: &str) {
    use diesel::prelude::*;
    use fieldcrm_db::schema::users;
    let id: fieldcrm_db::Id<fieldcrm_db::users::User> =
        fieldcrm_db::Id::from_uuid(user_id.parse().unwrap());
    let mut conn = app.pool.get().unwrap();
    let changed = diesel::update(users::table.find(id))
        .set(users::role.eq(role))
        .execute(&mut *conn)
        .unwrap();
    assert_eq!(changed, 1);
}

/// What a token may do follows the user's role as stored, even when someone
/// other than this server changes it; on PostgreSQL the server keeps the role
/// between requests, and the database's notification drops it.
#[tokio::test]
async fn a_role_changed_outside_the_server_holds_within_moments() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let admin = app.user_with_role(&owner, "admin").await;
    let users = |token: String| app.authed(Method::GET, "/v1/users", &token).send();
    assert_eq!(users(admin.access.clone()).await.unwrap().status(), 200);
    if app.backend() == Backend::Postgres {
        assert_eq!(
            users_from_kept_session(&app, &admin.access).await,
            (200, true),
            "the second request should be answered from the kept session"
        );
    }

    set_role_in_database(&app, &admin.user_id, "technician");
    assert_eq!(
        status_within(&app, "/v1/users", &admin.access, 403).await,
        403
    );
    // And back: the new role is kept in its turn, then dropped again.
    set_role_in_database(&app, &admin.user_id, "admin");
    assert_eq!(
        status_within(&app, "/v1/users", &admin.access, 200).await,
        200
    );
}

/// With the listener's connection gone, no notification can arrive: the
/// server must stop answering from what it kept, then listen again.
#[tokio::test]
async fn without_its_listener_the_server_reads_every_session_from_the_database() {
    use diesel::prelude::*;
    let app = spawn_app().await;
    if app.backend() != Backend::Postgres {
        return skipped("SQLite keeps nothing between requests");
    }
    let owner = app.signup().await;
    let admin = app.user_with_role(&owner, "admin").await;
    let users = |token: String| app.authed(Method::GET, "/v1/users", &token).send();
    assert_eq!(users(admin.access.clone()).await.unwrap().status(), 200);

    let ended = {
        let mut conn = app.pool.get().unwrap();
        diesel::sql_query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND application_name = 'fieldcrm-session-listener'",
        )
        .execute(&mut *conn)
        .unwrap()
    };
    assert_eq!(ended, 1, "one listener per server");
    assert!(
        wait_until(NOTIFICATION_GRACE, || !app.state.sessions.is_live()).await,
        "the server should notice that its listener is gone"
    );
    // No notification can tell it now: the role must be read from the database.
    set_role_in_database(&app, &admin.user_id, "technician");
    assert_eq!(users(admin.access.clone()).await.unwrap().status(), 403);

    assert!(
        wait_until(std::time::Duration::from_secs(10), || app
            .state
            .sessions
            .is_live())
        .await,
        "the server should listen again"
    );
    assert_eq!(users(admin.access.clone()).await.unwrap().status(), 403);
    assert_eq!(
        users_from_kept_session(&app, &admin.access).await,
        (403, true),
        "kept again once listening"
    );
    set_role_in_database(&app, &admin.user_id, "admin");
    assert_eq!(
        status_within(&app, "/v1/users", &admin.access, 200).await,
        200
    );
}

/// `FIELDCRM_SESSION_CACHE=false`: nothing is kept, so even a change made
/// outside the server holds from the very next request.
#[tokio::test]
async fn with_the_session_cache_off_every_request_reads_the_database() {
    let app = spawn_app_with(|settings| settings.session_cache = false).await;
    let owner = app.signup().await;
    let admin = app.user_with_role(&owner, "admin").await;
    let users = |token: String| app.authed(Method::GET, "/v1/users", &token).send();
    assert_eq!(users(admin.access.clone()).await.unwrap().status(), 200);
    assert_eq!(users(admin.access.clone()).await.unwrap().status(), 200);
    set_role_in_database(&app, &admin.user_id, "technician");
    assert_eq!(users(admin.access.clone()).await.unwrap().status(), 403);
    assert_eq!(app.state.sessions.hits(), 0);
}

/// Changes made through this server hold from its very next request, without
/// waiting for the database's notification: here the triggers that send it
/// are switched off, so only the server's own bookkeeping can drop what it kept.
#[tokio::test]
async fn changes_made_through_the_server_hold_at_its_next_request() {
    use diesel::connection::SimpleConnection;
    let app = spawn_app().await;
    if app.backend() == Backend::Postgres {
        app.pool
            .get()
            .unwrap()
            .batch_execute(
                "ALTER TABLE users DISABLE TRIGGER users_notify_session_change;
                 ALTER TABLE accounts DISABLE TRIGGER accounts_notify_session_change;
                 ALTER TABLE refresh_tokens DISABLE TRIGGER refresh_tokens_notify_session_ended;",
            )
            .unwrap();
    }
    let owner = app.signup().await;
    let admin = app.user_with_role(&owner, "admin").await;
    let dispatcher = app.user_with_role(&owner, "dispatcher").await;
    let tech = app.user_with_role(&owner, "technician").await;
    let get = |path: &'static str, token: String| app.authed(Method::GET, path, &token).send();
    for signed in [&owner, &admin, &dispatcher, &tech] {
        assert_eq!(
            get("/v1/me", signed.access.clone()).await.unwrap().status(),
            200
        );
    }
    let patch_user = |id: &str, body: Value| {
        app.authed(Method::PATCH, &format!("/v1/users/{id}"), &owner.access)
            .json(&body)
            .send()
    };

    let demoted = patch_user(&admin.user_id, json!({"role": "technician"}))
        .await
        .unwrap();
    assert_eq!(demoted.status(), 200);
    assert_eq!(
        get("/v1/users", admin.access.clone())
            .await
            .unwrap()
            .status(),
        403
    );

    let changed = patch_user(
        &dispatcher.user_id,
        json!({"password": "another long passphrase"}),
    )
    .await
    .unwrap();
    assert_eq!(changed.status(), 200);
    assert_eq!(
        get("/v1/me", dispatcher.access.clone())
            .await
            .unwrap()
            .status(),
        401
    );

    let removed = app
        .authed(
            Method::DELETE,
            &format!("/v1/users/{}", tech.user_id),
            &owner.access,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 204);
    assert_eq!(
        get("/v1/me", tech.access.clone()).await.unwrap().status(),
        401
    );

    // The account's country is how phone numbers without a country code are read.
    let customer = |token: String| {
        app.authed(Method::POST, "/v1/customers", &token)
            .json(&json!({"name": "Local Number", "phone": "020 7946 0018"}))
            .send()
    };
    let moved = app
        .authed(Method::PATCH, "/v1/account", &owner.access)
        .json(&json!({"default_country": "GB"}))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), 200);
    let created: Value = customer(owner.access.clone())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(created["phone"], "+442079460018");

    // Signing out ends the session's access token at the next request.
    let out = app
        .authed(Method::POST, "/v1/auth/logout", &owner.access)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    assert_eq!(
        get("/v1/me", owner.access.clone()).await.unwrap().status(),
        401
    );
}

/// A session ended by signing out, or by the reuse of a spent refresh token,
/// takes its access tokens with it at once, and leaves the user's other
/// sessions working. On PostgreSQL the first request is answered from the kept
/// session, so this also shows that ending a session drops it there.
#[tokio::test]
async fn ending_a_session_ends_its_access_tokens_at_once() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let me = |token: String| app.authed(Method::GET, "/v1/me", &token).send();
    let other: Value = app
        .login(&owner.email, PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let other = other["access_token"].as_str().unwrap().to_owned();
    for token in [&owner.access, &other] {
        assert_eq!(me(token.clone()).await.unwrap().status(), 200);
        assert_eq!(me(token.clone()).await.unwrap().status(), 200);
    }

    let out = app
        .authed(Method::POST, "/v1/auth/logout", &owner.access)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    let after = me(owner.access.clone()).await.unwrap();
    assert_eq!(after.status(), 401, "signed out means signed out");
    problem(after).await;
    assert_eq!(
        me(other.clone()).await.unwrap().status(),
        200,
        "another session of the same user goes on"
    );

    // A refresh token shown twice: the session it belongs to ends, with the
    // access token its thief (or its owner) got from it.
    let login: Value = app
        .login(&owner.email, PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let refresh = |token: String| {
        app.client
            .post(app.url("/v1/auth/refresh"))
            .json(&json!({"refresh_token": token}))
            .send()
    };
    let spent = login["refresh_token"].as_str().unwrap().to_owned();
    let next: Value = refresh(spent.clone()).await.unwrap().json().await.unwrap();
    let stolen_access = next["access_token"].as_str().unwrap().to_owned();
    assert_eq!(me(stolen_access.clone()).await.unwrap().status(), 200);
    assert_eq!(me(stolen_access.clone()).await.unwrap().status(), 200);
    assert_eq!(refresh(spent).await.unwrap().status(), 401);
    assert_eq!(me(stolen_access).await.unwrap().status(), 401);
    assert_eq!(me(other).await.unwrap().status(), 200);
}

/// The session ended through one server process: another process sharing the
/// database stops accepting its access token within moments, as it does for
/// a role changed elsewhere.
#[tokio::test]
async fn a_session_ended_through_another_process_ends_here_within_moments() {
    use diesel::prelude::*;
    use fieldcrm_db::schema::refresh_tokens;
    let app = spawn_app().await;
    let owner = app.signup().await;
    let me = || app.authed(Method::GET, "/v1/me", &owner.access).send();
    assert_eq!(me().await.unwrap().status(), 200);
    assert_eq!(me().await.unwrap().status(), 200);
    // What another process's logout writes.
    let ended = {
        let mut conn = app.pool.get().unwrap();
        diesel::update(refresh_tokens::table.filter(refresh_tokens::revoked_at.is_null()))
            .set(refresh_tokens::revoked_at.eq(fieldcrm_db::Ts::now()))
            .execute(&mut *conn)
            .unwrap()
    };
    assert_eq!(ended, 1);
    assert_eq!(status_within(&app, "/v1/me", &owner.access, 401).await, 401);
}

/// Sixty guesses at once at one email address from one client: no more are
/// checked than the limit allows, however they interleave.
#[tokio::test]
async fn concurrent_guesses_are_counted_before_they_are_checked() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let guesses = (0..60).map(|n| {
        let password = if n == 59 {
            PASSWORD.to_owned()
        } else {
            format!("wrong password number {n}")
        };
        let app = &app;
        let email = owner.email.clone();
        async move { app.login(&email, &password).await.status().as_u16() }
    });
    let statuses = futures_util::future::join_all(guesses).await;
    let checked = statuses.iter().filter(|s| **s != 429).count();
    assert!(
        checked <= 5,
        "only the first five may be checked, got {checked} answers other than 429: {statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| [200, 401, 429].contains(s)),
        "{statuses:?}"
    );
}

fn from(app: &TestApp, address: &str, email: &str, password: &str) -> reqwest::RequestBuilder {
    app.client
        .post(app.url("/v1/auth/login"))
        .header("x-forwarded-for", address)
        .json(&json!({"email": email, "password": password}))
}

/// Someone else's wrong guesses for a person's email address do not keep that
/// person, signing in from their own address with their own password, out.
#[tokio::test]
async fn others_wrong_guesses_do_not_lock_the_owner_of_an_email_out() {
    let app = spawn_app_with(|s| s.trust_forwarded_for = true).await;
    let victim = app.signup().await;
    for _ in 0..6 {
        let status = from(&app, "203.0.113.66", &victim.email, "a wrong guess, sorry")
            .send()
            .await
            .unwrap()
            .status();
        assert!([401, 429].contains(&status.as_u16()), "{status}");
    }
    let guesser = from(&app, "203.0.113.66", &victim.email, PASSWORD)
        .send()
        .await
        .unwrap();
    assert_eq!(guesser.status(), 429, "the guesser is stopped");
    let own = from(&app, "198.51.100.20", &victim.email, PASSWORD)
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 200, "the owner of the address is not");
}

/// Behind a proxy that appends the address it saw to `X-Forwarded-For`, a
/// client that writes its own header cannot choose its address: the limit per
/// address holds whatever it puts in front.
#[tokio::test]
async fn a_client_cannot_pick_its_address_through_x_forwarded_for() {
    let app = spawn_app_with(|s| {
        s.trust_forwarded_for = true;
        s.login_failures_per_ip = 3;
    })
    .await;
    let owner = app.signup().await;
    let mut statuses = Vec::new();
    for n in 0..5 {
        // The left part is the client's own; the proxy appended the right-most.
        let forwarded = format!("10.9.8.{n}, 192.0.2.{n}, 203.0.113.99");
        let status = from(
            &app,
            &forwarded,
            &format!("guess{n}@example.com"),
            "wrong guess!!",
        )
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
        statuses.push(status);
    }
    assert_eq!(statuses, [401, 401, 401, 429, 429]);
    let elsewhere = from(&app, "10.9.8.1, 198.51.100.7", &owner.email, PASSWORD)
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 200, "another client is not affected");
}

fn user_id(id: &str) -> fieldcrm_db::Id<fieldcrm_db::users::User> {
    fieldcrm_db::Id::from_uuid(id.parse().unwrap())
}

/// The stored password hash of a user, as the database holds it.
fn stored_hash(app: &TestApp, id: &str) -> Option<String> {
    use diesel::prelude::*;
    use fieldcrm_db::schema::users;
    let mut conn = app.pool.get().unwrap();
    users::table
        .find(user_id(id))
        .select(users::password_hash)
        .first(&mut *conn)
        .unwrap()
}

#[tokio::test]
async fn a_sign_in_renews_a_hash_made_with_earlier_parameters_and_keeps_sessions() {
    use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
    use diesel::prelude::*;
    use fieldcrm_db::schema::users;

    let app = spawn_app().await;
    let owner = app.signup().await;
    let made_now = stored_hash(&app, &owner.user_id).unwrap();
    assert!(
        made_now.starts_with("$argon2id$v=19$m=12288,t=3,p=1$"),
        "{made_now}"
    );

    // A hash as earlier releases made them: 19 MiB, 2 passes.
    let earlier = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(19 * 1024, 2, 1, None).unwrap(),
    )
    .hash_password(PASSWORD.as_bytes(), &SaltString::generate(&mut OsRng))
    .unwrap()
    .to_string();
    {
        let mut conn = app.pool.get().unwrap();
        diesel::update(users::table.find(user_id(&owner.user_id)))
            .set(users::password_hash.eq(&earlier))
            .execute(&mut *conn)
            .unwrap();
    }

    let wrong = app.login(&owner.email, "not the password at all").await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(
        stored_hash(&app, &owner.user_id).as_deref(),
        Some(earlier.as_str())
    );

    let right = app.login(&owner.email, PASSWORD).await;
    assert_eq!(right.status(), 200, "the earlier hash still checks");
    let renewed = stored_hash(&app, &owner.user_id).unwrap();
    assert!(
        renewed.starts_with("$argon2id$v=19$m=12288,t=3,p=1$"),
        "{renewed}"
    );
    assert_ne!(renewed, made_now);

    // Same password, so nobody is signed out and it still signs in.
    let me = app
        .authed(Method::GET, "/v1/me", &owner.access)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    assert_eq!(app.login(&owner.email, PASSWORD).await.status(), 200);
    assert_eq!(
        stored_hash(&app, &owner.user_id).as_deref(),
        Some(renewed.as_str())
    );
}
