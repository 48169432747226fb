use std::path::PathBuf;

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use fieldcrm_db::Backend;

/// A database that exists for one test only.
pub struct TestDatabase {
    url: String,
    backend: Backend,
    sqlite: Option<(tempfile::TempDir, PathBuf)>,
    postgres: Option<PostgresDatabase>,
}

struct PostgresDatabase {
    admin_url: String,
    name: String,
}

impl TestDatabase {
    /// A fresh database on the backend this run is given.
    pub fn create() -> Self {
        // Before the first libpq connection of the test process (see `init_tls`).
        fieldcrm_db::init_tls();
        match std::env::var("TEST_DATABASE_URL") {
            Ok(admin_url) if !admin_url.trim().is_empty() => Self::postgres(&admin_url),
            _ => Self::sqlite(),
        }
    }

    /// A fresh SQLite file in a temporary folder.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("fieldcrm.db");
        Self {
            url: format!("sqlite://{}", path.display()),
            backend: Backend::Sqlite,
            sqlite: Some((dir, path)),
            postgres: None,
        }
    }

    /// A fresh database on the PostgreSQL server `admin_url` points at.
    pub fn postgres(admin_url: &str) -> Self {
        let name = format!("fieldcrm_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::establish(admin_url)
            .unwrap_or_else(|err| panic!("TEST_DATABASE_URL cannot be reached: {err}"));
        // A test database outlives no crash, so its commits need not wait for
        // the disk: the suite spends most of its time committing otherwise.
        // One statement each: CREATE DATABASE refuses to share a query string.
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .expect("CREATE DATABASE");
        admin
            .batch_execute(&format!(
                "ALTER DATABASE \"{name}\" SET synchronous_commit = off"
            ))
            .expect("ALTER DATABASE");
        Self {
            url: with_database(admin_url, &name),
            backend: Backend::Postgres,
            sqlite: None,
            postgres: Some(PostgresDatabase {
                admin_url: admin_url.to_owned(),
                name,
            }),
        }
    }

    /// The PostgreSQL server of this run, if it has one.
    pub fn postgres_admin_url() -> Option<String> {
        std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|url| !url.trim().is_empty())
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The SQLite file, on SQLite.
    pub fn sqlite_path(&self) -> Option<&PathBuf> {
        self.sqlite.as_ref().map(|(_, path)| path)
    }

    /// PostgreSQL: refuses new connections to this database and ends the open
    /// ones, as when the server goes away. `set_reachable(true)` undoes it.
    pub fn set_reachable(&self, reachable: bool) {
        let pg = self.postgres.as_ref().expect("only on PostgreSQL");
        let mut admin = PgConnection::establish(&pg.admin_url).expect("admin connection");
        admin
            .batch_execute(&format!(
                "ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS {reachable};",
                name = pg.name
            ))
            .expect("ALTER DATABASE");
        if !reachable {
            admin
                .batch_execute(&format!(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE datname = '{name}' AND pid <> pg_backend_pid();",
                    name = pg.name
                ))
                .expect("pg_terminate_backend");
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some(pg) = &self.postgres {
            // FORCE ends the connections the test's server still holds.
            if let Ok(mut admin) = PgConnection::establish(&pg.admin_url) {
                let _ = admin.batch_execute(&format!(
                    "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                    pg.name
                ));
            }
        }
    }
}

/// The same server URL with another database name.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let server = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{name}?{query}"),
        None => format!("{server}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_name_is_replaced() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(
            with_database("postgres://127.0.0.1:5432?sslmode=disable", "t1"),
            "postgres://127.0.0.1:5432/t1?sslmode=disable"
        );
    }
}
