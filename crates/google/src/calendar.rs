//! Google Calendar v3 calls through `google-calendar3`, with the base URL from
//! configuration and access tokens handed in by the caller (who keeps them,
//! refreshed and sealed, in the database shared by every process).
//!
//! One call goes around the hub: a conditional patch. The hub's call builders
//! cannot set request headers, and a write that must not overwrite a change made
//! in Google needs `If-Match`; that PATCH is sent with reqwest. Changes are only
//! ever patches: `events.update` replaces the whole event, so it would clear
//! what people added in Google (guests, description, colour, reminders).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use futures_util::future::BoxFuture;
use google_calendar3::api::{Channel, Event, EventDateTime, EventExtendedProperties};
use google_calendar3::common::GetToken;
use google_calendar3::{hyper_rustls, hyper_util, CalendarHub};

/// The private extended property that marks our events with our appointment id.
pub const APPOINTMENT_PROPERTY: &str = "fieldcrmAppointmentId";

/// An event as this service reads and writes it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CalendarEvent {
    pub id: String,
    pub etag: Option<String>,
    pub cancelled: bool,
    pub summary: Option<String>,
    pub description: Option<String>,
    pub location: Option<String>,
    /// None for all-day events, which this service does not import.
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    /// The IANA zone the times are shown in (UTC when none is given).
    pub time_zone: Option<String>,
    pub updated: Option<DateTime<Utc>>,
    pub appointment_id: Option<String>,
    pub attendee_emails: Vec<String>,
}

/// When an event starts and ends, and the zone it is shown in.
#[derive(Debug, Clone, PartialEq)]
pub struct EventTimes {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// An IANA zone, e.g. `America/Chicago`.
    pub time_zone: String,
}

/// A change to an existing event: only the fields set here are sent, so
/// everything else the event holds stays as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventPatch {
    pub summary: Option<String>,
    pub times: Option<EventTimes>,
    /// `Some(None)` clears the location.
    pub location: Option<Option<String>>,
    /// `Some(None)` clears the description.
    pub description: Option<Option<String>>,
}

impl EventPatch {
    pub fn is_empty(&self) -> bool {
        *self == EventPatch::default()
    }

    /// The request body: the set fields, `null` for a cleared one.
    pub fn to_json(&self) -> serde_json::Value {
        let mut body = serde_json::Map::new();
        if let Some(summary) = &self.summary {
            body.insert("summary".into(), summary.clone().into());
        }
        if let Some(times) = &self.times {
            let at = |time: DateTime<Utc>| {
                serde_json::json!({
                    "dateTime": time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                    "timeZone": times.time_zone,
                })
            };
            body.insert("start".into(), at(times.start));
            body.insert("end".into(), at(times.end));
        }
        if let Some(location) = &self.location {
            body.insert("location".into(), location.clone().into());
        }
        if let Some(description) = &self.description {
            body.insert("description".into(), description.clone().into());
        }
        serde_json::Value::Object(body)
    }
}

/// One page of a listing.
#[derive(Debug, Clone, Default)]
pub struct EventPage {
    pub events: Vec<CalendarEvent>,
    pub next_page_token: Option<String>,
    /// On the last page only.
    pub next_sync_token: Option<String>,
}

/// A push-notification channel Google opened.
#[derive(Debug, Clone)]
pub struct WatchChannel {
    pub resource_id: String,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("the access token was refused")]
    Unauthorized,
    #[error("no such event or calendar")]
    NotFound,
    /// For a listing: the sync token expired, a full sync is needed.
    #[error("gone")]
    Gone,
    #[error("the event changed since it was read")]
    PreconditionFailed,
    /// An insert with an id that exists already.
    #[error("an event with this id exists")]
    Conflict,
    #[error("temporary failure: {0}")]
    Transient(String),
    #[error("refused: {0}")]
    Rejected(String),
}

pub type CalendarResult<T> = Result<T, CalendarError>;

/// The Calendar API, behind a trait so the sync does not care which.
pub trait CalendarApi: Send + Sync {
    fn insert<'a>(
        &'a self,
        token: &'a str,
        calendar: &'a str,
        event: &'a CalendarEvent,
    ) -> BoxFuture<'a, CalendarResult<CalendarEvent>>;
    fn get<'a>(
        &'a self,
        token: &'a str,
        calendar: &'a str,
        event_id: &'a str,
    ) -> BoxFuture<'a, CalendarResult<CalendarEvent>>;
    /// Changes the fields set in `patch`, and nothing else, only if the
    /// event's etag is still `if_match` (`events.patch`).
    fn patch<'a>(
        &'a self,
        token: &'a str,
        calendar: &'a str,
        event_id: &'a str,
        patch: &'a EventPatch,
        if_match: &'a str,
    ) -> BoxFuture<'a, CalendarResult<CalendarEvent>>;
    /// An event that is gone already counts as deleted.
    fn delete<'a>(
        &'a self,
        token: &'a str,
        calendar: &'a str,
        event_id: &'a str,
    ) -> BoxFuture<'a, CalendarResult<()>>;
    /// Without a sync token: everything; with one: what changed since, deleted events included.
    fn list<'a>(
        &'a self,
        token: &'a str,
        calendar: &'a str,
        sync_token: Option<&'a str>,
        page_token: Option<&'a str>,
    ) -> BoxFuture<'a, CalendarResult<EventPage>>;
    fn watch<'a>(
        &'a self,
        token: &'a str,
        calendar: &'a str,
        channel_id: &'a str,
        address: &'a str,
        channel_token: &'a str,
    ) -> BoxFuture<'a, CalendarResult<WatchChannel>>;
    fn stop<'a>(
        &'a self,
        token: &'a str,
        channel_id: &'a str,
        resource_id: &'a str,
    ) -> BoxFuture<'a, CalendarResult<()>>;
}

type Connector = hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>;

pub struct GoogleCalendar {
    client: google_calendar3::common::Client<Connector>,
    http: reqwest::Client,
    /// With a trailing slash, e.g. `https://www.googleapis.com/`.
    root_url: String,
    timeout: Duration,
}

/// Hands the hub the token the caller already holds.
#[derive(Clone)]
struct BearerToken(String);

type TokenFuture<'a> = Pin<
    Box<
        dyn Future<Output = Result<Option<String>, Box<dyn std::error::Error + Send + Sync>>>
            + Send
            + 'a,
    >,
>;

impl GetToken for BearerToken {
    fn get_token<'a>(&'a self, _scopes: &'a [&str]) -> TokenFuture<'a> {
        Box::pin(async move { Ok(Some(self.0.clone())) })
    }
}

impl GoogleCalendar {
    pub fn new(root_url: &str, timeout: Duration) -> CalendarResult<Self> {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|err| CalendarError::Rejected(format!("no TLS root certificates: {err}")))?
            // http only for a stand-in on loopback; Google itself is https.
            .https_or_http()
            .enable_http1()
            .build();
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build(connector);
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|err| CalendarError::Rejected(err.to_string()))?;
        let mut root_url = root_url.to_owned();
        if !root_url.ends_with('/') {
            root_url.push('/');
        }
        Ok(GoogleCalendar {
            client,
            http,
            root_url,
            timeout,
        })
    }

    fn hub(&self, token: &str) -> CalendarHub<Connector> {
        let mut hub = CalendarHub::new(self.client.clone(), BearerToken(token.to_owned()));
        hub.root_url(self.root_url.clone());
        hub.base_url(format!("{}calendar/v3/", self.root_url));
        hub
    }

    async fn timed<T>(
        &self,
        call: impl Future<Output = google_calendar3::Result<T>>,
    ) -> CalendarResult<T> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(result) => result.map_err(api_error),
            Err(_) => Err(CalendarError::Transient("timed out".into())),
        }
    }

    fn event_url(&self, calendar: &str, event_id: &str) -> CalendarResult<reqwest::Url> {
        let mut url = reqwest::Url::parse(&format!("{}calendar/v3/", self.root_url))
            .map_err(|_| CalendarError::Rejected("the Calendar base URL is invalid".into()))?;
        url.path_segments_mut()
            .map_err(|_| CalendarError::Rejected("the Calendar base URL is invalid".into()))?
            .pop_if_empty()
            .extend(["calendars", calendar, "events", event_id]);
        Ok(url)
    }
}

impl CalendarApi for GoogleCalendar {
    fn insert<'a>(
        &'a self,
        token: &'a str,
        calendar: &'a str,
        event: &'a CalendarEvent,
    ) -> BoxFuture<'a, CalendarResult<CalendarEvent>> {
        Box::pin(async move {
            let hub = self.hub(token);
            let (_, created) = self
                .timed(hub.events().insert(to_api(event), calendar).doit())
                .await?;
            Ok(from_api(created))
        })
    }

    fn get<'a>(
        &'a self,
        token: &'a str,
        calendar: &'a str,
        event_id: &'a str,
    ) -> BoxFuture<'a, CalendarResult<CalendarEvent>> {
        Box::pin(async move {
            let hub = self.hub(token);
            let (_, event) = self
                .timed(hub.events().get(calendar, event_id).doit())
                .await?;
            Ok(from_api(event))
        })
    }

    fn patch<'a>(
        &'a self,
        token: &'a str,
        calendar: &'a str,
        event_id: &'a str,
        patch: &'a EventPatch,
        if_match: &'a str,
    ) -> BoxFuture<'a, CalendarResult<CalendarEvent>> {
        Box::pin(async move {
            let url = self.event_url(calendar, event_id)?;
            let response = self
                .http
                .patch(url)
                .bearer_auth(token)
                .header(reqwest::header::IF_MATCH, if_match)
                .json(&patch.to_json())
                .send()
                .await
                .map_err(|err| {
                    CalendarError::Transient(if err.is_timeout() {
                        "timed out".into()
                    } else {
                        "request failed".into()
                    })
                })?;
            let status = response.status().as_u16();
            if !(200..300).contains(&status) {
                let body: serde_json::Value = response.json().await.unwrap_or_default();
                return Err(status_error(status, &body));
            }
            let updated: Event = response
                .json()
                .await
                .map_err(|_| CalendarError::Transient("unreadable answer".into()))?;
            Ok(from_api(updated))
        })
    }

    fn delete<'a>(
        &'a self,
        token: &'a str,
        calendar: &'a str,
        event_id: &'a str,
    ) -> BoxFuture<'a, CalendarResult<()>> {
        Box::pin(async move {
            let hub = self.hub(token);
            match self
                .timed(hub.events().delete(calendar, event_id).doit())
                .await
            {
                Ok(_) | Err(CalendarError::NotFound) | Err(CalendarError::Gone) => Ok(()),
                Err(err) => Err(err),
            }
        })
    }

    fn list<'a>(
        &'a self,
        token: &'a str,
        calendar: &'a str,
        sync_token: Option<&'a str>,
        page_token: Option<&'a str>,
    ) -> BoxFuture<'a, CalendarResult<EventPage>> {
        Box::pin(async move {
            let hub = self.hub(token);
            let mut call = hub
                .events()
                .list(calendar)
                .show_deleted(true)
                .max_results(250);
            if let Some(sync) = sync_token {
                call = call.sync_token(sync);
            }
            if let Some(page) = page_token {
                call = call.page_token(page);
            }
            let (_, events) = self.timed(call.doit()).await?;
            Ok(EventPage {
                events: events
                    .items
                    .unwrap_or_default()
                    .into_iter()
                    .map(from_api)
                    .collect(),
                next_page_token: events.next_page_token,
                next_sync_token: events.next_sync_token,
            })
        })
    }

    fn watch<'a>(
        &'a self,
        token: &'a str,
        calendar: &'a str,
        channel_id: &'a str,
        address: &'a str,
        channel_token: &'a str,
    ) -> BoxFuture<'a, CalendarResult<WatchChannel>> {
        Box::pin(async move {
            let hub = self.hub(token);
            let request = Channel {
                id: Some(channel_id.to_owned()),
                type_: Some("web_hook".into()),
                address: Some(address.to_owned()),
                token: Some(channel_token.to_owned()),
                ..Default::default()
            };
            let (_, channel) = self
                .timed(hub.events().watch(request, calendar).doit())
                .await?;
            Ok(WatchChannel {
                resource_id: channel.resource_id.unwrap_or_default(),
                expires_at: channel
                    .expiration
                    .and_then(|ms| Utc.timestamp_millis_opt(ms).single()),
            })
        })
    }

    fn stop<'a>(
        &'a self,
        token: &'a str,
        channel_id: &'a str,
        resource_id: &'a str,
    ) -> BoxFuture<'a, CalendarResult<()>> {
        Box::pin(async move {
            let hub = self.hub(token);
            let request = Channel {
                id: Some(channel_id.to_owned()),
                resource_id: Some(resource_id.to_owned()),
                ..Default::default()
            };
            match self.timed(hub.channels().stop(request).doit()).await {
                Ok(_) | Err(CalendarError::NotFound) => Ok(()),
                Err(err) => Err(err),
            }
        })
    }
}

fn to_api(event: &CalendarEvent) -> Event {
    let at = |time: Option<DateTime<Utc>>| EventDateTime {
        date_time: time,
        time_zone: Some(event.time_zone.clone().unwrap_or_else(|| "UTC".into())),
        ..Default::default()
    };
    Event {
        id: Some(event.id.clone()),
        summary: event.summary.clone(),
        description: event.description.clone(),
        location: event.location.clone(),
        start: Some(at(event.start)),
        end: Some(at(event.end)),
        status: Some(
            if event.cancelled {
                "cancelled"
            } else {
                "confirmed"
            }
            .into(),
        ),
        extended_properties: event
            .appointment_id
            .as_ref()
            .map(|id| EventExtendedProperties {
                private: Some(HashMap::from([(
                    APPOINTMENT_PROPERTY.to_owned(),
                    id.clone(),
                )])),
                shared: None,
            }),
        ..Default::default()
    }
}

fn from_api(event: Event) -> CalendarEvent {
    CalendarEvent {
        id: event.id.unwrap_or_default(),
        etag: event.etag,
        cancelled: event.status.as_deref() == Some("cancelled"),
        summary: event.summary,
        description: event.description,
        location: event.location,
        time_zone: event.start.as_ref().and_then(|s| s.time_zone.clone()),
        start: event.start.and_then(|s| s.date_time),
        end: event.end.and_then(|e| e.date_time),
        updated: event.updated,
        appointment_id: event
            .extended_properties
            .and_then(|p| p.private)
            .and_then(|mut p| p.remove(APPOINTMENT_PROPERTY)),
        attendee_emails: event
            .attendees
            .unwrap_or_default()
            .into_iter()
            .filter_map(|a| a.email)
            .collect(),
    }
}

fn api_error(err: google_calendar3::Error) -> CalendarError {
    use google_calendar3::Error;
    match err {
        Error::BadRequest(body) => {
            let status = body
                .pointer("/error/code")
                .and_then(|c| c.as_u64())
                .and_then(|c| u16::try_from(c).ok())
                .unwrap_or(400);
            status_error(status, &body)
        }
        Error::Failure(response) => status_error(response.status().as_u16(), &Default::default()),
        Error::HttpError(_) | Error::Io(_) => CalendarError::Transient("request failed".into()),
        Error::JsonDecodeError(_, _) => CalendarError::Transient("unreadable answer".into()),
        Error::MissingToken(_) => CalendarError::Unauthorized,
        other => CalendarError::Rejected(other.to_string()),
    }
}

fn status_error(status: u16, body: &serde_json::Value) -> CalendarError {
    let reason = body
        .pointer("/error/errors/0/reason")
        .and_then(|r| r.as_str())
        .unwrap_or_default();
    match status {
        401 => CalendarError::Unauthorized,
        404 => CalendarError::NotFound,
        409 => CalendarError::Conflict,
        410 => CalendarError::Gone,
        412 => CalendarError::PreconditionFailed,
        403 if reason.contains("RateLimitExceeded") || reason.contains("rateLimitExceeded") => {
            CalendarError::Transient(format!("rate limited ({reason})"))
        }
        429 | 500..=599 => CalendarError::Transient(format!("answered {status}")),
        _ => CalendarError::Rejected(format!(
            "answered {status}{}",
            if reason.is_empty() {
                String::new()
            } else {
                format!(" ({reason})")
            }
        )),
    }
}
