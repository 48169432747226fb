//! The office's appointment pages: the schedule, booking, rescheduling and
//! assigning, the status buttons; seen through the JSON API.

use chrono::{NaiveDateTime, SecondsFormat, TimeZone, Utc};
use chrono_tz::America::Chicago;
use fieldcrm_test_support::{spawn_app, Day, Signed, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

use super::*;

/// An account (time zone America/Chicago, as `signup` makes it) with its
/// owner signed in to the pages, a technician and a customer.
struct Office {
    app: TestApp,
    owner: Signed,
    session: String,
    technician: Signed,
    customer: String,
}

async fn office() -> Office {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let session = sign_in(&app, &owner.email).await;
    let technician = app.user_with_role(&owner, "technician").await;
    let customer = app
        .create_customer(&owner, json!({"name": "Anna Smith"}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    Office {
        app,
        owner,
        session,
        technician,
        customer,
    }
}

/// `HH:MM` on `day` in Chicago, as a `datetime-local` control sends it.
fn local(day: Day, time: &str) -> String {
    format!("{}T{time}", day.0)
}

/// The same local time as the API writes it (UTC).
fn utc(local: &str) -> String {
    let naive = NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M").unwrap();
    Chicago
        .from_local_datetime(&naive)
        .unwrap()
        .with_timezone(&Utc)
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// How the pages write a day.
fn day_words(day: Day) -> String {
    day.0.format("%A %-d %B %Y").to_string()
}

impl Office {
    async fn book(
        &self,
        title: &str,
        technician: Option<&str>,
        day: Day,
        from: &str,
        to: &str,
    ) -> Value {
        let response = self
            .app
            .call(
                Method::POST,
                "/v1/appointments",
                &self.owner.access,
                Some(json!({
                    "customer_id": self.customer,
                    "technician_id": technician,
                    "title": title,
                    "starts_at": utc(&local(day, from)),
                    "ends_at": utc(&local(day, to)),
                })),
            )
            .await;
        assert_eq!(response.status(), 201, "booking {title}");
        response.json().await.unwrap()
    }

    /// A JSON API read as the holder of `token`.
    async fn read(&self, token: &str, path: &str) -> Value {
        let response = self.app.call(Method::GET, path, token, None).await;
        assert_eq!(response.status(), 200, "{path}");
        response.json().await.unwrap()
    }

    async fn appointment(&self, id: &str) -> Value {
        self.read(&self.owner.access, &format!("/v1/appointments/{id}"))
            .await
    }

    async fn all(&self) -> Vec<Value> {
        let body = self.read(&self.owner.access, "/v1/appointments").await;
        body["data"].as_array().unwrap().clone()
    }

    async fn page(&self, path: &str) -> (u16, String) {
        let response = get_page(&self.app, path, &self.session).await;
        (response.status().as_u16(), response.text().await.unwrap())
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Response {
        post_form(&self.app, path, &self.session, form).await
    }

    /// The booking form sent for the customer, with `fields` typed in it.
    async fn submit_booking(&self, csrf: &str, fields: &[(&str, &str)]) -> Response {
        let mut form = vec![("csrf", csrf), ("customer_id", self.customer.as_str())];
        form.extend_from_slice(fields);
        self.post("/app/appointments", &form).await
    }
}

fn id_of(appointment: &Value) -> String {
    appointment["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_schedule_shows_an_appointment_under_its_technician_on_its_day_and_in_its_week() {
    let office = office().await;
    let day = Day::ahead(10);
    let boiler = office
        .book(
            "Boiler service",
            Some(&office.technician.user_id),
            day,
            "09:00",
            "10:00",
        )
        .await;
    office
        .book("Gutter check", None, day, "11:00", "12:00")
        .await;

    let (status, html) = office
        .page(&format!("/app/appointments?date={}", day.0))
        .await;
    assert_eq!(status, 200);
    assert!(html.contains(&format!("<h1>Appointments on {}</h1>", day_words(day))));
    let technician = html
        .find("<h2>A technician</h2>")
        .expect("the technician's section");
    let title = html.find("Boiler service").unwrap();
    let unassigned = html
        .find("<h2>Not assigned</h2>")
        .expect("the unassigned ones");
    assert!(
        technician < title && title < unassigned,
        "under its technician"
    );
    assert!(html[unassigned..].contains("Gutter check"));
    assert!(html.contains(&format!("href=\"/app/appointments/{}\"", id_of(&boiler))));
    assert!(
        html.contains("09:00 to 10:00"),
        "in the account's time zone"
    );
    assert!(html.contains("Anna Smith"));
    assert!(html.contains("Status: Scheduled"));

    let (_, next_day) = office
        .page(&format!("/app/appointments?date={}", day.plus(1).0))
        .await;
    assert!(!next_day.contains("Boiler service"));
    assert!(next_day.contains("Nothing booked."));

    let (status, week) = office
        .page(&format!("/app/appointments?date={}&view=week", day.0))
        .await;
    assert_eq!(status, 200);
    assert!(week.contains(&format!("<h3>{}</h3>", day_words(day))));
    assert!(week.contains("Boiler service"));
    assert_eq!(
        week.matches("<h3>").count(),
        7 * 2,
        "seven days, two groups"
    );
    let (_, next_week) = office
        .page(&format!(
            "/app/appointments?date={}&view=week",
            day.plus(7).0
        ))
        .await;
    assert!(!next_week.contains("Boiler service"));

    // One technician's.
    let (_, theirs) = office
        .page(&format!(
            "/app/appointments?date={}&technician={}",
            day.0, office.technician.user_id
        ))
        .await;
    assert!(theirs.contains("Boiler service"));
    assert!(!theirs.contains("Gutter check"));

    let (status, _) = office.page("/app/appointments?date=9%20March").await;
    assert_eq!(status, 400);

    // Today, in the account's time zone, by default.
    let (status, today) = office.page("/app/appointments").await;
    assert_eq!(status, 200);
    let chicago_today = Utc::now().with_timezone(&Chicago).date_naive();
    assert!(today.contains(&format!(
        "Appointments on {}",
        chicago_today.format("%A %-d %B %Y")
    )));
    assert!(today.contains("aria-current=\"date\""));
}

#[tokio::test]
async fn booking_through_the_form_creates_the_appointment_the_api_lists() {
    let office = office().await;
    let (status, search) = office.page("/app/appointments/new?q=anna").await;
    assert_eq!(status, 200);
    let link = format!("/app/appointments/new?customer={}", office.customer);
    assert!(search.contains(&link), "{search}");

    // A prospect's booking links to the prospect's page.
    let response = office
        .app
        .call(
            Method::POST,
            "/v1/prospects",
            &office.owner.access,
            Some(json!({"name": "Pat Prospect"})),
        )
        .await;
    assert_eq!(response.status(), 201);
    let prospect = id_of(&response.json().await.unwrap());
    let (status, form) = office
        .page(&format!("/app/appointments/new?customer={prospect}"))
        .await;
    assert_eq!(status, 200);
    assert!(form.contains(&format!(
        "href=\"/app/prospects/{prospect}\">Pat Prospect</a>"
    )));

    let (status, form) = office.page(&link).await;
    assert_eq!(status, 200);
    assert!(form.contains("Anna Smith"));
    assert!(form.contains(&format!(
        "<option value=\"{}\">A technician</option>",
        office.technician.user_id
    )));
    let csrf = csrf_of(&form);
    let day = Day::ahead(12);
    let (starts, ends) = (local(day, "14:30"), local(day, "16:00"));
    let response = office
        .submit_booking(
            &csrf,
            &[
                ("technician_id", &office.technician.user_id),
                ("title", "Annual boiler service"),
                ("starts_at", &starts),
                ("ends_at", &ends),
                ("notes", "Side gate code 4417"),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    let page = location(&response).to_owned();

    let [booked] = office.all().await.try_into().unwrap();
    assert_eq!(page, format!("/app/appointments/{}", id_of(&booked)));
    assert_eq!(booked["title"], "Annual boiler service");
    assert_eq!(booked["customer_id"], office.customer.as_str());
    assert_eq!(booked["technician_id"], office.technician.user_id.as_str());
    assert_eq!(booked["starts_at"], utc(&starts));
    assert_eq!(booked["ends_at"], utc(&ends));
    assert_eq!(booked["notes"], "Side gate code 4417");

    let (status, html) = office.page(&page).await;
    assert_eq!(status, 200);
    assert!(html.contains("<h1>Annual boiler service</h1>"));
    assert!(html.contains(&format!("{}, 14:30 to 16:00", day_words(day))));
    assert!(html.contains(&format!("href=\"/app/customers/{}\"", office.customer)));
    assert!(html.contains("A technician"));
    assert!(html.contains("Scheduled"));
}

#[tokio::test]
async fn a_refused_booking_shows_the_apis_messages_and_keeps_what_was_typed() {
    let office = office().await;
    let csrf = csrf(&office.app, &office.session).await;
    let day = Day::ahead(12);
    let (starts, ends) = (local(day, "16:00"), local(day, "15:00"));
    let response = office
        .submit_booking(
            &csrf,
            &[
                ("technician_id", &office.technician.user_id),
                ("title", " "),
                ("starts_at", &starts),
                ("ends_at", &ends),
                ("notes", "Bring the long ladder"),
            ],
        )
        .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(html.contains("ends_at: must be after starts_at"), "{html}");
    assert!(html.contains("title: must not be empty"));
    assert!(html.contains(&format!("value=\"{starts}\"")));
    assert!(html.contains(&format!("value=\"{ends}\"")));
    assert!(html.contains("Bring the long ladder"));
    assert!(html.contains(&format!(
        "<option value=\"{}\" selected>",
        office.technician.user_id
    )));

    // A time the form cannot read, beside the API's other messages.
    let response = office
        .submit_booking(
            &csrf,
            &[
                ("title", "Leak repair"),
                ("starts_at", "tomorrow"),
                ("ends_at", &ends),
            ],
        )
        .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(html.contains("starts_at: must be a date and time"));
    assert!(!html.contains("ends_at:"), "{html}");
    assert!(html.contains("value=\"Leak repair\""));
    assert!(html.contains("value=\"tomorrow\""));
    assert!(office.all().await.is_empty());
}

#[tokio::test]
async fn rescheduling_and_assigning_through_the_edit_form_and_a_stale_form_changes_nothing() {
    let office = office().await;
    let day = Day::ahead(8);
    let booked = office
        .book("Boiler service", None, day, "09:00", "10:00")
        .await;
    let id = id_of(&booked);
    let (status, form) = office.page(&format!("/app/appointments/{id}/edit")).await;
    assert_eq!(status, 200);
    assert!(
        form.contains(&format!("value=\"{}\"", local(day, "09:00"))),
        "shown in Chicago"
    );
    let csrf = csrf_of(&form);
    let later = day.plus(1);
    let (starts, ends) = (local(later, "13:00"), local(later, "14:15"));
    let response = office
        .post(
            &format!("/app/appointments/{id}"),
            &[
                ("csrf", &csrf),
                ("version", "1"),
                ("technician_id", &office.technician.user_id),
                ("title", "Boiler service and flue check"),
                ("starts_at", &starts),
                ("ends_at", &ends),
                ("notes", ""),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), format!("/app/appointments/{id}"));
    let moved = office.appointment(&id).await;
    assert_eq!(moved["starts_at"], utc(&starts));
    assert_eq!(moved["ends_at"], utc(&ends));
    assert_eq!(moved["technician_id"], office.technician.user_id.as_str());
    assert_eq!(moved["title"], "Boiler service and flue check");
    assert_eq!(moved["version"], 2);

    // The same form again, read at version 1.
    let response = office
        .post(
            &format!("/app/appointments/{id}"),
            &[
                ("csrf", &csrf),
                ("version", "1"),
                ("technician_id", ""),
                ("title", "Something else"),
                ("starts_at", &starts),
                ("ends_at", &ends),
            ],
        )
        .await;
    assert_eq!(response.status(), 412);
    let html = response.text().await.unwrap();
    assert!(html.contains("Someone else changed this appointment"));
    assert!(html.contains(&format!(
        "href=\"/app/appointments/{id}/edit\">Reload the current version"
    )));
    assert!(
        html.contains("value=\"Something else\""),
        "what was typed is kept"
    );
    let unchanged = office.appointment(&id).await;
    assert_eq!(unchanged["title"], "Boiler service and flue check");
    assert_eq!(
        unchanged["technician_id"],
        office.technician.user_id.as_str()
    );
    assert_eq!(unchanged["version"], 2);
}

#[tokio::test]
async fn a_double_booking_shows_the_conflicting_appointment() {
    let office = office().await;
    let day = Day::ahead(9);
    let tech = office.technician.user_id.clone();
    let first = office
        .book("Boiler service", Some(&tech), day, "09:00", "10:00")
        .await;
    let csrf = csrf(&office.app, &office.session).await;
    let (starts, ends) = (local(day, "09:30"), local(day, "10:30"));
    let leak_repair = [
        ("technician_id", tech.as_str()),
        ("title", "Leak repair"),
        ("starts_at", &starts),
        ("ends_at", &ends),
    ];
    let response = office.submit_booking(&csrf, &leak_repair).await;
    assert_eq!(response.status(), 409);
    let html = response.text().await.unwrap();
    assert!(html.contains("the technician is booked then"));
    assert!(html.contains(&format!(
        "href=\"/app/appointments/{}\">Boiler service</a>",
        id_of(&first)
    )));
    assert!(html.contains(&format!("{}, 09:00 to 10:00", day_words(day))));
    assert!(html.contains("value=\"Leak repair\""));
    assert!(html.contains("name=\"allow_overlap\""));
    assert_eq!(office.all().await.len(), 1);

    // Booked anyway, when asked.
    let anyway = [leak_repair.as_slice(), &[("allow_overlap", "on")]].concat();
    let response = office.submit_booking(&csrf, &anyway).await;
    assert_eq!(response.status(), 303);
    assert_eq!(office.all().await.len(), 2);

    // Moving another one onto the first is refused the same way.
    let other = office
        .book("Gutter check", Some(&tech), day, "13:00", "14:00")
        .await;
    let response = office
        .post(
            &format!("/app/appointments/{}", id_of(&other)),
            &[
                ("csrf", &csrf),
                ("version", "1"),
                ("technician_id", &tech),
                ("title", "Gutter check"),
                ("starts_at", &local(day, "09:15")),
                ("ends_at", &local(day, "09:45")),
            ],
        )
        .await;
    assert_eq!(response.status(), 409);
    let html = response.text().await.unwrap();
    assert!(html.contains("/app/appointments/"));
    assert!(html.contains("the technician is booked then"));
    assert_eq!(office.appointment(&id_of(&other)).await["version"], 1);
}

#[tokio::test]
async fn a_status_button_changes_the_status_and_only_allowed_changes_are_offered() {
    let office = office().await;
    let booked = office
        .book("Boiler service", None, Day::ahead(5), "09:00", "10:00")
        .await;
    let id = id_of(&booked);
    let path = format!("/app/appointments/{id}");
    let (_, html) = office.page(&path).await;
    for offered in ["confirmed", "cancelled", "no_show"] {
        assert!(
            html.contains(&format!("name=\"status\" value=\"{offered}\"")),
            "{offered}"
        );
    }
    for not_offered in ["en_route", "in_progress", "completed", "scheduled"] {
        assert!(
            !html.contains(&format!("name=\"status\" value=\"{not_offered}\"")),
            "{not_offered}"
        );
    }
    let csrf = csrf_of(&html);
    let status = format!("{path}/status");

    let response = office
        .post(
            &status,
            &[("csrf", &csrf), ("version", "1"), ("status", "confirmed")],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), path);
    assert_eq!(office.appointment(&id).await["status"], "confirmed");
    let (_, html) = office.page(&path).await;
    assert!(html.contains("name=\"status\" value=\"en_route\""));
    assert!(!html.contains("name=\"status\" value=\"confirmed\""));

    // A move the lifecycle does not allow, and a stale page.
    let response = office
        .post(
            &status,
            &[("csrf", &csrf), ("version", "2"), ("status", "completed")],
        )
        .await;
    assert_eq!(response.status(), 422);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("a confirmed appointment can become en_route"));
    let response = office
        .post(
            &status,
            &[("csrf", &csrf), ("version", "1"), ("status", "cancelled")],
        )
        .await;
    assert_eq!(response.status(), 412);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("Someone else changed this appointment"));
    assert_eq!(office.appointment(&id).await["status"], "confirmed");

    let response = office
        .post(
            &status,
            &[("csrf", &csrf), ("version", "2"), ("status", "cancelled")],
        )
        .await;
    assert_eq!(response.status(), 303);
    let (_, html) = office.page(&path).await;
    assert!(html.contains("keeps its status"));
    assert!(!html.contains("name=\"status\""));
}

#[tokio::test]
async fn a_form_without_the_sessions_token_changes_nothing() {
    let office = office().await;
    let day = Day::ahead(6);
    let booked = office
        .book("Boiler service", None, day, "09:00", "10:00")
        .await;
    let id = id_of(&booked);
    let (starts, ends) = (local(day, "11:00"), local(day, "12:00"));
    for (path, form) in [
        (
            "/app/appointments".to_owned(),
            vec![
                ("csrf", "forged"),
                ("customer_id", office.customer.as_str()),
                ("title", "Leak repair"),
                ("starts_at", starts.as_str()),
                ("ends_at", ends.as_str()),
            ],
        ),
        (
            format!("/app/appointments/{id}"),
            vec![
                ("csrf", "forged"),
                ("version", "1"),
                ("title", "Renamed"),
                ("starts_at", starts.as_str()),
                ("ends_at", ends.as_str()),
            ],
        ),
        (
            format!("/app/appointments/{id}/status"),
            vec![("version", "1"), ("status", "cancelled")],
        ),
    ] {
        let response = office.post(&path, &form).await;
        assert_eq!(response.status(), 403, "{path}");
    }
    let [unchanged] = office.all().await.try_into().unwrap();
    assert_eq!(unchanged["title"], "Boiler service");
    assert_eq!(unchanged["status"], "scheduled");
    assert_eq!(unchanged["version"], 1);
}

#[tokio::test]
async fn another_accounts_appointment_customer_and_technician_are_not_found() {
    let office = office().await;
    let csrf = csrf(&office.app, &office.session).await;
    let other = office.app.signup().await;
    let their_customer = office
        .app
        .create_customer(&other, json!({"name": "Someone Else"}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = office
        .app
        .call(
            Method::POST,
            "/v1/appointments",
            &other.access,
            Some(json!({
                "customer_id": their_customer,
                "title": "Their job",
                "starts_at": Day::ahead(4).at("15:00"),
                "ends_at": Day::ahead(4).at("16:00"),
            })),
        )
        .await;
    assert_eq!(response.status(), 201);
    let theirs = id_of(&response.json().await.unwrap());
    for path in [
        format!("/app/appointments/{theirs}"),
        format!("/app/appointments/{theirs}/edit"),
        format!("/app/appointments/new?customer={their_customer}"),
        format!("/app/appointments?technician={}", other.user_id),
    ] {
        let (status, _) = office.page(&path).await;
        assert_eq!(status, 404, "{path}");
    }
    let response = office
        .post(
            &format!("/app/appointments/{theirs}/status"),
            &[("csrf", &csrf), ("version", "1"), ("status", "cancelled")],
        )
        .await;
    assert_eq!(response.status(), 404);
    let response = office
        .post(
            &format!("/app/appointments/{theirs}"),
            &[
                ("csrf", &csrf),
                ("version", "1"),
                ("title", "Mine now"),
                ("starts_at", &local(Day::ahead(4), "09:00")),
                ("ends_at", &local(Day::ahead(4), "10:00")),
            ],
        )
        .await;
    assert_eq!(response.status(), 404);
    let still = office
        .read(&other.access, &format!("/v1/appointments/{theirs}"))
        .await;
    assert_eq!(
        (still["title"].as_str(), still["status"].as_str()),
        (Some("Their job"), Some("scheduled"))
    );
}

#[tokio::test]
async fn a_technician_gets_the_same_refusal_as_on_the_customer_pages() {
    let office = office().await;
    let booked = office
        .book(
            "Boiler service",
            Some(&office.technician.user_id),
            Day::ahead(3),
            "09:00",
            "10:00",
        )
        .await;
    let session = sign_in(&office.app, &office.technician.email).await;
    let (_, customers) = {
        let response = get_page(&office.app, "/app/customers", &session).await;
        (response.status(), response.text().await.unwrap())
    };
    for path in [
        "/app/appointments".to_owned(),
        "/app/appointments?view=week".to_owned(),
        format!("/app/appointments/new?customer={}", office.customer),
        format!("/app/appointments/{}", id_of(&booked)),
        format!("/app/appointments/{}/edit", id_of(&booked)),
    ] {
        let response = get_page(&office.app, &path, &session).await;
        assert_eq!(response.status(), 403, "{path}");
        assert_eq!(response.text().await.unwrap(), customers, "{path}");
    }
}

#[tokio::test]
async fn html_in_a_title_a_name_and_notes_shows_as_text() {
    let office = office().await;
    let day = Day::ahead(7);
    let marked = "<script>alert(1)</script> <b>Boiler</b> & co";
    let response = office
        .app
        .call(
            Method::POST,
            "/v1/appointments",
            &office.owner.access,
            Some(json!({
                "customer_id": office.customer,
                "title": marked,
                "notes": "<img src=x onerror=alert(2)>",
                "starts_at": utc(&local(day, "09:00")),
                "ends_at": utc(&local(day, "10:00")),
            })),
        )
        .await;
    assert_eq!(response.status(), 201);
    let id = id_of(&response.json().await.unwrap());
    let escaped = "&lt;script&gt;alert(1)&lt;/script&gt; &lt;b&gt;Boiler&lt;/b&gt; &amp; co";
    for path in [
        format!("/app/appointments?date={}", day.0),
        format!("/app/appointments?date={}&view=week", day.0),
        format!("/app/appointments/{id}"),
        format!("/app/appointments/{id}/edit"),
    ] {
        let (status, html) = office.page(&path).await;
        assert_eq!(status, 200, "{path}");
        assert!(html.contains(escaped), "{path}");
        assert!(!html.contains("<script>alert"), "{path}");
        assert!(!html.contains("<b>Boiler"), "{path}");
        assert!(!html.contains("<img src=x"), "{path}");
        assert!(!html.contains("style="), "{path}: no inline style");
    }
}

#[tokio::test]
async fn a_dispatcher_who_may_not_manage_users_schedules_and_assigns() {
    let office = office().await;
    let dispatcher = office.app.user_with_role(&office.owner, "dispatcher").await;
    let session = sign_in(&office.app, &dispatcher.email).await;
    let day = Day::ahead(4);
    let response = get_page(
        &office.app,
        &format!("/app/appointments?date={}", day.0),
        &session,
    )
    .await;
    assert_eq!(response.status(), 200);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("<h2>A technician</h2>"));
    let response = get_page(
        &office.app,
        &format!("/app/appointments/new?customer={}", office.customer),
        &session,
    )
    .await;
    assert_eq!(response.status(), 200);
    let csrf = csrf_of(&response.text().await.unwrap());
    let response = post_form(
        &office.app,
        "/app/appointments",
        &session,
        &[
            ("csrf", &csrf),
            ("customer_id", &office.customer),
            ("technician_id", &office.technician.user_id),
            ("title", "Boiler service"),
            ("starts_at", &local(day, "09:00")),
            ("ends_at", &local(day, "10:00")),
        ],
    )
    .await;
    assert_eq!(response.status(), 303);
    let [booked] = office.all().await.try_into().unwrap();
    assert_eq!(booked["technician_id"], office.technician.user_id.as_str());
}

/// A form of text fields, as a browser sends it.
async fn send(office: &Office, path: &str, fields: &[(&str, String)]) -> Response {
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    office.post(path, &pairs).await
}

#[tokio::test]
async fn an_address_of_its_own_is_booked_and_emptied_back_to_the_customers() {
    let office = office().await;
    let customer = office
        .app
        .create_customer(
            &office.owner,
            json!({"name": "Lena Home", "address": {"line1": "1 Main St", "city": "Austin"}}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, form) = office
        .page(&format!("/app/appointments/new?customer={customer}"))
        .await;
    assert!(form.contains("Empty: the customer's address."));
    let day = Day::ahead(9);
    let (starts, ends) = (local(day, "08:00"), local(day, "09:00"));
    let booked = office
        .post(
            "/app/appointments",
            &[
                ("csrf", &csrf_of(&form)),
                ("customer_id", &customer),
                ("title", "Rental flat boiler"),
                ("starts_at", &starts),
                ("ends_at", &ends),
                ("address.line1", "77 Lake Rd"),
                ("address.city", "Round Rock"),
                ("address.lat", "30.5083"),
                ("address.lon", "-97.6789"),
            ],
        )
        .await;
    assert_eq!(booked.status(), 303);
    let page = location(&booked).to_owned();
    let id = page.rsplit('/').next().unwrap().to_owned();
    let stored = office.appointment(&id).await;
    assert_eq!(stored["address"]["line1"], "77 Lake Rd");
    assert_eq!(stored["address"]["lat"], 30.5083);
    let (_, html) = office.page(&page).await;
    assert!(html.contains("77 Lake Rd\nRound Rock"));

    // The edit form holds it, position too, so saving it unchanged keeps it.
    let (_, edit) = office.page(&format!("{page}/edit")).await;
    assert!(edit.contains("value=\"77 Lake Rd\""));
    assert!(edit.contains("value=\"30.5083\""));
    let fields = |line1: &'static str, lat: &'static str| {
        vec![
            ("csrf", csrf_of(&edit)),
            ("version", "1".to_owned()),
            ("title", "Rental flat boiler".to_owned()),
            ("starts_at", starts.clone()),
            ("ends_at", ends.clone()),
            ("address.line1", line1.to_owned()),
            (
                "address.city",
                if line1.is_empty() { "" } else { "Round Rock" }.to_owned(),
            ),
            ("address.lat", lat.to_owned()),
            (
                "address.lon",
                if lat.is_empty() { "" } else { "-97.6789" }.to_owned(),
            ),
        ]
    };
    let saved = send(&office, &page, &fields("77 Lake Rd", "30.5083")).await;
    assert_eq!(saved.status(), 303);
    let stored = office.appointment(&id).await;
    assert_eq!(stored["address"]["lon"], -97.6789);

    // Emptied, it is the customer's again.
    let mut emptied = fields("", "");
    emptied[1].1 = stored["version"].to_string();
    let saved = send(&office, &page, &emptied).await;
    assert_eq!(saved.status(), 303);
    let stored = office.appointment(&id).await;
    assert_eq!(stored["address"]["line1"], "1 Main St");
    assert_eq!(stored["address"]["city"], "Austin");
}

#[tokio::test]
async fn deleting_an_appointment_needs_the_version_read_and_the_office() {
    let office = office().await;
    let day = Day::ahead(6);
    let booked = office
        .book("Gutter clean", None, day, "10:00", "11:00")
        .await;
    let id = id_of(&booked);
    let page = format!("/app/appointments/{id}");
    let (_, html) = office.page(&page).await;
    assert!(html.contains(&format!("action=\"{page}/delete\" data-confirm=")));
    let csrf = csrf_of(&html);

    // Changed through the API after the page was read.
    let changed = office
        .app
        .call(
            Method::PATCH,
            &format!("/v1/appointments/{id}"),
            &office.owner.access,
            Some(json!({"title": "Gutter clean and repair"})),
        )
        .await;
    assert_eq!(changed.status(), 200);
    let stale = office
        .post(
            &format!("{page}/delete"),
            &[("csrf", &csrf), ("version", "1")],
        )
        .await;
    assert_eq!(stale.status(), 412);
    assert!(stale
        .text()
        .await
        .unwrap()
        .contains("so it was not deleted"));
    assert_eq!(
        office.appointment(&id).await["title"],
        "Gutter clean and repair"
    );

    // A technician may not, whatever the form says.
    let technician = sign_in(&office.app, &office.technician.email).await;
    let refused = post_form(
        &office.app,
        &format!("{page}/delete"),
        &technician,
        &[
            (
                "csrf",
                &csrf_of(&page_html(&office.app, "/app/today", &technician).await),
            ),
            ("version", "2"),
        ],
    )
    .await;
    assert_eq!(refused.status(), 403);

    let deleted = office
        .post(
            &format!("{page}/delete"),
            &[("csrf", &csrf), ("version", "2")],
        )
        .await;
    assert_eq!(deleted.status(), 303);
    assert_eq!(
        location(&deleted),
        format!("/app/appointments?date={}&view=day", day.0)
    );
    let gone = office
        .app
        .call(
            Method::GET,
            &format!("/v1/appointments/{id}"),
            &office.owner.access,
            None,
        )
        .await;
    assert_eq!(gone.status(), 404);
}

/// The appointment's reminder rules through the API, as (channel, minutes).
async fn reminder_rules(office: &Office, id: &str) -> Vec<(String, i64)> {
    office.appointment(id).await["reminders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["channel"].as_str().unwrap().to_owned(),
                r["minutes_before"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn reminders_start_from_the_accounts_defaults_and_a_refused_row_keeps_its_message() {
    let office = office().await;
    let set = office
        .app
        .call(
            Method::PATCH,
            "/v1/account",
            &office.owner.access,
            Some(json!({"default_reminders": [{"channel": "sms", "minutes_before": 90}]})),
        )
        .await;
    assert_eq!(set.status(), 200);
    let (_, form) = office
        .page(&format!(
            "/app/appointments/new?customer={}",
            office.customer
        ))
        .await;
    assert!(form.contains("<option value=\"sms\" selected>Text message</option>"));
    assert!(form.contains(
        "name=\"reminder_minutes_0\" type=\"number\" min=\"0\" max=\"43200\" value=\"90\""
    ));
    let csrf = csrf_of(&form);
    let day = Day::ahead(10);
    let (starts, ends) = (local(day, "11:00"), local(day, "12:00"));
    let booking = |rows: [(&'static str, &'static str); 3]| {
        let mut fields = vec![
            ("title", "Window cleaning".to_owned()),
            ("starts_at", starts.clone()),
            ("ends_at", ends.clone()),
        ];
        for (i, (channel, minutes)) in rows.into_iter().enumerate() {
            let channel_field = [
                "reminder_channel_0",
                "reminder_channel_1",
                "reminder_channel_2",
            ][i];
            let minutes_field = [
                "reminder_minutes_0",
                "reminder_minutes_1",
                "reminder_minutes_2",
            ][i];
            fields.push((channel_field, channel.to_owned()));
            fields.push((minutes_field, minutes.to_owned()));
        }
        fields
    };

    // A rule the API refuses (over 30 days), typed in the third row: its
    // message is on that row, and nothing is booked.
    let mut fields = booking([("", ""), ("", ""), ("email", "99999")]);
    fields.extend([
        ("csrf", csrf.clone()),
        ("customer_id", office.customer.clone()),
    ]);
    let refused = send(&office, "/app/appointments", &fields).await;
    assert_eq!(refused.status(), 422);
    let html = refused.text().await.unwrap();
    assert!(html.contains("id=\"reminder-2-error\""), "{html}");
    assert!(!html.contains("id=\"reminder-0-error\""));
    assert!(office.all().await.is_empty());

    let mut fields = booking([("email", "120"), ("", ""), ("sms", "30")]);
    fields.extend([
        ("csrf", csrf.clone()),
        ("customer_id", office.customer.clone()),
    ]);
    let booked = send(&office, "/app/appointments", &fields).await;
    assert_eq!(booked.status(), 303);
    let page = location(&booked).to_owned();
    let id = page.rsplit('/').next().unwrap().to_owned();
    let rules = reminder_rules(&office, &id).await;
    assert_eq!(rules, [("email".to_owned(), 120), ("sms".to_owned(), 30)]);

    // The edit form shows them; saved unchanged, they stay as they were.
    let (_, edit) = office.page(&format!("{page}/edit")).await;
    assert!(edit.contains(
        "name=\"reminder_minutes_1\" type=\"number\" min=\"0\" max=\"43200\" value=\"30\""
    ));
    let before = office.appointment(&id).await["reminders"].clone();
    let mut fields = booking([("email", "120"), ("sms", "30"), ("", "")]);
    fields.extend([("csrf", csrf.clone()), ("version", "1".to_owned())]);
    assert_eq!(send(&office, &page, &fields).await.status(), 303);
    assert_eq!(office.appointment(&id).await["reminders"], before);

    let mut fields = booking([("sms", "45"), ("", ""), ("", "")]);
    fields.extend([("csrf", csrf.clone()), ("version", "2".to_owned())]);
    assert_eq!(send(&office, &page, &fields).await.status(), 303);
    assert_eq!(reminder_rules(&office, &id).await, [("sms".to_owned(), 45)]);
}
