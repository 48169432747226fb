use std::fmt;
use std::path::PathBuf;

/// Which database a URL points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Postgres => "postgres",
            Backend::Sqlite => "sqlite",
        })
    }
}

/// A database URL whose backend is known from its scheme.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `postgres://` or `postgresql://`; may hold a password, so it is never printed whole.
    Postgres(SecretUrl),
    /// `sqlite://relative/path.db` or `sqlite:///absolute/path.db`.
    Sqlite(PathBuf),
}

/// A connection string that may hold a password. `Debug` and `Display` hide it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(String);

impl SecretUrl {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("DATABASE_URL must start with postgres://, postgresql:// or sqlite:// (for example sqlite://data/fieldcrm.db); got {shown}")]
pub struct InvalidDatabaseUrl {
    shown: String,
}

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<Self, InvalidDatabaseUrl> {
        let raw = raw.trim();
        let invalid = || InvalidDatabaseUrl { shown: redact(raw) };
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            return Ok(Self::Postgres(SecretUrl(raw.to_owned())));
        }
        if let Some(path) = raw.strip_prefix("sqlite://") {
            let path = path.split('?').next().unwrap_or_default();
            if path.is_empty() || path.ends_with('/') {
                return Err(invalid());
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        Err(invalid())
    }

    pub fn backend(&self) -> Backend {
        match self {
            DatabaseUrl::Postgres(_) => Backend::Postgres,
            DatabaseUrl::Sqlite(_) => Backend::Sqlite,
        }
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::Postgres(url) => f.write_str(&redact(&url.0)),
            DatabaseUrl::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(&self.0))
    }
}

/// Replaces the password of `scheme://user:password@host` with `***`.
fn redact(raw: &str) -> String {
    let Some((scheme, rest)) = raw.split_once("://") else {
        return raw.chars().take(32).collect();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => raw.to_owned(),
        },
        None => raw.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_chooses_the_backend() {
        assert_eq!(
            DatabaseUrl::parse("postgres://u@localhost/db").map(|u| u.backend()),
            Ok(Backend::Postgres)
        );
        assert_eq!(
            DatabaseUrl::parse("postgresql://u@localhost/db").map(|u| u.backend()),
            Ok(Backend::Postgres)
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite://data/fieldcrm.db"),
            Ok(DatabaseUrl::Sqlite(PathBuf::from("data/fieldcrm.db")))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/fieldcrm/db.sqlite"),
            Ok(DatabaseUrl::Sqlite(PathBuf::from(
                "/var/lib/fieldcrm/db.sqlite"
            )))
        );
    }

    #[test]
    fn other_schemes_and_bare_paths_are_refused() {
        for raw in [
            "mysql://root@localhost/x",
            "data/fieldcrm.db",
            "",
            "sqlite://",
            "sqlite://dir/",
        ] {
            assert!(DatabaseUrl::parse(raw).is_err(), "{raw} was accepted");
        }
    }

    #[test]
    fn passwords_never_show() {
        let url = DatabaseUrl::parse("postgres://app:s3cret@db:5432/fieldcrm").unwrap();
        assert_eq!(url.to_string(), "postgres://app:***@db:5432/fieldcrm");
        assert!(!format!("{url:?}").contains("s3cret"));
        let err = DatabaseUrl::parse("mysql://app:s3cret@db/x").unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }
}
