//! Delivery attempts against receivers on loopback: what arrives, how each kind
//! of answer comes back, and the address policy on the wire.

mod common;

use std::io;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use fieldcrm_webhooks::{
    envelope, AddressKind, Attempt, Deliverer, DeliveryConfig, Endpoint, Failure, Message, Outcome,
    Resolve, Secret, TargetError, TargetPolicy,
};
use futures_util::future::BoxFuture;
use secrecy::ExposeSecret;
use standardwebhooks::Webhook;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const OPEN: TargetPolicy = TargetPolicy {
    allow_private_targets: true,
};
const STRICT: TargetPolicy = TargetPolicy {
    allow_private_targets: false,
};

fn deliverer(policy: TargetPolicy, timeout: Duration) -> Deliverer {
    Deliverer::new(DeliveryConfig {
        timeout,
        policy,
        ..DeliveryConfig::default()
    })
    .unwrap()
}

/// Receivers here are on loopback, so plain http and private addresses are allowed.
fn local() -> Deliverer {
    deliverer(OPEN, Duration::from_secs(5))
}

fn message() -> Message {
    let body = envelope(
        "customer.created",
        Utc::now(),
        &serde_json::json!({"id": "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"}),
    );
    Message::new("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a60", body).unwrap()
}

/// A receiver that answers every POST with `answer`.
async fn answering(answer: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(answer)
        .mount(&server)
        .await;
    server
}

async fn receiver(status: u16) -> MockServer {
    answering(ResponseTemplate::new(status)).await
}

fn endpoint_at(server: &MockServer) -> Endpoint {
    Endpoint::new(format!("{}/hook", server.uri()), Secret::generate())
}

fn answered(status: u16, retry_after: Option<Duration>) -> Outcome {
    Outcome::Failed(Failure::Status {
        status,
        retry_after,
    })
}

/// A raw receiver that reads the request, then hands the connection to `answer`.
async fn raw_receiver<F, Fut>(answer: F) -> Endpoint
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let answer = Arc::new(answer);
    let port = common::tcp_server(move |mut stream| {
        let answer = Arc::clone(&answer);
        async move {
            let mut request = [0u8; 8192];
            let _ = stream.read(&mut request).await;
            answer(stream).await;
        }
    })
    .await;
    Endpoint::new(
        format!("http://127.0.0.1:{port}/hook?token=receiver-token"),
        Secret::generate(),
    )
}

fn verifier(secret: &Secret) -> Webhook {
    Webhook::new(secret.to_whsec().expose_secret()).unwrap()
}

#[tokio::test]
async fn the_request_carries_the_signed_body_and_the_standard_headers() {
    let server = receiver(204).await;
    let secret = Secret::generate();
    let endpoint = Endpoint::new(format!("{}/hook", server.uri()), secret.clone());
    let message = message();

    let attempt = local().deliver(&endpoint, &message).await;

    assert_eq!(attempt.outcome, Outcome::Delivered { status: 204 });
    assert_eq!(attempt.status(), Some(204));
    assert_eq!(attempt.error(), None);
    let received = server.received_requests().await.unwrap();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    let header = |name: &str| request.headers.get(name).unwrap().to_str().unwrap();
    assert_eq!(request.body, message.body());
    assert_eq!(header("content-type"), "application/json");
    assert!(header("user-agent").starts_with("fieldcrm-webhooks/"));
    assert_eq!(header("webhook-id"), message.id());
    let timestamp: i64 = header("webhook-timestamp").parse().unwrap();
    assert_eq!(timestamp, attempt.timestamp);
    assert!((Utc::now().timestamp() - timestamp).abs() <= 5);
    assert!(header("webhook-signature").starts_with("v1,"));
    verifier(&secret)
        .verify(&request.body, &request.headers)
        .unwrap();
    assert!(verifier(&Secret::generate())
        .verify(&request.body, &request.headers)
        .is_err());
}

#[tokio::test]
async fn during_a_rotation_receivers_on_either_secret_verify() {
    let server = receiver(200).await;
    let new = Secret::generate();
    let old = Secret::generate();
    let endpoint = Endpoint::new(format!("{}/hook", server.uri()), new.clone())
        .with_previous_secret(old.clone());

    let attempt = local().deliver(&endpoint, &message()).await;

    assert_eq!(attempt.outcome, Outcome::Delivered { status: 200 });
    let request = &server.received_requests().await.unwrap()[0];
    let signatures = request.headers["webhook-signature"].to_str().unwrap();
    assert_eq!(signatures.split(' ').count(), 2, "{signatures}");
    verifier(&new)
        .verify(&request.body, &request.headers)
        .unwrap();
    verifier(&old)
        .verify(&request.body, &request.headers)
        .unwrap();
    let mut tampered = request.body.clone();
    tampered.push(b' ');
    assert!(verifier(&new).verify(&tampered, &request.headers).is_err());
}

#[tokio::test]
async fn a_500_fails_and_the_retry_carries_the_same_id_and_a_new_signature() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_string("stack trace with customer data"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let secret = Secret::generate();
    let endpoint = Endpoint::new(format!("{}/hook", server.uri()), secret.clone());
    let message = message();
    let deliverer = local();

    let first = deliverer.deliver(&endpoint, &message).await;
    assert_eq!(first.outcome, answered(500, None));
    assert_eq!(first.status(), Some(500));
    let error = first.error().unwrap();
    assert_eq!(error, "answered 500");
    assert!(!format!("{first:?}").contains("stack trace"));
    // The retry schedule makes this wait at least 5 s; a second is enough to
    // show the timestamp is the attempt's.
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let second = deliverer.deliver(&endpoint, &message).await;
    assert_eq!(second.outcome, Outcome::Delivered { status: 200 });

    let received = server.received_requests().await.unwrap();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].headers["webhook-id"], message.id());
    assert_eq!(received[1].headers["webhook-id"], message.id());
    assert_ne!(
        received[0].headers["webhook-timestamp"],
        received[1].headers["webhook-timestamp"]
    );
    for request in &received {
        verifier(&secret)
            .verify(&request.body, &request.headers)
            .unwrap();
    }
}

#[tokio::test]
async fn a_410_says_the_endpoint_is_gone() {
    let server = receiver(410).await;

    let attempt = local().deliver(&endpoint_at(&server), &message()).await;

    assert_eq!(attempt.outcome, Outcome::Gone);
    assert_eq!(attempt.status(), Some(410));
}

#[tokio::test]
async fn a_429_passes_on_retry_after() {
    let server = answering(ResponseTemplate::new(429).insert_header("retry-after", "90")).await;

    let attempt = local().deliver(&endpoint_at(&server), &message()).await;

    assert_eq!(
        attempt.outcome,
        answered(429, Some(Duration::from_secs(90)))
    );
}

#[tokio::test]
async fn a_receiver_slower_than_the_timeout_fails_in_time() {
    let server = answering(ResponseTemplate::new(200).set_delay(Duration::from_secs(5))).await;
    let timeout = Duration::from_millis(300);

    let attempt = deliverer(OPEN, timeout)
        .deliver(&endpoint_at(&server), &message())
        .await;

    assert_eq!(
        attempt.outcome,
        Outcome::Failed(Failure::TimedOut { after: timeout })
    );
    assert_eq!(attempt.status(), None);
    assert_eq!(attempt.error().unwrap(), "no answer within 0.3 s");
    assert!(attempt.duration >= timeout, "{:?}", attempt.duration);
    assert!(
        attempt.duration < Duration::from_secs(2),
        "{:?}",
        attempt.duration
    );
}

#[test]
fn the_default_timeout_is_ten_seconds() {
    assert_eq!(DeliveryConfig::default().timeout, Duration::from_secs(10));
    assert!(!DeliveryConfig::default().policy.allow_private_targets);
}

#[tokio::test]
async fn a_redirect_is_a_failure_and_is_not_followed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(
            ResponseTemplate::new(302).insert_header("location", format!("{}/moved", server.uri())),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/moved"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;

    let attempt = local().deliver(&endpoint_at(&server), &message()).await;

    assert_eq!(attempt.outcome, answered(302, None));
    assert_eq!(
        attempt.error().unwrap(),
        "answered 302; redirects are not followed"
    );
    let received = server.received_requests().await.unwrap();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].url.path(), "/hook");
}

fn assert_refused_as_loopback(attempt: &Attempt) {
    assert!(
        matches!(
            attempt.outcome,
            Outcome::Failed(Failure::Refused(TargetError::ForbiddenAddress {
                kind: AddressKind::Loopback,
                ..
            }))
        ),
        "{attempt:?}"
    );
}

#[tokio::test]
async fn a_private_address_is_refused_unless_allowed() {
    let (port, connections) = common::counting_listener().await;
    let strict = deliverer(STRICT, Duration::from_secs(2));
    let endpoint = Endpoint::new(format!("https://127.0.0.1:{port}/hook"), Secret::generate());

    let attempt = strict.deliver(&endpoint, &message()).await;

    assert_refused_as_loopback(&attempt);
    assert_eq!(
        attempt.error().unwrap(),
        "refused: the URL must not point to a loopback address"
    );
    let plain = Endpoint::new(format!("http://127.0.0.1:{port}/hook"), Secret::generate());
    assert_eq!(
        strict.deliver(&plain, &message()).await.outcome,
        Outcome::Failed(Failure::Refused(TargetError::HttpsRequired))
    );
    assert_eq!(connections.load(Ordering::SeqCst), 0);

    // The same checks at registration.
    assert!(matches!(
        strict.check_target("https://127.0.0.1/hook").await,
        Err(TargetError::ForbiddenAddress { .. })
    ));
    assert!(matches!(
        strict.check_target("https://localhost/hook").await,
        Err(TargetError::ForbiddenAddress {
            kind: AddressKind::Loopback,
            ..
        })
    ));

    // Allowed: the same address, over plain http too.
    let server = receiver(200).await;
    let endpoint = endpoint_at(&server);
    assert!(endpoint.url.starts_with("http://127.0.0.1:"));
    assert_eq!(
        local().deliver(&endpoint, &message()).await.outcome,
        Outcome::Delivered { status: 200 }
    );
    assert!(local().check_target("http://localhost/hook").await.is_ok());
}

/// Answers `first` to the first lookup and `then` to every later one, as a
/// rebinding attacker's name server would.
struct Rebinding {
    first: IpAddr,
    then: IpAddr,
    lookups: AtomicUsize,
}

impl Rebinding {
    fn new(first: &str, then: &str) -> Arc<Self> {
        Arc::new(Rebinding {
            first: first.parse().unwrap(),
            then: then.parse().unwrap(),
            lookups: AtomicUsize::new(0),
        })
    }

    fn lookups(&self) -> usize {
        self.lookups.load(Ordering::SeqCst)
    }
}

impl Resolve for Rebinding {
    fn resolve(&self, _host: &str) -> BoxFuture<'static, io::Result<Vec<IpAddr>>> {
        let n = self.lookups.fetch_add(1, Ordering::SeqCst);
        let ip = if n == 0 { self.first } else { self.then };
        Box::pin(async move { Ok(vec![ip]) })
    }
}

fn with_resolver(policy: TargetPolicy, timeout: Duration, dns: Arc<Rebinding>) -> Deliverer {
    Deliverer::with_resolver(
        DeliveryConfig {
            timeout,
            policy,
            ..DeliveryConfig::default()
        },
        dns,
    )
    .unwrap()
}

#[tokio::test]
async fn a_name_that_passed_registration_and_then_points_inside_is_refused() {
    let (port, connections) = common::counting_listener().await;
    let dns = Rebinding::new("93.184.215.14", "127.0.0.1");
    let deliverer = with_resolver(STRICT, Duration::from_secs(2), dns.clone());
    let url = format!("https://rebind.example:{port}/hook");

    assert!(deliverer.check_target(&url).await.is_ok());
    let attempt = deliverer
        .deliver(&Endpoint::new(url, Secret::generate()), &message())
        .await;

    assert_refused_as_loopback(&attempt);
    assert_eq!(dns.lookups(), 2);
    assert_eq!(connections.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_second_lookup_cannot_send_the_request_inside() {
    // The first answer is public (and unrouted: nothing answers there), every
    // later one loopback. Checking one answer and connecting to another would
    // reach the listener.
    let (port, connections) = common::counting_listener().await;
    let dns = Rebinding::new("2000::1", "127.0.0.1");
    let deliverer = with_resolver(STRICT, Duration::from_secs(1), dns.clone());
    let endpoint = Endpoint::new(
        format!("https://rebind.example:{port}/hook"),
        Secret::generate(),
    );

    let attempt = deliverer.deliver(&endpoint, &message()).await;

    assert!(matches!(attempt.outcome, Outcome::Failed(_)), "{attempt:?}");
    assert_eq!(dns.lookups(), 1);
    assert_eq!(connections.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn the_request_goes_to_the_address_that_was_checked() {
    // Private targets allowed, metadata never: the checked answer is the
    // local receiver, a second lookup would say the metadata service.
    let server = receiver(200).await;
    let port = server.address().port();
    let dns = Rebinding::new("127.0.0.1", "169.254.169.254");
    let deliverer = with_resolver(OPEN, Duration::from_secs(2), dns.clone());
    let endpoint = Endpoint::new(
        format!("http://rebind.example:{port}/hook"),
        Secret::generate(),
    );

    let attempt = deliverer.deliver(&endpoint, &message()).await;

    assert_eq!(attempt.outcome, Outcome::Delivered { status: 200 });
    assert_eq!(dns.lookups(), 1);
    let received = server.received_requests().await.unwrap();
    assert_eq!(received.len(), 1);
    // The name, not the address, is what the receiver is asked for.
    assert_eq!(
        received[0].headers["host"],
        format!("rebind.example:{port}").as_str()
    );
}

#[tokio::test]
async fn an_endless_answer_is_not_read_to_its_end() {
    // A 200 whose chunked body never ends.
    let endpoint = raw_receiver(|mut stream| async move {
        let head =
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n";
        if stream.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let chunk = format!("4000\r\n{}\r\n", "x".repeat(0x4000));
        while stream.write_all(chunk.as_bytes()).await.is_ok() {}
    })
    .await;
    let timeout = Duration::from_secs(3);

    let attempt = deliverer(OPEN, timeout)
        .deliver(&endpoint, &message())
        .await;

    assert_eq!(attempt.outcome, Outcome::Delivered { status: 200 });
    assert!(attempt.duration < timeout / 2, "{:?}", attempt.duration);
}

#[tokio::test]
async fn a_refused_connection_is_a_failure_with_a_reason() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let endpoint = Endpoint::new(
        format!("http://127.0.0.1:{port}/hook?token=receiver-token"),
        Secret::generate(),
    );

    let attempt = local().deliver(&endpoint, &message()).await;

    let Outcome::Failed(Failure::Network(reason)) = &attempt.outcome else {
        panic!("{attempt:?}");
    };
    assert!(reason.to_lowercase().contains("connect"), "{reason}");
    // The URL (and what its query may carry) stays out of the log.
    assert!(!reason.contains("receiver-token"), "{reason}");
    assert!(!reason.contains("127.0.0.1"), "{reason}");
}

#[tokio::test]
async fn a_connection_closed_without_an_answer_is_a_failure_with_a_reason() {
    let endpoint = raw_receiver(|stream| async move { drop(stream) }).await;

    let attempt = local().deliver(&endpoint, &message()).await;

    let Outcome::Failed(Failure::Network(reason)) = &attempt.outcome else {
        panic!("{attempt:?}");
    };
    assert!(reason.contains("closed"), "{reason}");
    assert!(!reason.contains("receiver-token"), "{reason}");
}
