//! One module per resource: extract, call a service, map the result.

pub mod health;

use utoipa_actix_web::service_config::ServiceConfig;

/// Registers every documented endpoint. Used by the server and by `fieldcrm
/// openapi`, so the published spec is the one the handlers declare.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(health::healthz).service(health::readyz);
}
