//! The Google connection page against Google's stand-in: connecting through
//! the consent screen and back, a sync, disconnecting, and who may.

use fieldcrm_test_support::{spawn_app, Signed, TestApp};
use reqwest::header::CONTENT_SECURITY_POLICY;
use reqwest::{Method, Response};
use serde_json::Value;

use super::*;
use crate::google::{google_app, GoogleStandIn, GOOGLE_EMAIL};

const PAGE: &str = "/app/settings/google";

async fn status(app: &TestApp, owner: &Signed) -> Value {
    let response = app
        .call(Method::GET, "/v1/integrations/google", &owner.access, None)
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn policy_of(page: &Response) -> String {
    page.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned()
}

/// Sends the connect form and follows the browser to Google and back: the
/// address of the return page, with Google's answer in its fragment.
async fn consent(app: &TestApp, google: &GoogleStandIn, session: &str, answer: &str) -> String {
    let token = csrf_of(&page_html(app, PAGE, session).await);
    let sent = post_form(
        app,
        &format!("{PAGE}/connect"),
        session,
        &[("csrf", &token), ("send_email", "true")],
    )
    .await;
    assert_eq!(sent.status(), 303);
    let consent_screen = reqwest::Url::parse(location(&sent)).unwrap();
    assert_eq!(
        consent_screen.as_str().split('?').next().unwrap(),
        format!("{}/auth", google.server.uri())
    );
    let state = consent_screen
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let back = app
        .get(&format!(
            "/v1/integrations/google/callback?state={state}&{answer}"
        ))
        .await;
    assert_eq!(back.status(), 303);
    location(&back).to_owned()
}

#[tokio::test]
async fn the_owner_connects_google_from_the_settings_syncs_and_disconnects() {
    let google = GoogleStandIn::start().await;
    google.grant_gmail();
    let app = google_app(&google).await;
    let owner = app.signup().await;
    let session = sign_in(&app, &owner.email).await;

    let settings = page_html(&app, "/app/settings", &session).await;
    assert!(settings.contains(&format!("href=\"{PAGE}\"")));
    let page = get_page(&app, PAGE, &session).await;
    assert_eq!(page.status(), 200);
    // The connect form's answer goes on to Google's consent screen.
    let policy = policy_of(&page);
    assert!(
        policy.contains(&format!("form-action 'self' {};", google.server.uri())),
        "{policy}"
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("No Google account is connected."));
    assert!(html.contains("Connect Google"));

    let back = consent(&app, &google, &session, "code=4/auth-code").await;
    let (return_page, fragment) = back.split_once('#').unwrap();
    assert_eq!(return_page, app.url(&format!("{PAGE}/return")));
    let confirmation = fragment.strip_prefix("google_confirmation=").unwrap();
    assert_eq!(status(&app, &owner).await["connected"], false);

    // The return page's form, which the script fills from the fragment.
    let form = page_html(&app, &format!("{PAGE}/return"), &session).await;
    assert!(form.contains("data-from-fragment=\"google_confirmation google_error\""));
    let finished = post_form(
        &app,
        &format!("{PAGE}/confirm"),
        &session,
        &[
            ("csrf", &csrf_of(&form)),
            ("google_error", ""),
            ("google_confirmation", confirmation),
        ],
    )
    .await;
    assert_eq!(finished.status(), 303);
    assert_eq!(location(&finished), format!("{PAGE}?done=connected"));
    let connected = status(&app, &owner).await;
    assert_eq!(connected["connected"], true);
    assert_eq!(connected["email"], GOOGLE_EMAIL);
    let html = page_html(&app, location(&finished), &session).await;
    assert!(html.contains("Google is connected."));
    assert!(html.contains(GOOGLE_EMAIL));
    assert!(html.contains("Read and write calendar events; Send the account's email through Gmail"));
    assert!(html.contains("Connect again"));

    // A sync now: queued, and done by the worker.
    let token = csrf_of(&html);
    let sync = post_form(&app, &format!("{PAGE}/sync"), &session, &[("csrf", &token)]).await;
    assert_eq!(location(&sync), format!("{PAGE}?done=sync"));
    app.run_jobs().await;
    assert!(status(&app, &owner).await["last_synced_at"].is_string());

    let gone = post_form(
        &app,
        &format!("{PAGE}/disconnect"),
        &session,
        &[("csrf", &token)],
    )
    .await;
    assert_eq!(location(&gone), format!("{PAGE}?done=disconnected"));
    assert_eq!(status(&app, &owner).await["connected"], false);
    let html = page_html(&app, location(&gone), &session).await;
    assert!(html.contains("Google is disconnected."));
    assert!(html.contains("No Google account is connected."));
}

#[tokio::test]
async fn declining_at_google_a_wrong_confirmation_and_a_forged_form_connect_nothing() {
    let google = GoogleStandIn::start().await;
    let app = google_app(&google).await;
    let owner = app.signup().await;
    let session = sign_in(&app, &owner.email).await;
    let token = csrf_of(&page_html(&app, PAGE, &session).await);

    let back = consent(&app, &google, &session, "error=access_denied").await;
    assert_eq!(
        back,
        format!(
            "{}#google_error=access_denied",
            app.url(&format!("{PAGE}/return"))
        )
    );
    let declined = post_form(
        &app,
        &format!("{PAGE}/confirm"),
        &session,
        &[
            ("csrf", &token),
            ("google_error", "access_denied"),
            ("google_confirmation", ""),
        ],
    )
    .await;
    assert_eq!(declined.status(), 400);
    let html = declined.text().await.unwrap();
    assert!(
        html.contains("Google answered `access_denied`; nothing was connected."),
        "{html}"
    );

    let back = consent(&app, &google, &session, "code=4/auth-code").await;
    let confirmation = back
        .split_once("#google_confirmation=")
        .unwrap()
        .1
        .to_owned();
    let wrong = post_form(
        &app,
        &format!("{PAGE}/confirm"),
        &session,
        &[("csrf", &token), ("google_confirmation", "not-the-one")],
    )
    .await;
    assert_eq!(wrong.status(), 400);
    let forged = post_form(
        &app,
        &format!("{PAGE}/confirm"),
        &session,
        &[("google_confirmation", confirmation.as_str())],
    )
    .await;
    assert_eq!(forged.status(), 403);
    assert_eq!(status(&app, &owner).await["connected"], false);
    assert!(google.requests("POST", "/token").await.is_empty());
}

#[tokio::test]
async fn a_dispatcher_sees_the_connection_but_cannot_change_it() {
    let google = GoogleStandIn::start().await;
    let app = google_app(&google).await;
    let owner = app.signup().await;
    let dispatcher = app.user_with_role(&owner, "dispatcher").await;
    let session = sign_in(&app, &dispatcher.email).await;

    let html = page_html(&app, PAGE, &session).await;
    assert!(html.contains("Only an owner or an admin can connect or disconnect Google."));
    assert!(!html.contains("/connect\""));
    let token = csrf_of(&html);
    let refused = post_form(
        &app,
        &format!("{PAGE}/connect"),
        &session,
        &[("csrf", &token)],
    )
    .await;
    assert_eq!(refused.status(), 403);
    assert_eq!(status(&app, &owner).await["connected"], false);
}

#[tokio::test]
async fn without_a_google_client_the_page_says_who_sets_one_up() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let session = sign_in(&app, &owner.email).await;
    let page = get_page(&app, PAGE, &session).await;
    assert_eq!(page.status(), 200);
    let policy = policy_of(&page);
    assert!(policy.contains("form-action 'self';"), "{policy}");
    let html = page.text().await.unwrap();
    assert!(html.contains("This server has no Google OAuth client."));
    assert!(!html.contains("Connect Google"));
}
