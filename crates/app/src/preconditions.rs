//! Optimistic concurrency: a write names the version it read (`If-Match`), and
//! is refused as stale when the record has moved on.

use crate::error::{AppError, Failure};

/// The strong entity tag of a version: `"7"`.
pub fn etag(version: i32) -> String {
    format!("\"{version}\"")
}

/// What `If-Match` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfMatch {
    /// No header: the write goes ahead whatever the version.
    Absent,
    /// `*`: the resource must exist.
    Any,
    /// The version the client last saw.
    Version(i32),
    /// A tag this API never issues (weak, or not ours): never matches.
    Never,
}

impl IfMatch {
    /// Refused as stale unless `current` satisfies the precondition.
    pub fn check(self, current: i32) -> Result<(), AppError> {
        match self {
            IfMatch::Absent | IfMatch::Any => Ok(()),
            IfMatch::Version(v) if v == current => Ok(()),
            _ => Err(stale(Some(current))),
        }
    }
}

/// Refused: the record changed since the caller read it (`current`, if known).
pub fn stale(current: Option<i32>) -> AppError {
    let detail = match current {
        Some(version) => format!(
            "If-Match does not match the current version {}; read it again and retry",
            etag(version)
        ),
        None => "the resource changed while this request was applied; read it again and retry"
            .to_owned(),
    };
    AppError::new(Failure::Stale).with_detail(detail)
}
