//! The web app's pages over HTTP: sessions, CSRF, headers, and the customer
//! pages, without a browser.

use fieldcrm_test_support::{spawn_app, spawn_app_with, Signed, TestApp, PASSWORD};
use reqwest::header::{HeaderMap, AUTHORIZATION, COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Method, Response};
use serde_json::{json, Value};

const SESSION: &str = "fieldcrm_session";
const SIGN_IN: &str = "fieldcrm_sign_in";

/// The `Set-Cookie` line for `name`, if the response sets it.
fn set_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|line| line.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

fn cookie_value(line: &str) -> String {
    let pair = line.split(';').next().unwrap();
    pair.split_once('=').unwrap().1.to_owned()
}

/// The value of the form's hidden CSRF input.
fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("a CSRF input") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

fn location(response: &Response) -> &str {
    response.headers()[LOCATION].to_str().unwrap()
}

async fn get_page(app: &TestApp, path: &str, session: &str) -> Response {
    app.client
        .get(app.url(path))
        .header(COOKIE, format!("{SESSION}={session}"))
        .send()
        .await
        .unwrap()
}

async fn post_form(app: &TestApp, path: &str, session: &str, form: &[(&str, &str)]) -> Response {
    app.client
        .post(app.url(path))
        .header(COOKIE, format!("{SESSION}={session}"))
        .form(form)
        .send()
        .await
        .unwrap()
}

/// The sign-in page's form as a browser sends it, with its cookie and token.
async fn submit_sign_in(app: &TestApp, email: &str, password: &str) -> Response {
    let page = app.get("/app/sign-in").await;
    assert_eq!(page.status(), 200);
    let bound = cookie_value(&set_cookie(page.headers(), SIGN_IN).expect("a sign-in cookie"));
    let csrf = csrf_of(&page.text().await.unwrap());
    app.client
        .post(app.url("/app/sign-in"))
        .header(COOKIE, format!("{SIGN_IN}={bound}"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", email),
            ("password", password),
        ])
        .send()
        .await
        .unwrap()
}

/// Signs `email` in through the sign-in page and returns the session cookie's value.
async fn sign_in(app: &TestApp, email: &str) -> String {
    let response = submit_sign_in(app, email, PASSWORD).await;
    assert_eq!(response.status(), 303);
    cookie_value(&set_cookie(response.headers(), SESSION).expect("a session cookie"))
}

/// The CSRF token of the session's forms, read from a page.
async fn csrf(app: &TestApp, session: &str) -> String {
    let page = get_page(app, "/app/customers/new", session).await;
    assert_eq!(page.status(), 200);
    csrf_of(&page.text().await.unwrap())
}

async fn customers_via_api(app: &TestApp, owner: &Signed) -> Vec<Value> {
    let body: Value = app
        .call(Method::GET, "/v1/customers", &owner.access, None)
        .await
        .json()
        .await
        .unwrap();
    body["data"].as_array().unwrap().clone()
}

#[tokio::test]
async fn signing_in_sets_a_session_cookie_that_opens_the_pages() {
    let app = spawn_app().await;
    let owner = app.signup().await;

    let root = app.get("/").await;
    assert_eq!(root.status(), 303);
    assert_eq!(location(&root), "/app/");

    let response = submit_sign_in(&app, &owner.email, PASSWORD).await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/app/");
    let line = set_cookie(response.headers(), SESSION).unwrap();
    let attributes: Vec<_> = line.split(';').map(str::trim).collect();
    for wanted in ["HttpOnly", "SameSite=Lax", "Path=/app"] {
        assert!(attributes.contains(&wanted), "{wanted} in {line}");
    }
    assert!(!attributes.contains(&"Secure"), "plain http: {line}");
    assert!(
        attributes.iter().any(|a| a.starts_with("Max-Age=")),
        "{line}"
    );
    let session = cookie_value(&line);

    let home = get_page(&app, "/app/", &session).await;
    assert_eq!(home.status(), 303);
    assert_eq!(location(&home), "/app/customers");
    let page = get_page(&app, "/app/customers", &session).await;
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    assert_eq!(
        headers["content-security-policy"],
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "same-origin");
    assert_eq!(headers["cache-control"], "no-store");
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = page.text().await.unwrap();
    assert!(html.contains("<html lang=\"en\">"));
    assert!(html.contains("<main id=\"main\""));
    assert!(html.contains("<nav aria-label=\"Main\">"));
    assert!(
        !html.contains("<script") && !html.contains("style="),
        "no inline script or style"
    );

    // The stylesheet it links is kept by browsers for a long time.
    let start = html.find("/app/static/").unwrap();
    let href = html[start..].split('"').next().unwrap();
    let css = app.get(href).await;
    assert_eq!(css.status(), 200);
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    assert_eq!(
        css.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(app.get("/app/static/app.css").await.status(), 404);
}

#[tokio::test]
async fn the_session_cookie_is_secure_when_the_service_is_reached_over_https() {
    let app = spawn_app_with(|s| s.public_base_url = Some("https://crm.example.com".into())).await;
    let owner = app.signup().await;
    let response = submit_sign_in(&app, &owner.email, PASSWORD).await;
    let line = set_cookie(response.headers(), SESSION).unwrap();
    assert!(line.split(';').any(|a| a.trim() == "Secure"), "{line}");
}

#[tokio::test]
async fn a_wrong_password_keeps_the_email_and_counts_against_the_sign_in_limit() {
    let app = spawn_app_with(|s| s.login_failures_per_email = 2).await;
    let owner = app.signup().await;
    let response = submit_sign_in(&app, &owner.email, "not the password at all").await;
    assert_eq!(response.status(), 401);
    assert!(set_cookie(response.headers(), SESSION).is_none());
    let html = response.text().await.unwrap();
    assert!(html.contains("The email address or password is wrong."));
    assert!(html.contains(&format!("value=\"{}\"", owner.email)));
    assert!(!html.contains("not the password at all"));
    // The API's and the page's failures count together.
    app.login(&owner.email, "not the password either").await;
    let limited = submit_sign_in(&app, &owner.email, PASSWORD).await;
    assert_eq!(limited.status(), 429);
    assert!(limited.headers().contains_key("retry-after"));
    assert!(set_cookie(limited.headers(), SESSION).is_none());
}

#[tokio::test]
async fn pages_need_the_cookie_and_a_bearer_token_opens_none() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let bare = app.get("/app/customers").await;
    assert_eq!(bare.status(), 303);
    assert_eq!(location(&bare), "/app/sign-in");
    let bearer = app
        .authed(Method::GET, "/app/customers", &owner.access)
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), 303);
    assert_eq!(location(&bearer), "/app/sign-in");
    // Nor does an access token put where the session cookie goes.
    let in_cookie = get_page(&app, "/app/customers", &owner.access).await;
    assert_eq!(in_cookie.status(), 303);
    assert_eq!(location(&in_cookie), "/app/sign-in");
}

#[tokio::test]
async fn a_session_cookie_does_not_authenticate_the_api() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let session = sign_in(&app, &owner.email).await;
    let with_cookie = app
        .client
        .get(app.url("/v1/customers"))
        .header(COOKIE, format!("{SESSION}={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(with_cookie.status(), 401);
    let as_bearer = app
        .client
        .get(app.url("/v1/me"))
        .header(AUTHORIZATION, format!("Bearer {session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(as_bearer.status(), 401);
}

#[tokio::test]
async fn a_form_without_this_sessions_csrf_token_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let session = sign_in(&app, &owner.email).await;
    let other_session = sign_in(&app, &owner.email).await;
    let others_token = csrf(&app, &other_session).await;

    let without = post_form(&app, "/app/customers", &session, &[("name", "Ada Example")]).await;
    assert_eq!(without.status(), 403);
    assert!(without.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let wrong = post_form(
        &app,
        "/app/customers",
        &session,
        &[("csrf", &others_token), ("name", "Ada Example")],
    )
    .await;
    assert_eq!(wrong.status(), 403);
    assert!(customers_via_api(&app, &owner).await.is_empty());

    // Signing out needs it too.
    let sign_out = post_form(&app, "/app/sign-out", &session, &[]).await;
    assert_eq!(sign_out.status(), 403);
    assert_eq!(
        get_page(&app, "/app/customers", &session).await.status(),
        200
    );

    // And the sign-in form, whose token is bound to the browser's sign-in cookie.
    let forged = app
        .client
        .post(app.url("/app/sign-in"))
        .form(&[("email", owner.email.as_str()), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert!(set_cookie(forged.headers(), SESSION).is_none());
}

#[tokio::test]
async fn signing_out_ends_the_session() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let session = sign_in(&app, &owner.email).await;
    let token = csrf(&app, &session).await;
    let response = post_form(&app, "/app/sign-out", &session, &[("csrf", &token)]).await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/app/sign-in");
    let removal = set_cookie(response.headers(), SESSION).unwrap();
    assert!(removal.contains("Max-Age=0"), "{removal}");
    // The old cookie, kept by whoever copied it, opens nothing.
    let after = get_page(&app, "/app/customers", &session).await;
    assert_eq!(after.status(), 303);
    assert_eq!(location(&after), "/app/sign-in");
    // The API session of the same person goes on.
    let me = app.call(Method::GET, "/v1/me", &owner.access, None).await;
    assert_eq!(me.status(), 200);
}

#[tokio::test]
async fn a_new_password_a_removed_user_and_a_deleted_account_end_the_session() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let session = sign_in(&app, &owner.email).await;
    let changed = app
        .call(
            Method::PATCH,
            &format!("/v1/users/{}", owner.user_id),
            &owner.access,
            Some(json!({"password": "a brand new passphrase 42"})),
        )
        .await;
    assert_eq!(changed.status(), 200);
    let after = get_page(&app, "/app/customers", &session).await;
    assert_eq!(after.status(), 303);
    assert_eq!(location(&after), "/app/sign-in");

    let owner = app.signup().await;
    let admin = app.user_with_role(&owner, "admin").await;
    let admin_session = sign_in(&app, &admin.email).await;
    let owner_session = sign_in(&app, &owner.email).await;
    assert_eq!(
        get_page(&app, "/app/customers", &admin_session)
            .await
            .status(),
        200
    );
    let removed = app
        .call(
            Method::DELETE,
            &format!("/v1/users/{}", admin.user_id),
            &owner.access,
            None,
        )
        .await;
    assert_eq!(removed.status(), 204);
    assert_eq!(
        get_page(&app, "/app/customers", &admin_session)
            .await
            .status(),
        303
    );

    let deleted = app
        .call(
            Method::DELETE,
            "/v1/account",
            &owner.access,
            Some(json!({"password": PASSWORD, "confirm": "Acme Plumbing"})),
        )
        .await;
    assert_eq!(deleted.status(), 200);
    assert_eq!(
        get_page(&app, "/app/customers", &owner_session)
            .await
            .status(),
        303
    );
}

#[tokio::test]
async fn a_technician_is_refused_the_office_pages() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let tech = app.user_with_role(&owner, "technician").await;
    let session = sign_in(&app, &tech.email).await;
    for path in [
        "/app/",
        "/app/customers",
        "/app/prospects",
        "/app/customers/new",
    ] {
        let page = get_page(&app, path, &session).await;
        assert_eq!(page.status(), 403, "{path}");
        assert!(page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
    }
    let dispatcher = app.user_with_role(&owner, "dispatcher").await;
    let session = sign_in(&app, &dispatcher.email).await;
    assert_eq!(
        get_page(&app, "/app/customers", &session).await.status(),
        200
    );
}

#[tokio::test]
async fn another_accounts_customer_is_not_found() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let stranger = app.signup().await;
    let theirs = app
        .create_customer(&stranger, json!({"name": "Not Yours"}))
        .await;
    let session = sign_in(&app, &owner.email).await;
    for path in [
        format!("/app/customers/{}", theirs["id"].as_str().unwrap()),
        format!("/app/customers/{}/edit", theirs["id"].as_str().unwrap()),
        "/app/customers/not-an-id".to_owned(),
        "/app/strangers".to_owned(),
    ] {
        let page = get_page(&app, &path, &session).await;
        assert_eq!(page.status(), 404, "{path}");
        assert!(page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        assert!(!page.text().await.unwrap().contains("Not Yours"));
    }
    let token = csrf(&app, &session).await;
    let write = post_form(
        &app,
        &format!("/app/customers/{}", theirs["id"].as_str().unwrap()),
        &session,
        &[("csrf", &token), ("version", "1"), ("name", "Taken Over")],
    )
    .await;
    assert_eq!(write.status(), 404);
    let still: Value = app
        .call(
            Method::GET,
            &format!("/v1/customers/{}", theirs["id"].as_str().unwrap()),
            &stranger.access,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(still["name"], "Not Yours");
}

#[tokio::test]
async fn html_in_a_name_and_notes_is_shown_as_text() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let person = app.create_customer(&owner,
        json!({"name": "<script>alert(1)</script>", "notes": "\"><img src=x onerror=alert(2)>"}),
    )
    .await;
    let session = sign_in(&app, &owner.email).await;
    for path in [
        format!("/app/customers/{}", person["id"].as_str().unwrap()),
        format!("/app/customers/{}/edit", person["id"].as_str().unwrap()),
        "/app/customers".to_owned(),
        "/app/customers?q=%3Cscript%3E".to_owned(),
    ] {
        let html = get_page(&app, &path, &session).await.text().await.unwrap();
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{path}"
        );
        assert!(!html.contains("<script"), "{path}");
        assert!(!html.contains("<img"), "{path}");
    }
}

#[tokio::test]
async fn an_invalid_email_is_shown_with_the_apis_message_and_keeps_what_was_typed() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let session = sign_in(&app, &owner.email).await;
    let token = csrf(&app, &session).await;
    let response = post_form(
        &app,
        "/app/customers",
        &session,
        &[
            ("csrf", &token),
            ("name", "Ada <Example>"),
            ("email", "not-an-email"),
            ("phone", "+1 512 555 0100"),
            ("address.line1", "1200 Congress Ave"),
            ("address.lat", "north"),
            ("notes", "Gate code 1234\nDog in the yard"),
            ("tags", "vip, weekly"),
        ],
    )
    .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();

    let api = app
        .call(
            Method::POST,
            "/v1/customers",
            &owner.access,
            Some(json!({"name": "Ada", "email": "not-an-email"})),
        )
        .await;
    assert_eq!(api.status(), 422);
    let problem: Value = api.json().await.unwrap();
    let message = problem["errors"][0]["message"].as_str().unwrap();
    assert!(
        html.contains(&format!("Error: {message}")),
        "the API's words"
    );
    assert!(html.contains("aria-invalid=\"true\""));
    assert!(html.contains("id=\"f-address-lat-error\""));
    for kept in [
        "value=\"Ada &lt;Example&gt;\"",
        "value=\"not-an-email\"",
        "value=\"+1 512 555 0100\"",
        "value=\"1200 Congress Ave\"",
        "value=\"north\"",
        ">Gate code 1234\nDog in the yard</textarea>",
        "value=\"vip, weekly\"",
    ] {
        assert!(html.contains(kept), "{kept} kept");
    }
    assert!(customers_via_api(&app, &owner).await.is_empty());
}

#[tokio::test]
async fn a_customer_is_created_searched_shown_and_edited_through_the_forms() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let session = sign_in(&app, &owner.email).await;
    let token = csrf(&app, &session).await;
    let created = post_form(
        &app,
        "/app/customers",
        &session,
        &[
            ("csrf", &token),
            ("name", "Ada Example"),
            ("email", "ada@example.com"),
            ("phone", "(512) 555-0100"),
            ("address.line1", "1200 Congress Ave"),
            ("address.city", "Austin"),
            ("tags", "VIP"),
        ],
    )
    .await;
    assert_eq!(created.status(), 303);
    let path = location(&created).to_owned();
    let stored = customers_via_api(&app, &owner).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(
        path,
        format!("/app/customers/{}", stored[0]["id"].as_str().unwrap())
    );
    assert_eq!(stored[0]["phone"], "+15125550100");
    assert_eq!(stored[0]["tags"], json!(["vip"]));
    app.create_customer(&owner, json!({"name": "Bo Other"}))
        .await;

    let shown = get_page(&app, &path, &session).await.text().await.unwrap();
    assert!(shown.contains("Ada Example") && shown.contains("+15125550100"));
    assert!(shown.contains("Text messages (SMS)</dt><dd>Not asked"));

    let found = get_page(&app, "/app/customers?q=ada", &session)
        .await
        .text()
        .await
        .unwrap();
    assert!(found.contains("Ada Example") && !found.contains("Bo Other"));
    let all = get_page(&app, "/app/customers", &session)
        .await
        .text()
        .await
        .unwrap();
    assert!(all.contains("Ada Example") && all.contains("Bo Other"));

    // Someone else changes the customer while the form is open.
    let edit = get_page(&app, &format!("{path}/edit"), &session)
        .await
        .text()
        .await
        .unwrap();
    assert!(edit.contains("name=\"version\" value=\"1\""));
    let api_path = path.replace("/app/", "/v1/");
    let moved = app
        .call(
            Method::PATCH,
            &api_path,
            &owner.access,
            Some(json!({"company": "Elsewhere"})),
        )
        .await;
    assert_eq!(moved.status(), 200);
    let stale = post_form(
        &app,
        &path,
        &session,
        &[("csrf", &token), ("version", "1"), ("name", "Ada Renamed")],
    )
    .await;
    assert_eq!(stale.status(), 412);
    let html = stale.text().await.unwrap();
    assert!(html.contains("Someone else changed this record"));
    assert!(
        html.contains(&format!("href=\"{path}/edit\"")),
        "offers to reload"
    );
    assert!(
        html.contains("value=\"Ada Renamed\""),
        "what was typed is kept"
    );

    let saved = post_form(
        &app,
        &path,
        &session,
        &[
            ("csrf", &token),
            ("version", "2"),
            ("name", "Ada Renamed"),
            ("company", "Elsewhere"),
        ],
    )
    .await;
    assert_eq!(saved.status(), 303);
    let now: Value = app
        .call(Method::GET, &api_path, &owner.access, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(now["name"], "Ada Renamed");
    assert_eq!(now["company"], "Elsewhere");
    // Every field is on the form: those left empty were cleared.
    assert_eq!(now["email"], Value::Null);
    assert_eq!(now["tags"], json!([]));
}

#[tokio::test]
async fn the_list_pages_with_the_apis_cursor_and_prospects_share_the_pages() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    for n in 0..51 {
        app.create_customer(&owner, json!({"name": format!("Customer {n:02}")}))
            .await;
    }
    let session = sign_in(&app, &owner.email).await;
    let first = get_page(&app, "/app/customers", &session)
        .await
        .text()
        .await
        .unwrap();
    assert!(first.contains("Customer 00") && !first.contains("Customer 50"));
    let start = first
        .find("href=\"/app/customers?")
        .expect("a next page link")
        + 6;
    let next = first[start..]
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    let second = get_page(&app, &next, &session).await.text().await.unwrap();
    assert!(second.contains("Customer 50") && !second.contains("Customer 00"));
    assert!(!second.contains("rel=\"next\""));

    let response = app
        .call(
            Method::POST,
            "/v1/prospects",
            &owner.access,
            Some(json!({"name": "Maybe Later"})),
        )
        .await;
    assert_eq!(response.status(), 201);
    let prospects = get_page(&app, "/app/prospects", &session)
        .await
        .text()
        .await
        .unwrap();
    assert!(prospects.contains("Maybe Later") && !prospects.contains("Customer 00"));
    assert!(prospects.contains("aria-current=\"page\">Prospects"));
}
