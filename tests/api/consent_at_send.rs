//! Consent is checked when a message is sent, whatever made the message: an
//! email whose person unsubscribed by the one-click link after it was queued,
//! reminders to someone who never agreed or who withdrew before the reminder
//! came due, and the confirmation and "on my way" messages. Each ends
//! `suppressed` (`no_consent`) and neither stand-in receives anything.

use chrono::{Duration, Utc};
use fieldcrm_test_support::{Signed, SmtpStandIn, TestApp};
use reqwest::Method;
use serde_json::{json, Value};
use wiremock::MockServer;

use crate::messages::{
    app_with, consent, customer, message, owner, queued, sends, twilio, MAIL_TOKEN, MAIL_USER,
};

/// An app with both channels pointed at their stand-ins.
async fn both_channels() -> (TestApp, MockServer, SmtpStandIn) {
    let twilio = twilio().await;
    let smtp = SmtpStandIn::start(MAIL_USER, MAIL_TOKEN).await;
    let app = app_with(&twilio, Some(&smtp), 8).await;
    (app, twilio, smtp)
}

const PERSON: &str =
    r#"{"name": "Noor Haddad", "phone": "+1 512 555 0161", "email": "noor@example.net"}"#;

/// Books `person` at `starts`, for an hour, with these reminders.
async fn book(
    app: &TestApp,
    who: &Signed,
    person: &str,
    starts: chrono::DateTime<Utc>,
    reminders: Value,
) -> String {
    let response = app
        .call(
            Method::POST,
            "/v1/appointments",
            &who.access,
            Some(json!({"customer_id": person, "title": "Boiler service",
                "starts_at": starts.to_rfc3339(), "ends_at": (starts + Duration::hours(1)).to_rfc3339(),
                "reminders": reminders})),
        )
        .await;
    assert_eq!(response.status(), 201);
    response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The messages logged for the appointment: `(kind, channel, status, reason)`, sorted.
async fn logged(app: &TestApp, who: &Signed, appointment: &str) -> Vec<[String; 4]> {
    let response = app
        .call(
            Method::GET,
            &format!("/v1/messages?appointment_id={appointment}"),
            &who.access,
            None,
        )
        .await;
    assert_eq!(response.status(), 200);
    let page: Value = response.json().await.unwrap();
    let mut rows: Vec<[String; 4]> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            ["kind", "channel", "status", "status_reason"]
                .map(|field| m[field].as_str().unwrap_or_default().to_owned())
        })
        .collect();
    rows.sort();
    rows
}

fn row(kind: &str, channel: &str) -> [String; 4] {
    [kind, channel, "suppressed", "no_consent"].map(str::to_owned)
}

async fn both_reminders_suppressed(
    app: &TestApp,
    who: &Signed,
    appointment: &str,
    twilio: &MockServer,
    smtp: &SmtpStandIn,
) {
    assert_eq!(
        logged(app, who, appointment).await,
        [row("reminder", "email"), row("reminder", "sms")]
    );
    nothing_reached_anyone(twilio, smtp).await;
}

async fn nothing_reached_anyone(twilio: &MockServer, smtp: &SmtpStandIn) {
    assert!(sends(twilio).await.is_empty(), "Twilio got a message");
    assert!(smtp.received().is_empty(), "the mail server got a message");
}

async fn move_to(app: &TestApp, who: &Signed, appointment: &str, status: &str) {
    let response = app
        .call(
            Method::POST,
            &format!("/v1/appointments/{appointment}/status"),
            &who.access,
            Some(json!({"status": status})),
        )
        .await;
    assert_eq!(response.status(), 200, "{status}");
}

#[tokio::test]
async fn an_email_unsubscribed_by_its_one_click_link_after_queueing_is_not_sent() {
    let (app, twilio, smtp) = both_channels().await;
    let owner = owner(&app).await;
    let noor = customer(
        &app,
        &owner,
        serde_json::from_str(PERSON).unwrap(),
        &["email"],
    )
    .await;
    let id = queued(
        &app,
        &owner,
        json!({"customer_id": noor, "channel": "email", "subject": "Your quote", "body": "Here it is."}),
    )
    .await;

    // The link every email of hers carries, clicked before the worker ran.
    let token = app.state.tokens.unsubscribe_token(noor.parse().unwrap());
    let click = app
        .client
        .post(app.url(&format!("/v1/unsubscribe?token={token}")))
        .form(&[("List-Unsubscribe", "One-Click")])
        .send()
        .await
        .unwrap();
    assert_eq!(click.status(), 200);
    app.run_jobs().await;

    let log = message(&app, &owner, &id).await;
    assert_eq!(
        (log["status"].as_str(), log["status_reason"].as_str()),
        (Some("suppressed"), Some("no_consent")),
        "{log}"
    );
    nothing_reached_anyone(&twilio, &smtp).await;
}

#[tokio::test]
async fn reminders_to_someone_who_never_consented_are_suppressed() {
    let (app, twilio, smtp) = both_channels().await;
    let owner = owner(&app).await;
    let noor = customer(&app, &owner, serde_json::from_str(PERSON).unwrap(), &[]).await;
    // Both came due an hour ago; the visit is still two hours ahead.
    let appointment = book(
        &app,
        &owner,
        &noor,
        Utc::now() + Duration::hours(2),
        json!([{"channel": "sms", "minutes_before": 180}, {"channel": "email", "minutes_before": 180}]),
    )
    .await;
    app.run_jobs().await;

    both_reminders_suppressed(&app, &owner, &appointment, &twilio, &smtp).await;
}

#[tokio::test]
async fn consent_withdrawn_before_a_reminder_is_due_suppresses_it() {
    let (app, twilio, smtp) = both_channels().await;
    let owner = owner(&app).await;
    let noor = customer(
        &app,
        &owner,
        serde_json::from_str(PERSON).unwrap(),
        &["sms", "email"],
    )
    .await;
    // Due in an hour: nothing goes out yet.
    let appointment = book(
        &app,
        &owner,
        &noor,
        Utc::now() + Duration::hours(2),
        json!([{"channel": "sms", "minutes_before": 60}, {"channel": "email", "minutes_before": 60}]),
    )
    .await;
    app.run_jobs().await;
    assert_eq!(
        logged(&app, &owner, &appointment).await,
        Vec::<[String; 4]>::new()
    );

    // She withdraws both; then the visit moves so close that both are due.
    consent(&app, &owner, &noor, "sms", "opted_out").await;
    consent(&app, &owner, &noor, "email", "opted_out").await;
    let soon = Utc::now() + Duration::minutes(30);
    let moved = app
        .call(
            Method::PATCH,
            &format!("/v1/appointments/{appointment}"),
            &owner.access,
            Some(json!({"starts_at": soon.to_rfc3339(), "ends_at": (soon + Duration::hours(1)).to_rfc3339()})),
        )
        .await;
    assert_eq!(moved.status(), 200);
    app.run_jobs().await;

    both_reminders_suppressed(&app, &owner, &appointment, &twilio, &smtp).await;
}

#[tokio::test]
async fn confirmation_and_on_my_way_reach_nobody_without_consent() {
    let (app, twilio, smtp) = both_channels().await;
    let owner = owner(&app).await;
    let starts = Utc::now() + Duration::days(2);

    // Never asked: confirming and setting off queue nothing at all.
    let never = customer(&app, &owner, serde_json::from_str(PERSON).unwrap(), &[]).await;
    let first = book(&app, &owner, &never, starts, json!([])).await;
    move_to(&app, &owner, &first, "confirmed").await;
    move_to(&app, &owner, &first, "en_route").await;
    app.run_jobs().await;
    assert_eq!(
        logged(&app, &owner, &first).await,
        Vec::<[String; 4]>::new()
    );

    // Agreed when both were queued, withdrew before the worker got to them.
    let later = customer(
        &app,
        &owner,
        json!({"name": "Ravi Menon", "phone": "+1 512 555 0162"}),
        &["sms"],
    )
    .await;
    let second = book(&app, &owner, &later, starts + Duration::hours(3), json!([])).await;
    move_to(&app, &owner, &second, "confirmed").await;
    move_to(&app, &owner, &second, "en_route").await;
    consent(&app, &owner, &later, "sms", "opted_out").await;
    app.run_jobs().await;
    assert_eq!(
        logged(&app, &owner, &second).await,
        [row("confirmation", "sms"), row("on_my_way", "sms")]
    );
    nothing_reached_anyone(&twilio, &smtp).await;
}
