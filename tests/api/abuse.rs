//! Hostile input: path ids that are not UUIDs on every `{id}` route of the
//! published spec, SQL metacharacters in text and query parameters, and Unicode
//! that must come back exactly as it went in.

use fieldcrm_test_support::spawn_app;
use reqwest::Method;
use serde_json::{json, Value};

use crate::messages::{customer, owner};

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
