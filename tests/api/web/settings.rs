//! The settings page.

use fieldcrm_test_support::{spawn_app, Signed, TestApp};
use reqwest::Method;
use serde_json::Value;

use super::*;

async fn account_via_api(app: &TestApp, owner: &Signed) -> Value {
    app.call(Method::GET, "/v1/account", &owner.access, None)
        .await
        .json()
        .await
        .unwrap()
}

/// The settings form as the page filled it, with `changes` over it.
fn filled<'a>(page: &'a str, changes: &[(&'a str, &'a str)]) -> Vec<(String, String)> {
    let start = page
        .find("action=\"/app/settings\"")
        .expect("the settings form");
    let html = page[start..].split("</form>").next().unwrap();
    let mut form: Vec<(String, String)> = Vec::new();
    for piece in html.split("<input").skip(1) {
        let attr = |name: &str| {
            let marker = format!("{name}=\"");
            piece
                .split('>')
                .next()
                .and_then(|tag| tag.find(&marker).map(|i| &tag[i + marker.len()..]))
                .and_then(|rest| rest.split('"').next())
                .map(|v| v.replace("&amp;", "&").replace("&quot;", "\""))
        };
        if let (Some(name), Some(value)) = (attr("name"), attr("value")) {
            form.push((name, value));
        }
    }
    for piece in html.split("<select").skip(1) {
        let name = piece
            .split("name=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let chosen = piece
            .split("</select>")
            .next()
            .unwrap()
            .split("<option")
            .find(|o| o.contains(" selected"))
            .and_then(|o| o.split("value=\"").nth(1))
            .map(|v| v.split('"').next().unwrap().to_owned())
            .unwrap_or_default();
        form.push((name.to_owned(), chosen));
    }
    for piece in html.split("<textarea").skip(1) {
        let name = piece
            .split("name=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let text = piece
            .split_once('>')
            .unwrap()
            .1
            .split("</textarea>")
            .next()
            .unwrap();
        form.push((
            name.to_owned(),
            text.replace("&amp;", "&").replace("&lt;", "<"),
        ));
    }
    for (name, value) in changes {
        form.retain(|(n, _)| n != name);
        form.push(((*name).to_owned(), (*value).to_owned()));
    }
    form
}

async fn post(app: &TestApp, session: &str, form: &[(String, String)]) -> reqwest::Response {
    let pairs: Vec<(&str, &str)> = form.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    post_form(app, "/app/settings", session, &pairs).await
}

#[tokio::test]
async fn the_owner_changes_the_time_zone_quiet_hours_reminders_and_a_template() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let session = sign_in(&app, &owner.email).await;
    let page = get_page(&app, "/app/settings", &session).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("value=\"America/Chicago\""));

    let form = filled(
        &html,
        &[
            ("time_zone", "Europe/Berlin"),
            ("quiet_hours_start", "20:30"),
            ("quiet_hours_end", "07:15"),
            ("reminder_channel_0", "sms"),
            ("reminder_minutes_0", "120"),
            ("reminder_channel_1", "email"),
            ("reminder_minutes_1", "1440"),
            ("reminder_channel_2", ""),
            ("template_on_my_way", "{business_name}: on the way to you"),
            ("ping_retention_days", "30"),
        ],
    );
    let response = post(&app, &session, &form).await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/app/settings?saved=1");

    let account = account_via_api(&app, &owner).await;
    assert_eq!(account["time_zone"], "Europe/Berlin");
    assert_eq!(account["quiet_hours_start"], "20:30");
    assert_eq!(account["quiet_hours_end"], "07:15");
    assert_eq!(account["ping_retention_days"], 30);
    let reminders = account["default_reminders"].as_array().unwrap();
    assert_eq!(reminders.len(), 2);
    assert_eq!(reminders[0]["channel"], "sms");
    assert_eq!(reminders[0]["minutes_before"], 120);
    assert_eq!(reminders[1]["minutes_before"], 1440);
    assert_eq!(
        account["message_templates"]["on_my_way"],
        "{business_name}: on the way to you"
    );
    let saved = page_html(&app, "/app/settings?saved=1", &session).await;
    assert!(saved.contains("The settings are saved."));
    assert!(saved.contains("value=\"Europe/Berlin\""));
}

#[tokio::test]
async fn refused_settings_show_the_apis_messages_keep_what_was_typed_and_change_nothing() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let before = account_via_api(&app, &owner).await;
    let session = sign_in(&app, &owner.email).await;
    let html = page_html(&app, "/app/settings", &session).await;
    let form = filled(
        &html,
        &[
            ("time_zone", "Mars/Olympus"),
            ("reminder_channel_0", ""),
            ("reminder_channel_1", "sms"),
            ("reminder_minutes_1", "99999"),
            ("template_reminder", "Hi {nobody}"),
            ("ping_retention_days", "a month"),
        ],
    );
    let response = post(&app, &session, &form).await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(html.contains("id=\"f-ping_retention_days-error\""));
    assert!(html.contains("value=\"a month\""));

    let form = filled(&html, &[("ping_retention_days", "30")]);
    let response = post(&app, &session, &form).await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(html.contains("id=\"f-time_zone-error\"") && html.contains("value=\"Mars/Olympus\""));
    assert!(html.contains("id=\"f-template_reminder-error\""), "{html}");
    assert!(html.contains("Hi {nobody}"));
    assert!(
        html.contains("id=\"reminder-1-error\""),
        "the reminder's message is on the row it was typed in"
    );
    assert_eq!(account_via_api(&app, &owner).await, before);
}

#[tokio::test]
async fn a_dispatcher_sees_the_settings_but_cannot_change_them() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let before = account_via_api(&app, &owner).await;
    let dispatcher = app.user_with_role(&owner, "dispatcher").await;
    let session = sign_in(&app, &dispatcher.email).await;
    let page = get_page(&app, "/app/settings", &session).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Only an owner or an admin can change these."));
    assert!(!html.contains("Save the settings"));
    let form = filled(&html, &[("time_zone", "Europe/Berlin")]);
    let response = post(&app, &session, &form).await;
    assert_eq!(response.status(), 403);
    assert_eq!(account_via_api(&app, &owner).await, before);

    let tech = app.user_with_role(&owner, "technician").await;
    let tech_session = sign_in(&app, &tech.email).await;
    assert_eq!(
        get_page(&app, "/app/settings", &tech_session)
            .await
            .status(),
        403
    );
}
