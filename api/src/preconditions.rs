//! `ETag`/`If-Match` (optimistic concurrency) and `Idempotency-Key` (safe
//! retries of creating POSTs).

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::http::header::{self, HeaderName};
use actix_web::http::{Method, StatusCode};
use actix_web::{FromRequest, HttpRequest};
use sha2::{Digest, Sha256};

use crate::problem::Problem;

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
    /// 412 unless `current` satisfies the precondition.
    pub fn check(self, current: i32) -> Result<(), Problem> {
        match self {
            IfMatch::Absent | IfMatch::Any => Ok(()),
            IfMatch::Version(v) if v == current => Ok(()),
            _ => Err(precondition_failed(Some(current))),
        }
    }
}

/// 412: the resource changed since the client read it (`current`, if known).
pub fn precondition_failed(current: Option<i32>) -> Problem {
    let detail = match current {
        Some(version) => format!(
            "If-Match does not match the current version {}; read it again and retry",
            etag(version)
        ),
        None => "the resource changed while this request was applied; read it again and retry"
            .to_owned(),
    };
    Problem::new(
        StatusCode::PRECONDITION_FAILED,
        "precondition_failed",
        "The resource has changed",
    )
    .with_detail(detail)
}

impl FromRequest for IfMatch {
    type Error = Problem;
    type Future = Ready<Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(value) = req.headers().get(header::IF_MATCH) else {
            return ready(Ok(IfMatch::Absent));
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
            IfMatch::Any
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
                .map_or(IfMatch::Never, IfMatch::Version)
        };
        ready(Ok(parsed))
    }
}

static IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// The `Idempotency-Key` of a creating POST, with a fingerprint of the request
/// it came with.
#[derive(Debug, Clone)]
pub struct Idempotency {
    pub key: String,
    method: Method,
    path: String,
}

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
            method: req.method().clone(),
            path: req.path().to_owned(),
        }))))
    }
}

impl Idempotency {
    /// SHA-256 of method, path and body: what a replay must match.
    pub fn fingerprint(&self, body: &[u8]) -> Vec<u8> {
        Sha256::new()
            .chain_update(self.method.as_str().as_bytes())
            .chain_update(b" ")
            .chain_update(self.path.as_bytes())
            .chain_update(b"\n")
            .chain_update(body)
            .finalize()
            .to_vec()
    }
}
