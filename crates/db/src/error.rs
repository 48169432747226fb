use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// What can go wrong below the HTTP edge. The edge maps `Unavailable` to 503,
/// constraint violations to 409/422 and the rest to 500 (logged, never sent).
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// No connection could be had in time, or the connection dropped.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database cannot grow or write: a full disk, a read-only file or mount.
    #[error("database storage full or read-only: {0}")]
    StorageFull(String),
    #[error("row not found")]
    NotFound,
    /// A unique constraint held; `target` is the PostgreSQL constraint name or the
    /// SQLite `table.column` list, so callers can tell which one.
    #[error("unique constraint violated: {target}")]
    UniqueViolation { target: String },
    #[error("foreign key constraint violated")]
    ForeignKeyViolation,
    #[error("migration failed: {0}")]
    Migration(String),
    #[error(transparent)]
    Query(DieselError),
}

impl From<DieselError> for DbError {
    fn from(err: DieselError) -> Self {
        match err {
            DieselError::NotFound => DbError::NotFound,
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                let target = info
                    .constraint_name()
                    .map(str::to_owned)
                    .unwrap_or_else(|| {
                        // SQLite: "UNIQUE constraint failed: users.email"
                        info.message()
                            .rsplit_once(": ")
                            .map(|(_, cols)| cols.to_owned())
                            .unwrap_or_default()
                    });
                DbError::UniqueViolation { target }
            }
            DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
                DbError::ForeignKeyViolation
            }
            DieselError::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                info,
            ) => DbError::Unavailable(info.message().to_owned()),
            DieselError::DatabaseError(_, info) if busy(info.message()) => {
                DbError::Unavailable(info.message().to_owned())
            }
            DieselError::DatabaseError(_, info) if storage_full(info.message()) => {
                DbError::StorageFull(info.message().to_owned())
            }
            DieselError::BrokenTransactionManager => {
                DbError::Unavailable("the connection's transaction state is broken".into())
            }
            other => DbError::Query(other),
        }
    }
}

impl From<r2d2::Error> for DbError {
    fn from(err: r2d2::Error) -> Self {
        DbError::Unavailable(err.to_string())
    }
}

/// SQLite's `SQLITE_BUSY`/`SQLITE_LOCKED` after the busy timeout (another
/// process holds the write lock), and PostgreSQL's words for a connection ended
/// by the server (`57P01 admin_shutdown`, `57P02`, `57P03`).
fn busy(message: &str) -> bool {
    const MARKS: [&str; 5] = [
        "database is locked",
        "database table is locked",
        "terminating connection",
        "the database system is shutting down",
        "the database system is starting up",
    ];
    MARKS.iter().any(|mark| message.contains(mark))
}

/// SQLite's messages for `SQLITE_FULL`, `SQLITE_READONLY` and `SQLITE_IOERR`
/// are fixed English strings; PostgreSQL reports `53100 disk_full` and
/// `25006 read_only_sql_transaction`, which diesel passes on only as text.
fn storage_full(message: &str) -> bool {
    const MARKS: [&str; 6] = [
        "database or disk is full",
        "attempt to write a readonly database",
        "disk I/O error",
        "No space left on device",
        "could not extend file",
        "read-only transaction",
    ];
    MARKS.iter().any(|mark| message.contains(mark))
}

impl DbError {
    pub fn is_unavailable(&self) -> bool {
        matches!(self, DbError::Unavailable(_))
    }
}
