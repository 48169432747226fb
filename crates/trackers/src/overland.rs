//! Overland (iOS): batches of GeoJSON features,
//! `{"locations":[Feature...], "current":Feature?, "trip":{...}?}`.
//!
//! A feature is a position when it has a point and no `action` (Overland logs
//! its own events, such as `visit`, as features with an `action`) and is not a
//! finished trip (`"type":"trip"`). `current` is a position too; the top-level
//! `trip` only repeats the trip's state and is not read.

use serde::de::MapAccess;
use uuid::Uuid;

use crate::loose::{skip, Array, Fields, Loose, Object};
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
    let Ok(Object::Is(batch)) = serde_json::from_slice::<Object<Batch<'_>>>(body) else {
        return Parsed::skip(Skip::Unparseable("body"));
    };
    let Some(Array(Some(locations))) = batch.locations else {
        return Parsed::skip(Skip::Unparseable("locations"));
    };
    let mut parsed = Parsed::default();
    for feature in &locations {
        parsed.push(position(device, feature, false));
    }
    match &batch.current {
        None | Some(Object::Null) => {}
        Some(current) => parsed.push(position(device, current, true)),
    }
    if parsed == Parsed::default() {
        return Parsed::skip(Skip::Empty);
    }
    parsed
}

/// The fields of a batch that are read.
#[derive(Default)]
struct Batch<'a> {
    locations: Option<Array<Object<Feature<'a>>>>,
    current: Option<Object<Feature<'a>>>,
}

impl<'de> Fields<'de> for Batch<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "locations" => self.locations = Some(map.next_value()?),
            "current" => self.current = Some(map.next_value()?),
            _ => skip(map)?,
        }
        Ok(())
    }
}

#[derive(Default)]
struct Feature<'a> {
    geometry: Option<Object<Geometry<'a>>>,
    properties: Option<Object<Properties<'a>>>,
}

impl<'de> Fields<'de> for Feature<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "geometry" => self.geometry = Some(map.next_value()?),
            "properties" => self.properties = Some(map.next_value()?),
            _ => skip(map)?,
        }
        Ok(())
    }
}

#[derive(Default)]
struct Geometry<'a> {
    kind: Option<Loose<'a>>,
    coordinates: Option<Array<Loose<'a>>>,
}

impl<'de> Fields<'de> for Geometry<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "type" => self.kind = Some(map.next_value()?),
            "coordinates" => self.coordinates = Some(map.next_value()?),
            _ => skip(map)?,
        }
        Ok(())
    }
}

#[derive(Default)]
struct Properties<'a> {
    action: Option<Loose<'a>>,
    kind: Option<Loose<'a>>,
    timestamp: Option<Loose<'a>>,
    horizontal_accuracy: Option<Loose<'a>>,
    speed: Option<Loose<'a>>,
    course: Option<Loose<'a>>,
    battery_level: Option<Loose<'a>>,
    device_id: Option<Loose<'a>>,
}

impl<'de> Fields<'de> for Properties<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        let slot = match key {
            "action" => &mut self.action,
            "type" => &mut self.kind,
            "timestamp" => &mut self.timestamp,
            "horizontal_accuracy" => &mut self.horizontal_accuracy,
            "speed" => &mut self.speed,
            "course" => &mut self.course,
            "battery_level" => &mut self.battery_level,
            "device_id" => &mut self.device_id,
            _ => return skip(map),
        };
        *slot = Some(map.next_value()?);
        Ok(())
    }
}

fn position(device: Uuid, feature: &Object<Feature<'_>>, current: bool) -> Result<Fix, Skip> {
    let feature = feature.get();
    let properties = feature
        .and_then(|f| f.properties.as_ref())
        .and_then(Object::get)
        .ok_or(Skip::Unparseable("properties"))?;
    match &properties.action {
        None | Some(Loose::Null) => {}
        Some(Loose::Text(action)) if action == "visit" => {
            return Err(Skip::NotPosition("overland_visit"))
        }
        Some(_) => return Err(Skip::NotPosition("overland_action")),
    }
    if properties.kind.as_ref().and_then(Loose::as_str) == Some("trip") {
        return Err(Skip::NotPosition("overland_trip"));
    }
    let geometry = match feature.and_then(|f| f.geometry.as_ref()) {
        None | Some(Object::Null) => return Err(Skip::NotPosition("overland_no_geometry")),
        Some(geometry) => geometry.get(),
    };
    let coordinate = |i: usize| {
        geometry
            .and_then(|g| g.coordinates.as_ref())
            .and_then(|Array(items)| items.as_ref())
            .and_then(|items| items.get(i))
            .and_then(Loose::as_f64)
            .filter(|n| n.is_finite())
            .ok_or(Skip::Unparseable("coordinates"))
    };
    if geometry
        .and_then(|g| g.kind.as_ref())
        .and_then(Loose::as_str)
        != Some("Point")
    {
        return Err(Skip::Unparseable("geometry"));
    }
    let field = |key: &'static str, value: &Option<Loose<'_>>| {
        json_number(value.as_ref()).map_err(|_| Skip::Unparseable(key))
    };
    let raw = Raw {
        // GeoJSON order: longitude first.
        lon: Some(coordinate(0)?),
        lat: Some(coordinate(1)?),
        recorded_at: Some(
            properties
                .timestamp
                .as_ref()
                .and_then(Loose::as_str)
                .and_then(parse_iso)
                .ok_or(Skip::Unparseable("timestamp"))?,
        ),
        accuracy_m: field("horizontal_accuracy", &properties.horizontal_accuracy)?,
        speed_mps: field("speed", &properties.speed)?,
        heading_deg: field("course", &properties.course)?,
        // 0 to 1, -1 when iOS does not know (and stays negative, so unknown).
        battery_pct: field("battery_level", &properties.battery_level)?.map(|level| level * 100.0),
        label: properties
            .device_id
            .as_ref()
            .and_then(Loose::as_str)
            .and_then(|id| label(id.into())),
    };
    raw.into_fix(device, current)
}
