//! What each app sends, byte for byte (tests/fixtures/README.md names the
//! source of every fixture), and what fieldcrm reads from it.

use chrono::{DateTime, Utc};
use fieldcrm_trackers::{
    former_ping_id, osmand, overland, owntracks, ping_id, token, Fix, Parsed, Request, Skip,
};
use uuid::Uuid;

const DEVICE: Uuid = Uuid::from_u128(0x0190d0f8_7b6c_7d2e_9a4b_5c3d2e1f0a9b);
const FORM_UTF8: &str = "application/x-www-form-urlencoded; charset=UTF-8";

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn body<'a>(body: &'a [u8], content_type: Option<&'static str>) -> Request<'a> {
    Request {
        content_type,
        body,
        ..Request::default()
    }
}

fn query(query: &str) -> Request<'_> {
    Request {
        query,
        ..Request::default()
    }
}

/// The one fix of an OsmAnd query string.
fn from_query(q: &str) -> Fix {
    one(osmand::parse(DEVICE, &query(q)))
}

fn one(parsed: Parsed) -> Fix {
    assert!(parsed.skipped.is_empty(), "{parsed:?}");
    assert_eq!(parsed.fixes.len(), 1, "{parsed:?}");
    parsed.fixes.into_iter().next().unwrap()
}

fn skipped(parsed: Parsed) -> Vec<Skip> {
    assert!(parsed.fixes.is_empty(), "{parsed:?}");
    parsed.skipped
}

fn close(actual: Option<f64>, expected: f64) {
    let actual = actual.expect("a value");
    assert!(
        (actual - expected).abs() < 1e-9,
        "{actual} is not {expected}"
    );
}

/// The fix all the Berlin fixtures describe.
fn assert_berlin(fix: &Fix) {
    assert_eq!(fix.reading.recorded_at, at("2025-12-05T10:20:00Z"));
    assert_eq!(fix.id, ping_id(DEVICE, fix.reading.recorded_at));
    assert_eq!(
        fix.former_id,
        former_ping_id(DEVICE, fix.reading.recorded_at)
    );
    assert_eq!((fix.reading.lat, fix.reading.lon), (52.520008, 13.404954));
    assert!(!fix.current);
}

// --- Traccar Client and GPSLogger (OsmAnd) --------------------------------

#[test]
fn traccar_10_form() {
    let fix = one(osmand::parse(
        DEVICE,
        &body(&fixture("traccar10_form.txt"), Some(FORM_UTF8)),
    ));
    assert_berlin(&fix);
    assert_eq!(fix.reading.accuracy_m, Some(3.9000000953674316));
    // 11.66 knots.
    close(fix.reading.speed_mps, 11.66 * 1852.0 / 3600.0);
    assert_eq!(fix.reading.heading_deg, Some(270.0));
    assert_eq!(fix.battery_pct, Some(76.0));
    assert_eq!(fix.label.as_deref(), Some("anna-van"));
}

#[test]
fn a_form_without_content_type_reads_the_same() {
    let form = fixture("traccar10_form.txt");
    assert_eq!(
        osmand::parse(DEVICE, &body(&form, None)),
        osmand::parse(DEVICE, &body(&form, Some(FORM_UTF8)))
    );
}

#[test]
fn traccar_10_heartbeat_has_no_fix() {
    let parsed = osmand::parse(
        DEVICE,
        &body(&fixture("traccar10_heartbeat.txt"), Some(FORM_UTF8)),
    );
    assert_eq!(skipped(parsed), [Skip::NoFix]);
}

#[test]
fn traccar_sdk_json_array() {
    let parsed = osmand::parse(
        DEVICE,
        &body(&fixture("traccar10_array.json"), Some("application/json")),
    );
    assert_eq!(parsed.skipped, [Skip::NoFix]);
    assert_eq!(parsed.fixes.len(), 2);
    assert_berlin(&parsed.fixes[0]);
    close(parsed.fixes[0].reading.speed_mps, 11.66 * 1852.0 / 3600.0);
    let second = &parsed.fixes[1];
    assert_eq!(second.reading.recorded_at, at("2025-12-05T10:22:00Z"));
    assert_eq!(second.reading.speed_mps, Some(0.0));
    assert_eq!(second.reading.heading_deg, Some(0.0));
    assert_eq!(second.reading.accuracy_m, Some(4.0));
    assert_eq!(second.battery_pct, Some(75.0));
}

#[test]
fn traccar_9_json_from_android() {
    let fix = one(osmand::parse(
        DEVICE,
        &body(&fixture("traccar9_android.json"), Some("application/json")),
    ));
    assert_eq!(fix.reading.recorded_at, at("2025-06-15T13:45:12.862Z"));
    assert_eq!(fix.id, ping_id(DEVICE, at("2025-06-15T13:45:12.862Z")));
    assert_eq!((fix.reading.lat, fix.reading.lon), (37.4219983, -122.084));
    assert_eq!(fix.reading.accuracy_m, Some(5.0));
    // m/s here, not knots.
    assert_eq!(fix.reading.speed_mps, Some(0.0));
    assert_eq!(fix.reading.heading_deg, None);
    assert_eq!(fix.battery_pct, Some(100.0));
    assert_eq!(fix.label.as_deref(), Some("48241179"));
}

#[test]
fn traccar_9_json_from_ios_with_unknowns() {
    let fix = one(osmand::parse(
        DEVICE,
        &body(
            &fixture("traccar9_ios.json"),
            Some("application/json; charset=utf-8"),
        ),
    ));
    assert_eq!(fix.reading.recorded_at, at("2025-05-09T04:11:30.579Z"));
    assert_eq!((fix.reading.lat, fix.reading.lon), (37.785834, -122.406417));
    assert_eq!(fix.reading.accuracy_m, Some(5.0));
    assert_eq!(fix.reading.speed_mps, None);
    assert_eq!(fix.reading.heading_deg, None);
    assert_eq!(fix.battery_pct, None);
}

#[test]
fn traccar_9_json_without_coords_is_a_heartbeat() {
    let json = br#"{"location":{"timestamp":"2025-12-05T10:20:00.000Z","is_moving":false,"event":"heartbeat","battery":{"level":0.5,"is_charging":false}},"device_id":"anna"}"#;
    let parsed = osmand::parse(DEVICE, &body(json, Some("application/json")));
    assert_eq!(skipped(parsed), [Skip::NoFix]);
}

#[test]
fn legacy_android_query_with_gps_accuracy_zero() {
    let query_string = String::from_utf8(fixture("traccar_android_query.txt")).unwrap();
    // HttpURLConnection posts no body; whether it names a form type or none,
    // the query is read.
    for content_type in [None, Some("application/x-www-form-urlencoded")] {
        let request = Request {
            content_type,
            ..query(&query_string)
        };
        let fix = one(osmand::parse(DEVICE, &request));
        assert_berlin(&fix);
        assert_eq!(fix.reading.accuracy_m, None);
        // m/s * 1.943844 on the phone.
        close(fix.reading.speed_mps, 11.663064 * 1852.0 / 3600.0);
        assert!((fix.reading.speed_mps.unwrap() - 6.0).abs() < 0.001);
        assert_eq!(fix.reading.heading_deg, Some(270.0));
        assert_eq!(fix.battery_pct, Some(76.0));
    }
}

#[test]
fn legacy_ios_query_with_unknown_accuracy() {
    let query_string = String::from_utf8(fixture("traccar_ios_query.txt")).unwrap();
    let fix = from_query(&query_string);
    assert_berlin(&fix);
    assert_eq!(fix.reading.accuracy_m, None);
    assert_eq!(fix.reading.speed_mps, None);
    assert_eq!(fix.reading.heading_deg, None);
    assert_eq!(fix.battery_pct, Some(76.0));
}

#[test]
fn gpslogger_body_without_content_type() {
    let fix = one(osmand::parse(
        DEVICE,
        &body(&fixture("gpslogger_body.txt"), None),
    ));
    assert_berlin(&fix);
    // `speed_mps` is m/s as it is.
    assert_eq!(fix.reading.speed_mps, Some(6.0));
    assert_eq!(fix.reading.accuracy_m, Some(3.9000000953674316));
    assert_eq!(fix.reading.heading_deg, Some(270.0));
    assert_eq!(fix.label.as_deref(), Some("anna-van"));
}

#[test]
fn a_resend_is_the_same_ping() {
    let form = fixture("traccar10_form.txt");
    let first = one(osmand::parse(DEVICE, &body(&form, None)));
    let again = one(osmand::parse(DEVICE, &body(&form, None)));
    assert_eq!(first.id, again.id);
    let other_device = one(osmand::parse(Uuid::from_u128(7), &body(&form, None)));
    assert_ne!(first.id, other_device.id);
}

#[test]
fn osmand_reads_json_only_when_the_content_type_says_so() {
    let form = fixture("traccar10_form.txt");
    let parsed = osmand::parse(DEVICE, &body(&form, Some("application/json")));
    assert_eq!(skipped(parsed), [Skip::Unparseable("body")]);
    // 9.x's template repeats the report as `&id=..&lat=..&` in its `_` field for
    // servers that read the body as a form: so does this one, as traccar does.
    let json = fixture("traccar9_android.json");
    let fix = one(osmand::parse(DEVICE, &body(&json, Some(FORM_UTF8))));
    assert_eq!(fix.reading.recorded_at, at("2025-06-15T13:45:12.862Z"));
    assert_eq!((fix.reading.lat, fix.reading.lon), (37.4219983, -122.084));
    assert_eq!(fix.reading.accuracy_m, None);
    assert_eq!(fix.label.as_deref(), Some("48241179"));
}

#[test]
fn osmand_prefers_a_query_with_a_report_over_the_body() {
    let form = fixture("traccar10_form.txt");
    let request = Request {
        query: "id=x&lat=1.5&lon=2.5&timestamp=1764930000",
        ..body(&form, Some(FORM_UTF8))
    };
    let fix = one(osmand::parse(DEVICE, &request));
    assert_eq!((fix.reading.lat, fix.reading.lon), (1.5, 2.5));
}

#[test]
fn osmand_reads_the_body_when_the_query_only_holds_setup_parameters() {
    let form = fixture("traccar10_form.txt");
    let request = Request {
        query: "id=anna-van&interval=60&distance=50&accuracy=high&buffer=true",
        ..body(&form, Some(FORM_UTF8))
    };
    assert_berlin(&one(osmand::parse(DEVICE, &request)));
    // Without a body such a query is a report without a fix, as on traccar.
    let request = query("id=anna-van&interval=60");
    assert_eq!(skipped(osmand::parse(DEVICE, &request)), [Skip::NoFix]);
}

#[test]
fn osmand_empty_requests() {
    assert_eq!(
        skipped(osmand::parse(DEVICE, &Request::default())),
        [Skip::Empty]
    );
    assert_eq!(
        skipped(osmand::parse(
            DEVICE,
            &body(b"  ", Some("application/json"))
        )),
        [Skip::Empty]
    );
    assert_eq!(
        skipped(osmand::parse(
            DEVICE,
            &body(b"[]", Some("application/json"))
        )),
        [Skip::Empty]
    );
}

#[test]
fn osmand_time_and_position_forms() {
    let fix = from_query("deviceid=van&location=52.520008,13.404954&timestamp=1764930000000");
    assert_berlin(&fix);
    assert_eq!(fix.label.as_deref(), Some("van"));
    let fix = from_query("lat=52.520008&lon=13.404954&timestamp=2025-12-05T10%3A20%3A00Z");
    assert_berlin(&fix);
    let fix =
        from_query("lat=52.520008&lon=13.404954&timestamp=2025-12-05+10%3A20%3A00&heading=360");
    assert_berlin(&fix);
    assert_eq!(fix.reading.heading_deg, Some(0.0));
    // The last of a repeated key wins, as in traccar.
    let fix = from_query("lat=1&lat=52.520008&lon=13.404954&timestamp=1764930000");
    assert_berlin(&fix);
    // `speed_mps` wins over knots, whatever the order.
    let fix = from_query("speed_mps=2.5&lat=52.5&lon=13.4&timestamp=1764930000&speed=10");
    assert_eq!(fix.reading.speed_mps, Some(2.5));
    // Empty optional values are absent.
    let fix = from_query("lat=52.5&lon=13.4&timestamp=1764930000&accuracy=&speed=&batt=");
    assert_eq!(
        (
            fix.reading.accuracy_m,
            fix.reading.speed_mps,
            fix.battery_pct
        ),
        (None, None, None)
    );
}

#[test]
fn osmand_unparseable_fields_are_named() {
    let cases = [
        ("lat=north&lon=13.4&timestamp=1764930000", "lat"),
        ("lat=52.5&lon=NaN&timestamp=1764930000", "lon"),
        ("lat=52.5&lon=13.4", "timestamp"),
        ("lat=52.5&lon=13.4&timestamp=yesterday", "timestamp"),
        ("location=52.5&timestamp=1764930000", "location"),
        ("location=52.5,east&timestamp=1764930000", "location"),
        (
            "lat=52.5&lon=13.4&timestamp=1764930000&accuracy=good",
            "accuracy",
        ),
        ("lat=52.5&lon=13.4&timestamp=1764930000&speed=fast", "speed"),
        (
            "lat=52.5&lon=13.4&timestamp=1764930000&bearing=nw",
            "bearing",
        ),
        ("lat=52.5&lon=13.4&timestamp=1764930000&batt=full", "batt"),
        ("lat=52.5&timestamp=1764930000", "lon"),
    ];
    for (q, field) in cases {
        assert_eq!(
            skipped(osmand::parse(DEVICE, &query(q))),
            [Skip::Unparseable(field)],
            "{q}"
        );
    }
    let json = br#"[{"lat":{"a":1},"lon":13.4,"timestamp":1764930000}]"#;
    assert_eq!(
        skipped(osmand::parse(DEVICE, &body(json, Some("application/json")))),
        [Skip::Unparseable("lat")]
    );
    let json = br#"{"location":{"timestamp":"2025-12-05T10:20:00Z","coords":{"latitude":"x","longitude":1}}}"#;
    assert_eq!(
        skipped(osmand::parse(DEVICE, &body(json, Some("application/json")))),
        [Skip::Unparseable("latitude")]
    );
    let json = br#"{"location":{"timestamp":"today","coords":{"latitude":1,"longitude":1}}}"#;
    assert_eq!(
        skipped(osmand::parse(DEVICE, &body(json, Some("application/json")))),
        [Skip::Unparseable("timestamp")]
    );
}

#[test]
fn a_token_typed_as_the_device_name_is_no_label() {
    let q = format!(
        "id={}&lat=52.5&lon=13.4&timestamp=1764930000",
        token::new_device_token()
    );
    assert_eq!(from_query(&q).label, None);
}

#[test]
fn osmand_answer_is_200_empty() {
    assert_eq!(osmand::ANSWER.status, 200);
    assert_eq!(osmand::ANSWER.content_type, None);
    assert_eq!(osmand::ANSWER.body, b"");
}

// --- Overland -------------------------------------------------------------

fn overland(body_bytes: &[u8]) -> Parsed {
    overland::parse(DEVICE, &body(body_bytes, Some("application/json")))
}

#[test]
fn overland_batch_with_events_and_current() {
    let parsed = overland(&fixture("overland_small.json"));
    assert_eq!(
        parsed.skipped,
        [
            Skip::NotPosition("overland_action"),
            Skip::NotPosition("overland_visit"),
            Skip::NotPosition("overland_trip"),
        ]
    );
    assert_eq!(parsed.fixes.len(), 3);
    let first = &parsed.fixes[0];
    assert_berlin(first);
    assert_eq!(first.reading.accuracy_m, Some(8.0));
    assert_eq!(first.reading.speed_mps, Some(6.0));
    assert_eq!(first.reading.heading_deg, Some(270.0));
    assert_eq!(first.battery_pct, Some(76.0));
    assert_eq!(first.label.as_deref(), Some("anna-van"));
    let unknowns = &parsed.fixes[1];
    assert_eq!(unknowns.reading.recorded_at, at("2025-12-05T10:27:00Z"));
    assert_eq!(
        (unknowns.reading.lat, unknowns.reading.lon),
        (52.5201, 13.4051)
    );
    assert_eq!(unknowns.reading.accuracy_m, Some(65.0));
    assert_eq!(unknowns.reading.speed_mps, None);
    assert_eq!(unknowns.reading.heading_deg, None);
    assert_eq!(unknowns.battery_pct, None);
    let current = &parsed.fixes[2];
    assert!(current.current);
    assert!(!unknowns.current);
    assert_eq!(current.reading.recorded_at, at("2025-12-05T11:00:00Z"));
    assert_eq!(current.id, ping_id(DEVICE, at("2025-12-05T11:00:00Z")));
}

#[test]
fn overland_readme_example_with_an_offset() {
    let fix = one(overland(&fixture("overland_readme.json")));
    assert_eq!(fix.reading.recorded_at, at("2015-10-01T15:00:00Z"));
    assert_eq!((fix.reading.lat, fix.reading.lon), (37.3318, -122.030581));
    assert_eq!(fix.reading.accuracy_m, Some(30.0));
    assert_eq!(fix.reading.speed_mps, Some(4.0));
    assert_eq!(fix.reading.heading_deg, None);
    assert_eq!(fix.battery_pct, Some(80.0));
    assert_eq!(fix.label, None);
}

/// One feature as `currentDictionaryFromLocation` and `addMetadataToUpdate`
/// build it with tracking stats on, as NSJSONSerialization writes it.
fn overland_feature(i: usize, start: i64) -> String {
    let t = DateTime::from_timestamp(start + i as i64 * 5, 0).unwrap();
    let ts = t.format("%Y-%m-%dT%H:%M:%SZ");
    let (lon, lat) = (13.4049541 + i as f64 * 1e-5, 52.5200083 + i as f64 * 1e-5);
    match i % 50 {
        // Overland's own events between the points.
        7 => format!(
            r#"{{"type":"Feature","properties":{{"timestamp":"{ts}","action":"resumed_location_updates","device_id":"anna-van","battery_state":"unplugged","battery_level":0.81}}}}"#
        ),
        19 => format!(
            r#"{{"type":"Feature","geometry":{{"type":"Point","coordinates":[{lon},{lat}]}},"properties":{{"timestamp":"{ts}","action":"visit","arrival_date":"{ts}","departure_date":null,"horizontal_accuracy":25,"device_id":"anna-van","battery_state":"unplugged","battery_level":0.81}}}}"#
        ),
        33 => format!(
            r#"{{"type":"Feature","geometry":{{"type":"Point","coordinates":[{lon},{lat}]}},"properties":{{"timestamp":"{ts}","type":"trip","mode":"car","start":"{ts}","end":"{ts}","start_location":null,"end_location":null,"duration":600,"distance":4023.7,"stopped_automatically":true,"steps":0,"device_id":"anna-van","battery_state":"unplugged","battery_level":0.81}}}}"#
        ),
        _ => format!(
            r#"{{"type":"Feature","geometry":{{"type":"Point","coordinates":[{lon},{lat}]}},"properties":{{"timestamp":"{ts}","altitude":41,"speed":13,"course":271,"horizontal_accuracy":5,"vertical_accuracy":3,"speed_accuracy":0.36,"course_accuracy":9.42,"motion":["driving"],"pauses":false,"activity":"automotive_navigation","desired_accuracy":-1,"tracking_mode":2,"locations_in_payload":1,"trip_id":"2025-12-05T08:00:00Z","device_id":"anna-van","battery_state":"unplugged","battery_level":0.81,"wifi":"Depot"}}}}"#
        ),
    }
}

fn overland_batch(features: usize, start: i64) -> String {
    let locations: Vec<String> = (0..features).map(|i| overland_feature(i, start)).collect();
    let current = overland_feature(features + 100, start);
    let trip = r#"{"mode":"car","start":"2025-12-05T08:00:00Z","distance":41000.2,"start_location":null,"current_location":null}"#;
    format!(
        r#"{{"locations":[{}],"current":{current},"trip":{trip}}}"#,
        locations.join(",")
    )
}

#[test]
fn overland_thousand_point_batch() {
    let start = 1_764_921_600; // 2025-12-05T08:00:00Z
    let batch = overland_batch(overland::MAX_BATCH, start);
    // About 600 bytes a point: the body limit of the endpoint must allow this.
    assert!(
        (500_000..800_000).contains(&batch.len()),
        "{} bytes",
        batch.len()
    );
    let parsed = overland(batch.as_bytes());
    // 20 of each event kind among 1000 features.
    assert_eq!(parsed.skipped.len(), 60);
    assert_eq!(
        parsed
            .skipped
            .iter()
            .filter(|s| **s == Skip::NotPosition("overland_action"))
            .count(),
        20
    );
    assert_eq!(parsed.fixes.len(), 940 + 1);
    assert_eq!(parsed.fixes.iter().filter(|f| f.current).count(), 1);
    let ids: std::collections::HashSet<Uuid> = parsed.fixes.iter().map(|f| f.id).collect();
    assert_eq!(ids.len(), 941);
    // Resent at the next interval: the same ids.
    assert_eq!(overland(batch.as_bytes()), parsed);
}

#[test]
fn overland_current_repeats_its_id_when_it_comes_in_a_batch() {
    let start = 1_764_921_600;
    let now = overland(overland_batch(3, start).as_bytes());
    let current = now.fixes.iter().find(|f| f.current).unwrap().clone();
    let later =
        overland(format!(r#"{{"locations":[{}]}}"#, overland_feature(103, start)).as_bytes());
    assert_eq!(one(later).id, current.id);
}

#[test]
fn overland_malformed() {
    assert_eq!(skipped(overland(b"")), [Skip::Empty]);
    assert_eq!(skipped(overland(b"{}")), [Skip::Unparseable("locations")]);
    assert_eq!(skipped(overland(b"[]")), [Skip::Unparseable("body")]);
    assert_eq!(skipped(overland(br#"{"locations":[]}"#)), [Skip::Empty]);
    assert_eq!(
        skipped(overland(b"{\"locations\":")),
        [Skip::Unparseable("body")]
    );
    let item = |feature: &str| overland(format!(r#"{{"locations":[{feature}]}}"#).as_bytes());
    let cases = [
        (r#"{"type":"Feature"}"#, Skip::Unparseable("properties")),
        (
            r#"{"type":"Feature","geometry":null,"properties":{"timestamp":"2025-12-05T10:20:00Z"}}"#,
            Skip::NotPosition("overland_no_geometry"),
        ),
        (
            r#"{"type":"Feature","geometry":{"type":"LineString","coordinates":[[1,2],[3,4]]},"properties":{"timestamp":"2025-12-05T10:20:00Z"}}"#,
            Skip::Unparseable("geometry"),
        ),
        (
            r#"{"type":"Feature","geometry":{"type":"Point","coordinates":[13.4]},"properties":{"timestamp":"2025-12-05T10:20:00Z"}}"#,
            Skip::Unparseable("coordinates"),
        ),
        (
            r#"{"type":"Feature","geometry":{"type":"Point","coordinates":[13.4,52.5]},"properties":{"timestamp":"05.12.2025 10:20"}}"#,
            Skip::Unparseable("timestamp"),
        ),
        (
            r#"{"type":"Feature","geometry":{"type":"Point","coordinates":[13.4,52.5]},"properties":{}}"#,
            Skip::Unparseable("timestamp"),
        ),
        (
            r#"{"type":"Feature","geometry":{"type":"Point","coordinates":[13.4,52.5]},"properties":{"timestamp":"2025-12-05T10:20:00Z","speed":"fast"}}"#,
            Skip::Unparseable("speed"),
        ),
        (
            r#"{"type":"Feature","geometry":{"type":"Point","coordinates":[13.4,52.5]},"properties":{"timestamp":"2025-12-05T10:20:00Z","action":{"x":1}}}"#,
            Skip::NotPosition("overland_action"),
        ),
    ];
    for (feature, skip) in cases {
        assert_eq!(skipped(item(feature)), [skip], "{feature}");
    }
}

/// The batch is read as JSON is: whatever else a feature holds and of
/// whatever shape, escapes in keys and text, and the last of a repeated key.
#[test]
fn overland_reads_its_fields_as_json_has_them() {
    let feature = |properties: &str| {
        format!(
            r#"{{"locations":[{{"type":"Feature","geometry":{{"type":"Point","coordinates":[13.4,52.5,34.0]}},"properties":{{{properties}}}}}]}}"#
        )
    };
    let fix = one(overland(
        feature(
            r#""motion":["driving",{"deep":[[1,{"x":null}]]}],"wifi":"","pauses":false,"altitude":{"a":1},"timestamp":"2025-12-05T10:20:00Z","speed":"7","device_id":"Anna\u0027s van""#,
        )
        .as_bytes(),
    ));
    assert_eq!(fix.reading.recorded_at, at("2025-12-05T10:20:00Z"));
    assert_eq!(fix.reading.speed_mps, Some(7.0));
    assert_eq!(fix.label.as_deref(), Some("Anna's van"));
    // The last of a repeated key counts, as in any JSON object read whole.
    let fix = one(overland(
        feature(r#""timestamp":"2025-12-05T10:20:00Z","speed":"fast","speed":3,"timestamp":"2025-12-05T10:21:00Z""#)
            .as_bytes(),
    ));
    assert_eq!(fix.reading.recorded_at, at("2025-12-05T10:21:00Z"));
    assert_eq!(fix.reading.speed_mps, Some(3.0));
    // An escaped key is the key it spells.
    let fix = one(overland(
        feature(r#""timestamp":"2025-12-05T10:20:00Z","spe\u0065d":5"#).as_bytes(),
    ));
    assert_eq!(fix.reading.speed_mps, Some(5.0));
    // A field of a shape no number has is named; `current: null` is no position.
    let parsed = overland(
        br#"{"locations":[{"geometry":{"type":"Point","coordinates":[13.4,52.5]},"properties":{"timestamp":"2025-12-05T10:20:00Z","course":[1]}},7,null],"current":null}"#,
    );
    assert_eq!(
        skipped(parsed),
        [
            Skip::Unparseable("course"),
            Skip::Unparseable("properties"),
            Skip::Unparseable("properties"),
        ]
    );
    assert_eq!(
        skipped(overland(br#"{"locations":null}"#)),
        [Skip::Unparseable("locations")]
    );
    assert_eq!(skipped(overland(b"null")), [Skip::Unparseable("body")]);
    assert_eq!(
        skipped(overland(br#"{"locations":[]} trailing"#)),
        [Skip::Unparseable("body")]
    );
}

#[test]
fn overland_answer_is_result_ok_as_json() {
    assert_eq!(overland::ANSWER.status, 200);
    assert_eq!(overland::ANSWER.content_type, Some("application/json"));
    let answer: serde_json::Value = serde_json::from_slice(overland::ANSWER.body).unwrap();
    assert_eq!(answer["result"], "ok");
}

// --- OwnTracks ------------------------------------------------------------

fn owntracks(body_bytes: &[u8], device_name: Option<&'static str>) -> Parsed {
    let request = Request {
        limit_device: device_name,
        ..body(body_bytes, Some("application/json; charset=utf-8"))
    };
    owntracks::parse(DEVICE, &request)
}

#[test]
fn owntracks_android_location() {
    let fix = one(owntracks(
        &fixture("owntracks_location.json"),
        Some("anna-van"),
    ));
    assert_berlin(&fix);
    assert_eq!(fix.reading.accuracy_m, Some(8.0));
    close(fix.reading.speed_mps, 21.0 / 3.6);
    assert_eq!(fix.reading.heading_deg, Some(270.0));
    assert_eq!(fix.battery_pct, Some(76.0));
    assert_eq!(fix.label.as_deref(), Some("anna-van"));
    // Without the X-Limit-D header, the tracker id names it.
    let fix = one(owntracks(&fixture("owntracks_location.json"), None));
    assert_eq!(fix.label.as_deref(), Some("an"));
}

#[test]
fn owntracks_ios_location_without_speed_and_course() {
    let fix = one(owntracks(
        &fixture("owntracks_location_ios.json"),
        Some("anna-van"),
    ));
    assert_berlin(&fix);
    assert_eq!(fix.reading.speed_mps, None);
    assert_eq!(fix.reading.heading_deg, None);
    assert_eq!(fix.reading.accuracy_m, Some(8.0));
}

#[test]
fn owntracks_same_tst_is_the_same_ping() {
    let location = fixture("owntracks_location.json");
    let ios = fixture("owntracks_location_ios.json");
    assert_eq!(
        one(owntracks(&location, None)).id,
        one(owntracks(&ios, None)).id
    );
}

#[test]
fn owntracks_messages_that_are_no_position() {
    // A transition and a waypoint carry coordinates: still no position.
    assert_eq!(
        skipped(owntracks(
            &fixture("owntracks_transition.json"),
            Some("anna-van")
        )),
        [Skip::NotPosition("owntracks_transition")]
    );
    assert_eq!(
        skipped(owntracks(
            &fixture("owntracks_waypoint.json"),
            Some("anna-van")
        )),
        [Skip::NotPosition("owntracks_waypoint")]
    );
    // MessageClear serialises to "": the app posts an empty body.
    assert_eq!(skipped(owntracks(b"", Some("anna-van"))), [Skip::Empty]);
    assert_eq!(skipped(owntracks(b"[]", None)), [Skip::Empty]);
    assert_eq!(
        skipped(owntracks(
            br#"{"_type":"status","android":{"wifi":1}}"#,
            None
        )),
        [Skip::NotPosition("owntracks_status")]
    );
    assert_eq!(
        skipped(owntracks(br#"{"_type":"something-new"}"#, None)),
        [Skip::NotPosition("owntracks_other")]
    );
    assert_eq!(
        skipped(owntracks(br#"{"lat":1,"lon":2,"tst":1764930000}"#, None)),
        [Skip::NotPosition("owntracks_untyped")]
    );
}

#[test]
fn owntracks_array_of_messages() {
    let mut array = b"[".to_vec();
    array.extend(fixture("owntracks_location.json"));
    array.push(b',');
    array.extend(fixture("owntracks_waypoint.json"));
    array.push(b']');
    let parsed = owntracks(&array, None);
    assert_eq!(parsed.fixes.len(), 1);
    assert_eq!(parsed.skipped, [Skip::NotPosition("owntracks_waypoint")]);
}

#[test]
fn owntracks_malformed() {
    let cases: [(&[u8], Skip); 6] = [
        (b"not json", Skip::Unparseable("body")),
        (b"42", Skip::Unparseable("body")),
        (
            br#"{"_type":"location","lat":52.5,"lon":13.4,"tst":0,"tid":"an"}"#,
            Skip::Unparseable("tst"),
        ),
        (
            br#"{"_type":"location","lat":52.5,"lon":13.4,"tid":"an"}"#,
            Skip::Unparseable("tst"),
        ),
        (
            br#"{"_type":"location","lon":13.4,"tst":1764930000,"tid":"an"}"#,
            Skip::Unparseable("lat"),
        ),
        (
            br#"{"_type":"location","lat":52.5,"lon":13.4,"tst":1764930000,"vel":"fast"}"#,
            Skip::Unparseable("vel"),
        ),
    ];
    for (message, skip) in cases {
        assert_eq!(
            skipped(owntracks(message, None)),
            [skip],
            "{}",
            String::from_utf8_lossy(message)
        );
    }
}

#[test]
fn owntracks_answer_is_an_empty_array() {
    assert_eq!(owntracks::ANSWER.status, 200);
    assert_eq!(owntracks::ANSWER.content_type, Some("application/json"));
    assert_eq!(owntracks::ANSWER.body, b"[]");
}

#[test]
fn skips_have_fixed_counter_names() {
    assert_eq!(Skip::Empty.as_str(), "empty");
    assert_eq!(Skip::NoFix.as_str(), "no_fix");
    assert_eq!(Skip::NotPosition("overland_trip").as_str(), "not_position");
    assert_eq!(Skip::Unparseable("lat").as_str(), "unparseable");
}
