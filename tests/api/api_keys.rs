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

/// A key names the person who made it, and does not outlive their right to
/// make it: removing them, or giving them a role that may not manage keys,
/// revokes their keys in the same change. Keys made by others go on.
#[tokio::test]
async fn a_key_ends_when_its_creator_is_removed_or_may_no_longer_manage_keys() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let (_, owners_key) = app.api_key(&owner, "read").await;
    let demoted = app.user_with_role(&owner, "admin").await;
    let removed = app.user_with_role(&owner, "admin").await;
    let kept = app.user_with_role(&owner, "admin").await;
    let (demoted_key_id, demoted_key) = app.api_key(&demoted, "write").await;
    let (_, removed_key) = app.api_key(&removed, "read").await;
    let (_, kept_key) = app.api_key(&kept, "read").await;

    let list: Value = app
        .call(Method::GET, "/v1/api-keys", &owner.access, None)
        .await
        .json()
        .await
        .unwrap();
    let shown = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == demoted_key_id.as_str())
        .expect("the key is listed")
        .clone();
    assert_eq!(shown["created_by"], demoted.user_id.as_str(), "{shown}");

    let me = |key: String| app.authed(Method::GET, "/v1/me", &key).send();
    for key in [&owners_key, &demoted_key, &removed_key, &kept_key] {
        assert_eq!(me(key.clone()).await.unwrap().status(), 200);
    }

    let demote = app
        .call(
            Method::PATCH,
            &format!("/v1/users/{}", demoted.user_id),
            &owner.access,
            Some(json!({"role": "dispatcher"})),
        )
        .await;
    assert_eq!(demote.status(), 200);
    let remove = app
        .call(
            Method::DELETE,
            &format!("/v1/users/{}", removed.user_id),
            &owner.access,
            None,
        )
        .await;
    assert_eq!(remove.status(), 204);
    // A new role that may still manage keys keeps them.
    let promote = app
        .call(
            Method::PATCH,
            &format!("/v1/users/{}", kept.user_id),
            &owner.access,
            Some(json!({"role": "owner"})),
        )
        .await;
    assert_eq!(promote.status(), 200);

    assert_eq!(me(demoted_key).await.unwrap().status(), 401);
    assert_eq!(me(removed_key).await.unwrap().status(), 401);
    assert_eq!(me(kept_key).await.unwrap().status(), 200);
    assert_eq!(me(owners_key).await.unwrap().status(), 200);

    let audit: Value = app
        .call(
            Method::GET,
            "/v1/audit?action=api_key.revoked",
            &owner.access,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(audit["data"].as_array().unwrap().len(), 2, "{audit}");
}
