//! Hostile input: path ids that are not UUIDs on every `{id}` route of the
//! published spec, SQL metacharacters in text and query parameters, Unicode
//! that must come back exactly as it went in, oversized heads, deep JSON,
//! garbage ping batches and slow clients.

use fieldcrm_test_support::{problem, spawn_app, spawn_app_with};
use reqwest::Method;
use serde_json::{json, Value};

use crate::messages::{customer, owner};
use crate::tracking::clock;

const BAD_IDS: [&str; 5] = [
    "not-a-uuid",
    "1",
    "%27%20OR%201%3D1%20--",
    "00000000-0000-0000-0000-00000000000g",
    "%F0%9F%9A%80",
];

#[tokio::test]
async fn path_ids_that_are_not_uuids_are_refused_and_never_a_server_error() {
    let app = spawn_app().await;
    let owner = owner(&app).await;
    let spec = serde_json::to_value(fieldcrm::openapi::spec()).unwrap();
    let mut checked = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        if !path.contains("{id}") {
            continue;
        }
        for method in item.as_object().unwrap().keys() {
            let method: Method = method.to_uppercase().parse().unwrap();
            for bad in BAD_IDS {
                let url = path.replace("{id}", bad);
                let response = app
                    .authed(method.clone(), &url, &owner.access)
                    .header("If-Match", "*")
                    .json(&json!({}))
                    .send()
                    .await
                    .unwrap();
                let status = response.status().as_u16();
                assert!(
                    status == 404 || status == 422 || status == 400,
                    "{method} {url} answered {status}"
                );
                assert_eq!(
                    response.headers()["content-type"],
                    "application/problem+json",
                    "{method} {url}"
                );
                checked += 1;
            }
        }
    }
    assert!(
        checked > 50,
        "only {checked} requests: did the spec change?"
    );
}

#[tokio::test]
async fn names_with_sql_metacharacters_and_unusual_unicode_come_back_intact() {
    let app = spawn_app().await;
    let owner = owner(&app).await;
    let names = [
        "Robert'); DROP TABLE people;--",
        "100% _real_ \\ \"quoted\"",
        "Zoë Ñúñez 李小龍 🚀",
        "e\u{301}milie",
        "مرحبا بالعالم",
        "👩\u{200d}🔧 Plumber",
        "No\u{a0}break",
    ];
    for name in names {
        let id = customer(&app, &owner, json!({"name": name}), &[]).await;
        let got: Value = app
            .call(
                Method::GET,
                &format!("/v1/customers/{id}"),
                &owner.access,
                None,
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(got["name"], name, "stored and returned as sent");
    }
    // Searching for the metacharacters finds exactly the name holding them.
    for (q, index) in [
        ("'); DROP", 0),
        ("100%", 1),
        ("_real_", 1),
        ("\\ \"", 1),
        ("李小龍", 2),
        ("🔧", 5),
    ] {
        let response = app
            .authed(Method::GET, "/v1/customers", &owner.access)
            .query(&[("q", q)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "q={q}");
        let found: Value = response.json().await.unwrap();
        let found: Vec<&str> = found["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(found, vec![names[index]], "q={q}");
    }
    assert_eq!(
        app.call(Method::GET, "/v1/customers?limit=100", &owner.access, None)
            .await
            .json::<Value>()
            .await
            .unwrap()["data"]
            .as_array()
            .unwrap()
            .len(),
        names.len(),
        "the table is still there"
    );
}

#[tokio::test]
async fn query_parameters_with_metacharacters_are_answered_without_a_server_error() {
    let app = spawn_app().await;
    let owner = owner(&app).await;
    for query in [
        "q=%27%22%5C%25_%3B--",
        "sort=%27%3B--",
        "sort=name%27",
        "cursor=%27%20OR%201%3D1",
        "cursor=AAAA",
        "limit=-1",
        "limit=abc",
        "limit=999999999999999999999",
        "tag=%27%20OR%20%271%27%3D%271",
        "updated_since=2026-13-45",
    ] {
        for path in [
            "/v1/customers",
            "/v1/prospects",
            "/v1/appointments",
            "/v1/messages",
        ] {
            let url = format!("{path}?{query}");
            let response = app.call(Method::GET, &url, &owner.access, None).await;
            let status = response.status().as_u16();
            assert!(
                status == 200 || status == 400 || status == 422,
                "GET {url} answered {status}"
            );
        }
    }
}

/// Request heads far over any sensible size are refused before a handler runs.
#[tokio::test]
async fn oversized_headers_are_refused_without_reaching_a_handler() {
    let app = spawn_app().await;
    let owner = owner(&app).await;
    let huge = "a".repeat(256 * 1024);
    let response = app
        .authed(Method::GET, "/v1/customers", &owner.access)
        .header("x-padding", &huge)
        .send()
        .await;
    // The server may answer 431 or close the connection; either way nothing ran.
    if let Ok(response) = response {
        assert_eq!(response.status(), 431);
    }
    let many = (0..200).fold(
        app.authed(Method::GET, "/v1/customers", &owner.access),
        |request, n| request.header(format!("x-h{n}"), "v"),
    );
    if let Ok(response) = many.send().await {
        assert_eq!(response.status(), 431);
    }
    // The server is still there for well-formed requests.
    let fine = app
        .call(Method::GET, "/v1/customers", &owner.access, None)
        .await;
    assert_eq!(fine.status(), 200);
}

/// JSON nested far past any sensible depth is a clear client error, never a
/// stack overflow or a 5xx.
#[tokio::test]
async fn deeply_nested_json_is_a_clear_400() {
    let app = spawn_app().await;
    let owner = owner(&app).await;
    for depth in [200, 100_000] {
        let body = format!(
            "{{\"address\": {{\"line1\": {}1{}}}}}",
            "[".repeat(depth),
            "]".repeat(depth)
        );
        let response = app
            .authed(Method::POST, "/v1/customers", &owner.access)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        // Typed bodies stop at the first value of the wrong type (422), so the
        // nesting is never walked; 400 would be serde_json's depth limit.
        assert!([400, 413, 422].contains(&status), "depth {depth}: {status}");
        problem(response).await;
    }
    let listed = app
        .call(Method::GET, "/v1/customers", &owner.access, None)
        .await;
    assert_eq!(listed.json::<Value>().await.unwrap()["data"], json!([]));
}

/// A full batch of 1000 pings of garbage: every one is rejected with its reason,
/// nothing is stored, and the answer comes in one piece.
#[tokio::test]
async fn a_thousand_garbage_pings_are_each_rejected_and_none_stored() {
    let app = spawn_app().await;
    let owner = owner(&app).await;
    let tech = app.user_with_role(&owner, "technician").await;
    let shift = clock(&app, &tech, "clock-in").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let garbage: Vec<Value> = (0..1000)
        .map(|n| match n % 8 {
            0 => json!({"id": uuid::Uuid::new_v4(), "recorded_at": "yesterday", "lat": 1.0, "lon": 1.0}),
            1 => json!({"id": uuid::Uuid::new_v4(), "recorded_at": chrono::Utc::now(), "lat": 91.0, "lon": 1.0}),
            2 => json!({"id": uuid::Uuid::new_v4(), "recorded_at": chrono::Utc::now(), "lat": "north", "lon": 1.0}),
            3 => json!({"id": "not-a-uuid", "recorded_at": chrono::Utc::now(), "lat": 1.0, "lon": 1.0}),
            4 => json!(null),
            5 => json!([1, 2, 3]),
            6 => json!({"id": uuid::Uuid::new_v4(), "recorded_at": "9999-12-31T23:59:59Z", "lat": 1.0, "lon": 181.0}),
            _ => json!({"id": uuid::Uuid::new_v4(), "recorded_at": chrono::Utc::now(), "lat": 1.0, "lon": 1.0, "accuracy_m": -5}),
        })
        .collect();
    let response = app
        .call(
            Method::POST,
            "/v1/pings",
            &tech.access,
            Some(json!({"pings": garbage})),
        )
        .await;
    // Judged ping by ping: the batch itself is well formed, so 200.
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["accepted"], 0, "{body}");
    let rejected = body["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 1000);
    assert!(
        rejected.iter().all(|r| r["reason"].is_string()),
        "each with its reason: {body}"
    );
    assert_eq!(fieldcrm_test_support::stored_pings(&app, &shift), 0);
}

/// A client that sends its head and then trickles the body is answered 408
/// when the body timeout passes, and one that never finishes its head is cut
/// off; neither holds the server up for others, which are answered while
/// both are still waiting.
#[tokio::test]
async fn slow_clients_time_out_and_others_are_served_meanwhile() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app_with(|s| {
        s.client_request_timeout_secs = 3;
        s.client_body_timeout_secs = 3;
    })
    .await;
    let owner = owner(&app).await;
    let address = app.address.trim_start_matches("http://").to_owned();

    let mut trickle = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /v1/customers HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"name\": \"",
        owner.access
    );
    trickle.write_all(head.as_bytes()).await.unwrap();
    let mut silent = tokio::net::TcpStream::connect(&address).await.unwrap();
    silent
        .write_all(b"GET /v1/customers HTTP/1.1\r\nHost: x")
        .await
        .unwrap();

    // Another client, on a connection of its own, is served while both hang
    // on: when its answer is in, neither slow connection has been answered or
    // closed yet. (Served only once a slow one is cut off, it would come after
    // their timeouts.)
    let another = reqwest::Client::new()
        .get(app.url("/v1/customers"))
        .bearer_auth(&owner.access)
        .send()
        .await
        .unwrap();
    assert_eq!(another.status(), 200);
    for (name, stream) in [("trickling", &trickle), ("silent", &silent)] {
        let mut buf = [0u8; 64];
        let pending = stream.try_read(&mut buf);
        assert!(
            pending
                .as_ref()
                .is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock),
            "the {name} client was dealt with before the others were served: {pending:?}"
        );
    }

    let mut answer = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            // A byte every 100 ms, never the whole body.
            if trickle.write_all(b"a").await.is_err() {
                break;
            }
            let mut buf = [0u8; 4096];
            match tokio::time::timeout(
                std::time::Duration::from_millis(100),
                trickle.read(&mut buf),
            )
            .await
            {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
                Err(_) => {}
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the trickling client was never cut off");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");

    let mut buf = Vec::new();
    let closed = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        silent.read_to_end(&mut buf),
    )
    .await;
    assert!(closed.is_ok(), "the silent client was never cut off");
    let listed = app
        .call(Method::GET, "/v1/customers", &owner.access, None)
        .await;
    assert_eq!(
        listed.json::<Value>().await.unwrap()["data"],
        json!([]),
        "nothing saved"
    );
}

fn signup_body(email: &str) -> Value {
    json!({"account_name": "Flood Co", "name": "Flood", "email": email,
           "password": fieldcrm_test_support::PASSWORD})
}

async fn signup_from(
    app: &fieldcrm_test_support::TestApp,
    address: &str,
    email: &str,
) -> reqwest::Response {
    app.client
        .post(app.url("/v1/auth/signup"))
        .header("x-forwarded-for", address)
        .json(&signup_body(email))
        .send()
        .await
        .unwrap()
}

fn fresh_email() -> String {
    format!("new-{}@example.com", uuid::Uuid::new_v4().simple())
}

/// Signups are limited per client address; other addresses sign up as usual.
#[tokio::test]
async fn signups_are_limited_per_client_address() {
    let app = spawn_app_with(|s| {
        s.trust_forwarded_for = true;
        s.signups_per_ip = 3;
    })
    .await;
    for _ in 0..3 {
        assert_eq!(
            signup_from(&app, "203.0.113.5", &fresh_email())
                .await
                .status(),
            201
        );
    }
    let refused = signup_from(&app, "203.0.113.5", &fresh_email()).await;
    assert_eq!(refused.status(), 429);
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&retry_after), "{retry_after}");
    assert_eq!(problem(refused).await["code"], "rate_limited");
    assert_eq!(
        signup_from(&app, "198.51.100.5", &fresh_email())
            .await
            .status(),
        201
    );
}

/// Password hashing is memory-hard: beyond the configured number at once (and
/// a short queue), requests that need it are refused with 429 rather than
/// piling up, and the server answers as before once the burst is over.
#[tokio::test]
async fn a_burst_of_signups_is_bounded_by_the_password_hashing_limit() {
    let app = spawn_app_with(|s| {
        s.password_hashes_at_once = 1;
        s.signups_per_ip = 1000;
    })
    .await;
    let burst = (0..32).map(|_| {
        let app = &app;
        async move {
            let response = app
                .post_json("/v1/auth/signup", &signup_body(&fresh_email()))
                .await;
            let status = response.status().as_u16();
            let code = if status == 429 {
                assert!(response.headers().contains_key("retry-after"));
                problem(response).await["code"].as_str().unwrap().to_owned()
            } else {
                String::new()
            };
            (status, code)
        }
    });
    let answers = futures_util::future::join_all(burst).await;
    assert!(
        answers.iter().all(|(s, _)| [201, 429].contains(s)),
        "{answers:?}"
    );
    assert!(answers.iter().any(|(s, _)| *s == 201), "{answers:?}");
    assert!(
        answers.iter().any(|(s, code)| *s == 429 && code == "busy"),
        "at most one hash at once and a short queue: {answers:?}"
    );
    assert_eq!(
        app.post_json("/v1/auth/signup", &signup_body(&fresh_email()))
            .await
            .status(),
        201
    );
}

/// A signup for an address that is taken is answered before any password is
/// hashed, so a flood of them takes no hashing capacity from anyone.
#[tokio::test]
async fn signups_for_a_taken_address_are_answered_without_hashing() {
    let app = spawn_app_with(|s| {
        s.password_hashes_at_once = 1;
        s.signups_per_ip = 1000;
    })
    .await;
    let taken = app.signup().await.email;
    let flood = (0..32).map(|_| {
        let app = &app;
        let body = signup_body(&taken);
        async move {
            app.post_json("/v1/auth/signup", &body)
                .await
                .status()
                .as_u16()
        }
    });
    let statuses = futures_util::future::join_all(flood).await;
    assert!(statuses.iter().all(|s| *s == 409), "{statuses:?}");
}

/// Adding a user, or changing a user's email, with an address that belongs to
/// someone in another account is refused, and an account hears that only a
/// few times an hour: after that it may add no user and change no address for
/// the rest of the hour, so the answers stop telling which addresses are taken.
#[tokio::test]
async fn an_account_cannot_probe_which_addresses_other_accounts_use() {
    let app = spawn_app_with(|s| s.taken_emails_per_account = 2).await;
    let prober = app.signup().await;
    let other = app.signup().await;
    let add = |email: String| {
        let body = json!({"name": "Probe", "email": email, "role": "technician"});
        app.call(Method::POST, "/v1/users", &prober.access, Some(body))
    };
    // A user of the prober's own account: visible to it anyway, not counted.
    let colleague = app.user_with_role(&prober, "dispatcher").await;
    for _ in 0..3 {
        assert_eq!(add(colleague.email.clone()).await.status(), 409);
    }
    for _ in 0..2 {
        assert_eq!(add(other.email.clone()).await.status(), 409);
    }
    assert_eq!(add(other.email.clone()).await.status(), 429);
    let fresh = add(fresh_email()).await;
    assert_eq!(fresh.status(), 429, "a free address answers alike now");
    let change = app
        .call(
            Method::PATCH,
            &format!("/v1/users/{}", colleague.user_id),
            &prober.access,
            Some(json!({"email": fresh_email()})),
        )
        .await;
    assert_eq!(change.status(), 429);
    // Other accounts are not affected.
    let theirs = app
        .call(
            Method::POST,
            "/v1/users",
            &other.access,
            Some(json!({"name": "Tech", "email": fresh_email(), "role": "technician"})),
        )
        .await;
    assert_eq!(theirs.status(), 201);
}
