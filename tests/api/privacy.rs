//! Deleting an account for good, exporting everything, and the audit trail.

use std::collections::BTreeMap;

use fieldcrm_test_support::{
    holders_of, problem, rows_referring_to, Backend, Signed, TestApp, PASSWORD,
};
use reqwest::Method;
use serde_json::{json, Value};

use crate::google::GoogleStandIn;
use crate::messages::{app_with, app_with_settings, customer, owner, queued, twilio};

/// Tables without an `account_id`: the accounts themselves, and those that hold
/// no row of any one account.
const NOT_PER_ACCOUNT: [&str; 4] = [
    "accounts",
    "deletion_receipts",
    "link_keys",
    "login_failures",
];

struct Filled {
    person: String,
    owner: Signed,
    technician: Signed,
    api_key: String,
    marker: String,
}

/// Puts at least one row of the account into every table, through the API.
async fn fill(app: &TestApp, google: &GoogleStandIn) -> Filled {
    let owner = owner(app).await;
    let technician = app.user_with_role(&owner, "technician").await;
    let (_, api_key) = app.api_key(&owner, "read").await;
    // A failed sign-in leaves a throttle row keyed by the email.
    assert_eq!(
        app.login(&owner.email, "not the password at all")
            .await
            .status(),
        401
    );
    let marker = format!("Zebulon-{}", uuid::Uuid::new_v4().simple());
    let idempotent = app
        .authed(Method::POST, "/v1/customers", &owner.access)
        .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
        .json(&json!({"name": marker, "phone": "+1 512 555 0190", "email": "z@example.org", "tags": ["vip"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(idempotent.status(), 201);
    let person: Value = idempotent.json().await.unwrap();
    let person = person["id"].as_str().unwrap().to_owned();
    opt_in_everywhere(app, &owner, &person).await;
    customer(app, &owner, json!({"name": "Second"}), &[]).await;
    let starts = chrono::Utc::now() + chrono::Duration::days(2);
    let booked = app
        .call(
            Method::POST,
            "/v1/appointments",
            &owner.access,
            Some(json!({"customer_id": person, "technician_id": technician.user_id, "title": "Visit",
                "starts_at": starts.to_rfc3339(), "ends_at": (starts + chrono::Duration::hours(1)).to_rfc3339()})),
        )
        .await;
    assert_eq!(booked.status(), 201);
    // Google connected: the appointment is exported (an event link), and a
    // second consent screen is left open (a pending state).
    google.connect(app, &owner).await;
    app.run_jobs().await;
    let pending = app
        .call(
            Method::POST,
            "/v1/integrations/google/connect",
            &owner.access,
            None,
        )
        .await;
    assert_eq!(pending.status(), 200);
    let feed = app
        .call(
            Method::POST,
            "/v1/me/calendar-feed",
            &technician.access,
            None,
        )
        .await;
    assert!(feed.status().is_success());
    let shift: Value = app
        .call(
            Method::POST,
            "/v1/shifts/clock-in",
            &technician.access,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let at = shift["clock_in_at"].as_str().unwrap();
    let pings = app
        .call(
            Method::POST,
            "/v1/pings",
            &technician.access,
            Some(json!({"pings": [{"id": uuid::Uuid::new_v4(), "recorded_at": at, "lat": 30.0, "lon": -97.0}]})),
        )
        .await;
    assert_eq!(pings.json::<Value>().await.unwrap()["accepted"], 1);
    // A webhook endpoint, with a delivery in its log; only for tests, so the
    // events that follow are not sent to a receiver that is gone by then.
    let receiver = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(wiremock::ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    let endpoint: Value = app
        .call(
            Method::POST,
            "/v1/webhook-endpoints",
            &owner.access,
            Some(json!({"url": format!("{}/hooks", receiver.uri()), "event_types": ["webhook.test"]})),
        )
        .await
        .json()
        .await
        .unwrap();
    let endpoint = endpoint["id"].as_str().expect("an endpoint").to_owned();
    let tested = app
        .call(
            Method::POST,
            &format!("/v1/webhook-endpoints/{endpoint}/test"),
            &owner.access,
            None,
        )
        .await;
    assert_eq!(tested.status(), 202);
    app.run_jobs().await;
    assert_eq!(receiver.received_requests().await.unwrap().len(), 1);
    let device = app
        .call(
            Method::POST,
            &format!("/v1/users/{}/devices", technician.user_id),
            &owner.access,
            Some(json!({"label": "Van phone"})),
        )
        .await;
    assert_eq!(device.status(), 201);
    Filled {
        owner,
        technician,
        api_key,
        marker,
        person,
    }
}

/// A queued SMS naming the account's marker; queued after every `fill`, whose
/// jobs would otherwise send it.
async fn queue_message(app: &TestApp, filled: &Filled) {
    queued(
        app,
        &filled.owner,
        json!({"customer_id": filled.person, "channel": "sms", "body": format!("Hello {}", filled.marker)}),
    )
    .await;
}

fn per_table(app: &TestApp, account: &str) -> BTreeMap<String, i64> {
    rows_referring_to(app, "account_id", account.parse().unwrap())
        .into_iter()
        .collect()
}

fn total_rows(app: &TestApp, table: &str) -> i64 {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = app.pool.get().unwrap();
    diesel::sql_query(format!("SELECT count(*) AS n FROM {table}"))
        .get_result::<Count>(&mut *conn)
        .unwrap()
        .n
}

async fn delete_account(app: &TestApp, who: &Signed, body: Value) -> reqwest::Response {
    app.call(Method::DELETE, "/v1/account", &who.access, Some(body))
        .await
}

#[tokio::test]
async fn deleting_an_account_removes_every_row_of_it_in_every_table_and_nothing_else() {
    let twilio = twilio().await;
    let google = GoogleStandIn::start().await;
    let app = app_with_settings(&twilio, None, 8, |s| google.configure(s)).await;
    let doomed = fill(&app, &google).await;
    let kept = fill(&app, &google).await;
    queue_message(&app, &doomed).await;
    queue_message(&app, &kept).await;
    let events_before = google.events().len();
    assert_eq!(events_before, 2);

    // Every table of the catalog is either per account and filled for both,
    // or one of the few that are not per account. A new table fails here
    // until `fill` covers it.
    let mut conn = app.pool.get().unwrap();
    let catalog = fieldcrm_db::migrations::catalog(&mut conn).unwrap();
    drop(conn);
    let doomed_before = per_table(&app, &doomed.owner.account_id);
    let kept_before = per_table(&app, &kept.owner.account_id);
    for (table, columns) in &catalog {
        if columns.iter().any(|(c, _)| c == "account_id") {
            assert!(
                doomed_before[table] > 0,
                "{table} holds no row of the account: extend `fill`"
            );
            assert!(kept_before[table] > 0, "{table}");
        } else {
            assert!(
                NOT_PER_ACCOUNT.contains(&table.as_str()),
                "{table} has no account_id: how is it deleted?"
            );
        }
    }
    let throttle_rows = total_rows(&app, "login_failures");

    let response = delete_account(
        &app,
        &doomed.owner,
        json!({"password": PASSWORD, "confirm": "Acme Plumbing", "delete_calendar_events": true}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let receipt: Value = response.json().await.unwrap();
    assert!(receipt["receipt_id"].is_string());
    assert_eq!(receipt["counts"]["people"], doomed_before["people"]);
    assert_eq!(receipt["counts"]["pings"], 1);
    assert_eq!(receipt["counts"]["accounts"], 1);

    let doomed_after = per_table(&app, &doomed.owner.account_id);
    for (table, n) in &doomed_after {
        assert_eq!(*n, 0, "{table} still holds rows of the deleted account");
    }
    assert_eq!(
        per_table(&app, &kept.owner.account_id),
        kept_before,
        "the other account is untouched"
    );
    assert_eq!(
        total_rows(&app, "login_failures"),
        throttle_rows - 1,
        "its throttle row went too"
    );
    assert_eq!(total_rows(&app, "deletion_receipts"), 1);
    assert_eq!(total_rows(&app, "accounts"), 1);

    // Every credential of the account is dead at once.
    for token in [
        &doomed.owner.access,
        &doomed.technician.access,
        &doomed.api_key,
    ] {
        let me = app.call(Method::GET, "/v1/me", token, None).await;
        assert_eq!(me.status(), 401);
    }
    let refresh = app
        .post_json(
            "/v1/auth/refresh",
            &json!({"refresh_token": doomed.owner.refresh}),
        )
        .await;
    assert_eq!(refresh.status(), 401);
    assert_eq!(app.login(&doomed.owner.email, PASSWORD).await.status(), 401);
    assert_eq!(
        app.call(Method::GET, "/v1/me", &kept.owner.access, None)
            .await
            .status(),
        200
    );

    // Its queued message is never sent; the other account's is.
    app.run_jobs().await;
    let sent: Vec<String> = twilio
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].contains(&kept.marker) && !sent[0].contains(&doomed.marker));

    // At Google: its channel stopped, its exported event deleted, its grant
    // revoked; the other account's event is still there.
    assert_eq!(google.requests("POST", "/revoke").await.len(), 1);
    assert_eq!(
        google
            .requests("POST", "/calendar/v3/channels/stop")
            .await
            .len(),
        1
    );
    assert_eq!(google.events().len(), 1);
    let mut conn = app.pool.get().unwrap();
    let kept_id = fieldcrm_db::Id::from_uuid(kept.owner.account_id.parse().unwrap());
    let kept_links = fieldcrm_db::export::google_events_page(&mut conn, kept_id, None, 10).unwrap();
    drop(conn);
    assert_eq!(kept_links.len(), 1);
    assert!(google.event(&kept_links[0].event_id).is_some());

    // Nothing of it can be read back from the SQLite files.
    if app.backend() == Backend::Sqlite {
        let path = app.db.sqlite_path().unwrap().clone();
        for file in [path.clone(), path.with_extension("db-wal"), {
            let mut wal = path.clone().into_os_string();
            wal.push("-wal");
            wal.into()
        }] {
            if let Ok(bytes) = std::fs::read(&file) {
                let text = String::from_utf8_lossy(&bytes);
                assert!(
                    !text.contains(&doomed.marker),
                    "{} still holds the deleted name",
                    file.display()
                );
            }
        }
        let kept_bytes = std::fs::read(&path).unwrap();
        let kept_text = String::from_utf8_lossy(&kept_bytes);
        let wal = std::fs::read(format!("{}-wal", path.display())).unwrap_or_default();
        assert!(
            kept_text.contains(&kept.marker)
                || String::from_utf8_lossy(&wal).contains(&kept.marker),
            "the check reads the right files"
        );
    }
}

#[tokio::test]
async fn deletion_needs_the_owner_the_password_and_the_name_and_changes_nothing_otherwise() {
    let twilio = twilio().await;
    let app = app_with(&twilio, None, 8).await;
    let owner = owner(&app).await;
    let admin = app.user_with_role(&owner, "admin").await;
    let right = json!({"password": PASSWORD, "confirm": "Acme Plumbing"});

    let by_admin = delete_account(&app, &admin, right.clone()).await;
    assert_eq!(problem(by_admin).await["status"], 403);
    let wrong_password = delete_account(
        &app,
        &owner,
        json!({"password": "guess guess guess", "confirm": "Acme Plumbing"}),
    )
    .await;
    assert_eq!(problem(wrong_password).await["code"], "wrong_password");
    let wrong_name = delete_account(
        &app,
        &owner,
        json!({"password": PASSWORD, "confirm": "Acme"}),
    )
    .await;
    let wrong_name = problem(wrong_name).await;
    assert_eq!(wrong_name["status"], 422);
    assert_eq!(wrong_name["errors"][0]["field"], "confirm");
    let missing = delete_account(&app, &owner, json!({"password": PASSWORD})).await;
    assert_eq!(problem(missing).await["status"], 422);
    let (_, key) = app.api_key(&owner, "write").await;
    assert_eq!(
        delete_account(
            &app,
            &Signed {
                access: key,
                ..owner.clone()
            },
            right.clone()
        )
        .await
        .status(),
        403
    );

    let account = app
        .call(Method::GET, "/v1/account", &owner.access, None)
        .await;
    assert_eq!(account.status(), 200, "still there");
}

#[tokio::test]
async fn an_export_holds_every_record_without_secrets_and_is_rate_limited() {
    let twilio = twilio().await;
    let google = GoogleStandIn::start().await;
    let app = app_with_settings(&twilio, None, 8, |s| google.configure(s)).await;
    let filled = fill(&app, &google).await;
    queue_message(&app, &filled).await;
    let response = app
        .call(
            Method::GET,
            "/v1/account/export",
            &filled.owner.access,
            None,
        )
        .await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("attachment"));
    let text = response.text().await.unwrap();
    assert!(!text.contains("$argon2"), "no password hashes");
    assert!(!text.contains(&filled.api_key), "no key secrets");
    assert!(
        !text.contains("refresh-token") && !text.contains("ya29") && !text.contains("v1:k1:"),
        "no Google tokens, sealed or not"
    );
    assert!(
        !text.contains("whsec_") && !text.contains("v1:db-seal:"),
        "no webhook secrets, sealed or not"
    );
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["format"], "fieldcrm-export/1");
    assert_eq!(doc["account"]["id"], filled.owner.account_id.as_str());
    let counts = per_table(&app, &filled.owner.account_id);
    for (section, table) in [
        ("users", "users"),
        ("api_keys", "api_keys"),
        ("devices", "devices"),
        ("people", "people"),
        ("consent_events", "consent_events"),
        ("appointments", "appointments"),
        ("appointment_status_changes", "appointment_status_changes"),
        ("reminders", "reminders"),
        ("shifts", "shifts"),
        ("pings", "pings"),
        ("messages", "messages"),
        ("google_integrations", "google_integrations"),
        ("google_events", "google_events"),
        ("events", "events"),
        ("webhook_endpoints", "webhook_endpoints"),
        ("webhook_deliveries", "webhook_deliveries"),
    ] {
        assert_eq!(
            doc[section].as_array().unwrap().len() as i64,
            counts[table],
            "{section}"
        );
    }
    let person = doc["people"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == filled.marker.as_str())
        .unwrap();
    assert_eq!(person["tags"], json!(["vip"]));
    assert!(doc["users"][0].get("password_hash").is_none());
    assert!(doc["audit_events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["action"] == "account.exported"));

    // The document is what the OpenAPI description says, record by record.
    let spec: Value = app.get("/openapi.json").await.json().await.unwrap();
    let described = &spec["components"]["schemas"]["ExportDocument"];
    assert_eq!(misfit(&doc, described, &spec, "export"), None);
    let empty: Vec<&String> = doc
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, v)| v.as_array().is_some_and(Vec::is_empty))
        .map(|(k, _)| k)
        .collect();
    assert!(
        empty.is_empty(),
        "every list was filled and checked: {empty:?} empty"
    );

    let again = app
        .call(
            Method::GET,
            "/v1/account/export",
            &filled.owner.access,
            None,
        )
        .await;
    assert_eq!(again.status(), 429);
    assert!(again.headers().contains_key("retry-after"));
    let not_owner = app
        .call(
            Method::GET,
            "/v1/account/export",
            &filled.technician.access,
            None,
        )
        .await;
    assert_eq!(problem(not_owner).await["status"], 403);
}

/// The export reads people a page at a time, customers and prospects through
/// their own index ranges: the pages still hold every person of the account
/// once, in id order, whichever stage each is in, and no one else's.
#[tokio::test]
async fn the_export_pages_people_in_id_order_across_their_stages() {
    let app = fieldcrm_test_support::spawn_app().await;
    let owner = app.signup().await;
    let other = app.signup().await;
    let mut created = Vec::new();
    for i in 0..8 {
        let (who, path) = match i % 3 {
            0 => (&other, "/v1/customers"),
            1 => (&owner, "/v1/customers"),
            _ => (&owner, "/v1/prospects"),
        };
        let response = app
            .call(
                Method::POST,
                path,
                &who.access,
                Some(json!({"name": format!("Person {i}")})),
            )
            .await;
        assert_eq!(response.status(), 201);
        let person: Value = response.json().await.unwrap();
        if who.account_id == owner.account_id {
            created.push(
                person["id"]
                    .as_str()
                    .unwrap()
                    .parse::<uuid::Uuid>()
                    .unwrap(),
            );
        }
    }
    created.sort();

    let account = fieldcrm_db::Id::from_uuid(owner.account_id.parse().unwrap());
    let mut conn = app.pool.get().unwrap();
    let (mut read, mut pages, mut after) = (Vec::new(), 0, None);
    loop {
        let page = fieldcrm_db::export::people_page(&mut conn, account, after, 2).unwrap();
        pages += 1;
        read.extend(page.iter().map(|person| person.id.uuid()));
        match page.last() {
            Some(last) if page.len() == 2 => after = Some(last.id),
            _ => break,
        }
    }
    assert_eq!(
        read, created,
        "every person of the account once, in id order"
    );
    assert_eq!(pages, 3, "five people in pages of two");
}

#[tokio::test]
async fn the_audit_trail_shows_who_did_what_without_the_data() {
    let twilio = twilio().await;
    let app = app_with(&twilio, None, 8).await;
    let owner = owner(&app).await;
    let tech = app.user_with_role(&owner, "technician").await;
    let promoted = app
        .call(
            Method::PATCH,
            &format!("/v1/users/{}", tech.user_id),
            &owner.access,
            Some(json!({"role": "dispatcher"})),
        )
        .await;
    assert_eq!(promoted.status(), 200);
    let (key_id, _) = app.api_key(&owner, "read").await;
    let person = customer(&app, &owner, json!({"name": "Quinn Secret-Name"}), &[]).await;
    let erased = app
        .call(
            Method::DELETE,
            &format!("/v1/customers/{person}"),
            &owner.access,
            None,
        )
        .await;
    assert_eq!(erased.status(), 204);

    let trail = app
        .call(Method::GET, "/v1/audit", &owner.access, None)
        .await;
    assert_eq!(trail.status(), 200);
    let text = trail.text().await.unwrap();
    assert!(!text.contains("Quinn"), "names stay out of the trail");
    let trail: Value = serde_json::from_str(&text).unwrap();
    let events = trail["data"].as_array().unwrap();
    let find = |action: &str| events.iter().find(|e| e["action"] == action).cloned();
    let erased = find("person.erased").unwrap();
    assert_eq!(erased["subject_id"], person.as_str());
    assert_eq!(erased["actor"], format!("user:{}", owner.user_id));
    assert_eq!(
        find("user.role_changed").unwrap()["detail"],
        "technician -> dispatcher"
    );
    assert_eq!(
        find("api_key.created").unwrap()["subject_id"],
        key_id.as_str()
    );
    assert!(find("user.created").is_some());
    // Newest first.
    assert_eq!(events[0]["action"], "person.erased");

    let filtered: Value = app
        .call(
            Method::GET,
            "/v1/audit?action=api_key.created",
            &owner.access,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(filtered["data"].as_array().unwrap().len(), 1);
    let forbidden = app.call(Method::GET, "/v1/audit", &tech.access, None).await;
    assert_eq!(problem(forbidden).await["status"], 403);
}

/// Peak resident memory of a process, in KiB (Linux).
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Stores `n` pings in one statement, as a long-used account would have them.
fn bulk_pings(app: &TestApp, account: &str, user: &str, shift: &str, n: u32) {
    use diesel::connection::SimpleConnection;
    let mut conn = app.pool.get().unwrap();
    let sql = match app.backend() {
        Backend::Postgres => format!(
            "INSERT INTO pings (user_id, id, account_id, shift_id, recorded_at, lat, lon, accuracy_m, received_at)
             SELECT '{user}', gen_random_uuid(), '{account}', '{shift}', now() - i * interval '1 millisecond',
                    30 + i / 1e6, -97 - i / 1e6, 5, now()
             FROM generate_series(1, {n}) AS i"
        ),
        Backend::Sqlite => {
            let hex = |id: &str| id.replace('-', "");
            format!(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n})
                 INSERT INTO pings (user_id, id, account_id, shift_id, recorded_at, lat, lon, accuracy_m, received_at)
                 SELECT x'{}', randomblob(16), x'{}', x'{}',
                        strftime('%Y-%m-%dT%H:%M:%f000Z', 'now', '-' || i || ' seconds'),
                        30 + i / 1e6, -97 - i / 1e6, 5.0, strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')
                 FROM n",
                hex(user),
                hex(account),
                hex(shift)
            )
        }
    };
    conn.batch_execute(&sql).unwrap();
}

/// 200,000 pings export through a real `fieldcrm serve` process whose peak
/// memory grows by far less than the document it sends.
#[tokio::test]
async fn a_large_export_streams_in_bounded_memory() {
    const SECRET: &str = "a-shared-signing-key-of-at-least-32-bytes";
    let app = fieldcrm_test_support::spawn_app_with(|s| {
        s.jwt_secret = Some(secrecy::SecretString::from(SECRET));
    })
    .await;
    let owner = app.signup().await;
    let tech = app.user_with_role(&owner, "technician").await;
    let shift: Value = app
        .call(Method::POST, "/v1/shifts/clock-in", &tech.access, None)
        .await
        .json()
        .await
        .unwrap();
    bulk_pings(
        &app,
        &owner.account_id,
        &tech.user_id,
        shift["id"].as_str().unwrap(),
        200_000,
    );

    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_fieldcrm"));
    command
        .arg("serve")
        .env("DATABASE_URL", app.db.url())
        .env("FIELDCRM_JWT_SECRET", SECRET)
        .env("FIELDCRM_WORKERS", "1")
        .env("FIELDCRM_LOG_LEVEL", "warn");
    let server = fieldcrm_test_support::ServerProcess::start(command)
        .await
        .expect("start the server");
    let pid = server.child.id();
    let base = server.base.clone();
    let client = reqwest::Client::new();
    assert!(fieldcrm_test_support::became_ready(&base).await);
    let me = client
        .get(format!("{base}/v1/me"))
        .bearer_auth(&owner.access)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let before = peak_rss_kib(pid);

    let mut response = client
        .get(format!("{base}/v1/account/export"))
        .bearer_auth(&owner.access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut size = 0usize;
    let mut tail = Vec::new();
    while let Some(chunk) = response.chunk().await.unwrap() {
        size += chunk.len();
        tail = chunk.to_vec();
    }
    let grown_kib = peak_rss_kib(pid).saturating_sub(before);
    assert!(size > 30_000_000, "the document is large: {size} bytes");
    assert!(tail.ends_with(b"]}"), "and complete");
    assert!(
        grown_kib < 24 * 1024,
        "peak memory grew by {grown_kib} KiB for a {size}-byte export"
    );
}

/// Ids of the rows of `table` whose `column` is `id` (read before an erasure,
/// to look for them after it).
fn ids_where(app: &TestApp, table: &str, column: &str, id: &str) -> Vec<String> {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = fieldcrm_db::types::sql::DbUuid)]
        id: fieldcrm_db::Id<()>,
    }
    let literal = match app.backend() {
        Backend::Postgres => format!("'{id}'::uuid"),
        Backend::Sqlite => format!("x'{}'", id.replace('-', "")),
    };
    let mut conn = app.pool.get().unwrap();
    diesel::sql_query(format!("SELECT id FROM {table} WHERE {column} = {literal}"))
        .load::<Row>(&mut *conn)
        .unwrap()
        .into_iter()
        .map(|r| r.id.uuid().to_string())
        .collect()
}

async fn opt_in_everywhere(app: &TestApp, who: &Signed, person: &str) {
    for channel in ["sms", "email"] {
        let consent = app
            .call(
                Method::POST,
                &format!("/v1/customers/{person}/consent"),
                &who.access,
                Some(json!({"channel": channel, "status": "opted_in", "source": "form"})),
            )
            .await;
        assert_eq!(consent.status(), 201);
    }
}

async fn keyed_post(
    app: &TestApp,
    who: &Signed,
    path: &str,
    key: &str,
    body: &Value,
) -> reqwest::Response {
    app.authed(Method::POST, path, &who.access)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// Erasing a person leaves no copy of them anywhere: every text, JSON and
/// binary column of every table is searched for their name, phone, email and
/// notes, and for the ids of their messages, reminders and appointment (jobs
/// included). A keyed create replayed afterwards answers 404 and shows nothing
/// of them.
#[tokio::test]
async fn erasing_a_person_leaves_no_copy_in_any_column() {
    let twilio = twilio().await;
    let app = app_with(&twilio, None, 8).await;
    let owner = owner(&app).await;
    let body = json!({
        "name": "Quillon Erasmus-Vey",
        "email": "quillon.vey@example.net",
        "phone": "+1 512 555 0142",
        "notes": "marker-notes-7Q behind the shed",
        "tags": ["vip"],
    });
    let created = keyed_post(&app, &owner, "/v1/customers", "create-quillon", &body).await;
    assert_eq!(created.status(), 201);
    let person = created.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    opt_in_everywhere(&app, &owner, &person).await;
    let message =
        json!({"customer_id": person, "channel": "sms", "body": "Hi Quillon, gate code 7Q"});
    let sent = keyed_post(&app, &owner, "/v1/messages", "text-quillon", &message).await;
    assert_eq!(sent.status(), 202);
    let starts = (chrono::Utc::now() + chrono::Duration::days(2)).to_rfc3339();
    let ends =
        (chrono::Utc::now() + chrono::Duration::days(2) + chrono::Duration::hours(1)).to_rfc3339();
    let appointment: Value = app
        .call(
            Method::POST,
            "/v1/appointments",
            &owner.access,
            Some(json!({"customer_id": person, "title": "Quillon boiler", "starts_at": starts, "ends_at": ends,
                        "notes": "marker-notes-7Q again", "reminders": [{"channel": "sms", "minutes_before": 60}]})),
        )
        .await
        .json()
        .await
        .unwrap();
    let appointment = appointment["id"].as_str().unwrap().to_owned();
    let confirmed = app
        .call(
            Method::POST,
            &format!("/v1/appointments/{appointment}/status"),
            &owner.access,
            Some(json!({"status": "confirmed"})),
        )
        .await;
    assert_eq!(confirmed.status(), 200);
    app.run_jobs().await;
    assert!(
        twilio.received_requests().await.unwrap().len() >= 2,
        "the text and the confirmation went out"
    );

    let messages = ids_where(&app, "messages", "person_id", &person);
    let reminders = ids_where(&app, "reminders", "appointment_id", &appointment);
    assert!(
        messages.len() >= 2 && !reminders.is_empty(),
        "{messages:?} {reminders:?}"
    );
    let jobs: Vec<String> = messages
        .iter()
        .chain(&reminders)
        .flat_map(|id| ids_where(&app, "jobs", "subject_id", id))
        .collect();
    assert!(
        !jobs.is_empty(),
        "sending and reminding left jobs to look for"
    );
    let values = [
        "Quillon",
        "Erasmus-Vey",
        "quillon.vey@example.net",
        "+15125550142",
        "5125550142",
        "marker-notes-7Q",
        "gate code 7Q",
    ];
    for value in values {
        assert!(
            !holders_of(&app, value).is_empty(),
            "{value} is stored before the erasure"
        );
    }

    let erased = app
        .call(
            Method::DELETE,
            &format!("/v1/customers/{person}"),
            &owner.access,
            None,
        )
        .await;
    assert_eq!(erased.status(), 204);

    for value in values {
        assert_eq!(
            holders_of(&app, value),
            Vec::<String>::new(),
            "{value} left behind"
        );
    }
    // What may keep an id: the key of a create, so a replay answers that the
    // record is gone, the audit trail's record of the erasure, and the
    // `customer.deleted` event that tells subscribers to erase it too (every
    // earlier event about the person went with them).
    let kept = |id: &str| {
        let mut holders = holders_of(&app, id);
        holders.retain(|h| h != "idempotency_keys.resource_id");
        holders
    };
    for id in messages
        .iter()
        .chain(&reminders)
        .chain(&jobs)
        .chain([&appointment])
    {
        assert_eq!(kept(id), Vec::<String>::new(), "{id} left behind");
    }
    assert_eq!(kept(&person), ["audit_events.subject_id", "events.data"]);

    for (path, key, body) in [
        ("/v1/customers", "create-quillon", &body),
        ("/v1/messages", "text-quillon", &message),
    ] {
        let replay = keyed_post(&app, &owner, path, key, body).await;
        assert_eq!(replay.status(), 404, "{path}");
        let text = replay.text().await.unwrap();
        assert!(!text.contains("Quillon") && !text.contains("555"), "{text}");
    }
}

/// A replay answers the record as it is now, not a stored copy; and a message
/// body past its retention is not kept beside the message either.
#[tokio::test]
async fn a_replay_reads_the_record_as_it_is_now() {
    let twilio = twilio().await;
    let app = app_with(&twilio, None, 8).await;
    let owner = owner(&app).await;
    let body = json!({"name": "Ona First"});
    let first = keyed_post(&app, &owner, "/v1/customers", "ona", &body).await;
    assert_eq!(first.status(), 201);
    let id = first.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let renamed = app
        .call(
            Method::PATCH,
            &format!("/v1/customers/{id}"),
            &owner.access,
            Some(json!({"name": "Ona Second"})),
        )
        .await;
    assert_eq!(renamed.status(), 200);
    let replay = keyed_post(&app, &owner, "/v1/customers", "ona", &body).await;
    assert_eq!(replay.status(), 201);
    assert_eq!(replay.headers()["idempotency-replayed"], "true");
    assert_eq!(replay.headers()["location"], format!("/v1/customers/{id}"));
    let replayed: Value = replay.json().await.unwrap();
    assert_eq!(
        (replayed["id"].as_str(), replayed["name"].as_str()),
        (Some(id.as_str()), Some("Ona Second"))
    );
    assert_eq!(
        holders_of(&app, "Ona First"),
        Vec::<String>::new(),
        "no stored copy of the first answer"
    );

    let jo = customer(
        &app,
        &owner,
        json!({"name": "Jo", "phone": "+15125550111"}),
        &["sms"],
    )
    .await;
    let text = json!({"customer_id": jo, "channel": "sms", "body": "Gate code 9931"});
    assert_eq!(
        keyed_post(&app, &owner, "/v1/messages", "gate", &text)
            .await
            .status(),
        202
    );
    app.run_jobs().await;
    let mut conn = app.pool.get().unwrap();
    let later = fieldcrm_db::Ts::from(chrono::Utc::now() + chrono::Duration::days(91));
    assert_eq!(
        fieldcrm_app::messaging::purge_bodies(&mut conn, later).unwrap(),
        1
    );
    drop(conn);
    assert_eq!(holders_of(&app, "Gate code 9931"), Vec::<String>::new());
    let replay: Value = keyed_post(&app, &owner, "/v1/messages", "gate", &text)
        .await
        .json()
        .await
        .unwrap();
    assert!(replay["body"].is_null(), "{replay}");
}

/// The upkeep forgets keys past their 24 hours whether or not the account
/// sends another keyed request.
#[tokio::test]
async fn the_upkeep_forgets_expired_idempotency_keys() {
    use diesel::prelude::*;
    use fieldcrm_db::schema::idempotency_keys;
    let app = fieldcrm_test_support::spawn_app_with(|s| s.maintenance_interval_secs = 1).await;
    let owner = app.signup().await;
    let created = keyed_post(
        &app,
        &owner,
        "/v1/customers",
        "old",
        &json!({"name": "Old Key"}),
    )
    .await;
    assert_eq!(created.status(), 201);
    let day_ago = fieldcrm_db::Ts::from(chrono::Utc::now() - chrono::Duration::hours(25));
    let keys = || {
        let mut conn = app.pool.get().unwrap();
        idempotency_keys::table
            .count()
            .get_result::<i64>(&mut *conn)
            .unwrap()
    };
    {
        let mut conn = app.pool.get().unwrap();
        diesel::update(idempotency_keys::table)
            .set(idempotency_keys::created_at.eq(day_ago))
            .execute(&mut *conn)
            .unwrap();
    }
    assert_eq!(keys(), 1);
    let forgotten =
        fieldcrm_test_support::wait_until(std::time::Duration::from_secs(10), || keys() == 0).await;
    assert!(forgotten, "the expired key is still stored");
}

/// An account with `n` pings in a shift of its technician: an export of it is
/// several megabytes.
async fn account_with_pings(app: &TestApp, n: u32) -> Signed {
    let owner = app.signup().await;
    let tech = app.user_with_role(&owner, "technician").await;
    let shift: Value = app
        .call(Method::POST, "/v1/shifts/clock-in", &tech.access, None)
        .await
        .json()
        .await
        .unwrap();
    let shift = shift["id"].as_str().unwrap();
    bulk_pings(app, &owner.account_id, &tech.user_id, shift, n);
    owner
}

/// Starts an export on a raw connection that reads the answer's head and then
/// nothing more, as a client that stopped reading would; returns the status.
async fn stalled_export(app: &TestApp, who: &Signed) -> (u16, tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address: std::net::SocketAddr = app.address.trim_start_matches("http://").parse().unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(address).await.unwrap();
    let request = format!(
        "GET /v1/account/export HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\r\n",
        who.access
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        assert_eq!(stream.read(&mut byte).await.unwrap(), 1, "the head arrives");
        head.push(byte[0]);
    }
    let status = String::from_utf8_lossy(&head[9..12]).parse().unwrap();
    (status, stream)
}

/// Exports whose clients stop reading hold no database connection: with a
/// pool of two and two such exports open, every other request still works. A
/// third export beyond the process's cap is 429 with `Retry-After`; a stalled
/// export ends after the stall timeout, and the next one is accepted.
#[tokio::test]
async fn stalled_exports_hold_no_connection_and_are_capped() {
    let app = fieldcrm_test_support::spawn_app_with(|s| {
        s.database_pool_size = 2;
        s.database_timeout_secs = 1;
        s.max_concurrent_exports = 2;
        s.export_stall_timeout_secs = 2;
    })
    .await;
    let a = account_with_pings(&app, 60_000).await;
    let b = account_with_pings(&app, 60_000).await;
    let c = app.signup().await;
    let d = app.signup().await;

    let (status, _a_socket) = stalled_export(&app, &a).await;
    assert_eq!(status, 200);
    let (status, _b_socket) = stalled_export(&app, &b).await;
    assert_eq!(status, 200);
    // Long enough for both to fill every buffer and wait on their clients.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    for n in 0..6 {
        let created = app
            .call(
                Method::POST,
                "/v1/customers",
                &d.access,
                Some(json!({"name": format!("D{n}")})),
            )
            .await;
        assert_eq!(created.status(), 201, "another account's write, {n}");
        let listed = app
            .call(Method::GET, "/v1/customers", &d.access, None)
            .await;
        assert_eq!(listed.status(), 200, "another account's read, {n}");
    }
    let busy = app
        .call(Method::GET, "/v1/account/export", &c.access, None)
        .await;
    assert_eq!(busy.status(), 429);
    assert!(busy.headers().contains_key("retry-after"));
    assert!(problem(busy).await["detail"]
        .as_str()
        .unwrap()
        .contains("busy"));

    // After the stall timeout both give up and free their places.
    let accepted = async {
        loop {
            let answer = app
                .call(Method::GET, "/v1/account/export", &c.access, None)
                .await;
            if answer.status() != 429 {
                return answer;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    };
    let answer = tokio::time::timeout(std::time::Duration::from_secs(20), accepted)
        .await
        .expect("an export is accepted once the stalled ones ended");
    assert_eq!(answer.status(), 200);
    let document: Value = answer.json().await.unwrap();
    assert_eq!(document["account"]["id"], c.account_id.as_str());
}

/// Pooled PostgreSQL connections carry the configured statement and
/// idle-in-transaction timeouts, so no request can hold one without end.
#[tokio::test]
async fn postgres_connections_have_timeouts() {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Setting {
        #[diesel(sql_type = diesel::sql_types::Text)]
        value: String,
    }
    let app = fieldcrm_test_support::spawn_app_with(|s| {
        s.database_statement_timeout_secs = 7;
        s.database_idle_in_transaction_timeout_secs = 9;
    })
    .await;
    if app.backend() != Backend::Postgres {
        return fieldcrm_test_support::skipped("statement timeouts are PostgreSQL settings");
    }
    let mut conn = app.pool.get().unwrap();
    let show = |conn: &mut fieldcrm_db::DbConnection, name: &str| {
        diesel::sql_query(format!("SELECT current_setting('{name}') AS value"))
            .get_result::<Setting>(conn)
            .unwrap()
            .value
    };
    assert_eq!(show(&mut conn, "statement_timeout"), "7s");
    assert_eq!(show(&mut conn, "idle_in_transaction_session_timeout"), "9s");
    // Work that runs without it gets it back afterwards.
    fieldcrm_db::without_statement_timeout(&mut conn, |conn| {
        assert_eq!(show(conn, "statement_timeout"), "0");
        Ok(())
    })
    .unwrap();
    assert_eq!(show(&mut conn, "statement_timeout"), "7s");
}

/// Holds a read transaction open on its own connection, as a long export or
/// report would, until dropped.
struct OpenReader(fieldcrm_db::PooledConnection);

impl OpenReader {
    fn start(app: &TestApp) -> Self {
        use diesel::connection::SimpleConnection;
        let mut conn = app.pool.get().unwrap();
        let begin = match app.backend() {
            Backend::Postgres => {
                "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM people;"
            }
            Backend::Sqlite => "BEGIN; SELECT count(*) FROM people;",
        };
        conn.batch_execute(begin).unwrap();
        Self(conn)
    }

    fn end(mut self) {
        use diesel::connection::SimpleConnection;
        self.0.batch_execute("ROLLBACK").unwrap();
    }
}

/// The SQLite files, the write-ahead log included.
fn sqlite_files(app: &TestApp) -> Vec<std::path::PathBuf> {
    let path = app.db.sqlite_path().unwrap().clone();
    let mut wal = path.clone().into_os_string();
    wal.push("-wal");
    vec![path, wal.into()]
}

/// When each of these tables was last vacuumed (PostgreSQL's statistics).
fn last_vacuums(app: &TestApp, tables: &[&str]) -> Vec<Option<chrono::DateTime<chrono::Utc>>> {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Vacuumed {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>)]
        at: Option<chrono::DateTime<chrono::Utc>>,
    }
    let mut conn = app.pool.get().unwrap();
    let fieldcrm_db::DbConnection::Pg(pg) = &mut *conn else {
        unreachable!("PostgreSQL only")
    };
    tables
        .iter()
        .map(|table| {
            diesel::sql_query(format!(
                "SELECT last_vacuum AS at FROM pg_stat_user_tables WHERE relname = '{table}'"
            ))
            .get_result::<Vacuumed>(pg)
            .unwrap()
            .at
        })
        .collect()
}

/// With a long read open, deleting an account neither waits for it nor holds
/// up other accounts' writes, and its receipt says truthfully that the scrub
/// is pending; once the reader ends, the scrub completes in the background,
/// the receipt says so, and the files hold nothing of the account.
#[tokio::test]
async fn a_deletion_beside_a_long_read_scrubs_when_the_read_ends() {
    let twilio = twilio().await;
    let app = app_with(&twilio, None, 8).await;
    let doomed = owner(&app).await;
    let marker = format!("Scrubbed-{}", uuid::Uuid::new_v4().simple());
    customer(&app, &doomed, json!({"name": marker, "notes": marker}), &[]).await;
    let other = owner(&app).await;
    let started = chrono::Utc::now();

    let reader = OpenReader::start(&app);
    let writes = async {
        let mut statuses = Vec::new();
        for n in 0..10 {
            let created = app
                .call(
                    Method::POST,
                    "/v1/customers",
                    &other.access,
                    Some(json!({"name": format!("W{n}")})),
                )
                .await;
            statuses.push(created.status().as_u16());
        }
        statuses
    };
    let (deleted, statuses) = tokio::join!(
        delete_account(
            &app,
            &doomed,
            json!({"password": PASSWORD, "confirm": "Acme Plumbing"})
        ),
        writes
    );
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
    assert_eq!(deleted.status(), 200);
    let receipt: Value = deleted.json().await.unwrap();
    assert_eq!(receipt["scrub"]["status"], "pending", "{receipt}");
    assert!(receipt["scrub"]["completed_at"].is_null());
    let path = format!(
        "/v1/deletion-receipts/{}",
        receipt["receipt_id"].as_str().unwrap()
    );
    let unchanged: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(unchanged["scrub"]["status"], "pending");
    assert_eq!(unchanged["counts"], receipt["counts"]);
    app.run_jobs().await;
    let still: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(
        still["scrub"]["status"], "pending",
        "the reader is still open"
    );

    reader.end();
    // The job looks again a second or so later.
    let mut done = Value::Null;
    for _ in 0..50 {
        app.run_jobs().await;
        done = app.get(&path).await.json().await.unwrap();
        if done["scrub"]["status"] == "complete" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(done["scrub"]["status"], "complete", "{done}");
    assert!(done["scrub"]["completed_at"].is_string());
    match app.backend() {
        Backend::Sqlite => {
            for file in sqlite_files(&app) {
                let bytes = std::fs::read(&file).unwrap_or_default();
                assert!(
                    !String::from_utf8_lossy(&bytes).contains(&marker),
                    "{} still holds the deleted name",
                    file.display()
                );
            }
        }
        Backend::Postgres => {
            for at in last_vacuums(&app, &["people", "users", "accounts"]) {
                assert!(
                    at.is_some_and(|at| at >= started),
                    "vacuumed after the deletion: {at:?}"
                );
            }
        }
    }
    let unknown = app
        .get(&format!("/v1/deletion-receipts/{}", uuid::Uuid::new_v4()))
        .await;
    assert_eq!(unknown.status(), 404);
}

/// The deletion answers once it has committed, its scrub pending; with no
/// reader in the way, the scrub's job completes it at its first run: on
/// PostgreSQL every table that held rows was vacuumed after the request.
#[tokio::test]
async fn a_deletion_answers_once_committed_and_its_scrub_follows() {
    let twilio = twilio().await;
    let app = app_with(&twilio, None, 8).await;
    let doomed = owner(&app).await;
    customer(
        &app,
        &doomed,
        json!({"name": "Gone Soon", "phone": "+15125550123"}),
        &["sms"],
    )
    .await;
    let started = chrono::Utc::now();
    let deleted = delete_account(
        &app,
        &doomed,
        json!({"password": PASSWORD, "confirm": "Acme Plumbing"}),
    )
    .await;
    assert_eq!(deleted.status(), 200);
    let receipt: Value = deleted.json().await.unwrap();
    assert_eq!(receipt["scrub"]["status"], "pending", "{receipt}");
    app.run_jobs().await;
    let path = format!(
        "/v1/deletion-receipts/{}",
        receipt["receipt_id"].as_str().unwrap()
    );
    let done: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(done["scrub"]["status"], "complete", "{done}");
    assert!(done["scrub"]["completed_at"].is_string());
    assert_eq!(done["counts"], receipt["counts"]);
    if app.backend() == Backend::Postgres {
        let tables: Vec<&str> = receipt["counts"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert!(tables.contains(&"consent_events"), "{tables:?}");
        for (table, at) in tables.iter().zip(last_vacuums(&app, &tables)) {
            assert!(
                at.is_some_and(|at| at >= started),
                "{table} vacuumed after the request began: {at:?}"
            );
        }
    }
}

// ------------------------------------------------ two accounts, one export

/// The id of every row of the account, in every table with `id` and
/// `account_id` (read from the catalog, so new tables are covered).
fn ids_of_account(app: &TestApp, account: &str) -> Vec<String> {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        id: String,
    }
    let account: uuid::Uuid = account.parse().unwrap();
    let mut conn = app.pool.get().unwrap();
    let catalog = fieldcrm_db::migrations::catalog(&mut conn).unwrap();
    let (id, literal) = match app.backend() {
        Backend::Postgres => ("id::text", format!("'{account}'::uuid")),
        Backend::Sqlite => ("lower(hex(id))", format!("x'{}'", account.simple())),
    };
    let mut ids = Vec::new();
    for (table, columns) in catalog {
        let has = |name: &str| columns.iter().any(|(c, _)| c == name);
        if !(has("id") && has("account_id")) {
            continue;
        }
        let rows: Vec<Row> = diesel::sql_query(format!(
            "SELECT {id} AS id FROM {table} WHERE account_id = {literal}"
        ))
        .load(&mut *conn)
        .unwrap();
        ids.extend(rows.into_iter().map(|row| {
            uuid::Uuid::parse_str(&row.id)
                .unwrap_or_else(|_| panic!("{table}.id is a UUID"))
                .to_string()
        }));
    }
    ids
}

#[tokio::test]
async fn an_export_and_the_audit_trail_hold_nothing_of_another_account() {
    let twilio = twilio().await;
    let google = GoogleStandIn::start().await;
    let app = app_with_settings(&twilio, None, 8, |s| google.configure(s)).await;
    let mine = fill(&app, &google).await;
    let theirs = fill(&app, &google).await;
    queue_message(&app, &mine).await;
    queue_message(&app, &theirs).await;
    let mut their_ids = ids_of_account(&app, &theirs.owner.account_id);
    assert!(their_ids.len() > 20, "{their_ids:?}");
    their_ids.push(theirs.owner.account_id.clone());

    let export = app
        .call(Method::GET, "/v1/account/export", &mine.owner.access, None)
        .await;
    assert_eq!(export.status(), 200);
    let text = export.text().await.unwrap();
    assert!(text.contains(&mine.marker), "the export holds my data");
    assert!(!text.contains(&theirs.marker), "their name is not in it");
    for id in &their_ids {
        assert!(!text.contains(id.as_str()), "my export holds their {id}");
    }

    let trail = app
        .call(Method::GET, "/v1/audit", &mine.owner.access, None)
        .await;
    assert_eq!(trail.status(), 200);
    let text = trail.text().await.unwrap();
    assert!(text.contains("account.exported"), "{text}");
    for id in &their_ids {
        assert!(
            !text.contains(id.as_str()),
            "my audit trail holds their {id}"
        );
    }
}

/// Where `value` departs from `schema` (of the served OpenAPI document
/// `spec`): a type, a required member missing, a member not described, in
/// the value or any record in it.
fn misfit(value: &Value, schema: &Value, spec: &Value, at: &str) -> Option<String> {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/components/schemas/");
        return misfit(value, &spec["components"]["schemas"][name], spec, at);
    }
    if let Some(choices) = schema["oneOf"].as_array().or(schema["anyOf"].as_array()) {
        return choices
            .iter()
            .all(|choice| misfit(value, choice, spec, at).is_some())
            .then(|| format!("{at}: fits none of {choices:?}"));
    }
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let fits = types.is_empty()
        || types.contains(&kind)
        || (kind == "integer" && types.contains(&"number"));
    if !fits {
        return Some(format!("{at}: a {kind}, described as {types:?}"));
    }
    match (value, schema["format"].as_str()) {
        (Value::String(s), Some("uuid")) if uuid::Uuid::parse_str(s).is_err() => {
            return Some(format!("{at}: {s:?} is not a uuid"));
        }
        (Value::String(s), Some("date-time"))
            if chrono::DateTime::parse_from_rfc3339(s).is_err() =>
        {
            return Some(format!("{at}: {s:?} is not a date-time"));
        }
        _ => {}
    }
    match value {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| misfit(item, &schema["items"], spec, &format!("{at}[{i}]"))),
        Value::Object(members) => {
            let properties = schema["properties"].as_object()?;
            let required = schema["required"].as_array().cloned().unwrap_or_default();
            required
                .iter()
                .filter_map(Value::as_str)
                .find(|name| !members.contains_key(*name))
                .map(|name| format!("{at}: no {name}"))
                .or_else(|| {
                    members
                        .iter()
                        .find_map(|(name, member)| match properties.get(name) {
                            None => Some(format!("{at}.{name}: not described")),
                            Some(described) => {
                                misfit(member, described, spec, &format!("{at}.{name}"))
                            }
                        })
                })
        }
        _ => None,
    }
}
