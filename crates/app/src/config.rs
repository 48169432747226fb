//! Settings: defaults, then an optional TOML file, then the environment.
//!
//! Every setting can be given as `FIELDCRM_<NAME>`; the usual `DATABASE_URL` and
//! `PORT` are read too. Secrets are `SecretString`s: they never reach a log line.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use fieldcrm_db::{DatabaseUrl, PoolOptions};

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Address to listen on; `0.0.0.0` in a container.
    pub host: IpAddr,
    /// Port to listen on; 0 picks a free one.
    pub port: u16,
    /// `sqlite://path` or `postgres://...`; may hold a password.
    pub database_url: SecretString,
    /// Most connections the pool opens.
    pub database_pool_size: u32,
    /// Seconds a request waits for a database connection before answering 503.
    pub database_timeout_secs: u64,
    /// PostgreSQL: seconds a statement may run before the server cancels it
    /// (0: no limit). Bounds what one request can hold; the account deletion,
    /// the upkeep and migrations run without it.
    pub database_statement_timeout_secs: u64,
    /// PostgreSQL: seconds a transaction may sit idle before the server ends
    /// the session (0: no limit).
    pub database_idle_in_transaction_timeout_secs: u64,
    /// Account exports this process runs at once; one more is answered 429.
    pub max_concurrent_exports: u32,
    /// Seconds an export waits for its client to read before it gives up.
    pub export_stall_timeout_secs: u64,
    /// A person's pings closer than this in recorded time are refused as
    /// `too_frequent` (0: no limit). No real device reports more than once a second.
    pub ping_min_interval_ms: u64,
    /// Pings one account may store per day (UTC); beyond, `over_quota`.
    pub ping_quota_per_account_per_day: u64,
    /// Requests one tracker device may send per minute (429 with `Retry-After`
    /// beyond; 0: no limit). Counted per server process.
    pub device_requests_per_minute: u32,
    /// On PostgreSQL, keep what access tokens are checked against between
    /// requests, dropped when the database notifies a change
    /// (`auth::sessions`). Off: every request reads it.
    pub session_cache: bool,
    /// Largest request body accepted, in bytes (413 beyond).
    pub max_body_bytes: usize,
    /// Origins allowed to call the API from a browser, comma-separated (e.g. the dashboard's).
    pub cors_allowed_origins: String,
    /// `json` (for log collectors) or `pretty` (for a terminal).
    pub log_format: LogFormat,
    /// A `tracing` filter such as `info` or `fieldcrm=debug,info`; `RUST_LOG` overrides it.
    pub log_level: String,
    /// HTTP worker threads; 0 means one per CPU core.
    pub workers: usize,
    /// Seconds a client has to send its request head before the connection is closed.
    pub client_request_timeout_secs: u64,
    /// Seconds a client has to send a request body once its head has arrived (408 after).
    pub client_body_timeout_secs: u64,
    /// Key that signs access tokens (HS256), at least 32 bytes. Unset: a random key
    /// per process, so sessions end at restart and processes cannot share tokens.
    pub jwt_secret: Option<SecretString>,
    /// Lifetime of an access token, in seconds.
    pub access_token_ttl_secs: u64,
    /// Lifetime of a refresh token, in days.
    pub refresh_token_ttl_days: u64,
    /// A browser's session of the web app ends after this many seconds
    /// without a request; never later than the refresh token lifetime from
    /// signing in.
    pub web_idle_timeout_secs: u64,
    /// Failed logins allowed per email address within one window before 429.
    pub login_failures_per_email: u32,
    /// Failed logins allowed per client address within one window before 429.
    pub login_failures_per_ip: u32,
    /// Length of the failed-login window, in seconds.
    pub login_failure_window_secs: u64,
    /// Take the client address from `X-Forwarded-For` (only behind a proxy that
    /// appends to it; otherwise clients could pick their own address).
    pub trust_forwarded_for: bool,
    /// How many proxies in front of this service append to `X-Forwarded-For`:
    /// the client address is the entry that many places from the right.
    pub forwarded_for_proxies: usize,
    /// Signups allowed per client address per hour before 429.
    pub signups_per_ip: u32,
    /// Password hashes and checks run at once (argon2id takes 12 MiB each); a
    /// few times as many wait, more get 429. 0 means one per CPU core.
    pub password_hashes_at_once: usize,
    /// Times per hour an account may be told that an email address belongs
    /// to a user of another account; after that it adds no user and changes
    /// no user's email until the hour is over.
    pub taken_emails_per_account: u32,
    /// Seconds between runs of the upkeep task (closing overdue shifts, purging
    /// old pings); 0 turns it off in this process.
    pub maintenance_interval_secs: u64,
    /// The address clients and providers reach this service at, e.g.
    /// `https://crm.example.com`: used in unsubscribe links, Twilio status
    /// callbacks and Twilio signature checks. Unset: `http://<host>:<port>`.
    pub public_base_url: Option<String>,
    /// Background map tiles for the office's live map and routes: a URL with
    /// `{z}`, `{x}` and `{y}` such as `https://tiles.example.com/{z}/{x}/{y}.png`
    /// (Web Mercator tiles, 256 px). Unset: the drawings have no background and
    /// the pages ask nothing of another server.
    pub map_tile_url: Option<String>,
    /// The credit the tile server requires, shown under each map; needed with
    /// `map_tile_url`.
    pub map_attribution: Option<String>,
    /// Twilio Messages API base URL.
    pub twilio_api_base_url: String,
    /// Twilio account SID; SMS is off until it and the auth token are set.
    pub twilio_account_sid: Option<String>,
    /// Twilio auth token: authenticates sending and signs Twilio's webhooks.
    pub twilio_auth_token: Option<SecretString>,
    /// The number SMS are sent from (E.164)...
    pub twilio_from: Option<String>,
    /// ...or a messaging service that picks it.
    pub twilio_messaging_service_sid: Option<String>,
    /// SMTP relay for email; email is off until it and `email_from` are set.
    pub smtp_host: Option<String>,
    pub smtp_port: u16,
    /// `starttls` (port 587), `tls` (port 465) or `none` (a relay on this host only).
    pub smtp_tls: SmtpTlsMode,
    pub smtp_username: Option<String>,
    /// Password for PLAIN/LOGIN.
    pub smtp_password: Option<SecretString>,
    /// An OAuth 2.0 access token: authenticates with XOAUTH2 instead of the password.
    pub smtp_oauth2_token: Option<SecretString>,
    /// The sender address of every email.
    pub email_from: Option<String>,
    /// Seconds a call to Twilio or the mail server may take.
    pub outbound_timeout_secs: u64,
    /// Run background jobs (reminders, messages) in this process.
    pub jobs_enabled: bool,
    /// Days the events feed keeps an event (and the webhook delivery log an attempt).
    pub events_retention_days: u32,
    /// Lets webhook endpoints be plain `http` and on loopback, private or
    /// link-local addresses: for tests and receivers on the operator's own network.
    pub webhooks_allow_private_targets: bool,
    /// Seconds a webhook receiver may take to answer.
    pub webhook_timeout_secs: u64,
    /// Milliseconds between looks for due jobs when the queue is empty.
    pub job_poll_interval_ms: u64,
    /// Seconds a claimed job is held before another process may take it over.
    pub job_lease_secs: u64,
    /// Milliseconds before the first retry; doubled per attempt, with jitter, up to an hour.
    pub job_retry_base_ms: u64,
    /// Attempts before a job (and its message) is marked failed.
    pub job_max_attempts: u32,
    /// The OAuth client of this service in Google Cloud; Google is off until it,
    /// the secret and the token encryption keys are set.
    pub google_client_id: Option<String>,
    pub google_client_secret: Option<SecretString>,
    pub google_auth_url: String,
    pub google_token_url: String,
    pub google_revoke_url: String,
    /// Root of Google's REST APIs; the Calendar API lives under `calendar/v3/`.
    pub google_api_root_url: String,
    /// The calendar appointments go into and come from.
    pub google_calendar_id: String,
    /// Seconds between syncs of an account when no push notification came.
    pub google_sync_interval_secs: u64,
    /// Open push channels (Google needs an https public base URL to reach).
    pub google_push_enabled: bool,
    /// Gmail's SMTP server, for accounts whose grant includes sending mail.
    pub google_smtp_host: String,
    pub google_smtp_port: u16,
    pub google_smtp_tls: SmtpTlsMode,
    /// Keys that seal stored third-party tokens: `id:base64key[,id:base64key…]`,
    /// each key 32 random bytes (`openssl rand -base64 32`). The first seals;
    /// every one listed opens, so keys rotate by putting a new one first.
    pub token_encryption_keys: Option<SecretString>,
    /// Keys that sign links sent to people (unsubscribe), `id:base64key[,…]`
    /// like the token encryption keys; the first signs, all check. Unset: one
    /// key is made and kept in the database.
    pub link_keys: Option<SecretString>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTlsMode {
    Starttls,
    Tls,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Pretty,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            host: IpAddr::from([127, 0, 0, 1]),
            port: 8080,
            database_url: SecretString::from("sqlite://data/fieldcrm.db"),
            database_pool_size: 10,
            session_cache: true,
            database_timeout_secs: 5,
            database_statement_timeout_secs: 60,
            database_idle_in_transaction_timeout_secs: 60,
            max_concurrent_exports: 2,
            export_stall_timeout_secs: 60,
            ping_min_interval_ms: 1000,
            ping_quota_per_account_per_day: 500_000,
            device_requests_per_minute: 240,
            max_body_bytes: 1024 * 1024,
            cors_allowed_origins: String::new(),
            log_format: LogFormat::Json,
            log_level: "info".into(),
            workers: 0,
            client_request_timeout_secs: 10,
            client_body_timeout_secs: 30,
            jwt_secret: None,
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_days: 30,
            web_idle_timeout_secs: 12 * 3600,
            login_failures_per_email: 5,
            login_failures_per_ip: 50,
            login_failure_window_secs: 15 * 60,
            trust_forwarded_for: false,
            forwarded_for_proxies: 1,
            signups_per_ip: 10,
            password_hashes_at_once: 0,
            taken_emails_per_account: 10,
            maintenance_interval_secs: 60,
            public_base_url: None,
            map_tile_url: None,
            map_attribution: None,
            twilio_api_base_url: "https://api.twilio.com".into(),
            twilio_account_sid: None,
            twilio_auth_token: None,
            twilio_from: None,
            twilio_messaging_service_sid: None,
            smtp_host: None,
            smtp_port: 587,
            smtp_tls: SmtpTlsMode::Starttls,
            smtp_username: None,
            smtp_password: None,
            smtp_oauth2_token: None,
            email_from: None,
            outbound_timeout_secs: 30,
            jobs_enabled: true,
            events_retention_days: 30,
            webhooks_allow_private_targets: false,
            webhook_timeout_secs: 10,
            job_poll_interval_ms: 1000,
            job_lease_secs: 300,
            job_retry_base_ms: 30_000,
            job_max_attempts: 8,
            google_client_id: None,
            google_client_secret: None,
            google_auth_url: "https://accounts.google.com/o/oauth2/v2/auth".into(),
            google_token_url: "https://oauth2.googleapis.com/token".into(),
            google_revoke_url: "https://oauth2.googleapis.com/revoke".into(),
            google_api_root_url: "https://www.googleapis.com/".into(),
            google_calendar_id: "primary".into(),
            google_sync_interval_secs: 900,
            google_push_enabled: true,
            google_smtp_host: "smtp.gmail.com".into(),
            google_smtp_port: 587,
            google_smtp_tls: SmtpTlsMode::Starttls,
            token_encryption_keys: None,
            link_keys: None,
        }
    }
}

/// The tile server the office's maps draw on, when the operator set one.
pub struct MapTiles<'a> {
    /// With `{z}`, `{x}` and `{y}` to fill in.
    pub url: &'a str,
    /// `scheme://host[:port]`, for the pages' Content-Security-Policy.
    pub origin: &'a str,
    pub attribution: &'a str,
}

/// The origin of a URL (a tile server's, Google's); `None` unless it is
/// http(s) with a plain host, which is all a Content-Security-Policy source
/// may hold.
fn origin_of(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let host = rest.split('/').next()?;
    let plain = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    plain.then(|| &url[..url.len() - rest.len() + host.len()])
}

/// A setting that is missing or malformed. Its text is one line that names the setting.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(String);

impl Settings {
    /// Reads the settings. `file` is the optional TOML file (`--config` or
    /// `FIELDCRM_CONFIG`); environment variables override it.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::new();
        if let Some(file) = file {
            if !file.is_file() {
                return Err(ConfigError(format!(
                    "config file {} does not exist",
                    file.display()
                )));
            }
            figment = figment.merge(Toml::file(file));
        }
        let mut ignored = vec!["CONFIG"];
        ignored.extend(TEXT_SETTINGS);
        figment = figment
            .merge(Env::raw().only(&["DATABASE_URL", "PORT"]))
            .merge(Env::prefixed("FIELDCRM_").ignore(&ignored));
        // figment reads `+15005550006` or a numeric password from the environment
        // as a number (dropping the `+` or leading zeros); these keep their text.
        for key in TEXT_SETTINGS {
            if let Ok(value) = std::env::var(format!("FIELDCRM_{key}")) {
                figment = figment.merge(Serialized::default(&key.to_lowercase(), value));
            }
        }
        let settings: Settings = figment
            .extract()
            .map_err(|err| ConfigError(one_line(&err)))?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.database()?;
        if self.database_pool_size == 0 {
            return Err(ConfigError(
                "FIELDCRM_DATABASE_POOL_SIZE must be at least 1".into(),
            ));
        }
        if self.max_concurrent_exports == 0 || self.export_stall_timeout_secs == 0 {
            return Err(ConfigError(
                "FIELDCRM_MAX_CONCURRENT_EXPORTS and FIELDCRM_EXPORT_STALL_TIMEOUT_SECS must be positive".into(),
            ));
        }
        if self.max_body_bytes < 1024 {
            return Err(ConfigError(
                "FIELDCRM_MAX_BODY_BYTES must be at least 1024".into(),
            ));
        }
        if let Some(secret) = &self.jwt_secret {
            if secret.expose_secret().len() < 32 {
                return Err(ConfigError(
                    "FIELDCRM_JWT_SECRET must be at least 32 bytes".into(),
                ));
            }
        }
        if self.web_idle_timeout_secs == 0 {
            return Err(ConfigError(
                "FIELDCRM_WEB_IDLE_TIMEOUT_SECS must be at least 1".into(),
            ));
        }
        if !(60..=24 * 3600).contains(&self.access_token_ttl_secs) {
            return Err(ConfigError(
                "FIELDCRM_ACCESS_TOKEN_TTL_SECS must be between 60 and 86400".into(),
            ));
        }
        if self.refresh_token_ttl_days == 0 || self.login_failure_window_secs == 0 {
            return Err(ConfigError(
                "FIELDCRM_REFRESH_TOKEN_TTL_DAYS and FIELDCRM_LOGIN_FAILURE_WINDOW_SECS must be positive".into(),
            ));
        }
        if self.forwarded_for_proxies == 0 {
            return Err(ConfigError(
                "FIELDCRM_FORWARDED_FOR_PROXIES must be at least 1".into(),
            ));
        }
        if let Some(url) = &self.public_base_url {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(ConfigError(
                    "FIELDCRM_PUBLIC_BASE_URL must be an http(s) URL such as https://crm.example.com".into(),
                ));
            }
        }
        if let Some(url) = &self.map_tile_url {
            if origin_of(url).is_none() || !["{z}", "{x}", "{y}"].iter().all(|p| url.contains(p)) {
                return Err(ConfigError(
                    "FIELDCRM_MAP_TILE_URL must be an http(s) URL with {z}, {x} and {y}, such as https://tiles.example.com/{z}/{x}/{y}.png".into(),
                ));
            }
            if self
                .map_attribution
                .as_deref()
                .is_none_or(|a| a.trim().is_empty())
            {
                return Err(ConfigError(
                    "FIELDCRM_MAP_ATTRIBUTION must name the tile server's credit when FIELDCRM_MAP_TILE_URL is set".into(),
                ));
            }
        }
        if self.client_request_timeout_secs == 0 || self.client_body_timeout_secs == 0 {
            return Err(ConfigError(
                "FIELDCRM_CLIENT_REQUEST_TIMEOUT_SECS and FIELDCRM_CLIENT_BODY_TIMEOUT_SECS must be positive".into(),
            ));
        }
        if self.job_max_attempts == 0 || self.job_poll_interval_ms == 0 {
            return Err(ConfigError(
                "FIELDCRM_JOB_MAX_ATTEMPTS and FIELDCRM_JOB_POLL_INTERVAL_MS must be positive"
                    .into(),
            ));
        }
        // A send or a delivery must end before its lease does, or a second
        // process could start it again.
        if self.job_lease_secs < 2 * self.outbound_timeout_secs.max(self.webhook_timeout_secs) + 10
        {
            return Err(ConfigError(
                "FIELDCRM_JOB_LEASE_SECS must be at least twice the longer of FIELDCRM_OUTBOUND_TIMEOUT_SECS and FIELDCRM_WEBHOOK_TIMEOUT_SECS, plus 10".into(),
            ));
        }
        if !(1..=60).contains(&self.webhook_timeout_secs) {
            return Err(ConfigError(
                "FIELDCRM_WEBHOOK_TIMEOUT_SECS must be 1 to 60".into(),
            ));
        }
        if self.events_retention_days == 0 {
            return Err(ConfigError(
                "FIELDCRM_EVENTS_RETENTION_DAYS must be at least 1".into(),
            ));
        }
        if let Some(keys) = &self.link_keys {
            fieldcrm_google::parse_key_list(keys.expose_secret())
                .map_err(|err| ConfigError(format!("FIELDCRM_LINK_KEYS: {err}")))?;
        }
        if let Some(keys) = &self.token_encryption_keys {
            fieldcrm_google::TokenCipher::from_spec(keys.expose_secret())
                .map_err(|err| ConfigError(format!("FIELDCRM_TOKEN_ENCRYPTION_KEYS: {err}")))?;
        }
        if self.google_client_id.is_some()
            && (self.google_client_secret.is_none() || self.token_encryption_keys.is_none())
        {
            return Err(ConfigError(
                "FIELDCRM_GOOGLE_CLIENT_ID needs FIELDCRM_GOOGLE_CLIENT_SECRET and FIELDCRM_TOKEN_ENCRYPTION_KEYS (Google tokens are stored sealed)".into(),
            ));
        }
        if self.google_sync_interval_secs < 60 {
            return Err(ConfigError(
                "FIELDCRM_GOOGLE_SYNC_INTERVAL_SECS must be at least 60".into(),
            ));
        }
        for origin in self.cors_origins() {
            if !(origin.starts_with("https://") || origin.starts_with("http://")) {
                return Err(ConfigError(format!(
                    "FIELDCRM_CORS_ALLOWED_ORIGINS: `{origin}` is not an origin such as https://app.example.com"
                )));
            }
        }
        Ok(())
    }

    pub fn database(&self) -> Result<DatabaseUrl, ConfigError> {
        DatabaseUrl::parse(self.database_url.expose_secret())
            .map_err(|err| ConfigError(err.to_string()))
    }

    pub fn pool_options(&self) -> PoolOptions {
        let limit = |secs: u64| (secs > 0).then(|| Duration::from_secs(secs));
        PoolOptions {
            max_size: self.database_pool_size,
            connection_timeout: Duration::from_secs(self.database_timeout_secs.max(1)),
            statement_timeout: limit(self.database_statement_timeout_secs),
            idle_in_transaction_timeout: limit(self.database_idle_in_transaction_timeout_secs),
        }
    }

    /// The tile server, if one is set (`validate` saw that it is whole).
    pub fn map_tiles(&self) -> Option<MapTiles<'_>> {
        let url = self.map_tile_url.as_deref()?;
        Some(MapTiles {
            url,
            origin: origin_of(url)?,
            attribution: self.map_attribution.as_deref()?,
        })
    }

    /// The public base URL without a trailing slash.
    pub fn public_base_url(&self, bound_port: u16) -> String {
        match &self.public_base_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}:{bound_port}", self.host),
        }
    }

    /// The origin of Google's consent screen, where the web app's connect
    /// form sends the browser on to.
    pub fn google_consent_origin(&self) -> Option<&str> {
        origin_of(&self.google_auth_url)
    }

    pub fn cors_origins(&self) -> impl Iterator<Item = &str> {
        self.cors_allowed_origins
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
    }
}

/// Settings that are text whatever they look like: numbers, secrets, phone numbers.
const TEXT_SETTINGS: [&str; 15] = [
    "JWT_SECRET",
    "LINK_KEYS",
    "GOOGLE_CLIENT_ID",
    "GOOGLE_CLIENT_SECRET",
    "GOOGLE_CALENDAR_ID",
    "TOKEN_ENCRYPTION_KEYS",
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "TWILIO_FROM",
    "TWILIO_MESSAGING_SERVICE_SID",
    "SMTP_HOST",
    "SMTP_USERNAME",
    "SMTP_PASSWORD",
    "SMTP_OAUTH2_TOKEN",
    "EMAIL_FROM",
];

/// figment reports keys in lower case and may list several errors; the first,
/// with the variable named as a user would set it, is what stops start-up.
fn one_line(err: &figment::Error) -> String {
    let first = err.clone().into_iter().next();
    let Some(err) = first else {
        return err.to_string();
    };
    let key = err.path.join("_").to_uppercase();
    let what = err.kind.to_string();
    if key.is_empty() {
        what
    } else if key == "DATABASE_URL" || key == "PORT" {
        format!("{key} (or FIELDCRM_{key}): {what}")
    } else {
        format!("FIELDCRM_{key}: {what}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_run_on_embedded_sqlite() {
        let settings = Settings::default();
        assert_eq!(
            settings.database().unwrap().backend(),
            fieldcrm_db::Backend::Sqlite
        );
        assert_eq!(settings.port, 8080);
    }

    #[test]
    fn environment_overrides_and_errors_name_the_variable() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("PORT", "9000");
            jail.set_env("FIELDCRM_MAX_BODY_BYTES", "2048");
            let settings = Settings::load(None).unwrap();
            assert_eq!(settings.port, 9000);
            assert_eq!(settings.max_body_bytes, 2048);

            jail.set_env("PORT", "eighty");
            let err = Settings::load(None).unwrap_err().to_string();
            assert!(err.contains("PORT"), "{err}");
            assert!(!err.contains('\n'), "{err}");

            jail.set_env("PORT", "9000");
            jail.set_env("FIELDCRM_TWILIO_FROM", "+15005550006");
            jail.set_env("FIELDCRM_SMTP_PASSWORD", "0042");
            let settings = Settings::load(None).unwrap();
            assert_eq!(settings.twilio_from.as_deref(), Some("+15005550006"));
            assert_eq!(settings.smtp_password.unwrap().expose_secret(), "0042");

            jail.set_env("DATABASE_URL", "mysql://root@localhost/crm");
            let err = Settings::load(None).unwrap_err().to_string();
            assert!(err.contains("DATABASE_URL must start with"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn map_tiles_need_a_plain_origin_the_three_numbers_and_an_attribution() {
        let with = |url: &str, attribution: Option<&str>| Settings {
            map_tile_url: Some(url.to_owned()),
            map_attribution: attribution.map(str::to_owned),
            ..Settings::default()
        };
        let good = with(
            "https://tiles.example.com:8443/{z}/{x}/{y}.png",
            Some("© Example"),
        );
        good.validate().unwrap();
        let tiles = good.map_tiles().unwrap();
        assert_eq!(tiles.origin, "https://tiles.example.com:8443");
        assert_eq!(tiles.attribution, "© Example");
        assert!(Settings::default().map_tiles().is_none());
        for (url, attribution) in [
            ("https://tiles.example.com/{z}/{x}/{y}.png", None),
            ("https://tiles.example.com/{z}/{x}/{y}.png", Some(" ")),
            ("https://tiles.example.com/{z}/{x}.png", Some("© Example")),
            ("ftp://tiles.example.com/{z}/{x}/{y}.png", Some("© Example")),
            (
                "https://tiles.example.com; script-src *; /{z}/{x}/{y}",
                Some("© Example"),
            ),
        ] {
            let err = with(url, attribution).validate().unwrap_err().to_string();
            assert!(err.contains("FIELDCRM_MAP_"), "{url}: {err}");
        }
    }

    #[test]
    fn a_config_file_is_read_and_the_environment_wins() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("fieldcrm.toml", "port = 7000\nlog_format = \"pretty\"\n")?;
            jail.set_env("FIELDCRM_PORT", "7001");
            let settings = Settings::load(Some(Path::new("fieldcrm.toml"))).unwrap();
            assert_eq!(settings.port, 7001);
            assert_eq!(settings.log_format, LogFormat::Pretty);
            jail.create_file("bad.toml", "colour = \"blue\"\n")?;
            assert!(Settings::load(Some(Path::new("bad.toml"))).is_err());
            Ok(())
        });
    }
}
