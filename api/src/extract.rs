//! Request extractors whose every failure is a `Problem`.

use std::future::{ready, Future};
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde_json::error::Category;

use crate::problem::{FieldError, Problem};

/// What a JSON extractor accepts, from settings: at most `max_bytes` (413
/// beyond), arriving within `read_timeout` (408 after, so a client that trickles
/// its body cannot hold a worker's connection for ever).
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    pub max_bytes: usize,
    pub read_timeout: std::time::Duration,
}

/// A JSON body. Unlike `web::Json` it answers 400 for malformed JSON (saying
/// where), 422 naming the field for JSON of the wrong shape, 413 past the limit
/// without reading further, and 415 for anything that is not JSON. The raw
/// bytes are kept for fingerprinting idempotent requests.
pub struct Json<T>(pub T, pub web::Bytes);

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = Problem;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Problem>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_json_body(req, payload);
        Box::pin(async move {
            let body = body.await?;
            parse_json(&body).map(|value| Json(value, body))
        })
    }
}

/// A JSON body that may be left out entirely (an empty body is `None`); when
/// one is sent, it is read exactly as [`Json`] reads it.
pub struct OptionalJson<T>(pub Option<T>);

impl<T: DeserializeOwned + 'static> FromRequest for OptionalJson<T> {
    type Error = Problem;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Problem>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let declared_empty = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() == b"0");
        let no_body = declared_empty
            || (req.headers().get(header::CONTENT_LENGTH).is_none()
                && req.headers().get(header::TRANSFER_ENCODING).is_none());
        if no_body {
            return Box::pin(ready(Ok(OptionalJson(None))));
        }
        let body = read_json_body(req, payload);
        Box::pin(async move {
            let body = body.await?;
            // An empty body or a bare `null` both mean "nothing to say".
            if body.iter().all(u8::is_ascii_whitespace) || body.trim_ascii() == b"null" {
                return Ok(OptionalJson(None));
            }
            parse_json(&body).map(|value| OptionalJson(Some(value)))
        })
    }
}

/// Reads a body that must be JSON, refusing other content types (415) and
/// anything over the configured limit (413) without reading past it.
fn read_json_body(
    req: &HttpRequest,
    payload: &mut Payload,
) -> Pin<Box<dyn Future<Output = Result<web::Bytes, Problem>>>> {
    let limit = req
        .app_data::<web::Data<BodyLimits>>()
        .map_or(1024 * 1024, |l| l.max_bytes);
    if !is_json(req) {
        return Box::pin(ready(Err(Problem::unsupported_media_type())));
    }
    read_body(req, payload, limit)
}

/// Reads a body of any type up to `limit` bytes (413 beyond, without reading
/// past it), arriving within the configured time (408 after).
pub fn read_body(
    req: &HttpRequest,
    payload: &mut Payload,
    limit: usize,
) -> Pin<Box<dyn Future<Output = Result<web::Bytes, Problem>>>> {
    let read_timeout = req
        .app_data::<web::Data<BodyLimits>>()
        .map_or(std::time::Duration::from_secs(30), |l| l.read_timeout);
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Box::pin(ready(Err(Problem::payload_too_large(limit))));
    }
    let mut payload = payload.take();
    let read = async move {
        let mut body = web::BytesMut::with_capacity(declared.unwrap_or(0).min(limit));
        while let Some(chunk) = payload.next().await {
            let chunk =
                chunk.map_err(|_| Problem::bad_request("the request body could not be read"))?;
            if body.len() + chunk.len() > limit {
                return Err(Problem::payload_too_large(limit));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    };
    Box::pin(async move {
        actix_web::rt::time::timeout(read_timeout, read)
            .await
            .unwrap_or_else(|_| Err(Problem::request_timeout(read_timeout)))
    })
}

/// For optional query parameters: `?cursor=` (an empty value, as HTML forms and
/// many clients send for an unset field) means the parameter is absent.
pub fn non_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(<Option<String> as serde::Deserialize>::deserialize(d)?.filter(|s| !s.is_empty()))
}

/// For `#[serde(default, deserialize_with = "crate::extract::nullable")]`:
/// tells an absent field (`None`) from an explicit `null` (`Some(None)`), so a
/// PATCH can clear a field.
pub fn nullable<'de, T: serde::Deserialize<'de>, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}

fn is_json(req: &HttpRequest) -> bool {
    let Some(Ok(ct)) = req.headers().get(header::CONTENT_TYPE).map(|v| v.to_str()) else {
        return false;
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Parses a JSON document into `T`, mapping serde's errors to problems.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, Problem> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Problem::bad_request(
            "the body is empty; send a JSON object",
        ));
    }
    // Every request body is an object; serde would also read a struct from an
    // array of its fields in order, which no client means.
    if body.trim_ascii_start().first() == Some(&b'[') {
        return Err(Problem::invalid_field(
            "body",
            "must be a JSON object, not an array",
        ));
    }
    if let Some(problem) = control_characters(body) {
        return Err(problem);
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        match inner.classify() {
            Category::Data => Problem::validation(vec![field_error(&path, &inner)]),
            Category::Syntax | Category::Eof | Category::Io => Problem::bad_request(format!(
                "malformed JSON at line {} column {}: {}",
                inner.line(),
                inner.column(),
                bare_message(&inner)
            )),
        }
    })?;
    de.end().map_err(|err| {
        Problem::bad_request(format!(
            "malformed JSON at line {} column {}: unexpected data after the JSON value",
            err.line(),
            err.column()
        ))
    })?;
    Ok(value)
}

/// Whether a character may appear in text a client sends: tab and line breaks
/// may (each field then decides whether it takes them); NUL and the other
/// control characters may not, anywhere. PostgreSQL cannot store NUL at all,
/// and the rest only ever break what the text is shown in (an iCalendar feed,
/// a log line, an SMS).
pub fn is_refused_control(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r')
}

/// A 422 naming the first string of the JSON `body` (or key) that holds a
/// refused control character. JSON carries them only as escapes (`\u0000`,
/// `\b`, `\f`) or, for DEL and the C1 range, as raw characters; a quick scan
/// for those finds none in almost every body, and only a hit pays for a second
/// parse to name the field.
fn control_characters(body: &[u8]) -> Option<Problem> {
    let mut rest = body;
    let mut suspicious = false;
    while let Some(at) = memchr::memchr3(b'\\', 0x7f, 0xc2, rest) {
        let escaped = || {
            let hex = std::str::from_utf8(rest.get(at + 2..at + 6)?).ok()?;
            char::from_u32(u32::from_str_radix(hex, 16).ok()?)
        };
        suspicious = match (rest[at], rest.get(at + 1)) {
            (b'\\', Some(b'u')) => escaped().is_some_and(is_refused_control),
            (b'\\', Some(b'b' | b'f')) | (0x7f, _) | (0xc2, Some(0x80..=0x9f)) => true,
            _ => false,
        };
        if suspicious {
            break;
        }
        // An escape is two bytes at least: `\\` must not pair with what follows.
        rest = &rest[(at + 2).min(rest.len())..];
    }
    if !suspicious {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let field = refused_path(&value, String::new())?;
    Some(Problem::validation(vec![FieldError::new(
        if field.is_empty() {
            "body".to_owned()
        } else {
            field
        },
        "must not contain NUL or other control characters",
    )]))
}

/// The path (`a.b[2].c`) of the first string or key in `value` holding a
/// refused control character.
fn refused_path(value: &serde_json::Value, path: String) -> Option<String> {
    let refused = |text: &str| text.chars().any(is_refused_control);
    match value {
        serde_json::Value::String(text) => refused(text).then_some(path),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| refused_path(item, format!("{path}[{i}]"))),
        serde_json::Value::Object(members) => members.iter().find_map(|(key, member)| {
            let here = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            if refused(key) {
                Some(here)
            } else {
                refused_path(member, here)
            }
        }),
        _ => None,
    }
}

/// 400 for a request whose path or query string holds a control character
/// once percent-decoded (`?q=%00`): no parameter of this API takes one, and
/// PostgreSQL cannot compare text with NUL in it.
pub fn control_characters_in_url(uri: &actix_web::http::Uri) -> Option<Problem> {
    let decoded = |raw: &str| {
        percent_encoding::percent_decode_str(raw)
            .decode_utf8_lossy()
            .chars()
            .any(char::is_control)
    };
    let query = uri.query().unwrap_or_default().replace('+', " ");
    (decoded(uri.path()) || decoded(&query))
        .then(|| Problem::bad_request("the URL must not contain control characters (such as %00)"))
}

/// serde_json's message without its " at line L column C" suffix.
fn bare_message(err: &serde_json::Error) -> String {
    let text = err.to_string();
    let suffix = format!(" at line {} column {}", err.line(), err.column());
    text.strip_suffix(&suffix).unwrap_or(&text).to_owned()
}

fn field_error(path: &str, err: &serde_json::Error) -> FieldError {
    let message = bare_message(err);
    let parent = if path == "." { "" } else { path };
    let join = |name: &str| {
        if parent.is_empty() {
            name.to_owned()
        } else {
            format!("{parent}.{name}")
        }
    };
    if let Some(name) = quoted_after(&message, "missing field `") {
        return FieldError::new(join(name), "is required");
    }
    if let Some(name) = quoted_after(&message, "unknown field `") {
        // The path already ends with the unknown field's name.
        let field = if parent.is_empty() { name } else { parent };
        return FieldError::new(field, "is not a known field");
    }
    let field = if parent.is_empty() { "body" } else { parent };
    FieldError::new(field, message)
}

fn quoted_after<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    message.strip_prefix(prefix)?.split('`').next()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        address: Option<Address>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Address {
        line1: String,
        lat: Option<f64>,
    }

    fn problem(body: &str) -> Problem {
        parse_json::<Body>(body.as_bytes()).unwrap_err()
    }

    #[test]
    fn syntax_errors_are_400_and_say_where() {
        let p = problem("{\"name\": \"a\",\n \"address\": }");
        assert_eq!(p.status.as_u16(), 400);
        let detail = p.detail.unwrap();
        assert!(detail.contains("line 2 column"), "{detail}");
        assert_eq!(problem("").status.as_u16(), 400);
        assert_eq!(problem("{\"name\": \"a\"} trailing").status.as_u16(), 400);
    }

    #[test]
    fn shape_errors_are_422_and_name_the_field() {
        let p = problem("{}");
        assert_eq!(p.status.as_u16(), 422);
        assert_eq!(p.errors, vec![FieldError::new("name", "is required")]);

        let p = problem(r#"{"name": "a", "address": {"line1": "x", "lat": "north"}}"#);
        assert_eq!(p.errors[0].field, "address.lat");

        let p = problem(r#"{"name": "a", "address": {}}"#);
        assert_eq!(p.errors[0].field, "address.line1");

        let p = problem(r#"{"name": "a", "colour": 1}"#);
        assert_eq!(p.errors[0].field, "colour");

        assert_eq!(problem("[1, 2]").status.as_u16(), 422);
    }

    #[test]
    fn control_characters_are_refused_and_their_field_named() {
        let p = problem(r#"{"name": "a\u0000b"}"#);
        assert_eq!(p.status.as_u16(), 422);
        assert_eq!(p.errors[0].field, "name");
        let p = problem(r#"{"name": "a", "address": {"line1": "x\u001Fy"}}"#);
        assert_eq!(p.errors[0].field, "address.line1");
        assert_eq!(problem("{\"name\": \"a\u{85}\"}").errors[0].field, "name");
        assert_eq!(problem(r#"{"name": "\b"}"#).errors[0].field, "name");
        // Tabs, line breaks and an escaped backslash before a `u` are text.
        let ok = |body: &str| parse_json::<serde_json::Value>(body.as_bytes()).is_ok();
        assert!(ok(
            r#"{"notes": "a\n\tb\r\n", "path": "C:\\users", "e": "\u00e9"}"#
        ));
        assert!(ok(r#"{"x": "\\u0000"}"#), "an escaped backslash, then text");
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let deep = format!("{{\"a\": {}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        let p = parse_json::<serde_json::Value>(deep.as_bytes()).unwrap_err();
        assert_eq!(p.status.as_u16(), 400);
        assert!(p.detail.unwrap().contains("recursion limit"));
        // Into a typed body, the nesting is refused as the wrong shape, also without a crash.
        assert_eq!(problem(&deep).status.as_u16(), 422);
    }
}
