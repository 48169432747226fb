//! Google on loopback, written from Google's own documentation: the OAuth 2.0
//! token and revocation endpoints, and an in-memory Calendar v3 that keeps what
//! it is given the way Google does. `events.update` replaces the whole event
//! (a field not sent is gone) while `events.patch` merges into it (arrays are
//! replaced, `null` removes a field); `If-Match` with an old etag answers 412;
//! an insert with a taken id answers 409; deleted events stay as `cancelled`
//! for incremental listings; sync tokens expire with 410; a further page must
//! repeat the query it belongs to, the same `syncToken` included; push
//! channels stay open until stopped. Every Google user has a calendar of their
//! own, reached with the access tokens of their grants.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{Duration, SecondsFormat, Utc};
use serde_json::{json, Map, Value};
use wiremock::matchers::path_regex;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

pub(crate) const GOOGLE_EMAIL: &str = "office@acme-plumbing.example";
/// The OpenID subject of that Google user.
pub(crate) const GOOGLE_SUBJECT: &str = "1234";
pub(crate) const CALENDAR: &str = "/calendar/v3/calendars/primary/events";
const CHANNELS_STOP: &str = "/calendar/v3/channels/stop";
const CALENDAR_SCOPE: &str = "https://www.googleapis.com/auth/calendar.events openid email";

/// What the token endpoint answers to a refresh.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Refresh {
    Works,
    InvalidGrant,
}

/// Fields Google sets itself and keeps whatever a client sends.
const SERVER_FIELDS: [&str; 8] = [
    "id",
    "kind",
    "created",
    "creator",
    "organizer",
    "iCalUID",
    "htmlLink",
    "etag",
];

#[derive(Clone)]
struct Stored {
    event: Value,
    /// The calendar's change counter when this event last changed.
    change: u64,
}

#[derive(Default)]
struct Calendar {
    events: BTreeMap<String, Stored>,
    changes: u64,
    /// Sync tokens issued before this change answer 410.
    valid_from: u64,
    /// Listings served from a copy taken earlier: a list can lag a write.
    frozen: Option<BTreeMap<String, Stored>>,
}

struct Grant {
    subject: String,
    email: String,
    revoked: bool,
}

struct Fake {
    /// Who signs in on the next consent screen: (subject, email).
    user: (String, String),
    refresh: Refresh,
    expires_in: i64,
    issued: u32,
    gmail: bool,
    /// By refresh token.
    grants: HashMap<String, Grant>,
    /// Access token -> the refresh token of its grant.
    access: HashMap<String, String>,
    /// By the subject of their owner.
    calendars: HashMap<String, Calendar>,
    /// Open push channels: id -> (subject, resource id).
    channels: HashMap<String, (String, String)>,
    page_size: usize,
    etags: u64,
    /// (method, path, status) of every Calendar call answered.
    answers: Vec<(String, String, u16)>,
}

type Answer = (u16, Option<Value>);

fn error(status: u16, reason: &str, message: &str) -> Answer {
    (
        status,
        Some(json!({"error": {"code": status, "message": message,
            "errors": [{"domain": "global", "reason": reason, "message": message}]}})),
    )
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn without_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(without_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(without_nulls),
        _ => {}
    }
}

/// Patch semantics: given fields replace, nested objects merge, arrays are
/// replaced whole, `null` removes.
fn merge(target: &mut Map<String, Value>, patch: &Map<String, Value>) {
    for (key, value) in patch {
        if SERVER_FIELDS.contains(&key.as_str()) {
            continue;
        }
        match (value, target.get_mut(key)) {
            (Value::Null, _) => {
                target.remove(key);
            }
            (Value::Object(inner), Some(Value::Object(existing))) => merge(existing, inner),
            (other, _) => {
                let mut other = other.clone();
                without_nulls(&mut other);
                target.insert(key.clone(), other);
            }
        }
    }
}

fn fake_id_token(subject: &str, email: &str) -> String {
    let part = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.signature",
        part(json!({"alg": "RS256"})),
        part(json!({"email": email, "sub": subject}))
    )
}

fn form(request: &Request) -> HashMap<String, String> {
    serde_urlencoded::from_bytes(&request.body).unwrap_or_default()
}

impl Fake {
    fn answer(&mut self, request: &Request) -> ResponseTemplate {
        let path = request.url.path().to_owned();
        let verb = request.method.as_str().to_owned();
        let (status, body) = match (verb.as_str(), path.as_str()) {
            ("POST", "/token") => self.token(request),
            ("POST", "/revoke") => self.revoke(request),
            _ if path.starts_with("/calendar/v3/") => {
                let answer = self.calendar(&verb, &path, request);
                self.answers.push((verb, path, answer.0));
                answer
            }
            _ => error(404, "notFound", "Not Found"),
        };
        let template = ResponseTemplate::new(status);
        match body {
            Some(body) => template.set_body_json(body),
            None => template,
        }
    }

    fn token(&mut self, request: &Request) -> Answer {
        let form = form(request);
        let invalid_grant = (
            400,
            Some(
                json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."}),
            ),
        );
        let refresh_token = match form.get("grant_type").map(String::as_str) {
            Some("authorization_code") => {
                let (subject, email) = self.user.clone();
                let token = format!("1//refresh-token-secret-{}", self.grants.len() + 1);
                self.grants.insert(
                    token.clone(),
                    Grant {
                        subject,
                        email,
                        revoked: false,
                    },
                );
                token
            }
            Some("refresh_token") => {
                let token = form.get("refresh_token").cloned().unwrap_or_default();
                match self.grants.get(&token) {
                    Some(grant) if !grant.revoked && self.refresh == Refresh::Works => token,
                    _ => return invalid_grant,
                }
            }
            _ => return error(400, "unsupported_grant_type", "unsupported grant type"),
        };
        self.issued += 1;
        let access = format!("ya29.access-{}", self.issued);
        self.access.insert(access.clone(), refresh_token.clone());
        let grant = &self.grants[&refresh_token];
        let mut body = json!({
            "access_token": access,
            "expires_in": self.expires_in,
            "token_type": "Bearer",
        });
        if form.get("grant_type").map(String::as_str) == Some("authorization_code") {
            body["refresh_token"] = json!(refresh_token);
            body["id_token"] = json!(fake_id_token(&grant.subject, &grant.email));
            body["scope"] = json!(if self.gmail {
                format!("{CALENDAR_SCOPE} https://mail.google.com/")
            } else {
                CALENDAR_SCOPE.to_owned()
            });
        }
        (200, Some(body))
    }

    /// Revoking a token ends its whole grant.
    fn revoke(&mut self, request: &Request) -> Answer {
        let token = form(request).get("token").cloned().unwrap_or_default();
        let grant = self.access.get(&token).cloned().unwrap_or(token);
        match self.grants.get_mut(&grant) {
            Some(grant) => {
                grant.revoked = true;
                (200, None)
            }
            None => (400, Some(json!({"error": "invalid_token"}))),
        }
    }

    /// The Google user whose grant the bearer token belongs to.
    fn caller(&self, request: &Request) -> Option<(String, String)> {
        let bearer = request
            .headers
            .get("authorization")?
            .to_str()
            .ok()?
            .strip_prefix("Bearer ")?;
        let grant = &self.grants[self.access.get(bearer)?];
        (!grant.revoked).then(|| (grant.subject.clone(), grant.email.clone()))
    }

    fn calendar(&mut self, verb: &str, path: &str, request: &Request) -> Answer {
        let Some((subject, email)) = self.caller(request) else {
            return error(401, "authError", "Invalid Credentials");
        };
        let body = || serde_json::from_slice::<Value>(&request.body).unwrap_or(Value::Null);
        let if_match = request
            .headers
            .get("if-match")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if path == CHANNELS_STOP && verb == "POST" {
            return self.stop(&subject, &body());
        }
        let Some(rest) = path.strip_prefix(CALENDAR) else {
            return error(404, "notFound", "Not Found");
        };
        match (verb, rest) {
            ("GET", "") => {
                let query: HashMap<String, String> =
                    request.url.query_pairs().into_owned().collect();
                self.list(&subject, &query)
            }
            ("POST", "") => self.insert(&subject, &email, body()),
            ("POST", "/watch") => self.watch(&subject, &body()),
            (verb, id) => {
                let id = id.trim_start_matches('/').to_owned();
                match verb {
                    "GET" => match self.stored(&subject, &id) {
                        Some(stored) => (200, Some(stored.event)),
                        None => error(404, "notFound", "Not Found"),
                    },
                    "PUT" => self.write(&subject, &id, if_match, body(), false),
                    "PATCH" => self.write(&subject, &id, if_match, body(), true),
                    "DELETE" => self.delete(&subject, &id),
                    _ => error(405, "methodNotAllowed", "Method Not Allowed"),
                }
            }
        }
    }

    fn cal(&mut self, subject: &str) -> &mut Calendar {
        self.calendars.entry(subject.to_owned()).or_default()
    }

    fn stored(&mut self, subject: &str, id: &str) -> Option<Stored> {
        self.cal(subject).events.get(id).cloned()
    }

    /// Stores a new version: a new etag, `updated`, and a change number.
    fn put(&mut self, subject: &str, id: &str, mut event: Value) -> Value {
        self.etags += 1;
        event["etag"] = json!(format!("\"{}\"", self.etags));
        event["updated"] = json!(now());
        let cal = self.cal(subject);
        cal.changes += 1;
        let change = cal.changes;
        cal.events.insert(
            id.to_owned(),
            Stored {
                event: event.clone(),
                change,
            },
        );
        event
    }

    fn insert(&mut self, subject: &str, email: &str, mut event: Value) -> Answer {
        without_nulls(&mut event);
        let id = match event["id"].as_str() {
            Some(id) => id.to_owned(),
            None => format!("g{}", uuid::Uuid::new_v4().simple()),
        };
        if self.cal(subject).events.contains_key(&id) {
            return error(409, "duplicate", "The requested identifier already exists.");
        }
        if event.get("start").is_none() || event.get("end").is_none() {
            return error(400, "required", "Missing end time.");
        }
        event["id"] = json!(id);
        event["kind"] = json!("calendar#event");
        event["created"] = json!(now());
        event["creator"] = json!({"email": email, "self": true});
        event["organizer"] = json!({"email": email, "self": true});
        event["iCalUID"] = json!(format!("{id}@google.com"));
        event["htmlLink"] = json!(format!("https://www.google.com/calendar/event?eid={id}"));
        if event.get("status").is_none() {
            event["status"] = json!("confirmed");
        }
        (200, Some(self.put(subject, &id, event)))
    }

    /// `events.update` (a whole new event) or `events.patch` (merged).
    fn write(
        &mut self,
        subject: &str,
        id: &str,
        if_match: Option<String>,
        body: Value,
        patch: bool,
    ) -> Answer {
        let Some(current) = self.stored(subject, id) else {
            return error(404, "notFound", "Not Found");
        };
        if if_match.is_some_and(|etag| {
            etag != "*" && Some(etag.as_str()) != current.event["etag"].as_str()
        }) {
            return error(412, "conditionNotMet", "Precondition Failed");
        }
        let Value::Object(body) = body else {
            return error(400, "parseError", "Parse Error");
        };
        let event = if patch {
            let mut event = current.event.as_object().unwrap().clone();
            merge(&mut event, &body);
            Value::Object(event)
        } else {
            let mut event = Value::Object(body);
            without_nulls(&mut event);
            if event.get("start").is_none() || event.get("end").is_none() {
                return error(400, "required", "Missing end time.");
            }
            for field in SERVER_FIELDS {
                event[field] = current.event[field].clone();
            }
            if event.get("status").is_none() {
                event["status"] = json!("confirmed");
            }
            event
        };
        (200, Some(self.put(subject, id, event)))
    }

    fn delete(&mut self, subject: &str, id: &str) -> Answer {
        let Some(current) = self.stored(subject, id) else {
            return error(404, "notFound", "Not Found");
        };
        if current.event["status"] == "cancelled" {
            return error(410, "deleted", "Resource has been deleted");
        }
        let mut event = current.event;
        event["status"] = json!("cancelled");
        self.put(subject, id, event);
        (204, None)
    }

    fn list(&mut self, subject: &str, query: &HashMap<String, String>) -> Answer {
        let page_size = self.page_size;
        let cal = self.cal(subject);
        let sync = query.get("syncToken").map(String::as_str);
        let since = match sync {
            None => None,
            Some(token) => {
                let n = token
                    .strip_prefix(&format!("sync-{subject}-"))
                    .and_then(|n| n.parse::<u64>().ok());
                match n {
                    Some(n) if n >= cal.valid_from && n <= cal.changes => Some(n),
                    _ => {
                        return error(
                            410,
                            "fullSyncRequired",
                            "Sync token is no longer valid, a full sync is required.",
                        )
                    }
                }
            }
        };
        // A page token names the query it belongs to, the listing's moment,
        // and the last event it gave.
        let (as_of, after) = match query.get("pageToken") {
            None => (cal.changes, None),
            Some(token) => {
                let parts: Vec<&str> = token.splitn(4, '|').collect();
                if parts.len() != 4 || parts[0] != "page" {
                    return error(400, "invalid", "Invalid page token.");
                }
                if parts[1] != sync.unwrap_or("-") {
                    return error(
                        400,
                        "invalid",
                        "The page token belongs to another query: repeat it with the same syncToken.",
                    );
                }
                (parts[2].parse().unwrap(), Some(parts[3].to_owned()))
            }
        };
        let show_deleted =
            since.is_some() || query.get("showDeleted").map(String::as_str) == Some("true");
        let max = query
            .get("maxResults")
            .and_then(|m| m.parse::<usize>().ok())
            .unwrap_or(250)
            .min(page_size);
        let source = cal.frozen.as_ref().unwrap_or(&cal.events);
        let mut matching = source
            .iter()
            .filter(|(id, _)| after.as_ref().is_none_or(|a| id.as_str() > a.as_str()))
            .filter(|(_, s)| s.change <= as_of && since.is_none_or(|n| s.change > n))
            .filter(|(_, s)| show_deleted || s.event["status"] != "cancelled");
        let page: Vec<(&String, &Stored)> = matching.by_ref().take(max).collect();
        let more = matching.next().is_some();
        let items: Vec<Value> = page
            .iter()
            .map(|(_, s)| {
                if s.event["status"] == "cancelled" {
                    // Deleted events are listed with little more than their id.
                    json!({"kind": "calendar#event", "etag": s.event["etag"], "id": s.event["id"], "status": "cancelled"})
                } else {
                    s.event.clone()
                }
            })
            .collect();
        let mut body = json!({"kind": "calendar#events", "items": items});
        if more {
            let last = page.last().map(|(id, _)| id.as_str()).unwrap_or_default();
            body["nextPageToken"] = json!(format!("page|{}|{as_of}|{last}", sync.unwrap_or("-")));
        } else {
            body["nextSyncToken"] = json!(format!("sync-{subject}-{as_of}"));
        }
        (200, Some(body))
    }

    fn resource_of(subject: &str) -> String {
        if subject == GOOGLE_SUBJECT {
            "resource-1".into()
        } else {
            format!("resource-{subject}")
        }
    }

    fn watch(&mut self, subject: &str, body: &Value) -> Answer {
        let Some(id) = body["id"].as_str() else {
            return error(400, "required", "Required channel id");
        };
        let resource = Self::resource_of(subject);
        self.channels
            .insert(id.to_owned(), (subject.to_owned(), resource.clone()));
        let expires = (Utc::now() + Duration::days(7)).timestamp_millis();
        (
            200,
            Some(json!({
                "kind": "api#channel", "id": id, "resourceId": resource,
                "resourceUri": "https://www.googleapis.com/calendar/v3/calendars/primary/events",
                "expiration": expires.to_string(),
            })),
        )
    }

    /// Only the Google user who opened a channel can stop it.
    fn stop(&mut self, subject: &str, body: &Value) -> Answer {
        let id = body["id"].as_str().unwrap_or_default();
        match self.channels.get(id) {
            Some((owner, resource))
                if owner == subject && Some(resource.as_str()) == body["resourceId"].as_str() =>
            {
                self.channels.remove(id);
                (204, None)
            }
            _ => error(404, "notFound", &format!("Channel '{id}' not found")),
        }
    }
}

/// Google's stand-in on loopback.
pub(crate) struct GoogleStandIn {
    pub server: MockServer,
    fake: Arc<Mutex<Fake>>,
}

impl GoogleStandIn {
    pub(crate) async fn start() -> Self {
        let server = MockServer::start().await;
        let fake = Arc::new(Mutex::new(Fake {
            user: (GOOGLE_SUBJECT.into(), GOOGLE_EMAIL.into()),
            refresh: Refresh::Works,
            expires_in: 3600,
            issued: 0,
            gmail: false,
            grants: HashMap::new(),
            access: HashMap::new(),
            calendars: HashMap::new(),
            channels: HashMap::new(),
            page_size: 250,
            etags: 0,
            answers: Vec::new(),
        }));
        let answering = fake.clone();
        Mock::given(path_regex("^/"))
            .respond_with(move |request: &Request| answering.lock().unwrap().answer(request))
            .mount(&server)
            .await;
        GoogleStandIn { server, fake }
    }

    pub(crate) fn configure(&self, s: &mut fieldcrm::Settings) {
        use base64::engine::general_purpose::STANDARD;
        let uri = self.server.uri();
        s.google_client_id = Some("client-id.apps.googleusercontent.com".into());
        s.google_client_secret = Some(secrecy::SecretString::from("client-secret-for-tests"));
        s.google_auth_url = format!("{uri}/auth");
        s.google_token_url = format!("{uri}/token");
        s.google_revoke_url = format!("{uri}/revoke");
        s.google_api_root_url = format!("{uri}/");
        s.token_encryption_keys = Some(secrecy::SecretString::from(format!(
            "k1:{}",
            STANDARD.encode([7u8; 32])
        )));
    }

    fn with<T>(&self, f: impl FnOnce(&mut Fake) -> T) -> T {
        f(&mut self.fake.lock().unwrap())
    }

    pub(crate) fn set_refresh(&self, refresh: Refresh, expires_in: i64) {
        self.with(|f| {
            f.refresh = refresh;
            f.expires_in = expires_in;
        });
    }

    pub(crate) fn grant_gmail(&self) {
        self.with(|f| f.gmail = true);
    }

    /// Whether consent screens grant Gmail too.
    pub(crate) fn requests_gmail(&self) -> bool {
        self.with(|f| f.gmail)
    }

    /// The Google user who signs in on the next consent screen, and whose
    /// calendar the helpers below read and change.
    pub(crate) fn sign_in_as(&self, subject: &str, email: &str) {
        self.with(|f| f.user = (subject.into(), email.into()));
    }

    /// At most this many events per page, whatever `maxResults` asks.
    pub(crate) fn set_page_size(&self, size: usize) {
        self.with(|f| f.page_size = size);
    }

    /// Google invalidates the sync tokens issued so far (the next incremental
    /// listing answers 410).
    pub(crate) fn expire_sync_tokens(&self) {
        self.with(|f| {
            let subject = f.user.0.clone();
            let cal = f.cal(&subject);
            cal.valid_from = cal.changes + 1;
        });
    }

    /// Listings show the calendar as it is now until `thaw_listings`, as a
    /// list that lags the writes made meanwhile.
    pub(crate) fn freeze_listings(&self) {
        self.with(|f| {
            let subject = f.user.0.clone();
            let cal = f.cal(&subject);
            cal.frozen = Some(cal.events.clone());
        });
    }

    pub(crate) fn thaw_listings(&self) {
        self.with(|f| {
            let subject = f.user.0.clone();
            f.cal(&subject).frozen = None;
        });
    }

    /// An event of the current user's calendar, unless deleted.
    pub(crate) fn event(&self, id: &str) -> Option<Value> {
        self.with(|f| {
            let subject = f.user.0.clone();
            f.stored(&subject, id)
                .map(|s| s.event)
                .filter(|e| e["status"] != "cancelled")
        })
    }

    /// The events of the current user's calendar, deleted ones left out.
    pub(crate) fn events(&self) -> Vec<Value> {
        self.with(|f| {
            let subject = f.user.0.clone();
            f.cal(&subject)
                .events
                .values()
                .map(|s| s.event.clone())
                .filter(|e| e["status"] != "cancelled")
                .collect()
        })
    }

    /// An event someone makes in Google Calendar.
    pub(crate) fn create(&self, event: Value) -> Value {
        self.with(|f| {
            let (subject, email) = f.user.clone();
            let (status, body) = f.insert(&subject, &email, event);
            assert_eq!(status, 200);
            body.unwrap()
        })
    }

    /// A change someone makes in Google Calendar: a new etag and `updated`.
    pub(crate) fn edit(&self, id: &str, change: impl FnOnce(&mut Value)) -> Value {
        self.with(|f| {
            let subject = f.user.0.clone();
            let mut event = f.stored(&subject, id).expect("the event exists").event;
            change(&mut event);
            f.put(&subject, id, event)
        })
    }

    /// Someone deletes the event in Google Calendar.
    pub(crate) fn delete(&self, id: &str) {
        self.with(|f| {
            let subject = f.user.0.clone();
            assert_eq!(f.delete(&subject, id).0, 204);
        });
    }

    /// The ids of the push channels open now.
    pub(crate) fn open_channels(&self) -> Vec<String> {
        self.with(|f| f.channels.keys().cloned().collect())
    }

    /// How many Calendar calls were answered with this status.
    pub(crate) fn answered(&self, status: u16) -> usize {
        self.with(|f| f.answers.iter().filter(|(_, _, s)| *s == status).count())
    }

    /// The current user removes the service's access in their Google
    /// account: every grant they gave ends, access tokens included.
    pub(crate) fn revoke_access(&self) {
        self.with(|f| {
            let subject = f.user.0.clone();
            for grant in f.grants.values_mut().filter(|g| g.subject == subject) {
                grant.revoked = true;
            }
        });
    }

    /// Whether the grant of this refresh token was revoked.
    pub(crate) fn revoked(&self, refresh_token: &str) -> bool {
        self.with(|f| f.grants.get(refresh_token).is_some_and(|g| g.revoked))
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

    /// Writes (insert, update, patch, delete) sent to one event.
    pub(crate) async fn writes_to(&self, event_id: &str) -> Vec<Request> {
        let one = format!("{CALENDAR}/{event_id}");
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| match r.method.as_str() {
                "PUT" | "PATCH" | "DELETE" => r.url.path() == one,
                "POST" => {
                    r.url.path() == CALENDAR
                        && serde_json::from_slice::<Value>(&r.body)
                            .is_ok_and(|b| b["id"] == event_id)
                }
                _ => false,
            })
            .collect()
    }
}
