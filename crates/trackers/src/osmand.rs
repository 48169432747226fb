//! The OsmAnd format: Traccar Client in all its generations, and GPSLogger's
//! custom URL pointed at the same endpoint.
//!
//! Read as traccar's `OsmAndProtocolDecoder` reads it: JSON when the
//! `Content-Type` starts with `application/json` (the 9.x object, or the SDK's
//! array), otherwise the parameters of the query string, or of the body when
//! the query has none (Traccar 10.x's form; GPSLogger's body, which comes with
//! no `Content-Type` at all).

use std::borrow::Cow;

use serde_json::Value;
use uuid::Uuid;

use crate::{
    label, number, parse_iso, parse_osmand_time, value_number, Answer, Fix, Parsed, Raw, Request,
    Skip,
};

/// `200` with an empty body: all any Traccar Client or GPSLogger checks.
pub const ANSWER: Answer = Answer {
    status: 200,
    content_type: None,
    body: b"",
};

/// Metres per second in a knot (1852 m an hour), OsmAnd's unit of `speed`.
const MPS_PER_KNOT: f64 = 1852.0 / 3600.0;

/// The reports in an OsmAnd request.
pub fn parse(device: Uuid, request: &Request<'_>) -> Parsed {
    if is_json(request.content_type) {
        return parse_json(device, request.body);
    }
    let query = request.query.strip_prefix('?').unwrap_or(request.query);
    let pairs = if uses_query(query, request.body) {
        query.as_bytes()
    } else {
        request.body
    };
    let mut pairs = form_urlencoded::parse(pairs).peekable();
    if pairs.peek().is_none() {
        return Parsed::skip(Skip::Empty);
    }
    let mut parsed = Parsed::default();
    parsed.push(read(pairs).and_then(|raw| raw.into_fix(device, false)));
    parsed
}

fn is_json(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|ct| {
        ct.trim_start()
            .get(..16)
            .is_some_and(|start| start.eq_ignore_ascii_case("application/json"))
    })
}

/// Traccar reads the query when it has parameters, else the body. One
/// refinement: a query that names no position or time while a body is there
/// (a server URL typed with the setup parameters still on it) leaves the
/// report to the body, where Traccar 10.x put it.
fn uses_query(query: &str, body: &[u8]) -> bool {
    if query.is_empty() {
        return false;
    }
    body.iter().all(u8::is_ascii_whitespace)
        || form_urlencoded::parse(query.as_bytes())
            .any(|(key, _)| matches!(&*key, "lat" | "lon" | "location" | "timestamp"))
}

/// One report from its parameters, the last of a repeated key winning as in
/// traccar's decoder.
fn read<'a>(pairs: impl Iterator<Item = (Cow<'a, str>, Cow<'a, str>)>) -> Result<Raw, Skip> {
    let mut raw = Raw::default();
    let mut knots = None;
    let mut mps = None;
    for (key, value) in pairs {
        match &*key {
            "id" | "deviceid" => raw.label = label(value),
            "timestamp" => {
                raw.recorded_at =
                    Some(parse_osmand_time(&value).ok_or(Skip::Unparseable("timestamp"))?)
            }
            "lat" => raw.lat = Some(number(&value).map_err(|_| Skip::Unparseable("lat"))?),
            "lon" => raw.lon = Some(number(&value).map_err(|_| Skip::Unparseable("lon"))?),
            "location" => {
                let (lat, lon) = value.split_once(',').ok_or(Skip::Unparseable("location"))?;
                let coordinate = |text| number(text).map_err(|_| Skip::Unparseable("location"));
                raw.lat = Some(coordinate(lat)?);
                raw.lon = Some(coordinate(lon)?);
            }
            "speed" => knots = optional(&value, "speed")?,
            // GPSLogger's `%SPD` is in m/s; its templates name it so.
            "speed_mps" => mps = optional(&value, "speed_mps")?,
            "bearing" | "heading" => raw.heading_deg = optional(&value, "bearing")?,
            "accuracy" => raw.accuracy_m = optional(&value, "accuracy")?,
            "batt" => raw.battery_pct = optional(&value, "batt")?,
            _ => {}
        }
    }
    raw.speed_mps = mps.or(knots.map(|k| k * MPS_PER_KNOT));
    Ok(raw)
}

/// An optional measurement: empty is absent, anything else must be a number.
fn optional(value: &str, field: &'static str) -> Result<Option<f64>, Skip> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    number(value)
        .map(Some)
        .map_err(|_| Skip::Unparseable(field))
}

fn parse_json(device: Uuid, body: &[u8]) -> Parsed {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Parsed::skip(Skip::Empty);
    }
    let Ok(root) = serde_json::from_slice::<Value>(body) else {
        return Parsed::skip(Skip::Unparseable("body"));
    };
    let mut parsed = Parsed::default();
    match root {
        Value::Array(items) if items.is_empty() => parsed.skipped.push(Skip::Empty),
        // The SDK's `uploadJson`: an array of the form's reports.
        Value::Array(items) => {
            for item in &items {
                parsed.push(json_report(device, item));
            }
        }
        Value::Object(ref object) if object.contains_key("location") => {
            parsed.push(background_geolocation(device, &root));
        }
        object @ Value::Object(_) => parsed.push(json_report(device, &object)),
        _ => parsed.skipped.push(Skip::Unparseable("body")),
    }
    parsed
}

/// A JSON object with the form's keys, its values as the form would carry them.
fn json_report(device: Uuid, item: &Value) -> Result<Fix, Skip> {
    let Value::Object(fields) = item else {
        return Err(Skip::Unparseable("body"));
    };
    let pairs = fields.iter().filter_map(|(key, value)| {
        let text = match value {
            Value::Null => return None,
            Value::String(s) => Cow::Borrowed(s.as_str()),
            // Objects and arrays are no value of the form: their JSON text
            // fails as a number, as it should.
            other => Cow::Owned(other.to_string()),
        };
        Some((Cow::Borrowed(key.as_str()), text))
    });
    read(pairs)?.into_fix(device, false)
}

/// Traccar Client 9.x (flutter_background_geolocation): `{"location":{...},
/// "device_id":"..."}`, speed in m/s, -1 for unknown speed and heading.
fn background_geolocation(device: Uuid, root: &Value) -> Result<Fix, Skip> {
    let location = root
        .get("location")
        .filter(|l| l.is_object())
        .ok_or(Skip::Unparseable("location"))?;
    let mut raw = Raw {
        label: root
            .get("device_id")
            .and_then(Value::as_str)
            .and_then(|id| label(id.into())),
        ..Raw::default()
    };
    raw.recorded_at = Some(
        location
            .get("timestamp")
            .and_then(Value::as_str)
            .and_then(parse_iso)
            .ok_or(Skip::Unparseable("timestamp"))?,
    );
    let field = |object: &Value, key: &'static str| {
        value_number(object.get(key)).map_err(|_| Skip::Unparseable(key))
    };
    if let Some(battery) = location.get("battery") {
        raw.battery_pct = field(battery, "level")?.map(|level| level * 100.0);
    }
    // No `coords`: traccar falls back to the last known position; a heartbeat here.
    let Some(coords) = location.get("coords").filter(|c| !c.is_null()) else {
        return Err(Skip::NoFix);
    };
    raw.lat = field(coords, "latitude")?;
    raw.lon = field(coords, "longitude")?;
    raw.accuracy_m = field(coords, "accuracy")?;
    raw.speed_mps = field(coords, "speed")?;
    raw.heading_deg = field(coords, "heading")?;
    if raw.lat.is_none() || raw.lon.is_none() {
        return Err(Skip::Unparseable(if raw.lat.is_none() {
            "latitude"
        } else {
            "longitude"
        }));
    }
    raw.into_fix(device, false)
}
