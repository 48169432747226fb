//! What a request costs the database, counted by the app's pool: a GET by id
//! is one statement on PostgreSQL, and no statement count grows with what
//! other accounts hold.

use fieldcrm_test_support::{spawn_app, Backend, Signed, TestApp};
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
