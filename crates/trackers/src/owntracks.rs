//! OwnTracks in HTTP mode (Android and iOS): one JSON message per request.
//!
//! Only `"_type":"location"` is a position. Waypoints, transitions (which
//! carry coordinates too), status and card messages, and the empty bodies the
//! Android app posts, are answered the same and skipped.

use serde_json::Value;
use uuid::Uuid;

use crate::{label, value_number, Answer, Fix, Parsed, Raw, Request, Skip};

/// `200` with an empty JSON array: no messages for the phone.
pub const ANSWER: Answer = Answer {
    status: 200,
    content_type: Some("application/json"),
    body: b"[]",
};

/// The messages of an OwnTracks request: one object, or leniently an array.
pub fn parse(device: Uuid, request: &Request<'_>) -> Parsed {
    let body = request.body;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Parsed::skip(Skip::Empty);
    }
    let Ok(root) = serde_json::from_slice::<Value>(body) else {
        return Parsed::skip(Skip::Unparseable("body"));
    };
    let device_name = request.limit_device.and_then(|name| label(name.into()));
    let messages = match &root {
        Value::Array(items) if items.is_empty() => return Parsed::skip(Skip::Empty),
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let mut parsed = Parsed::default();
    for message in messages {
        parsed.push(message_fix(device, message, device_name.as_deref()));
    }
    parsed
}

fn message_fix(device: Uuid, message: &Value, device_name: Option<&str>) -> Result<Fix, Skip> {
    if !message.is_object() {
        return Err(Skip::Unparseable("body"));
    }
    match message.get("_type").and_then(Value::as_str) {
        Some("location") => location(device, message, device_name),
        Some(other) => Err(Skip::NotPosition(kind(other))),
        None => Err(Skip::NotPosition("owntracks_untyped")),
    }
}

/// A fixed name for a message type, so nothing a phone sends becomes a label.
fn kind(message_type: &str) -> &'static str {
    match message_type {
        "transition" => "owntracks_transition",
        "waypoint" => "owntracks_waypoint",
        "waypoints" => "owntracks_waypoints",
        "status" => "owntracks_status",
        "card" => "owntracks_card",
        "lwt" => "owntracks_lwt",
        "steps" => "owntracks_steps",
        "encrypted" => "owntracks_encrypted",
        _ => "owntracks_other",
    }
}

fn location(device: Uuid, message: &Value, device_name: Option<&str>) -> Result<Fix, Skip> {
    let field =
        |key: &'static str| value_number(message.get(key)).map_err(|_| Skip::Unparseable(key));
    let required = |key: &'static str| field(key)?.ok_or(Skip::Unparseable(key));
    let tst = required("tst")?;
    // The app itself refuses a location without a time (`tst` 0).
    if tst <= 0.0 {
        return Err(Skip::Unparseable("tst"));
    }
    let recorded_at =
        chrono::DateTime::from_timestamp(tst as i64, 0).ok_or(Skip::Unparseable("tst"))?;
    let raw = Raw {
        recorded_at: Some(recorded_at),
        lat: Some(required("lat")?),
        lon: Some(required("lon")?),
        accuracy_m: field("acc")?,
        // km/h, whole numbers.
        speed_mps: field("vel")?.map(|kmh| kmh / 3.6),
        heading_deg: field("cog")?,
        battery_pct: field("batt")?,
        // The device name from the app's settings, else its two-letter tracker id.
        label: match device_name {
            Some(name) => Some(name.to_owned()),
            None => message
                .get("tid")
                .and_then(Value::as_str)
                .and_then(|tid| label(tid.into())),
        },
    };
    raw.into_fix(device, false)
}
