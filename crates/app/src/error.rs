//! Why a use case did not do what it was asked: the failure, and in words a
//! person can act on, what to do about it. The HTTP layer holds the one table
//! from failures to statuses and problem codes; jobs turn a failure into a
//! retry or an end without any HTTP type.

use std::fmt;

use fieldcrm_db::DbError;

pub type AppResult<T> = Result<T, AppError>;

/// A failure with the words for the person who meets it.
#[derive(Debug)]
pub struct AppError {
    pub failure: Failure,
    /// What went wrong this time; `None` leaves the failure's usual words.
    pub detail: Option<String>,
}

/// What failed. Each is one row of the status table in the HTTP layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The request cannot be read as it is.
    Malformed,
    /// No valid credentials, or they ended.
    Unauthorized,
    /// A bearer token that is not, or no longer, valid.
    InvalidToken,
    /// The password given to confirm an action is not the person's.
    WrongPassword,
    /// The caller's role or key scope does not allow the action.
    Forbidden,
    /// No such record in the caller's account.
    NotFound,
    /// A link from a message that does not name anything.
    InvalidLink,
    /// One field's value is not acceptable.
    Invalid { field: String, message: String },
    /// A status change the lifecycle does not allow, with the statuses it does.
    StatusNotAllowed {
        message: String,
        allowed: Vec<&'static str>,
    },
    /// A record with the same details exists.
    Conflict,
    /// The technician has another appointment at that time.
    DoubleBooked { conflicting: uuid::Uuid },
    /// The record changed since the caller read it.
    Stale,
    /// An idempotency key came back with a different request.
    IdempotencyKeyReused,
    /// The person has not agreed to messages on this channel.
    ConsentRequired,
    /// No sender is configured for the channel.
    ChannelUnavailable,
    /// Too many attempts in a window; try again after the seconds given.
    RateLimited {
        title: &'static str,
        retry_after: u64,
    },
    /// Too much of a bounded kind of work at once (password checks).
    Busy { retry_after: u64 },
    /// No Google client is configured on this server.
    GoogleNotConfigured,
    /// A Google consent screen this server did not start, or that expired.
    InvalidState,
    /// Google did not grant access.
    ConsentRefused,
    /// A Google confirmation that is unknown, spent or another person's.
    InvalidConfirmation,
    /// Google refused the sign-in code.
    InvalidCode,
    /// The calendar permission was not granted.
    CalendarNotGranted,
    /// Google did not answer as expected.
    GoogleUnavailable,
    /// No Google account is connected.
    NotConnected,
    /// Google no longer accepts the grant.
    NeedsReconnect,
    /// A Google push notification with the wrong channel token.
    InvalidChannelToken,
    /// The database cannot be reached.
    Unavailable,
    /// The database cannot write.
    StorageFull,
    /// Anything else: the cause is logged, never shown.
    Internal(String),
}

impl AppError {
    pub fn new(failure: Failure) -> Self {
        Self {
            failure,
            detail: None,
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn malformed(detail: impl Into<String>) -> Self {
        Self::new(Failure::Malformed).with_detail(detail)
    }

    pub fn unauthorized() -> Self {
        Self::new(Failure::Unauthorized)
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(Failure::Forbidden).with_detail(detail)
    }

    pub fn not_found() -> Self {
        Self::new(Failure::NotFound)
    }

    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        Self::new(Failure::Invalid {
            field: field.to_owned(),
            message: message.into(),
        })
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(Failure::Conflict).with_detail(detail)
    }

    /// Too many attempts of one kind; the words say how long to wait.
    pub fn rate_limited(title: &'static str, retry_after: u64, detail: impl Into<String>) -> Self {
        Self::new(Failure::RateLimited { title, retry_after }).with_detail(detail)
    }

    /// A failure whose cause is for the log only.
    pub fn internal_from(cause: &dyn fmt::Display) -> Self {
        Self::new(Failure::Internal(cause.to_string()))
    }

    /// Whether trying the same work again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self.failure,
            Failure::Unavailable
                | Failure::StorageFull
                | Failure::Internal(_)
                | Failure::Busy { .. }
                | Failure::RateLimited { .. }
                | Failure::GoogleUnavailable
        )
    }
}

/// The failure only, never the detail: the detail can quote what a client
/// sent, and this is what lands in logs. An internal cause is for the log.
impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.failure {
            Failure::Internal(cause) => write!(f, "internal: {cause}"),
            Failure::Invalid { field, .. } => write!(f, "invalid {field}"),
            Failure::StatusNotAllowed { .. } => f.write_str("status not allowed"),
            Failure::DoubleBooked { .. } => f.write_str("double booked"),
            Failure::RateLimited { title, .. } => write!(f, "rate limited: {title}"),
            other => write!(f, "{other:?}"),
        }
    }
}

impl std::error::Error for AppError {}

impl From<Failure> for AppError {
    fn from(failure: Failure) -> Self {
        Self::new(failure)
    }
}

impl From<DbError> for AppError {
    fn from(err: DbError) -> Self {
        match err {
            DbError::NotFound => Self::not_found(),
            DbError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "database unavailable");
                Self::new(Failure::Unavailable)
            }
            DbError::StorageFull(cause) => {
                tracing::error!(error = %cause, "the database cannot write");
                Self::new(Failure::StorageFull)
            }
            DbError::UniqueViolation { .. } => {
                Self::conflict("a record with these details already exists")
            }
            other => Self::internal_from(&other),
        }
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(err: diesel::result::Error) -> Self {
        DbError::from(err).into()
    }
}

impl From<tokio::task::JoinError> for AppError {
    fn from(err: tokio::task::JoinError) -> Self {
        Self::internal_from(&err)
    }
}
