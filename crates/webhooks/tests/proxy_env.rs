//! Its own test binary: it sets the process's proxy variables, which every
//! client built afterwards in the same process would read.

mod common;

use std::sync::atomic::Ordering;

use fieldcrm_webhooks::{
    Deliverer, DeliveryConfig, Endpoint, Message, Outcome, Secret, TargetPolicy,
};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A proxy would look the name up itself, after the check: deliveries ignore
/// the proxy settings of the environment.
#[tokio::test]
async fn deliveries_do_not_go_through_an_environment_proxy() {
    let (proxy_port, connections) = common::counting_listener().await;
    let proxy_url = format!("http://127.0.0.1:{proxy_port}");
    for name in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        std::env::set_var(name, &proxy_url);
    }
    for name in ["NO_PROXY", "no_proxy"] {
        std::env::remove_var(name);
    }
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let deliverer = Deliverer::new(DeliveryConfig {
        policy: TargetPolicy {
            allow_private_targets: true,
        },
        ..DeliveryConfig::default()
    })
    .unwrap();
    let endpoint = Endpoint::new(format!("{}/hook", server.uri()), Secret::generate());
    let message = Message::new("evt1", b"{}".to_vec()).unwrap();

    let attempt = deliverer.deliver(&endpoint, &message).await;

    assert_eq!(attempt.outcome, Outcome::Delivered { status: 200 });
    assert_eq!(connections.load(Ordering::SeqCst), 0);
}
