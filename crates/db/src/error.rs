use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// What can go wrong below the HTTP edge. The edge maps `Unavailable` to 503,
/// constraint violations to 409/422 and the rest to 500 (logged, never sent).
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// No connection could be had in time, or the connection dropped.
    #[error("database unavailable: {0}")]
    Unavailable(String),
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

impl DbError {
    pub fn is_unavailable(&self) -> bool {
        matches!(self, DbError::Unavailable(_))
    }
}
