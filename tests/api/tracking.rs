//! The time clock and GPS: pings are kept only inside the sender's shifts.

use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use fieldcrm_test_support::{
    problem, spawn_app, spawn_app_with, start_shift_at, stored_pings, Signed, TestApp,
};
use reqwest::Method;
use serde_json::{json, Value};

pub(crate) fn ping(at: DateTime<Utc>, lat: f64, lon: f64) -> Value {
    json!({"id": uuid::Uuid::new_v4(), "recorded_at": at, "lat": lat, "lon": lon, "accuracy_m": 8.0})
}

pub(crate) async fn upload(app: &TestApp, who: &Signed, pings: Vec<Value>) -> Value {
    let response = app
        .call(
            Method::POST,
            "/v1/pings",
            &who.access,
            Some(json!({"pings": pings})),
        )
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

pub(crate) async fn clock(app: &TestApp, who: &Signed, action: &str) -> Value {
    let response = app
        .call(
            Method::POST,
            &format!("/v1/shifts/{action}"),
            &who.access,
            None,
        )
        .await;
    assert!(
        response.status().is_success(),
        "{action}: {}",
        response.status()
    );
    response.json().await.unwrap()
}

/// The shift as the owner reads it once the upkeep (every second here) has
/// done what `done` looks for, within 10 seconds.
async fn upkept(app: &TestApp, owner: &Signed, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let path = format!("/v1/shifts/{id}");
    let mut shift = Value::Null;
    for _ in 0..40 {
        shift = app
            .call(Method::GET, &path, &owner.access, None)
            .await
            .json()
            .await
            .unwrap();
        if done(&shift) {
            return shift;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("the upkeep did not get there within 10 s: {shift}");
}

fn time(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap().parse().unwrap()
}

fn reasons(result: &Value) -> Vec<String> {
    result["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn pings_outside_shifts_are_refused_and_never_stored() {
    // Its shifts last milliseconds: no per-person rate here.
    let app = spawn_app_with(|s| s.ping_min_interval_ms = 0).await;
    let owner = app.signup().await;
    let tech = app.user_with_role(&owner, "technician").await;

    let before_any_shift = Utc::now() - chrono::Duration::seconds(30);
    let first = clock(&app, &tech, "clock-in").await;
    let first_in = time(&first["clock_in_at"]);
    let inside = upload(
        &app,
        &tech,
        vec![ping(
            first_in + chrono::Duration::milliseconds(1),
            30.0,
            -97.0,
        )],
    )
    .await;
    assert_eq!(inside["accepted"], 1);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let closed = clock(&app, &tech, "clock-out").await;
    let first_out = time(&closed["clock_out_at"]);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let second = clock(&app, &tech, "clock-in").await;
    let second_in = time(&second["clock_in_at"]);

    let late_but_inside = first_in + (first_out - first_in) / 2;
    let between = first_out + (second_in - first_out) / 2;
    let result = upload(
        &app,
        &tech,
        vec![
            ping(before_any_shift, 30.0, -97.0),
            ping(between, 30.0, -97.0),
            ping(first_in - chrono::Duration::milliseconds(1), 30.0, -97.0),
            ping(late_but_inside, 30.001, -97.0),
        ],
    )
    .await;
    assert_eq!(result["accepted"], 1, "{result}");
    assert_eq!(
        reasons(&result),
        ["outside_shift", "outside_shift", "outside_shift"]
    );
    let first_id = first["id"].as_str().unwrap();
    assert_eq!(
        stored_pings(&app, first_id),
        2,
        "only the two recorded inside the first shift"
    );
    assert_eq!(stored_pings(&app, second["id"].as_str().unwrap()), 0);

    // After the last clock-out, nothing recorded later is kept.
    let last = clock(&app, &tech, "clock-out").await;
    let after = time(&last["clock_out_at"]) + chrono::Duration::milliseconds(5);
    let result = upload(&app, &tech, vec![ping(after, 30.0, -97.0)]).await;
    assert_eq!(reasons(&result), ["outside_shift"]);
    assert_eq!(stored_pings(&app, last["id"].as_str().unwrap()), 0);

    // Someone else's shift does not count for me.
    let other = app.user_with_role(&owner, "technician").await;
    let result = upload(&app, &other, vec![ping(late_but_inside, 30.0, -97.0)]).await;
    assert_eq!(reasons(&result), ["outside_shift"]);
}

#[tokio::test]
async fn each_bad_ping_has_its_reason_and_never_costs_the_good_ones() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let tech = app.user_with_role(&owner, "technician").await;
    let shift = clock(&app, &tech, "clock-in").await;
    let at = time(&shift["clock_in_at"]) + chrono::Duration::milliseconds(1);
    let good = ping(at, 30.0, -97.0);
    let with = |field: &str, value: Value| {
        let mut p = ping(at, 30.0, -97.0);
        p[field] = value;
        p
    };
    let batch = vec![
        good.clone(),
        json!({"id": "not-a-uuid", "recorded_at": at, "lat": 1.0, "lon": 1.0}),
        with("lat", json!("north")),
        with("lat", json!(91.0)),
        with("lon", json!(-180.5)),
        with("accuracy_m", json!(-1.0)),
        with("speed_mps", json!(500.0)),
        with("heading_deg", json!(360.0)),
        with(
            "recorded_at",
            json!(Utc::now() + chrono::Duration::minutes(10)),
        ),
        with("accuracy_m", json!(250.0)),
        json!({"id": uuid::Uuid::new_v4()}),
        good.clone(),
    ];
    let result = upload(&app, &tech, batch).await;
    assert_eq!(result["accepted"], 1);
    assert_eq!(
        result["duplicates"], 1,
        "the same id twice in one batch is stored once"
    );
    let mut got = reasons(&result);
    got.sort();
    let mut expected = vec![
        "malformed",
        "malformed",
        "invalid_coordinates",
        "invalid_coordinates",
        "invalid_accuracy",
        "invalid_speed",
        "invalid_heading",
        "in_future",
        "low_accuracy",
        "malformed",
    ];
    expected.sort();
    assert_eq!(got, expected);
    assert_eq!(result["rejected"][0]["id"], "not-a-uuid");

    let again = upload(&app, &tech, vec![good]).await;
    assert_eq!(
        (again["accepted"].as_u64(), again["duplicates"].as_u64()),
        (Some(0), Some(1))
    );
    assert_eq!(stored_pings(&app, shift["id"].as_str().unwrap()), 1);

    let too_many: Vec<Value> = (0..1001).map(|_| ping(at, 30.0, -97.0)).collect();
    let response = app
        .call(
            Method::POST,
            "/v1/pings",
            &tech.access,
            Some(json!({"pings": too_many})),
        )
        .await;
    assert_eq!(response.status(), 422);
    problem(response).await;
    // Items are judged one by one; the batch around them is not: these are
    // refused whole. (Contract fuzzing cannot tell an item's fault from the
    // envelope's, so it leaves this operation's invalid input to this test.)
    for envelope in [
        json!({}),
        json!({"pings": 5}),
        json!({"pings": {"id": "x"}}),
        json!({"pings": [], "extra": true}),
        json!([]),
    ] {
        let response = app
            .call(
                Method::POST,
                "/v1/pings",
                &tech.access,
                Some(envelope.clone()),
            )
            .await;
        assert_eq!(response.status(), 422, "{envelope}");
        problem(response).await;
    }
}

#[tokio::test]
async fn only_one_of_concurrent_clock_ins_wins() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let tech = app.user_with_role(&owner, "technician").await;
    let attempts =
        (0..6).map(|_| app.call(Method::POST, "/v1/shifts/clock-in", &tech.access, None));
    let statuses: Vec<u16> = futures_util::future::join_all(attempts)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        5,
        "{statuses:?}"
    );
    let sheet: Value = app
        .call(Method::GET, "/v1/shifts", &tech.access, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sheet["totals"]["shifts"], 1);

    let out = app
        .call(Method::POST, "/v1/shifts/clock-out", &tech.access, None)
        .await;
    assert_eq!(out.status(), 200);
    let again = app
        .call(Method::POST, "/v1/shifts/clock-out", &tech.access, None)
        .await;
    assert_eq!(again.status(), 409);
    problem(again).await;
}

/// Independent of the server's geodesic code: the haversine formula on a
/// sphere of the mean Earth radius agrees to within 0.5 %.
fn haversine_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (lat1, lon1, lat2, lon2) = (
        a.0.to_radians(),
        a.1.to_radians(),
        b.0.to_radians(),
        b.1.to_radians(),
    );
    let h = ((lat2 - lat1) / 2.0).sin().powi(2)
        + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2.0).sin().powi(2);
    2.0 * 6_371_008.8 * h.sqrt().asin()
}

/// Half an hour through Austin from `start`, with one stop from minute 5 to 13.
pub(crate) fn trail_with_a_stop(start: DateTime<Utc>) -> [(DateTime<Utc>, f64, f64); 6] {
    let minute = |m: i64| start + chrono::Duration::minutes(m);
    [
        (minute(1), 30.2672, -97.7431),
        (minute(5), 30.2700, -97.7400),
        (minute(6), 30.27001, -97.74001),
        (minute(13), 30.27002, -97.74000),
        (minute(20), 30.2800, -97.7300),
        (minute(30), 30.2900, -97.7500),
    ]
}

#[tokio::test]
async fn a_route_has_the_distance_the_stops_and_a_valid_gpx() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let tech = app.user_with_role(&owner, "technician").await;
    let shift = clock(&app, &tech, "clock-in").await;
    let id = shift["id"].as_str().unwrap().to_owned();
    let start = (Utc::now() - chrono::Duration::hours(1)).trunc_subsecs(6);
    start_shift_at(&app, &id, start);

    let minute = |m: i64| start + chrono::Duration::minutes(m);
    let trail = trail_with_a_stop(start);
    let pings = trail
        .iter()
        .map(|(at, lat, lon)| ping(*at, *lat, *lon))
        .collect();
    assert_eq!(upload(&app, &tech, pings).await["accepted"], 6);
    clock(&app, &tech, "clock-out").await;

    let response = app
        .call(
            Method::GET,
            &format!("/v1/shifts/{id}/route"),
            &tech.access,
            None,
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/geo+json");
    let feature: Value = response.json().await.unwrap();
    assert_eq!(feature["type"], "Feature");
    assert_eq!(feature["geometry"]["type"], "LineString");
    assert_eq!(
        feature["geometry"]["coordinates"][0],
        json!([-97.7431, 30.2672])
    );
    let expected: f64 = trail
        .windows(2)
        .map(|w| haversine_m((w[0].1, w[0].2), (w[1].1, w[1].2)))
        .sum();
    let distance = feature["properties"]["distance_m"].as_f64().unwrap();
    assert!(
        (distance - expected).abs() / expected < 0.005,
        "{distance} vs {expected}"
    );
    let stops = feature["properties"]["stops"].as_array().unwrap();
    assert_eq!(stops.len(), 1, "{stops:?}");
    assert_eq!(time(&stops[0]["arrived_at"]), minute(5));
    assert_eq!(time(&stops[0]["left_at"]), minute(13));

    let gpx = app
        .authed(Method::GET, &format!("/v1/shifts/{id}/route"), &tech.access)
        .header("accept", "application/gpx+xml")
        .send()
        .await
        .unwrap();
    assert_eq!(gpx.headers()["content-type"], "application/gpx+xml");
    let parsed = gpx::read(gpx.bytes().await.unwrap().as_ref()).expect("valid GPX");
    assert_eq!(parsed.version, gpx::GpxVersion::Gpx11);
    let points = &parsed.tracks[0].segments[0].points;
    assert_eq!(points.len(), 6);
    assert!((points[0].point().y() - 30.2672).abs() < 1e-9);
    let same = app
        .call(
            Method::GET,
            &format!("/v1/shifts/{id}/route?format=gpx"),
            &tech.access,
            None,
        )
        .await;
    assert_eq!(same.headers()["content-type"], "application/gpx+xml");

    let sheet: Value = app
        .call(Method::GET, "/v1/shifts", &owner.access, None)
        .await
        .json()
        .await
        .unwrap();
    let row = &sheet["data"][0];
    assert!((row["distance_m"].as_f64().unwrap() - distance).abs() < 0.01);
    assert!(row["worked_s"].as_i64().unwrap() >= 3600);
    assert_eq!(sheet["totals"]["shifts"], 1);
}

#[tokio::test]
async fn live_positions_show_only_people_clocked_in_now() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let dispatcher = app.user_with_role(&owner, "dispatcher").await;
    let working = app.user_with_role(&owner, "technician").await;
    let gone = app.user_with_role(&owner, "technician").await;

    let shift = clock(&app, &working, "clock-in").await;
    let at = time(&shift["clock_in_at"]) + chrono::Duration::milliseconds(1);
    upload(&app, &working, vec![ping(at, 30.25, -97.75)]).await;
    let other = clock(&app, &gone, "clock-in").await;
    upload(
        &app,
        &gone,
        vec![ping(time(&other["clock_in_at"]), 30.3, -97.8)],
    )
    .await;

    let live = |who: &Signed| {
        let token = who.access.clone();
        let app = &app;
        async move {
            app.call(Method::GET, "/v1/locations/live", &token, None)
                .await
        }
    };
    let before: Value = live(&dispatcher).await.json().await.unwrap();
    assert_eq!(before["data"].as_array().unwrap().len(), 2);

    clock(&app, &gone, "clock-out").await;
    let after: Value = live(&dispatcher).await.json().await.unwrap();
    let data = after["data"].as_array().unwrap();
    assert_eq!(data.len(), 1, "{after}");
    assert_eq!(data[0]["user_id"].as_str().unwrap(), working.user_id);
    assert_eq!(data[0]["lat"], 30.25);
    assert!(!after.to_string().contains(&gone.user_id));

    assert_eq!(
        live(&working).await.status(),
        403,
        "technicians do not see where others are"
    );
}

#[tokio::test]
async fn technicians_see_their_own_shifts_and_keys_cannot_clock_in() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let me = app.user_with_role(&owner, "technician").await;
    let colleague = app.user_with_role(&owner, "technician").await;
    let theirs = clock(&app, &colleague, "clock-in").await;
    let mine = clock(&app, &me, "clock-in").await;
    let theirs_path = format!("/v1/shifts/{}", theirs["id"].as_str().unwrap());

    assert_eq!(
        app.call(Method::GET, &theirs_path, &me.access, None)
            .await
            .status(),
        404
    );
    assert_eq!(
        app.call(
            Method::GET,
            &format!("{theirs_path}/route"),
            &me.access,
            None
        )
        .await
        .status(),
        404
    );
    let sheet: Value = app
        .call(Method::GET, "/v1/shifts", &me.access, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sheet["data"].as_array().unwrap().len(), 1);
    assert_eq!(sheet["data"][0]["id"], mine["id"]);
    let asked = app
        .call(
            Method::GET,
            &format!("/v1/shifts?user_id={}", colleague.user_id),
            &me.access,
            None,
        )
        .await;
    assert_eq!(asked.status(), 403);
    let all: Value = app
        .call(Method::GET, "/v1/shifts", &owner.access, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["totals"]["shifts"], 2);

    let (_, key) = app.api_key(&owner, "write").await;
    assert_eq!(
        app.call(Method::POST, "/v1/shifts/clock-in", &key, None)
            .await
            .status(),
        403
    );
    assert_eq!(
        app.call(Method::POST, "/v1/pings", &key, Some(json!({"pings": []})))
            .await
            .status(),
        403
    );

    // An owner closes the colleague's forgotten shift.
    assert_eq!(
        app.call(
            Method::POST,
            &format!("{theirs_path}/close"),
            &me.access,
            None
        )
        .await
        .status(),
        403
    );
    let closed = app
        .call(
            Method::POST,
            &format!("{theirs_path}/close"),
            &owner.access,
            None,
        )
        .await;
    assert_eq!(closed.status(), 200);
    let closed: Value = closed.json().await.unwrap();
    assert_eq!(closed["closed_by"], format!("user:{}", owner.user_id));

    let bad = app
        .call(
            Method::POST,
            "/v1/shifts/clock-out",
            &me.access,
            Some(json!({"lat": 95.0, "lon": 1.0})),
        )
        .await;
    assert_eq!(problem(bad).await["errors"][0]["field"], "lat");
}

#[tokio::test]
async fn long_shifts_close_at_the_limit_and_old_pings_are_purged() {
    let app = spawn_app_with(|s| s.maintenance_interval_secs = 1).await;
    let owner = app.signup().await;
    let tech = app.user_with_role(&owner, "technician").await;
    let shift = clock(&app, &tech, "clock-in").await;
    let id = shift["id"].as_str().unwrap().to_owned();
    let start = (Utc::now() - chrono::Duration::days(100)).trunc_subsecs(6);
    start_shift_at(&app, &id, start);
    let old = start + chrono::Duration::hours(1);
    let newer = start + chrono::Duration::hours(2);
    let result = upload(
        &app,
        &tech,
        vec![ping(old, 30.0, -97.0), ping(newer, 30.01, -97.0)],
    )
    .await;
    assert_eq!(result["accepted"], 2);

    let closed = upkept(&app, &owner, &id, |shift| {
        shift["closed_by"] == "auto" && stored_pings(&app, &id) == 0
    })
    .await;
    assert_eq!(
        time(&closed["clock_out_at"]),
        start + chrono::Duration::hours(16),
        "closed at the limit, not now"
    );
    assert_eq!(stored_pings(&app, &id), 0, "pings past 90 days are purged");
    assert!(
        closed["distance_m"].as_f64().unwrap() > 1000.0,
        "the shift keeps its distance: {closed}"
    );
    let shift_rows = fieldcrm_test_support::rows_referring_to(&app, "id", id.parse().unwrap());
    assert!(
        shift_rows.iter().any(|(t, n)| t == "shifts" && *n == 1),
        "the shift itself stays"
    );
}

/// A technician's pings near the place of their appointment that day record
/// arrival and departure on the appointment.
#[tokio::test]
async fn arrival_and_departure_are_recorded_from_pings() {
    use chrono::TimeZone;
    let app = spawn_app().await;
    let owner = app.signup().await; // the account is in America/Chicago
    let tech = app.user_with_role(&owner, "technician").await;
    let chicago = chrono_tz::America::Chicago;
    let yesterday = Utc::now().with_timezone(&chicago).date_naive() - chrono::Duration::days(1);
    let at = |day: chrono::NaiveDate, h: u32, m: u32| {
        chicago
            .from_local_datetime(&day.and_hms_opt(h, m, 0).unwrap())
            .unwrap()
            .to_utc()
    };
    let t = |h: u32, m: u32| at(yesterday, h, m);

    let customer: Value = app
        .call(Method::POST, "/v1/customers", &owner.access, Some(json!({"name": "Ann", "address": {"line1": "1 Main St", "lat": 30.27, "lon": -97.74}})))
        .await
        .json()
        .await
        .unwrap();
    let book = |start: DateTime<Utc>| {
        json!({"customer_id": customer["id"], "technician_id": tech.user_id, "title": "Visit",
               "starts_at": start, "ends_at": start + chrono::Duration::hours(1), "reminders": []})
    };
    let visit: Value = app
        .call(
            Method::POST,
            "/v1/appointments",
            &owner.access,
            Some(book(t(12, 0))),
        )
        .await
        .json()
        .await
        .unwrap();
    let day_before = at(yesterday - chrono::Duration::days(1), 12, 0);
    let other_day: Value = app
        .call(
            Method::POST,
            "/v1/appointments",
            &owner.access,
            Some(book(day_before)),
        )
        .await
        .json()
        .await
        .unwrap();

    let shift = clock(&app, &tech, "clock-in").await;
    start_shift_at(&app, shift["id"].as_str().unwrap(), t(11, 0));
    let far = (30.30, -97.74);
    let near = (30.2703, -97.7400);
    let result = upload(
        &app,
        &tech,
        vec![
            ping(t(11, 30), far.0, far.1),
            ping(t(11, 50), near.0, near.1),
            ping(t(12, 40), near.0, near.1),
            ping(t(13, 5), far.0, far.1),
        ],
    )
    .await;
    assert_eq!(result["accepted"], 4, "{result}");

    let path = format!("/v1/appointments/{}", visit["id"].as_str().unwrap());
    let seen: Value = app
        .call(Method::GET, &path, &owner.access, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(time(&seen["arrived_at"]), t(11, 50));
    assert_eq!(time(&seen["departed_at"]), t(13, 5));
    let untouched: Value = app
        .call(
            Method::GET,
            &format!("/v1/appointments/{}", other_day["id"].as_str().unwrap()),
            &owner.access,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(
        untouched["arrived_at"].is_null(),
        "another day's appointment at the same place"
    );

    // A buffered fix from earlier, uploaded late, moves the arrival back.
    upload(&app, &tech, vec![ping(t(11, 45), near.0, near.1)]).await;
    let seen: Value = app
        .call(Method::GET, &path, &owner.access, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(time(&seen["arrived_at"]), t(11, 45));
    assert_eq!(time(&seen["departed_at"]), t(13, 5));
}

#[tokio::test]
async fn timesheets_filter_by_person_and_dates() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let a = app.user_with_role(&owner, "technician").await;
    let b = app.user_with_role(&owner, "technician").await;
    let old = clock(&app, &a, "clock-in").await;
    start_shift_at(
        &app,
        old["id"].as_str().unwrap(),
        Utc::now() - chrono::Duration::days(3),
    );
    clock(&app, &a, "clock-out").await;
    clock(&app, &a, "clock-in").await;
    clock(&app, &b, "clock-in").await;

    let count = |path: String| {
        let app = &app;
        let token = owner.access.clone();
        async move {
            let body: Value = app
                .call(Method::GET, &path, &token, None)
                .await
                .json()
                .await
                .unwrap();
            (
                body["data"].as_array().unwrap().len(),
                body["totals"]["shifts"].as_u64().unwrap(),
            )
        }
    };
    assert_eq!(count("/v1/shifts".into()).await, (3, 3));
    assert_eq!(
        count(format!("/v1/shifts?user_id={}", a.user_id)).await,
        (2, 2)
    );
    let since =
        (Utc::now() - chrono::Duration::days(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert_eq!(
        count(format!("/v1/shifts?user_id={}&from={since}", a.user_id)).await,
        (1, 1)
    );
    assert_eq!(count(format!("/v1/shifts?to={since}")).await, (1, 1));
    let (page, total) = count("/v1/shifts?limit=1".into()).await;
    assert_eq!((page, total), (1, 3), "totals cover every page");
    let bad = app
        .call(
            Method::GET,
            "/v1/shifts?from=last-week",
            &owner.access,
            None,
        )
        .await;
    assert_eq!(problem(bad).await["errors"][0]["field"], "from");
}

/// The future tolerance (for devices whose clock runs ahead) lets a ping dated
/// after now into an open shift; clocking out must not keep it, nor count it.
#[tokio::test]
async fn a_ping_dated_after_clock_out_is_not_kept() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let tech = app.user_with_role(&owner, "technician").await;
    let shift = clock(&app, &tech, "clock-in").await;
    let id = shift["id"].as_str().unwrap().to_owned();
    let clock_in = time(&shift["clock_in_at"]);
    let ahead = upload(
        &app,
        &tech,
        vec![
            ping(clock_in + chrono::Duration::milliseconds(1), 30.0, -97.0),
            ping(Utc::now() + chrono::Duration::seconds(110), 30.05, -97.0),
        ],
    )
    .await;
    assert_eq!(ahead["accepted"], 2, "{ahead}");

    let closed = clock(&app, &tech, "clock-out").await;
    assert_eq!(
        stored_pings(&app, &id),
        1,
        "only the ping inside the shift stays"
    );
    assert_eq!(closed["distance_m"], 0.0, "{closed}");
    let route: Value = app
        .call(
            Method::GET,
            &format!("/v1/shifts/{id}/route"),
            &owner.access,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        route["geometry"]["coordinates"].as_array().unwrap().len(),
        1,
        "{route}"
    );
}

/// A shift the upkeep closes at the account's maximum keeps nothing recorded
/// after that limit, though the device went on sending inside the open shift.
#[tokio::test]
async fn a_shift_closed_at_the_limit_keeps_nothing_recorded_after_it() {
    let app = spawn_app_with(|s| s.maintenance_interval_secs = 1).await;
    let owner = app.signup().await;
    let tech = app.user_with_role(&owner, "technician").await;
    let shift = clock(&app, &tech, "clock-in").await;
    let id = shift["id"].as_str().unwrap().to_owned();
    let start = (Utc::now() - chrono::Duration::hours(17)).trunc_subsecs(6);
    start_shift_at(&app, &id, start);
    let limit = start + chrono::Duration::hours(16);
    let result = upload(
        &app,
        &tech,
        vec![
            ping(start + chrono::Duration::hours(1), 30.0, -97.0),
            ping(limit - chrono::Duration::minutes(1), 30.0, -97.0),
            ping(limit + chrono::Duration::minutes(30), 30.5, -97.0),
        ],
    )
    .await;
    assert_eq!(result["accepted"], 3, "{result}");

    let closed = upkept(&app, &owner, &id, |shift| shift["closed_by"] == "auto").await;
    assert_eq!(time(&closed["clock_out_at"]), limit);
    assert_eq!(
        stored_pings(&app, &id),
        2,
        "the ping after the limit is gone"
    );
    assert_eq!(
        closed["distance_m"], 0.0,
        "and is not in the distance: {closed}"
    );
}

/// A batch racing a clock-out: whichever commits first, nothing recorded after
/// the close is left in the shift.
#[tokio::test]
async fn a_batch_racing_a_clock_out_leaves_nothing_after_the_close() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let tech = app.user_with_role(&owner, "technician").await;
    for _ in 0..20 {
        let shift = clock(&app, &tech, "clock-in").await;
        let id = shift["id"].as_str().unwrap().to_owned();
        let ahead: Vec<Value> = (1..=50)
            .map(|s| ping(Utc::now() + chrono::Duration::seconds(s), 30.0, -97.0))
            .collect();
        let (uploaded, _) = tokio::join!(
            app.call(
                Method::POST,
                "/v1/pings",
                &tech.access,
                Some(json!({"pings": ahead}))
            ),
            clock(&app, &tech, "clock-out"),
        );
        assert_eq!(uploaded.status(), 200);
        assert_eq!(stored_pings(&app, &id), 0, "pings after the close stayed");
    }
}

/// No real device reports more than once a second: pings of one person closer
/// than that in recorded time are refused as `too_frequent`, whatever their
/// ids; and an account stores at most its daily quota (here 5), across all its
/// people, while other accounts go on. A resend is still a duplicate.
#[tokio::test]
async fn a_per_person_rate_and_a_daily_account_quota_bound_what_is_stored() {
    let app = spawn_app_with(|s| s.ping_quota_per_account_per_day = 5).await;
    let owner = app.signup().await;
    let tech = app.user_with_role(&owner, "technician").await;
    let other_tech = app.user_with_role(&owner, "technician").await;
    let mut shifts = Vec::new();
    for who in [&tech, &other_tech] {
        let shift = clock(&app, who, "clock-in").await;
        let id = shift["id"].as_str().unwrap().to_owned();
        start_shift_at(&app, &id, Utc::now() - chrono::Duration::hours(1));
        shifts.push(id);
    }
    let t0 = (Utc::now() - chrono::Duration::minutes(30)).trunc_subsecs(3);
    let burst: Vec<Value> = (0..10)
        .map(|i| ping(t0 + chrono::Duration::milliseconds(i * 100), 30.0, -97.0))
        .collect();
    let first = burst[0].clone();
    let result = upload(&app, &tech, burst).await;
    assert_eq!(result["accepted"], 1, "{result}");
    assert_eq!(reasons(&result), vec!["too_frequent"; 9]);

    let resent = upload(&app, &tech, vec![first]).await;
    assert_eq!(
        (resent["accepted"].as_u64(), resent["duplicates"].as_u64()),
        (Some(0), Some(1)),
        "{resent}"
    );

    let seconds: Vec<Value> = (1..=6)
        .map(|s| ping(t0 + chrono::Duration::seconds(s), 30.0, -97.0))
        .collect();
    let result = upload(&app, &tech, seconds).await;
    assert_eq!(result["accepted"], 4, "{result}");
    assert_eq!(reasons(&result), ["over_quota", "over_quota"]);
    let result = upload(&app, &other_tech, vec![ping(t0, 30.0, -97.0)]).await;
    assert_eq!(
        reasons(&result),
        ["over_quota"],
        "the quota is the account's"
    );
    assert_eq!(
        stored_pings(&app, &shifts[0]) + stored_pings(&app, &shifts[1]),
        5
    );

    let elsewhere = app.signup().await;
    let their_tech = app.user_with_role(&elsewhere, "technician").await;
    clock(&app, &their_tech, "clock-in").await;
    let theirs = upload(&app, &their_tech, vec![ping(Utc::now(), 30.0, -97.0)]).await;
    assert_eq!(
        theirs["accepted"], 1,
        "another account is not held back: {theirs}"
    );
}

/// The open shift's distance as the timesheet (`GET /v1/shifts`) and the shift
/// itself show it, checked to be the same.
async fn shown_distance(app: &TestApp, who: &Signed, id: &str) -> f64 {
    let listed = listed_distance(app, who, id).await;
    let alone: Value = app
        .call(Method::GET, &format!("/v1/shifts/{id}"), &who.access, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(alone["distance_m"].as_f64(), Some(listed), "{alone}");
    listed
}

/// The shift's distance in the timesheet.
async fn listed_distance(app: &TestApp, who: &Signed, id: &str) -> f64 {
    let sheet: Value = app
        .call(Method::GET, "/v1/shifts", &who.access, None)
        .await
        .json()
        .await
        .unwrap();
    let row = sheet["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["id"] == id)
        .unwrap_or_else(|| panic!("shift {id} in {sheet}"));
    row["distance_m"].as_f64().unwrap()
}

/// The length of every position of the shift stored now, as the route
/// reads them all.
async fn whole_trail(app: &TestApp, who: &Signed, id: &str) -> f64 {
    let route: Value = app
        .call(
            Method::GET,
            &format!("/v1/shifts/{id}/route"),
            &who.access,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    route["properties"]["distance_m"].as_f64().unwrap()
}

/// Equal but for the order in which floating-point metres were added.
fn same_length(shown: f64, whole: f64) -> bool {
    (shown - whole).abs() <= 1e-6 * whole.abs().max(1.0)
}

/// A winding position `minute` minutes (and `second` seconds) into the trail.
fn wandering(start: DateTime<Utc>, minute: i64, second: i64) -> Value {
    let m = minute as f64 + second as f64 / 60.0;
    ping(
        start + chrono::Duration::minutes(minute) + chrono::Duration::seconds(second),
        30.0 + m * 1e-3 + (minute % 3) as f64 * 4e-4,
        -97.0 + m * 7e-4 - (minute % 4) as f64 * 3e-4,
    )
}

/// Clocked in two hours ago: the shift's id and its start.
async fn shift_begun_two_hours_ago(app: &TestApp, tech: &Signed) -> (String, DateTime<Utc>) {
    let shift = clock(app, tech, "clock-in").await;
    let id = shift["id"].as_str().unwrap().to_owned();
    let start = (Utc::now() - chrono::Duration::hours(2)).trunc_subsecs(6);
    start_shift_at(app, &id, start);
    (id, start)
}

/// However the positions arrive between reads — in time order, among those
/// already counted, after a gap, or ahead of the clock-out — the open shift
/// shows the length of its whole trail, and so does the closed shift.
#[tokio::test]
async fn an_open_shifts_distance_is_its_whole_trails_however_its_positions_arrive() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let tech = app.user_with_role(&owner, "technician").await;
    let (id, start) = shift_begun_two_hours_ago(&app, &tech).await;
    let at = |minute, second| wandering(start, minute, second);
    let check = |step: &'static str| {
        let (app, owner, id) = (&app, &owner, &id);
        async move {
            let shown = shown_distance(app, owner, id).await;
            let whole = whole_trail(app, owner, id).await;
            assert!(same_length(shown, whole), "{step}: {shown} vs {whole}");
            shown
        }
    };
    assert_eq!(check("no positions yet").await, 0.0);

    let first: Vec<_> = (0..10).map(|m| at(m, 0)).collect();
    assert_eq!(upload(&app, &tech, first).await["accepted"], 10);
    let counted = check("a first batch").await;
    assert!(counted > 1000.0, "{counted}");
    assert_eq!(check("read again, nothing new").await, counted);

    let next: Vec<_> = (10..20).map(|m| at(m, 0)).collect();
    upload(&app, &tech, next).await;
    let on = check("the next batch in time order").await;
    assert!(on > counted);

    // A phone's queued uploads after a dead spot: between positions counted.
    let among: Vec<_> = (3..7).map(|m| at(m, 30)).collect();
    assert_eq!(upload(&app, &tech, among).await["accepted"], 4);
    let detoured = check("a batch among the counted positions").await;
    assert!(detoured != on, "the late positions change the trail");

    let later: Vec<_> = (40..45).map(|m| at(m, 0)).collect();
    upload(&app, &tech, later).await;
    check("a batch after a gap").await;

    // A clock running ahead: counted while the shift is open, removed at
    // the close.
    let ahead = ping(Utc::now() + chrono::Duration::seconds(100), 31.0, -97.0);
    upload(&app, &tech, vec![ahead]).await;
    let with_ahead = check("a position ahead of now").await;

    let closed = clock(&app, &tech, "clock-out").await;
    let whole = whole_trail(&app, &owner, &id).await;
    let stored = closed["distance_m"].as_f64().unwrap();
    assert!(same_length(stored, whole), "closed: {stored} vs {whole}");
    assert!(stored < with_ahead - 1000.0, "the position ahead is out");
    assert_eq!(shown_distance(&app, &owner, &id).await, stored);
}

/// After a read, positions sent in time order are counted on from the last
/// one read: the positions read before are not read again. Seen by moving
/// the counted positions behind the server's back (a read that loaded the
/// whole trail would see the move); a position landing among them makes the
/// next read count the whole trail again.
#[tokio::test]
async fn a_read_after_positions_in_time_order_reads_only_the_new_ones() {
    use diesel::prelude::*;
    use fieldcrm_db::schema::pings;

    let app = spawn_app().await;
    let owner = app.signup().await;
    let tech = app.user_with_role(&owner, "technician").await;
    let (id, start) = shift_begun_two_hours_ago(&app, &tech).await;
    let trail: Vec<Value> = (0..8).map(|m| wandering(start, m, 0)).collect();
    upload(&app, &tech, trail[..5].to_vec()).await;
    let counted = shown_distance(&app, &owner, &id).await;

    let shift: fieldcrm_db::Id<fieldcrm_db::shifts::Shift> =
        fieldcrm_db::Id::from_uuid(id.parse().unwrap());
    let moved = diesel::update(pings::table.filter(pings::shift_id.eq(shift)))
        .set(pings::lat.eq(pings::lat + 1.0))
        .execute(&mut *app.pool.get().unwrap())
        .unwrap();
    assert_eq!(moved, 5);
    upload(&app, &tech, trail[5..].to_vec()).await;

    let fix = |p: &Value| fieldcrm_geo_track::Fix {
        at: time(&p["recorded_at"]),
        lat: p["lat"].as_f64().unwrap(),
        lon: p["lon"].as_f64().unwrap(),
    };
    let added = fieldcrm_geo_track::distance_m(&trail[4..].iter().map(fix).collect::<Vec<_>>());
    let shown = shown_distance(&app, &owner, &id).await;
    assert!(
        same_length(shown, counted + added),
        "{shown} vs {counted} + {added}"
    );
    let whole = whole_trail(&app, &owner, &id).await;
    assert!(whole > shown + 50_000.0, "the moved positions: {whole}");

    upload(&app, &tech, vec![wandering(start, 2, 30)]).await;
    let again = shown_distance(&app, &owner, &id).await;
    let whole = whole_trail(&app, &owner, &id).await;
    assert!(same_length(again, whole), "{again} vs {whole}");
}

/// Batches of one person arriving at once, each interleaved in time with the
/// others, while the timesheet is read over and over: the last read shows the
/// whole trail's length, and so does the closed shift.
#[tokio::test]
async fn concurrent_interleaved_batches_and_reads_leave_the_whole_trails_distance() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let tech = app.user_with_role(&owner, "technician").await;
    let (id, start) = shift_begun_two_hours_ago(&app, &tech).await;
    const BATCHES: i64 = 8;
    for round in 0..3 {
        // Batch k holds minutes k, k + 8, k + 16, ... of a half hour: the
        // first, the one after it, then the first again half a minute on,
        // among the positions counted.
        let (from, second) = [(0, 0), (32, 0), (0, 30)][round];
        let batches: Vec<Vec<Value>> = (0..BATCHES)
            .map(|k| {
                (0..4)
                    .map(|i| wandering(start, from + i * BATCHES + k, second))
                    .collect()
            })
            .collect();
        let uploads = futures_util::future::join_all(
            batches.into_iter().map(|batch| upload(&app, &tech, batch)),
        );
        let done = std::sync::atomic::AtomicBool::new(false);
        let reads = async {
            let mut reads = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) || reads < 3 {
                listed_distance(&app, &owner, &id).await;
                reads += 1;
            }
        };
        let (stored, ()) = tokio::join!(
            async {
                let stored = uploads.await;
                done.store(true, std::sync::atomic::Ordering::Relaxed);
                stored
            },
            reads
        );
        let accepted: u64 = stored.iter().map(|s| s["accepted"].as_u64().unwrap()).sum();
        assert_eq!(accepted, 32, "round {round}: {stored:?}");
        let shown = shown_distance(&app, &owner, &id).await;
        let whole = whole_trail(&app, &owner, &id).await;
        assert!(
            same_length(shown, whole),
            "round {round}: {shown} vs {whole}"
        );
    }
    let closed = clock(&app, &tech, "clock-out").await;
    let whole = whole_trail(&app, &owner, &id).await;
    let stored = closed["distance_m"].as_f64().unwrap();
    assert!(same_length(stored, whole), "closed: {stored} vs {whole}");
}
