//! Signing up, and the privacy page: the export and the account's deletion.

use fieldcrm_test_support::{spawn_app, TestApp, PASSWORD};
use reqwest::header::{CONTENT_DISPOSITION, COOKIE};
use reqwest::{Method, Response};
use serde_json::{json, Value};

use super::*;

/// The sign-up page's form as a browser sends it, with its cookie and token.
async fn submit_sign_up(app: &TestApp, fields: &[(&str, &str)]) -> Response {
    let page = app.get("/app/sign-up").await;
    assert_eq!(page.status(), 200);
    let bound = cookie_value(&set_cookie(page.headers(), SIGN_IN).expect("a sign-in cookie"));
    let csrf = csrf_of(&page.text().await.unwrap());
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    app.client
        .post(app.url("/app/sign-up"))
        .header(COOKIE, format!("{SIGN_IN}={bound}"))
        .form(&form)
        .send()
        .await
        .unwrap()
}

fn sign_up_fields<'a>(email: &'a str, account_name: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("account_name", account_name),
        ("name", "Dana Reyes"),
        ("email", email),
        ("password", PASSWORD),
        ("time_zone", "Europe/Berlin"),
        ("default_country", "DE"),
    ]
}

/// Signs up through the page; the session cookie's value.
async fn sign_up(app: &TestApp, email: &str, account_name: &str) -> String {
    let response = submit_sign_up(app, &sign_up_fields(email, account_name)).await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/app/");
    cookie_value(&set_cookie(response.headers(), SESSION).expect("a session cookie"))
}

#[tokio::test]
async fn signing_up_creates_the_account_and_signs_its_owner_in() {
    let app = spawn_app().await;
    let session = sign_up(&app, "dana@cleaners.example", "Sparkle Cleaners").await;

    let page = get_page(&app, "/app/account", &session).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Sparkle Cleaners") && html.contains("Europe/Berlin"));

    // The same owner signs in to the API with the password chosen on the page.
    let login = app
        .post_json(
            "/v1/auth/login",
            &json!({"email": "dana@cleaners.example", "password": PASSWORD}),
        )
        .await;
    assert_eq!(login.status(), 200);
    let access = login.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let me: Value = app
        .call(Method::GET, "/v1/me", &access, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["user"]["role"], "owner");
    let account: Value = app
        .call(Method::GET, "/v1/account", &access, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(account["name"], "Sparkle Cleaners");
    assert_eq!(account["default_country"], "DE");
}

#[tokio::test]
async fn a_refused_sign_up_shows_each_fields_message_and_keeps_what_was_typed() {
    let app = spawn_app().await;
    let response = submit_sign_up(
        &app,
        &[
            ("account_name", "Sparkle <b>Cleaners</b>"),
            ("name", "Dana Reyes"),
            ("email", "not-an-address"),
            ("password", "short"),
            ("time_zone", "Mars/Olympus"),
            ("default_country", "DE"),
        ],
    )
    .await;
    assert_eq!(response.status(), 422);
    assert!(set_cookie(response.headers(), SESSION).is_none());
    let html = response.text().await.unwrap();
    for field in ["email", "password", "time_zone"] {
        assert!(html.contains(&format!("id=\"f-{field}-error\"")), "{field}");
    }
    assert!(html.contains("value=\"Sparkle &lt;b&gt;Cleaners&lt;/b&gt;\""));
    assert!(html.contains("value=\"not-an-address\""));
    assert!(html.contains("value=\"Mars/Olympus\""));
    assert!(
        !html.contains("value=\"short\""),
        "the password is not sent back"
    );

    // An address already in use is said beside the email field; no second account.
    let owner = app.signup().await;
    let response = submit_sign_up(&app, &sign_up_fields(&owner.email, "Second Business")).await;
    assert_eq!(response.status(), 409);
    let html = response.text().await.unwrap();
    assert!(html.contains("id=\"f-email-error\""));
    assert!(html.contains("value=\"Second Business\""));
}

#[tokio::test]
async fn a_sign_up_without_the_forms_token_creates_nothing() {
    let app = spawn_app().await;
    let mut fields = vec![("csrf", "forged")];
    fields.extend(sign_up_fields("mallory@example.com", "Forged"));
    let response = app
        .client
        .post(app.url("/app/sign-up"))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let login = app
        .post_json(
            "/v1/auth/login",
            &json!({"email": "mallory@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(login.status(), 401, "no such user was made");
}

#[tokio::test]
async fn the_owner_downloads_the_export_from_the_privacy_page() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    app.create_customer(&owner, json!({"name": "Ada Example"}))
        .await;
    let session = sign_in(&app, &owner.email).await;
    let html = page_html(&app, "/app/account", &session).await;
    assert!(html.contains("href=\"/app/account/export\""));

    let export = get_page(&app, "/app/account/export", &session).await;
    assert_eq!(export.status(), 200);
    assert!(export.headers()[CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    let document: Value = export.json().await.unwrap();
    let text = document.to_string();
    assert!(text.contains("Ada Example"));

    // The export is in the audit trail the page shows.
    let html = page_html(&app, "/app/account", &session).await;
    assert!(html.contains("account.exported"), "{html}");
}

#[tokio::test]
async fn only_the_owner_is_offered_the_export_and_the_deletion() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let admin = app.user_with_role(&owner, "admin").await;
    let session = sign_in(&app, &admin.email).await;
    let page = get_page(&app, "/app/account", &session).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(!html.contains("/app/account/export") && !html.contains("/app/account/delete"));
    assert_eq!(
        get_page(&app, "/app/account/export", &session)
            .await
            .status(),
        403
    );
    let token = csrf_of(&html);
    let response = post_form(
        &app,
        "/app/account/delete",
        &session,
        &[
            ("csrf", &token),
            ("confirm", "Acme Plumbing"),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(response.status(), 403);
    assert_eq!(
        app.call(Method::GET, "/v1/account", &owner.access, None)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn deleting_the_account_needs_its_name_and_the_password_then_ends_the_session() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let session = sign_in(&app, &owner.email).await;
    let token = csrf_of(&page_html(&app, "/app/account", &session).await);
    let delete = |confirm: &'static str, password: &'static str, csrf: String| {
        let app = &app;
        let session = session.clone();
        async move {
            post_form(
                app,
                "/app/account/delete",
                &session,
                &[
                    ("csrf", &csrf),
                    ("confirm", confirm),
                    ("password", password),
                ],
            )
            .await
        }
    };

    let forged = delete("Acme Plumbing", PASSWORD, "forged".into()).await;
    assert_eq!(forged.status(), 403);
    let wrong_name = delete("Acme", PASSWORD, token.clone()).await;
    assert_eq!(wrong_name.status(), 422);
    assert!(wrong_name
        .text()
        .await
        .unwrap()
        .contains("id=\"f-confirm-error\""));
    let wrong_password = delete("Acme Plumbing", "not the password", token.clone()).await;
    assert_eq!(wrong_password.status(), 401);
    assert!(wrong_password
        .text()
        .await
        .unwrap()
        .contains("id=\"f-password-error\""));
    assert_eq!(
        app.call(Method::GET, "/v1/account", &owner.access, None)
            .await
            .status(),
        200,
        "nothing was deleted"
    );

    let deleted = delete("Acme Plumbing", PASSWORD, token).await;
    assert_eq!(deleted.status(), 200);
    let removal = set_cookie(deleted.headers(), SESSION).expect("the cookie is removed");
    assert!(removal.contains("Max-Age=0"), "{removal}");
    assert!(deleted.text().await.unwrap().contains("Receipt"));
    let after = get_page(&app, "/app/customers", &session).await;
    assert_eq!(after.status(), 303);
    assert_eq!(location(&after), "/app/sign-in");
    assert_eq!(
        app.call(Method::GET, "/v1/account", &owner.access, None)
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn a_technician_is_refused_the_account_page() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let tech = app.user_with_role(&owner, "technician").await;
    let session = sign_in(&app, &tech.email).await;
    assert_eq!(get_page(&app, "/app/account", &session).await.status(), 403);
}
