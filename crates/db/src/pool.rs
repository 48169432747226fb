use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::connection::{
    AnsiTransactionManager, InstrumentationEvent, SimpleConnection, TransactionManager,
};
use diesel::Connection;

use crate::connection::DbConnection;
use crate::url::{Backend, DatabaseUrl};
use crate::{DbError, DbResult};

/// Pool settings. The timeout is how long a request waits for a connection
/// before it answers 503: short, so an outage shows at once instead of piling up.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    pub max_size: u32,
    pub connection_timeout: Duration,
    /// PostgreSQL: the server cancels a statement that runs longer (`None`: no
    /// limit), so no request holds a connection without end.
    pub statement_timeout: Option<Duration>,
    /// PostgreSQL: the server ends a session whose transaction sits idle longer.
    pub idle_in_transaction_timeout: Option<Duration>,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_size: 10,
            connection_timeout: Duration::from_secs(5),
            statement_timeout: Some(Duration::from_secs(60)),
            idle_in_transaction_timeout: Some(Duration::from_secs(60)),
        }
    }
}

/// The name of the threads that use the pool's connections for requests: one
/// per connection, so a profile or `/proc` can tell their CPU from the rest.
pub const DB_THREAD_NAME: &str = "fieldcrm-db";

/// Pool usage, for `/metrics`.
#[derive(Debug, Clone, Copy)]
pub struct PoolStatus {
    pub size: u32,
    pub idle: u32,
    pub max_size: u32,
}

/// How long after a connection last did work without error it is handed out
/// again without a check. Under load every check-out falls inside it, which
/// saves a round trip per check-out (two per authenticated request on
/// PostgreSQL); an idle connection, or one whose last work failed, is checked
/// first, so one the server dropped is replaced before a request uses it.
/// HikariCP skips its check the same way, with the same window.
const CHECK_BYPASS_WINDOW: Duration = Duration::from_millis(500);

/// A pooled connection and when it was last seen to work.
pub struct TrackedConnection {
    conn: DbConnection,
    worked_at: Option<Instant>,
}

/// Opens connections for the backend the URL names. diesel's own r2d2 manager
/// would use the derived `establish`, which guesses the backend.
#[derive(Debug)]
pub struct Manager {
    url: DatabaseUrl,
    /// `SET` statements for each new PostgreSQL connection.
    pg_session: String,
    /// Statements the pool's connections have sent, their liveness checks and
    /// transaction control included, so what a request costs the database is
    /// counted rather than guessed (`/metrics`, the benchmark, tests).
    statements: Arc<AtomicU64>,
    /// Of those, the liveness checks on check-out.
    checks: Arc<AtomicU64>,
}

impl r2d2::ManageConnection for Manager {
    type Connection = TrackedConnection;
    type Error = diesel::ConnectionError;

    fn connect(&self) -> Result<TrackedConnection, Self::Error> {
        let mut conn = DbConnection::open(&self.url)?;
        if let DbConnection::Pg(pg) = &mut conn {
            pg.batch_execute(&self.pg_session)
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
        }
        let statements = self.statements.clone();
        conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
            if matches!(event, InstrumentationEvent::StartQuery { .. }) {
                statements.fetch_add(1, Ordering::Relaxed);
            }
        });
        Ok(TrackedConnection {
            conn,
            worked_at: None,
        })
    }

    /// Runs on every check-out unless the connection worked moments ago. The
    /// check is a prepared statement from the connection's cache:
    /// `batch_execute` would parse SQL text each time.
    fn is_valid(&self, tracked: &mut TrackedConnection) -> Result<(), Self::Error> {
        use diesel::{IntoSql, RunQueryDsl};
        if tracked
            .worked_at
            .take()
            .is_some_and(|at| at.elapsed() < CHECK_BYPASS_WINDOW)
        {
            return Ok(());
        }
        self.checks.fetch_add(1, Ordering::Relaxed);
        diesel::select(1_i32.into_sql::<diesel::sql_types::Integer>())
            .execute(&mut tracked.conn)
            .map(drop)
            .map_err(diesel::ConnectionError::CouldntSetupConfiguration)
    }

    fn has_broken(&self, tracked: &mut TrackedConnection) -> bool {
        // A connection given back inside a transaction (a panic mid-transaction)
        // must not be handed out again.
        match &mut tracked.conn {
            DbConnection::Pg(c) => !matches!(
                AnsiTransactionManager::transaction_manager_status_mut(c).transaction_depth(),
                Ok(None)
            ),
            DbConnection::Sqlite(c) => !matches!(
                AnsiTransactionManager::transaction_manager_status_mut(c).transaction_depth(),
                Ok(None)
            ),
        }
    }
}

/// The session settings of a pooled PostgreSQL connection (0 means no limit).
fn pg_session(options: &PoolOptions) -> String {
    let ms = |limit: Option<Duration>| limit.map_or(0, |d| d.as_millis());
    format!(
        "SET statement_timeout = {}; SET idle_in_transaction_session_timeout = {};",
        ms(options.statement_timeout),
        ms(options.idle_in_transaction_timeout)
    )
}

/// Runs `work` with no statement timeout on this connection (PostgreSQL), then
/// restores the one it had: for work whose length is its size (deleting an
/// account, vacuuming, migrating, the upkeep's purges), not a request's.
pub fn without_statement_timeout<T>(
    conn: &mut DbConnection,
    work: impl FnOnce(&mut DbConnection) -> DbResult<T>,
) -> DbResult<T> {
    #[derive(diesel::QueryableByName)]
    struct Setting {
        #[diesel(sql_type = diesel::sql_types::Text)]
        statement_timeout: String,
    }
    let DbConnection::Pg(pg) = conn else {
        return work(conn);
    };
    use diesel::RunQueryDsl;
    let before: Setting = diesel::sql_query("SHOW statement_timeout").get_result(pg)?;
    pg.batch_execute("SET statement_timeout = 0")?;
    let result = work(conn);
    if let DbConnection::Pg(pg) = conn {
        // Failing here most likely means the connection is gone; the error
        // keeps it from being vouched for, so the pool checks it before reuse.
        let restore = format!(
            "SET statement_timeout = '{}'",
            before.statement_timeout.replace('\'', "")
        );
        if pg.batch_execute(&restore).is_err() {
            return Err(DbError::Unavailable(
                "could not restore statement_timeout".into(),
            ));
        }
    }
    result
}

/// A pool of connections to one database.
#[derive(Clone)]
pub struct DbPool {
    pool: r2d2::Pool<Manager>,
    backend: Backend,
    max_size: u32,
    statements: Arc<AtomicU64>,
    checks: Arc<AtomicU64>,
}

/// A connection checked out of the pool; it goes back when dropped.
pub struct PooledConnection(r2d2::PooledConnection<Manager>);

impl PooledConnection {
    /// Records that this connection just did its work without error, so the
    /// next check-out within a moment can skip the liveness check. Callers
    /// vouch only after success: a connection whose work failed (perhaps
    /// because the server dropped it) is checked before its next use.
    pub fn vouch(&mut self) {
        self.0.worked_at = Some(Instant::now());
    }
}

impl Deref for PooledConnection {
    type Target = DbConnection;
    fn deref(&self) -> &DbConnection {
        &self.0.conn
    }
}

impl DerefMut for PooledConnection {
    fn deref_mut(&mut self) -> &mut DbConnection {
        &mut self.0.conn
    }
}

impl DbPool {
    /// Builds the pool without waiting for the database, so the server starts and
    /// reports not-ready instead of exiting when the database is briefly away.
    /// For SQLite the file and its folder are created on first use.
    pub fn new(url: &DatabaseUrl, options: &PoolOptions) -> DbResult<Self> {
        if let DatabaseUrl::Sqlite(path) = url {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|err| {
                    DbError::Unavailable(format!("cannot create {}: {err}", dir.display()))
                })?;
            }
        }
        let (statements, checks) = (Arc::default(), Arc::default());
        let pool = r2d2::Pool::builder()
            .max_size(options.max_size)
            .min_idle(Some(0))
            .connection_timeout(options.connection_timeout)
            .test_on_check_out(true)
            .build_unchecked(Manager {
                url: url.clone(),
                pg_session: pg_session(options),
                statements: Arc::clone(&statements),
                checks: Arc::clone(&checks),
            });
        Ok(Self {
            pool,
            backend: url.backend(),
            max_size: options.max_size,
            statements,
            checks,
        })
    }

    pub fn get(&self) -> DbResult<PooledConnection> {
        Ok(PooledConnection(self.pool.get()?))
    }

    /// A connection, waiting at most `timeout`: for readiness probes.
    pub fn get_within(&self, timeout: Duration) -> DbResult<PooledConnection> {
        Ok(PooledConnection(self.pool.get_timeout(timeout)?))
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Statements this pool's connections have sent since it was made.
    pub fn statements_run(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// Of those, the liveness checks of connections handed out after an error
    /// or a rest.
    pub fn checks_run(&self) -> u64 {
        self.checks.load(Ordering::Relaxed)
    }

    pub fn status(&self) -> PoolStatus {
        let state = self.pool.state();
        PoolStatus {
            size: state.connections,
            idle: state.idle_connections,
            max_size: self.max_size,
        }
    }
}

impl DbConnection {
    /// A transaction for work that writes. On SQLite it begins with `BEGIN
    /// IMMEDIATE`, taking the write lock up front so a concurrent writer waits for
    /// the busy timeout instead of failing half-way with SQLITE_BUSY; PostgreSQL
    /// uses an ordinary transaction.
    pub fn write_transaction<T, E, F>(&mut self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E>,
        E: From<diesel::result::Error>,
    {
        let DbConnection::Sqlite(sqlite) = self else {
            return self.transaction(f);
        };
        let nested = !matches!(
            AnsiTransactionManager::transaction_manager_status_mut(sqlite).transaction_depth(),
            Ok(None)
        );
        if nested {
            // Already inside a transaction (holding the lock): a savepoint.
            return self.transaction(f);
        }
        AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
        match f(self) {
            Ok(value) => {
                if let DbConnection::Sqlite(sqlite) = self {
                    AnsiTransactionManager::commit_transaction(sqlite)?;
                }
                Ok(value)
            }
            Err(err) => {
                if let DbConnection::Sqlite(sqlite) = self {
                    // The caller's error matters more than a failed rollback; a
                    // connection left inside a transaction is dropped by the pool.
                    let _ = AnsiTransactionManager::rollback_transaction(sqlite);
                }
                Err(err)
            }
        }
    }

    /// A write transaction for work that may be skipped: on SQLite it gives up
    /// with a busy error when the write lock is not free within `wait`,
    /// instead of the connection's five seconds (PostgreSQL takes no such lock).
    pub fn write_transaction_within<T, E, F>(&mut self, wait: Duration, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E>,
        E: From<diesel::result::Error>,
    {
        let DbConnection::Sqlite(sqlite) = self else {
            return self.write_transaction(f);
        };
        sqlite.batch_execute(&format!("PRAGMA busy_timeout = {}", wait.as_millis()))?;
        let result = self.write_transaction(f);
        if let DbConnection::Sqlite(sqlite) = self {
            sqlite.batch_execute("PRAGMA busy_timeout = 5000")?;
        }
        result
    }

    /// `f`'s reads in one snapshot of the database, for work that writes
    /// nothing but must see rows of several statements as of one moment: on
    /// PostgreSQL a repeatable-read, read-only transaction; on SQLite (WAL) a
    /// deferred transaction, whose first read fixes what it sees. Not for use
    /// inside another transaction.
    pub fn snapshot<T, E, F>(&mut self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E>,
        E: From<diesel::result::Error>,
    {
        self.transaction(|conn| {
            if let DbConnection::Pg(pg) = conn {
                pg.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")?;
            }
            f(conn)
        })
    }

    /// Checks that the service can use its database now: PostgreSQL answers a
    /// query on our tables; SQLite lets us take the write lock within a second
    /// (a process that holds it for longer keeps every write of ours waiting).
    pub fn ping(&mut self) -> DbResult<()> {
        use diesel::RunQueryDsl;
        let unavailable = |err: diesel::result::Error| DbError::Unavailable(err.to_string());
        match self {
            DbConnection::Pg(_) => {
                diesel::sql_query("SELECT 1 FROM __diesel_schema_migrations LIMIT 1")
                    .execute(self)
                    .map(|_| ())
                    .map_err(unavailable)
            }
            DbConnection::Sqlite(sqlite) => {
                sqlite
                    .batch_execute("PRAGMA busy_timeout = 1000")
                    .map_err(unavailable)?;
                let probe = sqlite.batch_execute("BEGIN IMMEDIATE; ROLLBACK;");
                sqlite
                    .batch_execute("PRAGMA busy_timeout = 5000")
                    .map_err(unavailable)?;
                probe.map_err(unavailable)
            }
        }
    }
}
