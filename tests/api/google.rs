//! Google end to end against a stand-in that speaks its OAuth 2.0 token and
//! revocation endpoints and the Calendar v3 events API (with etags, `If-Match`,
//! sync tokens, paging and push channels): connect with PKCE and state, sealed
//! storage, refresh and `invalid_grant`, export, import, no loops, push
//! notifications, disconnect.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chrono::{Duration, Utc};
use fieldcrm_test_support::{problem, Signed, SmtpStandIn, TestApp};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::messages::{app_with_settings, customer, message, owner, queued, twilio};

pub(crate) const GOOGLE_EMAIL: &str = "office@acme-plumbing.example";
const CALENDAR: &str = "/calendar/v3/calendars/primary/events";

/// What the token endpoint answers to a refresh.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Refresh {
    Works,
    InvalidGrant,
}

#[derive(Default)]
struct Calendar {
    events: BTreeMap<String, Value>,
    version: u64,
    /// Listing answers queued by a test: (status, body), first in first out.
    pages: VecDeque<(u16, Value)>,
}

struct Tokens {
    refresh: Refresh,
    /// Lifetime of issued access tokens, seconds.
    expires_in: i64,
    issued: u32,
    /// Grant Gmail sending along with the calendar.
    gmail: bool,
}

/// Google's stand-in on loopback.
pub(crate) struct GoogleStandIn {
    pub server: MockServer,
    calendar: Arc<Mutex<Calendar>>,
    tokens: Arc<Mutex<Tokens>>,
}

fn form(request: &Request) -> HashMap<String, String> {
    serde_urlencoded::from_bytes(&request.body).unwrap()
}

fn fake_id_token(email: &str) -> String {
    let part = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.signature",
        part(json!({"alg": "RS256"})),
        part(json!({"email": email, "sub": "1234"}))
    )
}

impl GoogleStandIn {
    pub(crate) async fn start() -> Self {
        let server = MockServer::start().await;
        let calendar = Arc::new(Mutex::new(Calendar::default()));
        let tokens = Arc::new(Mutex::new(Tokens {
            refresh: Refresh::Works,
            expires_in: 3600,
            issued: 0,
            gmail: false,
        }));

        let t = tokens.clone();
        Mock::given(method("POST"))
            .and(path("/token"))
            .respond_with(move |request: &Request| {
                let form = form(request);
                let mut tokens = t.lock().unwrap();
                tokens.issued += 1;
                let access = format!("ya29.access-{}", tokens.issued);
                match form.get("grant_type").map(String::as_str) {
                    Some("authorization_code") => ResponseTemplate::new(200).set_body_json(json!({
                        "access_token": access,
                        "refresh_token": "1//refresh-token-secret",
                        "expires_in": tokens.expires_in,
                        "token_type": "Bearer",
                        "scope": if tokens.gmail {
                            "https://www.googleapis.com/auth/calendar.events openid email https://mail.google.com/"
                        } else {
                            "https://www.googleapis.com/auth/calendar.events openid email"
                        },
                        "id_token": fake_id_token(GOOGLE_EMAIL),
                    })),
                    Some("refresh_token") if tokens.refresh == Refresh::Works => {
                        ResponseTemplate::new(200).set_body_json(json!({
                            "access_token": access,
                            "expires_in": tokens.expires_in,
                            "token_type": "Bearer",
                        }))
                    }
                    _ => ResponseTemplate::new(400).set_body_json(
                        json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."}),
                    ),
                }
            })
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/revoke"))
            .respond_with(ResponseTemplate::new(200))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/calendar/v3/channels/stop"))
            .respond_with(ResponseTemplate::new(204))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path(format!("{CALENDAR}/watch")))
            .respond_with(|request: &Request| {
                let body: Value = serde_json::from_slice(&request.body).unwrap();
                let expires = (Utc::now() + Duration::days(7)).timestamp_millis();
                ResponseTemplate::new(200).set_body_json(json!({
                    "kind": "api#channel", "id": body["id"], "resourceId": "resource-1",
                    "resourceUri": "https://www.googleapis.com/calendar/v3/calendars/primary/events",
                    "expiration": expires.to_string(),
                }))
            })
            .mount(&server)
            .await;

        let c = calendar.clone();
        Mock::given(method("POST"))
            .and(path(CALENDAR))
            .respond_with(move |request: &Request| {
                let mut body: Value = serde_json::from_slice(&request.body).unwrap();
                let mut cal = c.lock().unwrap();
                let id = body["id"].as_str().unwrap().to_owned();
                if cal.events.contains_key(&id) {
                    return ResponseTemplate::new(409).set_body_json(json!({"error": {"code": 409, "message": "The requested identifier already exists.", "errors": [{"reason": "duplicate"}]}}));
                }
                cal.version += 1;
                body["etag"] = json!(format!("\"{}\"", cal.version));
                body["updated"] = json!(Utc::now().to_rfc3339());
                cal.events.insert(id, body.clone());
                ResponseTemplate::new(200).set_body_json(body)
            })
            .mount(&server)
            .await;
        let c = calendar.clone();
        Mock::given(method("PUT"))
            .and(path_regex(format!("^{CALENDAR}/[^/]+$")))
            .respond_with(move |request: &Request| {
                let id = request.url.path().rsplit('/').next().unwrap().to_owned();
                let if_match = request
                    .headers
                    .get("if-match")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let mut cal = c.lock().unwrap();
                let Some(current) = cal.events.get(&id).cloned() else {
                    return ResponseTemplate::new(404).set_body_json(json!({"error": {"code": 404, "message": "Not Found"}}));
                };
                if if_match.as_deref() != current["etag"].as_str() {
                    return ResponseTemplate::new(412).set_body_json(json!({"error": {"code": 412, "message": "Precondition Failed", "errors": [{"reason": "conditionNotMet"}]}}));
                }
                let mut body: Value = serde_json::from_slice(&request.body).unwrap();
                cal.version += 1;
                body["etag"] = json!(format!("\"{}\"", cal.version));
                body["updated"] = json!(Utc::now().to_rfc3339());
                cal.events.insert(id, body.clone());
                ResponseTemplate::new(200).set_body_json(body)
            })
            .mount(&server)
            .await;
        let c = calendar.clone();
        Mock::given(method("GET"))
            .and(path_regex(format!("^{CALENDAR}/[^/]+$")))
            .respond_with(move |request: &Request| {
                let id = request.url.path().rsplit('/').next().unwrap();
                match c.lock().unwrap().events.get(id) {
                    Some(event) => ResponseTemplate::new(200).set_body_json(event),
                    None => ResponseTemplate::new(404)
                        .set_body_json(json!({"error": {"code": 404, "message": "Not Found"}})),
                }
            })
            .mount(&server)
            .await;
        let c = calendar.clone();
        Mock::given(method("DELETE"))
            .and(path_regex(format!("^{CALENDAR}/[^/]+$")))
            .respond_with(move |request: &Request| {
                let id = request.url.path().rsplit('/').next().unwrap();
                match c.lock().unwrap().events.remove(id) {
                    Some(_) => ResponseTemplate::new(204),
                    None => ResponseTemplate::new(410).set_body_json(
                        json!({"error": {"code": 410, "message": "Resource has been deleted"}}),
                    ),
                }
            })
            .mount(&server)
            .await;
        let c = calendar.clone();
        Mock::given(method("GET"))
            .and(path(CALENDAR))
            .respond_with(move |_: &Request| {
                let mut cal = c.lock().unwrap();
                match cal.pages.pop_front() {
                    Some((status, body)) => ResponseTemplate::new(status).set_body_json(body),
                    None => ResponseTemplate::new(200)
                        .set_body_json(json!({"kind": "calendar#events", "items": [], "nextSyncToken": "sync-idle"})),
                }
            })
            .mount(&server)
            .await;
        GoogleStandIn {
            server,
            calendar,
            tokens,
        }
    }

    pub(crate) fn configure(&self, s: &mut fieldcrm::Settings) {
        let uri = self.server.uri();
        s.google_client_id = Some("client-id.apps.googleusercontent.com".into());
        s.google_client_secret = Some(SecretString::from("client-secret-for-tests"));
        s.google_auth_url = format!("{uri}/auth");
        s.google_token_url = format!("{uri}/token");
        s.google_revoke_url = format!("{uri}/revoke");
        s.google_api_root_url = format!("{uri}/");
        s.token_encryption_keys = Some(SecretString::from(format!(
            "k1:{}",
            STANDARD.encode([7u8; 32])
        )));
    }

    pub(crate) fn set_refresh(&self, refresh: Refresh, expires_in: i64) {
        let mut tokens = self.tokens.lock().unwrap();
        tokens.refresh = refresh;
        tokens.expires_in = expires_in;
    }

    pub(crate) fn grant_gmail(&self) {
        self.tokens.lock().unwrap().gmail = true;
    }

    pub(crate) fn queue_page(&self, status: u16, body: Value) {
        self.calendar
            .lock()
            .unwrap()
            .pages
            .push_back((status, body));
    }

    pub(crate) fn event(&self, id: &str) -> Option<Value> {
        self.calendar.lock().unwrap().events.get(id).cloned()
    }

    pub(crate) fn events(&self) -> Vec<Value> {
        self.calendar
            .lock()
            .unwrap()
            .events
            .values()
            .cloned()
            .collect()
    }

    /// A change made by someone in Google: a new etag and `updated`.
    pub(crate) fn edit(&self, id: &str, change: impl FnOnce(&mut Value)) -> Value {
        let mut cal = self.calendar.lock().unwrap();
        cal.version += 1;
        let version = cal.version;
        let event = cal.events.get_mut(id).unwrap();
        change(event);
        event["etag"] = json!(format!("\"{version}\""));
        event["updated"] = json!(Utc::now().to_rfc3339());
        event.clone()
    }

    pub(crate) async fn requests(&self, verb: &str, path_prefix: &str) -> Vec<Request> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.method.as_str() == verb && r.url.path().starts_with(path_prefix))
            .collect()
    }

    /// Runs the consent flow as a browser would and returns the status.
    pub(crate) async fn connect(&self, app: &TestApp, who: &Signed) -> Value {
        let gmail = self.tokens.lock().unwrap().gmail;
        let started = app
            .call(
                Method::POST,
                "/v1/integrations/google/connect",
                &who.access,
                Some(json!({"send_email": gmail})),
            )
            .await;
        assert_eq!(started.status(), 200);
        let url: Value = started.json().await.unwrap();
        let url = reqwest::Url::parse(url["authorization_url"].as_str().unwrap()).unwrap();
        let query: HashMap<String, String> = url.query_pairs().into_owned().collect();
        let callback = app
            .get(&format!(
                "/v1/integrations/google/callback?state={}&code=4/auth-code",
                query["state"]
            ))
            .await;
        assert_eq!(callback.status(), 200);
        callback.json().await.unwrap()
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

async fn get_appointment(app: &TestApp, who: &Signed, id: &str) -> Value {
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
    let connected = app.get(&callback).await;
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

    // A change here goes out as a conditional update over the etag we hold.
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
    let puts = google.requests("PUT", CALENDAR).await;
    assert_eq!(puts.len(), 1);
    assert_eq!(
        puts[0].headers.get("if-match").unwrap().to_str().unwrap(),
        first_etag.as_str().unwrap()
    );
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
    let puts = google.requests("PUT", CALENDAR).await;
    assert_eq!(puts.len(), 3, "one refused with 412, one over the new etag");
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
    let made_in_google = json!({
        "id": "googlemade1", "etag": "\"g1\"", "status": "confirmed", "summary": "Quote visit",
        "updated": Utc::now().to_rfc3339(),
        "start": {"dateTime": starts.to_rfc3339()}, "end": {"dateTime": (starts + Duration::hours(2)).to_rfc3339()},
        "attendees": [{"email": "Grace@Example.org"}],
    });
    let stranger = json!({
        "id": "googlemade2", "etag": "\"g2\"", "status": "confirmed", "summary": "Dentist",
        "updated": Utc::now().to_rfc3339(),
        "start": {"dateTime": starts.to_rfc3339()}, "end": {"dateTime": (starts + Duration::hours(1)).to_rfc3339()},
    });
    google.queue_page(
        200,
        json!({"items": [made_in_google], "nextPageToken": "page-2"}),
    );
    google.queue_page(200, json!({"items": [stranger], "nextSyncToken": "sync-1"}));
    google.connect(&app, &owner).await;
    app.run_jobs().await;

    let lists = google.requests("GET", CALENDAR).await;
    let queries: Vec<HashMap<String, String>> = lists
        .iter()
        .filter(|r| r.url.path() == CALENDAR)
        .map(|r| r.url.query_pairs().into_owned().collect())
        .collect();
    assert!(
        !queries[0].contains_key("syncToken"),
        "the first sync is full"
    );
    assert_eq!(queries[1]["pageToken"], "page-2");
    assert_eq!(
        stored(&app, &owner.account_id).sync_token.as_deref(),
        Some("sync-1")
    );

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
    google.queue_page(200, json!({"items": [{
        "id": "googlemade1", "etag": "\"g3\"", "status": "confirmed", "summary": "Quote visit (moved)",
        "updated": (Utc::now() + Duration::seconds(5)).to_rfc3339(),
        "start": {"dateTime": later.to_rfc3339()}, "end": {"dateTime": (later + Duration::hours(2)).to_rfc3339()},
    }], "nextSyncToken": "sync-2"}));
    let sync = app
        .call(
            Method::POST,
            "/v1/integrations/google/sync",
            &owner.access,
            None,
        )
        .await;
    assert_eq!(sync.status(), 202);
    app.run_jobs().await;
    let moved = get_appointment(&app, &owner, &imported).await;
    assert_eq!(moved["title"], "Quote visit (moved)");
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(moved["starts_at"].as_str().unwrap())
            .unwrap()
            .timestamp(),
        later.timestamp()
    );
    let lists = google.requests("GET", CALENDAR).await;
    let last: HashMap<String, String> = lists
        .last()
        .unwrap()
        .url
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(last["syncToken"], "sync-1");

    google.queue_page(
        200,
        json!({"items": [{"id": "googlemade1", "status": "cancelled"}], "nextSyncToken": "sync-3"}),
    );
    app.call(
        Method::POST,
        "/v1/integrations/google/sync",
        &owner.access,
        None,
    )
    .await;
    app.run_jobs().await;
    assert_eq!(
        get_appointment(&app, &owner, &imported).await["status"],
        "cancelled"
    );

    // The sync token expired: 410, then a full sync from the start.
    google.queue_page(410, json!({"error": {"code": 410, "message": "Sync token is no longer valid, a full sync is required.", "errors": [{"reason": "fullSyncRequired"}]}}));
    google.queue_page(200, json!({"items": [], "nextSyncToken": "sync-fresh"}));
    app.call(
        Method::POST,
        "/v1/integrations/google/sync",
        &owner.access,
        None,
    )
    .await;
    app.run_jobs().await;
    assert_eq!(
        stored(&app, &owner.account_id).sync_token.as_deref(),
        Some("sync-fresh")
    );
    let lists = google.requests("GET", CALENDAR).await;
    let n = lists.len();
    let refused: HashMap<String, String> = lists[n - 2].url.query_pairs().into_owned().collect();
    let full: HashMap<String, String> = lists[n - 1].url.query_pairs().into_owned().collect();
    assert_eq!(refused["syncToken"], "sync-3");
    assert!(!full.contains_key("syncToken"));
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

    // Google lists the event we wrote, as it is: nothing changes here and
    // nothing is written back.
    let echo = google.event(&id).unwrap();
    google.queue_page(200, json!({"items": [echo], "nextSyncToken": "s1"}));
    app.call(
        Method::POST,
        "/v1/integrations/google/sync",
        &owner.access,
        None,
    )
    .await;
    app.run_jobs().await;
    assert_eq!(appointment_count(&app, &owner).await, 1);
    let version = get_appointment(&app, &owner, a["id"].as_str().unwrap()).await["version"].clone();
    assert_eq!(version, a["version"]);
    let writes = google.requests("PUT", CALENDAR).await.len()
        + google.requests("POST", CALENDAR).await.len();

    // Renamed in Google: the title comes here, and is not sent back.
    let edited = google.edit(&id, |e| e["summary"] = json!("Gutters and downpipes"));
    google.queue_page(
        200,
        json!({"items": [edited.clone()], "nextSyncToken": "s2"}),
    );
    app.call(
        Method::POST,
        "/v1/integrations/google/sync",
        &owner.access,
        None,
    )
    .await;
    app.run_jobs().await;
    let after = get_appointment(&app, &owner, a["id"].as_str().unwrap()).await;
    assert_eq!(after["title"], "Gutters and downpipes");
    // And seen again, it is still only one appointment, changed once.
    google.queue_page(200, json!({"items": [edited], "nextSyncToken": "s3"}));
    app.call(
        Method::POST,
        "/v1/integrations/google/sync",
        &owner.access,
        None,
    )
    .await;
    app.run_jobs().await;
    assert_eq!(
        get_appointment(&app, &owner, a["id"].as_str().unwrap()).await["version"],
        after["version"]
    );
    assert_eq!(appointment_count(&app, &owner).await, 1);
    assert_eq!(google.events().len(), 1);
    let writes_after = google.requests("PUT", CALENDAR).await.len()
        + google.requests("POST", CALENDAR).await.len();
    assert_eq!(writes_after, writes, "no write went back to Google");
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
    assert_eq!(refreshes[0]["refresh_token"], "1//refresh-token-secret");
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
    google.set_refresh(Refresh::Works, 3600);
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
    assert_eq!(form(&revoked[0])["token"], "1//refresh-token-secret");
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
    fieldcrm::services::google::schedule_periodic(&mut conn, Duration::minutes(15), true, 4, now)
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
    fieldcrm_db::google::set_sync_token(&mut conn, account, Some("sync-idle"), Some(long_ago), now)
        .unwrap();
    fieldcrm::services::google::schedule_periodic(&mut conn, Duration::minutes(15), true, 4, now)
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
