//! Two API processes on one PostgreSQL database under a mixed load: the
//! in-process server and a `fieldcrm serve` child sharing its database and
//! signing key. Only documented answers come back, and the counts add up.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use fieldcrm_test_support::{
    became_ready, skipped, spawn_app_with, stored_pings, Backend, ServerProcess, TestDatabase,
};
use reqwest::{Client, Method};
use serde_json::{json, Value};
use tokio::sync::Mutex;

const SECRET: &str = "a-signing-key-shared-by-both-processes-0123456789";
const LOAD: Duration = Duration::from_secs(6);

#[derive(Default)]
struct Tally {
    created: Vec<String>,
    replayed: usize,
    patched: i64,
    stale: usize,
    clock_ins: usize,
    accepted_pings: i64,
    unexpected: Vec<String>,
}

async fn send(
    client: &Client,
    base: &str,
    method: Method,
    path: &str,
    token: &str,
    headers: &[(&str, String)],
    body: Option<Value>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut request = client
        .request(method, format!("{base}{path}"))
        .bearer_auth(token);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

/// Every item of a list, page by page.
async fn every(client: &Client, base: &str, path: &str, token: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{base}{path}?limit=200");
        if let Some(cursor) = &cursor {
            url.push_str(&format!("&cursor={cursor}"));
        }
        let page: Value = client
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        items.extend(page["data"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return items,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_database_keep_counts_consistent_under_mixed_load() {
    if TestDatabase::postgres_admin_url().is_none() {
        return skipped("several API processes are a PostgreSQL deployment");
    }
    let app = spawn_app_with(|s| {
        s.jwt_secret = Some(secrecy::SecretString::from(SECRET));
    })
    .await;
    assert_eq!(app.backend(), Backend::Postgres);
    let mut second = Command::new(env!("CARGO_BIN_EXE_fieldcrm"));
    second
        .arg("serve")
        .env("DATABASE_URL", app.db.url())
        .env("FIELDCRM_JWT_SECRET", SECRET)
        .env("FIELDCRM_LOG_LEVEL", "warn");
    let other = ServerProcess::start(second)
        .await
        .expect("start the second server");
    let bases = [app.address.clone(), other.base.clone()];
    let client = Client::new();
    assert!(
        became_ready(&bases[1]).await,
        "the second server did not start"
    );

    let owner = app.signup().await;
    let (status, _, contested) = send(
        &client,
        &bases[1],
        Method::POST,
        "/v1/customers",
        &owner.access,
        &[],
        Some(json!({"name": "Contested"})),
    )
    .await;
    assert_eq!(status, 201, "a token from one process works on the other");
    let contested = contested["id"].as_str().unwrap().to_owned();
    let mut technicians = Vec::new();
    for _ in 0..2 {
        technicians.push(app.user_with_role(&owner, "technician").await);
    }

    let tally = Arc::new(Mutex::new(Tally::default()));
    let stop_at = Instant::now() + LOAD;
    let mut tasks = Vec::new();
    // Creators: each creation is sent to one process and retried on the other
    // with the same Idempotency-Key.
    for worker in 0..2 {
        let (client, bases, token, tally) = (
            client.clone(),
            bases.clone(),
            owner.access.clone(),
            tally.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut n = 0;
            while Instant::now() < stop_at {
                let key = uuid::Uuid::new_v4().to_string();
                let body = json!({"name": format!("Customer {worker}-{n}")});
                let first = send(
                    &client,
                    &bases[n % 2],
                    Method::POST,
                    "/v1/customers",
                    &token,
                    &[("idempotency-key", key.clone())],
                    Some(body.clone()),
                )
                .await;
                let retry = send(
                    &client,
                    &bases[(n + 1) % 2],
                    Method::POST,
                    "/v1/customers",
                    &token,
                    &[("idempotency-key", key)],
                    Some(body),
                )
                .await;
                let mut t = tally.lock().await;
                match (first.0, retry.0) {
                    (201, 201) => {
                        if first.2["id"] != retry.2["id"] {
                            t.unexpected.push(format!(
                                "a retry made a second customer: {} {}",
                                first.2, retry.2
                            ));
                        }
                        if retry.1.get("idempotency-replayed").is_some() {
                            t.replayed += 1;
                        }
                        t.created.push(first.2["id"].as_str().unwrap().to_owned());
                    }
                    other => t
                        .unexpected
                        .push(format!("create: {other:?} {} {}", first.2, retry.2)),
                }
                n += 1;
            }
        }));
    }
    // Editors: read the contested customer on one process, write it on the other
    // with If-Match; lost races are 412.
    for worker in 0..2 {
        let (client, bases, token, tally, id) = (
            client.clone(),
            bases.clone(),
            owner.access.clone(),
            tally.clone(),
            contested.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let path = format!("/v1/customers/{id}");
            let mut n = 0;
            while Instant::now() < stop_at {
                let (_, headers, _) = send(
                    &client,
                    &bases[n % 2],
                    Method::GET,
                    &path,
                    &token,
                    &[],
                    None,
                )
                .await;
                let etag = headers.get("etag").unwrap().to_str().unwrap().to_owned();
                let (status, _, body) = send(
                    &client,
                    &bases[(n + 1) % 2],
                    Method::PATCH,
                    &path,
                    &token,
                    &[("if-match", etag)],
                    Some(json!({"notes": format!("edit {worker}-{n}")})),
                )
                .await;
                let mut t = tally.lock().await;
                match status {
                    200 => t.patched += 1,
                    412 => t.stale += 1,
                    other => t.unexpected.push(format!("patch: {other} {body}")),
                }
                n += 1;
            }
        }));
    }
    // Technicians: clock in on both processes at once (one wins), upload pings
    // alternately, clock out.
    for tech in &technicians {
        let (client, bases, token, tally) = (
            client.clone(),
            bases.clone(),
            tech.access.clone(),
            tally.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut round = 0;
            while Instant::now() < stop_at {
                let (a, b) = tokio::join!(
                    send(
                        &client,
                        &bases[0],
                        Method::POST,
                        "/v1/shifts/clock-in",
                        &token,
                        &[],
                        None
                    ),
                    send(
                        &client,
                        &bases[1],
                        Method::POST,
                        "/v1/shifts/clock-in",
                        &token,
                        &[],
                        None
                    ),
                );
                let wins = [a.0, b.0].iter().filter(|s| **s == 201).count();
                let losses = [a.0, b.0].iter().filter(|s| **s == 409).count();
                {
                    let mut t = tally.lock().await;
                    if wins != 1 || losses != 1 {
                        t.unexpected
                            .push(format!("clock-in: {} {} / {} {}", a.0, a.2, b.0, b.2));
                    }
                    t.clock_ins += wins;
                }
                for n in 0..4 {
                    let pings: Vec<Value> = (0..20)
                        .map(|_| {
                            json!({"id": uuid::Uuid::new_v4(), "recorded_at": Utc::now(),
                                        "lat": 30.27, "lon": -97.74})
                        })
                        .collect();
                    let (status, _, body) = send(
                        &client,
                        &bases[n % 2],
                        Method::POST,
                        "/v1/pings",
                        &token,
                        &[],
                        Some(json!({"pings": pings})),
                    )
                    .await;
                    let mut t = tally.lock().await;
                    match status {
                        200 => t.accepted_pings += body["accepted"].as_i64().unwrap(),
                        other => t.unexpected.push(format!("pings: {other} {body}")),
                    }
                }
                let (status, _, body) = send(
                    &client,
                    &bases[round % 2],
                    Method::POST,
                    "/v1/shifts/clock-out",
                    &token,
                    &[],
                    None,
                )
                .await;
                if status != 200 {
                    tally
                        .lock()
                        .await
                        .unexpected
                        .push(format!("clock-out: {status} {body}"));
                }
                round += 1;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }

    let t = tally.lock().await;
    assert!(t.unexpected.is_empty(), "{:#?}", t.unexpected);
    assert!(
        t.created.len() > 5 && t.patched > 5 && t.clock_ins > 2,
        "the load ran"
    );
    assert_eq!(t.replayed, t.created.len(), "every retry was a replay");

    let all = every(&client, &bases[0], "/v1/customers", &owner.access).await;
    let ids: Vec<&str> = all.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids.len(),
        t.created.len() + 1,
        "one customer per key, plus the contested one"
    );
    for id in &t.created {
        assert!(ids.contains(&id.as_str()));
    }
    let contested: Value = client
        .get(format!("{}/v1/customers/{contested}", bases[1]))
        .bearer_auth(&owner.access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        contested["version"],
        1 + t.patched,
        "every accepted edit counted once"
    );

    let shifts = every(&client, &bases[1], "/v1/shifts", &owner.access).await;
    assert_eq!(shifts.len(), t.clock_ins, "one shift per winning clock-in");
    assert!(
        shifts.iter().all(|s| !s["clock_out_at"].is_null()),
        "all closed"
    );
    let stored: i64 = shifts
        .iter()
        .map(|s| stored_pings(&app, s["id"].as_str().unwrap()))
        .sum();
    assert_eq!(stored, t.accepted_pings, "every accepted ping stored once");
}
