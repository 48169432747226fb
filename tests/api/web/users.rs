//! The users page: adding people with a role, changing it, removing them.

use fieldcrm_test_support::{spawn_app, Signed, TestApp, PASSWORD};
use reqwest::Method;
use serde_json::Value;

use super::*;

async fn users_via_api(app: &TestApp, owner: &Signed) -> Vec<Value> {
    let body: Value = app
        .call(Method::GET, "/v1/users", &owner.access, None)
        .await
        .json()
        .await
        .unwrap();
    body["data"].as_array().unwrap().clone()
}

fn by_email<'a>(users: &'a [Value], email: &str) -> Option<&'a Value> {
    users.iter().find(|u| u["email"] == email)
}

async fn users_page(app: &TestApp, session: &str) -> String {
    let page = get_page(app, "/app/users", session).await;
    assert_eq!(page.status(), 200);
    page.text().await.unwrap()
}

#[tokio::test]
async fn an_owner_adds_a_technician_who_can_then_sign_in() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let session = sign_in(&app, &owner.email).await;
    let token = csrf_of(&users_page(&app, &session).await);
    let response = post_form(
        &app,
        "/app/users",
        &session,
        &[
            ("csrf", &token),
            ("name", "Tom <i>Tech</i>"),
            ("email", "tom@acme.example"),
            ("role", "technician"),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/app/users");

    let users = users_via_api(&app, &owner).await;
    let tom = by_email(&users, "tom@acme.example").expect("the new user");
    assert_eq!(tom["role"], "technician");
    assert_eq!(tom["has_password"], true);
    let html = users_page(&app, &session).await;
    assert!(
        html.contains("Tom &lt;i&gt;Tech&lt;/i&gt;"),
        "names are text"
    );

    // They sign in with the password given, and start on their day.
    let tom_session = sign_in(&app, "tom@acme.example").await;
    let home = get_page(&app, "/app/", &tom_session).await;
    assert_eq!(location(&home), "/app/today");
}

#[tokio::test]
async fn a_refused_user_shows_the_apis_messages_and_keeps_what_was_typed() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let session = sign_in(&app, &owner.email).await;
    let token = csrf_of(&users_page(&app, &session).await);
    let response = post_form(
        &app,
        "/app/users",
        &session,
        &[
            ("csrf", &token),
            ("name", "Tom Tech"),
            ("email", "not an address"),
            ("role", "dispatcher"),
            ("password", "short"),
        ],
    )
    .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(html.contains("id=\"f-email-error\"") && html.contains("id=\"f-password-error\""));
    assert!(html.contains("value=\"Tom Tech\"") && html.contains("value=\"not an address\""));
    assert!(
        html.contains("value=\"dispatcher\" selected"),
        "the role chosen stays chosen"
    );
    assert_eq!(users_via_api(&app, &owner).await.len(), 1, "nobody added");

    // An address in use is said beside the email field.
    let response = post_form(
        &app,
        "/app/users",
        &session,
        &[
            ("csrf", &token),
            ("name", "Dana Again"),
            ("email", &owner.email),
            ("role", "admin"),
            ("password", ""),
        ],
    )
    .await;
    assert_eq!(response.status(), 409);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("id=\"f-email-error\""));
}

#[tokio::test]
async fn changing_a_role_and_removing_a_user_take_effect_at_once() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let tech = app.user_with_role(&owner, "technician").await;
    let tech_session = sign_in(&app, &tech.email).await;
    let session = sign_in(&app, &owner.email).await;
    let token = csrf_of(&users_page(&app, &session).await);

    let response = post_form(
        &app,
        &format!("/app/users/{}/role", tech.user_id),
        &session,
        &[("csrf", &token), ("role", "dispatcher")],
    )
    .await;
    assert_eq!(response.status(), 303);
    let users = users_via_api(&app, &owner).await;
    assert_eq!(by_email(&users, &tech.email).unwrap()["role"], "dispatcher");

    // A forged removal changes nothing; the real one ends their session.
    let forged = post_form(
        &app,
        &format!("/app/users/{}/remove", tech.user_id),
        &session,
        &[("csrf", "forged")],
    )
    .await;
    assert_eq!(forged.status(), 403);
    assert!(by_email(&users_via_api(&app, &owner).await, &tech.email).is_some());
    let removed = post_form(
        &app,
        &format!("/app/users/{}/remove", tech.user_id),
        &session,
        &[("csrf", &token)],
    )
    .await;
    assert_eq!(removed.status(), 303);
    assert!(by_email(&users_via_api(&app, &owner).await, &tech.email).is_none());
    let after = get_page(&app, "/app/", &tech_session).await;
    assert_eq!(location(&after), "/app/sign-in");
}

#[tokio::test]
async fn only_owners_and_admins_manage_users_and_another_accounts_user_is_not_found() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let dispatcher = app.user_with_role(&owner, "dispatcher").await;
    let session = sign_in(&app, &dispatcher.email).await;
    assert_eq!(get_page(&app, "/app/users", &session).await.status(), 403);
    let customers = page_html(&app, "/app/customers", &session).await;
    assert!(
        !customers.contains("href=\"/app/users\""),
        "the navigation offers only what the role may open"
    );

    let other = app.signup().await;
    let stranger = app.user_with_role(&other, "technician").await;
    let owner_session = sign_in(&app, &owner.email).await;
    let token = csrf_of(&users_page(&app, &owner_session).await);
    for action in ["role", "remove"] {
        let response = post_form(
            &app,
            &format!("/app/users/{}/{action}", stranger.user_id),
            &owner_session,
            &[("csrf", &token), ("role", "admin")],
        )
        .await;
        assert_eq!(response.status(), 404, "{action}");
    }
    assert_eq!(
        by_email(&users_via_api(&app, &other).await, &stranger.email).unwrap()["role"],
        "technician"
    );

    // An admin may not make an owner: the API's refusal, on a page.
    let admin = app.user_with_role(&owner, "admin").await;
    let admin_session = sign_in(&app, &admin.email).await;
    let token = csrf_of(&users_page(&app, &admin_session).await);
    let response = post_form(
        &app,
        &format!("/app/users/{}/role", dispatcher.user_id),
        &admin_session,
        &[("csrf", &token), ("role", "owner")],
    )
    .await;
    assert_eq!(response.status(), 403);
    assert_eq!(
        by_email(&users_via_api(&app, &owner).await, &dispatcher.email).unwrap()["role"],
        "dispatcher"
    );
}
