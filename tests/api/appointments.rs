//! Appointments: scheduling, the status lifecycle, reminders, visibility.

use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};
use fieldcrm_test_support::{problem, shifted, spawn_app, Day, Signed, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

/// `at` in the account's zone (America/Chicago), as `local_starts_at` shows it.
fn in_chicago(at: &str) -> String {
    at.parse::<DateTime<Utc>>()
        .unwrap()
        .with_timezone(&chrono_tz::America::Chicago)
        .to_rfc3339()
}

async fn customer(app: &TestApp, who: &Signed, body: Value) -> String {
    let response = app
        .call(Method::POST, "/v1/customers", &who.access, Some(body))
        .await;
    assert_eq!(response.status(), 201);
    response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn book(app: &TestApp, who: &Signed, body: Value) -> reqwest::Response {
    app.call(Method::POST, "/v1/appointments", &who.access, Some(body))
        .await
}

async fn booked(app: &TestApp, who: &Signed, body: Value) -> Value {
    let response = book(app, who, body).await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

#[tokio::test]
async fn an_appointment_is_booked_at_the_customers_address_with_default_reminders() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let tech = app.user_with_role(&owner, "technician").await;
    let ann = customer(
        &app,
        &owner,
        json!({"name": "Ann", "address": {"line1": "1 Main St", "lat": 30.27, "lon": -97.74}}),
    )
    .await;
    let day = Day::ahead(30);
    let starts = day.at("15:00");
    let response = book(
        &app,
        &owner,
        json!({"customer_id": ann, "technician_id": tech.user_id, "title": "Boiler service",
               "starts_at": starts, "ends_at": day.at("16:00")}),
    )
    .await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["etag"], "\"1\"");
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "scheduled");
    assert_eq!(body["address"]["line1"], "1 Main St");
    assert_eq!(body["address"]["lat"], 30.27);
    assert_eq!(body["local_starts_at"], in_chicago(&starts));
    let reminders: Vec<(String, String)> = body["reminders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["channel"].as_str().unwrap().into(),
                r["due_at"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        reminders,
        [
            ("email".to_string(), day.plus(-1).at("15:00")),
            ("sms".to_string(), day.at("14:00"))
        ]
    );
    assert_eq!(body["status_history"][0]["to"], "scheduled");
    assert_eq!(
        body["status_history"][0]["by"],
        format!("user:{}", owner.user_id)
    );

    let changed = app
        .call(
            Method::PATCH,
            &location,
            &owner.access,
            Some(json!({"title": "Boiler repair", "notes": "Bring parts"})),
        )
        .await;
    assert_eq!(changed.status(), 200);
    assert_eq!(changed.headers()["etag"], "\"2\"");
    assert_eq!(
        app.call(Method::DELETE, &location, &owner.access, None)
            .await
            .status(),
        204
    );
    assert_eq!(
        app.call(Method::GET, &location, &owner.access, None)
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn invalid_bookings_name_their_fields() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let ann = customer(&app, &owner, json!({"name": "Ann"})).await;
    let other = app.signup().await;
    let stranger = customer(&app, &other, json!({"name": "Not yours"})).await;
    let day = Day::ahead(30);
    let base = |extra: Value| {
        let mut body = json!({"customer_id": ann, "title": "Visit", "starts_at": day.at("15:00"), "ends_at": day.at("16:00")});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    for (extra, field) in [
        (json!({"ends_at": day.at("14:00")}), "ends_at"),
        (json!({"title": " "}), "title"),
        (
            json!({"reminders": [{"channel": "pigeon", "minutes_before": 5}]}),
            "reminders[0]",
        ),
        (json!({"customer_id": stranger}), "customer_id"),
        (json!({"technician_id": other.user_id}), "technician_id"),
        (
            json!({"address": {"line1": "x", "lat": 100.0, "lon": 0.0}}),
            "address.lat",
        ),
    ] {
        let response = book(&app, &owner, base(extra.clone())).await;
        assert_eq!(response.status(), 422, "{extra}");
        assert_eq!(
            problem(response).await["errors"][0]["field"],
            field,
            "{extra}"
        );
    }
    let list: Value = app
        .call(Method::GET, "/v1/appointments", &owner.access, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"], json!([]), "nothing was written");
}

#[tokio::test]
async fn the_status_moves_only_along_its_lifecycle_and_closing_cancels_reminders() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let ann = customer(&app, &owner, json!({"name": "Ann"})).await;
    let day = Day::ahead(30);
    let appointment = booked(&app, &owner, json!({"customer_id": ann, "title": "Visit", "starts_at": day.at("15:00"), "ends_at": day.at("16:00")})).await;
    let path = format!(
        "/v1/appointments/{}/status",
        appointment["id"].as_str().unwrap()
    );
    let move_to = |status: &'static str| {
        app.call(
            Method::POST,
            &path,
            &owner.access,
            Some(json!({"status": status})),
        )
    };

    let skip = move_to("completed").await;
    assert_eq!(skip.status(), 422);
    let skip = problem(skip).await;
    assert_eq!(
        skip["allowed"],
        json!(["confirmed", "cancelled", "no_show"])
    );
    assert!(skip["detail"].as_str().unwrap().contains("confirmed"));
    assert_eq!(move_to("teleported").await.status(), 422);

    for status in ["confirmed", "en_route", "in_progress", "completed"] {
        let response = move_to(status).await;
        assert_eq!(response.status(), 200, "{status}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], status);
    }
    let after: Value = move_to("cancelled").await.json().await.unwrap();
    assert_eq!(after["allowed"], json!([]), "completed is final");
    let done: Value = app
        .call(
            Method::GET,
            &format!("/v1/appointments/{}", appointment["id"].as_str().unwrap()),
            &owner.access,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let history: Vec<&str> = done["status_history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["to"].as_str().unwrap())
        .collect();
    assert_eq!(
        history,
        [
            "scheduled",
            "confirmed",
            "en_route",
            "in_progress",
            "completed"
        ]
    );
    let statuses = |appointment: &Value| -> Vec<String> {
        appointment["reminders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["status"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        statuses(&done),
        ["cancelled", "cancelled"],
        "both default reminders"
    );

    let second = booked(&app, &owner, json!({"customer_id": ann, "title": "Visit 2", "starts_at": day.plus(1).at("15:00"), "ends_at": day.plus(1).at("16:00")})).await;
    let path2 = format!("/v1/appointments/{}/status", second["id"].as_str().unwrap());
    app.call(
        Method::POST,
        &path2,
        &owner.access,
        Some(json!({"status": "confirmed"})),
    )
    .await;
    let cancelled: Value = app
        .call(
            Method::POST,
            &path2,
            &owner.access,
            Some(json!({"status": "cancelled"})),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(statuses(&cancelled), ["cancelled", "cancelled"]);
}

#[tokio::test]
async fn double_booking_a_technician_is_409_unless_allowed() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let tech = app.user_with_role(&owner, "technician").await;
    let ann = customer(&app, &owner, json!({"name": "Ann"})).await;
    let day = Day::ahead(30);
    let slot = |start: &str, end: &str| json!({"customer_id": ann, "technician_id": tech.user_id, "title": "Visit", "starts_at": start, "ends_at": end});
    let first = booked(&app, &owner, slot(&day.at("10:00"), &day.at("11:00"))).await;

    let clash = book(&app, &owner, slot(&day.at("10:30"), &day.at("11:30"))).await;
    assert_eq!(clash.status(), 409);
    let clash = problem(clash).await;
    assert_eq!(clash["conflicting_id"], first["id"]);
    assert_eq!(clash["code"], "double_booked");

    assert_eq!(
        book(&app, &owner, slot(&day.at("11:00"), &day.at("12:00")))
            .await
            .status(),
        201,
        "back to back is fine"
    );
    let mut forced = slot(&day.at("10:15"), &day.at("10:45"));
    forced["allow_overlap"] = json!(true);
    assert_eq!(book(&app, &owner, forced).await.status(), 201);

    // Moving another appointment onto the first is refused the same way.
    let later = booked(&app, &owner, slot(&day.at("14:00"), &day.at("15:00"))).await;
    let moved = app
        .call(
            Method::PATCH,
            &format!("/v1/appointments/{}", later["id"].as_str().unwrap()),
            &owner.access,
            Some(json!({"starts_at": day.at("10:30"), "ends_at": day.at("10:50")})),
        )
        .await;
    assert_eq!(moved.status(), 409);

    // A cancelled appointment no longer holds the time of its technician:
    // before, the slot it alone covers is refused; after, it is free.
    let only_first = slot(&day.at("10:00"), &day.at("10:10"));
    assert_eq!(book(&app, &owner, only_first.clone()).await.status(), 409);
    let cancelled = app
        .call(
            Method::POST,
            &format!("/v1/appointments/{}/status", first["id"].as_str().unwrap()),
            &owner.access,
            Some(json!({"status": "cancelled"})),
        )
        .await;
    assert_eq!(cancelled.status(), 200);
    assert_eq!(book(&app, &owner, only_first).await.status(), 201);
}

/// The next day clocks in the United States spring forward (the second Sunday
/// of March), at least two days ahead.
fn next_spring_forward() -> Day {
    let soon = Day::ahead(2).0;
    [soon.year(), soon.year() + 1]
        .into_iter()
        .filter_map(|year| NaiveDate::from_weekday_of_month_opt(year, 3, Weekday::Sun, 2))
        .find(|day| *day >= soon)
        .map(Day)
        .unwrap()
}

/// The account is in America/Chicago, where the day clocks spring forward has
/// 23 hours.
#[tokio::test]
async fn ranges_and_local_times_hold_across_daylight_saving() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let ann = customer(&app, &owner, json!({"name": "Ann"})).await;
    let day = next_spring_forward();
    let (eve, next) = (day.plus(-1), day.plus(1));
    let at = |title: &str, start: &str, end: &str| json!({"customer_id": ann, "title": title, "starts_at": start, "ends_at": end, "reminders": []});
    let before = booked(
        &app,
        &owner,
        at("before", &eve.at("15:00"), &eve.at("16:00")),
    )
    .await;
    let after = booked(
        &app,
        &owner,
        at("after", &next.at("14:00"), &next.at("15:00")),
    )
    .await;
    assert_eq!(
        before["local_starts_at"],
        format!("{}T09:00:00-06:00", eve.0)
    );
    assert_eq!(
        after["local_starts_at"],
        format!("{}T09:00:00-05:00", next.0),
        "9 a.m. both days, an hour apart in UTC"
    );
    booked(
        &app,
        &owner,
        at("overnight into the day", &day.at("05:00"), &day.at("07:00")),
    )
    .await;
    booked(
        &app,
        &owner,
        at("late that day", &next.at("04:30"), &next.at("04:45")),
    )
    .await;
    booked(
        &app,
        &owner,
        at("just after midnight", &next.at("05:30"), &next.at("06:00")),
    )
    .await;

    // Local midnight to midnight: 06:00Z (CST) to 05:00Z (CDT).
    let day: Value = app
        .call(
            Method::GET,
            &format!(
                "/v1/appointments?from={}&to={}",
                day.at("06:00"),
                next.at("05:00")
            ),
            &owner.access,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let titles: Vec<&str> = day["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["overnight into the day", "late that day"]);
}

#[tokio::test]
async fn rescheduling_moves_reminders() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let ann = customer(&app, &owner, json!({"name": "Ann"})).await;
    let day = Day::ahead(30);
    let a = booked(&app, &owner, json!({"customer_id": ann, "title": "Visit", "starts_at": day.at("15:00"), "ends_at": day.at("16:00"), "reminders": [{"channel": "sms", "minutes_before": 90}]})).await;
    assert_eq!(a["reminders"][0]["due_at"], day.at("13:30"));
    let path = format!("/v1/appointments/{}", a["id"].as_str().unwrap());
    let moved: Value = app
        .call(
            Method::PATCH,
            &path,
            &owner.access,
            Some(json!({"starts_at": day.plus(2).at("18:00"), "ends_at": day.plus(2).at("19:00")})),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(moved["reminders"].as_array().unwrap().len(), 1);
    assert_eq!(
        moved["reminders"][0]["due_at"],
        shifted(&day.plus(2).at("18:00"), -90)
    );
    assert_eq!(moved["reminders"][0]["status"], "scheduled");
    let replaced: Value = app
        .call(
            Method::PATCH,
            &path,
            &owner.access,
            Some(json!({"reminders": [{"channel": "email", "minutes_before": 1440}]})),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(replaced["reminders"][0]["channel"], "email");
    assert_eq!(replaced["reminders"][0]["due_at"], day.plus(1).at("18:00"));
    let stale = app
        .authed(Method::PATCH, &path, &owner.access)
        .header("if-match", "\"1\"")
        .json(&json!({"title": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 412);
}

#[tokio::test]
async fn technicians_see_and_move_only_their_own_and_see_only_those_customers() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let mine = app.user_with_role(&owner, "technician").await;
    let other = app.user_with_role(&owner, "technician").await;
    let x = customer(&app, &owner, json!({"name": "X"})).await;
    let y = customer(&app, &owner, json!({"name": "Y"})).await;
    let day = Day::ahead(30);
    let a = booked(&app, &owner, json!({"customer_id": x, "technician_id": mine.user_id, "title": "Visit", "starts_at": day.at("15:00"), "ends_at": day.at("16:00")})).await;
    booked(&app, &owner, json!({"customer_id": y, "technician_id": other.user_id, "title": "Visit", "starts_at": day.at("15:00"), "ends_at": day.at("16:00")})).await;
    let id = a["id"].as_str().unwrap();

    let list: Value = app
        .call(Method::GET, "/v1/appointments", &mine.access, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(list["data"][0]["id"], a["id"]);
    let customers: Value = app
        .call(Method::GET, "/v1/customers", &mine.access, None)
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = customers["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["X"]);
    assert_eq!(
        app.call(
            Method::GET,
            &format!("/v1/customers/{x}"),
            &mine.access,
            None
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        app.call(
            Method::GET,
            &format!("/v1/customers/{y}"),
            &mine.access,
            None
        )
        .await
        .status(),
        404
    );

    assert_eq!(
        app.call(
            Method::GET,
            &format!("/v1/appointments/{id}"),
            &other.access,
            None
        )
        .await
        .status(),
        404
    );
    let by_other = app
        .call(
            Method::POST,
            &format!("/v1/appointments/{id}/status"),
            &other.access,
            Some(json!({"status": "confirmed"})),
        )
        .await;
    assert_eq!(by_other.status(), 404);
    let by_me = app
        .call(
            Method::POST,
            &format!("/v1/appointments/{id}/status"),
            &mine.access,
            Some(json!({"status": "confirmed"})),
        )
        .await;
    assert_eq!(by_me.status(), 200);
    let edit = app
        .call(
            Method::PATCH,
            &format!("/v1/appointments/{id}"),
            &mine.access,
            Some(json!({"title": "Mine now"})),
        )
        .await;
    assert_eq!(edit.status(), 403, "technicians do not reschedule");
    let create = book(&app, &mine, json!({"customer_id": x, "title": "Self-booked", "starts_at": day.plus(4).at("15:00"), "ends_at": day.plus(4).at("16:00")})).await;
    assert_eq!(create.status(), 403);
}

/// The feed, read by an independent iCalendar parser, lists the person's open
/// appointments; rotating the URL ends the old one.
#[tokio::test]
async fn a_technicians_calendar_feed_parses_and_rotates() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let tech = app.user_with_role(&owner, "technician").await;
    let ann = customer(
        &app,
        &owner,
        json!({"name": "Ann", "address": {"line1": "1 Main St", "city": "Austin"}}),
    )
    .await;
    let soon = chrono::Utc::now() + chrono::Duration::days(2);
    let at = |hours: i64| (soon + chrono::Duration::hours(hours)).to_rfc3339();
    let kept = booked(&app, &owner, json!({"customer_id": ann, "technician_id": tech.user_id, "title": "Boiler; service, yearly", "starts_at": at(0), "ends_at": at(1)})).await;
    let cancelled = booked(&app, &owner, json!({"customer_id": ann, "technician_id": tech.user_id, "title": "Called off", "starts_at": at(3), "ends_at": at(4)})).await;
    app.call(
        Method::POST,
        &format!(
            "/v1/appointments/{}/status",
            cancelled["id"].as_str().unwrap()
        ),
        &owner.access,
        Some(json!({"status": "cancelled"})),
    )
    .await;
    booked(
        &app,
        &owner,
        json!({"customer_id": ann, "title": "Unassigned", "starts_at": at(5), "ends_at": at(6)}),
    )
    .await;

    let created = app
        .call(Method::POST, "/v1/me/calendar-feed", &tech.access, None)
        .await;
    assert_eq!(created.status(), 201);
    let url = created.json::<Value>().await.unwrap()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        url.starts_with(&app.address) && url.contains("/v1/calendar-feeds/fcrm_cal_"),
        "{url}"
    );

    let feed = app.client.get(&url).send().await.unwrap();
    assert_eq!(feed.status(), 200, "no credentials needed but the URL");
    assert!(feed.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/calendar"));
    let text = feed.text().await.unwrap();
    let calendar = ical::IcalParser::new(std::io::BufReader::new(text.as_bytes()))
        .next()
        .expect("one calendar")
        .expect("a valid calendar");
    assert_eq!(
        calendar.events.len(),
        1,
        "only the open appointment assigned to them"
    );
    let prop = |name: &str| {
        calendar.events[0]
            .properties
            .iter()
            .find(|p| p.name == name)
            .and_then(|p| p.value.clone())
            .unwrap_or_default()
    };
    assert_eq!(
        prop("UID"),
        format!("{}@fieldcrm", kept["id"].as_str().unwrap())
    );
    assert_eq!(
        prop("SUMMARY"),
        "Boiler\\; service\\, yearly",
        "text is escaped as RFC 5545 says"
    );
    assert_eq!(prop("LOCATION"), "1 Main St\\, Austin");
    let starts = chrono::DateTime::parse_from_rfc3339(kept["starts_at"].as_str().unwrap()).unwrap();
    assert_eq!(prop("DTSTART"), starts.format("%Y%m%dT%H%M%SZ").to_string());

    let rotated = app
        .call(Method::POST, "/v1/me/calendar-feed", &tech.access, None)
        .await;
    let new_url = rotated.json::<Value>().await.unwrap()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new_url, url);
    assert_eq!(
        app.client.get(&url).send().await.unwrap().status(),
        404,
        "the old URL is dead"
    );
    assert_eq!(app.client.get(&new_url).send().await.unwrap().status(), 200);
    assert_eq!(
        app.call(Method::DELETE, "/v1/me/calendar-feed", &tech.access, None)
            .await
            .status(),
        204
    );
    assert_eq!(app.client.get(&new_url).send().await.unwrap().status(), 404);

    let (_, key) = app.api_key(&owner, "read").await;
    assert_eq!(
        app.call(Method::POST, "/v1/me/calendar-feed", &key, None)
            .await
            .status(),
        403
    );
}

#[tokio::test]
async fn lists_filter_by_technician_customer_and_status() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let t1 = app.user_with_role(&owner, "technician").await;
    let t2 = app.user_with_role(&owner, "technician").await;
    let x = customer(&app, &owner, json!({"name": "X"})).await;
    let y = customer(&app, &owner, json!({"name": "Y"})).await;
    let first = Day::ahead(30);
    let mk = |c: &str, t: &str, title: &str, day: i64| {
        json!({"customer_id": c, "technician_id": t, "title": title,
               "starts_at": first.plus(day - 1).at("15:00"), "ends_at": first.plus(day - 1).at("16:00")})
    };
    booked(&app, &owner, mk(&x, &t1.user_id, "x-t1", 1)).await;
    booked(&app, &owner, mk(&y, &t1.user_id, "y-t1", 2)).await;
    let third = booked(&app, &owner, mk(&x, &t2.user_id, "x-t2", 3)).await;
    app.call(
        Method::POST,
        &format!("/v1/appointments/{}/status", third["id"].as_str().unwrap()),
        &owner.access,
        Some(json!({"status": "confirmed"})),
    )
    .await;

    let titles = |path: String| {
        let app = &app;
        let token = owner.access.clone();
        async move {
            let body: Value = app
                .call(Method::GET, &path, &token, None)
                .await
                .json()
                .await
                .unwrap();
            body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["title"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        titles(format!("/v1/appointments?technician_id={}", t1.user_id)).await,
        ["x-t1", "y-t1"]
    );
    assert_eq!(
        titles(format!("/v1/appointments?customer_id={x}")).await,
        ["x-t1", "x-t2"]
    );
    assert_eq!(
        titles("/v1/appointments?status=confirmed".into()).await,
        ["x-t2"]
    );
    assert_eq!(titles("/v1/appointments?limit=2".into()).await.len(), 2);
    let bad = app
        .call(
            Method::GET,
            "/v1/appointments?status=done",
            &owner.access,
            None,
        )
        .await;
    assert_eq!(problem(bad).await["errors"][0]["field"], "status");
}

/// The feed URL is built from `FIELDCRM_PUBLIC_BASE_URL`, never from the
/// request: a forged `Host` cannot put another site into the link, and behind a
/// TLS proxy the link says https.
#[tokio::test]
async fn the_calendar_feed_url_is_the_public_base_url_whatever_the_host_header() {
    let app = fieldcrm_test_support::spawn_app_with(|s| {
        s.public_base_url = Some("https://crm.example.com/".into());
    })
    .await;
    let owner = app.signup().await;
    let created = app
        .authed(Method::POST, "/v1/me/calendar-feed", &owner.access)
        .header("host", "attacker.example")
        .header("x-forwarded-proto", "http")
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let url = created.json::<Value>().await.unwrap()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = url
        .strip_prefix("https://crm.example.com/v1/calendar-feeds/fcrm_cal_")
        .map(|token| format!("/v1/calendar-feeds/fcrm_cal_{token}"));
    let path = path.unwrap_or_else(|| panic!("{url} is not under the public base URL"));
    assert_eq!(app.get(&path).await.status(), 200, "the link's path works");
}

#[tokio::test]
async fn a_booking_retried_with_its_idempotency_key_books_once() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let ada = customer(&app, &owner, json!({"name": "Ada"})).await;
    let day = Day::ahead(5);
    let body = json!({"customer_id": ada, "title": "Visit",
        "starts_at": day.at("09:00"), "ends_at": day.at("10:00"), "reminders": []});
    let send = |body: Value| {
        app.authed(Method::POST, "/v1/appointments", &owner.access)
            .header("Idempotency-Key", "booking-ada-1")
            .json(&body)
            .send()
    };
    let first = send(body.clone()).await.unwrap();
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotency-replayed").is_none());
    let location = first.headers()["location"].to_str().unwrap().to_owned();
    let first: Value = first.json().await.unwrap();
    let again = send(body.clone()).await.unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotency-replayed"], "true");
    assert_eq!(again.headers()["location"].to_str().unwrap(), location);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);

    let list: Value = app
        .call(Method::GET, "/v1/appointments", &owner.access, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "booked once");

    let mut other = body;
    other["title"] = json!("Another visit");
    let reused = send(other).await.unwrap();
    assert_eq!(reused.status(), 422, "the same key with another body");
}
