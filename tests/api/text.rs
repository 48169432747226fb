//! Text with NUL or other control characters is refused at the edge, wherever
//! it enters (JSON, query strings, Twilio's forms), with a 4xx that changes
//! nothing; text made elsewhere (Google) is made one line before it is kept.

use chrono::{Duration, Utc};
use fieldcrm_test_support::problem;
use reqwest::Method;
use serde_json::{json, Value};

use crate::google::{google_app, made_in_google, GoogleStandIn};
use crate::messages::{app_with, customer, owner, twilio, FROM};

#[tokio::test]
async fn control_characters_in_queries_and_bodies_are_refused() {
    let twilio = twilio().await;
    let app = app_with(&twilio, None, 8).await;
    let owner = owner(&app).await;

    for path in [
        "/v1/customers?q=%00",
        "/v1/prospects?q=a%00b",
        "/v1/audit?action=%00",
        "/v1/customers?q=%07",
        "/v1/messages?status=sent%0D",
    ] {
        let answer = app.call(Method::GET, path, &owner.access, None).await;
        assert_eq!(answer.status(), 400, "{path}");
        let body = problem(answer).await;
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains("control characters"),
            "{body}"
        );
    }

    let cases = [
        ("/v1/customers", json!({"name": "Ann\u{0}"}), "name"),
        (
            "/v1/customers",
            json!({"name": "Ann", "notes": "gate\u{7}code"}),
            "notes",
        ),
        (
            "/v1/prospects",
            json!({"name": "Bo", "address": {"line1": "1 Main\u{1b}St"}}),
            "address.line1",
        ),
        (
            "/v1/auth/login",
            json!({"email": "a\u{0}@example.com", "password": "x"}),
            "email",
        ),
    ];
    for (path, body, field) in cases {
        let answer = app
            .call(Method::POST, path, &owner.access, Some(body))
            .await;
        assert_eq!(answer.status(), 422, "{path}");
        assert_eq!(problem(answer).await["errors"][0]["field"], field);
    }
    let listed: Value = app
        .call(Method::GET, "/v1/customers", &owner.access, None)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        listed["data"].as_array().unwrap().is_empty(),
        "nothing was stored"
    );

    // Tabs and line breaks stay where a field takes them.
    let ok = app
        .call(
            Method::POST,
            "/v1/customers",
            &owner.access,
            Some(json!({"name": "Cy", "notes": "gate\tcode\n1234"})),
        )
        .await;
    assert_eq!(ok.status(), 201);
}

/// A template with a control character is refused, so the confirmation that
/// uses it keeps working; a line break is allowed.
#[tokio::test]
async fn templates_refuse_control_characters() {
    let twilio = twilio().await;
    let app = app_with(&twilio, None, 8).await;
    let owner = owner(&app).await;
    for template in [
        "Confirmed\u{0} {time}",
        "Confirmed\r{time}",
        "Confirmed\u{1}",
    ] {
        let answer = app
            .call(
                Method::PATCH,
                "/v1/account",
                &owner.access,
                Some(json!({"message_templates": {"confirmation": template}})),
            )
            .await;
        assert_eq!(answer.status(), 422, "{template:?}");
    }
    let fine = app
        .call(
            Method::PATCH,
            "/v1/account",
            &owner.access,
            Some(json!({"message_templates": {"confirmation": "Confirmed:\n{time}"}})),
        )
        .await;
    assert_eq!(fine.status(), 200);

    let person = customer(
        &app,
        &owner,
        json!({"name": "Dee", "phone": "+15125550131"}),
        &["sms"],
    )
    .await;
    let starts = Utc::now() + Duration::days(2);
    let booked: Value = app
        .call(
            Method::POST,
            "/v1/appointments",
            &owner.access,
            Some(json!({"customer_id": person, "title": "Fix", "starts_at": starts, "ends_at": starts + Duration::hours(1)})),
        )
        .await
        .json()
        .await
        .unwrap();
    let confirmed = app
        .call(
            Method::POST,
            &format!("/v1/appointments/{}/status", booked["id"].as_str().unwrap()),
            &owner.access,
            Some(json!({"status": "confirmed"})),
        )
        .await;
    assert_eq!(confirmed.status(), 200);
}

/// Twilio's forms: a control character in `From` or `MessageSid` is a 422,
/// not a database error.
#[tokio::test]
async fn twilio_fields_with_control_characters_are_refused() {
    let twilio = twilio().await;
    let app = app_with(&twilio, None, 8).await;
    let _owner = owner(&app).await;
    for (hook, params) in [
        (
            "inbound",
            vec![
                ("From", "+1512555\u{0}0100"),
                ("To", FROM),
                ("Body", "STOP"),
            ],
        ),
        (
            "status",
            vec![("MessageSid", "SM\u{0}1"), ("MessageStatus", "delivered")],
        ),
    ] {
        let answer = crate::messages::webhook(&app, hook, &params, None).await;
        assert_eq!(answer.status(), 422, "{hook}");
        let field = problem(answer).await["errors"][0]["field"].clone();
        assert!(field == "From" || field == "MessageSid", "{field}");
    }
}

/// A title written in Google with a bare carriage return (or any control
/// character) becomes one line, so nothing breaks the calendar feed.
#[tokio::test]
async fn titles_made_in_google_are_kept_on_one_line() {
    let google = GoogleStandIn::start().await;
    let app = google_app(&google).await;
    let owner = crate::messages::owner(&app).await;
    google.create(made_in_google(
        "carriage1",
        "Quote\rvisit\u{0}now",
        Utc::now() + Duration::days(2),
        1,
    ));
    google.connect(&app, &owner).await;
    app.run_jobs().await;
    let listed: Value = app
        .call(Method::GET, "/v1/appointments", &owner.access, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"][0]["title"], "Quote visit now", "{listed}");
    // On the owner's own calendar feed.
    let id = listed["data"][0]["id"].as_str().unwrap();
    let assigned = app
        .call(
            Method::PATCH,
            &format!("/v1/appointments/{id}"),
            &owner.access,
            Some(json!({"technician_id": owner.user_id})),
        )
        .await;
    assert_eq!(assigned.status(), 200);

    let feed: Value = app
        .call(Method::POST, "/v1/me/calendar-feed", &owner.access, None)
        .await
        .json()
        .await
        .unwrap();
    let url = feed["url"].as_str().unwrap();
    let path = &url[url.find("/v1/").unwrap()..];
    let ics = app.get(path).await.text().await.unwrap();
    assert!(ics.contains("Quote visit now"), "{ics}");
    assert!(
        !ics.replace("\r\n", "").contains('\r'),
        "no bare CR in the feed"
    );
}
