//! The webhooks page and its delivery log.

use fieldcrm_test_support::{spawn_app, Signed, TestApp};
use reqwest::Method;
use serde_json::{json, Value};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;

async fn endpoints_via_api(app: &TestApp, owner: &Signed) -> Vec<Value> {
    let body: Value = app
        .call(Method::GET, "/v1/webhook-endpoints", &owner.access, None)
        .await
        .json()
        .await
        .unwrap();
    body["data"].as_array().unwrap().clone()
}

#[tokio::test]
async fn an_endpoint_added_on_the_page_shows_its_deliveries_and_sends_again() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&receiver)
        .await;
    let session = sign_in(&app, &owner.email).await;
    let token = csrf_of(&page_html(&app, "/app/webhooks", &session).await);
    let url = format!("{}/in", receiver.uri());
    let made = post_form(
        &app,
        "/app/webhooks",
        &session,
        &[
            ("csrf", &token),
            ("url", &url),
            ("description", "Books <sync>"),
            ("event_types", "customer.created, webhook.test"),
            ("payload", "thin"),
        ],
    )
    .await;
    assert_eq!(made.status(), 201);
    let html = made.text().await.unwrap();
    assert!(html.contains("whsec_"), "the signing secret, shown once");
    assert!(html.contains("Books &lt;sync&gt;"));
    let endpoints = endpoints_via_api(&app, &owner).await;
    assert_eq!(endpoints.len(), 1);
    assert_eq!(
        endpoints[0]["event_types"],
        json!(["customer.created", "webhook.test"])
    );
    let page = format!("/app/webhooks/{}", endpoints[0]["id"].as_str().unwrap());

    let test = post_form(&app, &format!("{page}/test"), &session, &[("csrf", &token)]).await;
    assert_eq!(test.status(), 303);
    app.run_jobs().await;
    let html = page_html(&app, &page, &session).await;
    assert!(
        html.contains("webhook.test") && html.contains("HTTP 500"),
        "{html}"
    );
    let retry = html
        .split("action=\"")
        .filter_map(|rest| rest.split('"').next())
        .find(|action| action.ends_with("/retry"))
        .expect("a retry button")
        .to_owned();
    let again = post_form(&app, &retry, &session, &[("csrf", &token)]).await;
    assert_eq!(again.status(), 303);
    app.run_jobs().await;
    assert!(receiver.received_requests().await.unwrap().len() >= 2);

    let deleted = post_form(
        &app,
        &format!("{page}/delete"),
        &session,
        &[("csrf", &token)],
    )
    .await;
    assert_eq!(deleted.status(), 303);
    assert!(endpoints_via_api(&app, &owner).await.is_empty());
}

#[tokio::test]
async fn a_refused_endpoint_keeps_what_was_typed_and_others_cannot_reach_it() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let session = sign_in(&app, &owner.email).await;
    let token = csrf_of(&page_html(&app, "/app/webhooks", &session).await);
    let refused = post_form(
        &app,
        "/app/webhooks",
        &session,
        &[
            ("csrf", &token),
            ("url", "ftp://files.example.com"),
            ("event_types", "customer.exploded"),
        ],
    )
    .await;
    assert_eq!(refused.status(), 422);
    let html = refused.text().await.unwrap();
    assert!(html.contains("id=\"f-event_types-error\""));
    assert!(html.contains("value=\"ftp://files.example.com\""));
    assert!(html.contains("value=\"customer.exploded\""));
    let refused = post_form(
        &app,
        "/app/webhooks",
        &session,
        &[("csrf", &token), ("url", "ftp://files.example.com")],
    )
    .await;
    assert_eq!(refused.status(), 422);
    assert!(refused.text().await.unwrap().contains("id=\"f-url-error\""));
    assert!(endpoints_via_api(&app, &owner).await.is_empty());

    let dispatcher = app.user_with_role(&owner, "dispatcher").await;
    let dispatcher_session = sign_in(&app, &dispatcher.email).await;
    assert_eq!(
        get_page(&app, "/app/webhooks", &dispatcher_session)
            .await
            .status(),
        403
    );

    let other = app.signup().await;
    let receiver = MockServer::start().await;
    let theirs: Value = app
        .call(
            Method::POST,
            "/v1/webhook-endpoints",
            &other.access,
            Some(json!({"url": format!("{}/in", receiver.uri())})),
        )
        .await
        .json()
        .await
        .unwrap();
    let page = format!("/app/webhooks/{}", theirs["id"].as_str().unwrap());
    assert_eq!(get_page(&app, &page, &session).await.status(), 404);
    let response = post_form(
        &app,
        &format!("{page}/delete"),
        &session,
        &[("csrf", &token)],
    )
    .await;
    assert_eq!(response.status(), 404);
    assert_eq!(endpoints_via_api(&app, &other).await.len(), 1);
}
