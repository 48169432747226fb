use fieldcrm_test_support::{problem, spawn_app};
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn a_key_is_shown_once_works_as_bearer_and_stops_when_revoked() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let created = app
        .authed(Method::POST, "/v1/api-keys", &owner.access)
        .json(&json!({"name": "Accounting sync", "scope": "read"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("fcrm_key_"), "recognisable prefix");
    assert!(secret.len() > 40);
    assert!(secret.starts_with(created["prefix"].as_str().unwrap()));

    let me = app
        .authed(Method::GET, "/v1/me", &secret)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["api_key"]["id"], created["id"]);
    assert_eq!(me["account"]["id"].as_str().unwrap(), owner.account_id);
    assert!(me["user"].is_null());

    let list: Value = app
        .authed(Method::GET, "/v1/api-keys", &owner.access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = &list["data"][0];
    assert_eq!(listed["name"], "Accounting sync");
    assert_eq!(listed["scope"], "read");
    assert!(
        listed["last_used_at"].is_string(),
        "use was recorded: {listed}"
    );
    assert!(listed.get("secret").is_none());
    assert!(!list.to_string().contains(&secret));

    let revoked = app
        .authed(
            Method::DELETE,
            &format!("/v1/api-keys/{}", created["id"].as_str().unwrap()),
            &owner.access,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
    let after = app
        .authed(Method::GET, "/v1/me", &secret)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 401);
    problem(after).await;
}

#[tokio::test]
async fn a_scope_must_be_read_or_write() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let response = app
        .authed(Method::POST, "/v1/api-keys", &owner.access)
        .json(&json!({"name": "x", "scope": "admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    assert_eq!(problem(response).await["errors"][0]["field"], "scope");
}

#[tokio::test]
async fn a_key_cannot_end_a_session_or_manage_keys() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let (_, key) = app.api_key(&owner, "write").await;
    let logout = app
        .authed(Method::POST, "/v1/auth/logout", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 403);
    let create = app
        .authed(Method::POST, "/v1/api-keys", &key)
        .json(&json!({"name": "escalate", "scope": "write"}))
        .send()
        .await
        .unwrap();
    assert_eq!(create.status(), 403);
}
