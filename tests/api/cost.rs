//! What a request costs the database, counted by the app's pool: a GET by id
//! is one statement on PostgreSQL, and no statement count grows with what
//! other accounts hold.

use fieldcrm_test_support::{spawn_app, spawn_app_with, Backend, Signed, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

/// Statements the app's pool sent for each of `times` runs of `request`,
/// leaving out the liveness checks of connections that rested (a loaded
/// test machine can pause between two requests longer than the pool trusts
/// an unused connection).
async fn statements_per_request(
    app: &TestApp,
    who: &Signed,
    times: u64,
    request: (Method, &str, Option<Value>),
) -> f64 {
    let (method, path, body) = request;
    let sent = || app.pool.statements_run() - app.pool.checks_run();
    let before = sent();
    for _ in 0..times {
        let response = app
            .call(method.clone(), path, &who.access, body.clone())
            .await;
        assert!(
            response.status().is_success(),
            "{method} {path}: {}",
            response.status()
        );
    }
    (sent() - before) as f64 / times as f64
}

#[tokio::test]
async fn a_read_by_id_is_one_statement_and_no_count_grows_with_other_accounts() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let created: Value = app
        .call(
            Method::POST,
            "/v1/customers",
            &owner.access,
            Some(json!({"name": "Jordan Blake", "tags": ["vip", "north"]})),
        )
        .await
        .json()
        .await
        .unwrap();
    let by_id = format!("/v1/customers/{}", created["id"].as_str().unwrap());
    let create = json!({"name": "Casey Reed"});
    let measure = || async {
        (
            statements_per_request(&app, &owner, 10, (Method::GET, &by_id, None)).await,
            statements_per_request(
                &app,
                &owner,
                10,
                (Method::POST, "/v1/customers", Some(create.clone())),
            )
            .await,
            statements_per_request(
                &app,
                &owner,
                10,
                (Method::GET, "/v1/customers?q=jordan", None),
            )
            .await,
        )
    };
    let alone = measure().await;

    // The row and its tags in one statement; on PostgreSQL what the access
    // token is checked against is kept between requests (SQLite reads it).
    let session_read = match app.backend() {
        Backend::Postgres => 0.0,
        Backend::Sqlite => 1.0,
    };
    assert_eq!(alone.0, 1.0 + session_read, "statements per GET by id");
    // On PostgreSQL one statement stores the row and its event when no
    // webhook endpoint listens; SQLite runs a transaction: `BEGIN`, the row,
    // the event (answering whether an endpoint listens), `COMMIT`.
    let create = match app.backend() {
        Backend::Postgres => 1.0,
        Backend::Sqlite => 4.0 + session_read,
    };
    assert_eq!(alone.1, create, "statements per POST create");
    // The page, then the tags of the people on it.
    assert_eq!(alone.2, 2.0 + session_read, "statements per search");

    for _ in 0..3 {
        let other = app.signup().await;
        for i in 0..20 {
            let response = app
                .call(
                    Method::POST,
                    "/v1/customers",
                    &other.access,
                    Some(json!({"name": format!("Jordan Other {i}"), "tags": ["vip"]})),
                )
                .await;
            assert_eq!(response.status(), 201);
        }
    }
    assert_eq!(
        measure().await,
        alone,
        "the same requests beside three other accounts"
    );
}

/// What each tracker fix writes (its position, the person's count for the
/// day, the shift's and the device's counters) is prepared once per
/// connection on PostgreSQL: a statement sent unprepared is parsed and
/// planned again for every fix.
#[tokio::test]
async fn a_tracker_fixs_writes_are_prepared_once_per_connection() {
    // One connection, so the one checked here is the one every fix used.
    let app = spawn_app_with(|s| {
        s.database_pool_size = 1;
        s.ping_min_interval_ms = 0;
    })
    .await;
    let owner = app.signup().await;
    let tech = app.user_with_role(&owner, "technician").await;
    let shift = crate::tracking::clock(&app, &tech, "clock-in").await;
    let clock_in: chrono::DateTime<chrono::Utc> =
        shift["clock_in_at"].as_str().unwrap().parse().unwrap();
    let token = crate::devices::issue(&app, &owner, &tech.user_id, "Van").await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    for n in 1..=3 {
        let at = clock_in + chrono::Duration::milliseconds(100 * n);
        let fix = format!(
            "id=van&lat=30.{n}&lon=-97.{n}&timestamp={}&accuracy=5.0",
            at.timestamp_millis()
        );
        let response = app
            .client
            .post(app.url(&format!("/v1/ingest/osmand/{token}")))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(fix)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "fix {n}");
    }
    // The written-out statements store and count on both backends.
    let devices = crate::devices::devices_of(&app, &owner, &tech.user_id).await;
    assert_eq!(devices["data"][0]["counters"]["stored"], 3, "{devices}");

    let mut conn = app.pool.get().unwrap();
    // SQLite shows no list of what a connection has prepared.
    if let fieldcrm_db::DbConnection::Pg(pg) = &mut *conn {
        let prepared = prepared_statements(pg);
        for write in [
            "INSERT INTO pings ",
            "INSERT INTO ping_counts ",
            "UPDATE shifts SET trail_version ",
            "UPDATE devices SET last_seen_at ",
        ] {
            let kept = prepared.iter().filter(|s| s.starts_with(write)).count();
            assert_eq!(kept, 1, "{write}…: {prepared:#?}");
        }
    }
}

/// Each of the four ways a job is finished (done, retried, deferred, failed)
/// records its outcome under its lease, and is prepared once per connection
/// on PostgreSQL rather than parsed and planned for every job: one runs after
/// each webhook delivery.
#[test]
fn each_form_of_finishing_a_job_is_prepared_once_per_connection() {
    use fieldcrm_db::jobs::{self, Job, Outcome};
    use fieldcrm_db::{migrations, DatabaseUrl, DbConnection, Id, Ts};

    let db = fieldcrm_test_support::TestDatabase::create();
    let mut conn = DbConnection::open(&DatabaseUrl::parse(db.url()).unwrap()).unwrap();
    migrations::run_pending(&mut conn).unwrap();
    let later = Ts::from(chrono::Utc::now() + chrono::Duration::minutes(5));
    let outcomes = [
        (Outcome::Done, "done"),
        (
            Outcome::Retry(later, "503 from the receiver".into()),
            "queued",
        ),
        (Outcome::Defer(later), "queued"),
        (Outcome::Failed("410 from the receiver".into()), "failed"),
    ];
    for _ in 0..3 {
        for (outcome, status) in &outcomes {
            let job = Job::new(None, "test_finish", None, Ts::now(), 3);
            jobs::enqueue(&mut conn, &job).unwrap();
            let lease = Id::new();
            let until = Ts::from(chrono::Utc::now() + chrono::Duration::minutes(1));
            let claimed = jobs::claim(&mut conn, Ts::now(), lease, until, 1).unwrap();
            assert_eq!(claimed.len(), 1);
            // Under another lease the job is not this worker's to finish.
            assert!(!jobs::finish(&mut conn, job.id, Id::new(), outcome, Ts::now()).unwrap());
            assert!(jobs::finish(&mut conn, job.id, lease, outcome, Ts::now()).unwrap());
            let (now_status, lease_left) = fieldcrm_db::natively!(&mut conn, |c| {
                use diesel::prelude::*;
                use fieldcrm_db::schema::jobs as table;
                table::table
                    .find(job.id)
                    .select((table::status, table::lease_id))
                    .first::<(String, Option<jobs::LeaseId>)>(c)
                    .unwrap()
            });
            assert_eq!(now_status, *status, "{outcome:?}");
            assert_eq!(lease_left, None, "{outcome:?}");
        }
    }
    // SQLite shows no list of what a connection has prepared.
    if let DbConnection::Pg(pg) = &mut conn {
        let prepared = prepared_statements(pg);
        let finishing = prepared
            .iter()
            .filter(|s| s.starts_with("UPDATE jobs SET status"))
            .count();
        assert_eq!(finishing, outcomes.len(), "{prepared:#?}");
    }
}

/// A webhook delivery reads its endpoint and its event in one statement and
/// logs its attempt in the statement that records its job's outcome (on
/// SQLite, which has no writes in a `WITH`, a transaction of the two): one
/// round trip each way to PostgreSQL beside the batch's claim.
#[tokio::test]
async fn a_webhook_delivery_is_one_read_and_one_write() {
    // One connection, so the one checked here is the one every delivery used.
    let app = spawn_app_with(|s| s.database_pool_size = 1).await;
    let owner = app.signup().await;
    let server = crate::webhooks::receiver(200).await;
    let (endpoint, _) = crate::webhooks::endpoint(
        &app,
        &owner,
        json!({"url": server.uri(), "event_types": ["customer.created"]}),
    )
    .await;
    for name in ["Ana Hook", "Ben Hook", "Cy Hook"] {
        app.create_customer(&owner, json!({"name": name})).await;
    }

    let sent = || app.pool.statements_run() - app.pool.checks_run();
    let before = sent();
    let ran = fieldcrm_app::run_due_jobs(&app.state).await.unwrap();
    let statements = sent() - before;

    assert_eq!(ran, 3);
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
    let log = crate::webhooks::deliveries(&app, &owner, &endpoint).await;
    assert_eq!(log.len(), 3, "{log:#?}");
    assert!(log.iter().all(|d| d["status_code"] == 200), "{log:#?}");
    assert_eq!(app.jobs_due_soon(), 0, "every job finished");
    // The claim is two statements (due jobs, then lapsed leases for the
    // places left); then each delivery's read and its write.
    let per_delivery = match app.backend() {
        Backend::Postgres => 2,
        Backend::Sqlite => 1 + 4,
    };
    assert_eq!(
        statements,
        2 + 3 * per_delivery,
        "statements for three deliveries"
    );

    let mut conn = app.pool.get().unwrap();
    if let fieldcrm_db::DbConnection::Pg(pg) = &mut *conn {
        let prepared = prepared_statements(pg);
        let recording = prepared
            .iter()
            .filter(|s| s.starts_with("WITH recorded AS (INSERT INTO \"webhook_deliveries\""))
            .count();
        assert_eq!(recording, 1, "{prepared:#?}");
    }
}

/// What this PostgreSQL session has prepared, by statement text.
fn prepared_statements(pg: &mut diesel::PgConnection) -> Vec<String> {
    use diesel::RunQueryDsl;

    #[derive(diesel::QueryableByName)]
    struct Prepared {
        #[diesel(sql_type = diesel::sql_types::Text)]
        statement: String,
    }
    diesel::sql_query("SELECT statement FROM pg_prepared_statements")
        .load::<Prepared>(pg)
        .unwrap()
        .into_iter()
        .map(|p| p.statement)
        .collect()
}
