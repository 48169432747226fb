//! Events out: the feed, and signed webhooks delivered at least once, checked
//! by an independent implementation of Standard Webhooks.

use std::time::Duration;

use fieldcrm_test_support::{
    problem, rows_referring_to, spawn_app, spawn_app_with, Signed, TestApp,
};
use reqwest::Method;
use serde_json::{json, Value};
use standardwebhooks::Webhook;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// A receiver on loopback that answers `status`.
pub(crate) async fn receiver(status: u16) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(status))
        .mount(&server)
        .await;
    server
}

/// A receiver that answers the first delivery with `first` and the rest 200.
async fn first_then_ok(first: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(first)
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .with_priority(2)
        .mount(&server)
        .await;
    server
}

pub(crate) async fn endpoint(app: &TestApp, owner: &Signed, body: Value) -> (String, String) {
    let response = app
        .call(
            Method::POST,
            "/v1/webhook-endpoints",
            &owner.access,
            Some(body),
        )
        .await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    let secret = created["secret"].as_str().expect("the secret").to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    (created["id"].as_str().unwrap().to_owned(), secret)
}

async fn create_customer(app: &TestApp, owner: &Signed, name: &str) -> String {
    app.create_customer(owner, json!({"name": name, "phone": "+15125550100"}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn received(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap_or_default()
}

fn body_of(request: &Request) -> Value {
    serde_json::from_slice(&request.body).expect("a JSON body")
}

fn webhook_id(request: &Request) -> String {
    request.headers["webhook-id"].to_str().unwrap().to_owned()
}

/// Makes every queued job due now, as if its retry time had come.
fn bring_jobs_forward(app: &TestApp) {
    use diesel::prelude::*;
    use fieldcrm_db::schema::jobs;
    let mut conn = app.pool.get().unwrap();
    diesel::update(jobs::table.filter(jobs::status.eq("queued")))
        .set(jobs::run_at.eq(fieldcrm_db::Ts::now()))
        .execute(&mut *conn)
        .unwrap();
}

/// How many jobs, of any state, work on `subject` (an endpoint's id).
fn jobs_for(app: &TestApp, subject: &str) -> i64 {
    use diesel::prelude::*;
    use fieldcrm_db::schema::jobs;
    let subject: fieldcrm_db::Id<()> = fieldcrm_db::Id::from_uuid(subject.parse().unwrap());
    let mut conn = app.pool.get().unwrap();
    jobs::table
        .filter(jobs::subject_id.eq(subject))
        .count()
        .get_result(&mut *conn)
        .unwrap()
}

pub(crate) async fn deliveries(app: &TestApp, owner: &Signed, endpoint: &str) -> Vec<Value> {
    let page: Value = app
        .call(
            Method::GET,
            &format!("/v1/webhook-endpoints/{endpoint}/deliveries"),
            &owner.access,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    page["data"].as_array().unwrap().clone()
}

/// Each logged attempt's number and the receiver's status, as listed.
fn attempts_and_statuses(log: &[Value]) -> Vec<(i64, i64)> {
    log.iter()
        .map(|d| {
            (
                d["attempt"].as_i64().unwrap(),
                d["status_code"].as_i64().unwrap(),
            )
        })
        .collect()
}

async fn endpoint_view(app: &TestApp, owner: &Signed, endpoint: &str) -> Value {
    app.call(
        Method::GET,
        &format!("/v1/webhook-endpoints/{endpoint}"),
        &owner.access,
        None,
    )
    .await
    .json()
    .await
    .unwrap()
}

#[tokio::test]
async fn deliveries_are_signed_as_the_standard_says_also_while_a_secret_rotates() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let server = receiver(200).await;
    let (id, secret) = endpoint(&app, &owner, json!({"url": format!("{}/in", server.uri())})).await;

    let customer = create_customer(&app, &owner, "Ada Signed").await;
    app.run_jobs().await;
    let requests = received(&server).await;
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    let verifier = Webhook::new(&secret).unwrap();
    verifier
        .verify(&request.body, &request.headers)
        .expect("the signature verifies with the endpoint's secret");
    let body = body_of(request);
    assert_eq!(body["type"], "customer.created");
    assert_eq!(body["data"]["id"], customer.as_str());
    // Thin payloads hold ids, never content.
    let text = String::from_utf8_lossy(&request.body);
    assert!(!text.contains("Ada") && !text.contains("5550100"), "{text}");

    // A changed body, or a timestamp older than the tolerance, fails.
    let mut tampered = request.body.clone();
    tampered.push(b' ');
    assert!(verifier.verify(&tampered, &request.headers).is_err());
    let mut old = request.headers.clone();
    old.insert("webhook-timestamp", "1600000000".parse().unwrap());
    assert!(verifier.verify(&request.body, &old).is_err());

    // After a rotation both secrets verify the next delivery.
    let rotated: Value = app
        .call(
            Method::POST,
            &format!("/v1/webhook-endpoints/{id}/rotate-secret"),
            &owner.access,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let new_secret = rotated["secret"].as_str().unwrap();
    assert_ne!(new_secret, secret);
    assert!(rotated["previous_secret_until"].is_string(), "{rotated}");
    create_customer(&app, &owner, "Bo Rotated").await;
    app.run_jobs().await;
    let requests = received(&server).await;
    let last = requests.last().unwrap();
    assert_eq!(body_of(last)["type"], "customer.created");
    for secret in [secret.as_str(), new_secret] {
        Webhook::new(secret)
            .unwrap()
            .verify(&last.body, &last.headers)
            .expect("both secrets verify during the overlap");
    }
    // The secret is never shown again.
    let shown = endpoint_view(&app, &owner, &id).await;
    assert!(shown.get("secret").is_none(), "{shown}");
}

/// On PostgreSQL a create queues its deliveries in the statement that stores
/// it; on SQLite in its transaction. Either way only the enabled endpoints
/// subscribed to the event's type get it.
#[tokio::test]
async fn every_path_reaches_the_enabled_endpoints_that_subscribe_and_no_others() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let created_only = receiver(200).await;
    let other_types = receiver(200).await;
    let every_type = receiver(200).await;
    let switched_off = receiver(200).await;
    for (server, types) in [
        (&created_only, json!(["customer.created"])),
        (&other_types, json!(["customer.updated", "account.deleted"])),
        (&every_type, Value::Null),
    ] {
        endpoint(
            &app,
            &owner,
            json!({"url": server.uri(), "event_types": types}),
        )
        .await;
    }
    let (off, _) = endpoint(
        &app,
        &owner,
        json!({"url": switched_off.uri(), "event_types": ["customer.created"]}),
    )
    .await;
    let patched = app
        .call(
            Method::PATCH,
            &format!("/v1/webhook-endpoints/{off}"),
            &owner.access,
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(patched.status(), 200);

    // A create without tags is one statement on PostgreSQL, one with tags a
    // transaction that records its event apart: both queue the same way.
    let plain = create_customer(&app, &owner, "Di Subscribed").await;
    let tagged = app
        .create_customer(&owner, json!({"name": "Ed Tagged", "tags": ["vip"]}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.run_jobs().await;

    let delivered = [received(&created_only).await, received(&every_type).await];
    for requests in &delivered {
        let mut ids: Vec<String> = requests
            .iter()
            .map(|request| {
                let body = body_of(request);
                assert_eq!(body["type"], "customer.created", "{body}");
                body["data"]["id"].as_str().unwrap().to_owned()
            })
            .collect();
        ids.sort();
        let mut expected = [plain.clone(), tagged.clone()];
        expected.sort();
        assert_eq!(ids, expected);
    }
    let ids = |requests: &[Request]| {
        let mut ids: Vec<String> = requests.iter().map(webhook_id).collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(&delivered[0]), ids(&delivered[1]), "one id per event");
    assert!(received(&other_types).await.is_empty());
    assert!(received(&switched_off).await.is_empty());
    // Not even queued for the endpoint that is switched off.
    assert_eq!(jobs_for(&app, &off), 0);

    // The account's last event picks its subscribers by the same rule.
    app.delete_account(&owner).await;
    app.run_jobs().await;
    let last_types = |requests: Vec<Request>| -> Vec<String> {
        requests
            .iter()
            .map(|request| body_of(request)["type"].as_str().unwrap().to_owned())
            .filter(|kind| kind == "account.deleted")
            .collect()
    };
    assert_eq!(
        last_types(received(&other_types).await),
        ["account.deleted"]
    );
    assert_eq!(last_types(received(&every_type).await), ["account.deleted"]);
    assert!(last_types(received(&created_only).await).is_empty());
    assert!(received(&switched_off).await.is_empty());
}

#[tokio::test]
async fn a_failed_delivery_is_tried_again_with_the_same_id() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let server = first_then_ok(ResponseTemplate::new(500)).await;
    let (id, _) = endpoint(
        &app,
        &owner,
        json!({"url": server.uri(), "event_types": ["customer.created"]}),
    )
    .await;
    create_customer(&app, &owner, "Cy Retry").await;
    app.run_jobs().await;
    assert_eq!(received(&server).await.len(), 1, "one attempt, then a wait");
    let failing = endpoint_view(&app, &owner, &id).await;
    assert!(failing["failing_since"].is_string(), "{failing}");
    assert_eq!(failing["enabled"], true);

    bring_jobs_forward(&app);
    app.run_jobs().await;
    let requests = received(&server).await;
    assert_eq!(requests.len(), 2);
    assert_eq!(webhook_id(&requests[0]), webhook_id(&requests[1]));
    let log = deliveries(&app, &owner, &id).await;
    assert_eq!(
        attempts_and_statuses(&log),
        [(2, 200), (1, 500)],
        "newest first"
    );
    assert!(log[0]["error"].is_null() && log[1]["error"].is_string());
    assert!(endpoint_view(&app, &owner, &id).await["failing_since"].is_null());

    // A retry by hand sends the same event again.
    let retried = app
        .call(
            Method::POST,
            &format!(
                "/v1/webhook-endpoints/{id}/deliveries/{}/retry",
                log[1]["id"].as_str().unwrap()
            ),
            &owner.access,
            None,
        )
        .await;
    assert_eq!(retried.status(), 202);
    app.run_jobs().await;
    let requests = received(&server).await;
    assert_eq!(requests.len(), 3);
    assert_eq!(webhook_id(&requests[2]), webhook_id(&requests[0]));
}

/// Every attempt of a delivery that keeps failing is logged, retried while
/// attempts are left and then failed for good, with the endpoint failing
/// since the first: after the first failure each attempt leaves the
/// endpoint's health as it was, so its log row is written by the statement
/// that finishes the job (a retry, then the last attempt's failure).
#[tokio::test]
async fn a_delivery_that_keeps_failing_logs_every_attempt_and_then_fails() {
    use diesel::prelude::*;
    use fieldcrm_db::schema::jobs;

    let app = spawn_app().await;
    let owner = app.signup().await;
    let server = receiver(500).await;
    let (id, _) = endpoint(
        &app,
        &owner,
        json!({"url": server.uri(), "event_types": ["customer.created"]}),
    )
    .await;
    create_customer(&app, &owner, "Di Failing").await;
    app.run_jobs().await;
    let first = endpoint_view(&app, &owner, &id).await["failing_since"].clone();
    assert!(first.is_string(), "{first}");
    let attempts = fieldcrm_webhooks::MAX_ATTEMPTS as usize;
    for _ in 1..attempts {
        bring_jobs_forward(&app);
        app.run_jobs().await;
    }

    assert_eq!(received(&server).await.len(), attempts);
    let log = deliveries(&app, &owner, &id).await;
    let expected: Vec<(i64, i64)> = (1..=attempts as i64).rev().map(|n| (n, 500)).collect();
    assert_eq!(attempts_and_statuses(&log), expected, "newest first");
    let subject: fieldcrm_db::Id<()> = fieldcrm_db::Id::from_uuid(id.parse().unwrap());
    let (status, lease): (String, Option<fieldcrm_db::jobs::LeaseId>) = jobs::table
        .filter(jobs::subject_id.eq(subject))
        .select((jobs::status, jobs::lease_id))
        .first(&mut *app.pool.get().unwrap())
        .unwrap();
    assert_eq!((status.as_str(), lease), ("failed", None));
    let view = endpoint_view(&app, &owner, &id).await;
    assert_eq!(
        view["failing_since"], first,
        "failing since the first attempt"
    );
    assert_eq!(view["enabled"], true);
}

#[tokio::test]
async fn gone_disables_the_endpoint_and_nothing_more_is_sent() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let server = receiver(410).await;
    let (id, _) = endpoint(&app, &owner, json!({"url": server.uri()})).await;
    create_customer(&app, &owner, "Di Gone").await;
    app.run_jobs().await;
    assert_eq!(received(&server).await.len(), 1);
    let view = endpoint_view(&app, &owner, &id).await;
    assert_eq!(view["enabled"], false, "{view}");
    assert!(view["disabled_reason"].as_str().unwrap().contains("410"));
    create_customer(&app, &owner, "Ed After").await;
    bring_jobs_forward(&app);
    app.run_jobs().await;
    assert_eq!(
        received(&server).await.len(),
        1,
        "nothing sent once disabled"
    );

    // Enabling it again clears the reason, and deliveries resume.
    let enabled: Value = app
        .call(
            Method::PATCH,
            &format!("/v1/webhook-endpoints/{id}"),
            &owner.access,
            Some(json!({"enabled": true})),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(enabled["enabled"], true);
    assert!(enabled["disabled_reason"].is_null());
}

#[tokio::test]
async fn a_slow_receiver_times_out_and_a_redirect_is_not_followed() {
    let app = spawn_app_with(|s| s.webhook_timeout_secs = 1).await;
    let owner = app.signup().await;
    let slow = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .mount(&slow)
        .await;
    let target = receiver(200).await;
    let redirecting = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(307).insert_header("location", target.uri().as_str()))
        .mount(&redirecting)
        .await;
    let (slow_id, _) = endpoint(&app, &owner, json!({"url": slow.uri()})).await;
    let (redirect_id, _) = endpoint(&app, &owner, json!({"url": redirecting.uri()})).await;
    create_customer(&app, &owner, "Flo Slow").await;
    app.run_jobs().await;

    let slow_log = deliveries(&app, &owner, &slow_id).await;
    assert_eq!(slow_log.len(), 1);
    assert!(slow_log[0]["status_code"].is_null());
    assert!(
        slow_log[0]["error"]
            .as_str()
            .unwrap()
            .contains("no answer within"),
        "{slow_log:?}"
    );
    assert!(slow_log[0]["duration_ms"].as_i64().unwrap() < 2_900);
    let redirect_log = deliveries(&app, &owner, &redirect_id).await;
    assert_eq!(redirect_log[0]["status_code"], 307);
    assert!(redirect_log[0]["error"]
        .as_str()
        .unwrap()
        .contains("redirects are not followed"));
    assert!(
        received(&target).await.is_empty(),
        "the redirect was not followed"
    );
}

#[tokio::test]
async fn private_and_metadata_targets_are_refused_unless_the_operator_allows_them() {
    let app = spawn_app_with(|s| s.webhooks_allow_private_targets = false).await;
    let owner = app.signup().await;
    for url in [
        "http://hooks.example.com/in",
        "https://127.0.0.1/in",
        "https://10.1.2.3/in",
        "https://[::1]/in",
        "https://169.254.169.254/latest",
    ] {
        let response = app
            .call(
                Method::POST,
                "/v1/webhook-endpoints",
                &owner.access,
                Some(json!({"url": url})),
            )
            .await;
        assert_eq!(response.status(), 422, "{url}");
        let body = problem(response).await;
        assert_eq!(body["errors"][0]["field"], "url", "{body}");
    }
    let listed: Value = app
        .call(Method::GET, "/v1/webhook-endpoints", &owner.access, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"], json!([]), "nothing was registered");

    // Allowed for on-premise receivers, except the metadata service.
    let allowed = spawn_app().await;
    let owner = allowed.signup().await;
    let response = allowed
        .call(
            Method::POST,
            "/v1/webhook-endpoints",
            &owner.access,
            Some(json!({"url": "http://127.0.0.1:9/in"})),
        )
        .await;
    assert_eq!(response.status(), 201);
    let response = allowed
        .call(
            Method::POST,
            "/v1/webhook-endpoints",
            &owner.access,
            Some(json!({"url": "http://169.254.169.254/latest"})),
        )
        .await;
    assert_eq!(response.status(), 422);
}

#[tokio::test]
async fn endpoint_fields_are_checked() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    for (body, field) in [
        (
            json!({"url": "https://hooks.example.com", "event_types": ["customer.exploded"]}),
            "event_types",
        ),
        (
            json!({"url": "https://hooks.example.com", "event_types": []}),
            "event_types",
        ),
        (
            json!({"url": "https://hooks.example.com", "payload": "fat"}),
            "payload",
        ),
        (json!({"url": ""}), "url"),
        (json!({"url": "not a url"}), "url"),
    ] {
        let response = app
            .call(
                Method::POST,
                "/v1/webhook-endpoints",
                &owner.access,
                Some(body.clone()),
            )
            .await;
        assert_eq!(response.status(), 422, "{body}");
        assert_eq!(
            problem(response).await["errors"][0]["field"],
            field,
            "{body}"
        );
    }
}

#[tokio::test]
async fn full_payloads_carry_the_record_as_get_returns_it() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let server = receiver(200).await;
    endpoint(
        &app,
        &owner,
        json!({"url": server.uri(), "payload": "full", "event_types": ["customer.updated"]}),
    )
    .await;
    let customer = create_customer(&app, &owner, "Gus Full").await;
    let updated = app
        .call(
            Method::PATCH,
            &format!("/v1/customers/{customer}"),
            &owner.access,
            Some(json!({"notes": "side door"})),
        )
        .await;
    assert_eq!(updated.status(), 200);
    app.run_jobs().await;
    let got = app
        .call(
            Method::GET,
            &format!("/v1/customers/{customer}"),
            &owner.access,
            None,
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
    let requests = received(&server).await;
    assert_eq!(requests.len(), 1, "only the subscribed type");
    let body = body_of(&requests[0]);
    assert_eq!(body["data"]["changed"], json!(["notes"]));
    assert_eq!(body["data"]["object"], got);
}

#[tokio::test]
async fn the_feed_lists_changes_in_order_with_ids_and_field_names_only() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let customer = create_customer(&app, &owner, "Hal Feed").await;
    app.call(
        Method::PATCH,
        &format!("/v1/customers/{customer}"),
        &owner.access,
        Some(json!({"phone": "+15125550199"})),
    )
    .await;
    let deleted = app
        .call(
            Method::DELETE,
            &format!("/v1/customers/{customer}"),
            &owner.access,
            None,
        )
        .await;
    assert_eq!(deleted.status(), 204);

    let page: Value = app
        .call(
            Method::GET,
            "/v1/events?types=customer.created,customer.updated,customer.deleted",
            &owner.access,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let types: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    // Erasure took the earlier events about the person; its own remains.
    assert_eq!(types, ["customer.deleted"], "{page}");
    assert_eq!(page["data"][0]["data"]["id"], customer.as_str());
    assert_eq!(page["data"][0]["actor"], "user");

    let kept = create_customer(&app, &owner, "Ida Kept").await;
    app.call(
        Method::PATCH,
        &format!("/v1/customers/{kept}"),
        &owner.access,
        Some(json!({"phone": "+15125550198", "name": "Ida Kept-Renamed"})),
    )
    .await;
    let all: Value = app
        .call(Method::GET, "/v1/events?limit=2", &owner.access, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["data"].as_array().unwrap().len(), 2);
    let next = all["next_cursor"].as_str().expect("a second page");
    let rest: Value = app
        .call(
            Method::GET,
            &format!("/v1/events?cursor={next}"),
            &owner.access,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let mut seen: Vec<Value> = all["data"].as_array().unwrap().clone();
    seen.extend(rest["data"].as_array().unwrap().iter().cloned());
    let types: Vec<&str> = seen.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        ["customer.deleted", "customer.created", "customer.updated"]
    );
    assert_eq!(seen[2]["data"]["changed"], json!(["name", "phone"]));
    let text = serde_json::to_string(&seen).unwrap();
    assert!(!text.contains("Ida") && !text.contains("5550198"), "{text}");

    let bad = app
        .call(
            Method::GET,
            "/v1/events?types=customer.exploded",
            &owner.access,
            None,
        )
        .await;
    assert_eq!(bad.status(), 422);
    let technician = app.user_with_role(&owner, "technician").await;
    let refused = app
        .call(Method::GET, "/v1/events", &technician.access, None)
        .await;
    assert_eq!(refused.status(), 403);
    let (_, key) = app.api_key(&owner, "read").await;
    let by_key = app.call(Method::GET, "/v1/events", &key, None).await;
    assert_eq!(by_key.status(), 200);
    let cannot_manage = app
        .call(Method::GET, "/v1/webhook-endpoints", &key, None)
        .await;
    assert_eq!(
        cannot_manage.status(),
        403,
        "managing webhooks needs a write key"
    );
}

#[tokio::test]
async fn every_kind_of_change_is_in_the_feed() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let technician = app.user_with_role(&owner, "technician").await;
    let prospect: Value = app
        .call(
            Method::POST,
            "/v1/prospects",
            &owner.access,
            Some(json!({"name": "Jin Lead", "email": "jin@example.com"})),
        )
        .await
        .json()
        .await
        .unwrap();
    let prospect = prospect["id"].as_str().unwrap();
    let consent = app
        .call(
            Method::POST,
            &format!("/v1/prospects/{prospect}/consent"),
            &owner.access,
            Some(json!({"channel": "email", "status": "opted_in", "source": "form"})),
        )
        .await;
    assert!(consent.status().is_success());
    let converted = app
        .call(
            Method::POST,
            &format!("/v1/prospects/{prospect}/convert"),
            &owner.access,
            None,
        )
        .await;
    assert_eq!(converted.status(), 200);
    let starts = chrono::Utc::now() + chrono::Duration::days(1);
    let booked: Value = app
        .call(
            Method::POST,
            "/v1/appointments",
            &owner.access,
            Some(json!({"customer_id": prospect, "technician_id": technician.user_id, "title": "Visit",
                "starts_at": starts.to_rfc3339(), "ends_at": (starts + chrono::Duration::hours(1)).to_rfc3339(), "reminders": []})),
        )
        .await
        .json()
        .await
        .unwrap();
    let appointment = booked["id"].as_str().unwrap();
    let moved = app
        .call(
            Method::PATCH,
            &format!("/v1/appointments/{appointment}"),
            &owner.access,
            Some(json!({"starts_at": (starts + chrono::Duration::hours(2)).to_rfc3339(), "ends_at": (starts + chrono::Duration::hours(3)).to_rfc3339()})),
        )
        .await;
    assert_eq!(moved.status(), 200);
    let confirmed = app
        .call(
            Method::POST,
            &format!("/v1/appointments/{appointment}/status"),
            &owner.access,
            Some(json!({"status": "confirmed"})),
        )
        .await;
    assert_eq!(confirmed.status(), 200);
    assert_eq!(
        app.call(
            Method::POST,
            "/v1/shifts/clock-in",
            &technician.access,
            None
        )
        .await
        .status(),
        201
    );
    assert_eq!(
        app.call(
            Method::POST,
            "/v1/shifts/clock-out",
            &technician.access,
            None
        )
        .await
        .status(),
        200
    );
    let page: Value = app
        .call(Method::GET, "/v1/events?limit=200", &owner.access, None)
        .await
        .json()
        .await
        .unwrap();
    let types: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    for expected in [
        "user.created",
        "prospect.created",
        "consent.changed",
        "prospect.converted",
        "appointment.created",
        "appointment.rescheduled",
        "appointment.status_changed",
        "shift.clocked_in",
        "shift.clocked_out",
    ] {
        assert!(
            types.contains(&expected),
            "{expected} missing from {types:?}"
        );
    }
    let clocked_out = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "shift.clocked_out")
        .unwrap();
    assert_eq!(clocked_out["data"]["user_id"], technician.user_id.as_str());
    assert!(
        !serde_json::to_string(&page).unwrap().contains("\"lat\""),
        "no position in any event"
    );
}

#[tokio::test]
async fn erasure_and_account_deletion_reach_every_subscriber_and_leave_nothing_behind() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let server = receiver(200).await;
    let (_, secret) = endpoint(&app, &owner, json!({"url": server.uri()})).await;
    let customer = create_customer(&app, &owner, "Kay Erased").await;
    app.call(
        Method::DELETE,
        &format!("/v1/customers/{customer}"),
        &owner.access,
        None,
    )
    .await;
    app.run_jobs().await;
    let requests = received(&server).await;
    // The create went out before the erasure, or finds its event erased.
    let last = requests.last().expect("deliveries");
    assert_eq!(body_of(last)["type"], "customer.deleted");
    assert_eq!(body_of(last)["data"]["id"], customer.as_str());

    app.delete_account(&owner).await;
    let left: Vec<(String, i64)> =
        rows_referring_to(&app, "account_id", owner.account_id.parse().unwrap())
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .collect();
    assert_eq!(left, Vec::<(String, i64)>::new());
    app.run_jobs().await;
    let requests = received(&server).await;
    let last = requests.last().unwrap();
    let body = body_of(last);
    assert_eq!(body["type"], "account.deleted");
    assert_eq!(body["data"]["id"], owner.account_id.as_str());
    Webhook::new(&secret)
        .unwrap()
        .verify(&last.body, &last.headers)
        .expect("the final event is signed with the endpoint's secret");
    // The job that carried it forgot the URL and the secret.
    use diesel::prelude::*;
    use fieldcrm_db::schema::jobs;
    let mut conn = app.pool.get().unwrap();
    let payloads: Vec<Option<String>> = jobs::table
        .filter(jobs::kind.eq("webhook_final_delivery"))
        .select(jobs::payload)
        .load(&mut *conn)
        .unwrap();
    assert_eq!(payloads, [None]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_delivery_loses_nothing_and_the_retry_keeps_the_id() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    // The first attempt hangs until the worker is gone; the next is answered.
    let server = first_then_ok(ResponseTemplate::new(200).set_delay(Duration::from_secs(30))).await;
    let (id, _) = endpoint(
        &app,
        &owner,
        json!({"url": server.uri(), "event_types": ["customer.created"]}),
    )
    .await;

    let mut worker = std::process::Command::new(env!("CARGO_BIN_EXE_fieldcrm"));
    worker
        .arg("serve")
        .env("DATABASE_URL", app.db.url())
        .env("FIELDCRM_JOBS_ENABLED", "true")
        .env("FIELDCRM_JOB_POLL_INTERVAL_MS", "50")
        .env("FIELDCRM_OUTBOUND_TIMEOUT_SECS", "10")
        .env("FIELDCRM_WEBHOOK_TIMEOUT_SECS", "20")
        .env("FIELDCRM_JOB_LEASE_SECS", "60")
        .env("FIELDCRM_WEBHOOKS_ALLOW_PRIVATE_TARGETS", "true");
    let worker = fieldcrm_test_support::ServerProcess::start(worker)
        .await
        .expect("start a worker");
    create_customer(&app, &owner, "Lee Killed").await;
    let reached = fieldcrm_test_support::wait_until(Duration::from_secs(20), || {
        futures_util::FutureExt::now_or_never(server.received_requests())
            .flatten()
            .is_some_and(|r| !r.is_empty())
    })
    .await;
    assert!(
        reached,
        "the worker started the delivery:\n{}",
        worker.output()
    );
    // SIGKILL: no chance to record anything.
    worker.stop();

    // Its lease runs out (here: at once), and another worker delivers again.
    {
        use diesel::prelude::*;
        use fieldcrm_db::schema::jobs;
        let mut conn = app.pool.get().unwrap();
        let expired = diesel::update(jobs::table.filter(jobs::status.eq("running")))
            .set(jobs::lease_expires_at.eq(fieldcrm_db::Ts::now()))
            .execute(&mut *conn)
            .unwrap();
        assert_eq!(
            expired, 1,
            "the delivery was left running under the dead worker's lease"
        );
    }
    app.run_jobs().await;
    let requests = received(&server).await;
    assert_eq!(requests.len(), 2);
    assert_eq!(
        webhook_id(&requests[0]),
        webhook_id(&requests[1]),
        "the same event id"
    );
    let log = deliveries(&app, &owner, &id).await;
    assert_eq!(log.len(), 1, "the killed attempt recorded nothing: {log:?}");
    assert_eq!(log[0]["status_code"], 200);
    assert_eq!(log[0]["attempt"], 2);
}
