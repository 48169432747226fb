//! The body every webhook carries: `{"type": ..., "timestamp": ..., "data": {...}}`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

#[derive(Serialize)]
struct Envelope<'a> {
    #[serde(rename = "type")]
    event_type: &'a str,
    timestamp: String,
    data: &'a serde_json::Value,
}

/// The JSON body for an event of `event_type` that occurred at `occurred_at`:
/// compact, fields in that order, the time in RFC 3339 UTC with microseconds.
/// These bytes are what gets signed and sent, unchanged.
pub fn envelope(event_type: &str, occurred_at: DateTime<Utc>, data: &serde_json::Value) -> Vec<u8> {
    debug_assert!(is_valid_event_type(event_type), "{event_type}");
    serde_json::to_vec(&Envelope {
        event_type,
        timestamp: occurred_at.to_rfc3339_opts(SecondsFormat::Micros, true),
        data,
    })
    .expect("a JSON value with string keys always serialises")
}

/// Whether `name` is an event type as the standard recommends: full-stop
/// separated parts of `[a-zA-Z0-9_]`, e.g. `customer.created`.
pub fn is_valid_event_type(name: &str) -> bool {
    !name.is_empty()
        && name.split('.').all(|part| {
            !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    #[test]
    fn serialises_type_timestamp_and_data_in_that_order() {
        let at = Utc.with_ymd_and_hms(2022, 11, 3, 20, 26, 10).unwrap()
            + chrono::TimeDelta::microseconds(344_522);
        let body = envelope(
            "customer.updated",
            at,
            &json!({"changed": ["name", "email"], "id": "0190"}),
        );
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"type":"customer.updated","timestamp":"2022-11-03T20:26:10.344522Z","data":{"changed":["name","email"],"id":"0190"}}"#
        );
    }

    #[test]
    fn whole_seconds_keep_the_microseconds() {
        let at = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let body = envelope("webhook.test", at, &json!({}));
        let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(parsed["timestamp"], "2026-01-02T03:04:05.000000Z");
        assert_eq!(parsed["data"], json!({}));
    }

    #[test]
    fn event_types_are_dotted_words() {
        for good in [
            "customer.created",
            "account.deleted",
            "webhook.test",
            "a_b.c1",
        ] {
            assert!(is_valid_event_type(good), "{good}");
        }
        for bad in [
            "",
            ".",
            "customer.",
            ".created",
            "customer..created",
            "customer-created",
            "customer created",
            "über.x",
        ] {
            assert!(!is_valid_event_type(bad), "{bad}");
        }
    }
}
