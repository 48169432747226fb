//! Two accounts; every endpoint that takes an id is tried with the other
//! account's ids and must answer 404 and change nothing. Add each new endpoint
//! with an id to `FOREIGN_ID_CALLS`.

use fieldcrm_test_support::{problem, spawn_app, Day};
use reqwest::Method;
use serde_json::Value;

/// `{user}`, `{key}`, `{device}`, `{customer}`, `{prospect}`, `{endpoint}` (a
/// webhook endpoint) and `{delivery}` stand for ids of the other account.
const FOREIGN_ID_CALLS: &[(&str, &str, Option<&str>)] = &[
    ("GET", "/v1/customers/{customer}", None),
    (
        "PATCH",
        "/v1/customers/{customer}",
        Some(r#"{"name": "Hijacked"}"#),
    ),
    ("DELETE", "/v1/customers/{customer}", None),
    ("GET", "/v1/customers/{customer}/consent", None),
    (
        "POST",
        "/v1/customers/{customer}/consent",
        Some(r#"{"channel": "email", "status": "opted_out", "source": "api"}"#),
    ),
    ("GET", "/v1/prospects/{prospect}", None),
    (
        "PATCH",
        "/v1/prospects/{prospect}",
        Some(r#"{"name": "Hijacked"}"#),
    ),
    ("DELETE", "/v1/prospects/{prospect}", None),
    ("GET", "/v1/prospects/{prospect}/consent", None),
    (
        "POST",
        "/v1/prospects/{prospect}/consent",
        Some(r#"{"channel": "email", "status": "opted_out", "source": "api"}"#),
    ),
    ("POST", "/v1/prospects/{prospect}/convert", None),
    ("GET", "/v1/appointments/{appointment}", None),
    (
        "PATCH",
        "/v1/appointments/{appointment}",
        Some(r#"{"title": "Hijacked"}"#),
    ),
    (
        "POST",
        "/v1/appointments/{appointment}/status",
        Some(r#"{"status": "cancelled"}"#),
    ),
    ("DELETE", "/v1/appointments/{appointment}", None),
    ("GET", "/v1/shifts/{shift}", None),
    ("GET", "/v1/shifts/{shift}/route", None),
    ("POST", "/v1/shifts/{shift}/close", None),
    ("GET", "/v1/users/{user}", None),
    ("PATCH", "/v1/users/{user}", Some(r#"{"name": "Hijacked"}"#)),
    ("DELETE", "/v1/users/{user}", None),
    ("DELETE", "/v1/api-keys/{key}", None),
    ("GET", "/v1/webhook-endpoints/{endpoint}", None),
    (
        "PATCH",
        "/v1/webhook-endpoints/{endpoint}",
        Some(r#"{"description": "Hijacked", "url": "http://127.0.0.1:9/mine"}"#),
    ),
    (
        "POST",
        "/v1/webhook-endpoints/{endpoint}/rotate-secret",
        None,
    ),
    ("POST", "/v1/webhook-endpoints/{endpoint}/test", None),
    ("GET", "/v1/webhook-endpoints/{endpoint}/deliveries", None),
    (
        "POST",
        "/v1/webhook-endpoints/{endpoint}/deliveries/{delivery}/retry",
        None,
    ),
    ("DELETE", "/v1/webhook-endpoints/{endpoint}", None),
    ("GET", "/v1/users/{user}/devices", None),
    (
        "POST",
        "/v1/users/{user}/devices",
        Some(r#"{"label": "Hijacked"}"#),
    ),
    ("DELETE", "/v1/users/{user}/devices/{device}", None),
];

#[tokio::test]
async fn another_accounts_rows_are_404_and_untouched() {
    let app = spawn_app().await;
    let mine = app.signup().await;
    let theirs = app.signup().await;
    let their_tech = app.user_with_role(&theirs, "technician").await;
    let (their_key_id, their_key) = app.api_key(&theirs, "read").await;
    let day = Day::ahead(30);
    let their_customer: Value = app
        .call(
            Method::POST,
            "/v1/customers",
            &theirs.access,
            Some(serde_json::json!({"name": "Booked"})),
        )
        .await
        .json()
        .await
        .unwrap();
    let their_appointment: Value = app
        .call(
            Method::POST,
            "/v1/appointments",
            &theirs.access,
            Some(
                serde_json::json!({"customer_id": their_customer["id"], "title": "Theirs",
                "starts_at": day.at("15:00"), "ends_at": day.at("16:00")}),
            ),
        )
        .await
        .json()
        .await
        .unwrap();
    let their_appointment = their_appointment["id"].as_str().unwrap().to_owned();
    let their_shift: Value = app
        .call(
            Method::POST,
            "/v1/shifts/clock-in",
            &their_tech.access,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let their_shift = their_shift["id"].as_str().unwrap().to_owned();
    let their_device: Value = app
        .call(
            Method::POST,
            &format!("/v1/users/{}/devices", their_tech.user_id),
            &theirs.access,
            Some(serde_json::json!({"label": "Their phone"})),
        )
        .await
        .json()
        .await
        .unwrap();
    let their_device = their_device["id"].as_str().unwrap().to_owned();
    let mut their_people = Vec::new();
    for collection in ["customers", "prospects"] {
        let response = app
            .call(
                Method::POST,
                &format!("/v1/{collection}"),
                &theirs.access,
                Some(serde_json::json!({"name": "Theirs", "email": "t@example.com"})),
            )
            .await;
        let body: Value = response.json().await.unwrap();
        their_people.push(body["id"].as_str().unwrap().to_owned());
    }

    let their_endpoint: Value = app
        .call(
            Method::POST,
            "/v1/webhook-endpoints",
            &theirs.access,
            Some(serde_json::json!({"url": "http://127.0.0.1:9/theirs", "event_types": ["webhook.test"]})),
        )
        .await
        .json()
        .await
        .unwrap();
    let their_endpoint = their_endpoint["id"].as_str().unwrap().to_owned();
    app.call(
        Method::POST,
        &format!("/v1/webhook-endpoints/{their_endpoint}/test"),
        &theirs.access,
        None,
    )
    .await;
    app.run_jobs().await;
    let their_log: Value = app
        .call(
            Method::GET,
            &format!("/v1/webhook-endpoints/{their_endpoint}/deliveries"),
            &theirs.access,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let their_delivery = their_log["data"][0]["id"].as_str().unwrap().to_owned();

    for (method, template, body) in FOREIGN_ID_CALLS {
        let path = template
            .replace("{user}", &their_tech.user_id)
            .replace("{key}", &their_key_id)
            .replace("{device}", &their_device)
            .replace("{customer}", &their_people[0])
            .replace("{prospect}", &their_people[1])
            .replace("{shift}", &their_shift)
            .replace("{appointment}", &their_appointment)
            .replace("{endpoint}", &their_endpoint)
            .replace("{delivery}", &their_delivery);
        assert!(!path.contains('{'), "every placeholder is filled: {path}");
        let mut request = app.authed(
            Method::from_bytes(method.as_bytes()).unwrap(),
            &path,
            &mine.access,
        );
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(*body);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 404, "{method} {template}");
        problem(response).await;
    }

    // Nothing of theirs changed, and none of it shows in our lists.
    let me: Value = app
        .authed(Method::GET, "/v1/me", &their_tech.access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["user"]["name"], "A technician");
    assert_eq!(
        app.authed(Method::GET, "/v1/me", &their_key)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    for (collection, id) in ["customers", "prospects"].iter().zip(&their_people) {
        let theirs: Value = app
            .call(
                Method::GET,
                &format!("/v1/{collection}/{id}"),
                &theirs.access,
                None,
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(theirs["name"], "Theirs");
        assert_eq!(theirs["version"], 1, "unchanged");
    }
    let shift: Value = app
        .call(
            Method::GET,
            &format!("/v1/shifts/{their_shift}"),
            &theirs.access,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(shift["clock_out_at"].is_null(), "their shift is still open");
    let appointment: Value = app
        .call(
            Method::GET,
            &format!("/v1/appointments/{their_appointment}"),
            &theirs.access,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            appointment["title"].as_str(),
            appointment["status"].as_str()
        ),
        (Some("Theirs"), Some("scheduled"))
    );
    let devices: Value = app
        .call(
            Method::GET,
            &format!("/v1/users/{}/devices", their_tech.user_id),
            &theirs.access,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(devices["data"].as_array().unwrap().len(), 1, "{devices}");
    assert!(devices["data"][0]["revoked_at"].is_null(), "{devices}");
    // Booking their customer from my account is refused like any unknown id.
    let borrowed = app
        .call(
            Method::POST,
            "/v1/appointments",
            &mine.access,
            Some(
                serde_json::json!({"customer_id": their_customer["id"], "title": "x",
                "starts_at": day.at("15:00"), "ends_at": day.at("16:00")}),
            ),
        )
        .await;
    assert_eq!(borrowed.status(), 422);
    // Each list shows the other account's owner one of their rows (so the
    // list works and the id is one a leak would show), and shows me none.
    let their_ids = [
        their_tech.user_id.as_str(),
        their_key_id.as_str(),
        theirs.user_id.as_str(),
        their_people[0].as_str(),
        their_people[1].as_str(),
        their_shift.as_str(),
        their_appointment.as_str(),
        their_endpoint.as_str(),
        their_device.as_str(),
    ];
    for (list, theirs_see) in [
        ("/v1/users", Some(&their_tech.user_id)),
        ("/v1/api-keys", Some(&their_key_id)),
        ("/v1/customers", Some(&their_people[0])),
        ("/v1/prospects", Some(&their_people[1])),
        ("/v1/shifts", Some(&their_shift)),
        ("/v1/locations/live", None),
        ("/v1/appointments", Some(&their_appointment)),
        // api_key.created names their key, user.created their technician.
        ("/v1/audit", Some(&their_key_id)),
        ("/v1/webhook-endpoints", Some(&their_endpoint)),
        ("/v1/events", Some(&their_appointment)),
    ] {
        if let Some(id) = theirs_see {
            let response = app.call(Method::GET, list, &theirs.access, None).await;
            assert_eq!(response.status(), 200, "{list} for its own account");
            let text = response.text().await.unwrap();
            assert!(text.contains(id.as_str()), "{list}: {text}");
        }
        let response = app.call(Method::GET, list, &mine.access, None).await;
        assert_eq!(response.status(), 200, "{list}");
        let page: Value = response.json().await.unwrap();
        assert!(page["data"].is_array(), "{list}: {page}");
        let text = page.to_string();
        for id in their_ids {
            assert!(!text.contains(id), "{list} shows {id}: {text}");
        }
    }
}

#[tokio::test]
async fn ids_that_are_not_uuids_are_404() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    for path in [
        "/v1/users/42",
        "/v1/users/not-a-uuid",
        "/v1/users/'%20OR%201=1--",
    ] {
        let response = app
            .authed(Method::GET, path, &owner.access)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{path}");
        problem(response).await;
    }
}
