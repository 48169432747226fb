//! Faults: the database going away while technicians upload pings, a worker
//! killed while it sends, a slow or failing provider, and a full disk under
//! SQLite.

use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};
use fieldcrm_test_support::{
    became_ready, problem, skipped, spawn_app_with, start_shift_at, Backend, NotStarted,
    ServerProcess, Signed, TestApp, TestDatabase,
};
use reqwest::Method;
use serde_json::{json, Value};
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::messages::{self, messages_path};
use crate::tracking;

const BATCH: usize = 50;

/// When ping `i` of batch `n` was recorded: 100 ms apart, no two batches alike.
fn ping_time(start: DateTime<Utc>, n: usize, i: usize) -> DateTime<Utc> {
    start + chrono::Duration::milliseconds(((n * BATCH + i) * 100) as i64)
}

fn batch(start: DateTime<Utc>, n: usize) -> Vec<Value> {
    (0..BATCH)
        .map(|i| {
            let at = ping_time(start, n, i);
            json!({"id": uuid::Uuid::new_v4(), "recorded_at": at,
                   "lat": 30.0 + i as f64 * 1e-5, "lon": -97.0, "accuracy_m": 5.0})
        })
        .collect()
}

/// How many pings of batch `n` the shift holds.
fn stored_of_batch(app: &TestApp, shift: &str, start: DateTime<Utc>, n: usize) -> i64 {
    use diesel::prelude::*;
    use fieldcrm_db::schema::pings;
    let from = ping_time(start, n, 0);
    let to = ping_time(start, n + 1, 0);
    let shift: fieldcrm_db::Id<fieldcrm_db::shifts::Shift> =
        fieldcrm_db::Id::from_uuid(shift.parse().unwrap());
    let mut conn = app.pool.get().unwrap();
    pings::table
        .filter(pings::shift_id.eq(shift))
        .filter(pings::recorded_at.ge(fieldcrm_db::Ts::from(from)))
        .filter(pings::recorded_at.lt(fieldcrm_db::Ts::from(to)))
        .count()
        .get_result(&mut *conn)
        .unwrap()
}

/// The database goes away (PostgreSQL refuses connections; SQLite's write lock
/// is held by another process) while four technicians upload ping batches: every answer is 200 or 503 problem+json with `Retry-After`, no
/// batch is stored in part, and uploads succeed again without a restart.
#[tokio::test]
async fn losing_the_database_mid_load_answers_503_and_keeps_batches_whole() {
    // Pings 100 ms apart, so a few hours of them fit in the seconds it runs.
    let app = Arc::new(
        spawn_app_with(|s| {
            s.database_timeout_secs = 1;
            s.ping_min_interval_ms = 100;
        })
        .await,
    );
    let owner = app.signup().await;
    let mut technicians: Vec<(Signed, String)> = Vec::new();
    for _ in 0..4 {
        let tech = app.user_with_role(&owner, "technician").await;
        let shift = tracking::clock(&app, &tech, "clock-in").await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        start_shift_at(&app, &shift, Utc::now() - chrono::Duration::hours(7));
        technicians.push((tech, shift));
    }
    // Pings from the past hours of the shifts, so none is in the future.
    let start = Utc::now() - chrono::Duration::hours(6);

    let outage_from = Instant::now() + Duration::from_secs(1);
    // SQLite writers wait out a lock for up to 5 s (its busy timeout), so
    // only a longer one is an outage there.
    let outage = match app.backend() {
        Backend::Postgres => Duration::from_secs(2),
        Backend::Sqlite => Duration::from_secs(6),
    };
    let outage_until = outage_from + outage;
    let stop_at = outage_until + Duration::from_secs(3);
    let uploaders: Vec<_> = technicians
        .iter()
        .map(|(tech, _)| {
            let app = app.clone();
            let token = tech.access.clone();
            tokio::spawn(async move {
                let mut answers = Vec::new();
                let mut n = 0;
                while Instant::now() < stop_at {
                    let pings = batch(start, n);
                    let response = app
                        .call(
                            Method::POST,
                            "/v1/pings",
                            &token,
                            Some(json!({"pings": pings})),
                        )
                        .await;
                    let status = response.status().as_u16();
                    let retry_after = response.headers().contains_key("retry-after");
                    let body = if status == 200 {
                        response.json::<Value>().await.unwrap()
                    } else {
                        problem(response).await
                    };
                    answers.push((n, status, retry_after, body));
                    n += 1;
                }
                answers
            })
        })
        .collect();

    let lock_holder = {
        tokio::time::sleep_until(outage_from.into()).await;
        match app.backend() {
            Backend::Postgres => {
                app.db.set_reachable(false);
                None
            }
            Backend::Sqlite => {
                let path = app.db.sqlite_path().unwrap().to_str().unwrap().to_owned();
                let mut other = SqliteConnection::establish(&path).unwrap();
                other
                    .batch_execute("PRAGMA busy_timeout = 5000; BEGIN IMMEDIATE")
                    .unwrap();
                Some(other)
            }
        }
    };
    tokio::time::sleep_until(outage_until.into()).await;
    match lock_holder {
        None => app.db.set_reachable(true),
        Some(mut other) => other.batch_execute("ROLLBACK").unwrap(),
    }

    let mut unavailable = 0;
    for (u, uploader) in uploaders.into_iter().enumerate() {
        let answers = uploader.await.unwrap();
        let shift = &technicians[u].1;
        for (n, status, retry_after, body) in &answers {
            let stored = stored_of_batch(&app, shift, start, *n);
            match status {
                200 => {
                    assert_eq!(body["accepted"], BATCH, "{body}");
                    assert_eq!(stored, BATCH as i64, "an accepted batch is stored whole");
                }
                503 => {
                    unavailable += 1;
                    assert!(retry_after, "503 says when to retry");
                    assert_eq!(body["code"], "unavailable", "{body}");
                    assert!(
                        stored == 0 || stored == BATCH as i64,
                        "batch {n} of uploader {u} stored in part: {stored} of {BATCH}"
                    );
                }
                other => panic!("uploader {u}, batch {n}: status {other}: {body}"),
            }
        }
        // The last batches, after the outage, went through.
        let (_, last_status, _, _) = answers.last().unwrap();
        assert_eq!(*last_status, 200, "uploads recover without a restart");
    }
    assert!(unavailable > 0, "the outage was felt");
}

/// A worker process killed with SIGKILL in the middle of sending: after a new
/// worker takes over, every message that had not reached the provider is sent,
/// none reaches the provider twice, and the few that were in flight at the
/// moment of the kill are marked failed with the reason instead of being sent
/// again (whether Twilio got them is unknown).
#[tokio::test]
async fn a_worker_killed_while_sending_loses_nothing_and_sends_nothing_twice() {
    let twilio = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .respond_with(|request: &Request| {
            let to = form_field(request, "To");
            ResponseTemplate::new(201)
                .set_body_json(
                    json!({"sid": format!("SM{}", uuid::Uuid::new_v4().simple()), "to": to}),
                )
                .set_delay(Duration::from_millis(150))
        })
        .mount(&twilio)
        .await;
    let app = messages::app_with(&twilio, None, 8).await;
    let owner = messages::owner(&app).await;
    let ida = messages::customer(
        &app,
        &owner,
        json!({"name": "Ida", "phone": "+1 512 555 0109"}),
        &["sms"],
    )
    .await;
    const COUNT: usize = 40;
    let mut ids = Vec::new();
    for n in 0..COUNT {
        let body = json!({"customer_id": ida, "channel": "sms", "body": format!("message {n}")});
        ids.push(messages::queued(&app, &owner, body).await);
    }

    let worker = || {
        Command::new(env!("CARGO_BIN_EXE_fieldcrm"))
            .arg("worker")
            .env("DATABASE_URL", app.db.url())
            .env("FIELDCRM_TWILIO_API_BASE_URL", twilio.uri())
            .env("FIELDCRM_TWILIO_ACCOUNT_SID", messages::SID)
            .env("FIELDCRM_TWILIO_AUTH_TOKEN", messages::AUTH_TOKEN)
            .env("FIELDCRM_TWILIO_FROM", messages::FROM)
            .env("FIELDCRM_JOB_POLL_INTERVAL_MS", "20")
            // The shortest lease allowed, so the next worker takes over soon.
            .env("FIELDCRM_OUTBOUND_TIMEOUT_SECS", "1")
            .env("FIELDCRM_WEBHOOK_TIMEOUT_SECS", "1")
            .env("FIELDCRM_JOB_LEASE_SECS", "12")
            .env("FIELDCRM_LOG_LEVEL", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("start a worker process")
    };

    let mut first = worker();
    let deadline = Instant::now() + Duration::from_secs(30);
    while messages::sends(&twilio).await.len() < 8 {
        assert!(Instant::now() < deadline, "the first worker never sent");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    let reached_before_restart = messages::sends(&twilio).await.len();
    assert!(reached_before_restart < COUNT, "killed before the end");

    let mut second = worker();
    let deadline = Instant::now() + Duration::from_secs(60);
    let finished = loop {
        let mut finished = Vec::new();
        for id in &ids {
            let message = messages::message(&app, &owner, id).await;
            if message["status"] == "sent" || message["status"] == "failed" {
                finished.push(message);
            }
        }
        if finished.len() == COUNT {
            break finished;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {COUNT} finished",
            finished.len()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    second.kill().unwrap();
    second.wait().unwrap();

    let bodies: Vec<String> = messages::sends(&twilio)
        .await
        .iter()
        .filter_map(|f| messages::field(f, "Body"))
        .collect();
    let distinct: HashSet<&String> = bodies.iter().collect();
    assert_eq!(
        distinct.len(),
        bodies.len(),
        "a message reached Twilio twice"
    );
    let mut interrupted = 0;
    for message in &finished {
        let text = message["body"].as_str().unwrap_or_default().to_owned();
        if message["status"] == "sent" {
            assert!(
                bodies.contains(&text),
                "sent means Twilio got it: {message}"
            );
            assert_eq!(message["attempts"], 1, "{message}");
        } else {
            interrupted += 1;
            assert!(
                message["status_reason"]
                    .as_str()
                    .is_some_and(|r| r.contains("interrupted")),
                "{message}"
            );
        }
    }
    // Only what was in flight at the kill is in doubt; a worker runs at most 16 at once.
    assert!(interrupted <= 16, "{interrupted} interrupted");
    assert!(
        bodies.len() >= COUNT - interrupted,
        "nothing else was lost: {} reached Twilio",
        bodies.len()
    );
}

fn form_field(request: &Request, name: &str) -> String {
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&request.body).unwrap();
    messages::field(&form, name).unwrap_or_default()
}

/// SQLite on a full disk: the server runs with its database on a small
/// filesystem of its own (a tmpfs in a private mount namespace). Writes that no
/// longer fit answer 503 problem+json `storage_full` and save nothing; reads
/// carry on; once the server has stopped, the file passes SQLite's integrity
/// check and holds exactly the customers whose creation was answered 201.
///
/// Needs `unshare` with user namespaces (CI has them); without, it says so and
/// checks nothing.
#[tokio::test]
async fn a_full_disk_refuses_writes_clearly_and_corrupts_nothing() {
    if TestDatabase::postgres_admin_url().is_some() {
        return skipped("a property of the SQLite file; PostgreSQL runs are about PostgreSQL");
    }
    let scratch = tempfile::tempdir().unwrap();
    let mount = scratch.path().join("disk");
    let copy = scratch.path().join("copy");
    std::fs::create_dir_all(&mount).unwrap();
    std::fs::create_dir_all(&copy).unwrap();
    // The shell stops the server on SIGTERM, then copies the database out of
    // the namespace's filesystem for inspection.
    let script = r#"
        mount -t tmpfs -o size=2048k tmpfs "$DISK" || exit 97
        "$BIN" serve & server=$!
        trap 'kill -TERM $server' TERM
        wait $server
        wait $server
        cp "$DISK"/fieldcrm.db* "$COPY"/
    "#;
    let mut unshare = Command::new("unshare");
    unshare
        .args(["-rm", "sh", "-c", script])
        .env("DISK", &mount)
        .env("COPY", &copy)
        .env("BIN", env!("CARGO_BIN_EXE_fieldcrm"))
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/fieldcrm.db", mount.display()),
        )
        .env("FIELDCRM_LOG_LEVEL", "warn");
    let mut shell = match ServerProcess::start(unshare).await {
        Ok(shell) => shell,
        Err(NotStarted { status, output }) => {
            return skipped(&format!(
                "no private tmpfs here ({status}): {}",
                output.trim()
            ));
        }
    };
    let base = shell.base.clone();
    let client = reqwest::Client::new();
    assert!(became_ready(&base).await, "the server did not get ready");

    let signup = client
        .post(format!("{base}/v1/auth/signup"))
        .json(&json!({"account_name": "Full Disk", "name": "Owner",
                      "email": "owner@full.example", "password": "correct horse battery staple"}))
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status(), 201);
    let token = signup.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let notes = "n".repeat(4000);
    let mut created = 0;
    let mut refused = None;
    for n in 0..2000 {
        let response = client
            .post(format!("{base}/v1/customers"))
            .bearer_auth(&token)
            .json(&json!({"name": format!("Customer {n}"), "notes": notes}))
            .send()
            .await
            .unwrap();
        match response.status().as_u16() {
            201 => created += 1,
            _ => {
                refused = Some(response);
                break;
            }
        }
    }
    let refused = refused.expect("the disk filled up");
    assert_eq!(refused.status(), 503);
    assert!(refused.headers().contains_key("retry-after"));
    let body = problem(refused).await;
    assert_eq!(body["code"], "storage_full", "{body}");
    assert!(created > 10, "{created} customers fit");
    eprintln!("{created} customers fit before the disk was full");

    // Reads carry on, and the next write is refused the same clear way.
    let listed = client
        .get(format!("{base}/v1/customers?limit=1"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    let again = client
        .post(format!("{base}/v1/customers"))
        .bearer_auth(&token)
        .json(&json!({"name": "One more", "notes": notes}))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(again).await["code"], "storage_full");

    // SIGTERM to the shell, which stops the server and copies the file out.
    let _ = Command::new("kill")
        .args(["-TERM", &shell.child.id().to_string()])
        .status();
    let status = shell.child.wait().unwrap();
    assert!(status.success(), "{status}");
    let path = copy.join("fieldcrm.db");
    let mut conn = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    #[derive(diesel::QueryableByName)]
    struct Check {
        #[diesel(sql_type = diesel::sql_types::Text)]
        integrity_check: String,
    }
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    use diesel::RunQueryDsl;
    let check: Vec<Check> = diesel::sql_query("PRAGMA integrity_check")
        .load(&mut conn)
        .unwrap();
    assert_eq!(check[0].integrity_check, "ok");
    let count: Count = diesel::sql_query("SELECT count(*) AS n FROM people")
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(count.n, created, "exactly the customers answered 201");
}

/// A provider that answers 503 is retried until it answers; one that does not
/// answer within the outbound timeout is cut off after it, and that message is
/// not sent again (Twilio may have it); no job is left running either way.
#[tokio::test]
async fn a_slow_or_failing_provider_is_timed_out_or_retried_and_no_job_is_stuck() {
    let twilio = MockServer::start().await;
    let sid = || json!({"sid": format!("SM{}", uuid::Uuid::new_v4().simple())});
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .and(body_string_contains("15125550121"))
        .respond_with(ResponseTemplate::new(503).set_body_json(json!({"code": 20500})))
        .up_to_n_times(2)
        .mount(&twilio)
        .await;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .and(body_string_contains("15125550121"))
        .respond_with(move |_: &Request| ResponseTemplate::new(201).set_body_json(sid()))
        .mount(&twilio)
        .await;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .and(body_string_contains("15125550122"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(sid())
                .set_delay(Duration::from_secs(5)),
        )
        .mount(&twilio)
        .await;
    let app = messages::app_with_settings(&twilio, None, 8, |s| {
        s.outbound_timeout_secs = 1;
        s.job_lease_secs = 12;
    })
    .await;
    let owner = messages::owner(&app).await;
    let mut ids = Vec::new();
    for (name, phone) in [("Una", "+1 512 555 0121"), ("Vic", "+1 512 555 0122")] {
        let person = messages::customer(
            &app,
            &owner,
            json!({"name": name, "phone": phone}),
            &["sms"],
        )
        .await;
        let body =
            json!({"customer_id": person, "channel": "sms", "body": format!("Hello {name}")});
        ids.push(messages::queued(&app, &owner, body).await);
    }

    let started = Instant::now();
    app.run_jobs().await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the slow call was cut off at the timeout, not waited out"
    );
    assert_eq!(app.jobs_due_soon(), 0, "no job left running or due");

    let retried = messages::message(&app, &owner, &ids[0]).await;
    assert_eq!(retried["status"], "sent", "{retried}");
    assert_eq!(retried["attempts"], 3);
    let slow = messages::message(&app, &owner, &ids[1]).await;
    assert_eq!(slow["status"], "failed", "{slow}");
    assert_eq!(slow["attempts"], 1, "not sent again: {slow}");
    assert!(
        slow["status_reason"]
            .as_str()
            .is_some_and(|r| r.contains("did not answer in time")),
        "{slow}"
    );
    let calls = messages::sends(&twilio).await;
    let to = |n: &str| {
        calls
            .iter()
            .filter(|f| messages::field(f, "To").as_deref() == Some(n))
            .count()
    };
    assert_eq!(to("+15125550121"), 3);
    assert_eq!(to("+15125550122"), 1);
}
