//! Test harness: `spawn_app()` runs the real `Application` on a free port with a
//! database of its own, and a client to drive it over HTTP.
//!
//! The backend is SQLite (a temporary file) unless `TEST_DATABASE_URL` names a
//! PostgreSQL server, in which case every test gets a fresh database there,
//! dropped when the test ends.

mod database;

use std::time::Duration;

use fieldcrm::{Application, Settings};
use fieldcrm_db::DbPool;
use secrecy::SecretString;

pub use database::TestDatabase;
pub use fieldcrm_db::Backend;

pub struct TestApp {
    /// `http://127.0.0.1:<port>`
    pub address: String,
    pub client: reqwest::Client,
    pub pool: DbPool,
    /// Dropped last: the database outlives the server's use of it.
    pub db: TestDatabase,
}

/// The application with default settings on a fresh database.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// The application with settings changed by `customize`.
pub async fn spawn_app_with(customize: impl FnOnce(&mut Settings)) -> TestApp {
    init_test_logs();
    let db = TestDatabase::create();
    let mut settings = Settings {
        port: 0,
        workers: 2,
        database_url: SecretString::from(db.url().to_owned()),
        ..Settings::default()
    };
    customize(&mut settings);
    let app = Application::build(settings)
        .await
        .expect("the application should start");
    let address = format!("http://127.0.0.1:{}", app.port());
    let pool = app.pool().clone();
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a reqwest client");
    TestApp {
        address,
        client,
        pool,
        db,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("the request should reach the server")
    }

    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("the request should reach the server")
    }

    pub fn backend(&self) -> Backend {
        self.db.backend()
    }
}

/// `TEST_LOG=1` shows the server's logs while tests run.
fn init_test_logs() {
    if std::env::var_os("TEST_LOG").is_some() {
        let settings = Settings {
            log_format: fieldcrm::config::LogFormat::Pretty,
            log_level: "debug".into(),
            ..Settings::default()
        };
        fieldcrm::telemetry::init(&settings);
    }
}

/// Reads a response that must be problem+json, checking the content type and
/// the `status` member against the HTTP status.
pub async fn problem(response: reqwest::Response) -> serde_json::Value {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(content_type, "application/problem+json", "status {status}");
    let body: serde_json::Value = response.json().await.expect("a JSON body");
    assert_eq!(body["status"], status, "{body}");
    assert!(
        body["type"].as_str().is_some_and(|t| !t.is_empty()),
        "{body}"
    );
    assert!(
        body["title"].as_str().is_some_and(|t| !t.is_empty()),
        "{body}"
    );
    body
}
