//! What every response carries, whatever the endpoint: problem+json errors,
//! request ids, security headers, CORS, metrics.

use fieldcrm_test_support::{problem, spawn_app, spawn_app_with};
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn unknown_routes_are_404_problems() {
    let app = spawn_app().await;
    for path in [
        "/nope",
        "/v1/nothing-here",
        "/v1/customers/../../etc/passwd",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 404, "{path}");
        let body = problem(response).await;
        assert_eq!(body["code"], "not_found");
    }
}

#[tokio::test]
async fn a_known_path_with_the_wrong_method_is_405_with_allow() {
    let app = spawn_app().await;
    let response = app.client.delete(app.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET");
    let body = problem(response).await;
    assert_eq!(body["code"], "method_not_allowed");
}

/// Every documented operation reaches a handler, whatever scope its path is
/// routed through: none is answered by the fallback (404 "no such endpoint"
/// or 405). A path placed outside the scope that shares its prefix would be.
#[tokio::test]
async fn every_documented_operation_is_routed_to_its_handler() {
    let app = spawn_app().await;
    let spec: Value = app.get("/openapi.json").await.json().await.unwrap();
    let mut operations = 0;
    for (template, item) in spec["paths"].as_object().unwrap() {
        let path = template
            .split('/')
            .map(|segment| {
                if segment.starts_with('{') {
                    "00000000-0000-0000-0000-000000000000"
                } else {
                    segment
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        for method in item.as_object().unwrap().keys() {
            let Ok(method) = Method::from_bytes(method.to_uppercase().as_bytes()) else {
                continue;
            };
            if !matches!(
                method,
                Method::GET | Method::POST | Method::PUT | Method::PATCH | Method::DELETE
            ) {
                continue;
            }
            let response = app
                .client
                .request(method.clone(), app.url(&path))
                .send()
                .await
                .unwrap();
            let status = response.status();
            let text = response.text().await.unwrap();
            assert_ne!(status, 405, "{method} {template}: {text}");
            assert!(
                !text.contains("no such endpoint"),
                "{method} {template} went to no handler: {text}"
            );
            operations += 1;
        }
    }
    assert!(operations > 80, "only {operations} operations in the spec");
}

/// A literal path is not mistaken for an id of its neighbour: GET on
/// `/v1/shifts/clock-in` is 405 with `Allow: POST`, not a lookup of shift
/// "clock-in".
#[tokio::test]
async fn a_literal_path_answers_405_with_only_its_own_methods() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    for path in ["/v1/shifts/clock-in", "/v1/shifts/clock-out"] {
        let response = app
            .authed(Method::GET, path, &owner.access)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405, "{path}");
        assert_eq!(response.headers()["allow"], "POST");
        problem(response).await;
    }
}

/// What contract fuzzing found, kept: a malformed If-Match is 400 (a weak or
/// stale one stays 412), an empty cursor or search is absent, a JSON array is
/// not a body, a webhook without its headers is 400.
#[tokio::test]
async fn malformed_preconditions_cursors_and_bodies_are_told_apart() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let created = app
        .call(
            Method::POST,
            "/v1/customers",
            &owner.access,
            Some(json!({"name": "Ann"})),
        )
        .await;
    let id = created.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/v1/customers/{id}");
    for (if_match, status) in [
        ("", 400),
        ("null", 400),
        ("0", 400),
        ("W/\"1\"", 412),
        ("\"2\"", 412),
    ] {
        let response = app
            .authed(Method::PATCH, &path, &owner.access)
            .header("if-match", if_match)
            .json(&json!({"notes": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "If-Match: {if_match}");
        problem(response).await;
    }
    let listed = app
        .call(Method::GET, "/v1/customers?cursor=&q=", &owner.access, None)
        .await;
    assert_eq!(listed.status(), 200);
    assert_eq!(
        listed.json::<Value>().await.unwrap()["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let array = app
        .authed(Method::POST, "/v1/customers", &owner.access)
        .header("content-type", "application/json")
        .body(r#"["Ann", null]"#)
        .send()
        .await
        .unwrap();
    assert_eq!(array.status(), 422);
    let clock_in = app
        .authed(Method::POST, "/v1/shifts/clock-in", &owner.access)
        .header("content-type", "application/json")
        .body("null")
        .send()
        .await
        .unwrap();
    assert_eq!(clock_in.status(), 201, "a null body is no body");
    let webhook = app
        .client
        .post(app.url("/v1/webhooks/google/calendar"))
        .header("X-Goog-Channel-ID", "")
        .send()
        .await
        .unwrap();
    assert_eq!(webhook.status(), 400);
    problem(webhook).await;
}

#[tokio::test]
async fn every_response_has_a_request_id_and_security_headers() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for path in ["/healthz", "/nope"] {
        let response = app.get(path).await;
        let headers = response.headers();
        let id = headers["x-request-id"].to_str().unwrap().to_owned();
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
        ids.push(id);
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["x-frame-options"], "DENY");
        assert_eq!(headers["cache-control"], "no-store");
        assert!(headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'"));
    }
    assert_ne!(ids[0], ids[1], "each request gets its own id");
}

#[tokio::test]
async fn cors_allows_only_the_configured_origins() {
    let app = spawn_app_with(|s| s.cors_allowed_origins = "https://dash.example.com".into()).await;

    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/healthz"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
    };
    let allowed = preflight("https://dash.example.com").await.unwrap();
    assert!(allowed.status().is_success(), "{}", allowed.status());
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://dash.example.com"
    );

    let refused = preflight("https://evil.example.net").await.unwrap();
    assert!(refused
        .headers()
        .get("access-control-allow-origin")
        .is_none());
    assert!(refused.status().is_client_error(), "{}", refused.status());
    problem(refused).await;
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status_and_show_the_pool() {
    let app = spawn_app().await;
    app.get("/healthz").await;
    app.get("/readyz").await;
    app.get("/no-such-page-42").await;
    // The session listener's heartbeat runs statements of its own at any time
    // on PostgreSQL: the scraped counts lie between a reading before and after.
    let (statements_before, checks_before) = (app.pool.statements_run(), app.pool.checks_run());
    let text = app.get("/metrics").await.text().await.unwrap();
    let (statements_after, checks_after) = (app.pool.statements_run(), app.pool.checks_run());
    assert!(
        text.contains(
            r#"fieldcrm_http_requests_total{endpoint="/healthz",method="GET",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains("fieldcrm_http_requests_duration_seconds_bucket"),
        "{text}"
    );
    assert!(
        text.contains(r#"endpoint="UNKNOWN",method="GET",status="404""#),
        "{text}"
    );
    assert!(
        !text.contains("no-such-page-42"),
        "unknown paths must not become labels"
    );
    assert!(
        text.contains("fieldcrm_db_pool_max_connections 10"),
        "{text}"
    );
    assert!(text.contains("fieldcrm_db_pool_connections"), "{text}");
    let counter = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.trim().parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no {name} in {text}"))
    };
    let statements = counter("fieldcrm_db_statements_total ");
    assert!(
        (statements_before..=statements_after).contains(&statements) && statements > 0,
        "the statements the pool counted: {statements} scraped, {statements_before} to {statements_after} read"
    );
    let checks = counter("fieldcrm_db_connection_checks_total ");
    assert!(
        (checks_before..=checks_after).contains(&checks),
        "the connection checks: {checks} scraped, {checks_before} to {checks_after} read"
    );
}

#[tokio::test]
async fn the_reference_docs_are_served() {
    let app = spawn_app().await;
    let docs = app.get("/docs").await;
    assert_eq!(docs.status(), 200);
    assert!(docs.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let csp = docs.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        !csp.contains("http") && !csp.contains("*"),
        "the page may load nothing from elsewhere: {csp}"
    );
    let html = docs.text().await.unwrap();
    // Everything the page loads comes from this server, and one of its
    // scripts loads the served spec.
    let mut loaded = String::new();
    for attribute in ["src=\"", "href=\""] {
        for part in html.split(attribute).skip(1) {
            let target = &part[..part.find('"').unwrap()];
            assert!(
                target.starts_with('/') && !target.starts_with("//"),
                "{target} is not served by this server"
            );
            let asset = app.get(target).await;
            assert_eq!(asset.status(), 200, "{target}");
            loaded.push_str(&asset.text().await.unwrap());
        }
    }
    assert!(
        html.contains("/openapi.json") || loaded.contains("/openapi.json"),
        "the page loads the served spec"
    );

    let spec: serde_json::Value = app.get("/openapi.json").await.json().await.unwrap();
    assert_eq!(spec["openapi"], "3.1.0");
    assert_eq!(
        spec,
        serde_json::to_value(fieldcrm::openapi::spec()).unwrap()
    );
}

mod bodies {
    use fieldcrm_test_support::{problem, spawn_app, spawn_app_with, PASSWORD};

    #[tokio::test]
    async fn malformed_json_is_400_and_says_where() {
        let app = spawn_app().await;
        let response = app
            .client
            .post(app.url("/v1/auth/signup"))
            .header("content-type", "application/json")
            .body("{\"account_name\": \"A\",\n \"email\": }")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        let body = problem(response).await;
        assert!(
            body["detail"].as_str().unwrap().contains("line 2 column"),
            "{body}"
        );
    }

    #[tokio::test]
    async fn a_body_that_is_not_json_is_415() {
        let app = spawn_app().await;
        for content_type in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
        ] {
            let mut request = app
                .client
                .post(app.url("/v1/auth/login"))
                .body("email=a&password=b");
            if let Some(ct) = content_type {
                request = request.header("content-type", ct);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 415, "{content_type:?}");
            problem(response).await;
        }
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_413_whether_declared_or_streamed() {
        let app = spawn_app_with(|s| s.max_body_bytes = 2048).await;
        let big = format!(
            r#"{{"email": "a@example.com", "password": "{}"}}"#,
            "x".repeat(4096)
        );
        let declared = app
            .client
            .post(app.url("/v1/auth/login"))
            .header("content-type", "application/json")
            .body(big.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(declared.status(), 413);
        problem(declared).await;

        let chunks: Vec<Result<Vec<u8>, std::io::Error>> = big
            .into_bytes()
            .chunks(512)
            .map(|c| Ok(c.to_vec()))
            .collect();
        let streamed = app
            .client
            .post(app.url("/v1/auth/login"))
            .header("content-type", "application/json")
            .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
                chunks,
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(streamed.status(), 413);
        problem(streamed).await;
    }

    #[tokio::test]
    async fn json_of_the_wrong_shape_is_422_naming_the_field() {
        let app = spawn_app().await;
        for (body, field) in [
            (serde_json::json!({"password": PASSWORD}), "email"),
            (
                serde_json::json!({"email": 42, "password": PASSWORD}),
                "email",
            ),
            (
                serde_json::json!({"email": "a@example.com", "password": PASSWORD, "remember": true}),
                "remember",
            ),
        ] {
            let response = app.post_json("/v1/auth/login", &body).await;
            assert_eq!(response.status(), 422, "{body}");
            let problem = problem(response).await;
            assert_eq!(problem["errors"][0]["field"], field, "{problem}");
        }
    }
}
