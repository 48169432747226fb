//! The technician's pages: the day's appointments with their links and
//! status buttons, the time clock and their own hours.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::America::Chicago;
use fieldcrm_test_support::{spawn_app, start_shift_at, Signed, TestApp};
use reqwest::{Method, Response};
use serde_json::{json, Value};

use super::*;
use crate::devices::{devices_of, issue};
use crate::google::get_appointment;
use crate::messages::{app_with, customer, owner, sends, twilio};

/// The account's time zone (`TestApp::signup`'s).
fn local_today() -> NaiveDate {
    Utc::now().with_timezone(&Chicago).date_naive()
}

/// `hour` o'clock, `days` after today, in the account's time zone.
fn local(days: i64, hour: u32) -> DateTime<Utc> {
    let day = local_today() + Duration::days(days);
    Chicago
        .from_local_datetime(&day.and_hms_opt(hour, 0, 0).unwrap())
        .earliest()
        .unwrap()
        .with_timezone(&Utc)
}

/// Books `customer` for `technician` at `starts`, for an hour, with no reminders.
async fn book(
    app: &TestApp,
    owner: &Signed,
    customer: &str,
    technician: &str,
    title: &str,
    starts: DateTime<Utc>,
) -> String {
    let response = app
        .call(
            Method::POST,
            "/v1/appointments",
            &owner.access,
            Some(json!({
                "customer_id": customer, "technician_id": technician, "title": title,
                "starts_at": starts.to_rfc3339(), "ends_at": (starts + Duration::hours(1)).to_rfc3339(),
                "reminders": [], "allow_overlap": true,
            })),
        )
        .await;
    assert_eq!(response.status(), 201, "booking {title}");
    response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn shifts(app: &TestApp, who: &Signed) -> Vec<Value> {
    let response = app.call(Method::GET, "/v1/shifts", &who.access, None).await;
    assert_eq!(response.status(), 200);
    let page: Value = response.json().await.unwrap();
    page["data"].as_array().unwrap().clone()
}

/// A technician of a new account, signed in in a browser: the account's
/// owner, the technician and their session.
async fn technician(app: &TestApp) -> (Signed, Signed, String) {
    let owner = owner(app).await;
    let tech = app.user_with_role(&owner, "technician").await;
    let session = sign_in(app, &tech.email).await;
    (owner, tech, session)
}

/// The day's page and the CSRF token of its forms.
async fn today(app: &TestApp, session: &str) -> (String, String) {
    let page = get_page(app, "/app/today", session).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    (csrf_of(&html), html)
}

async fn set_status(
    app: &TestApp,
    session: &str,
    csrf: &str,
    id: &str,
    status: &str,
    version: &str,
) -> Response {
    post_form(
        app,
        &format!("/app/today/{id}/status"),
        session,
        &[("csrf", csrf), ("status", status), ("version", version)],
    )
    .await
}

async fn clock_in(app: &TestApp, session: &str, csrf: &str, lat: &str, lon: &str) -> Response {
    post_form(
        app,
        "/app/clock-in",
        session,
        &[("csrf", csrf), ("lat", lat), ("lon", lon)],
    )
    .await
}

async fn clock_out(app: &TestApp, session: &str, csrf: &str) -> Response {
    post_form(app, "/app/clock-out", session, &[("csrf", csrf)]).await
}

#[tokio::test]
async fn a_technician_sees_their_own_appointments_of_today_and_tomorrow_with_maps_call_and_text_links(
) {
    let app = spawn_app().await;
    let (owner, tech, session) = technician(&app).await;
    let other = app.user_with_role(&owner, "technician").await;
    let reachable = customer(
        &app,
        &owner,
        json!({"name": "Ann <i>Lee</i>", "phone": "+1 512 555 0161",
            "address": {"line1": "500 E 5th St", "city": "Austin", "region": "TX", "postal_code": "78701", "country": "US"}}),
        &[],
    )
    .await;
    let no_phone = customer(&app, &owner, json!({"name": "Bo Quiet"}), &[]).await;
    let bookings = [
        (
            &reachable,
            &tech.user_id,
            "<b>Boiler</b> & flue",
            local(0, 10),
        ),
        (&no_phone, &tech.user_id, "Radiator check", local(1, 9)),
        (
            &reachable,
            &other.user_id,
            "Someone else's visit",
            local(0, 11),
        ),
        (&no_phone, &tech.user_id, "Later this week", local(2, 9)),
    ];
    for (customer, technician, title, starts) in bookings {
        book(&app, &owner, customer, technician, title, starts).await;
    }

    let home = get_page(&app, "/app/", &session).await;
    assert_eq!(location(&home), "/app/today");
    let (_, html) = today(&app, &session).await;
    assert!(html.contains("<a href=\"/app/today\" aria-current=\"page\">Today</a>"));
    assert_eq!(html.matches("<h1>").count(), 1);
    let today_at = html.find("Today, ").unwrap();
    let tomorrow_at = html.find("Tomorrow, ").unwrap();
    let boiler = html
        .find("&lt;b&gt;Boiler&lt;/b&gt; &amp; flue")
        .expect("the title as text");
    let radiator = html.find("Radiator check").unwrap();
    assert!(today_at < boiler && boiler < tomorrow_at && tomorrow_at < radiator);
    assert!(html.contains("10:00–11:00"), "local times");
    assert!(html.contains("For Ann &lt;i&gt;Lee&lt;/i&gt;"));
    assert!(!html.contains("<b>Boiler") && !html.contains("<i>Lee"));
    assert!(!html.contains("Someone else"), "another technician's");
    assert!(!html.contains("Later this week"), "the day after tomorrow");

    assert!(html.contains("href=\"geo:0,0?q=500%20E%205th%20St%2C%20Austin%2C%2078701\""));
    assert!(html.contains("500 E 5th St, Austin, 78701</a>"));
    assert_eq!(html.matches("href=\"tel:+15125550161\"").count(), 1);
    assert_eq!(html.matches("href=\"sms:+15125550161\"").count(), 1);
    assert_eq!(html.matches("href=\"tel:").count(), 1, "Bo has no phone");
    // Both are scheduled: confirming is the one step the domain allows.
    assert_eq!(html.matches(">Confirm<").count(), 2);
    assert!(!html.contains("Mark as on the way") && !html.contains("Mark as completed"));
}

#[tokio::test]
async fn clocking_in_with_and_without_a_position_then_out_is_seen_through_the_api() {
    let app = spawn_app().await;
    let (_, tech, session) = technician(&app).await;
    let (csrf, html) = today(&app, &session).await;
    assert!(html.contains("You are not clocked in."));
    assert!(html.contains("data-clock-in-position"));

    let clock_in = |lat, lon| clock_in(&app, &session, &csrf, lat, lon);
    let clock_out = || clock_out(&app, &session, &csrf);

    let clocked = clock_in("30.2672", "-97.7431").await;
    assert_eq!(clocked.status(), 303);
    assert_eq!(location(&clocked), "/app/today");
    let open = shifts(&app, &tech).await;
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["clock_in_lat"], 30.2672);
    assert_eq!(open[0]["clock_in_lon"], -97.7431);
    assert!(open[0]["clock_out_at"].is_null());
    let (_, html) = today(&app, &session).await;
    assert!(html.contains("Clocked in since "));
    assert!(html.contains(">Clock out</button>"));
    assert!(!html.contains(">Clock in</button>"));

    // The API's refusal, as a page that leads back.
    let again = clock_in("", "").await;
    assert_eq!(again.status(), 409);
    let html = again.text().await.unwrap();
    assert!(html.contains("Not clocked in: you are clocked in already; clock out first."));
    assert!(html.contains("href=\"/app/today\""));
    assert_eq!(shifts(&app, &tech).await.len(), 1);

    let out = clock_out().await;
    assert_eq!(out.status(), 303);
    assert!(!shifts(&app, &tech).await[0]["clock_out_at"].is_null());
    let not_in = clock_out().await;
    assert_eq!(not_in.status(), 409);
    assert!(not_in
        .text()
        .await
        .unwrap()
        .contains("Not clocked out: you are not clocked in."));

    // Without JavaScript, or when the position is not allowed.
    assert_eq!(clock_in("", "").await.status(), 303);
    let both = shifts(&app, &tech).await;
    assert_eq!(both.len(), 2);
    assert!(both[1]["clock_in_lat"].is_null() && both[1]["clock_in_lon"].is_null());
    clock_out().await;

    // A position the API would refuse is refused the same way.
    let refused = clock_in("95", "10").await;
    assert_eq!(refused.status(), 422);
    assert!(refused.text().await.unwrap().contains("lat: "));
    let half = clock_in("30.2672", "").await;
    assert_eq!(half.status(), 422);
    assert!(half
        .text()
        .await
        .unwrap()
        .contains("lon: is required with lat"));
    assert_eq!(shifts(&app, &tech).await.len(), 2);
}

#[tokio::test]
async fn a_status_button_sends_the_same_messages_as_the_api_and_shows_in_it() {
    let twilio = twilio().await;
    let app = app_with(&twilio, None, 8).await;
    let (owner, tech, session) = technician(&app).await;
    let ann = customer(
        &app,
        &owner,
        json!({"name": "Ann Lee", "phone": "+1 512 555 0161"}),
        &["sms"],
    )
    .await;
    let id = book(
        &app,
        &owner,
        &ann,
        &tech.user_id,
        "Boiler service",
        local(0, 10),
    )
    .await;

    for (status, button) in [
        ("confirmed", ">Confirm<"),
        ("en_route", "Mark as on the way"),
    ] {
        let (csrf, html) = today(&app, &session).await;
        assert!(html.contains(button), "{button}");
        let version = get_appointment(&app, &owner, &id).await["version"].to_string();
        let moved = set_status(&app, &session, &csrf, &id, status, &version).await;
        assert_eq!(moved.status(), 303, "{status}");
        assert_eq!(location(&moved), "/app/today");
    }
    let (_, html) = today(&app, &session).await;
    assert!(html.contains("<strong>On the way</strong>"));
    assert!(html.contains("Mark as in progress"));

    let seen = get_appointment(&app, &owner, &id).await;
    assert_eq!(seen["status"], "en_route");
    let history = seen["status_history"].as_array().unwrap();
    assert_eq!(
        history.last().unwrap()["by"],
        format!("user:{}", tech.user_id)
    );

    app.run_jobs().await;
    let response = app
        .call(
            Method::GET,
            &format!("/v1/messages?appointment_id={id}"),
            &owner.access,
            None,
        )
        .await;
    let log: Value = response.json().await.unwrap();
    let mut kinds: Vec<&str> = log["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["confirmation", "on_my_way"]);
    let sent = sends(&twilio).await;
    assert_eq!(sent.len(), 2);
    assert!(sent
        .iter()
        .all(|form| form.contains(&("To".to_owned(), "+15125550161".to_owned()))));
}

#[tokio::test]
async fn a_status_the_domain_does_not_allow_next_is_not_offered_and_refused_when_posted() {
    let app = spawn_app().await;
    let (owner, tech, session) = technician(&app).await;
    let ann = app
        .create_customer(&owner, json!({"name": "Ann Lee"}))
        .await;
    let id = book(
        &app,
        &owner,
        ann["id"].as_str().unwrap(),
        &tech.user_id,
        "Boiler service",
        local(0, 10),
    )
    .await;
    let (csrf, html) = today(&app, &session).await;
    assert!(!html.contains("value=\"completed\""));

    let skipped = set_status(&app, &session, &csrf, &id, "completed", "1").await;
    assert_eq!(skipped.status(), 422);
    let html = skipped.text().await.unwrap();
    assert!(html.contains("Status not changed"));
    assert!(html.contains("a scheduled appointment can become confirmed, cancelled, no_show"));
    let unknown = set_status(&app, &session, &csrf, &id, "teleported", "1").await;
    assert_eq!(unknown.status(), 422);

    // Changed by the office since the page was read.
    let moved = app
        .call(
            Method::POST,
            &format!("/v1/appointments/{id}/status"),
            &owner.access,
            Some(json!({"status": "confirmed"})),
        )
        .await;
    assert_eq!(moved.status(), 200);
    let stale = set_status(&app, &session, &csrf, &id, "en_route", "1").await;
    assert_eq!(stale.status(), 412);
    assert!(stale
        .text()
        .await
        .unwrap()
        .contains("Reload today's appointments"));
    assert_eq!(
        get_appointment(&app, &owner, &id).await["status"],
        "confirmed"
    );

    // Completed is final: no buttons at all.
    for status in ["en_route", "in_progress", "completed"] {
        let version = get_appointment(&app, &owner, &id).await["version"].to_string();
        let moved = set_status(&app, &session, &csrf, &id, status, &version).await;
        assert_eq!(moved.status(), 303, "{status}");
    }
    let (_, html) = today(&app, &session).await;
    assert!(html.contains("<strong>Completed</strong>"));
    assert!(!html.contains("Mark as") && !html.contains(">Confirm<"));
}

#[tokio::test]
async fn forms_without_the_sessions_token_change_nothing_and_others_appointments_answer_404() {
    let app = spawn_app().await;
    let (owner, tech, session) = technician(&app).await;
    let other = app.user_with_role(&owner, "technician").await;
    let ann = app
        .create_customer(&owner, json!({"name": "Ann Lee"}))
        .await;
    let ann = ann["id"].as_str().unwrap();
    let mine = book(&app, &owner, ann, &tech.user_id, "Mine", local(0, 10)).await;
    let theirs = book(&app, &owner, ann, &other.user_id, "Theirs", local(0, 12)).await;
    let elsewhere = {
        let stranger = app.signup().await;
        let bea = app.create_customer(&stranger, json!({"name": "Bea"})).await;
        book(
            &app,
            &stranger,
            bea["id"].as_str().unwrap(),
            &stranger.user_id,
            "Elsewhere",
            local(0, 10),
        )
        .await
    };
    let (csrf, _) = today(&app, &session).await;

    let forged = set_status(&app, &session, "forged", &mine, "confirmed", "1").await;
    assert_eq!(forged.status(), 403);
    assert_eq!(
        get_appointment(&app, &owner, &mine).await["status"],
        "scheduled"
    );
    let forged = post_form(&app, "/app/clock-in", &session, &[("csrf", "forged")]).await;
    assert_eq!(forged.status(), 403);
    let forged = post_form(&app, "/app/clock-in", &session, &[]).await;
    assert_eq!(forged.status(), 403);
    assert!(shifts(&app, &tech).await.is_empty());
    post_form(&app, "/app/clock-in", &session, &[("csrf", &csrf)]).await;
    let forged = post_form(&app, "/app/clock-out", &session, &[("csrf", "forged")]).await;
    assert_eq!(forged.status(), 403);
    assert!(shifts(&app, &tech).await[0]["clock_out_at"].is_null());

    for id in [
        theirs.as_str(),
        elsewhere.as_str(),
        "not-an-id",
        "0190b5e4-0000-7000-8000-000000000000",
    ] {
        let refused = set_status(&app, &session, &csrf, id, "confirmed", "1").await;
        assert_eq!(refused.status(), 404, "{id}");
    }
    assert_eq!(
        get_appointment(&app, &owner, &theirs).await["status"],
        "scheduled"
    );

    // Signed out: the sign-in page.
    let anonymous = app.get("/app/today").await;
    assert_eq!(anonymous.status(), 303);
    assert_eq!(location(&anonymous), "/app/sign-in");
}

#[tokio::test]
async fn the_traccar_client_links_appear_while_clocked_in_with_a_tracker_set_up() {
    let app = spawn_app().await;
    let (_, tech, session) = technician(&app).await;
    let (csrf, _) = today(&app, &session).await;
    post_form(&app, "/app/clock-in", &session, &[("csrf", &csrf)]).await;
    let (_, html) = today(&app, &session).await;
    assert!(!html.contains("org.traccar.client"), "no tracker yet");
    post_form(&app, "/app/clock-out", &session, &[("csrf", &csrf)]).await;

    let token = issue(&app, &tech, &tech.user_id, "Tom's phone").await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, html) = today(&app, &session).await;
    assert!(!html.contains("org.traccar.client"), "not clocked in");

    post_form(&app, "/app/clock-in", &session, &[("csrf", &csrf)]).await;
    let (_, html) = today(&app, &session).await;
    let start = html
        .find("href=\"org.traccar.client://action/start\"")
        .expect("the start link");
    let clock_out = html.find(">Clock out</button>").unwrap();
    let stop = html
        .find("href=\"org.traccar.client://action/stop\"")
        .expect("the stop link");
    assert!(start < clock_out && clock_out < stop);
    assert!(!html.contains(&token), "the token stays out of pages");
}

#[tokio::test]
async fn the_timesheet_shows_the_weeks_shifts_and_their_total_with_other_weeks_a_link_away() {
    let app = spawn_app().await;
    let (owner, tech, session) = technician(&app).await;
    let empty = get_page(&app, "/app/my-timesheet", &session).await;
    assert_eq!(empty.status(), 200);
    let html = empty.text().await.unwrap();
    assert!(html.contains("<h1>My hours this week</h1>"));
    assert!(html.contains("No shifts in the week of "));

    let (csrf, _) = today(&app, &session).await;
    post_form(&app, "/app/clock-in", &session, &[("csrf", &csrf)]).await;
    let shift = shifts(&app, &tech).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Two and a half hours ago, unless that is still last week.
    let started = (Utc::now() - Duration::minutes(150)).max(local(0, 0));
    start_shift_at(&app, &shift, started);
    post_form(&app, "/app/clock-out", &session, &[("csrf", &csrf)]).await;
    // Another person's shift is not theirs to see.
    let owners = app
        .call(Method::POST, "/v1/shifts/clock-in", &owner.access, None)
        .await;
    assert_eq!(owners.status(), 201);

    let page = get_page(&app, "/app/my-timesheet", &session).await;
    let html = page.text().await.unwrap();
    assert!(html.contains("<caption>Shifts in the week of "));
    assert!(html.contains("America/Chicago"));
    let rows = html
        .split("<tbody>")
        .nth(1)
        .unwrap()
        .split("</tbody>")
        .next()
        .unwrap();
    assert_eq!(rows.matches("<tr>").count(), 1, "one shift");
    // The worked time in words, as a minute may turn while the test runs.
    let in_words = |minutes: i64| match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} minutes"),
        (1, 0) => "1 hour".to_owned(),
        (h, 0) => format!("{h} hours"),
        (1, m) => format!("1 hour {m} minutes"),
        (h, m) => format!("{h} hours {m} minutes"),
    };
    let worked = (Utc::now() - started).num_minutes();
    let (words, earlier) = (in_words(worked), in_words(worked - 1));
    assert!(
        html.contains(&words) || html.contains(&earlier),
        "{words} in {html}"
    );
    assert!(html.contains("Week's total: 1 shift"));
    assert!(html.contains("<td>0 m</td>"), "no positions: no distance");
    assert!(!html.contains("Still clocked in"), "the owner's open shift");

    let monday = {
        let marker = "href=\"/app/my-timesheet?week=";
        let start = html.find(marker).unwrap() + marker.len();
        html[start..start + 10].to_owned()
    };
    let previous = get_page(&app, &format!("/app/my-timesheet?week={monday}"), &session).await;
    let previous = previous.text().await.unwrap();
    assert!(previous.contains("No shifts in the week of "));
    assert!(
        previous.contains("href=\"/app/my-timesheet\""),
        "back to this week"
    );

    let wrong = get_page(&app, "/app/my-timesheet?week=soon", &session).await;
    assert_eq!(wrong.status(), 422);
}

#[tokio::test]
async fn someone_in_the_office_who_also_works_gets_their_own_day_and_hours() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let tech = app.user_with_role(&owner, "technician").await;
    let ann = app
        .create_customer(&owner, json!({"name": "Ann Lee"}))
        .await;
    let ann = ann["id"].as_str().unwrap();
    book(
        &app,
        &owner,
        ann,
        &owner.user_id,
        "The owner's visit",
        local(0, 10),
    )
    .await;
    book(
        &app,
        &owner,
        ann,
        &tech.user_id,
        "The technician's visit",
        local(0, 12),
    )
    .await;
    let session = sign_in(&app, &owner.email).await;

    let (csrf, html) = today(&app, &session).await;
    assert!(html.contains("The owner's visit"));
    assert!(!html.contains("The technician's visit"));
    let clocked = post_form(&app, "/app/clock-in", &session, &[("csrf", &csrf)]).await;
    assert_eq!(clocked.status(), 303);
    let page = get_page(&app, "/app/my-timesheet", &session).await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Still clocked in"));
    assert_eq!(shifts(&app, &owner).await.len(), 1);
}

#[tokio::test]
async fn a_technician_sets_up_traccar_client_from_the_day_page_with_the_link_shown_once() {
    let app = spawn_app().await;
    let (owner, tech, session) = technician(&app).await;
    let (csrf, html) = today(&app, &session).await;
    assert!(html.contains("href=\"/app/my-devices\">Set up Traccar Client</a>"));
    let phones = location(&get_page(&app, "/app/my-devices", &session).await).to_owned();
    let issued = post_form(
        &app,
        &phones,
        &session,
        &[("csrf", &csrf), ("label", "Tom's <b>phone</b>")],
    )
    .await;
    assert_eq!(issued.status(), 201);
    let html = issued.text().await.unwrap();
    let devices = devices_of(&app, &tech, &tech.user_id).await["data"].clone();
    assert_eq!(devices.as_array().unwrap().len(), 1);
    let prefix = devices[0]["prefix"].as_str().unwrap();
    let link = html
        .split("href=\"org.traccar.client://setup?url=")
        .nth(1)
        .expect("the setup link")
        .split('"')
        .next()
        .unwrap();
    assert!(link.contains(prefix), "the link carries the token");
    assert!(html.contains("Tom's &lt;b&gt;phone&lt;/b&gt;"));

    let (_, html) = today(&app, &session).await;
    assert!(!html.contains("Set up Traccar Client"), "set up already");
    clock_in(&app, &session, &csrf, "", "").await;
    let (_, html) = today(&app, &session).await;
    assert!(html.contains("org.traccar.client://action/start"));
    assert!(!html.contains(prefix), "no token on the day's page");

    // A dispatcher's role has no tracker.
    let dispatcher = app.user_with_role(&owner, "dispatcher").await;
    let session = sign_in(&app, &dispatcher.email).await;
    let (_, html) = today(&app, &session).await;
    assert!(!html.contains("Set up Traccar Client"));
}
