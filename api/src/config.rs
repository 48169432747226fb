//! Settings: defaults, then an optional TOML file, then the environment.
//!
//! Every setting can be given as `FIELDCRM_<NAME>`; the usual `DATABASE_URL` and
//! `PORT` are read too. Secrets are `SecretString`s: they never reach a log line.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use figment::providers::{Env, Format, Toml};
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
    /// Key that signs access tokens (HS256), at least 32 bytes. Unset: a random key
    /// per process, so sessions end at restart and processes cannot share tokens.
    pub jwt_secret: Option<SecretString>,
    /// Lifetime of an access token, in seconds.
    pub access_token_ttl_secs: u64,
    /// Lifetime of a refresh token, in days.
    pub refresh_token_ttl_days: u64,
    /// Failed logins allowed per email address within one window before 429.
    pub login_failures_per_email: u32,
    /// Failed logins allowed per client address within one window before 429.
    pub login_failures_per_ip: u32,
    /// Length of the failed-login window, in seconds.
    pub login_failure_window_secs: u64,
    /// Take the client address from `X-Forwarded-For`/`Forwarded` (only behind a
    /// proxy that sets them; otherwise clients could pick their own address).
    pub trust_forwarded_for: bool,
    /// Seconds between runs of the upkeep task (closing overdue shifts, purging
    /// old pings); 0 turns it off in this process.
    pub maintenance_interval_secs: u64,
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
            database_timeout_secs: 5,
            max_body_bytes: 1024 * 1024,
            cors_allowed_origins: String::new(),
            log_format: LogFormat::Json,
            log_level: "info".into(),
            workers: 0,
            client_request_timeout_secs: 10,
            jwt_secret: None,
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_days: 30,
            login_failures_per_email: 5,
            login_failures_per_ip: 50,
            login_failure_window_secs: 15 * 60,
            trust_forwarded_for: false,
            maintenance_interval_secs: 60,
        }
    }
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
        let settings: Settings = figment
            .merge(Env::raw().only(&["DATABASE_URL", "PORT"]))
            .merge(Env::prefixed("FIELDCRM_").ignore(&["CONFIG"]))
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
        PoolOptions {
            max_size: self.database_pool_size,
            connection_timeout: Duration::from_secs(self.database_timeout_secs.max(1)),
        }
    }

    pub fn cors_origins(&self) -> impl Iterator<Item = &str> {
        self.cors_allowed_origins
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
    }
}

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
            jail.set_env("DATABASE_URL", "mysql://root@localhost/crm");
            let err = Settings::load(None).unwrap_err().to_string();
            assert!(err.contains("DATABASE_URL must start with"), "{err}");
            Ok(())
        });
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
