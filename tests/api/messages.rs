//! SMS and email end to end: the outbox, Twilio (a wiremock stand-in that speaks
//! its Messages API), a real SMTP server on loopback, webhooks, consent, quiet
//! hours, reminders, retries, and two worker processes sharing one database.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{Timelike, Utc};
use fieldcrm_test_support::{problem, spawn_app_with, Signed, SmtpStandIn, TestApp};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{json, Value};
use wiremock::matchers::{basic_auth, body_string_contains, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

pub(crate) const SID: &str = "AC00000000000000000000000000000001";
pub(crate) const AUTH_TOKEN: &str = "twilio-auth-token-for-tests";
pub(crate) const FROM: &str = "+15005550006";
pub(crate) const MAIL_USER: &str = "office@example.com";
pub(crate) const MAIL_TOKEN: &str = "ya29.access-token-for-tests";

pub(crate) fn messages_path() -> String {
    format!("/2010-04-01/Accounts/{SID}/Messages.json")
}

/// Twilio's stand-in: every send gets a new `SM...` id, like the real API.
pub(crate) async fn twilio() -> MockServer {
    let server = MockServer::start().await;
    let counter = Arc::new(AtomicUsize::new(0));
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .and(basic_auth(SID, AUTH_TOKEN))
        .respond_with(move |_: &Request| {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            ResponseTemplate::new(201)
                .set_body_json(json!({"sid": format!("SM{n:032}"), "status": "queued"}))
        })
        .mount(&server)
        .await;
    server
}

pub(crate) async fn app_with(
    twilio: &MockServer,
    smtp: Option<&SmtpStandIn>,
    max_attempts: u32,
) -> TestApp {
    app_with_settings(twilio, smtp, max_attempts, |_| {}).await
}

/// Channels pointed at the stand-ins, then `customize`.
pub(crate) async fn app_with_settings(
    twilio: &MockServer,
    smtp: Option<&SmtpStandIn>,
    max_attempts: u32,
    customize: impl FnOnce(&mut fieldcrm::Settings),
) -> TestApp {
    let twilio_url = twilio.uri();
    let smtp_port = smtp.map(|s| s.port);
    spawn_app_with(move |s| {
        s.twilio_api_base_url = twilio_url;
        s.twilio_account_sid = Some(SID.into());
        s.twilio_auth_token = Some(SecretString::from(AUTH_TOKEN));
        s.twilio_from = Some(FROM.into());
        s.job_max_attempts = max_attempts;
        if let Some(port) = smtp_port {
            s.smtp_host = Some("127.0.0.1".into());
            s.smtp_port = port;
            s.smtp_tls = fieldcrm::config::SmtpTlsMode::None;
            s.smtp_username = Some(MAIL_USER.into());
            s.smtp_oauth2_token = Some(SecretString::from(MAIL_TOKEN));
            s.email_from = Some(MAIL_USER.into());
        }
        customize(s);
    })
    .await
}

/// An account whose quiet hours are off, so tests do not depend on the hour.
pub(crate) async fn owner(app: &TestApp) -> Signed {
    let owner = app.signup().await;
    set_account(
        app,
        &owner,
        json!({"quiet_hours_start": "00:00", "quiet_hours_end": "00:00"}),
    )
    .await;
    owner
}

pub(crate) async fn set_account(app: &TestApp, who: &Signed, body: Value) -> Value {
    let response = app
        .call(Method::PATCH, "/v1/account", &who.access, Some(body))
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// A customer who opted in on the given channels.
pub(crate) async fn customer(
    app: &TestApp,
    who: &Signed,
    body: Value,
    opted_in: &[&str],
) -> String {
    let response = app
        .call(Method::POST, "/v1/customers", &who.access, Some(body))
        .await;
    assert_eq!(response.status(), 201);
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for channel in opted_in {
        consent(app, who, &id, channel, "opted_in").await;
    }
    id
}

pub(crate) async fn consent(app: &TestApp, who: &Signed, id: &str, channel: &str, status: &str) {
    consent_from(app, who, id, channel, status, "form").await;
}

async fn consent_from(
    app: &TestApp,
    who: &Signed,
    id: &str,
    channel: &str,
    status: &str,
    source: &str,
) {
    let response = app
        .call(
            Method::POST,
            &format!("/v1/customers/{id}/consent"),
            &who.access,
            Some(json!({"channel": channel, "status": status, "source": source})),
        )
        .await;
    assert_eq!(response.status(), 201);
}

async fn consent_history(app: &TestApp, who: &Signed, id: &str) -> Vec<Value> {
    let response = app
        .call(
            Method::GET,
            &format!("/v1/customers/{id}/consent"),
            &who.access,
            None,
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["history"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("a consent history: {body}"))
}

async fn send(app: &TestApp, who: &Signed, body: Value) -> reqwest::Response {
    app.call(Method::POST, "/v1/messages", &who.access, Some(body))
        .await
}

pub(crate) async fn queued(app: &TestApp, who: &Signed, body: Value) -> String {
    let response = send(app, who, body).await;
    assert_eq!(response.status(), 202);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "queued");
    assert_eq!(
        location,
        format!("/v1/messages/{}", body["id"].as_str().unwrap())
    );
    body["id"].as_str().unwrap().to_owned()
}

pub(crate) async fn message(app: &TestApp, who: &Signed, id: &str) -> Value {
    let response = app
        .call(
            Method::GET,
            &format!("/v1/messages/{id}"),
            &who.access,
            None,
        )
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn form(request: &Request) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(&request.body).unwrap()
}

pub(crate) fn field(form: &[(String, String)], name: &str) -> Option<String> {
    form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

pub(crate) async fn sends(server: &MockServer) -> Vec<Vec<(String, String)>> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == messages_path())
        .map(form)
        .collect()
}

/// Posts a webhook form as Twilio would, signed unless `signature` says otherwise.
pub(crate) async fn webhook(
    app: &TestApp,
    hook: &str,
    params: &[(&str, &str)],
    signature: Option<&str>,
) -> reqwest::Response {
    let path = format!("/v1/webhooks/twilio/{hook}");
    let owned: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let signed = fieldcrm_notify::twilio_signature::sign(AUTH_TOKEN, &app.url(&path), &owned);
    let mut request = app.client.post(app.url(&path)).form(&owned);
    match signature {
        Some("") => {}
        Some(other) => request = request.header("X-Twilio-Signature", other),
        None => request = request.header("X-Twilio-Signature", signed),
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn an_sms_goes_out_through_twilio_once_with_the_fields_it_expects() {
    let twilio = twilio().await;
    let app = app_with(&twilio, None, 8).await;
    let owner = owner(&app).await;
    let ana = customer(
        &app,
        &owner,
        json!({"name": "Ana Lima", "phone": "+1 512 555 0101"}),
        &["sms"],
    )
    .await;

    let body = json!({"customer_id": ana, "channel": "sms", "body": "Your quote is ready."});
    let first = app
        .authed(Method::POST, "/v1/messages", &owner.access)
        .header("Idempotency-Key", "quote-ready-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 202);
    let id = first.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let again = app
        .authed(Method::POST, "/v1/messages", &owner.access)
        .header("Idempotency-Key", "quote-ready-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 202);
    assert_eq!(again.headers()["idempotency-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap()["id"], id.as_str());

    app.run_jobs().await;
    let requests = twilio.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1, "one message, one send");
    let auth = requests[0]
        .headers
        .get("authorization")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(auth.starts_with("Basic "), "{auth}");
    let sent = form(&requests[0]);
    assert_eq!(field(&sent, "To").as_deref(), Some("+15125550101"));
    assert_eq!(field(&sent, "From").as_deref(), Some(FROM));
    assert_eq!(
        field(&sent, "Body").as_deref(),
        Some("Your quote is ready.")
    );
    assert_eq!(
        field(&sent, "StatusCallback"),
        Some(app.url("/v1/webhooks/twilio/status"))
    );

    let log = message(&app, &owner, &id).await;
    assert_eq!(log["status"], "sent", "{log}");
    assert_eq!(log["recipient"], "+15125550101");
    assert_eq!(log["attempts"], 1);
    assert!(log["sent_at"].is_string());
    let list: Value = app
        .call(
            Method::GET,
            "/v1/messages?channel=sms&status=sent",
            &owner.access,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    let none: Value = app
        .call(
            Method::GET,
            "/v1/messages?status=failed",
            &owner.access,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(none["data"].as_array().unwrap().is_empty());
    let bad = app
        .call(Method::GET, "/v1/messages?status=lost", &owner.access, None)
        .await;
    assert_eq!(problem(bad).await["status"], 422);
}

#[tokio::test]
async fn consent_is_required_up_front_and_checked_again_when_sending() {
    let twilio = twilio().await;
    let app = app_with(&twilio, None, 8).await;
    let owner = owner(&app).await;
    let bo = customer(
        &app,
        &owner,
        json!({"name": "Bo", "phone": "+1 512 555 0102"}),
        &[],
    )
    .await;

    let refused = send(
        &app,
        &owner,
        json!({"customer_id": bo, "channel": "sms", "body": "Hi"}),
    )
    .await;
    assert_eq!(refused.status(), 422);
    assert_eq!(problem(refused).await["code"], "consent_required");
    let log: Value = app
        .call(Method::GET, "/v1/messages", &owner.access, None)
        .await
        .json()
        .await
        .unwrap();
    assert!(log["data"].as_array().unwrap().is_empty(), "nothing queued");

    // Opted in when queued, withdrawn before the worker got to it.
    consent(&app, &owner, &bo, "sms", "opted_in").await;
    let id = queued(
        &app,
        &owner,
        json!({"customer_id": bo, "channel": "sms", "body": "Hi"}),
    )
    .await;
    consent(&app, &owner, &bo, "sms", "opted_out").await;
    app.run_jobs().await;
    let log = message(&app, &owner, &id).await;
    assert_eq!(log["status"], "suppressed", "{log}");
    assert_eq!(log["status_reason"], "no_consent");
    assert!(sends(&twilio).await.is_empty(), "nothing reached Twilio");

    let technician = app.user_with_role(&owner, "technician").await;
    let forbidden = send(
        &app,
        &technician,
        json!({"customer_id": bo, "channel": "sms", "body": "Hi"}),
    )
    .await;
    assert_eq!(forbidden.status(), 403);
    let invalid = send(
        &app,
        &owner,
        json!({"customer_id": bo, "channel": "fax", "body": "", "subject": "x"}),
    )
    .await;
    let invalid = problem(invalid).await;
    assert_eq!(invalid["status"], 422);
    let fields: Vec<&str> = invalid["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"channel"), "{invalid}");
    let long = send(
        &app,
        &owner,
        json!({"customer_id": bo, "channel": "sms", "body": "x".repeat(1601)}),
    )
    .await;
    assert_eq!(problem(long).await["errors"][0]["field"], "body");
}

#[tokio::test]
async fn twilio_errors_decide_between_opt_out_failure_and_retry() {
    let twilio = MockServer::start().await;
    let error = |status: u16, code: u32| {
        ResponseTemplate::new(status).set_body_json(json!({
            "code": code, "message": "refused", "more_info": "https://www.twilio.com/docs/errors", "status": status
        }))
    };
    let to = |number: &str| body_string_contains(format!("To=%2B{number}"));
    Mock::given(method("POST"))
        .and(to("15125550111"))
        .respond_with(error(400, 21610))
        .mount(&twilio)
        .await;
    Mock::given(method("POST"))
        .and(to("15125550112"))
        .respond_with(error(400, 21211))
        .mount(&twilio)
        .await;
    // Rate-limited once, then accepted.
    Mock::given(method("POST"))
        .and(to("15125550113"))
        .respond_with(error(429, 20429))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&twilio)
        .await;
    Mock::given(method("POST"))
        .and(to("15125550113"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"sid": "SM113"})))
        .with_priority(2)
        .mount(&twilio)
        .await;
    Mock::given(method("POST"))
        .and(to("15125550114"))
        .respond_with(error(500, 20500))
        .mount(&twilio)
        .await;

    let app = app_with(&twilio, None, 3).await;
    let owner = owner(&app).await;
    let mut ids = Vec::new();
    for n in 111..=114 {
        let who = customer(
            &app,
            &owner,
            json!({"name": format!("C{n}"), "phone": format!("+1 512 555 0{n}")}),
            &["sms"],
        )
        .await;
        let id = queued(
            &app,
            &owner,
            json!({"customer_id": who, "channel": "sms", "body": "Hello"}),
        )
        .await;
        ids.push((who, id));
    }
    app.run_jobs().await;
    let sent = sends(&twilio).await;
    let count = |number: &str| {
        sent.iter()
            .filter(|f| field(f, "To").as_deref() == Some(number))
            .count()
    };

    // 21610: the recipient texted STOP to the carrier; recorded as an opt-out.
    let unsubscribed = message(&app, &owner, &ids[0].1).await;
    assert_eq!(unsubscribed["status"], "failed");
    assert_eq!(unsubscribed["error_code"], "21610");
    assert_eq!(count("+15125550111"), 1);
    let history = consent_history(&app, &owner, &ids[0].0).await;
    let last = history.last().unwrap();
    assert_eq!(
        (last["status"].as_str(), last["source"].as_str()),
        (Some("opted_out"), Some("inbound_stop"))
    );

    // 21211: an invalid number; failing again will not help.
    let invalid = message(&app, &owner, &ids[1].1).await;
    assert_eq!(invalid["status"], "failed");
    assert_eq!(invalid["error_code"], "21211");
    assert_eq!(count("+15125550112"), 1, "no retry of a permanent error");

    // 429: retried, then sent.
    let retried = message(&app, &owner, &ids[2].1).await;
    assert_eq!(retried["status"], "sent", "{retried}");
    assert_eq!(retried["attempts"], 2);
    assert_eq!(count("+15125550113"), 2);

    // 500 every time: tried the maximum number of times, then failed with the reason.
    let down = message(&app, &owner, &ids[3].1).await;
    assert_eq!(down["status"], "failed", "{down}");
    assert_eq!(down["attempts"], 3);
    assert!(
        down["status_reason"].as_str().unwrap().contains("500"),
        "{down}"
    );
    assert_eq!(count("+15125550114"), 3);
}

#[tokio::test]
async fn twilio_webhooks_need_its_signature_and_stop_start_round_trip() {
    let twilio = twilio().await;
    let app = app_with(&twilio, None, 8).await;
    let owner = owner(&app).await;
    let cy = customer(
        &app,
        &owner,
        json!({"name": "Cy", "phone": "+1 512 555 0103"}),
        &["sms"],
    )
    .await;
    let id = queued(
        &app,
        &owner,
        json!({"customer_id": cy, "channel": "sms", "body": "Hi"}),
    )
    .await;
    app.run_jobs().await;
    let sid = "SM00000000000000000000000000000000";
    assert_eq!(message(&app, &owner, &id).await["status"], "sent");

    let delivered = [
        ("MessageSid", sid),
        ("MessageStatus", "delivered"),
        ("AccountSid", SID),
    ];
    let unsigned = webhook(&app, "status", &delivered, Some("")).await;
    assert_eq!(problem(unsigned).await["status"], 403);
    let forged = webhook(&app, "status", &delivered, Some("bm90IHRoZSBzaWduYXR1cmU=")).await;
    assert_eq!(forged.status(), 403);
    assert_eq!(
        message(&app, &owner, &id).await["status"],
        "sent",
        "nothing changed"
    );

    assert_eq!(
        webhook(&app, "status", &delivered, None).await.status(),
        204
    );
    assert_eq!(message(&app, &owner, &id).await["status"], "delivered");
    // A late "sent" never moves it back.
    let late = [("MessageSid", sid), ("MessageStatus", "sent")];
    assert_eq!(webhook(&app, "status", &late, None).await.status(), 204);
    assert_eq!(message(&app, &owner, &id).await["status"], "delivered");

    // STOP from the customer's phone, unsigned: refused, nothing recorded.
    let stop = [("From", "+15125550103"), ("To", FROM), ("Body", " Stop ")];
    let before = consent_history(&app, &owner, &cy).await.len();
    assert_eq!(
        webhook(&app, "inbound", &stop, Some("")).await.status(),
        403
    );
    assert_eq!(consent_history(&app, &owner, &cy).await.len(), before);

    let answer = webhook(&app, "inbound", &stop, None).await;
    assert_eq!(answer.status(), 200);
    assert!(answer.text().await.unwrap().contains("<Response>"));
    let history = consent_history(&app, &owner, &cy).await;
    let last = history.last().unwrap();
    assert_eq!(
        (
            last["channel"].as_str(),
            last["status"].as_str(),
            last["source"].as_str()
        ),
        (Some("sms"), Some("opted_out"), Some("inbound_stop"))
    );
    let refused = send(
        &app,
        &owner,
        json!({"customer_id": cy, "channel": "sms", "body": "Hi"}),
    )
    .await;
    assert_eq!(problem(refused).await["code"], "consent_required");

    // A sentence with "stop" in it is not a keyword.
    let chatter = [("From", "+15125550103"), ("Body", "please stop by at 5")];
    assert_eq!(webhook(&app, "inbound", &chatter, None).await.status(), 200);
    assert_eq!(
        consent_history(&app, &owner, &cy).await.len(),
        history.len()
    );

    let start = [("From", "+15125550103"), ("Body", "START")];
    assert_eq!(webhook(&app, "inbound", &start, None).await.status(), 200);
    let last = consent_history(&app, &owner, &cy).await.pop().unwrap();
    assert_eq!(
        (last["status"].as_str(), last["source"].as_str()),
        (Some("opted_in"), Some("inbound_stop"))
    );
    assert_eq!(
        send(
            &app,
            &owner,
            json!({"customer_id": cy, "channel": "sms", "body": "Welcome back"})
        )
        .await
        .status(),
        202
    );
}

#[tokio::test]
async fn quiet_hours_hold_sms_until_they_end_in_the_accounts_zone() {
    let twilio = twilio().await;
    let app = app_with(&twilio, None, 8).await;
    let owner = app.signup().await;
    // Quiet from the start of the last hour until two hours from now, local
    // time, so the hour may roll over while the test runs; in a zone without
    // daylight saving (and with a half-hour offset), so that no clock change
    // falls inside the window either.
    let zone = chrono_tz::Asia::Kolkata;
    let local = Utc::now().with_timezone(&zone);
    let hour = |offset: i64| ((i64::from(local.hour()) + offset).rem_euclid(24)) as u32;
    set_account(
        &app,
        &owner,
        json!({"time_zone": "Asia/Kolkata", "quiet_hours_start": format!("{:02}:00", hour(-1)), "quiet_hours_end": format!("{:02}:00", hour(2))}),
    )
    .await;
    let di = customer(
        &app,
        &owner,
        json!({"name": "Di", "phone": "+1 512 555 0104"}),
        &["sms"],
    )
    .await;
    let id = queued(
        &app,
        &owner,
        json!({"customer_id": di, "channel": "sms", "body": "Late news"}),
    )
    .await;
    app.run_jobs().await;

    let held = message(&app, &owner, &id).await;
    assert_eq!(held["status"], "queued", "{held}");
    assert_eq!(held["status_reason"], "quiet_hours");
    let until: chrono::DateTime<Utc> = held["send_after"].as_str().unwrap().parse().unwrap();
    let until_local = until.with_timezone(&zone);
    assert_eq!(
        (until_local.hour(), until_local.minute()),
        (hour(2), 0),
        "{held}"
    );
    let this_hour = local
        .with_minute(0)
        .unwrap()
        .with_second(0)
        .unwrap()
        .with_nanosecond(0)
        .unwrap();
    assert_eq!(until, this_hour + chrono::Duration::hours(2), "{held}");
    assert!(sends(&twilio).await.is_empty());
}

#[tokio::test]
async fn reminders_become_messages_from_the_accounts_template_and_move_with_the_appointment() {
    let twilio = twilio().await;
    let app = app_with(&twilio, None, 8).await;
    let owner = owner(&app).await;
    let account = set_account(
        &app,
        &owner,
        json!({"message_templates": {"reminder": "{customer_name}: {business_name} sees you {time} at {address}."}}),
    )
    .await;
    assert!(account["message_templates"]["confirmation"]
        .as_str()
        .unwrap()
        .contains("{customer_name}"));
    let typo = app
        .call(
            Method::PATCH,
            "/v1/account",
            &owner.access,
            Some(json!({"message_templates": {"reminder": "Hi {name}"}})),
        )
        .await;
    assert_eq!(
        problem(typo).await["errors"][0]["field"],
        "message_templates.reminder"
    );

    let eve = customer(
        &app,
        &owner,
        json!({"name": "Eve Park", "phone": "+1 512 555 0105"}),
        &["sms"],
    )
    .await;
    let starts = Utc::now() + chrono::Duration::hours(2);
    let booked = app
        .call(
            Method::POST,
            "/v1/appointments",
            &owner.access,
            Some(json!({
                "customer_id": eve, "title": "Boiler service",
                "starts_at": starts.to_rfc3339(), "ends_at": (starts + chrono::Duration::hours(1)).to_rfc3339(),
                "address": {"line1": "12 Elm St", "city": "Austin"},
                // Due an hour ago (sent at once, the visit is still ahead), and in an hour.
                "reminders": [{"channel": "sms", "minutes_before": 180}, {"channel": "sms", "minutes_before": 60}]
            })),
        )
        .await;
    assert_eq!(booked.status(), 201);
    let appointment: Value = booked.json().await.unwrap();
    let path = format!("/v1/appointments/{}", appointment["id"].as_str().unwrap());
    app.run_jobs().await;

    let sent = sends(&twilio).await;
    assert_eq!(sent.len(), 1, "only the reminder that is due");
    let text = field(&sent[0], "Body").unwrap();
    let local = starts.with_timezone(&chrono_tz::America::Chicago);
    assert_eq!(
        text,
        format!(
            "Eve Park: {} sees you {} at 12 Elm St, Austin.",
            account["name"].as_str().unwrap(),
            local.format("%a %b %-d at %-I:%M %p")
        )
    );
    let log: Value = app
        .call(
            Method::GET,
            &format!(
                "/v1/messages?appointment_id={}",
                appointment["id"].as_str().unwrap()
            ),
            &owner.access,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(log["data"][0]["kind"], "reminder");

    // Moved a day later: the pending reminder moves; none is due now.
    let later = starts + chrono::Duration::days(1);
    let moved = app
        .call(Method::PATCH, &path, &owner.access, Some(json!({
            "starts_at": later.to_rfc3339(), "ends_at": (later + chrono::Duration::hours(1)).to_rfc3339()
        })))
        .await;
    assert_eq!(moved.status(), 200);
    let moved: Value = moved.json().await.unwrap();
    assert_eq!(
        moved["reminders"].as_array().unwrap().len(),
        1,
        "the pending one: {moved}"
    );
    for reminder in moved["reminders"].as_array().unwrap() {
        assert_eq!(reminder["status"], "scheduled", "{moved}");
    }
    app.run_jobs().await;
    assert_eq!(sends(&twilio).await.len(), 1, "nothing new is due");

    // Confirming sends the confirmation; cancelling cancels the reminders.
    let confirmed = app
        .call(
            Method::POST,
            &format!("{path}/status"),
            &owner.access,
            Some(json!({"status": "confirmed"})),
        )
        .await;
    assert_eq!(confirmed.status(), 200);
    app.run_jobs().await;
    let sent = sends(&twilio).await;
    assert_eq!(sent.len(), 2);
    assert!(
        field(&sent[1], "Body").unwrap().contains("is confirmed"),
        "{:?}",
        sent[1]
    );
    let cancelled = app
        .call(
            Method::POST,
            &format!("{path}/status"),
            &owner.access,
            Some(json!({"status": "cancelled"})),
        )
        .await;
    let cancelled: Value = cancelled.json().await.unwrap();
    assert_eq!(
        cancelled["reminders"].as_array().unwrap().len(),
        1,
        "{cancelled}"
    );
    for reminder in cancelled["reminders"].as_array().unwrap() {
        assert_eq!(reminder["status"], "cancelled", "{cancelled}");
    }
}

#[tokio::test]
async fn email_goes_out_over_smtp_with_xoauth2_and_a_one_click_unsubscribe() {
    let twilio = twilio().await;
    let smtp = SmtpStandIn::start(MAIL_USER, MAIL_TOKEN).await;
    let app = app_with(&twilio, Some(&smtp), 8).await;
    let owner = owner(&app).await;
    set_account(
        &app,
        &owner,
        json!({"postal_address": "Acme Plumbing\n1 Main St\nAustin, TX 78701"}),
    )
    .await;
    let flo = customer(
        &app,
        &owner,
        json!({"name": "Flo", "email": "flo@example.net"}),
        &["email"],
    )
    .await;
    let id = queued(&app, &owner, json!({
        "customer_id": flo, "channel": "email", "subject": "Your invoice", "body": "Thanks for your business."
    }))
    .await;
    app.run_jobs().await;
    assert_eq!(message(&app, &owner, &id).await["status"], "sent");

    let mail = smtp.received();
    assert_eq!(mail.len(), 1);
    let mail = &mail[0];
    assert_eq!(mail.auth_mechanism.as_deref(), Some("XOAUTH2"));
    assert_eq!(mail.auth_user.as_deref(), Some(MAIL_USER));
    assert_eq!(mail.auth_secret.as_deref(), Some(MAIL_TOKEN));
    assert_eq!(mail.rcpt_to, vec!["flo@example.net".to_owned()]);
    assert_eq!(mail.header("Subject").as_deref(), Some("Your invoice"));
    assert_eq!(
        mail.header("List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    let list_unsubscribe = mail.header("List-Unsubscribe").unwrap();
    let link = list_unsubscribe
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_owned();
    assert!(
        link.starts_with(&app.url("/v1/unsubscribe?token=")),
        "{link}"
    );
    let body = quoted_printable(mail.body());
    assert!(body.contains("Thanks for your business."), "{body}");
    assert!(
        body.contains("1 Main St"),
        "the postal address is in the footer: {body}"
    );
    assert!(body.contains(&link), "the link is visible too: {body}");

    // Opening the link changes nothing (mail scanners open links) ...
    let before = consent_history(&app, &owner, &flo).await.len();
    let page = app.client.get(&link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("<form method=\"post\""));
    assert_eq!(consent_history(&app, &owner, &flo).await.len(), before);
    // ... the one-click POST unsubscribes, once.
    for _ in 0..2 {
        let done = app
            .client
            .post(&link)
            .form(&[("List-Unsubscribe", "One-Click")])
            .send()
            .await
            .unwrap();
        assert_eq!(done.status(), 200);
    }
    let history = consent_history(&app, &owner, &flo).await;
    assert_eq!(history.len(), before + 1, "a second click records nothing");
    let last = history.last().unwrap();
    assert_eq!(
        (
            last["channel"].as_str(),
            last["status"].as_str(),
            last["source"].as_str()
        ),
        (Some("email"), Some("opted_out"), Some("unsubscribe_link"))
    );
    let refused = send(
        &app,
        &owner,
        json!({"customer_id": flo, "channel": "email", "body": "More news"}),
    )
    .await;
    assert_eq!(problem(refused).await["code"], "consent_required");

    // A token this service did not sign names nobody: one bit of its MAC
    // flipped (decoded first: the last base64 character may carry padding bits).
    use base64::Engine;
    let token = link.split("token=").nth(1).unwrap();
    let (key_id, signed) = token.split_once('.').expect("the token names its key");
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut raw = engine.decode(signed).unwrap();
    *raw.last_mut().unwrap() ^= 1;
    let forged = format!("{key_id}.{}", engine.encode(raw));
    let response = app
        .client
        .post(app.url(&format!("/v1/unsubscribe?token={forged}")))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(response).await["status"], 404);
}

/// Decodes a quoted-printable body (RFC 2045), as a mail client would.
fn quoted_printable(text: &str) -> String {
    let joined = text.replace("=\r\n", "").replace("\r\n", "\n");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 3 <= bytes.len() {
            if let Some(byte) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
            {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn the_worker_inside_serve_sends_without_help() {
    let twilio = twilio().await;
    let app = app_with_settings(&twilio, None, 8, |s| {
        s.jobs_enabled = true;
        s.job_poll_interval_ms = 50;
    })
    .await;
    let owner = owner(&app).await;
    let gus = customer(
        &app,
        &owner,
        json!({"name": "Gus", "phone": "+1 512 555 0106"}),
        &["sms"],
    )
    .await;
    let id = queued(
        &app,
        &owner,
        json!({"customer_id": gus, "channel": "sms", "body": "On our way soon"}),
    )
    .await;
    let mut status = Value::Null;
    for _ in 0..200 {
        status = message(&app, &owner, &id).await["status"].clone();
        if status == "sent" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, "sent");
}

/// Two `fieldcrm worker` processes on one database, a slow provider, many
/// messages: each is sent exactly once.
#[tokio::test]
async fn two_worker_processes_never_send_a_message_twice_or_lose_one() {
    let twilio = MockServer::start().await;
    let counter = Arc::new(AtomicUsize::new(0));
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .respond_with(move |_: &Request| {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            ResponseTemplate::new(201)
                .set_body_json(json!({"sid": format!("SM{n:032}")}))
                .set_delay(Duration::from_millis(30))
        })
        .mount(&twilio)
        .await;
    let app = app_with(&twilio, None, 8).await;
    let owner = owner(&app).await;
    let hal = customer(
        &app,
        &owner,
        json!({"name": "Hal", "phone": "+1 512 555 0107"}),
        &["sms"],
    )
    .await;
    const COUNT: usize = 40;
    let mut ids = Vec::new();
    for n in 0..COUNT {
        ids.push(
            queued(
                &app,
                &owner,
                json!({"customer_id": hal, "channel": "sms", "body": format!("message {n}")}),
            )
            .await,
        );
    }

    let workers: Vec<_> = (0..2)
        .map(|_| {
            std::process::Command::new(env!("CARGO_BIN_EXE_fieldcrm"))
                .arg("worker")
                .env("DATABASE_URL", app.db.url())
                .env("FIELDCRM_TWILIO_API_BASE_URL", twilio.uri())
                .env("FIELDCRM_TWILIO_ACCOUNT_SID", SID)
                .env("FIELDCRM_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
                .env("FIELDCRM_TWILIO_FROM", FROM)
                .env("FIELDCRM_JOB_POLL_INTERVAL_MS", "10")
                .env("FIELDCRM_LOG_LEVEL", "warn")
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("start a worker process")
        })
        .collect();
    struct Kill(Vec<std::process::Child>);
    impl Drop for Kill {
        fn drop(&mut self) {
            for child in &mut self.0 {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
    let _workers = Kill(workers);

    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let page: Value = app
            .call(
                Method::GET,
                "/v1/messages?status=sent&limit=200",
                &owner.access,
                None,
            )
            .await
            .json()
            .await
            .unwrap();
        if page["data"].as_array().unwrap().len() == COUNT {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not all sent in time: {page}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let sent = sends(&twilio).await;
    let bodies: HashSet<String> = sent.iter().filter_map(|f| field(f, "Body")).collect();
    assert_eq!(sent.len(), COUNT, "each message reached the provider once");
    assert_eq!(bodies.len(), COUNT);
    for id in &ids {
        assert_eq!(message(&app, &owner, id).await["attempts"], 1);
    }
}

#[tokio::test]
async fn another_accounts_messages_and_people_are_out_of_reach() {
    let twilio = twilio().await;
    let app = app_with(&twilio, None, 8).await;
    let mine = owner(&app).await;
    let theirs = owner(&app).await;
    let their_customer = customer(
        &app,
        &theirs,
        json!({"name": "Ida", "phone": "+1 512 555 0108"}),
        &["sms"],
    )
    .await;
    let their_message = queued(
        &app,
        &theirs,
        json!({"customer_id": their_customer, "channel": "sms", "body": "Hi"}),
    )
    .await;

    let read = app
        .call(
            Method::GET,
            &format!("/v1/messages/{their_message}"),
            &mine.access,
            None,
        )
        .await;
    assert_eq!(problem(read).await["status"], 404);
    let foreign = send(
        &app,
        &mine,
        json!({"customer_id": their_customer, "channel": "sms", "body": "Hi"}),
    )
    .await;
    let foreign = problem(foreign).await;
    assert_eq!(foreign["status"], 422);
    assert_eq!(foreign["errors"][0]["field"], "customer_id");
    let mine_log: Value = app
        .call(Method::GET, "/v1/messages", &mine.access, None)
        .await
        .json()
        .await
        .unwrap();
    assert!(mine_log["data"].as_array().unwrap().is_empty());
    let not_an_id = app
        .call(Method::GET, "/v1/messages/not-a-uuid", &mine.access, None)
        .await;
    assert_eq!(problem(not_an_id).await["status"], 404);
}

#[tokio::test]
async fn bodies_of_sent_messages_are_cleared_after_the_accounts_retention() {
    let twilio = twilio().await;
    let app = app_with(&twilio, None, 8).await;
    let owner = owner(&app).await;
    set_account(&app, &owner, json!({"message_body_retention_days": 30})).await;
    let jo = customer(
        &app,
        &owner,
        json!({"name": "Jo", "phone": "+1 512 555 0109"}),
        &["sms"],
    )
    .await;
    let id = queued(
        &app,
        &owner,
        json!({"customer_id": jo, "channel": "sms", "body": "Gate code 4411"}),
    )
    .await;
    app.run_jobs().await;

    // The upkeep task as it would run 29 and 31 days from now.
    let upkeep = |days: i64| {
        let mut conn = app.pool.get().unwrap();
        let at = fieldcrm_db::Ts::from(Utc::now() + chrono::Duration::days(days));
        fieldcrm_app::messaging::purge_bodies(&mut conn, at).unwrap()
    };
    assert_eq!(upkeep(29), 0);
    assert_eq!(message(&app, &owner, &id).await["body"], "Gate code 4411");
    assert_eq!(upkeep(31), 1);
    let kept = message(&app, &owner, &id).await;
    assert!(kept["body"].is_null(), "{kept}");
    assert_eq!(kept["status"], "sent", "the record of sending stays");
    assert_eq!(kept["recipient"], "+15125550109");
}

/// Current SMS consent of a customer, as the consent endpoint shows it.
async fn sms_consent(app: &TestApp, who: &Signed, id: &str) -> Value {
    let response = app
        .call(
            Method::GET,
            &format!("/v1/customers/{id}/consent"),
            &who.access,
            None,
        )
        .await;
    assert_eq!(response.status(), 200);
    response.json::<Value>().await.unwrap()["current"]["sms"].clone()
}

/// A re-subscribe word only undoes an opt-out that a STOP from that number
/// made. It never gives consent to anyone who was not asked, nor overrides an
/// opt-out given another way, in this account or any other; and "yes" is an
/// ordinary answer, not a keyword.
#[tokio::test]
async fn a_reply_word_never_creates_consent() {
    let twilio = twilio().await;
    let app = app_with(&twilio, None, 8).await;
    let phone = "+15125550177";
    let a = owner(&app).await;
    let b = owner(&app).await;
    let never_asked = customer(
        &app,
        &a,
        json!({"name": "Never Asked", "phone": phone}),
        &[],
    )
    .await;
    let said_no = customer(&app, &a, json!({"name": "Said No", "phone": phone}), &[]).await;
    consent_from(&app, &a, &said_no, "sms", "opted_out", "verbal").await;
    let stopped = customer(
        &app,
        &a,
        json!({"name": "Stopped", "phone": phone}),
        &["sms"],
    )
    .await;
    let stopped_then_form = customer(
        &app,
        &a,
        json!({"name": "Then Form", "phone": phone}),
        &["sms"],
    )
    .await;
    let elsewhere = customer(&app, &b, json!({"name": "Elsewhere", "phone": phone}), &[]).await;

    let stop = [("From", phone), ("To", FROM), ("Body", "STOP")];
    assert_eq!(webhook(&app, "inbound", &stop, None).await.status(), 200);
    consent_from(&app, &a, &stopped_then_form, "sms", "opted_out", "form").await;
    for who in [&never_asked, &said_no, &stopped, &stopped_then_form] {
        assert_eq!(sms_consent(&app, &a, who).await, "opted_out");
    }
    assert_eq!(sms_consent(&app, &b, &elsewhere).await, "opted_out");

    let yes = [("From", phone), ("To", FROM), ("Body", "Yes")];
    assert_eq!(webhook(&app, "inbound", &yes, None).await.status(), 200);
    assert_eq!(
        sms_consent(&app, &a, &stopped).await,
        "opted_out",
        "YES is no keyword"
    );

    let start = [("From", phone), ("To", FROM), ("Body", " start ")];
    assert_eq!(webhook(&app, "inbound", &start, None).await.status(), 200);
    assert_eq!(
        sms_consent(&app, &a, &stopped).await,
        "opted_in",
        "its STOP is undone"
    );
    assert_eq!(sms_consent(&app, &a, &said_no).await, "opted_out");
    assert_eq!(sms_consent(&app, &a, &stopped_then_form).await, "opted_out");
    // Opted out by the STOP without ever having opted in: nothing to restore.
    assert_eq!(sms_consent(&app, &a, &never_asked).await, "opted_out");
    assert_eq!(sms_consent(&app, &b, &elsewhere).await, "opted_out");

    // With nobody stopped, a START changes nothing at all.
    let fresh = customer(
        &app,
        &b,
        json!({"name": "Fresh", "phone": "+15125550178"}),
        &[],
    )
    .await;
    let start = [("From", "+15125550178"), ("To", FROM), ("Body", "UNSTOP")];
    assert_eq!(webhook(&app, "inbound", &start, None).await.status(), 200);
    assert_eq!(sms_consent(&app, &b, &fresh).await, Value::Null);
    assert!(consent_history(&app, &b, &fresh).await.is_empty());
}

/// Every STOP word, in any case and with surrounding space, opts the number out
/// in every account that holds it (they share the sending number).
#[tokio::test]
async fn every_stop_word_opts_the_number_out_in_every_account() {
    let twilio = twilio().await;
    let app = app_with(&twilio, None, 8).await;
    let a = owner(&app).await;
    let b = owner(&app).await;
    let words = [
        "STOP",
        "stop",
        " Stop\n",
        "STOPALL",
        "stopall",
        "UNSUBSCRIBE",
        "Unsubscribe ",
        "CANCEL",
        "cancel",
        "END",
        "end",
        "QUIT",
        "\tQuit ",
    ];
    for (n, word) in words.iter().enumerate() {
        let phone = format!("+1512555{:04}", 2000 + n);
        let in_a = customer(&app, &a, json!({"name": "A", "phone": phone}), &["sms"]).await;
        let in_b = customer(&app, &b, json!({"name": "B", "phone": phone}), &["sms"]).await;
        let params = [("From", phone.as_str()), ("To", FROM), ("Body", word)];
        assert_eq!(webhook(&app, "inbound", &params, None).await.status(), 200);
        assert_eq!(sms_consent(&app, &a, &in_a).await, "opted_out", "{word:?}");
        assert_eq!(sms_consent(&app, &b, &in_b).await, "opted_out", "{word:?}");
        let last = consent_history(&app, &a, &in_a).await.pop().unwrap();
        assert_eq!(last["source"], "inbound_stop", "{word:?}");
    }
}

/// Twilio's error 21610 (the carrier holds the person's STOP) arriving in a
/// status callback opts the person out, as it does on the send path.
#[tokio::test]
async fn error_21610_in_a_status_callback_opts_the_person_out() {
    let twilio = twilio().await;
    let app = app_with(&twilio, None, 8).await;
    let owner = owner(&app).await;
    let cy = customer(
        &app,
        &owner,
        json!({"name": "Cy", "phone": "+15125550199"}),
        &["sms"],
    )
    .await;
    let id = queued(
        &app,
        &owner,
        json!({"customer_id": cy, "channel": "sms", "body": "Hi"}),
    )
    .await;
    app.run_jobs().await;
    assert_eq!(message(&app, &owner, &id).await["status"], "sent");
    let sid = "SM00000000000000000000000000000000";
    let failed = [
        ("MessageSid", sid),
        ("MessageStatus", "undelivered"),
        ("ErrorCode", "21610"),
        ("AccountSid", SID),
    ];
    assert_eq!(webhook(&app, "status", &failed, None).await.status(), 204);
    let message = message(&app, &owner, &id).await;
    assert_eq!(message["status"], "undelivered");
    assert_eq!(message["error_code"], "21610");
    assert_eq!(sms_consent(&app, &owner, &cy).await, "opted_out");
    let last = consent_history(&app, &owner, &cy).await.pop().unwrap();
    assert_eq!(last["source"], "inbound_stop");
}

/// An unsubscribe link keeps working after a restart and a change of the JWT
/// secret: without `FIELDCRM_LINK_KEYS` its key is kept in the database, shared
/// by every process; with them, links name their key, so an older key still
/// checks while it is listed, and a link signed with an unlisted one names
/// nobody.
#[tokio::test]
async fn unsubscribe_links_outlive_restarts_and_secret_changes() {
    let twilio = twilio().await;
    let app = app_with(&twilio, None, 8).await;
    let owner = owner(&app).await;
    let flo = customer(
        &app,
        &owner,
        json!({"name": "Flo", "email": "flo@example.com"}),
        &["email"],
    )
    .await;
    let token = app.state.tokens.unsubscribe_token(flo.parse().unwrap());

    // Another process on the same database, with a JWT secret of its own.
    let restarted = |customize: Box<dyn FnOnce(&mut fieldcrm::Settings) + Send>| {
        let url = app.db.url().to_owned();
        async move {
            let mut settings = fieldcrm::Settings {
                port: 0,
                workers: 1,
                database_url: SecretString::from(url),
                jobs_enabled: false,
                maintenance_interval_secs: 0,
                jwt_secret: Some(SecretString::from("a-new-jwt-secret-of-at-least-32-bytes!")),
                ..fieldcrm::Settings::default()
            };
            customize(&mut settings);
            let other = fieldcrm::Application::build(settings).await.unwrap();
            let base = format!("http://127.0.0.1:{}", other.port());
            let tokens = other.state().tokens.clone();
            tokio::spawn(other.run_until_stopped());
            (base, tokens)
        }
    };
    let (base, _) = restarted(Box::new(|_| {})).await;
    let page = app
        .client
        .get(format!("{base}/v1/unsubscribe?token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200, "the link works in another process");
    let done = app
        .client
        .post(format!("{base}/v1/unsubscribe?token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    let last = consent_history(&app, &owner, &flo).await.pop().unwrap();
    assert_eq!(
        (last["status"].as_str(), last["source"].as_str()),
        (Some("opted_out"), Some("unsubscribe_link"))
    );

    // Operator keys: a link of a key still listed checks, of one dropped not.
    let key =
        |byte: u8| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [byte; 32]);
    let (first, first_tokens) = restarted(Box::new(move |s| {
        s.link_keys = Some(SecretString::from(format!("k1:{}", key(1))))
    }))
    .await;
    let signed_k1 = first_tokens.unsubscribe_token(flo.parse().unwrap());
    assert!(signed_k1.starts_with("k1."));
    let listed = format!("k2:{},k1:{}", key(2), key(1));
    let (second, second_tokens) = restarted(Box::new(move |s| {
        s.link_keys = Some(SecretString::from(listed))
    }))
    .await;
    assert!(
        second_tokens
            .unsubscribe_token(flo.parse().unwrap())
            .starts_with("k2."),
        "the first key signs"
    );
    let opened = app
        .client
        .get(format!("{second}/v1/unsubscribe?token={signed_k1}"))
        .send()
        .await
        .unwrap();
    assert_eq!(opened.status(), 200);
    let dropped = format!("k3:{}", key(3));
    let (third, _) = restarted(Box::new(move |s| {
        s.link_keys = Some(SecretString::from(dropped))
    }))
    .await;
    for base in [&third, &first] {
        let token = if base == &first { &token } else { &signed_k1 };
        let refused = app
            .client
            .get(format!("{base}/v1/unsubscribe?token={token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            refused.status(),
            404,
            "{base}: a key not listed checks nothing"
        );
    }
}
