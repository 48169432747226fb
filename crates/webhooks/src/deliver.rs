//! One delivery attempt: a signed POST, and what came of it.
//!
//! Against DNS rebinding the client resolves through [`CheckedResolver`]: each
//! new connection looks the name up once, checks every address, and the
//! connector dials exactly those addresses; nothing looks the name up a
//! second time. Address literals never reach a resolver and are checked when
//! the URL is parsed, which every attempt does again. Proxies are off, since
//! a proxy would resolve the name itself, after the check.

use std::error::Error as StdError;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, CONTENT_TYPE, RETRY_AFTER};

use crate::schedule::RETRY_SCHEDULE;
use crate::secret::{sign, Secret};
use crate::target::{Resolve, SystemResolver, TargetError, TargetPolicy, TargetUrl};
use crate::{HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP};

/// The time a receiver has to answer, from connecting to the last byte read.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// At most this much of an answer is read, only so the connection can serve
/// the next delivery; its content is never kept.
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024;

/// Error texts are cut to this length for the delivery log.
const MAX_ERROR_LEN: usize = 300;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryConfig {
    pub timeout: Duration,
    pub user_agent: String,
    pub policy: TargetPolicy,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            timeout: DEFAULT_TIMEOUT,
            user_agent: concat!("fieldcrm-webhooks/", env!("CARGO_PKG_VERSION")).to_owned(),
            policy: TargetPolicy::default(),
        }
    }
}

/// Where to deliver and with which secrets.
#[derive(Clone)]
pub struct Endpoint {
    pub url: String,
    pub secret: Secret,
    /// The secret a rotation replaced, while it still signs beside the new one
    /// (see [`crate::ROTATION_OVERLAP`]); the caller leaves it out once that
    /// time is over.
    pub previous_secret: Option<Secret>,
}

impl Endpoint {
    pub fn new(url: impl Into<String>, secret: Secret) -> Self {
        Endpoint {
            url: url.into(),
            secret,
            previous_secret: None,
        }
    }

    pub fn with_previous_secret(mut self, previous: Secret) -> Self {
        self.previous_secret = Some(previous);
        self
    }
}

impl std::fmt::Debug for Endpoint {
    // The URL may carry the receiver's own token in its query: not printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("rotating", &self.previous_secret.is_some())
            .finish_non_exhaustive()
    }
}

/// What to send: the id receivers deduplicate on (the event's id, the same on
/// every attempt) and the body, signed and sent byte for byte.
#[derive(Clone, PartialEq, Eq)]
pub struct Message {
    id: String,
    body: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a webhook id is 1 to 128 letters, digits, `-` or `_`")]
pub struct InvalidMessageId;

impl Message {
    /// `id` goes into the signed content as `id.timestamp.body`, so it may not
    /// hold a full stop; it is also a header value.
    pub fn new(id: impl Into<String>, body: Vec<u8>) -> Result<Self, InvalidMessageId> {
        let id = id.into();
        let valid = (1..=128).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return Err(InvalidMessageId);
        }
        Ok(Message { id, body })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn body(&self) -> &[u8] {
        &self.body
    }
}

impl std::fmt::Debug for Message {
    // A full payload holds personal data: the body is not printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("id", &self.id)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// How one attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub outcome: Outcome,
    /// From the start of the attempt to the answer or the failure.
    pub duration: Duration,
    /// The `webhook-timestamp` it carried: the time of the attempt, not of the
    /// event, so a retry is not refused as a replay.
    pub timestamp: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx answer.
    Delivered { status: u16 },
    /// 410 Gone: the receiver wants nothing more; disable the endpoint.
    Gone,
    /// Try again on the schedule.
    Failed(Failure),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// Any other answer, a redirect (3xx) included: redirects are not followed.
    #[error("answered {status}{}", if (300..400).contains(status) { "; redirects are not followed" } else { "" })]
    Status {
        status: u16,
        /// The receiver's `Retry-After`, at most a day: wait at least this long.
        retry_after: Option<Duration>,
    },
    #[error("no answer within {} s", after.as_secs_f32())]
    TimedOut { after: Duration },
    /// The target is not allowed (now): nothing was sent.
    #[error("refused: the URL {0}")]
    Refused(TargetError),
    /// No connection, a failed TLS handshake, a broken connection, a name
    /// that does not resolve.
    #[error("{0}")]
    Network(String),
}

impl Attempt {
    /// The answer's status, if there was one.
    pub fn status(&self) -> Option<u16> {
        match &self.outcome {
            Outcome::Delivered { status } | Outcome::Failed(Failure::Status { status, .. }) => {
                Some(*status)
            }
            Outcome::Gone => Some(410),
            Outcome::Failed(_) => None,
        }
    }

    /// The text for the delivery log; never anything from the answer's body.
    pub fn error(&self) -> Option<String> {
        match &self.outcome {
            Outcome::Failed(failure) => Some(failure.to_string()),
            Outcome::Delivered { .. } | Outcome::Gone => None,
        }
    }
}

/// Makes delivery attempts. Build one per process and share it: its client
/// keeps connections open between deliveries.
#[derive(Clone)]
pub struct Deliverer {
    client: reqwest::Client,
    resolver: Arc<dyn Resolve>,
    policy: TargetPolicy,
    timeout: Duration,
}

impl Deliverer {
    pub fn new(config: DeliveryConfig) -> Result<Self, reqwest::Error> {
        Self::with_resolver(config, Arc::new(SystemResolver))
    }

    /// With another resolver: for tests.
    pub fn with_resolver(
        config: DeliveryConfig,
        resolver: Arc<dyn Resolve>,
    ) -> Result<Self, reqwest::Error> {
        let checked = CheckedResolver {
            resolver: Arc::clone(&resolver),
            policy: config.policy,
        };
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .https_only(!config.policy.allow_private_targets)
            .dns_resolver(Arc::new(checked))
            .user_agent(config.user_agent)
            .build()?;
        Ok(Deliverer {
            client,
            resolver,
            policy: config.policy,
            timeout: config.timeout,
        })
    }

    pub fn policy(&self) -> TargetPolicy {
        self.policy
    }

    /// The check when an endpoint is registered or its URL changed.
    pub async fn check_target(&self, url: &str) -> Result<TargetUrl, TargetError> {
        self.policy.check(url, &*self.resolver).await
    }

    /// One signed POST of `message` to `endpoint`.
    pub async fn deliver(&self, endpoint: &Endpoint, message: &Message) -> Attempt {
        let started = Instant::now();
        let timestamp = Utc::now().timestamp();
        let outcome = self.attempt(endpoint, message, timestamp).await;
        Attempt {
            outcome,
            duration: started.elapsed(),
            timestamp,
        }
    }

    async fn attempt(&self, endpoint: &Endpoint, message: &Message, timestamp: i64) -> Outcome {
        // Again on every attempt: the policy may be stricter than at registration.
        let url = match self.policy.parse(&endpoint.url) {
            Ok(url) => url,
            Err(err) => return Outcome::Failed(Failure::Refused(err)),
        };
        let secrets = std::iter::once(&endpoint.secret).chain(&endpoint.previous_secret);
        let signature = sign(&message.id, timestamp, &message.body, secrets);
        let sent = self
            .client
            .post(url.as_url().clone())
            .header(CONTENT_TYPE, "application/json")
            .header(HEADER_ID, &message.id)
            .header(HEADER_TIMESTAMP, timestamp)
            .header(HEADER_SIGNATURE, signature)
            .body(message.body.clone())
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(err) => return Outcome::Failed(self.failure(err)),
        };
        let status = response.status().as_u16();
        let retry_after = retry_after(response.headers(), Utc::now());
        drain(response).await;
        match status {
            200..=299 => Outcome::Delivered { status },
            410 => Outcome::Gone,
            _ => Outcome::Failed(Failure::Status {
                status,
                retry_after,
            }),
        }
    }

    fn failure(&self, err: reqwest::Error) -> Failure {
        let mut source = err.source();
        while let Some(cause) = source {
            if let Some(refused) = cause.downcast_ref::<TargetError>() {
                return if refused.is_refusal() {
                    Failure::Refused(refused.clone())
                } else {
                    Failure::Network("the host does not resolve".into())
                };
            }
            source = cause.source();
        }
        if err.is_timeout() {
            return Failure::TimedOut {
                after: self.timeout,
            };
        }
        let err = err.without_url();
        if err.is_connect() {
            // The layers above the cause only say "connect error" again.
            let mut cause: &dyn StdError = &err;
            while let Some(inner) = cause.source() {
                cause = inner;
            }
            return Failure::Network(cut(format!("could not connect: {cause}")));
        }
        Failure::Network(cut(describe(&err)))
    }
}

/// Reads (and drops) at most [`MAX_RESPONSE_BYTES`] of the answer.
async fn drain(mut response: reqwest::Response) {
    let mut read = 0;
    while read < MAX_RESPONSE_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => read += chunk.len(),
            Ok(None) | Err(_) => return,
        }
    }
}

/// `Retry-After` in seconds or as an HTTP date, capped at the longest wait of
/// the schedule.
fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let wait = match value.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => {
            let at = DateTime::parse_from_rfc2822(value).ok()?;
            at.with_timezone(&Utc)
                .signed_duration_since(now)
                .to_std()
                .unwrap_or(Duration::ZERO)
        }
    };
    Some(wait.min(RETRY_SCHEDULE[RETRY_SCHEDULE.len() - 1]))
}

/// The error and its causes on one line, without the URL.
fn describe(err: &dyn StdError) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

fn cut(mut text: String) -> String {
    if text.len() > MAX_ERROR_LEN {
        let mut end = MAX_ERROR_LEN;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// The client's resolver: one lookup per connection, every address checked,
/// and exactly the checked addresses handed to the connector.
struct CheckedResolver {
    resolver: Arc<dyn Resolve>,
    policy: TargetPolicy,
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let resolver = Arc::clone(&self.resolver);
        let policy = self.policy;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let checked = policy.resolve_checked(&*resolver, &host).await?;
            // Port 0: the connector puts in the URL's port.
            let addrs: reqwest::dns::Addrs =
                Box::new(checked.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn with_retry_after(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date_capped_at_a_day() {
        let now = Utc::now();
        assert_eq!(
            retry_after(&with_retry_after("120"), now),
            Some(Duration::from_secs(120))
        );
        let in_an_hour = (now + chrono::TimeDelta::hours(1))
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let wait = retry_after(&with_retry_after(&in_an_hour), now).unwrap();
        assert!(
            wait <= Duration::from_secs(3600) && wait >= Duration::from_secs(3599),
            "{wait:?}"
        );
        assert_eq!(
            retry_after(&with_retry_after("999999999"), now),
            Some(Duration::from_secs(24 * 3600))
        );
        assert_eq!(retry_after(&with_retry_after("soon"), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn message_ids_cannot_break_the_signed_content() {
        assert!(Message::new("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", vec![]).is_ok());
        assert!(Message::new("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", vec![]).is_ok());
        for bad in ["", "a.b", "a b", "a\nb", &"x".repeat(129)] {
            assert_eq!(Message::new(bad, vec![]), Err(InvalidMessageId), "{bad:?}");
        }
    }

    #[test]
    fn debug_shows_neither_url_nor_body_nor_secret() {
        let endpoint = Endpoint::new("https://hooks.example/in?token=abc123", Secret::generate());
        let shown = format!("{endpoint:?}");
        assert!(!shown.contains("abc123"), "{shown}");
        let message = Message::new("id1", b"{\"name\":\"Ada\"}".to_vec()).unwrap();
        let shown = format!("{message:?}");
        assert!(!shown.contains("Ada"), "{shown}");
    }

    #[test]
    fn failures_read_well_in_the_log() {
        let redirect = Failure::Status {
            status: 302,
            retry_after: None,
        };
        assert_eq!(
            redirect.to_string(),
            "answered 302; redirects are not followed"
        );
        let error = Failure::Status {
            status: 503,
            retry_after: None,
        };
        assert_eq!(error.to_string(), "answered 503");
        assert_eq!(
            Failure::TimedOut {
                after: Duration::from_secs(10)
            }
            .to_string(),
            "no answer within 10 s"
        );
    }
}
