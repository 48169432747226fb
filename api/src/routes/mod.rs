//! One module per resource: extract, call a service, map the result.

pub mod api_keys;
pub mod auth;
pub mod health;
pub mod me;
pub mod people;
pub mod users;

use utoipa_actix_web::service_config::ServiceConfig;

/// Registers every documented endpoint. Used by the server and by `fieldcrm
/// openapi`, so the published spec is the one the handlers declare.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(health::healthz)
        .service(health::readyz)
        .service(auth::signup)
        .service(auth::login)
        .service(auth::refresh)
        .service(auth::logout)
        .service(me::me)
        .service(users::create_user)
        .service(users::list_users)
        .service(users::get_user)
        .service(users::update_user)
        .service(users::delete_user)
        .service(api_keys::create_api_key)
        .service(api_keys::list_api_keys)
        .service(api_keys::revoke_api_key)
        .service(people::list_customers)
        .service(people::create_customer)
        .service(people::get_customer)
        .service(people::update_customer)
        .service(people::delete_customer)
        .service(people::get_customer_consent)
        .service(people::record_customer_consent)
        .service(people::list_prospects)
        .service(people::create_prospect)
        .service(people::get_prospect)
        .service(people::update_prospect)
        .service(people::delete_prospect)
        .service(people::get_prospect_consent)
        .service(people::record_prospect_consent)
        .service(people::convert_prospect);
}
