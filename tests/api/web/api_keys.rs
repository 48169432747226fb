//! The API keys page.

use fieldcrm_test_support::spawn_app;
use reqwest::Method;

use super::*;

/// The secret the page shows once.
fn secret_in(html: &str) -> String {
    let start = html.find("fcrm_key_").expect("the new key's secret");
    html[start..]
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_key_made_on_the_page_works_once_shown_and_stops_when_revoked() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let session = sign_in(&app, &owner.email).await;
    let html = page_html(&app, "/app/api-keys", &session).await;
    assert!(html.contains("No key yet."));
    let token = csrf_of(&html);

    let made = post_form(
        &app,
        "/app/api-keys",
        &session,
        &[
            ("csrf", &token),
            ("name", "Books <sync>"),
            ("scope", "read"),
        ],
    )
    .await;
    assert_eq!(made.status(), 201);
    let html = made.text().await.unwrap();
    assert!(html.contains("Books &lt;sync&gt;"));
    let secret = secret_in(&html);

    // A read key reads, and may not write.
    assert_eq!(
        app.call(Method::GET, "/v1/customers", &secret, None)
            .await
            .status(),
        200
    );
    assert_eq!(
        app.call(
            Method::POST,
            "/v1/customers",
            &secret,
            Some(serde_json::json!({"name": "Ada"}))
        )
        .await
        .status(),
        403
    );
    let listed = page_html(&app, "/app/api-keys", &session).await;
    assert!(listed.contains("Books &lt;sync&gt;") && !listed.contains(&secret));

    let keys: serde_json::Value = app
        .call(Method::GET, "/v1/api-keys", &owner.access, None)
        .await
        .json()
        .await
        .unwrap();
    let id = keys["data"][0]["id"].as_str().unwrap();
    let forged = post_form(
        &app,
        &format!("/app/api-keys/{id}/revoke"),
        &session,
        &[("csrf", "forged")],
    )
    .await;
    assert_eq!(forged.status(), 403);
    let revoked = post_form(
        &app,
        &format!("/app/api-keys/{id}/revoke"),
        &session,
        &[("csrf", &token)],
    )
    .await;
    assert_eq!(revoked.status(), 303);
    assert_eq!(
        app.call(Method::GET, "/v1/customers", &secret, None)
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn a_refused_key_keeps_what_was_typed_and_dispatchers_have_no_keys_page() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let session = sign_in(&app, &owner.email).await;
    let token = csrf_of(&page_html(&app, "/app/api-keys", &session).await);
    let refused = post_form(
        &app,
        "/app/api-keys",
        &session,
        &[("csrf", &token), ("name", ""), ("scope", "admin")],
    )
    .await;
    assert_eq!(refused.status(), 422);
    let html = refused.text().await.unwrap();
    assert!(html.contains("id=\"f-name-error\"") && !html.contains("fcrm_key_"));

    let dispatcher = app.user_with_role(&owner, "dispatcher").await;
    let session = sign_in(&app, &dispatcher.email).await;
    assert_eq!(
        get_page(&app, "/app/api-keys", &session).await.status(),
        403
    );

    // Another account's key is not found.
    let other = app.signup().await;
    let theirs: serde_json::Value = app
        .call(
            Method::POST,
            "/v1/api-keys",
            &other.access,
            Some(serde_json::json!({"name": "Theirs", "scope": "read"})),
        )
        .await
        .json()
        .await
        .unwrap();
    let owner_session = sign_in(&app, &owner.email).await;
    let token = csrf_of(&page_html(&app, "/app/api-keys", &owner_session).await);
    let response = post_form(
        &app,
        &format!("/app/api-keys/{}/revoke", theirs["id"].as_str().unwrap()),
        &owner_session,
        &[("csrf", &token)],
    )
    .await;
    assert_eq!(response.status(), 404);
    assert_eq!(
        app.call(
            Method::GET,
            "/v1/customers",
            theirs["secret"].as_str().unwrap(),
            None
        )
        .await
        .status(),
        200
    );
}
