//! Google end to end against a stand-in written from Google's documentation
//! (`fake.rs`): connect with PKCE and state, sealed storage, refresh and
//! `invalid_grant`, export, import, no loops, push notifications, disconnect.

mod fake;

use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{Duration, Utc};
use fieldcrm_test_support::{problem, Signed, SmtpStandIn, TestApp};
use reqwest::Method;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use wiremock::Request;

use crate::messages::{app_with_settings, customer, message, owner, queued, twilio};
pub(crate) use fake::{GoogleStandIn, Refresh, CALENDAR, GOOGLE_EMAIL, GOOGLE_SUBJECT};

fn form(request: &Request) -> HashMap<String, String> {
    serde_urlencoded::from_bytes(&request.body).unwrap()
}

/// Starts connecting as `who`; returns the consent URL's query.
async fn start_connect(app: &TestApp, who: &Signed, body: Value) -> HashMap<String, String> {
    let started = app
        .call(
            Method::POST,
            "/v1/integrations/google/connect",
            &who.access,
            Some(body),
        )
        .await;
    assert_eq!(started.status(), 200);
    let url: Value = started.json().await.unwrap();
    let url = reqwest::Url::parse(url["authorization_url"].as_str().unwrap()).unwrap();
    url.query_pairs().into_owned().collect()
}

async fn confirm(app: &TestApp, who: &Signed, confirmation: &str) -> reqwest::Response {
    app.call(
        Method::POST,
        "/v1/integrations/google/confirm",
        &who.access,
        Some(json!({ "confirmation": confirmation })),
    )
    .await
}

impl GoogleStandIn {
    /// Runs the consent flow as the person would, their browser and then the
    /// app, and returns the status.
    pub(crate) async fn connect(&self, app: &TestApp, who: &Signed) -> Value {
        let query = start_connect(app, who, json!({"send_email": self.requests_gmail()})).await;
        let callback = app
            .get(&format!(
                "/v1/integrations/google/callback?state={}&code=4/auth-code",
                query["state"]
            ))
            .await;
        assert_eq!(callback.status(), 200);
        let answered: Value = callback.json().await.unwrap();
        let confirmed = confirm(app, who, answered["confirmation"].as_str().unwrap()).await;
        assert_eq!(confirmed.status(), 200);
        confirmed.json().await.unwrap()
    }
}

pub(crate) async fn google_app(google: &GoogleStandIn) -> TestApp {
    let twilio = twilio().await;
    app_with_settings(&twilio, None, 4, |s| google.configure(s)).await
}

pub(crate) async fn appointment(app: &TestApp, who: &Signed, person: &str, title: &str) -> Value {
    let starts = Utc::now() + Duration::days(3);
    let response = app
        .call(
            Method::POST,
            "/v1/appointments",
            &who.access,
            Some(
                json!({"customer_id": person, "title": title, "starts_at": starts.to_rfc3339(),
                "ends_at": (starts + Duration::hours(1)).to_rfc3339(), "reminders": []}),
            ),
        )
        .await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

fn event_id(appointment: &Value) -> String {
    format!("fc{}", appointment["id"].as_str().unwrap().replace('-', ""))
}

pub(crate) async fn get_appointment(app: &TestApp, who: &Signed, id: &str) -> Value {
    let response = app
        .call(
            Method::GET,
            &format!("/v1/appointments/{id}"),
            &who.access,
            None,
        )
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn appointment_count(app: &TestApp, who: &Signed) -> usize {
    let response = app
        .call(Method::GET, "/v1/appointments?limit=200", &who.access, None)
        .await;
    assert_eq!(response.status(), 200);
    response.json::<Value>().await.unwrap()["data"]
        .as_array()
        .unwrap()
        .len()
}

async fn status(app: &TestApp, who: &Signed) -> Value {
    let response = app
        .call(Method::GET, "/v1/integrations/google", &who.access, None)
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn stored(app: &TestApp, account: &str) -> fieldcrm_db::google::Integration {
    let mut conn = app.pool.get().unwrap();
    let id = fieldcrm_db::Id::from_uuid(account.parse().unwrap());
    fieldcrm_db::google::find(&mut conn, id).unwrap().unwrap()
}

#[tokio::test]
async fn connecting_checks_the_state_and_pkce_and_keeps_tokens_sealed() {
    let google = GoogleStandIn::start().await;
    let app = google_app(&google).await;
    let owner = owner(&app).await;

    let started = app
        .call(
            Method::POST,
            "/v1/integrations/google/connect",
            &owner.access,
            Some(json!({"send_email": true})),
        )
        .await;
    assert_eq!(started.status(), 200);
    let url: Value = started.json().await.unwrap();
    let url = reqwest::Url::parse(url["authorization_url"].as_str().unwrap()).unwrap();
    assert!(url
        .as_str()
        .starts_with(&format!("{}/auth?", google.server.uri())));
    let query: HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(query["access_type"], "offline");
    assert_eq!(query["prompt"], "consent");
    assert_eq!(query["code_challenge_method"], "S256");
    let scopes: Vec<&str> = query["scope"].split(' ').collect();
    for scope in [
        "https://www.googleapis.com/auth/calendar.events",
        "openid",
        "email",
        "https://mail.google.com/",
    ] {
        assert!(scopes.contains(&scope), "{scope} requested");
    }

    // A state this service did not issue is refused, and nothing is exchanged.
    let forged = app
        .get("/v1/integrations/google/callback?state=forged-state&code=4/auth-code")
        .await;
    let body = problem(forged).await;
    assert_eq!(body["status"], 400);
    assert_eq!(body["code"], "invalid_state");
    assert!(google.requests("POST", "/token").await.is_empty());

    let callback = format!(
        "/v1/integrations/google/callback?state={}&code=4/auth-code",
        query["state"]
    );
    let answered = app.get(&callback).await;
    assert_eq!(answered.status(), 200);
    let answered: Value = answered.json().await.unwrap();
    let connected = confirm(&app, &owner, answered["confirmation"].as_str().unwrap()).await;
    assert_eq!(connected.status(), 200);
    let connected: Value = connected.json().await.unwrap();
    assert_eq!(connected["connected"], true);
    assert_eq!(connected["email"], GOOGLE_EMAIL);

    // The code went with the PKCE verifier whose hash the consent URL carried.
    let exchange = google.requests("POST", "/token").await;
    assert_eq!(exchange.len(), 1);
    let sent = form(&exchange[0]);
    assert_eq!(sent["grant_type"], "authorization_code");
    assert_eq!(sent["code"], "4/auth-code");
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(sent["code_verifier"].as_bytes()));
    assert_eq!(challenge, query["code_challenge"]);

    // The state is single use.
    assert_eq!(
        problem(app.get(&callback).await).await["code"],
        "invalid_state"
    );

    // No token is stored in clear.
    let row = stored(&app, &owner.account_id);
    assert!(row.refresh_token.starts_with("v1:k1:"));
    assert!(!row.refresh_token.contains("refresh-token-secret"));
    assert!(!row.access_token.clone().unwrap().contains("ya29"));

    let now = status(&app, &owner).await;
    assert_eq!(now["needs_reconnect"], false);
    assert_eq!(now["calendar_id"], "primary");

    let audit: Value = app
        .call(
            Method::GET,
            "/v1/audit?action=google.connected",
            &owner.access,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(audit["data"].as_array().unwrap().len(), 1);

    // Someone who may not change integrations cannot start one.
    let dispatcher = app.user_with_role(&owner, "dispatcher").await;
    let refused = app
        .call(
            Method::POST,
            "/v1/integrations/google/connect",
            &dispatcher.access,
            None,
        )
        .await;
    assert_eq!(refused.status(), 403);
}

#[tokio::test]
async fn appointments_are_exported_with_our_ids_and_updated_only_over_the_etag_seen() {
    let google = GoogleStandIn::start().await;
    let app = google_app(&google).await;
    let owner = owner(&app).await;
    google.connect(&app, &owner).await;
    app.run_jobs().await;
    let person = customer(&app, &owner, json!({"name": "Ada"}), &[]).await;

    let a = appointment(&app, &owner, &person, "Boiler service").await;
    app.run_jobs().await;
    let id = event_id(&a);
    let event = google.event(&id).expect("inserted with our id");
    assert_eq!(event["summary"], "Boiler service");
    assert_eq!(
        event["extendedProperties"]["private"]["fieldcrmAppointmentId"],
        a["id"]
    );
    let first_etag = event["etag"].clone();

    // A change here goes out as a conditional patch over the etag we hold.
    let patched = app
        .authed(
            Method::PATCH,
            &format!("/v1/appointments/{}", a["id"].as_str().unwrap()),
            &owner.access,
        )
        .header("If-Match", "*")
        .json(&json!({"title": "Boiler service and flue check"}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    app.run_jobs().await;
    let patches = google.requests("PATCH", CALENDAR).await;
    assert_eq!(patches.len(), 1);
    assert_eq!(
        patches[0]
            .headers
            .get("if-match")
            .unwrap()
            .to_str()
            .unwrap(),
        first_etag.as_str().unwrap()
    );
    assert!(google.requests("PUT", CALENDAR).await.is_empty());
    assert_eq!(
        google.event(&id).unwrap()["summary"],
        "Boiler service and flue check"
    );

    // Someone touched the event in Google before our next change was sent:
    // the update gets 412, the event is read again, and our later change wins.
    google.edit(&id, |e| e["location"] = json!("somewhere"));
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let patched = app
        .authed(
            Method::PATCH,
            &format!("/v1/appointments/{}", a["id"].as_str().unwrap()),
            &owner.access,
        )
        .header("If-Match", "*")
        .json(&json!({"title": "Flue check only"}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    app.run_jobs().await;
    let patches = google.requests("PATCH", CALENDAR).await;
    assert_eq!(
        patches.len(),
        3,
        "one refused with 412, one over the new etag"
    );
    assert_eq!(google.answered(412), 1);
    assert_eq!(google.event(&id).unwrap()["summary"], "Flue check only");
    assert_eq!(google.events().len(), 1, "no second event");

    // Cancelled here: the event goes.
    let cancelled = app
        .authed(
            Method::POST,
            &format!("/v1/appointments/{}/status", a["id"].as_str().unwrap()),
            &owner.access,
        )
        .header("If-Match", "*")
        .json(&json!({"status": "cancelled"}))
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), 200);
    app.run_jobs().await;
    assert!(google.event(&id).is_none());
}

/// Lists what the sync asked Google for: the query of every listing.
async fn listings(google: &GoogleStandIn) -> Vec<HashMap<String, String>> {
    google
        .requests("GET", CALENDAR)
        .await
        .iter()
        .filter(|r| r.url.path() == CALENDAR)
        .map(|r| r.url.query_pairs().into_owned().collect())
        .collect()
}

async fn sync_now(app: &TestApp, who: &Signed) {
    let sync = app
        .call(
            Method::POST,
            "/v1/integrations/google/sync",
            &who.access,
            None,
        )
        .await;
    assert_eq!(sync.status(), 202);
    app.run_jobs().await;
}

/// An event as someone makes it in Google Calendar.
pub(crate) fn made_in_google(
    id: &str,
    summary: &str,
    starts: chrono::DateTime<Utc>,
    hours: i64,
) -> Value {
    json!({
        "id": id, "summary": summary,
        "start": {"dateTime": starts.to_rfc3339(), "timeZone": "America/Chicago"},
        "end": {"dateTime": (starts + Duration::hours(hours)).to_rfc3339(), "timeZone": "America/Chicago"},
    })
}

#[tokio::test]
async fn a_sync_imports_pages_applies_changes_and_cancellations_and_restarts_after_410() {
    let google = GoogleStandIn::start().await;
    let app = google_app(&google).await;
    let owner = owner(&app).await;
    let person = customer(
        &app,
        &owner,
        json!({"name": "Grace", "email": "grace@example.org"}),
        &[],
    )
    .await;
    let starts = Utc::now() + Duration::days(4);
    let mut quote = made_in_google("googlemade1", "Quote visit", starts, 2);
    quote["attendees"] = json!([{"email": "Grace@Example.org"}]);
    google.create(quote);
    google.create(made_in_google("googlemade2", "Dentist", starts, 1));
    // One event a page: the first sync pages.
    google.set_page_size(1);
    google.connect(&app, &owner).await;
    app.run_jobs().await;

    let queries = listings(&google).await;
    assert!(
        !queries[0].contains_key("syncToken"),
        "the first sync is full"
    );
    assert!(queries[1].contains_key("pageToken"));
    assert!(stored(&app, &owner.account_id).sync_token.is_some());

    // The event with a customer among its attendees became that customer's
    // appointment; the one without became an appointment without a customer.
    let listed: Value = app
        .call(Method::GET, "/v1/appointments", &owner.access, None)
        .await
        .json()
        .await
        .unwrap();
    let items = listed["data"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let quote = items.iter().find(|a| a["title"] == "Quote visit").unwrap();
    assert_eq!(quote["customer_id"], person.as_str());
    let dentist = items.iter().find(|a| a["title"] == "Dentist").unwrap();
    assert!(dentist["customer_id"].is_null());
    // Nobody to remind.
    assert_eq!(dentist["reminders"], json!([]));
    assert!(!quote["reminders"].as_array().unwrap().is_empty());
    let imported = quote["id"].as_str().unwrap().to_owned();

    // Moved in Google, then cancelled there: both come back.
    let later = starts + Duration::days(1);
    google.edit("googlemade1", |e| {
        e["summary"] = json!("Quote visit (moved)");
        e["start"]["dateTime"] = json!(later.to_rfc3339());
        e["end"]["dateTime"] = json!((later + Duration::hours(2)).to_rfc3339());
    });
    let token_before = stored(&app, &owner.account_id).sync_token.unwrap();
    sync_now(&app, &owner).await;
    let moved = get_appointment(&app, &owner, &imported).await;
    assert_eq!(moved["title"], "Quote visit (moved)");
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(moved["starts_at"].as_str().unwrap())
            .unwrap()
            .timestamp(),
        later.timestamp()
    );
    assert_eq!(
        listings(&google).await.last().unwrap()["syncToken"],
        token_before,
        "incremental"
    );

    google.delete("googlemade1");
    sync_now(&app, &owner).await;
    assert_eq!(
        get_appointment(&app, &owner, &imported).await["status"],
        "cancelled"
    );

    // Google expired the sync token: 410, then a full sync from the start.
    google.expire_sync_tokens();
    let refused_token = stored(&app, &owner.account_id).sync_token.unwrap();
    let before = listings(&google).await.len();
    sync_now(&app, &owner).await;
    let queries = listings(&google).await;
    assert_eq!(queries[before]["syncToken"], refused_token);
    assert!(!queries[before + 1].contains_key("syncToken"));
    assert_eq!(google.answered(410), 1);
    assert_eq!(appointment_count(&app, &owner).await, 2);
}

#[tokio::test]
async fn our_own_writes_come_back_without_duplicates_or_loops() {
    let google = GoogleStandIn::start().await;
    let app = google_app(&google).await;
    let owner = owner(&app).await;
    google.connect(&app, &owner).await;
    app.run_jobs().await;
    let person = customer(&app, &owner, json!({"name": "Linus"}), &[]).await;
    let a = appointment(&app, &owner, &person, "Gutter cleaning").await;
    app.run_jobs().await;
    let id = event_id(&a);
    let writes = || async {
        google.requests("PUT", CALENDAR).await.len()
            + google.requests("PATCH", CALENDAR).await.len()
            + google.requests("POST", CALENDAR).await.len()
    };

    // Google lists the event we wrote, as it is: nothing changes here and
    // nothing is written back.
    sync_now(&app, &owner).await;
    assert_eq!(appointment_count(&app, &owner).await, 1);
    let version = get_appointment(&app, &owner, a["id"].as_str().unwrap()).await["version"].clone();
    assert_eq!(version, a["version"]);
    let written = writes().await;

    // Renamed in Google: the title comes here, and is not sent back.
    google.edit(&id, |e| e["summary"] = json!("Gutters and downpipes"));
    sync_now(&app, &owner).await;
    let after = get_appointment(&app, &owner, a["id"].as_str().unwrap()).await;
    assert_eq!(after["title"], "Gutters and downpipes");
    // And listed again in a full sync, it is still only one appointment,
    // changed once.
    google.expire_sync_tokens();
    sync_now(&app, &owner).await;
    assert_eq!(
        get_appointment(&app, &owner, a["id"].as_str().unwrap()).await["version"],
        after["version"]
    );
    assert_eq!(appointment_count(&app, &owner).await, 1);
    assert_eq!(google.events().len(), 1);
    assert_eq!(writes().await, written, "no write went back to Google");
}

#[tokio::test]
async fn access_tokens_are_refreshed_and_invalid_grant_asks_for_a_reconnect() {
    let google = GoogleStandIn::start().await;
    let app = google_app(&google).await;
    let owner = owner(&app).await;
    // Tokens that live a minute are refreshed before use.
    google.set_refresh(Refresh::Works, 60);
    google.connect(&app, &owner).await;
    app.run_jobs().await;
    let refreshes: Vec<_> = google
        .requests("POST", "/token")
        .await
        .iter()
        .map(form)
        .filter(|f| f["grant_type"] == "refresh_token")
        .collect();
    assert!(!refreshes.is_empty());
    assert!(refreshes[0]["refresh_token"].starts_with("1//refresh-token-secret"));
    let calendar_calls = google.requests("GET", "/calendar").await;
    let bearer = calendar_calls[0]
        .headers
        .get("authorization")
        .unwrap()
        .to_str()
        .unwrap();
    assert_ne!(
        bearer, "Bearer ya29.access-1",
        "the short-lived first token was not used"
    );

    // Google revokes the grant: the next job marks the integration and stops.
    google.set_refresh(Refresh::InvalidGrant, 60);
    let calls_before = google.server.received_requests().await.unwrap().len();
    app.call(
        Method::POST,
        "/v1/integrations/google/sync",
        &owner.access,
        None,
    )
    .await;
    app.run_jobs().await;
    let now = status(&app, &owner).await;
    assert_eq!(now["needs_reconnect"], true);
    assert!(now["last_error"]
        .as_str()
        .unwrap()
        .contains("invalid_grant"));
    let calls = google.server.received_requests().await.unwrap().len();
    assert_eq!(calls, calls_before + 1, "one refused refresh, no retries");
    let again = app
        .call(
            Method::POST,
            "/v1/integrations/google/sync",
            &owner.access,
            None,
        )
        .await;
    assert_eq!(problem(again).await["code"], "needs_reconnect");

    // Connecting again clears it.
    google.connect(&app, &owner).await;
    assert_eq!(status(&app, &owner).await["needs_reconnect"], false);
}

#[tokio::test]
async fn push_notifications_need_the_channel_token_and_queue_a_sync() {
    let google = GoogleStandIn::start().await;
    let app = google_app(&google).await;
    let owner = owner(&app).await;
    google.connect(&app, &owner).await;
    app.run_jobs().await;
    let watch = google.requests("POST", &format!("{CALENDAR}/watch")).await;
    assert_eq!(watch.len(), 1);
    let opened: Value = serde_json::from_slice(&watch[0].body).unwrap();
    assert_eq!(opened["type"], "web_hook");
    assert!(opened["address"]
        .as_str()
        .unwrap()
        .ends_with("/v1/webhooks/google/calendar"));
    let channel = opened["id"].as_str().unwrap();
    let secret = opened["token"].as_str().unwrap();
    assert!(status(&app, &owner).await["push_channel_expires_at"].is_string());

    let notify = |channel: String, token: String| {
        app.client
            .post(app.url("/v1/webhooks/google/calendar"))
            .header("X-Goog-Channel-ID", channel)
            .header("X-Goog-Channel-Token", token)
            .header("X-Goog-Resource-State", "exists")
            .header("X-Goog-Resource-ID", "resource-1")
            .send()
    };
    let wrong = notify(channel.into(), "not-the-secret".into())
        .await
        .unwrap();
    assert_eq!(problem(wrong).await["code"], "invalid_channel_token");
    assert_eq!(app.jobs_due_soon(), 0, "nothing queued for a wrong token");
    let unknown = notify("no-such-channel".into(), secret.into())
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);

    let lists_before = google.requests("GET", CALENDAR).await.len();
    let right = notify(channel.into(), secret.into()).await.unwrap();
    assert_eq!(right.status(), 200);
    assert_eq!(app.jobs_due_soon(), 1);
    app.run_jobs().await;
    assert_eq!(
        google.requests("GET", CALENDAR).await.len(),
        lists_before + 1
    );
}

#[tokio::test]
async fn disconnecting_revokes_the_grant_and_stops_the_channel_and_keeps_appointments() {
    let google = GoogleStandIn::start().await;
    let app = google_app(&google).await;
    let owner = owner(&app).await;
    google.connect(&app, &owner).await;
    app.run_jobs().await;
    let person = customer(&app, &owner, json!({"name": "Edsger"}), &[]).await;
    let a = appointment(&app, &owner, &person, "Survey").await;
    app.run_jobs().await;

    let gone = app
        .call(
            Method::DELETE,
            "/v1/integrations/google",
            &owner.access,
            None,
        )
        .await;
    assert_eq!(gone.status(), 204);
    assert_eq!(status(&app, &owner).await["connected"], false);
    app.run_jobs().await;
    let revoked = google.requests("POST", "/revoke").await;
    assert_eq!(revoked.len(), 1);
    assert!(google.revoked(&form(&revoked[0])["token"]));
    let stopped = google.requests("POST", "/calendar/v3/channels/stop").await;
    assert_eq!(stopped.len(), 1);
    let stop: Value = serde_json::from_slice(&stopped[0].body).unwrap();
    assert_eq!(stop["resourceId"], "resource-1");
    // The appointment stays, and so does its event.
    get_appointment(&app, &owner, a["id"].as_str().unwrap()).await;
    assert!(google.event(&event_id(&a)).is_some());
    let again = app
        .call(
            Method::DELETE,
            "/v1/integrations/google",
            &owner.access,
            None,
        )
        .await;
    assert_eq!(problem(again).await["code"], "not_connected");
}

#[tokio::test]
async fn erasing_a_person_deletes_their_events_in_google() {
    let google = GoogleStandIn::start().await;
    let app = google_app(&google).await;
    let owner = owner(&app).await;
    google.connect(&app, &owner).await;
    app.run_jobs().await;
    let person = customer(&app, &owner, json!({"name": "Barbara"}), &[]).await;
    let other = customer(&app, &owner, json!({"name": "Ken"}), &[]).await;
    let hers = appointment(&app, &owner, &person, "Her visit").await;
    let his = appointment(&app, &owner, &other, "His visit").await;
    app.run_jobs().await;
    assert_eq!(google.events().len(), 2);

    let erased = app
        .authed(
            Method::DELETE,
            &format!("/v1/customers/{person}"),
            &owner.access,
        )
        .header("If-Match", "*")
        .send()
        .await
        .unwrap();
    assert_eq!(erased.status(), 204);
    app.run_jobs().await;
    assert!(google.event(&event_id(&hers)).is_none());
    assert!(google.event(&event_id(&his)).is_some());
}

#[tokio::test]
async fn an_account_that_granted_gmail_sends_its_email_from_its_own_address() {
    let google = GoogleStandIn::start().await;
    google.grant_gmail();
    // Gmail's stand-in accepts only the account's address with the access
    // token the connect issued.
    let gmail = SmtpStandIn::start(GOOGLE_EMAIL, "ya29.access-1").await;
    let twilio = twilio().await;
    let port = gmail.port;
    // No SMTP relay of the server's own: the mail can only go through Gmail.
    let app = app_with_settings(&twilio, None, 4, |s| {
        google.configure(s);
        s.google_smtp_host = "127.0.0.1".into();
        s.google_smtp_port = port;
        s.google_smtp_tls = fieldcrm::config::SmtpTlsMode::None;
    })
    .await;
    let owner = owner(&app).await;
    let connected = google.connect(&app, &owner).await;
    assert!(connected["scopes"]
        .as_array()
        .unwrap()
        .contains(&json!("https://mail.google.com/")));
    app.run_jobs().await;
    let flo = customer(
        &app,
        &owner,
        json!({"name": "Flo", "email": "flo@example.net"}),
        &["email"],
    )
    .await;
    let id = queued(
        &app,
        &owner,
        json!({"customer_id": flo, "channel": "email", "subject": "Your invoice", "body": "Thanks."}),
    )
    .await;
    app.run_jobs().await;

    let mail = gmail.received();
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].auth_mechanism.as_deref(), Some("XOAUTH2"));
    assert_eq!(mail[0].auth_user.as_deref(), Some(GOOGLE_EMAIL));
    assert_eq!(mail[0].mail_from, GOOGLE_EMAIL);
    assert_eq!(mail[0].rcpt_to, vec!["flo@example.net".to_owned()]);
    assert_eq!(message(&app, &owner, &id).await["status"], "sent");
}

#[tokio::test]
async fn channels_are_renewed_before_they_end_and_quiet_accounts_are_polled() {
    let google = GoogleStandIn::start().await;
    let app = google_app(&google).await;
    let owner = owner(&app).await;
    google.connect(&app, &owner).await;
    app.run_jobs().await;
    let first = stored(&app, &owner.account_id);
    let old_channel = first.channel_id.clone().unwrap();
    let account = first.account_id;

    // A fresh channel and sync: the upkeep has nothing to do.
    let mut conn = app.pool.get().unwrap();
    let now = fieldcrm_db::Ts::now();
    let mut tx = fieldcrm_app::Tx::new(&mut conn, &app.state.effects);
    fieldcrm_app::google_sync::schedule_periodic(&mut tx, Duration::minutes(15), true, now)
        .unwrap();
    drop(conn);
    assert_eq!(app.jobs_due_soon(), 0);

    // The channel ends within a day and the last sync is old: both are redone.
    let mut conn = app.pool.get().unwrap();
    let soon = fieldcrm_db::Ts::from(Utc::now() + Duration::hours(2));
    let long_ago = fieldcrm_db::Ts::from(Utc::now() - Duration::hours(1));
    fieldcrm_db::google::set_channel(
        &mut conn,
        account,
        Some((
            old_channel.clone(),
            "resource-1".into(),
            first.channel_token_hash.clone().unwrap(),
            Some(soon),
        )),
        now,
    )
    .unwrap();
    fieldcrm_db::google::set_sync_token(
        &mut conn,
        account,
        first.sync_token.as_deref(),
        Some(long_ago),
        now,
    )
    .unwrap();
    let mut tx = fieldcrm_app::Tx::new(&mut conn, &app.state.effects);
    fieldcrm_app::google_sync::schedule_periodic(&mut tx, Duration::minutes(15), true, now)
        .unwrap();
    drop(conn);
    assert_eq!(app.jobs_due_soon(), 2);
    let lists_before = google.requests("GET", CALENDAR).await.len();
    app.run_jobs().await;

    assert_eq!(
        google
            .requests("POST", &format!("{CALENDAR}/watch"))
            .await
            .len(),
        2
    );
    let renewed = stored(&app, &owner.account_id);
    assert_ne!(renewed.channel_id.as_deref(), Some(old_channel.as_str()));
    assert!(renewed.channel_expires_at.unwrap().get() > Utc::now() + Duration::days(6));
    let stopped = google.requests("POST", "/calendar/v3/channels/stop").await;
    assert_eq!(stopped.len(), 1, "the old channel was stopped");
    let stop: Value = serde_json::from_slice(&stopped[0].body).unwrap();
    assert_eq!(stop["id"], old_channel.as_str());
    assert_eq!(
        google.requests("GET", CALENDAR).await.len(),
        lists_before + 1
    );
    assert!(renewed.last_synced_at.unwrap().get() > long_ago.get());
}

async fn change_appointment(app: &TestApp, who: &Signed, id: &str, body: Value) -> Value {
    let response = app
        .authed(
            Method::PATCH,
            &format!("/v1/appointments/{id}"),
            &who.access,
        )
        .header("If-Match", "*")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// What someone adds to an event in Google Calendar: guests, a description,
/// a location and a colour.
fn added_in_google(event: &mut Value) {
    event["description"] = json!("Gate code 4411; the dog is friendly");
    event["location"] = json!("Back entrance, 12 Elm Street");
    event["attendees"] = json!([{"email": "helper@example.net", "responseStatus": "accepted"}]);
    event["colorId"] = json!("5");
}

fn assert_kept_what_google_added(event: &Value) {
    assert_eq!(event["description"], "Gate code 4411; the dog is friendly");
    assert_eq!(event["location"], "Back entrance, 12 Elm Street");
    assert_eq!(event["attendees"][0]["email"], "helper@example.net");
    assert_eq!(event["colorId"], "5");
}

/// The fields of every write fieldcrm sent to an existing event.
async fn fields_written(google: &GoogleStandIn, event_id: &str) -> Vec<Vec<String>> {
    google
        .writes_to(event_id)
        .await
        .iter()
        .filter(|r| r.method.as_str() != "POST" && r.method.as_str() != "DELETE")
        .map(|r| {
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            body.as_object().unwrap().keys().cloned().collect()
        })
        .collect()
}

#[tokio::test]
async fn what_people_add_to_an_event_in_google_survives_a_rename_and_a_conflict() {
    let google = GoogleStandIn::start().await;
    let app = google_app(&google).await;
    let owner = owner(&app).await;
    google.connect(&app, &owner).await;
    app.run_jobs().await;
    let person = customer(
        &app,
        &owner,
        json!({"name": "Ada", "address": {"line1": "12 Elm Street", "city": "Austin"}}),
        &[],
    )
    .await;
    let a = appointment(&app, &owner, &person, "Boiler service").await;
    let a_id = a["id"].as_str().unwrap();
    app.run_jobs().await;
    let id = event_id(&a);
    assert_eq!(
        google.event(&id).unwrap()["location"],
        "12 Elm Street, Austin"
    );

    // Someone adds guests, a description, a location and a colour in Google;
    // the next sync sees it, and a rename here leaves all of it alone.
    google.edit(&id, added_in_google);
    sync_now(&app, &owner).await;
    change_appointment(
        &app,
        &owner,
        a_id,
        json!({"title": "Boiler service and flue"}),
    )
    .await;
    app.run_jobs().await;
    let event = google.event(&id).unwrap();
    assert_eq!(event["summary"], "Boiler service and flue");
    assert_kept_what_google_added(&event);

    // A conflict: Google changed the event after our last write, and our
    // rename is later. The update meets 412, the event is read again, and
    // only our title goes over it.
    google.edit(&id, |e| {
        e["attendees"]
            .as_array_mut()
            .unwrap()
            .push(json!({"email": "second@example.net"}));
    });
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    change_appointment(&app, &owner, a_id, json!({"title": "Flue only"})).await;
    app.run_jobs().await;
    assert_eq!(google.answered(412), 1);
    let event = google.event(&id).unwrap();
    assert_eq!(event["summary"], "Flue only");
    assert_kept_what_google_added(&event);
    assert_eq!(event["attendees"][1]["email"], "second@example.net");

    // Google's change is the later one: it comes here, and Google keeps
    // everything it had.
    change_appointment(&app, &owner, a_id, json!({"title": "Flue and radiators"})).await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    google.edit(&id, |e| e["summary"] = json!("Flue (per phone call)"));
    app.run_jobs().await;
    assert_eq!(
        get_appointment(&app, &owner, a_id).await["title"],
        "Flue (per phone call)"
    );
    let event = google.event(&id).unwrap();
    assert_eq!(event["summary"], "Flue (per phone call)");
    assert_kept_what_google_added(&event);

    // Nothing but the fields fieldcrm owns was ever sent to the event.
    for fields in fields_written(&google, &id).await {
        for field in &fields {
            assert!(
                ["summary", "start", "end"].contains(&field.as_str()),
                "sent `{field}` to an event whose {field} fieldcrm did not change"
            );
        }
    }
}

#[tokio::test]
async fn connecting_again_writes_nothing_to_events_made_in_google() {
    let google = GoogleStandIn::start().await;
    let app = google_app(&google).await;
    let owner = owner(&app).await;
    customer(
        &app,
        &owner,
        json!({"name": "Grace", "email": "grace@example.org"}),
        &[],
    )
    .await;
    let mut theirs = made_in_google(
        "googlemade1",
        "Quote visit",
        Utc::now() + Duration::days(2),
        1,
    );
    added_in_google(&mut theirs);
    theirs["attendees"] = json!([{"email": "grace@example.org"}, {"email": "helper@example.net"}]);
    google.create(theirs);
    google.connect(&app, &owner).await;
    app.run_jobs().await;
    assert_eq!(appointment_count(&app, &owner).await, 1);
    let imported = app
        .call(Method::GET, "/v1/appointments", &owner.access, None)
        .await
        .json::<Value>()
        .await
        .unwrap()["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = google.event("googlemade1").unwrap();

    // Connecting again while connected.
    google.connect(&app, &owner).await;
    app.run_jobs().await;
    assert!(google.writes_to("googlemade1").await.is_empty());
    assert_eq!(google.event("googlemade1").unwrap(), before);

    // Connecting again after Google refused the grant.
    google.revoke_access();
    sync_now(&app, &owner).await;
    assert_eq!(status(&app, &owner).await["needs_reconnect"], true);
    google.connect(&app, &owner).await;
    app.run_jobs().await;
    assert!(google.writes_to("googlemade1").await.is_empty());
    assert_eq!(google.event("googlemade1").unwrap(), before);
    assert_eq!(appointment_count(&app, &owner).await, 1);

    // A change made here goes out, to the time only: the event keeps its
    // guests, description, location and colour, and gets no fieldcrm mark.
    // (Notes and address stay here: on an event made in Google they are not
    // fieldcrm's to write.)
    let later = Utc::now() + Duration::days(3);
    change_appointment(
        &app,
        &owner,
        &imported,
        json!({"starts_at": later.to_rfc3339(), "ends_at": (later + Duration::hours(1)).to_rfc3339(),
            "notes": "Bring the long ladder", "address": {"line1": "1 Side Road", "city": "Austin"}}),
    )
    .await;
    app.run_jobs().await;
    let event = google.event("googlemade1").unwrap();
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(event["start"]["dateTime"].as_str().unwrap())
            .unwrap()
            .timestamp(),
        later.timestamp()
    );
    assert_eq!(event["summary"], "Quote visit");
    assert_eq!(event["attendees"], before["attendees"]);
    assert_eq!(event["description"], before["description"]);
    assert_eq!(event["location"], before["location"]);
    assert_eq!(event["colorId"], before["colorId"]);
    assert!(event.get("extendedProperties").is_none());
    assert_eq!(
        fields_written(&google, "googlemade1").await,
        vec![vec!["end".to_owned(), "start".to_owned()]]
    );

    // Deleting the account with its calendar events removes what fieldcrm
    // made, and leaves the event made in Google as it is.
    let ours = Utc::now() + Duration::days(4);
    let booked = app
        .call(
            Method::POST,
            "/v1/appointments",
            &owner.access,
            Some(json!({"customer_id": customer_id(&app, &owner).await, "title": "Our visit",
                "starts_at": ours.to_rfc3339(), "ends_at": (ours + Duration::hours(1)).to_rfc3339()})),
        )
        .await;
    assert_eq!(booked.status(), 201);
    app.run_jobs().await;
    assert_eq!(google.events().len(), 2, "ours was exported beside theirs");
    let kept = google.event("googlemade1").unwrap();
    let deleted = app
        .call(
            Method::DELETE,
            "/v1/account",
            &owner.access,
            Some(
                json!({"password": fieldcrm_test_support::PASSWORD, "confirm": "Acme Plumbing",
                "delete_calendar_events": true}),
            ),
        )
        .await;
    assert_eq!(deleted.status(), 200);
    app.run_jobs().await;
    let left = google.events();
    assert_eq!(
        left.len(),
        1,
        "only the event made in Google is left: {left:?}"
    );
    assert_eq!(google.event("googlemade1").unwrap(), kept);
}

/// The id of the account's one customer.
async fn customer_id(app: &TestApp, owner: &Signed) -> String {
    app.call(Method::GET, "/v1/customers", &owner.access, None)
        .await
        .json::<Value>()
        .await
        .unwrap()["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn disconnecting_and_connecting_again_keeps_one_event_and_one_appointment_each() {
    let google = GoogleStandIn::start().await;
    let app = google_app(&google).await;
    let owner = owner(&app).await;
    google.create(made_in_google(
        "googlemade1",
        "Quote visit",
        Utc::now() + Duration::days(2),
        1,
    ));
    google.connect(&app, &owner).await;
    app.run_jobs().await;
    let person = customer(&app, &owner, json!({"name": "Edsger"}), &[]).await;
    let ours = appointment(&app, &owner, &person, "Survey").await;
    app.run_jobs().await;
    assert_eq!(google.events().len(), 2);
    assert_eq!(appointment_count(&app, &owner).await, 2);

    let gone = app
        .call(
            Method::DELETE,
            "/v1/integrations/google",
            &owner.access,
            None,
        )
        .await;
    assert_eq!(gone.status(), 204);
    app.run_jobs().await;
    google.connect(&app, &owner).await;
    app.run_jobs().await;
    sync_now(&app, &owner).await;

    let mut ids: Vec<String> = google
        .events()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    let mut expected = vec!["googlemade1".to_owned(), event_id(&ours)];
    expected.sort();
    assert_eq!(ids, expected, "no copy of either event");
    assert_eq!(appointment_count(&app, &owner).await, 2);
    assert!(google.writes_to("googlemade1").await.is_empty());

    // And the link still works both ways.
    google.edit("googlemade1", |e| {
        e["summary"] = json!("Quote visit, second try")
    });
    sync_now(&app, &owner).await;
    assert_eq!(appointment_count(&app, &owner).await, 2);
    let listed: Value = app
        .call(Method::GET, "/v1/appointments", &owner.access, None)
        .await
        .json()
        .await
        .unwrap();
    assert!(listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["title"] == "Quote visit, second try"));
}

#[tokio::test]
async fn connecting_another_google_account_starts_its_calendar_afresh() {
    let google = GoogleStandIn::start().await;
    let app = google_app(&google).await;
    let owner = owner(&app).await;
    google.create(made_in_google(
        "googlemade1",
        "Dentist",
        Utc::now() + Duration::days(2),
        1,
    ));
    google.connect(&app, &owner).await;
    app.run_jobs().await;
    let person = customer(&app, &owner, json!({"name": "Barbara"}), &[]).await;
    let ours = appointment(&app, &owner, &person, "Survey").await;
    app.run_jobs().await;
    let first_calendar = google.events();
    assert_eq!(first_calendar.len(), 2);
    let first_channel = google.open_channels();

    // The office connects its own Google account instead.
    google.sign_in_as("5678", "bookings@acme-plumbing.example");
    let connected = google.connect(&app, &owner).await;
    assert_eq!(connected["email"], "bookings@acme-plumbing.example");
    app.run_jobs().await;

    // fieldcrm's own appointment goes into the new calendar; the event made
    // in the other account's calendar is not copied into this one.
    let second_calendar = google.events();
    assert_eq!(second_calendar.len(), 1);
    assert_eq!(second_calendar[0]["id"], event_id(&ours).as_str());
    assert_eq!(appointment_count(&app, &owner).await, 2);

    // The first account's calendar is left as it was, its channel stopped
    // and its grant revoked.
    google.sign_in_as(GOOGLE_SUBJECT, GOOGLE_EMAIL);
    assert_eq!(google.events(), first_calendar);
    let channels = google.open_channels();
    assert_eq!(channels.len(), 1);
    assert!(!channels.contains(&first_channel[0]));
    let revoked = google.requests("POST", "/revoke").await;
    assert_eq!(revoked.len(), 1);

    // A change here goes to the new calendar only.
    change_appointment(
        &app,
        &owner,
        ours["id"].as_str().unwrap(),
        json!({"title": "Survey and quote"}),
    )
    .await;
    app.run_jobs().await;
    assert_eq!(google.events(), first_calendar);
    google.sign_in_as("5678", "bookings@acme-plumbing.example");
    assert_eq!(
        google.event(&event_id(&ours)).unwrap()["summary"],
        "Survey and quote"
    );
}

#[tokio::test]
async fn every_page_of_an_incremental_sync_repeats_its_sync_token() {
    let google = GoogleStandIn::start().await;
    let app = google_app(&google).await;
    let owner = owner(&app).await;
    google.connect(&app, &owner).await;
    app.run_jobs().await;
    let first = listings(&google).await.len();

    // Five changes between two syncs, two events a page.
    google.set_page_size(2);
    let starts = Utc::now() + Duration::days(5);
    for n in 0..5 {
        google.create(made_in_google(
            &format!("googlemade{n}"),
            &format!("Visit {n}"),
            starts + Duration::hours(2 * n),
            1,
        ));
    }
    sync_now(&app, &owner).await;
    assert_eq!(appointment_count(&app, &owner).await, 5);
    let pages = &listings(&google).await[first..];
    assert_eq!(pages.len(), 3);
    for page in pages {
        assert!(page.contains_key("syncToken"), "{page:?}");
    }
    assert_eq!(pages[0]["syncToken"], pages[2]["syncToken"]);
    assert_eq!(google.answered(400), 0);
}

#[tokio::test]
async fn exported_events_carry_the_accounts_time_zone() {
    let google = GoogleStandIn::start().await;
    let app = google_app(&google).await;
    let owner = owner(&app).await;
    crate::messages::set_account(&app, &owner, json!({"time_zone": "Europe/Lisbon"})).await;
    google.connect(&app, &owner).await;
    app.run_jobs().await;
    let person = customer(&app, &owner, json!({"name": "Ada"}), &[]).await;
    let a = appointment(&app, &owner, &person, "Boiler service").await;
    app.run_jobs().await;
    let event = google.event(&event_id(&a)).unwrap();
    for end in ["start", "end"] {
        assert_eq!(event[end]["timeZone"], "Europe/Lisbon");
    }
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(event["start"]["dateTime"].as_str().unwrap()).unwrap(),
        chrono::DateTime::parse_from_rfc3339(a["starts_at"].as_str().unwrap()).unwrap()
    );

    // A change of time carries it too.
    let later = Utc::now() + Duration::days(6);
    change_appointment(
        &app,
        &owner,
        a["id"].as_str().unwrap(),
        json!({"starts_at": later.to_rfc3339(), "ends_at": (later + Duration::hours(1)).to_rfc3339()}),
    )
    .await;
    app.run_jobs().await;
    assert_eq!(
        google.event(&event_id(&a)).unwrap()["start"]["timeZone"],
        "Europe/Lisbon"
    );
}

#[tokio::test]
async fn connecting_again_after_google_refused_the_grant_stops_the_old_push_channel() {
    let google = GoogleStandIn::start().await;
    let app = google_app(&google).await;
    let owner = owner(&app).await;
    google.connect(&app, &owner).await;
    app.run_jobs().await;
    let old = google.open_channels();
    assert_eq!(old.len(), 1);

    google.revoke_access();
    sync_now(&app, &owner).await;
    assert_eq!(status(&app, &owner).await["needs_reconnect"], true);
    google.connect(&app, &owner).await;
    app.run_jobs().await;

    let open = google.open_channels();
    assert_eq!(open.len(), 1, "only the new channel is open");
    assert_ne!(open, old);
}

#[tokio::test]
async fn a_listing_that_lags_our_last_write_does_not_make_the_next_update_fail() {
    let google = GoogleStandIn::start().await;
    let app = google_app(&google).await;
    let owner = owner(&app).await;
    google.connect(&app, &owner).await;
    app.run_jobs().await;
    let person = customer(&app, &owner, json!({"name": "Ada"}), &[]).await;
    let a = appointment(&app, &owner, &person, "Boiler service").await;
    let a_id = a["id"].as_str().unwrap();
    app.run_jobs().await;

    // Google refuses the grant; a rename waits here meanwhile. Connecting
    // again writes it while a full sync runs beside it, whose listing was
    // read before that write.
    google.revoke_access();
    sync_now(&app, &owner).await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    change_appointment(&app, &owner, a_id, json!({"title": "Boiler and flue"})).await;
    google.freeze_listings();
    google.connect(&app, &owner).await;
    app.run_jobs().await;
    assert_eq!(
        google.event(&event_id(&a)).unwrap()["summary"],
        "Boiler and flue"
    );
    google.expire_sync_tokens();
    sync_now(&app, &owner).await;
    google.thaw_listings();

    // The next change goes over the etag of our own last write.
    change_appointment(&app, &owner, a_id, json!({"title": "Flue only"})).await;
    app.run_jobs().await;
    assert_eq!(google.event(&event_id(&a)).unwrap()["summary"], "Flue only");
    assert_eq!(google.answered(412), 0, "no update over a stale etag");
}

#[tokio::test]
async fn a_consent_finished_in_another_browser_attaches_nothing() {
    let google = GoogleStandIn::start().await;
    let twilio = twilio().await;
    let app = app_with_settings(&twilio, None, 4, |s| {
        google.configure(s);
        s.cors_allowed_origins = "https://dashboard.example.com".into();
    })
    .await;
    let sender = owner(&app).await;
    let someone = owner(&app).await;

    // The sender starts connecting and passes the consent URL on; someone
    // else opens it in their browser and consents with their own Google
    // account.
    let query = start_connect(&app, &sender, json!({})).await;
    google.sign_in_as("9999", "someone@example.net");
    let other_browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let callback = other_browser
        .get(app.url(&format!(
            "/v1/integrations/google/callback?state={}&code=4/their-code",
            query["state"]
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(callback.status(), 200);

    // Nothing is attached, and their code was never exchanged.
    assert_eq!(status(&app, &sender).await["connected"], false);
    assert!(google.requests("POST", "/token").await.is_empty());
    assert_eq!(callback.headers()["cache-control"], "no-store");
    let answered: Value = callback.json().await.unwrap();
    let confirmation = answered["confirmation"].as_str().unwrap().to_owned();
    // The confirmation works for nobody but the sender: not for that person
    // signed in to their own account, and once refused it is gone.
    let refused = confirm(&app, &someone, &confirmation).await;
    assert_eq!(problem(refused).await["code"], "invalid_confirmation");
    let again = confirm(&app, &sender, &confirmation).await;
    assert_eq!(problem(again).await["code"], "invalid_confirmation");
    assert_eq!(status(&app, &sender).await["connected"], false);
    assert_eq!(status(&app, &someone).await["connected"], false);
    assert!(google.requests("POST", "/token").await.is_empty());
    let guessed = confirm(&app, &sender, "not-a-confirmation").await;
    assert_eq!(problem(guessed).await["code"], "invalid_confirmation");

    // The sender connecting their own Google account, with the app's page to
    // come back to: the browser lands there with the confirmation in the
    // fragment, and the app confirms it.
    google.sign_in_as(GOOGLE_SUBJECT, GOOGLE_EMAIL);
    let page = "https://dashboard.example.com/settings/google";
    let query = start_connect(&app, &sender, json!({"return_url": page})).await;
    let back = app
        .get(&format!(
            "/v1/integrations/google/callback?state={}&code=4/auth-code",
            query["state"]
        ))
        .await;
    assert_eq!(back.status(), 303);
    let location = back.headers()["location"].to_str().unwrap().to_owned();
    let confirmation = location
        .strip_prefix(&format!("{page}#google_confirmation="))
        .expect("the return URL with the confirmation in its fragment");
    let connected = confirm(&app, &sender, confirmation).await;
    assert_eq!(connected.status(), 200);
    let connected: Value = connected.json().await.unwrap();
    assert_eq!(connected["connected"], true);
    assert_eq!(connected["email"], GOOGLE_EMAIL);
    assert_eq!(google.requests("POST", "/token").await.len(), 1);

    // A return URL anywhere else is refused.
    for elsewhere in [
        "https://dashboard.example.com.evil.example/x",
        "https://evil.example/",
        "https://dashboard.example.com/x#y",
    ] {
        let refused = app
            .call(
                Method::POST,
                "/v1/integrations/google/connect",
                &sender.access,
                Some(json!({"return_url": elsewhere})),
            )
            .await;
        assert_eq!(refused.status(), 422, "{elsewhere}");
    }
}

#[tokio::test]
async fn declining_at_google_returns_to_the_page_with_googles_error() {
    let google = GoogleStandIn::start().await;
    let app = google_app(&google).await;
    let sender = owner(&app).await;

    // A page of this server's own web app is a place to return to.
    let own = app.url("/app/settings/google/return");
    let query = start_connect(&app, &sender, json!({ "return_url": own })).await;

    // Declining at Google: the browser goes back with Google's error, and the
    // state is used up.
    let declined = format!(
        "/v1/integrations/google/callback?state={}&error=access_denied",
        query["state"]
    );
    let back = app.get(&declined).await;
    assert_eq!(back.status(), 303);
    assert_eq!(
        back.headers()["location"].to_str().unwrap(),
        format!("{own}#google_error=access_denied")
    );
    assert_eq!(
        problem(app.get(&declined).await).await["code"],
        "invalid_state"
    );
    // Without a page to return to, the answer says so itself.
    let query = start_connect(&app, &sender, json!({})).await;
    let declined = app
        .get(&format!(
            "/v1/integrations/google/callback?state={}&error=access_denied",
            query["state"]
        ))
        .await;
    assert_eq!(declined.status(), 400);
    assert_eq!(problem(declined).await["code"], "consent_refused");
    assert_eq!(status(&app, &sender).await["connected"], false);
    assert!(google.requests("POST", "/token").await.is_empty());
}
