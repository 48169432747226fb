//! The phones page: tracker apps' tokens issued, shown once with their setup,
//! and turned off.

use fieldcrm_test_support::{spawn_app, Signed, TestApp};
use reqwest::Method;
use serde_json::Value;

use super::*;

async fn devices_via_api(app: &TestApp, owner: &Signed, user: &str) -> Vec<Value> {
    let body: Value = app
        .call(
            Method::GET,
            &format!("/v1/users/{user}/devices"),
            &owner.access,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    body["data"].as_array().unwrap().clone()
}

/// The token the setup page shows (in the Traccar server URL's path).
fn token_in(html: &str) -> String {
    let start = html.find("fcrm_dev_").expect("the token in the setup");
    html[start..]
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_technician_adds_their_phone_sees_its_setup_once_and_its_token_sends_positions() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let tech = app.user_with_role(&owner, "technician").await;
    let session = sign_in(&app, &tech.email).await;
    let mine = get_page(&app, "/app/my-devices", &session).await;
    assert_eq!(
        location(&mine),
        format!("/app/users/{}/devices", tech.user_id)
    );
    let path = location(&mine).to_owned();
    let html = page_html(&app, &path, &session).await;
    assert!(html.contains("No phone yet."));
    let token = csrf_of(&html);

    let created = post_form(
        &app,
        &path,
        &session,
        &[("csrf", &token), ("label", "Tom's <Android>")],
    )
    .await;
    assert_eq!(created.status(), 201);
    let setup = created.text().await.unwrap();
    assert!(setup.contains("data:image/png;base64,"), "the QR code");
    assert!(setup.contains("Tom's &lt;Android&gt;"));
    assert!(setup.contains("overland://setup"));
    let device_token = token_in(&setup);

    // The token works on the tracker endpoint, and the list no longer shows it.
    let sent = app
        .client
        .post(app.url(&format!("/v1/ingest/osmand/{device_token}")))
        .form(&[
            ("id", "tom"),
            ("lat", "52.52"),
            ("lon", "13.40"),
            ("timestamp", "1764930000"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 200);
    let list = page_html(&app, &path, &session).await;
    assert!(list.contains("Tom's &lt;Android&gt;"));
    assert!(!list.contains(&device_token), "the token is shown once");
    let devices = devices_via_api(&app, &owner, &tech.user_id).await;
    assert_eq!(devices.len(), 1);
    assert_eq!(
        devices[0]["counters"]["outside_shift"], 1,
        "not clocked in: not kept"
    );

    // Turning it off refuses its positions from then on.
    let id = devices[0]["id"].as_str().unwrap();
    let forged = post_form(
        &app,
        &format!("{path}/{id}/revoke"),
        &session,
        &[("csrf", "x")],
    )
    .await;
    assert_eq!(forged.status(), 403);
    let revoked = post_form(
        &app,
        &format!("{path}/{id}/revoke"),
        &session,
        &[("csrf", &token)],
    )
    .await;
    assert_eq!(revoked.status(), 303);
    let refused = app
        .client
        .post(app.url(&format!("/v1/ingest/osmand/{device_token}")))
        .form(&[
            ("id", "tom"),
            ("lat", "52.52"),
            ("lon", "13.40"),
            ("timestamp", "1764930060"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert!(page_html(&app, &path, &session)
        .await
        .contains("Turned off"));
}

#[tokio::test]
async fn a_technician_cannot_manage_anothers_phones_and_another_account_is_not_found() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let tom = app.user_with_role(&owner, "technician").await;
    let ann = app.user_with_role(&owner, "technician").await;
    let session = sign_in(&app, &tom.email).await;
    let token = csrf_of(
        &page_html(
            &app,
            &format!("/app/users/{}/devices", tom.user_id),
            &session,
        )
        .await,
    );
    let anns = format!("/app/users/{}/devices", ann.user_id);
    assert_eq!(get_page(&app, &anns, &session).await.status(), 403);
    let response = post_form(&app, &anns, &session, &[("csrf", &token), ("label", "x")]).await;
    assert_eq!(response.status(), 403);
    assert!(devices_via_api(&app, &owner, &ann.user_id).await.is_empty());

    // The owner manages anyone's in the account, and no one's elsewhere.
    let owner_session = sign_in(&app, &owner.email).await;
    let users = page_html(&app, "/app/users", &owner_session).await;
    assert!(users.contains(&format!("href=\"/app/users/{}/devices\"", ann.user_id)));
    assert_eq!(get_page(&app, &anns, &owner_session).await.status(), 200);
    let other = app.signup().await;
    let stranger = app.user_with_role(&other, "technician").await;
    let theirs = format!("/app/users/{}/devices", stranger.user_id);
    assert_eq!(get_page(&app, &theirs, &owner_session).await.status(), 404);
    let owner_token = csrf_of(&users);
    let response = post_form(
        &app,
        &theirs,
        &owner_session,
        &[("csrf", &owner_token), ("label", "x")],
    )
    .await;
    assert_eq!(response.status(), 404);
    assert!(devices_via_api(&app, &other, &stranger.user_id)
        .await
        .is_empty());

    // A label the API refuses comes back with its message.
    let response = post_form(
        &app,
        &format!("/app/users/{}/devices", tom.user_id),
        &session,
        &[("csrf", &token), ("label", "   ")],
    )
    .await;
    assert_eq!(response.status(), 422);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("id=\"f-label-error\""));
}
