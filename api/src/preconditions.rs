//! `ETag`/`If-Match` (optimistic concurrency) and `Idempotency-Key` (safe
//! retries of creating POSTs).

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::http::header::{self, HeaderName};

use actix_web::{FromRequest, HttpRequest};

use crate::problem::Problem;

use fieldcrm_app::idempotency::Idempotency;
pub use fieldcrm_app::preconditions::etag;
use fieldcrm_app::preconditions::IfMatch as Precondition;

/// `If-Match`, as an extractor: 400 for a header that is not `*` or entity
/// tags. Dereferences to the precondition the use cases check.
#[derive(Debug, Clone, Copy)]
pub struct IfMatch(pub Precondition);

impl std::ops::Deref for IfMatch {
    type Target = Precondition;

    fn deref(&self) -> &Precondition {
        &self.0
    }
}

impl FromRequest for IfMatch {
    type Error = Problem;
    type Future = Ready<Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(value) = req.headers().get(header::IF_MATCH) else {
            return ready(Ok(IfMatch(Precondition::Absent)));
        };
        let value = value.to_str().unwrap_or_default().trim();
        let well_formed = value == "*"
            || (!value.is_empty()
                && value.split(',').map(str::trim).all(|tag| {
                    let opaque = tag.strip_prefix("W/").unwrap_or(tag);
                    opaque.len() >= 2
                        && opaque.starts_with('"')
                        && opaque.ends_with('"')
                        && !opaque[1..opaque.len() - 1].contains('"')
                }));
        if !well_formed {
            return ready(Err(Problem::bad_request(
                "If-Match must be `*` or entity tags as sent in `ETag`, e.g. \"3\"",
            )));
        }
        let parsed = if value == "*" {
            Precondition::Any
        } else {
            // A list of tags matches if any does; we only ever issue one.
            value
                .split(',')
                .map(str::trim)
                .find_map(|tag| {
                    tag.strip_prefix('"')?
                        .strip_suffix('"')?
                        .parse::<i32>()
                        .ok()
                })
                .map_or(Precondition::Never, Precondition::Version)
        };
        ready(Ok(IfMatch(parsed)))
    }
}

static IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// Present when the client sent the header.
pub struct IdempotencyKey(pub Option<Idempotency>);

impl IdempotencyKey {
    /// The key with the fingerprint of the request body it came with.
    pub fn with_body(self, body: &[u8]) -> Option<(Idempotency, Vec<u8>)> {
        self.0.map(|key| {
            let fingerprint = key.fingerprint(body);
            (key, fingerprint)
        })
    }
}

impl FromRequest for IdempotencyKey {
    type Error = Problem;
    type Future = Ready<Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(value) = req.headers().get(&IDEMPOTENCY_KEY) else {
            return ready(Ok(IdempotencyKey(None)));
        };
        let key = value.to_str().unwrap_or_default().trim();
        if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return ready(Err(Problem::bad_request(
                "Idempotency-Key must be 1 to 255 visible ASCII characters, e.g. a UUID",
            )));
        }
        ready(Ok(IdempotencyKey(Some(Idempotency {
            key: key.to_owned(),
            method: req.method().to_string(),
            path: req.path().to_owned(),
        }))))
    }
}
