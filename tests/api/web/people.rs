//! Sessions, CSRF and headers, with the customer and prospect pages.

use fieldcrm_test_support::{spawn_app, spawn_app_with, Signed, TestApp, PASSWORD};
use reqwest::header::{AUTHORIZATION, COOKIE};
use reqwest::{Method, Response};
use serde_json::{json, Value};

use super::*;

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
    assert_eq!(location(&home), "/app/appointments");
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
    // No inline script or style: the one script and the stylesheet are files.
    assert!(!html.contains("style="), "no inline style");
    assert_eq!(html.matches("<script").count(), 1);
    let linked = |attribute: &str| {
        let start =
            html.find(&format!("{attribute}=\"/app/static/")).unwrap() + attribute.len() + 2;
        html[start..].split('"').next().unwrap().to_owned()
    };
    let script = html.split("<script").nth(1).unwrap();
    assert!(
        script.split_once('>').unwrap().1.starts_with("</script>"),
        "the script element has no body"
    );

    // The files it links are kept by browsers for a long time.
    for (href, content_type) in [
        (linked("href"), "text/css; charset=utf-8"),
        (linked("src"), "text/javascript; charset=utf-8"),
    ] {
        let file = app.get(&href).await;
        assert_eq!(file.status(), 200, "{href}");
        assert_eq!(file.headers()["content-type"], content_type);
        assert_eq!(
            file.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
    }
    assert_eq!(app.get("/app/static/app.css").await.status(), 404);
    assert_eq!(app.get("/app/static/app.js").await.status(), 404);
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

/// An HTML page with `status`, never the API's problem+json.
async fn html_error(response: Response, status: u16) -> String {
    assert_eq!(response.status(), status);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    response.text().await.unwrap()
}

#[tokio::test]
async fn a_form_or_address_the_page_cannot_read_is_answered_with_a_page_and_changes_nothing() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let session = sign_in(&app, &owner.email).await;
    let token = csrf(&app, &session).await;

    // A field sent twice: serde refuses it.
    let twice = get_page(&app, "/app/customers?q=a&q=b", &session).await;
    assert!(html_error(twice, 400)
        .await
        .contains("The address could not be read"));
    let twice = post_form(
        &app,
        "/app/customers",
        &session,
        &[("csrf", &token), ("name", "Ada"), ("name", "Eve")],
    )
    .await;
    assert!(html_error(twice, 400)
        .await
        .contains("The form could not be read"));

    // Not a form at all.
    let json = app
        .client
        .post(app.url("/app/customers"))
        .header(COOKIE, format!("{SESSION}={session}"))
        .json(&json!({"csrf": token, "name": "Ada"}))
        .send()
        .await
        .unwrap();
    html_error(json, 400).await;

    // Larger than any page's form.
    let notes = "x".repeat(70 * 1024);
    let large = post_form(
        &app,
        "/app/customers",
        &session,
        &[("csrf", &token), ("name", "Ada"), ("notes", &notes)],
    )
    .await;
    html_error(large, 413).await;

    // An id that is not one.
    let odd = get_page(&app, "/app/customers/not-an-id", &session).await;
    html_error(odd, 404).await;

    assert!(customers_via_api(&app, &owner).await.is_empty());
}

#[tokio::test]
async fn a_session_ends_after_the_idle_timeout_and_using_the_pages_keeps_it() {
    let app = spawn_app_with(|s| s.web_idle_timeout_secs = 6).await;
    let owner = app.signup().await;
    let signed_in = submit_sign_in(&app, &owner.email, PASSWORD).await;
    let first = set_cookie(signed_in.headers(), SESSION).unwrap();
    assert!(first.contains("Max-Age=6"), "{first}");
    let first = cookie_value(&first);

    // Three seconds on, a page issues the token again for another six.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let page = get_page(&app, "/app/customers", &first).await;
    assert_eq!(page.status(), 200);
    let renewed = cookie_value(&set_cookie(page.headers(), SESSION).expect("a renewed session"));

    // Seven seconds after signing in the first token has ended; the renewed
    // one still opens the pages. (Token times are whole seconds.)
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    let idle = get_page(&app, "/app/customers", &first).await;
    assert_eq!(idle.status(), 303);
    assert_eq!(location(&idle), "/app/sign-in");
    assert_eq!(
        get_page(&app, "/app/customers", &renewed).await.status(),
        200
    );

    // Left alone past the timeout, it ends too.
    tokio::time::sleep(std::time::Duration::from_secs(8)).await;
    let idle = get_page(&app, "/app/customers", &renewed).await;
    assert_eq!(location(&idle), "/app/sign-in");
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

    app.delete_account(&owner).await;
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
    let home = get_page(&app, "/app/", &session).await;
    assert_eq!(
        location(&home),
        "/app/today",
        "a technician starts on their day"
    );
    for path in ["/app/customers", "/app/prospects", "/app/customers/new"] {
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
        let html = page_html(&app, &path, &session).await;
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{path}"
        );
        // The page's one script is the app's own file.
        assert_eq!(html.matches("<script").count(), 1, "{path}");
        assert!(html.contains("<script src=\"/app/static/app."), "{path}");
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

    let shown = page_html(&app, &path, &session).await;
    assert!(shown.contains("Ada Example") && shown.contains("+15125550100"));
    assert!(shown.contains("Text messages (SMS)</dt><dd>Not asked"));

    let found = page_html(&app, "/app/customers?q=ada", &session).await;
    assert!(found.contains("Ada Example") && !found.contains("Bo Other"));
    let all = page_html(&app, "/app/customers", &session).await;
    assert!(all.contains("Ada Example") && all.contains("Bo Other"));

    // Someone else changes the customer while the form is open.
    let edit = page_html(&app, &format!("{path}/edit"), &session).await;
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
    let first = page_html(&app, "/app/customers", &session).await;
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
    let second = page_html(&app, &next, &session).await;
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
    let prospects = page_html(&app, "/app/prospects", &session).await;
    assert!(prospects.contains("Maybe Later") && !prospects.contains("Customer 00"));
    assert!(prospects.contains("aria-current=\"page\">Prospects"));
}

/// A prospect made through the API, as a page path and an API path.
async fn create_prospect(app: &TestApp, owner: &Signed, name: &str) -> (String, String) {
    let response = app
        .call(
            Method::POST,
            "/v1/prospects",
            &owner.access,
            Some(json!({ "name": name })),
        )
        .await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    let id = body["id"].as_str().unwrap();
    (
        format!("/app/prospects/{id}"),
        format!("/v1/prospects/{id}"),
    )
}

/// A customer made through the API, as a page path and an API path.
async fn create_customer(app: &TestApp, owner: &Signed, body: Value) -> (String, String) {
    let person = app.create_customer(owner, body).await;
    let id = person["id"].as_str().unwrap();
    (
        format!("/app/customers/{id}"),
        format!("/v1/customers/{id}"),
    )
}

/// An owner signed in in a browser (the session), with a customer who has a
/// phone number (page path and API path).
async fn signed_in_with_a_customer(app: &TestApp) -> (Signed, String, String, String) {
    let owner = app.signup().await;
    let (path, api_path) = create_customer(
        app,
        &owner,
        json!({"name": "Ada Example", "phone": "+15125550100"}),
    )
    .await;
    let session = sign_in(app, &owner.email).await;
    (owner, session, path, api_path)
}

/// The consent form of the person at `path`, sent with a channel, a status and
/// a source.
async fn post_consent(
    app: &TestApp,
    session: &str,
    path: &str,
    token: &str,
    [channel, status, source]: [&str; 3],
) -> Response {
    post_form(
        app,
        &format!("{path}/consent"),
        session,
        &[
            ("csrf", token),
            ("channel", channel),
            ("status", status),
            ("source", source),
        ],
    )
    .await
}

async fn api_status(app: &TestApp, owner: &Signed, api_path: &str) -> u16 {
    app.call(Method::GET, api_path, &owner.access, None)
        .await
        .status()
        .as_u16()
}

async fn consent_history_via_api(app: &TestApp, owner: &Signed, api_path: &str) -> Vec<Value> {
    let response = app
        .call(
            Method::GET,
            &format!("{api_path}/consent"),
            &owner.access,
            None,
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["history"].as_array().unwrap().clone()
}

#[tokio::test]
async fn consent_recorded_on_the_page_is_in_its_history_and_in_the_api() {
    let app = spawn_app().await;
    let (owner, session, path, api_path) = signed_in_with_a_customer(&app).await;
    let page = page_html(&app, &path, &session).await;
    assert!(page.contains(&format!("action=\"{path}/consent\"")));
    assert!(page.contains("No consent decisions recorded yet."));
    let token = csrf_of(&page);

    let recorded = post_consent(&app, &session, &path, &token, ["sms", "opted_in", "verbal"]).await;
    assert_eq!(recorded.status(), 303);
    assert_eq!(location(&recorded), format!("{path}#consent"));

    let history = consent_history_via_api(&app, &owner, &api_path).await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["channel"], "sms");
    assert_eq!(history[0]["status"], "opted_in");
    assert_eq!(history[0]["source"], "verbal");

    let page = page_html(&app, &path, &session).await;
    assert!(page.contains("Text messages (SMS)</dt><dd>Opted in"));
    assert!(page.contains("Email</dt><dd>Not asked"));
    // Shown in the account's time zone, as every other time on the pages.
    let zone = app
        .call(
            Method::PATCH,
            "/v1/account",
            &owner.access,
            Some(json!({"time_zone": "Pacific/Auckland"})),
        )
        .await;
    assert_eq!(zone.status(), 200);
    let at: chrono::DateTime<chrono::Utc> = history[0]["at"].as_str().unwrap().parse().unwrap();
    let local = at
        .with_timezone(&chrono_tz::Pacific::Auckland)
        .format("%A %-d %B %Y, %H:%M")
        .to_string();
    let page = page_html(&app, &path, &session).await;
    assert!(
        page.contains(&format!("\">{local}</time></td>")),
        "when: {local}"
    );
    assert!(page.contains(
        "<td>Text messages (SMS)</td><td>Opted in</td><td>Said to us, on the phone or in person</td>"
    ));
}

#[tokio::test]
async fn opting_in_to_sms_without_a_phone_shows_the_apis_message_and_records_nothing() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let (path, api_path) = create_customer(&app, &owner, json!({"name": "No Phone"})).await;
    let session = sign_in(&app, &owner.email).await;
    let token = csrf(&app, &session).await;
    let response = post_consent(&app, &session, &path, &token, ["sms", "opted_in", "form"]).await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();

    let api = app
        .call(
            Method::POST,
            &format!("{api_path}/consent"),
            &owner.access,
            Some(json!({"channel": "sms", "status": "opted_in", "source": "form"})),
        )
        .await;
    assert_eq!(api.status(), 422);
    let problem: Value = api.json().await.unwrap();
    let message = problem["errors"][0]["message"].as_str().unwrap();
    assert!(
        html.contains(&format!(
            "id=\"consent-sms-channel-error\">Error: {message}"
        )),
        "the API's words, beside the SMS form"
    );
    assert!(!html.contains("consent-email-channel-error"));
    assert!(consent_history_via_api(&app, &owner, &api_path)
        .await
        .is_empty());
}

#[tokio::test]
async fn converting_a_prospect_lands_on_the_customers_page() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let (path, api_path) = create_prospect(&app, &owner, "Maybe Later").await;
    let session = sign_in(&app, &owner.email).await;
    let page = page_html(&app, &path, &session).await;
    assert!(page.contains(&format!("action=\"{path}/convert\"")));
    assert!(page.contains("name=\"version\" value=\"1\""));
    let token = csrf_of(&page);

    let converted = post_form(
        &app,
        &format!("{path}/convert"),
        &session,
        &[("csrf", &token), ("version", "1")],
    )
    .await;
    assert_eq!(converted.status(), 303);
    let customer = path.replace("/prospects/", "/customers/");
    assert_eq!(location(&converted), customer);
    let as_customer = api_path.replace("/prospects/", "/customers/");
    assert_eq!(api_status(&app, &owner, &as_customer).await, 200);
    assert_eq!(api_status(&app, &owner, &api_path).await, 404);
    let page = page_html(&app, &customer, &session).await;
    assert!(page.contains("Maybe Later") && !page.contains("/convert\""));

    // The same form sent again, from a page left open.
    let again = post_form(
        &app,
        &format!("{path}/convert"),
        &session,
        &[("csrf", &token), ("version", "1")],
    )
    .await;
    assert_eq!(again.status(), 409);
    let html = again.text().await.unwrap();
    assert!(html.contains("This person is a customer already"));
    assert!(html.contains(&format!("href=\"{customer}\"")));

    // A prospect changed since the page was read stays a prospect.
    let (path, api_path) = create_prospect(&app, &owner, "Changed Meanwhile").await;
    let changed = app
        .call(
            Method::PATCH,
            &api_path,
            &owner.access,
            Some(json!({"company": "Elsewhere"})),
        )
        .await;
    assert_eq!(changed.status(), 200);
    let stale = post_form(
        &app,
        &format!("{path}/convert"),
        &session,
        &[("csrf", &token), ("version", "1")],
    )
    .await;
    assert_eq!(stale.status(), 412);
    assert!(stale
        .text()
        .await
        .unwrap()
        .contains("Someone else changed this prospect"));
    assert_eq!(api_status(&app, &owner, &api_path).await, 200);
}

#[tokio::test]
async fn erasing_needs_the_persons_name_typed_exactly() {
    let app = spawn_app().await;
    let (owner, session, path, api_path) = signed_in_with_a_customer(&app).await;
    let shown = page_html(&app, &path, &session).await;
    assert!(shown.contains(&format!("href=\"{path}/erase\"")));
    let page = get_page(&app, &format!("{path}/erase"), &session).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("There is no undo."));
    assert!(html.contains("Type the name “Ada Example” to confirm"));
    let token = csrf_of(&html);

    let wrong = post_form(
        &app,
        &format!("{path}/erase"),
        &session,
        &[("csrf", &token), ("confirm", "ada example")],
    )
    .await;
    assert_eq!(wrong.status(), 422);
    let html = wrong.text().await.unwrap();
    assert!(html.contains("id=\"f-confirm-error\""));
    assert!(html.contains("nothing was erased"));
    assert!(html.contains("value=\"ada example\""));
    assert_eq!(api_status(&app, &owner, &api_path).await, 200);

    let erased = post_form(
        &app,
        &format!("{path}/erase"),
        &session,
        &[("csrf", &token), ("confirm", "Ada Example")],
    )
    .await;
    assert_eq!(erased.status(), 303);
    assert_eq!(location(&erased), "/app/customers");
    assert_eq!(api_status(&app, &owner, &api_path).await, 404);
    let list = page_html(&app, "/app/customers", &session).await;
    assert!(!list.contains("Ada Example"));
    assert_eq!(get_page(&app, &path, &session).await.status(), 404);
}

/// Each new form's POST with what it needs besides the CSRF token.
fn new_forms(prospect: &str, customer: &str) -> Vec<(String, Vec<(&'static str, &'static str)>)> {
    vec![
        (
            format!("{customer}/consent"),
            vec![
                ("channel", "email"),
                ("status", "opted_out"),
                ("source", "form"),
            ],
        ),
        (format!("{prospect}/convert"), vec![("version", "1")]),
        (
            format!("{customer}/erase"),
            vec![("confirm", "Kept Customer")],
        ),
    ]
}

/// A prospect and a customer (with an email address) whom the new forms are
/// sent about, as page paths.
async fn kept_people(app: &TestApp, owner: &Signed) -> (String, String) {
    let (prospect, _) = create_prospect(app, owner, "Kept Prospect").await;
    let (customer, _) = create_customer(
        app,
        owner,
        json!({"name": "Kept Customer", "email": "kept@example.com"}),
    )
    .await;
    (prospect, customer)
}

/// What the API shows of the two people: both there, nothing recorded.
async fn untouched(app: &TestApp, owner: &Signed, prospect: &str, customer: &str) {
    let api = |path: &str| path.replace("/app/", "/v1/");
    for path in [prospect, customer] {
        assert_eq!(api_status(app, owner, &api(path)).await, 200, "{path}");
    }
    assert!(consent_history_via_api(app, owner, &api(customer))
        .await
        .is_empty());
}

#[tokio::test]
async fn the_new_forms_need_the_csrf_token_and_the_office() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let (prospect, customer) = kept_people(&app, &owner).await;
    let session = sign_in(&app, &owner.email).await;
    for (path, fields) in new_forms(&prospect, &customer) {
        let response = post_form(&app, &path, &session, &fields).await;
        assert_eq!(response.status(), 403, "{path}");
    }
    untouched(&app, &owner, &prospect, &customer).await;

    // A dispatcher's session, with its token, after they became a technician.
    let dispatcher = app.user_with_role(&owner, "dispatcher").await;
    let tech_session = sign_in(&app, &dispatcher.email).await;
    let tech_token = csrf(&app, &tech_session).await;
    let demoted = app
        .call(
            Method::PATCH,
            &format!("/v1/users/{}", dispatcher.user_id),
            &owner.access,
            Some(json!({"role": "technician"})),
        )
        .await;
    assert_eq!(demoted.status(), 200);
    assert_eq!(
        get_page(&app, &format!("{customer}/erase"), &tech_session)
            .await
            .status(),
        403
    );
    for (path, mut fields) in new_forms(&prospect, &customer) {
        fields.push(("csrf", &tech_token));
        let response = post_form(&app, &path, &tech_session, &fields).await;
        assert_eq!(response.status(), 403, "{path}");
        let html = response.text().await.unwrap();
        assert!(!html.contains("not sent from this page"), "{path}: {html}");
    }
    untouched(&app, &owner, &prospect, &customer).await;
}

#[tokio::test]
async fn another_accounts_person_is_not_found_on_the_new_forms() {
    let app = spawn_app().await;
    let stranger = app.signup().await;
    let (prospect, customer) = kept_people(&app, &stranger).await;

    let owner = app.signup().await;
    let session = sign_in(&app, &owner.email).await;
    let token = csrf(&app, &session).await;
    let erase_page = get_page(&app, &format!("{customer}/erase"), &session).await;
    assert_eq!(erase_page.status(), 404);
    assert!(!erase_page.text().await.unwrap().contains("Kept Customer"));
    for (path, mut fields) in new_forms(&prospect, &customer) {
        fields.push(("csrf", &token));
        let response = post_form(&app, &path, &session, &fields).await;
        assert_eq!(response.status(), 404, "{path}");
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
    }
    untouched(&app, &stranger, &prospect, &customer).await;
}
