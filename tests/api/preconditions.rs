//! `If-Match` on every write that takes it: a stale entity tag is 412 and the
//! write does nothing; the current one goes through.

use fieldcrm_test_support::{problem, spawn_app, Day, Signed, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

/// The `ETag` a read of `path` answers with.
async fn etag(app: &TestApp, who: &Signed, path: &str) -> String {
    let response = app.call(Method::GET, path, &who.access, None).await;
    assert_eq!(response.status(), 200, "{path}");
    response.headers()["etag"].to_str().unwrap().to_owned()
}

/// Changes the record at `path` (a PATCH of `change`), so that the tag read
/// before is stale; returns that stale tag.
async fn stale_tag(app: &TestApp, who: &Signed, path: &str, change: Value) -> String {
    let before = etag(app, who, path).await;
    let changed = app
        .call(Method::PATCH, path, &who.access, Some(change))
        .await;
    assert_eq!(changed.status(), 200, "{path}");
    assert_ne!(
        etag(app, who, path).await,
        before,
        "{path}: a change makes a new tag"
    );
    before
}

/// `method path` with `If-Match: tag`.
async fn with_tag(
    app: &TestApp,
    who: &Signed,
    method: Method,
    path: &str,
    tag: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = app
        .authed(method, path, &who.access)
        .header("if-match", tag);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

async fn refused_as_stale(response: reqwest::Response) {
    assert_eq!(response.status(), 412);
    assert_eq!(problem(response).await["code"], "precondition_failed");
}

async fn read(app: &TestApp, who: &Signed, path: &str) -> Value {
    let response = app.call(Method::GET, path, &who.access, None).await;
    assert_eq!(response.status(), 200, "{path} is still there");
    response.json().await.unwrap()
}

async fn created(app: &TestApp, who: &Signed, path: &str, body: Value) -> String {
    let response = app.call(Method::POST, path, &who.access, Some(body)).await;
    assert_eq!(response.status(), 201, "{path}");
    response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn appointment(app: &TestApp, who: &Signed) -> String {
    let customer = created(app, who, "/v1/customers", json!({"name": "Ann"})).await;
    let day = Day::ahead(30);
    let id = created(
        app,
        who,
        "/v1/appointments",
        json!({"customer_id": customer, "title": "Visit", "starts_at": day.at("15:00"), "ends_at": day.at("16:00")}),
    )
    .await;
    format!("/v1/appointments/{id}")
}

#[tokio::test]
async fn a_stale_if_match_stops_deleting_an_appointment() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let path = appointment(&app, &owner).await;
    let stale = stale_tag(&app, &owner, &path, json!({"title": "Moved"})).await;

    refused_as_stale(with_tag(&app, &owner, Method::DELETE, &path, &stale, None).await).await;
    assert_eq!(read(&app, &owner, &path).await["title"], "Moved");
    let current = etag(&app, &owner, &path).await;
    let deleted = with_tag(&app, &owner, Method::DELETE, &path, &current, None).await;
    assert_eq!(deleted.status(), 204);
}

#[tokio::test]
async fn a_stale_if_match_stops_an_appointments_status_change() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let path = appointment(&app, &owner).await;
    let status = format!("{path}/status");
    let stale = stale_tag(&app, &owner, &path, json!({"title": "Moved"})).await;
    let confirm = || Some(json!({"status": "confirmed"}));

    refused_as_stale(with_tag(&app, &owner, Method::POST, &status, &stale, confirm()).await).await;
    let unchanged = read(&app, &owner, &path).await;
    assert_eq!(unchanged["status"], "scheduled");
    assert_eq!(unchanged["status_history"].as_array().unwrap().len(), 1);
    let current = etag(&app, &owner, &path).await;
    let moved = with_tag(&app, &owner, Method::POST, &status, &current, confirm()).await;
    assert_eq!(moved.status(), 200);
    assert_eq!(read(&app, &owner, &path).await["status"], "confirmed");
}

#[tokio::test]
async fn a_stale_if_match_stops_changing_converting_or_deleting_a_prospect() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let id = created(&app, &owner, "/v1/prospects", json!({"name": "Pat"})).await;
    let path = format!("/v1/prospects/{id}");
    let convert = format!("{path}/convert");
    let stale = stale_tag(&app, &owner, &path, json!({"name": "Pat Lee"})).await;

    let rename = Some(json!({"name": "Someone Else"}));
    refused_as_stale(with_tag(&app, &owner, Method::PATCH, &path, &stale, rename).await).await;
    refused_as_stale(with_tag(&app, &owner, Method::POST, &convert, &stale, None).await).await;
    refused_as_stale(with_tag(&app, &owner, Method::DELETE, &path, &stale, None).await).await;
    let unchanged = read(&app, &owner, &path).await;
    assert_eq!(unchanged["name"], "Pat Lee", "neither renamed nor deleted");
    assert!(unchanged["converted_at"].is_null(), "not converted");

    let current = etag(&app, &owner, &path).await;
    let converted = with_tag(&app, &owner, Method::POST, &convert, &current, None).await;
    assert_eq!(converted.status(), 200);
    let customer = format!("/v1/customers/{id}");
    let current = etag(&app, &owner, &customer).await;
    let deleted = with_tag(&app, &owner, Method::DELETE, &customer, &current, None).await;
    assert_eq!(deleted.status(), 204);

    // The same three on a prospect that is current, for the other two.
    let id = created(&app, &owner, "/v1/prospects", json!({"name": "Quinn"})).await;
    let path = format!("/v1/prospects/{id}");
    let current = etag(&app, &owner, &path).await;
    let renamed = with_tag(
        &app,
        &owner,
        Method::PATCH,
        &path,
        &current,
        Some(json!({"name": "Quinn Ray"})),
    )
    .await;
    assert_eq!(renamed.status(), 200);
    let current = etag(&app, &owner, &path).await;
    let deleted = with_tag(&app, &owner, Method::DELETE, &path, &current, None).await;
    assert_eq!(deleted.status(), 204);
}
