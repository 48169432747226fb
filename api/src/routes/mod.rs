//! One module per resource. Every handler has one shape: check the caller
//! where a body follows (so a caller without the right learns nothing from
//! 422s), parse the request into domain values, make one use-case call, and
//! answer its view.

pub mod account;
pub mod api_keys;
pub mod appointments;
pub mod audit;
pub mod auth;
pub mod devices;
pub mod events;
pub mod fallback;
pub mod health;
pub mod integrations;
pub mod me;
pub mod messages;
pub mod people;
pub mod tracking;
pub mod users;
pub mod webhook_endpoints;

use actix_web::http::header::{ETAG, LOCATION};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa_actix_web::scope::scope;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::preconditions::etag;
use fieldcrm_app::idempotency::Replayable;
use fieldcrm_app::AppError;

/// The response of a creating POST, first or replayed: `Location` from the
/// body's `id`, `ETag` from its `version` when it has one.
pub fn created_response(result: &Replayable, collection: &str) -> HttpResponse {
    let status = StatusCode::from_u16(result.status).unwrap_or(StatusCode::OK);
    let mut response = HttpResponse::build(status);
    if let Some(version) = result.body["version"]
        .as_i64()
        .and_then(|v| i32::try_from(v).ok())
    {
        response.insert_header((ETAG, etag(version)));
    }
    if let Some(id) = result.body["id"].as_str() {
        response.insert_header((LOCATION, format!("{collection}/{id}")));
    }
    if result.replayed {
        response.insert_header(("Idempotency-Replayed", "true"));
    }
    response.json(&result.body)
}

/// A view as JSON, for storing with an idempotency key.
pub fn to_json<T: Serialize>(view: &T) -> Result<serde_json::Value, AppError> {
    serde_json::to_value(view).map_err(|err| AppError::internal_from(&err))
}

/// The record an event is about, as `GET` returns it now, for full webhook
/// payloads; `None` when it is gone or the type has none.
pub fn full_object(
    conn: &mut fieldcrm_db::DbConnection,
    event: &fieldcrm_db::events::Event,
) -> Result<Option<serde_json::Value>, AppError> {
    if !fieldcrm_app::events::has_full_object(&event.event_type) {
        return Ok(None);
    }
    let data: serde_json::Value = serde_json::from_str(&event.data).unwrap_or_default();
    let Some(id) = data["id"]
        .as_str()
        .and_then(|id| uuid::Uuid::parse_str(id).ok())
    else {
        return Ok(None);
    };
    let account = event.account_id;
    let object = match event.event_type.split('.').next() {
        Some("customer" | "prospect") => {
            fieldcrm_app::people::record_of(conn, account, fieldcrm_db::Id::from_uuid(id))?
                .map(|record| to_json(&crate::views::PersonView::from(record)))
                .transpose()?
        }
        Some("appointment") => fieldcrm_app::scheduling::appointments::detail_of(
            conn,
            account,
            fieldcrm_db::Id::from_uuid(id),
        )?
        .map(|detail| to_json(&appointments::detail_view(detail)))
        .transpose()?,
        Some("user") => fieldcrm_db::users::find(conn, account, fieldcrm_db::Id::from_uuid(id))?
            .map(|user| to_json(&crate::views::UserView::from(user)))
            .transpose()?,
        _ => None,
    };
    Ok(object)
}

/// Registers every documented endpoint. Used by the server and by `fieldcrm
/// openapi`, so the published spec is the one the handlers declare.
///
/// A collection whose paths take parameters is a scope: the router compares a
/// scope's literal prefix and tries only its own templates, where a flat list
/// would try every template before the one that matches, each a regular
/// expression (a GET by id cost a fifth more CPU that way). Every path under a
/// scope's prefix belongs in that scope: the router does not look past a
/// scope whose prefix matched. A template outside any scope comes last.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(health::healthz)
        .service(health::readyz)
        .service(auth::signup)
        .service(auth::login)
        .service(auth::refresh)
        .service(auth::logout)
        .service(me::me)
        .service(messages::twilio_status)
        .service(messages::twilio_inbound)
        .service(messages::unsubscribe_page)
        .service(messages::unsubscribe)
        .service(account::get_account)
        .service(account::update_account)
        .service(account::delete_account)
        .service(account::export_account)
        .service(audit::audit_trail)
        .service(events::list_events)
        .service(integrations::connect_google)
        .service(integrations::google_callback)
        .service(integrations::confirm_google)
        .service(integrations::google_status)
        .service(integrations::sync_google)
        .service(integrations::disconnect_google)
        .service(integrations::google_calendar_notification)
        .service(tracking::upload_pings)
        .service(tracking::live_locations)
        .service(appointments::rotate_calendar_feed)
        .service(appointments::revoke_calendar_feed)
        .service(scope("/v1/customers").configure(people::customer_routes))
        .service(
            scope("/v1/prospects")
                .configure(people::prospect_routes)
                .service(people::convert_prospect),
        )
        .service(
            scope("/v1/appointments")
                .service(appointments::create_appointment)
                .service(appointments::list_appointments)
                .service(appointments::get_appointment)
                .service(appointments::update_appointment)
                .service(appointments::delete_appointment)
                .service(appointments::change_status),
        )
        .service(scope("/v1/shifts").configure(|cfg| {
            cfg.service(tracking::clock_in)
                .service(tracking::clock_out)
                // Other methods on these two must not fall through to
                // `/{id}`: they are 405 with `Allow: POST`, from the
                // default service.
                .map(|cfg| {
                    cfg.service(web::resource(["/clock-in", "/clock-out"]).to(fallback::no_route))
                })
                .service(tracking::list_shifts)
                .service(tracking::get_shift)
                .service(tracking::close_shift)
                .service(tracking::shift_route);
        }))
        .service(
            scope("/v1/users")
                .service(users::create_user)
                .service(users::list_users)
                .service(users::get_user)
                .service(users::update_user)
                .service(users::delete_user)
                .service(devices::create_device)
                .service(devices::list_devices)
                .service(devices::revoke_device)
                .service(devices::device_setup_page),
        )
        .service(
            scope("/v1/ingest")
                .service(devices::osmand_get)
                .service(devices::osmand_post)
                .service(devices::overland_bearer)
                .service(devices::overland_path)
                .service(devices::owntracks_auth)
                .service(devices::owntracks_path),
        )
        .service(
            scope("/v1/messages")
                .service(messages::send_message)
                .service(messages::list_messages)
                .service(messages::get_message),
        )
        .service(
            scope("/v1/webhook-endpoints")
                .service(webhook_endpoints::create_webhook_endpoint)
                .service(webhook_endpoints::list_webhook_endpoints)
                .service(webhook_endpoints::get_webhook_endpoint)
                .service(webhook_endpoints::update_webhook_endpoint)
                .service(webhook_endpoints::delete_webhook_endpoint)
                .service(webhook_endpoints::rotate_webhook_secret)
                .service(webhook_endpoints::test_webhook_endpoint)
                .service(webhook_endpoints::list_webhook_deliveries)
                .service(webhook_endpoints::retry_webhook_delivery),
        )
        .service(
            scope("/v1/api-keys")
                .service(api_keys::create_api_key)
                .service(api_keys::list_api_keys)
                .service(api_keys::revoke_api_key),
        )
        .service(account::deletion_receipt)
        .service(appointments::calendar_feed);
}
