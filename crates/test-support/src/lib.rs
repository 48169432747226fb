//! Test harness: `spawn_app()` runs the real `Application` on a free port with a
//! database of its own, and a client to drive it over HTTP.
//!
//! The backend is SQLite (a temporary file) unless `TEST_DATABASE_URL` names a
//! PostgreSQL server, in which case every test gets a fresh database there,
//! dropped when the test ends.

mod database;
mod dates;
mod process;
mod smtp;

use std::time::Duration;

use fieldcrm::{Application, Settings};
use fieldcrm_app::AppState;
use fieldcrm_db::DbPool;
use secrecy::SecretString;

pub use database::TestDatabase;
pub use dates::{shifted, Day};
pub use fieldcrm_db::Backend;
pub use process::{skipped, NotStarted, ServerProcess};
pub use smtp::{ReceivedMail, SmtpStandIn};

pub struct TestApp {
    /// `http://127.0.0.1:<port>`
    pub address: String,
    pub client: reqwest::Client,
    pub pool: DbPool,
    /// What the handlers and the job worker share; tests run due jobs through it.
    pub state: AppState,
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
        // Tests run due jobs themselves (`run_jobs`), so what they assert does
        // not race a background worker; one test turns it on.
        jobs_enabled: false,
        job_retry_base_ms: 1,
        // Webhook receivers in tests listen on loopback.
        webhooks_allow_private_targets: true,
        ..Settings::default()
    };
    customize(&mut settings);
    let app = Application::build(settings)
        .await
        .expect("the application should start");
    let address = format!("http://127.0.0.1:{}", app.port());
    let pool = app.pool().clone();
    let state = app.state().clone();
    tokio::spawn(app.run_until_stopped());
    if db.backend() == Backend::Postgres && state.settings.session_cache {
        // So every test on PostgreSQL runs with sessions kept between
        // requests, as a server does a moment after it starts.
        assert!(
            wait_until(Duration::from_secs(10), || state.sessions.is_live()).await,
            "the session listener should start within 10 s"
        );
    }
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a reqwest client");
    TestApp {
        address,
        client,
        pool,
        state,
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

    /// Runs the job worker's own code until no job is due within the next
    /// second (retries use 1 ms backoff in tests), for at most 20 seconds.
    pub async fn run_jobs(&self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::time::Instant::now() < deadline {
            let ran = fieldcrm_app::run_due_jobs(&self.state)
                .await
                .expect("jobs should be claimable");
            if ran == 0 {
                if self.jobs_due_soon() == 0 {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        panic!("jobs were still due after 20 seconds");
    }

    /// Jobs queued to run within a second, or running.
    pub fn jobs_due_soon(&self) -> i64 {
        use diesel::prelude::*;
        use fieldcrm_db::schema::jobs;
        let soon = fieldcrm_db::Ts::from(chrono::Utc::now() + chrono::Duration::seconds(1));
        let mut conn = self.pool.get().expect("a connection");
        jobs::table
            .filter(
                jobs::status
                    .eq("queued")
                    .and(jobs::run_at.le(soon))
                    .or(jobs::status.eq("running")),
            )
            .count()
            .get_result(&mut *conn)
            .expect("count jobs")
    }
}

/// Polls `condition` every 10 ms until it holds (true) or `within` has passed (false).
pub async fn wait_until(within: Duration, condition: impl Fn() -> bool) -> bool {
    let deadline = std::time::Instant::now() + within;
    loop {
        if condition() {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Whether `base`'s `/readyz` answered 200 within 30 seconds.
pub async fn became_ready(base: &str) -> bool {
    let client = reqwest::Client::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        let answer = client.get(format!("{base}/readyz")).send().await;
        if answer.is_ok_and(|r| r.status() == 200) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
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

/// The password every test user gets.
pub const PASSWORD: &str = "correct horse battery staple";

/// A signed-in user of a test account.
#[derive(Debug, Clone)]
pub struct Signed {
    pub access: String,
    pub refresh: String,
    pub account_id: String,
    pub user_id: String,
    pub email: String,
}

impl TestApp {
    /// A request with `Authorization: Bearer <token>`.
    pub fn authed(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(token)
    }

    /// Sends `body` (if any) as JSON with the caller's bearer token.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<serde_json::Value>,
    ) -> reqwest::Response {
        let mut request = self.authed(method, path, token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request
            .send()
            .await
            .expect("the request should reach the server")
    }

    /// Creates a customer through the API as `who`; answers its JSON.
    pub async fn create_customer(
        &self,
        who: &Signed,
        body: serde_json::Value,
    ) -> serde_json::Value {
        let response = self
            .call(
                reqwest::Method::POST,
                "/v1/customers",
                &who.access,
                Some(body),
            )
            .await;
        assert_eq!(response.status(), 201, "creating a customer");
        response.json().await.expect("a customer as JSON")
    }

    /// Deletes the account of `owner` (as `signup` made it) with the right
    /// password and confirmation; answers 200.
    pub async fn delete_account(&self, owner: &Signed) {
        let response = self
            .call(
                reqwest::Method::DELETE,
                "/v1/account",
                &owner.access,
                Some(serde_json::json!({"password": PASSWORD, "confirm": "Acme Plumbing"})),
            )
            .await;
        assert_eq!(response.status(), 200, "deleting the account");
    }

    /// Signs up a new account (unique email) and returns its owner, signed in.
    pub async fn signup(&self) -> Signed {
        let email = format!("owner-{}@example.com", uuid::Uuid::new_v4().simple());
        let response = self
            .post_json(
                "/v1/auth/signup",
                &serde_json::json!({
                    "account_name": "Acme Plumbing",
                    "name": "Dana Reyes",
                    "email": email,
                    "password": PASSWORD,
                    "time_zone": "America/Chicago",
                }),
            )
            .await;
        assert_eq!(response.status(), 201, "signup");
        let body: serde_json::Value = response.json().await.expect("signup body");
        Signed {
            access: body["access_token"]
                .as_str()
                .expect("access_token")
                .to_owned(),
            refresh: body["refresh_token"]
                .as_str()
                .expect("refresh_token")
                .to_owned(),
            account_id: body["account"]["id"]
                .as_str()
                .expect("account id")
                .to_owned(),
            user_id: body["user"]["id"].as_str().expect("user id").to_owned(),
            email,
        }
    }

    pub async fn login(&self, email: &str, password: &str) -> reqwest::Response {
        self.post_json(
            "/v1/auth/login",
            &serde_json::json!({"email": email, "password": password}),
        )
        .await
    }

    /// Adds a user with `role` to the owner's account and signs them in.
    pub async fn user_with_role(&self, owner: &Signed, role: &str) -> Signed {
        self.user_named(owner, role, &format!("A {role}")).await
    }

    /// A user called `name` with `role` in the owner's account, signed in.
    pub async fn user_named(&self, owner: &Signed, role: &str, name: &str) -> Signed {
        let email = format!("{role}-{}@example.com", uuid::Uuid::new_v4().simple());
        let response = self
            .authed(reqwest::Method::POST, "/v1/users", &owner.access)
            .json(&serde_json::json!({
                "name": name,
                "email": email,
                "role": role,
                "password": PASSWORD,
            }))
            .send()
            .await
            .expect("create user");
        assert_eq!(response.status(), 201, "create {role}");
        let user: serde_json::Value = response.json().await.expect("user body");
        let login = self.login(&email, PASSWORD).await;
        assert_eq!(login.status(), 200, "login as {role}");
        let tokens: serde_json::Value = login.json().await.expect("token body");
        Signed {
            access: tokens["access_token"]
                .as_str()
                .expect("access_token")
                .to_owned(),
            refresh: tokens["refresh_token"]
                .as_str()
                .expect("refresh_token")
                .to_owned(),
            account_id: owner.account_id.clone(),
            user_id: user["id"].as_str().expect("id").to_owned(),
            email,
        }
    }

    /// Creates an API key with `scope` and returns `(id, secret)`.
    pub async fn api_key(&self, owner: &Signed, scope: &str) -> (String, String) {
        let response = self
            .authed(reqwest::Method::POST, "/v1/api-keys", &owner.access)
            .json(&serde_json::json!({"name": format!("{scope} integration"), "scope": scope}))
            .send()
            .await
            .expect("create key");
        assert_eq!(response.status(), 201, "create {scope} key");
        let body: serde_json::Value = response.json().await.expect("key body");
        (
            body["id"].as_str().expect("id").to_owned(),
            body["secret"].as_str().expect("secret").to_owned(),
        )
    }
}

/// For every table with a column named `column`, how many rows hold `id` there.
/// Reads the table list from the database catalog, so tables added later are
/// covered without changing the tests.
pub fn rows_referring_to(app: &TestApp, column: &str, id: uuid::Uuid) -> Vec<(String, i64)> {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = app.pool.get().expect("a connection");
    let catalog = fieldcrm_db::migrations::catalog(&mut conn).expect("the catalog");
    // Compared as text on PostgreSQL: a column of that name may be text
    // (`link_keys.id`) rather than a UUID.
    let condition = match app.backend() {
        Backend::Postgres => format!("{column}::text = '{id}'"),
        Backend::Sqlite => format!("{column} = x'{}'", id.simple()),
    };
    catalog
        .into_iter()
        .filter(|(_, columns)| columns.iter().any(|(name, _)| name == column))
        .map(|(table, _)| {
            let count: Count = diesel::sql_query(format!(
                "SELECT count(*) AS n FROM {table} WHERE {condition}"
            ))
            .get_result(&mut *conn)
            .expect("count rows");
            (table, count.n)
        })
        .collect()
}

/// Moves a shift's clock-in back to `at`, as if it had started then.
pub fn start_shift_at(app: &TestApp, shift_id: &str, at: chrono::DateTime<chrono::Utc>) {
    use diesel::prelude::*;
    use fieldcrm_db::schema::shifts;
    let id: fieldcrm_db::Id<fieldcrm_db::shifts::Shift> =
        fieldcrm_db::Id::from_uuid(shift_id.parse().expect("a shift id"));
    let mut conn = app.pool.get().expect("a connection");
    let updated = diesel::update(shifts::table.find(id))
        .set(shifts::clock_in_at.eq(fieldcrm_db::Ts::from(at)))
        .execute(&mut *conn)
        .expect("update the shift");
    assert_eq!(updated, 1);
}

/// How many pings of the shift are stored.
pub fn stored_pings(app: &TestApp, shift_id: &str) -> i64 {
    rows_referring_to(app, "shift_id", shift_id.parse().expect("a shift id"))
        .into_iter()
        .filter(|(table, _)| table == "pings")
        .map(|(_, n)| n)
        .sum()
}

/// Every `table.column` of the database where some row holds `needle`: text,
/// JSON and binary columns alike, ids included (a UUID `needle` is also looked
/// for in its stored form). Reads the catalog, so tables added later are
/// searched too. For checking that erased data left no copy anywhere.
pub fn holders_of(app: &TestApp, needle: &str) -> Vec<String> {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Column {
        #[diesel(sql_type = diesel::sql_types::Text)]
        table_name: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        column_name: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        data_type: String,
    }
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = app.pool.get().expect("a connection");
    let columns_sql = match app.backend() {
        Backend::Postgres => {
            "SELECT table_name::text AS table_name, column_name::text AS column_name,
                    data_type::text AS data_type
             FROM information_schema.columns WHERE table_schema = current_schema()"
        }
        Backend::Sqlite => {
            "SELECT m.name AS table_name, p.name AS column_name, p.type AS data_type
             FROM sqlite_master m JOIN pragma_table_info(m.name) p
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'"
        }
    };
    let columns: Vec<Column> = diesel::sql_query(columns_sql)
        .load(&mut *conn)
        .expect("the catalog");
    let quoted = needle.replace('\'', "''");
    // In SQLite a UUID is stored as 16 bytes.
    let as_blob = needle
        .parse::<uuid::Uuid>()
        .map(|id| format!(" OR instr(CAST({{c}} AS BLOB), x'{}') > 0", id.simple()))
        .unwrap_or_default();
    let mut holders = Vec::new();
    for column in columns {
        let c = format!("\"{}\"", column.column_name);
        let condition = match app.backend() {
            Backend::Postgres if column.data_type == "bytea" => {
                format!("position(convert_to('{quoted}', 'UTF8') in {c}) > 0")
            }
            Backend::Postgres => format!("strpos({c}::text, '{quoted}') > 0"),
            Backend::Sqlite => format!(
                "instr(CAST({c} AS BLOB), CAST('{quoted}' AS BLOB)) > 0{}",
                as_blob.replace("{c}", &c)
            ),
        };
        let count: Count = diesel::sql_query(format!(
            "SELECT count(*) AS n FROM \"{}\" WHERE {condition}",
            column.table_name
        ))
        .get_result(&mut *conn)
        .expect("search a column");
        if count.n > 0 {
            holders.push(format!("{}.{}", column.table_name, column.column_name));
        }
    }
    holders
}
