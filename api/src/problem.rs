//! The one error type at the HTTP edge: RFC 9457 `application/problem+json`.
//!
//! Handlers return `Result<_, Problem>`. Internal causes are logged here, inside
//! the request's span (so with its request id), and never sent to the client.

use std::fmt;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use diesel::result as diesel_error;
use fieldcrm_app::{AppError, Failure};
use fieldcrm_db::DbError;

pub const CONTENT_TYPE: &str = "application/problem+json";

/// Every `code` a problem can have. A test keeps the list and the codes the
/// source gives to `Problem::new` the same; the API reference lists them.
pub const CODES: [&str; 33] = [
    "busy",
    "calendar_not_granted",
    "channel_unavailable",
    "conflict",
    "consent_refused",
    "consent_required",
    "double_booked",
    "error",
    "forbidden",
    "google_not_configured",
    "google_unavailable",
    "idempotency_key_reused",
    "internal",
    "invalid_channel_token",
    "invalid_code",
    "invalid_confirmation",
    "invalid_link",
    "invalid_state",
    "malformed",
    "method_not_allowed",
    "needs_reconnect",
    "not_connected",
    "not_found",
    "payload_too_large",
    "precondition_failed",
    "rate_limited",
    "request_timeout",
    "storage_full",
    "unauthorized",
    "unavailable",
    "unsupported_media_type",
    "validation",
    "wrong_password",
];

/// An RFC 9457 problem document.
#[derive(Clone, ToSchema)]
#[schema(example = json!({
    "type": "urn:fieldcrm:problem:validation",
    "title": "The request has invalid fields",
    "status": 422,
    "detail": "2 fields are invalid",
    "code": "validation",
    "errors": [{"field": "email", "message": "is not a valid email address"}]
}))]
pub struct Problem {
    /// A URI naming the kind of problem: `urn:fieldcrm:problem:<code>`.
    /// (Written from `code` when serialized; the field exists for the schema.)
    #[schema(rename = "type", value_type = String)]
    #[expect(
        dead_code,
        reason = "documents the `type` member, which Serialize derives from `code`"
    )]
    kind: (),
    /// A short summary of the kind of problem; the same for every occurrence.
    #[schema(value_type = String)]
    pub title: &'static str,
    /// The HTTP status code.
    #[schema(value_type = u16)]
    pub status: StatusCode,
    /// What went wrong this time, in words a person can act on.
    #[schema(nullable = false)]
    pub detail: Option<String>,
    /// The machine-readable kind, e.g. `validation`, `not_found`, `consent_required`.
    #[schema(value_type = String)]
    pub code: &'static str,
    /// For `validation`: one entry per invalid field (absent otherwise).
    #[schema(required = false)]
    pub errors: Vec<FieldError>,
    #[schema(ignore)]
    headers: Vec<(header::HeaderName, HeaderValue)>,
    /// Further members for this kind of problem, e.g. `conflicting_id`.
    #[schema(ignore)]
    extensions: Vec<(&'static str, serde_json::Value)>,
}

impl Serialize for Problem {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("type", &format!("urn:fieldcrm:problem:{}", self.code))?;
        map.serialize_entry("title", self.title)?;
        map.serialize_entry("status", &self.status.as_u16())?;
        if let Some(detail) = &self.detail {
            map.serialize_entry("detail", detail)?;
        }
        map.serialize_entry("code", self.code)?;
        if !self.errors.is_empty() {
            map.serialize_entry("errors", &self.errors)?;
        }
        for (name, value) in &self.extensions {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// The field's JSON path, e.g. `address.postal_code` or `pings[3].lat`.
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl Problem {
    pub fn new(status: StatusCode, code: &'static str, title: &'static str) -> Self {
        Self {
            kind: (),
            title,
            status,
            detail: None,
            code,
            errors: Vec::new(),
            headers: Vec::new(),
            extensions: Vec::new(),
        }
    }

    /// Adds a member to the problem document (RFC 9457 extension members).
    pub fn with_extension(mut self, name: &'static str, value: serde_json::Value) -> Self {
        self.extensions.push((name, value));
        self
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn with_header(mut self, name: header::HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// A header this problem's response carries, such as `Retry-After`.
    pub fn header(&self, name: header::HeaderName) -> Option<HeaderValue> {
        self.headers
            .iter()
            .find(|(held, _)| *held == name)
            .map(|(_, value)| value.clone())
    }

    /// The generic problem for a status, used where nothing more is known
    /// (an error answered by a library before any handler ran).
    pub fn for_status(status: StatusCode) -> Self {
        match status {
            StatusCode::BAD_REQUEST => Self::bad_request("the request could not be read"),
            StatusCode::UNAUTHORIZED => Self::unauthorized(),
            StatusCode::FORBIDDEN => Self::forbidden("you may not do this"),
            StatusCode::NOT_FOUND => Self::not_found(),
            StatusCode::METHOD_NOT_ALLOWED => {
                Self::new(status, "method_not_allowed", "Method not allowed")
            }
            StatusCode::PAYLOAD_TOO_LARGE => {
                Self::new(status, "payload_too_large", "The request body is too large")
            }
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::unsupported_media_type(),
            StatusCode::TOO_MANY_REQUESTS => Self::new(status, "rate_limited", "Too many requests"),
            StatusCode::SERVICE_UNAVAILABLE => Self::unavailable(),
            s if s.is_server_error() => Self::internal(),
            s => Self::new(s, "error", s.canonical_reason().unwrap_or("Error")),
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "malformed",
            "The request is malformed",
        )
        .with_detail(detail)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Authentication required",
        )
        .with_header(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Not allowed").with_detail(detail)
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "Not found")
    }

    pub fn method_not_allowed(allowed: &[&str]) -> Self {
        let allow = allowed.join(", ");
        let problem = Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "Method not allowed",
        )
        .with_detail(format!("this path accepts {allow}"));
        match HeaderValue::from_str(&allow) {
            Ok(value) => problem.with_header(header::ALLOW, value),
            Err(_) => problem,
        }
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "The request body is too large",
        )
        .with_detail(format!("the body must be at most {limit} bytes"))
    }

    pub fn request_timeout(after: std::time::Duration) -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            "The request body arrived too slowly",
        )
        .with_detail(format!(
            "the body must arrive within {} seconds; nothing was saved",
            after.as_secs()
        ))
        .with_header(header::CONNECTION, HeaderValue::from_static("close"))
    }

    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Unsupported media type",
        )
        .with_detail("send the body as JSON with `Content-Type: application/json`")
    }

    /// 422 with one entry per invalid field.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [one] => format!("`{}` {}", one.field, one.message),
            many => format!("{} fields are invalid", many.len()),
        };
        let mut problem = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "The request has invalid fields",
        )
        .with_detail(detail);
        problem.errors = errors;
        problem
    }

    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError::new(field, message)])
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", "Conflict").with_detail(detail)
    }

    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
        )
        .with_detail("the database cannot be reached; try again shortly")
        .with_header(header::RETRY_AFTER, HeaderValue::from_static("5"))
    }

    /// The database cannot write: the operator must free space or remount.
    pub fn storage_full() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage_full",
            "Storage full",
        )
        .with_detail("the server cannot save right now; nothing was saved; try again later")
        .with_header(header::RETRY_AFTER, HeaderValue::from_static("60"))
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal server error",
        )
        .with_detail("something went wrong on our side; it has been logged")
    }

    /// A 500 whose cause is logged (with the request id of the current span) and not sent.
    pub fn internal_from(cause: &dyn fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::internal()
    }
}

/// Status and code only: the detail can quote what a client sent, and this is
/// what lands in logs.
impl fmt::Debug for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.code)
    }
}

impl ResponseError for Problem {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse<BoxBody> {
        let mut response = HttpResponse::build(self.status);
        response.content_type(CONTENT_TYPE);
        for (name, value) in &self.headers {
            response.insert_header((name.clone(), value.clone()));
        }
        response.json(self)
    }
}

/// The one table from the use cases' failures to statuses and problem codes.
impl From<AppError> for Problem {
    fn from(err: AppError) -> Self {
        let AppError { failure, detail } = err;
        let problem = match failure {
            Failure::Malformed => Problem::bad_request("the request could not be read"),
            Failure::Unauthorized => Problem::unauthorized(),
            Failure::InvalidToken => Problem::unauthorized().with_header(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            ),
            Failure::WrongPassword => {
                Problem::new(StatusCode::UNAUTHORIZED, "wrong_password", "Wrong password")
            }
            Failure::Forbidden => Problem::forbidden("you may not do this"),
            Failure::NotFound => Problem::not_found(),
            Failure::InvalidLink => {
                Problem::new(StatusCode::NOT_FOUND, "invalid_link", "Invalid link")
            }
            Failure::Invalid { field, message } => Problem::invalid_field(&field, message),
            Failure::StatusNotAllowed { message, allowed } => {
                Problem::invalid_field("status", message)
                    .with_extension("allowed", serde_json::json!(allowed))
            }
            Failure::Conflict => Problem::conflict("a record with these details already exists"),
            Failure::DoubleBooked { conflicting } => Problem::new(
                StatusCode::CONFLICT,
                "double_booked",
                "The technician is booked then",
            )
            .with_extension("conflicting_id", serde_json::json!(conflicting)),
            Failure::Stale => Problem::new(
                StatusCode::PRECONDITION_FAILED,
                "precondition_failed",
                "The resource has changed",
            ),
            Failure::IdempotencyKeyReused => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "Idempotency-Key reused",
            ),
            Failure::ConsentRequired => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "consent_required",
                "Consent required",
            ),
            Failure::ChannelUnavailable => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "channel_unavailable",
                "Channel unavailable",
            ),
            Failure::RateLimited { title, retry_after } => {
                Problem::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", title)
                    .with_header(header::RETRY_AFTER, HeaderValue::from(retry_after))
            }
            Failure::Busy { retry_after } => Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "busy",
                "Too many password checks at once",
            )
            .with_header(header::RETRY_AFTER, HeaderValue::from(retry_after)),
            Failure::GoogleNotConfigured => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "google_not_configured",
                "Google is not configured",
            ),
            Failure::InvalidState => Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid_state",
                "This sign-in is not valid",
            ),
            Failure::ConsentRefused => Problem::new(
                StatusCode::BAD_REQUEST,
                "consent_refused",
                "Google did not grant access",
            ),
            Failure::InvalidConfirmation => Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid_confirmation",
                "This confirmation is not valid",
            ),
            Failure::InvalidCode => Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid_code",
                "Google refused the sign-in code",
            ),
            Failure::CalendarNotGranted => Problem::new(
                StatusCode::BAD_REQUEST,
                "calendar_not_granted",
                "Calendar access was not granted",
            ),
            Failure::GoogleUnavailable => Problem::new(
                StatusCode::BAD_GATEWAY,
                "google_unavailable",
                "Google could not complete the sign-in",
            ),
            Failure::NotConnected => Problem::new(
                StatusCode::NOT_FOUND,
                "not_connected",
                "No Google account is connected",
            ),
            Failure::NeedsReconnect => Problem::new(
                StatusCode::CONFLICT,
                "needs_reconnect",
                "The Google connection must be renewed",
            ),
            Failure::InvalidChannelToken => Problem::new(
                StatusCode::FORBIDDEN,
                "invalid_channel_token",
                "The channel token is wrong",
            ),
            Failure::Unavailable => Problem::unavailable(),
            Failure::StorageFull => Problem::storage_full(),
            Failure::Internal(cause) => return Problem::internal_from(&cause),
        };
        match detail {
            Some(detail) => problem.with_detail(detail),
            None => problem,
        }
    }
}

impl From<DbError> for Problem {
    fn from(err: DbError) -> Self {
        AppError::from(err).into()
    }
}

impl From<actix_web::error::BlockingError> for Problem {
    fn from(err: actix_web::error::BlockingError) -> Self {
        Problem::internal_from(&err)
    }
}

/// Turns any error response that is not problem+json yet (answered by actix or a
/// middleware before a handler ran: CORS refusals, timeouts, panics) into one,
/// keeping its status and headers such as `Allow` and `Retry-After`. A page of
/// the web app keeps its HTML.
pub fn ensure_problem_json<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let already = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|ct| ct.as_bytes().starts_with(CONTENT_TYPE.as_bytes()));
    let page = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|ct| ct.as_bytes().starts_with(b"text/html"));
    if already || page {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let (req, res) = res.into_parts();
    let status = res.status();
    let mut replacement = Problem::for_status(status).error_response();
    for (name, value) in res.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            replacement
                .headers_mut()
                .insert(name.clone(), value.clone());
        }
    }
    let res = ServiceResponse::new(req, replacement).map_into_right_body::<B>();
    Ok(ErrorHandlerResponse::Response(res))
}

/// Collects the invalid fields of a request, so a client learns of all of them
/// in one 422 instead of one per attempt.
#[derive(Default)]
pub struct Fields(Vec<FieldError>);

impl Fields {
    /// The parsed value, or `None` with the error noted against `field`.
    pub fn check<T>(
        &mut self,
        field: &str,
        parsed: Result<T, fieldcrm_domain::Invalid>,
    ) -> Option<T> {
        match parsed {
            Ok(value) => Some(value),
            Err(invalid) => {
                self.0.push(FieldError::new(field, invalid.0));
                None
            }
        }
    }

    pub fn push(&mut self, error: FieldError) {
        self.0.push(error);
    }

    pub fn finish(self) -> Result<(), Problem> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Problem::validation(self.0))
        }
    }
}

impl From<diesel_error::Error> for Problem {
    fn from(err: diesel_error::Error) -> Self {
        DbError::from(err).into()
    }
}

#[cfg(test)]
mod code_tests {
    use super::*;

    /// The codes given to `Problem::new` (or `Self::new` here) anywhere in
    /// the source, read from the files.
    fn codes_in_source() -> std::collections::BTreeSet<String> {
        fn walk(dir: &std::path::Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    out.push(std::fs::read_to_string(&path).unwrap());
                }
            }
        }
        let mut files = Vec::new();
        walk(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut files,
        );
        let mut codes = std::collections::BTreeSet::new();
        for text in files {
            for (at, _) in text.match_indices("::new(") {
                let before = &text[..at];
                if !(before.ends_with("Problem") || before.ends_with("Self")) {
                    continue;
                }
                // `new(status, "code", ...)`: the first string literal after the comma.
                let rest = &text[at..];
                let Some(comma) = rest.find(',') else {
                    continue;
                };
                let after = rest[comma + 1..].trim_start();
                if let Some(literal) = after.strip_prefix('"') {
                    if let Some(end) = literal.find('"') {
                        codes.insert(literal[..end].to_owned());
                    }
                }
            }
        }
        codes
    }

    #[test]
    fn every_code_the_source_gives_is_listed() {
        let listed: std::collections::BTreeSet<String> =
            CODES.iter().map(|c| (*c).to_owned()).collect();
        assert_eq!(codes_in_source(), listed);
    }
}
