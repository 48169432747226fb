//! The free GPS apps technicians already carry, as fieldcrm understands them:
//! what Traccar Client (and GPSLogger through the same OsmAnd format), Overland
//! and OwnTracks send, turned into readings; what each needs back so its queue
//! moves on; device tokens; and the links and QR codes that set the apps up.
//!
//! No HTTP framework and no database: an adapter hands over what it has of a
//! request ([`Request`]) and the device's server-side id, and gets [`Fix`]es
//! for the ingest and a [`Skip`] for everything that is not a position, so it
//! can answer 2xx and count it.

use std::borrow::Cow;

use chrono::{DateTime, NaiveDateTime, Utc};
use fieldcrm_domain::tracking::Reading;
use loose::Loose;
use uuid::Uuid;

mod loose;
pub mod osmand;
pub mod overland;
pub mod owntracks;
pub mod setup;
pub mod token;

/// What an HTTP adapter has of a request, as it arrived.
#[derive(Debug, Clone, Copy, Default)]
pub struct Request<'a> {
    /// The `Content-Type` header's value, if any (GPSLogger sends none).
    pub content_type: Option<&'a str>,
    /// The raw query string, without the `?`.
    pub query: &'a str,
    pub body: &'a [u8],
    /// OwnTracks' `X-Limit-D` header: the device name set in the app.
    pub limit_device: Option<&'a str>,
}

/// One position a device reported.
#[derive(Debug, Clone, PartialEq)]
pub struct Fix {
    /// The same for every resend of this fix: see [`ping_id`].
    pub id: Uuid,
    /// The id the same fix was stored under before ids began with the fix's
    /// time ([`former_ping_id`]): a phone may resend a fix it sent before an
    /// upgrade, and that resend is still a duplicate.
    pub former_id: Uuid,
    pub reading: Reading,
    /// The name the app gives itself: shown to people, never a credential.
    pub label: Option<String>,
    /// Battery level in percent (0 to 100), when the app sends it.
    pub battery_pct: Option<f64>,
    /// Overland's `current`: the newest fix, sent beside a long backlog. It
    /// updates the live position now and is a duplicate when it comes again
    /// inside a later batch.
    pub current: bool,
}

/// Why part of a request is not a position. The request is still answered
/// 2xx: a refusal would stop the phone's queue behind it for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// Nothing in the body (OwnTracks sends these).
    Empty,
    /// A report without a position: Traccar's heartbeat.
    NoFix,
    /// A message of another kind (Overland `action`, `visit`, `trip`; an
    /// OwnTracks `waypoint`, `transition`...), named by a fixed label.
    NotPosition(&'static str),
    /// A field that is missing or cannot be read, by the wire name of the field
    /// (`body` when the whole body is not of the format).
    Unparseable(&'static str),
}

impl Skip {
    /// A fixed name for counters and logs: `empty`, `no_fix`, `not_position`
    /// or `unparseable`. Never a value from the request.
    pub fn as_str(self) -> &'static str {
        match self {
            Skip::Empty => "empty",
            Skip::NoFix => "no_fix",
            Skip::NotPosition(_) => "not_position",
            Skip::Unparseable(_) => "unparseable",
        }
    }
}

/// What one request carried.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parsed {
    pub fixes: Vec<Fix>,
    pub skipped: Vec<Skip>,
}

impl Parsed {
    fn skip(skip: Skip) -> Self {
        Self {
            fixes: Vec::new(),
            skipped: vec![skip],
        }
    }

    fn push(&mut self, item: Result<Fix, Skip>) {
        match item {
            Ok(fix) => self.fixes.push(fix),
            Err(skip) => self.skipped.push(skip),
        }
    }
}

/// The HTTP answer an app takes as "delivered": a status, a content type and a
/// body. Every app gets its answer for what it sent, stored or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub content_type: Option<&'static str>,
    pub body: &'static [u8],
}

/// Names the pings of fieldcrm devices (random, fixed forever: changing it
/// would turn every resend of an old fix into a new ping).
const PING_NAMESPACE: Uuid = Uuid::from_u128(0xbb34d51a_48be_4540_851e_3804d87f7cae);

/// The id of the ping a device reports for a fix time: the time in
/// milliseconds in the first 48 bits, as in a UUIDv7, and the rest from
/// [`former_ping_id`] (a UUIDv8). A resend of the same fix (a retried request,
/// a replayed log, the same `tst` again) is a duplicate, two devices never
/// collide, and a device's pings sort by time: a batch's rows land side by
/// side in the index that keeps a person's pings in id order, where random
/// ids scattered them over as many pages as rows.
pub fn ping_id(device: Uuid, recorded_at: DateTime<Utc>) -> Uuid {
    id_in_time_order(recorded_at, former_ping_id(device, recorded_at))
}

fn id_in_time_order(recorded_at: DateTime<Utc>, former: Uuid) -> Uuid {
    let mut bytes = *former.as_bytes();
    // Two's complement keeps a fix before 1970 deterministic; such a fix is
    // outside every shift anyway.
    let millis = recorded_at.timestamp_millis().to_be_bytes();
    bytes[..6].copy_from_slice(&millis[2..]);
    Uuid::new_v8(bytes)
}

/// The id a device's ping had before [`ping_id`] (UUIDv5 of the device's
/// server-side id and the time in milliseconds). Fixed forever: the ingest
/// counts a fix stored under it as a duplicate of its resends.
pub fn former_ping_id(device: Uuid, recorded_at: DateTime<Utc>) -> Uuid {
    let mut name = [0u8; 24];
    name[..16].copy_from_slice(device.as_bytes());
    name[16..].copy_from_slice(&recorded_at.timestamp_millis().to_be_bytes());
    Uuid::new_v5(&PING_NAMESPACE, &name)
}

/// A fix's values as read from the wire, before the unknown markers are
/// turned into absent values.
#[derive(Debug, Default)]
struct Raw {
    recorded_at: Option<DateTime<Utc>>,
    lat: Option<f64>,
    lon: Option<f64>,
    accuracy_m: Option<f64>,
    speed_mps: Option<f64>,
    heading_deg: Option<f64>,
    battery_pct: Option<f64>,
    label: Option<String>,
}

impl Raw {
    /// The fix, or why there is none. No position at all is a heartbeat; (0, 0)
    /// is what phones report without a fix, not a place anyone works.
    fn into_fix(self, device: Uuid, current: bool) -> Result<Fix, Skip> {
        let (lat, lon) = match (self.lat, self.lon) {
            (None, None) => return Err(Skip::NoFix),
            (Some(_), None) => return Err(Skip::Unparseable("lon")),
            (None, Some(_)) => return Err(Skip::Unparseable("lat")),
            (Some(lat), Some(lon)) => (lat, lon),
        };
        if lat == 0.0 && lon == 0.0 {
            return Err(Skip::NoFix);
        }
        let recorded_at = self.recorded_at.ok_or(Skip::Unparseable("timestamp"))?;
        let former_id = former_ping_id(device, recorded_at);
        Ok(Fix {
            id: id_in_time_order(recorded_at, former_id),
            former_id,
            reading: Reading {
                recorded_at,
                lat,
                lon,
                accuracy_m: self.accuracy_m.filter(|a| *a > 0.0),
                speed_mps: self.speed_mps.filter(|s| *s >= 0.0),
                heading_deg: known_heading(self.heading_deg),
            },
            label: self.label,
            battery_pct: self.battery_pct.filter(|b| *b >= 0.0),
            current,
        })
    }
}

/// Negative is "unknown"; 360 is north, as 0.
fn known_heading(heading: Option<f64>) -> Option<f64> {
    heading
        .filter(|h| *h >= 0.0)
        .map(|h| if h == 360.0 { 0.0 } else { h })
}

/// A number as the apps write one; `Err` when it is not (NaN and infinities
/// included: no device means them).
fn number(text: &str) -> Result<f64, ()> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite())
        .ok_or(())
}

/// The numeric value of a JSON field: absent or `null` is `None`; a number,
/// or a string holding one, is read; anything else is an error.
fn json_number(value: Option<&Loose<'_>>) -> Result<Option<f64>, ()> {
    match value {
        None | Some(Loose::Null) => Ok(None),
        Some(Loose::Number(n)) if n.is_finite() => Ok(Some(*n)),
        Some(Loose::Number(_)) => Err(()),
        Some(Loose::Text(s)) if s.trim().is_empty() => Ok(None),
        Some(Loose::Text(s)) => number(s).map(Some),
        Some(Loose::Other) => Err(()),
    }
}

/// [`json_number`] of a field of a parsed JSON object.
fn value_number(value: Option<&serde_json::Value>) -> Result<Option<f64>, ()> {
    json_number(value.map(Loose::from).as_ref())
}

/// A time written as ISO 8601 with an offset: RFC 3339 (`Z`, `+02:00`,
/// fractions) or with the offset's colon left out (`-0700`), as Overland and
/// other senders of its format write it.
fn parse_iso(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// OsmAnd's `timestamp`, read as traccar's decoder reads it: an integer is
/// seconds below 2^31 - 1 and milliseconds from there; text with a `T` is
/// ISO 8601; otherwise `yyyy-MM-dd HH:mm:ss`, taken as UTC (traccar takes its
/// server's zone, which fieldcrm does not have).
fn parse_osmand_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(n) = text.parse::<i64>() {
        let ms = if n < i64::from(i32::MAX) {
            n.checked_mul(1000)?
        } else {
            n
        };
        return DateTime::from_timestamp_millis(ms);
    }
    if text.contains('T') {
        return parse_iso(text);
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
        .ok()
        .map(|t| t.and_utc())
}

/// Longest label kept, in characters.
const MAX_LABEL_CHARS: usize = 64;

/// A device's self-chosen name as something safe to show: trimmed, without
/// control characters, bounded. A device token is never a label, even when
/// someone typed one into the app's name field.
fn label(raw: Cow<'_, str>) -> Option<String> {
    let text: String = raw
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_LABEL_CHARS)
        .collect();
    if text.is_empty() || text.starts_with(token::DEVICE_TOKEN_PREFIX) {
        None
    } else {
        Some(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn ping_ids_repeat_for_a_resend_and_differ_by_device_and_millisecond() {
        let device = Uuid::from_u128(1);
        let t = at("2026-12-05T10:20:00.123Z");
        for id in [ping_id, former_ping_id] {
            assert_eq!(id(device, t), id(device, t));
            assert_ne!(id(device, t), id(Uuid::from_u128(2), t));
            assert_ne!(
                id(device, t),
                id(device, t + chrono::Duration::milliseconds(1))
            );
            // Below a millisecond is the same fix.
            assert_eq!(
                id(device, t),
                id(device, t + chrono::Duration::microseconds(400))
            );
        }
        assert_eq!(ping_id(device, t).get_version_num(), 8);
        assert_eq!(former_ping_id(device, t).get_version_num(), 5);
    }

    #[test]
    fn ping_ids_begin_with_the_fix_time() {
        let t = at("2026-12-05T10:20:00.123Z");
        let id = ping_id(Uuid::from_u128(1), t);
        let millis = u64::try_from(t.timestamp_millis()).unwrap();
        assert_eq!(id.as_u128() >> 80, u128::from(millis));
        // A device's ids sort as its fixes' times, whichever device and time.
        let ids: Vec<Uuid> = (0..2000)
            .map(|n| {
                ping_id(
                    Uuid::from_u128(7),
                    t + chrono::Duration::milliseconds(n * 997),
                )
            })
            .collect();
        assert!(ids.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn ping_ids_are_fixed_forever() {
        // A stored ping's id must come out the same after any upgrade: the
        // former id too, since stored pings keep it.
        let device = Uuid::parse_str("0190d0f8-7b6c-7d2e-9a4b-5c3d2e1f0a9b").unwrap();
        let t = at("2026-12-05T10:20:00Z");
        assert_eq!(ping_id(device, t).to_string(), PINNED_PING_ID);
        assert_eq!(former_ping_id(device, t).to_string(), PINNED_FORMER_PING_ID);
    }

    const PINNED_PING_ID: &str = "01a245b7-c080-8f88-8210-568a21352620";
    const PINNED_FORMER_PING_ID: &str = "cb3db3af-055c-5f88-8210-568a21352620";

    #[test]
    fn osmand_time_follows_traccar() {
        assert_eq!(
            parse_osmand_time("1764930000"),
            Some(at("2025-12-05T10:20:00Z"))
        );
        // 2^31 - 1 and above are milliseconds.
        assert_eq!(
            parse_osmand_time("2147483647"),
            DateTime::from_timestamp_millis(2_147_483_647)
        );
        assert_eq!(
            parse_osmand_time("2147483646"),
            DateTime::from_timestamp(2_147_483_646, 0)
        );
        assert_eq!(
            parse_osmand_time("1764930000123"),
            Some(at("2025-12-05T10:20:00.123Z"))
        );
        assert_eq!(
            parse_osmand_time("2016-01-27T18:55:47Z"),
            Some(at("2016-01-27T18:55:47Z"))
        );
        assert_eq!(
            parse_osmand_time("2014-06-04 09:10:11"),
            Some(at("2014-06-04T09:10:11Z"))
        );
        assert_eq!(parse_osmand_time("yesterday"), None);
        assert_eq!(parse_osmand_time("2016-01-27T18:55:47"), None);
        assert_eq!(parse_osmand_time(""), None);
    }

    #[test]
    fn iso_times_are_read_leniently() {
        let t = at("2015-10-01T15:00:00Z");
        assert_eq!(parse_iso("2015-10-01T15:00:00Z"), Some(t));
        assert_eq!(parse_iso("2015-10-01T08:00:00-0700"), Some(t));
        assert_eq!(parse_iso("2015-10-01T08:00:00-07:00"), Some(t));
        assert_eq!(
            parse_iso("2015-10-01T15:00:00.250Z"),
            Some(t + chrono::Duration::milliseconds(250))
        );
        assert_eq!(
            parse_iso("2015-10-01T08:00:00.5-0700"),
            Some(t + chrono::Duration::milliseconds(500))
        );
        assert_eq!(parse_iso("2015-10-01 15:00:00"), None);
        assert_eq!(parse_iso("2015-10-01T15:00:00"), None);
    }

    #[test]
    fn labels_are_cleaned_and_never_a_token() {
        assert_eq!(label(" anna van\u{7} ".into()).as_deref(), Some("anna van"));
        assert_eq!(label("  ".into()), None);
        assert_eq!(label(token::new_device_token().into()), None);
        assert_eq!(label("é".repeat(100).into()).unwrap().chars().count(), 64);
    }

    #[test]
    fn unknown_markers_become_absent() {
        let raw = |accuracy, speed, heading, battery| Raw {
            recorded_at: Some(at("2026-12-05T10:20:00Z")),
            lat: Some(52.5),
            lon: Some(13.4),
            accuracy_m: Some(accuracy),
            speed_mps: Some(speed),
            heading_deg: Some(heading),
            battery_pct: Some(battery),
            label: None,
        };
        let measured = |accuracy, speed, heading, battery| {
            let fix = raw(accuracy, speed, heading, battery)
                .into_fix(Uuid::nil(), false)
                .unwrap();
            let r = fix.reading;
            (r.accuracy_m, r.speed_mps, r.heading_deg, fix.battery_pct)
        };
        assert_eq!(measured(-1.0, -1.0, -1.0, -1.0), (None, None, None, None));
        assert_eq!(
            measured(0.0, 0.0, 360.0, 0.0),
            (None, Some(0.0), Some(0.0), Some(0.0))
        );
        assert_eq!(
            measured(8.0, 3.0, 270.0, 76.0),
            (Some(8.0), Some(3.0), Some(270.0), Some(76.0))
        );
    }

    #[test]
    fn a_fix_needs_both_coordinates_and_a_time() {
        let t = Some(at("2026-12-05T10:20:00Z"));
        let fix = |lat, lon, recorded_at| {
            Raw {
                recorded_at,
                lat,
                lon,
                ..Raw::default()
            }
            .into_fix(Uuid::nil(), false)
        };
        assert_eq!(fix(None, None, t), Err(Skip::NoFix));
        assert_eq!(fix(Some(0.0), Some(0.0), t), Err(Skip::NoFix));
        assert_eq!(fix(Some(52.5), None, t), Err(Skip::Unparseable("lon")));
        assert_eq!(fix(None, Some(13.4), t), Err(Skip::Unparseable("lat")));
        assert_eq!(
            fix(Some(52.5), Some(13.4), None),
            Err(Skip::Unparseable("timestamp"))
        );
        assert!(fix(Some(0.0), Some(13.4), t).is_ok());
    }
}
