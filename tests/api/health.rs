use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};
use fieldcrm_test_support::{problem, spawn_app, Backend, TestApp};

#[tokio::test]
async fn healthz_answers_without_the_database() {
    let app = spawn_app().await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn readyz_names_the_backend_in_use() {
    let app = spawn_app().await;
    let response = app.get("/readyz").await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    let expected = match app.backend() {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    assert_eq!(body["database"], expected);
}

/// The database becomes unusable: PostgreSQL refuses connections; on SQLite
/// another process holds the write lock. Readiness answers 503 problem+json
/// while that lasts and 200 again once it ends, without a restart.
#[tokio::test]
async fn readyz_is_503_while_the_database_is_unusable_and_recovers() {
    let app = spawn_app().await;
    assert_eq!(app.get("/readyz").await.status(), 200);

    let lock_holder = match app.backend() {
        Backend::Postgres => {
            app.db.set_reachable(false);
            None
        }
        Backend::Sqlite => {
            let path = app.db.sqlite_path().unwrap().to_str().unwrap().to_owned();
            let mut other = SqliteConnection::establish(&path).unwrap();
            other.batch_execute("BEGIN IMMEDIATE").unwrap();
            Some(other)
        }
    };

    let response = app.get("/readyz").await;
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let body = problem(response).await;
    assert_eq!(body["code"], "unavailable");

    match lock_holder {
        None => app.db.set_reachable(true),
        Some(mut other) => other.batch_execute("ROLLBACK").unwrap(),
    }
    assert_eq!(wait_until_ready(&app).await, 200);
}

async fn wait_until_ready(app: &TestApp) -> u16 {
    let mut status = 0;
    for _ in 0..40 {
        status = app.get("/readyz").await.status().as_u16();
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    status
}
