//! Tracker apps on technicians' phones: device tokens, their setup, and the
//! OsmAnd (Traccar Client, GPSLogger), Overland and OwnTracks endpoints, fed
//! byte for byte what each app sends (crates/trackers/tests/fixtures, whose
//! README names the source of each).

use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use fieldcrm_test_support::{holders_of, rows_referring_to, spawn_app_with, Signed, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const FORM_UTF8: &str = "application/x-www-form-urlencoded; charset=UTF-8";
const OWNTRACKS_JSON: &str = "application/json; charset=utf-8";

/// The server as tests run it, without the upkeep task: the fixtures are of
/// 2025, and upkeep would close a shift that old and purge its pings.
async fn app() -> TestApp {
    spawn_app_with(|s| s.maintenance_interval_secs = 0).await
}

/// The same, with no per-person rate: fixes of the same time, or a
/// millisecond apart, are each judged by their ids alone.
async fn app_without_rate() -> TestApp {
    spawn_app_with(|s| {
        s.maintenance_interval_secs = 0;
        s.ping_min_interval_ms = 0;
    })
    .await
}

pub(crate) async fn issue(app: &TestApp, by: &Signed, user_id: &str, label: &str) -> Value {
    let response = app
        .call(
            Method::POST,
            &format!("/v1/users/{user_id}/devices"),
            &by.access,
            Some(json!({"label": label})),
        )
        .await;
    assert_eq!(response.status(), 201, "issue a device");
    response.json().await.unwrap()
}

/// The first page of a person's devices, as `who` sees it.
pub(crate) async fn devices_of(app: &TestApp, who: &Signed, user_id: &str) -> Value {
    let response = app
        .call(
            Method::GET,
            &format!("/v1/users/{user_id}/devices"),
            &who.access,
            None,
        )
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn token(device: &Value) -> String {
    device["token"].as_str().unwrap().to_owned()
}

async fn clock_in(app: &TestApp, who: &Signed) -> String {
    let response = app
        .call(Method::POST, "/v1/shifts/clock-in", &who.access, None)
        .await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["traccar_link"], "org.traccar.client://action/start");
    body["id"].as_str().unwrap().to_owned()
}

/// Sets a shift's window directly, as if it had been worked then.
fn set_shift(app: &TestApp, shift_id: &str, start: DateTime<Utc>, end: Option<DateTime<Utc>>) {
    use diesel::prelude::*;
    use fieldcrm_db::schema::shifts;
    let id: fieldcrm_db::Id<fieldcrm_db::shifts::Shift> =
        fieldcrm_db::Id::from_uuid(shift_id.parse().unwrap());
    let mut conn = app.pool.get().unwrap();
    let updated = diesel::update(shifts::table.find(id))
        .set((
            shifts::clock_in_at.eq(fieldcrm_db::Ts::from(start)),
            shifts::clock_out_at.eq(end.map(fieldcrm_db::Ts::from)),
        ))
        .execute(&mut *conn)
        .unwrap();
    assert_eq!(updated, 1);
}

/// Every position stored for a person, in any table.
fn positions_of(app: &TestApp, user_id: &str) -> i64 {
    rows_referring_to(app, "user_id", user_id.parse().unwrap())
        .into_iter()
        .filter(|(table, _)| table == "pings")
        .map(|(_, n)| n)
        .sum()
}

/// One request as an app sends it.
struct Send<'a> {
    method: Method,
    path: String,
    content_type: Option<&'a str>,
    authorization: Option<String>,
    body: Vec<u8>,
}

impl<'a> Send<'a> {
    fn post(path: String, content_type: Option<&'a str>, body: &[u8]) -> Self {
        Self {
            method: Method::POST,
            path,
            content_type,
            authorization: None,
            body: body.to_vec(),
        }
    }

    fn auth(mut self, value: String) -> Self {
        self.authorization = Some(value);
        self
    }

    async fn to(self, app: &TestApp) -> reqwest::Response {
        let mut request = app.client.request(self.method, app.url(&self.path));
        if let Some(content_type) = self.content_type {
            request = request.header("content-type", content_type);
        }
        if let Some(authorization) = self.authorization {
            request = request.header("authorization", authorization);
        }
        request.body(self.body).send().await.unwrap()
    }
}

fn basic(token: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("fieldcrm:{token}"))
    )
}

/// What each app needs back to delete what it sent.
async fn assert_answer(response: reqwest::Response, app: App, case: &str) {
    assert_eq!(response.status(), 200, "{case}");
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.bytes().await.unwrap();
    match app {
        App::OsmAnd => assert!(body.is_empty(), "{case}"),
        App::Overland => {
            assert_eq!(content_type.as_deref(), Some("application/json"), "{case}");
            assert_eq!(
                serde_json::from_slice::<Value>(&body).unwrap(),
                json!({"result": "ok"}),
                "{case}"
            );
        }
        App::OwnTracks => {
            assert_eq!(content_type.as_deref(), Some("application/json"), "{case}");
            assert_eq!(&body[..], b"[]", "{case}");
        }
    }
}

#[derive(Clone, Copy)]
enum App {
    OsmAnd,
    Overland,
    OwnTracks,
}

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!("../../crates/trackers/tests/fixtures/", $name)).as_slice()
    };
}

/// One Overland feature as the app writes it (tracking stats on), `i`
/// seconds after `start`; every 50 features hold an `action`, a `visit` and
/// a `trip` item, which are no positions.
fn overland_feature(i: usize, start: DateTime<Utc>) -> (String, bool) {
    let ts = (start + Duration::seconds(i as i64)).format("%Y-%m-%dT%H:%M:%SZ");
    let (lon, lat) = (13.4049541 + i as f64 * 1e-5, 52.5200083 + i as f64 * 1e-5);
    let point = format!(r#""geometry":{{"type":"Point","coordinates":[{lon},{lat}]}}"#);
    match i % 50 {
        7 => (
            format!(
                r#"{{"type":"Feature","properties":{{"timestamp":"{ts}","action":"resumed_location_updates","device_id":"anna-van","battery_state":"unplugged","battery_level":0.81}}}}"#
            ),
            false,
        ),
        19 => (
            format!(
                r#"{{"type":"Feature",{point},"properties":{{"timestamp":"{ts}","action":"visit","arrival_date":"{ts}","departure_date":null,"horizontal_accuracy":25,"device_id":"anna-van","battery_state":"unplugged","battery_level":0.81}}}}"#
            ),
            false,
        ),
        33 => (
            format!(
                r#"{{"type":"Feature",{point},"properties":{{"timestamp":"{ts}","type":"trip","mode":"car","start":"{ts}","end":"{ts}","start_location":null,"end_location":null,"duration":600,"distance":4023.7,"stopped_automatically":true,"steps":0,"device_id":"anna-van","battery_state":"unplugged","battery_level":0.81}}}}"#
            ),
            false,
        ),
        _ => (
            format!(
                r#"{{"type":"Feature",{point},"properties":{{"timestamp":"{ts}","altitude":41,"speed":13,"course":271,"horizontal_accuracy":5,"vertical_accuracy":3,"speed_accuracy":0.36,"course_accuracy":9.42,"motion":["driving"],"pauses":false,"activity":"automotive_navigation","desired_accuracy":-1,"tracking_mode":2,"locations_in_payload":1,"trip_id":"2025-12-05T08:00:00Z","device_id":"anna-van","battery_state":"unplugged","battery_level":0.81,"wifi":"Depot"}}}}"#
            ),
            true,
        ),
    }
}

/// A 1000-feature Overland batch with `current` and `trip`, and how many
/// positions it holds.
fn overland_batch(start: DateTime<Utc>) -> (String, usize) {
    let features: Vec<(String, bool)> = (0..1000).map(|i| overland_feature(i, start)).collect();
    let positions = features.iter().filter(|(_, p)| *p).count() + 1;
    let locations: Vec<&str> = features.iter().map(|(f, _)| f.as_str()).collect();
    let (current, _) = overland_feature(1100, start);
    let body = format!(
        r#"{{"locations":[{}],"current":{current},"trip":{{"mode":"car","start":"2025-12-05T08:00:00Z","distance":41000.2,"start_location":null,"current_location":null}}}}"#,
        locations.join(",")
    );
    (body, positions)
}

/// Where an app puts its device token.
#[derive(Clone, Copy)]
enum Auth {
    InPath,
    Bearer,
    Basic,
}

/// One request an app sends, and how many positions it stores.
struct Case {
    name: &'static str,
    app: App,
    method: Method,
    auth: Auth,
    content_type: Option<&'static str>,
    /// The query string (the legacy Traccar apps' and GPSLogger's GET).
    query: Vec<u8>,
    body: Vec<u8>,
    stored: i64,
}

impl Case {
    fn new(
        name: &'static str,
        app: App,
        auth: Auth,
        content_type: Option<&'static str>,
        body: &[u8],
        stored: i64,
    ) -> Self {
        Self {
            name,
            app,
            method: Method::POST,
            auth,
            content_type,
            query: Vec::new(),
            body: body.to_vec(),
            stored,
        }
    }

    fn send(&self, token: &str) -> Send<'static> {
        let endpoint = match self.app {
            App::OsmAnd => "osmand",
            App::Overland => "overland",
            App::OwnTracks => "owntracks",
        };
        let mut path = match self.auth {
            Auth::InPath => format!("/v1/ingest/{endpoint}/{token}"),
            _ => format!("/v1/ingest/{endpoint}"),
        };
        if !self.query.is_empty() {
            path = format!("{path}?{}", std::str::from_utf8(&self.query).unwrap());
        }
        let send = Send {
            method: self.method.clone(),
            ..Send::post(path, self.content_type, &self.body)
        };
        match self.auth {
            Auth::InPath => send,
            Auth::Bearer => send.auth(format!("Bearer {token}")),
            Auth::Basic => send.auth(basic(token)),
        }
    }
}

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

#[tokio::test]
async fn each_app_is_answered_in_its_shape_and_exactly_its_positions_are_stored() {
    // One device a case, so fixes of the same time from different apps are
    // each stored.
    let app = app_without_rate().await;
    let owner = app.signup().await;
    let tech = app.user_with_role(&owner, "technician").await;
    let shift = clock_in(&app, &tech).await;
    // A closed shift around the fixtures' morning (2025-12-05T10:20:00Z):
    // the uploads come late, and are stored because they were recorded in it.
    set_shift(
        &app,
        &shift,
        at("2025-12-05T07:00:00Z"),
        Some(at("2025-12-05T12:00:00Z")),
    );
    let (batch, batch_positions) = overland_batch(at("2025-12-05T08:00:00Z"));
    assert!(batch.len() > 500_000, "{} bytes", batch.len());
    assert_eq!(batch_positions, 941);

    use Auth::{Basic, Bearer, InPath};
    let form = Some(FORM_UTF8);
    let json = Some("application/json");
    let owntracks = Some(OWNTRACKS_JSON);
    let no_type = None;
    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        Case::new("Traccar 10.x form", App::OsmAnd, InPath, form, fixture!("traccar10_form.txt"), 1),
        Case::new("Traccar 10.x heartbeat without a fix", App::OsmAnd, InPath, form, fixture!("traccar10_heartbeat.txt"), 0),
        Case::new("Traccar SDK JSON array", App::OsmAnd, InPath, json, fixture!("traccar10_array.json"), 2),
        // Recorded in June and May 2025: outside every shift, answered all the same.
        Case::new("Traccar 9.x Android JSON", App::OsmAnd, InPath, json, fixture!("traccar9_android.json"), 0),
        Case::new("Traccar 9.x iOS JSON", App::OsmAnd, InPath, json, fixture!("traccar9_ios.json"), 0),
        Case { query: Vec::from(fixture!("traccar_android_query.txt")), ..Case::new("legacy Android query, accuracy=0", App::OsmAnd, InPath, form, b"", 1) },
        Case { query: Vec::from(fixture!("traccar_ios_query.txt")), ..Case::new("legacy iOS query, accuracy=-1, no Content-Type", App::OsmAnd, InPath, no_type, b"", 1) },
        Case::new("GPSLogger template, no Content-Type", App::OsmAnd, InPath, no_type, fixture!("gpslogger_body.txt"), 1),
        Case { method: Method::GET, query: Vec::from(fixture!("gpslogger_body.txt")), ..Case::new("GPSLogger GET", App::OsmAnd, InPath, no_type, b"", 1) },
        Case::new("Overland, events and current", App::Overland, Bearer, json, fixture!("overland_small.json"), 3),
        Case::new("Overland 1000 features", App::Overland, Bearer, json, batch.as_bytes(), batch_positions as i64),
        Case::new("Overland, token in the path", App::Overland, InPath, json, fixture!("overland_small.json"), 3),
        Case::new("OwnTracks Android location", App::OwnTracks, Basic, owntracks, fixture!("owntracks_location.json"), 1),
        Case::new("OwnTracks iOS location, Bearer", App::OwnTracks, Bearer, owntracks, fixture!("owntracks_location_ios.json"), 1),
        Case::new("OwnTracks, token in the path", App::OwnTracks, InPath, owntracks, fixture!("owntracks_location.json"), 1),
        Case::new("OwnTracks transition", App::OwnTracks, Basic, owntracks, fixture!("owntracks_transition.json"), 0),
        Case::new("OwnTracks waypoint", App::OwnTracks, Basic, owntracks, fixture!("owntracks_waypoint.json"), 0),
        Case::new("OwnTracks empty body", App::OwnTracks, Basic, owntracks, b"", 0),
    ];
    let mut total = 0;
    for request in &cases {
        let (case, kind, stored) = (request.name, &request.app, &request.stored);
        let device = issue(&app, &owner, &tech.user_id, case).await;
        let token = token(&device);
        assert_answer(request.send(&token).to(&app).await, *kind, case).await;
        total += stored;
        assert_eq!(positions_of(&app, &tech.user_id), total, "{case}");
        // The same request again, as a retrying phone sends it: stored once.
        assert_answer(request.send(&token).to(&app).await, *kind, case).await;
        assert_eq!(positions_of(&app, &tech.user_id), total, "{case}, resent");
        // Counted on the device, by kind only.
        let list = devices_of(&app, &owner, &tech.user_id).await;
        let row = list["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["id"] == device["id"])
            .unwrap();
        assert_eq!(row["counters"]["stored"], *stored, "{case}: {row}");
        assert_eq!(row["counters"]["duplicates"], *stored, "{case}: {row}");
        assert!(row["last_seen_at"].is_string(), "{case}");
    }
    // Outside the shift is counted, and kept nowhere.
    let list = devices_of(&app, &owner, &tech.user_id).await;
    let outside: i64 = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["counters"]["outside_shift"].as_i64().unwrap())
        .sum();
    assert_eq!(outside, 4, "the two 9.x fixes, each sent twice");
    assert!(holders_of(&app, "37.4219983").is_empty());
    // The closed shift's distance follows the late uploads.
    let route: Value = app
        .call(
            Method::GET,
            &format!("/v1/shifts/{shift}/route"),
            &owner.access,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(route["properties"]["ping_count"], total);
}

#[tokio::test]
async fn the_phone_tracks_all_day_and_only_positions_inside_shifts_stay() {
    let app = app().await;
    let owner = app.signup().await;
    let tech = app.user_with_role(&owner, "technician").await;
    let now = Utc::now();
    // A morning shift, closed, and an afternoon one, open.
    let morning = clock_in(&app, &tech).await;
    let (m_start, m_end) = (now - Duration::minutes(475), now - Duration::minutes(355));
    set_shift(&app, &morning, m_start, Some(m_end));
    let afternoon = clock_in(&app, &tech).await;
    let a_start = now - Duration::minutes(115);
    set_shift(&app, &afternoon, a_start, None);
    let device = issue(&app, &tech, &tech.user_id, "Tomas' phone").await;
    let token = token(&device);

    // A fix every ten minutes for ten hours, in GPSLogger's template; the
    // positions off shift carry latitudes that are easy to look for.
    let mut in_shift = 0;
    let mut off_shift = Vec::new();
    let mut bodies = Vec::new();
    for i in 0..=60 {
        let t = now - Duration::minutes(600) + Duration::minutes(10 * i);
        let inside = (t >= m_start && t <= m_end) || t >= a_start;
        let lat = if inside {
            format!("52.5{i:04}")
        } else {
            format!("47.3{i:04}1")
        };
        if inside {
            in_shift += 1;
        } else {
            off_shift.push(lat.clone());
        }
        bodies.push(format!(
            "id=tomas&lat={lat}&lon=13.404954&timestamp={}&accuracy=6.0&altitude=41.0&bearing=90.0&speed_mps=4.2&batt=80",
            t.timestamp()
        ));
    }
    assert!(in_shift > 10 && off_shift.len() > 20);
    for _replay in 0..2 {
        for body in &bodies {
            let response = Send::post(format!("/v1/ingest/osmand/{token}"), None, body.as_bytes())
                .to(&app)
                .await;
            assert_answer(response, App::OsmAnd, body).await;
        }
        assert_eq!(positions_of(&app, &tech.user_id), in_shift);
    }
    // OwnTracks resending a message with the same `tst` is a duplicate too.
    let owntracks = issue(&app, &tech, &tech.user_id, "Tomas' iPhone").await;
    let tst = (now - Duration::minutes(5)).timestamp();
    for _ in 0..3 {
        let message = format!(
            r#"{{"_type":"location","acc":8,"lat":52.51,"lon":13.4,"tst":{tst},"tid":"to"}}"#
        );
        let response = Send::post(
            "/v1/ingest/owntracks".into(),
            Some(OWNTRACKS_JSON),
            message.as_bytes(),
        )
        .auth(basic(&self::token(&owntracks)))
        .to(&app)
        .await;
        assert_answer(response, App::OwnTracks, "owntracks").await;
    }
    assert_eq!(positions_of(&app, &tech.user_id), in_shift + 1);
    // Nothing of the off-shift positions is anywhere, only their count.
    for lat in &off_shift {
        assert_eq!(holders_of(&app, lat), Vec::<String>::new(), "{lat}");
    }
    let list = devices_of(&app, &tech, &tech.user_id).await;
    let counters = &list["data"][0]["counters"];
    assert_eq!(counters["stored"], in_shift, "{list}");
    assert_eq!(counters["duplicates"], in_shift, "{list}");
    assert_eq!(counters["outside_shift"], 2 * off_shift.len(), "{list}");
    assert!(!list.to_string().contains(&token), "no token in a list");
    // Tracker traffic opened and closed nothing.
    let shifts: Value = app
        .call(Method::GET, "/v1/shifts", &tech.access, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shifts["totals"]["shifts"], 2);
    let open: Vec<&Value> = shifts["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["clock_out_at"].is_null())
        .collect();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["id"], afternoon.as_str());
    // Clock-out names the stop link; a fix after it is answered, not stored.
    let out = app
        .call(Method::POST, "/v1/shifts/clock-out", &tech.access, None)
        .await;
    let out: Value = out.json().await.unwrap();
    assert_eq!(out["traccar_link"], "org.traccar.client://action/stop");
    let after = format!(
        "id=tomas&lat=47.9&lon=13.4&timestamp={}&accuracy=6.0",
        (Utc::now() + Duration::seconds(30)).timestamp()
    );
    let response = Send::post(format!("/v1/ingest/osmand/{token}"), None, after.as_bytes())
        .to(&app)
        .await;
    assert_answer(response, App::OsmAnd, "after clock-out").await;
    assert_eq!(positions_of(&app, &tech.user_id), in_shift + 1);
}

#[tokio::test]
async fn devices_are_issued_listed_set_up_and_revoked_by_whom_they_may() {
    let app = app().await;
    let owner = app.signup().await;
    let tech = app.user_with_role(&owner, "technician").await;
    let other_tech = app.user_with_role(&owner, "technician").await;
    let dispatcher = app.user_with_role(&owner, "dispatcher").await;
    let device = issue(&app, &owner, &tech.user_id, "Anna's van phone").await;
    let token = token(&device);
    assert!(
        token.starts_with("fcrm_dev_") && token.len() == 52,
        "{token}"
    );
    assert_eq!(device["prefix"], &token[..13]);
    assert_eq!(device["user_id"], tech.user_id.as_str());
    let setup = &device["setup"];
    let traccar_url = setup["traccar"]["url"].as_str().unwrap();
    assert!(
        traccar_url.contains(&format!("/v1/ingest/osmand/{token}?id=Anna-s-van-phone")),
        "{traccar_url}"
    );
    assert!(setup["traccar"]["qr_svg"]
        .as_str()
        .unwrap()
        .contains("<svg"));
    let png = base64::engine::general_purpose::STANDARD
        .decode(setup["traccar"]["qr_png_base64"].as_str().unwrap())
        .unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(
        setup["traccar"]["start_link"],
        "org.traccar.client://action/start"
    );
    assert!(setup["overland"]["link"]
        .as_str()
        .unwrap()
        .starts_with("overland://setup?url="));
    assert!(setup["owntracks"]["link"]
        .as_str()
        .unwrap()
        .starts_with("owntracks:///config?inline="));
    assert!(setup["gpslogger"]["body"]
        .as_str()
        .unwrap()
        .contains("speed_mps=%SPD"));
    assert!(setup["gpslogger"]["url"]
        .as_str()
        .unwrap()
        .ends_with(&token));

    // The setup page, opened with the token; any other token is 404.
    let page_url = setup["page_url"].as_str().unwrap();
    let path = &page_url[page_url.find("/v1/").unwrap()..];
    let page = app.get(path).await;
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = page.text().await.unwrap();
    assert!(html.contains("<svg") && html.contains("org.traccar.client://action/stop"));
    let other = issue(&app, &owner, &other_tech.user_id, "Other").await;
    let wrong = path.replace(&token, &self::token(&other));
    assert_eq!(app.get(&wrong).await.status(), 404);

    // Technicians for themselves only; dispatchers not at all.
    let own = app
        .call(
            Method::POST,
            &format!("/v1/users/{}/devices", tech.user_id),
            &tech.access,
            Some(json!({"label": "Mine"})),
        )
        .await;
    assert_eq!(own.status(), 201);
    for (who, user) in [
        (&tech, &other_tech.user_id),
        (&dispatcher, &tech.user_id),
        (&dispatcher, &dispatcher.user_id),
    ] {
        for (method, path, body) in [
            (
                Method::POST,
                format!("/v1/users/{user}/devices"),
                Some(json!({"label": "x"})),
            ),
            (Method::GET, format!("/v1/users/{user}/devices"), None),
        ] {
            let response = app.call(method.clone(), &path, &who.access, body).await;
            assert_eq!(response.status(), 403, "{method} {path}");
        }
    }
    let bad = app
        .call(
            Method::POST,
            &format!("/v1/users/{}/devices", tech.user_id),
            &owner.access,
            Some(json!({"label": " "})),
        )
        .await;
    assert_eq!(bad.status(), 422);

    // Listed without secrets.
    let list = app
        .call(
            Method::GET,
            &format!("/v1/users/{}/devices", tech.user_id),
            &tech.access,
            None,
        )
        .await;
    assert_eq!(list.status(), 200);
    let text = list.text().await.unwrap();
    assert!(
        !text.contains(&token) && !text.contains("token_hash"),
        "{text}"
    );
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Revoked: 401 on every ingest route, nothing stored, the page gone.
    let shift = clock_in(&app, &tech).await;
    let revoke = app
        .call(
            Method::DELETE,
            &format!(
                "/v1/users/{}/devices/{}",
                tech.user_id,
                device["id"].as_str().unwrap()
            ),
            &owner.access,
            None,
        )
        .await;
    assert_eq!(revoke.status(), 204);
    let fix = format!(
        "id=anna&lat=52.52&lon=13.40&timestamp={}&accuracy=5",
        Utc::now().timestamp()
    );
    for request in [
        Send::post(
            format!("/v1/ingest/osmand/{token}"),
            Some(FORM_UTF8),
            fix.as_bytes(),
        ),
        Send::post(
            "/v1/ingest/overland".into(),
            Some("application/json"),
            fixture!("overland_small.json"),
        )
        .auth(format!("Bearer {token}")),
        Send::post(
            "/v1/ingest/owntracks".into(),
            Some(OWNTRACKS_JSON),
            fixture!("owntracks_location.json"),
        )
        .auth(basic(&token)),
        // Unknown tokens and none at all.
        Send::post(
            format!("/v1/ingest/osmand/fcrm_dev_{}", "A".repeat(43)),
            Some(FORM_UTF8),
            fix.as_bytes(),
        ),
        Send::post(
            "/v1/ingest/osmand/not-a-token".into(),
            Some(FORM_UTF8),
            fix.as_bytes(),
        ),
        Send::post(
            "/v1/ingest/owntracks".into(),
            Some(OWNTRACKS_JSON),
            fixture!("owntracks_location.json"),
        ),
    ] {
        let path = request.path.clone();
        let response = request.to(&app).await;
        assert_eq!(response.status(), 401, "{path}");
        let text = response.text().await.unwrap();
        assert!(!text.contains(&token), "{text}");
    }
    assert_eq!(positions_of(&app, &tech.user_id), 0);
    assert_eq!(app.get(path).await.status(), 404);
    let _ = shift;
    // Revoking again changes nothing; an unknown device is 404.
    let again = app
        .call(
            Method::DELETE,
            &format!(
                "/v1/users/{}/devices/{}",
                tech.user_id,
                device["id"].as_str().unwrap()
            ),
            &owner.access,
            None,
        )
        .await;
    assert_eq!(again.status(), 204);
    let unknown = app
        .call(
            Method::DELETE,
            &format!(
                "/v1/users/{}/devices/{}",
                tech.user_id,
                uuid::Uuid::now_v7()
            ),
            &owner.access,
            None,
        )
        .await;
    assert_eq!(unknown.status(), 404);

    // Removing a person revokes their devices.
    let other_token = self::token(&other);
    let removed = app
        .call(
            Method::DELETE,
            &format!("/v1/users/{}", other_tech.user_id),
            &owner.access,
            None,
        )
        .await;
    assert_eq!(removed.status(), 204);
    let response = Send::post(
        format!("/v1/ingest/osmand/{other_token}"),
        Some(FORM_UTF8),
        fix.as_bytes(),
    )
    .to(&app)
    .await;
    assert_eq!(response.status(), 401);

    // Issuing and revoking are in the audit trail, without the token.
    let audit = app
        .call(Method::GET, "/v1/audit?limit=200", &owner.access, None)
        .await
        .text()
        .await
        .unwrap();
    let trail: Value = serde_json::from_str(&audit).unwrap();
    let actions: Vec<(&str, &str)> = trail["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["subject_id"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    for (action, subject) in [
        ("device.issued", device["id"].as_str().unwrap()),
        ("device.revoked", device["id"].as_str().unwrap()),
        ("device.issued", other["id"].as_str().unwrap()),
        ("device.revoked", other["id"].as_str().unwrap()),
    ] {
        assert!(
            actions.contains(&(action, subject)),
            "{action} {subject}: {audit}"
        );
    }
    assert_eq!(
        actions
            .iter()
            .filter(|(a, s)| *a == "device.revoked" && *s == device["id"].as_str().unwrap())
            .count(),
        1,
        "revoked once"
    );
    assert!(!audit.contains(&token) && !audit.contains(&other_token));
}

#[tokio::test]
async fn a_device_token_is_refused_on_every_other_endpoint() {
    let app = app().await;
    let owner = app.signup().await;
    let tech = app.user_with_role(&owner, "technician").await;
    let device = issue(&app, &owner, &tech.user_id, "Phone").await;
    let token = token(&device);
    let spec = serde_json::to_value(fieldcrm::openapi::spec()).unwrap();
    let mut tried = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let security = operation["security"].as_array();
            if security.is_none_or(Vec::is_empty)
                || security.is_some_and(|s| s.iter().any(|r| r.get("device_token").is_some()))
            {
                continue; // public, or where the device token is the credential
            }
            let concrete = path
                .split('/')
                .map(|segment| {
                    if segment.starts_with('{') {
                        match segment {
                            "{id}" if path.starts_with("/v1/users") => tech.user_id.clone(),
                            "{device_id}" => device["id"].as_str().unwrap().to_owned(),
                            _ => uuid::Uuid::now_v7().to_string(),
                        }
                    } else {
                        segment.to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let response = app
                .authed(method.clone(), &concrete, &token)
                .json(&json!({}))
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "{method} {path}"
            );
            let text = response.text().await.unwrap();
            assert!(!text.contains(&token), "{method} {path}: {text}");
            tried += 1;
        }
    }
    assert!(tried > 50, "{tried}");
    // The device is still there and works where it belongs.
    let response = Send::post(
        format!("/v1/ingest/osmand/{token}"),
        Some(FORM_UTF8),
        fixture!("traccar10_heartbeat.txt"),
    )
    .to(&app)
    .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn another_accounts_device_writes_nothing_here() {
    let app = app().await;
    let mine = app.signup().await;
    let my_tech = app.user_with_role(&mine, "technician").await;
    clock_in(&app, &my_tech).await;
    let theirs = app.signup().await;
    let their_tech = app.user_with_role(&theirs, "technician").await;
    let their_device = issue(&app, &theirs, &their_tech.user_id, "Theirs").await;
    // Their owner cannot issue a device for my technician, nor list mine.
    let response = app
        .call(
            Method::POST,
            &format!("/v1/users/{}/devices", my_tech.user_id),
            &theirs.access,
            Some(json!({"label": "Hijack"})),
        )
        .await;
    assert_eq!(response.status(), 404);
    let fix = format!(
        "id={}&lat=52.52&lon=13.40&timestamp={}&accuracy=5",
        my_tech.user_id,
        Utc::now().timestamp() + 1
    );
    let response = Send::post(
        format!("/v1/ingest/osmand/{}", token(&their_device)),
        Some(FORM_UTF8),
        fix.as_bytes(),
    )
    .to(&app)
    .await;
    // Inside my technician's shift, but the token is theirs: taken, as for
    // any position of a person not clocked in, and stored nowhere.
    assert_eq!(response.status(), 200);
    assert_eq!(positions_of(&app, &my_tech.user_id), 0);
    assert_eq!(positions_of(&app, &their_tech.user_id), 0);
}

#[tokio::test]
async fn a_fix_stored_under_its_former_id_is_a_duplicate_when_the_phone_resends_it() {
    // Only the ids can tell a resend from a new fix.
    let app = app_without_rate().await;
    let owner = app.signup().await;
    let tech = app.user_with_role(&owner, "technician").await;
    let shift = clock_in(&app, &tech).await;
    set_shift(&app, &shift, Utc::now() - Duration::hours(1), None);
    let device = issue(&app, &tech, &tech.user_id, "Phone").await;
    let path = format!("/v1/ingest/osmand/{}", token(&device));
    let fix = |t: DateTime<Utc>| format!("lat=52.52&lon=13.40&timestamp={}", t.timestamp());
    // Whole seconds, as the form's timestamp has them.
    let recorded = DateTime::from_timestamp(Utc::now().timestamp() - 30, 0).unwrap();
    let response = Send::post(path.clone(), None, fix(recorded).as_bytes())
        .to(&app)
        .await;
    assert_answer(response, App::OsmAnd, "first upload").await;
    assert_eq!(positions_of(&app, &tech.user_id), 1);

    // As a database from before ids began with the fix's time holds it.
    let device_id: uuid::Uuid = device["id"].as_str().unwrap().parse().unwrap();
    let (id, former) = (
        fieldcrm_trackers::ping_id(device_id, recorded),
        fieldcrm_trackers::former_ping_id(device_id, recorded),
    );
    {
        use diesel::prelude::*;
        use fieldcrm_db::schema::pings;
        let mut conn = app.pool.get().unwrap();
        let renamed = diesel::update(
            pings::table
                .filter(pings::id.eq(fieldcrm_db::Id::<fieldcrm_db::pings::Ping>::from_uuid(id))),
        )
        .set(
            pings::id.eq(fieldcrm_db::Id::<fieldcrm_db::pings::Ping>::from_uuid(
                former,
            )),
        )
        .execute(&mut *conn)
        .unwrap();
        assert_eq!(renamed, 1, "the fix is stored under its id in time order");
    }

    // The phone resends it, beside a fix it had not sent.
    for t in [recorded, recorded + Duration::seconds(10)] {
        let response = Send::post(path.clone(), None, fix(t).as_bytes())
            .to(&app)
            .await;
        assert_answer(response, App::OsmAnd, "resend").await;
    }
    assert_eq!(positions_of(&app, &tech.user_id), 2);
    let list = devices_of(&app, &tech, &tech.user_id).await;
    let counters = &list["data"][0]["counters"];
    assert_eq!(counters["stored"], 2, "{list}");
    assert_eq!(counters["duplicates"], 1, "{list}");
}

#[tokio::test]
async fn a_device_past_its_rate_is_told_when_to_come_back() {
    let app = spawn_app_with(|s| {
        s.maintenance_interval_secs = 0;
        s.device_requests_per_minute = 3;
    })
    .await;
    let owner = app.signup().await;
    let device = issue(&app, &owner, &owner.user_id, "Phone").await;
    let path = format!("/v1/ingest/osmand/{}", token(&device));
    for _ in 0..3 {
        let response = Send::post(
            path.clone(),
            Some(FORM_UTF8),
            fixture!("traccar10_heartbeat.txt"),
        )
        .to(&app)
        .await;
        assert_eq!(response.status(), 200);
    }
    let response = Send::post(
        path.clone(),
        Some(FORM_UTF8),
        fixture!("traccar10_heartbeat.txt"),
    )
    .to(&app)
    .await;
    assert_eq!(response.status(), 429);
    let wait: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // Another device is not held back by this one.
    let other = issue(&app, &owner, &owner.user_id, "Tablet").await;
    let response = Send::post(
        format!("/v1/ingest/osmand/{}", token(&other)),
        Some(FORM_UTF8),
        fixture!("traccar10_heartbeat.txt"),
    )
    .to(&app)
    .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn while_the_database_is_down_the_phone_is_told_to_come_back() {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;
    let app = app().await;
    let owner = app.signup().await;
    clock_in(&app, &owner).await;
    let device = issue(&app, &owner, &owner.user_id, "Phone").await;
    // A second on: the clock-in was within this second.
    let fix = format!(
        "id=phone&lat=52.52&lon=13.40&timestamp={}&accuracy=5",
        Utc::now().timestamp() + 1
    );
    let send = || {
        Send::post(
            format!("/v1/ingest/osmand/{}", token(&device)),
            Some(FORM_UTF8),
            fix.as_bytes(),
        )
        .to(&app)
    };
    // PostgreSQL goes away; SQLite is held by another writer past the wait.
    let writer = match app.backend() {
        fieldcrm_test_support::Backend::Postgres => {
            app.db.set_reachable(false);
            None
        }
        fieldcrm_test_support::Backend::Sqlite => {
            let path = app.db.sqlite_path().unwrap().to_str().unwrap().to_owned();
            let mut other = diesel::SqliteConnection::establish(&path).unwrap();
            other
                .batch_execute("PRAGMA busy_timeout = 5000; BEGIN IMMEDIATE")
                .unwrap();
            Some(other)
        }
    };
    let response = send().await;
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    match writer {
        None => app.db.set_reachable(true),
        Some(mut other) => other.batch_execute("ROLLBACK").unwrap(),
    }
    // The phone's retry is stored.
    assert_answer(send().await, App::OsmAnd, "retry").await;
    assert_eq!(positions_of(&app, &owner.user_id), 1);
}
