//! Overland (iOS): batches of GeoJSON features,
//! `{"locations":[Feature...], "current":Feature?, "trip":{...}?}`.
//!
//! A feature is a position when it has a point and no `action` (Overland logs
//! its own events, such as `visit`, as features with an `action`) and is not a
//! finished trip (`"type":"trip"`). `current` is a position too; the top-level
//! `trip` only repeats the trip's state and is not read.

use serde_json::Value;
use uuid::Uuid;

use crate::{json_number, label, parse_iso, Answer, Fix, Parsed, Raw, Request, Skip};

/// `200` with `{"result":"ok"}` as JSON: Overland keeps a batch queued on
/// anything else.
pub const ANSWER: Answer = Answer {
    status: 200,
    content_type: Some("application/json"),
    body: br#"{"result":"ok"}"#,
};

/// Largest batch the app can be set to send (`current` comes on top).
pub const MAX_BATCH: usize = 1000;

/// The positions in an Overland batch, `current` last.
pub fn parse(device: Uuid, request: &Request<'_>) -> Parsed {
    let body = request.body;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Parsed::skip(Skip::Empty);
    }
    let Ok(Value::Object(root)) = serde_json::from_slice::<Value>(body) else {
        return Parsed::skip(Skip::Unparseable("body"));
    };
    let Some(Value::Array(locations)) = root.get("locations") else {
        return Parsed::skip(Skip::Unparseable("locations"));
    };
    let mut parsed = Parsed::default();
    for feature in locations {
        parsed.push(position(device, feature, false));
    }
    if let Some(current) = root.get("current").filter(|c| !c.is_null()) {
        parsed.push(position(device, current, true));
    }
    if parsed == Parsed::default() {
        return Parsed::skip(Skip::Empty);
    }
    parsed
}

fn position(device: Uuid, feature: &Value, current: bool) -> Result<Fix, Skip> {
    let properties = feature
        .get("properties")
        .filter(|p| p.is_object())
        .ok_or(Skip::Unparseable("properties"))?;
    match properties.get("action") {
        None | Some(Value::Null) => {}
        Some(Value::String(action)) if action == "visit" => {
            return Err(Skip::NotPosition("overland_visit"))
        }
        Some(_) => return Err(Skip::NotPosition("overland_action")),
    }
    if properties.get("type").and_then(Value::as_str) == Some("trip") {
        return Err(Skip::NotPosition("overland_trip"));
    }
    let Some(geometry) = feature.get("geometry").filter(|g| !g.is_null()) else {
        return Err(Skip::NotPosition("overland_no_geometry"));
    };
    let coordinate = |i: usize| {
        geometry
            .get("coordinates")
            .and_then(|c| c.get(i))
            .and_then(Value::as_f64)
            .filter(|n| n.is_finite())
            .ok_or(Skip::Unparseable("coordinates"))
    };
    if geometry.get("type").and_then(Value::as_str) != Some("Point") {
        return Err(Skip::Unparseable("geometry"));
    }
    let field =
        |key: &'static str| json_number(properties.get(key)).map_err(|_| Skip::Unparseable(key));
    let raw = Raw {
        // GeoJSON order: longitude first.
        lon: Some(coordinate(0)?),
        lat: Some(coordinate(1)?),
        recorded_at: Some(
            properties
                .get("timestamp")
                .and_then(Value::as_str)
                .and_then(parse_iso)
                .ok_or(Skip::Unparseable("timestamp"))?,
        ),
        accuracy_m: field("horizontal_accuracy")?,
        speed_mps: field("speed")?,
        heading_deg: field("course")?,
        // 0 to 1, -1 when iOS does not know (and stays negative, so unknown).
        battery_pct: field("battery_level")?.map(|level| level * 100.0),
        label: properties
            .get("device_id")
            .and_then(Value::as_str)
            .and_then(|id| label(id.into())),
    };
    raw.into_fix(device, current)
}
