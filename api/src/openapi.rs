//! The OpenAPI 3.1 document, generated from the handlers' own annotations.

use actix_web::http::Method;
use actix_web::App;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{Schema, SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Spec, PathItem, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt;

use crate::problem::{FieldError, Problem};
use crate::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "fieldcrm",
        description = "Field-service CRM API: customers and prospects, appointments, time clock and GPS, reminders.\n\n\
Every error is an RFC 9457 `application/problem+json` document (schema `Problem`). \
Timestamps are RFC 3339 in UTC; ids are UUIDs.",
        license(name = "AGPL-3.0-or-later", identifier = "AGPL-3.0-or-later"),
    ),
    components(schemas(Problem, FieldError)),
    tags(
        (name = "auth", description = "Sign up, sign in, tokens and the caller"),
        (name = "account", description = "The account and its settings"),
        (name = "users", description = "People of an account and their roles"),
        (name = "api-keys", description = "Keys for integrations"),
        (name = "customers", description = "Customers, their contact details and consent"),
        (name = "prospects", description = "Prospects: people who are not customers yet"),
        (name = "appointments", description = "Scheduling, the status lifecycle and reminders"),
        (name = "messages", description = "SMS and email: sending, the log, Twilio webhooks, one-click unsubscribe"),
        (name = "integrations", description = "Google: OAuth 2.0 connect, two-way Calendar sync, push notifications"),
        (name = "time clock", description = "Shifts, GPS pings (kept only inside shifts), timesheets, routes, live positions"),
        (name = "device protocols", description = "What tracker apps on technicians' phones send (Traccar Client, GPSLogger, Overland, OwnTracks), with a device token"),
        (name = "operations", description = "Health, readiness, metrics and this document"),
    ),
)]
struct ApiDoc;

/// The bearer scheme and the error responses every endpoint of a kind can give,
/// added to each operation so the document lists them all.
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, spec: &mut Spec) {
        let components = spec.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An access token from `/v1/auth/login` (JWT, 15 minutes) or an API key \
                         (`fcrm_key_...`) for integrations. A token ends when its user is \
                         removed or changes password or its session ends (sign-out), and \
                         follows the user's current role; \
                         on PostgreSQL, a change made through another server process holds \
                         about 10 ms after it commits.",
                    ))
                    .build(),
            ),
        );
        for (path, item) in spec.paths.paths.iter_mut() {
            for operation in operations(item) {
                add_common_responses(path, operation);
                for parameter in operation.parameters.iter_mut().flatten() {
                    if let Some(schema) = parameter.schema.as_mut() {
                        never_null(schema);
                    }
                }
            }
        }
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.post.as_mut(),
        item.put.as_mut(),
        item.patch.as_mut(),
        item.delete.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// A header or query parameter is absent or text, never JSON `null`; an
/// `Option` field would otherwise document `null` as a value to send.
fn never_null(schema: &mut RefOr<Schema>) {
    let RefOr::T(inner) = schema else { return };
    match inner {
        Schema::Object(object) => {
            if let SchemaType::Array(types) = &object.schema_type {
                let types: Vec<Type> = types
                    .iter()
                    .filter(|t| **t != Type::Null)
                    .cloned()
                    .collect();
                object.schema_type = match types.as_slice() {
                    [one] => SchemaType::Type(one.clone()),
                    _ => SchemaType::Array(types),
                };
            }
        }
        Schema::OneOf(one_of) => {
            one_of.items.retain(|item| {
                !matches!(item, RefOr::T(Schema::Object(o)) if o.schema_type == SchemaType::Type(Type::Null))
            });
            if let [only] = one_of.items.as_slice() {
                let mut only = only.clone();
                if let (RefOr::T(Schema::Object(object)), Some(description)) =
                    (&mut only, one_of.description.clone())
                {
                    object.description = Some(description);
                }
                *schema = only;
            }
        }
        _ => {}
    }
}

fn add_common_responses(path: &str, operation: &mut Operation) {
    let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    let has_body = operation.request_body.is_some();
    let has_query = operation.parameters.as_ref().is_some_and(|ps| {
        ps.iter()
            .any(|p| matches!(p.parameter_in, utoipa::openapi::path::ParameterIn::Query))
    });
    // Headers whose syntax is checked (400 when malformed).
    let has_checked_header = operation.parameters.as_ref().is_some_and(|ps| {
        ps.iter().any(|p| {
            matches!(p.parameter_in, utoipa::openapi::path::ParameterIn::Header)
                && (p.name == "If-Match" || p.name == "Idempotency-Key")
        })
    });
    let mut common: Vec<(&str, &str)> = Vec::new();
    if has_body || has_query || has_checked_header {
        common.push((
            "400",
            "Malformed request: unreadable JSON (with line and column), query string, or `If-Match` / `Idempotency-Key` header",
        ));
    }
    if has_body {
        common.push(("408", "The body did not arrive within the configured time"));
        common.push(("413", "The body is larger than the configured limit"));
        common.push(("415", "The body is not `application/json`"));
    }
    if has_body || has_query {
        common.push(("422", "Invalid fields, listed in `errors`"));
    }
    if secured {
        common.push(("401", "Missing, invalid or expired credentials"));
    }
    if path.contains('{') {
        common.push((
            "404",
            "No such resource in the caller's account (also for ids of other accounts)",
        ));
    }
    if path != "/healthz" {
        common.push((
            "503",
            "The database is unavailable (`unavailable`), or cannot save because its storage is full or read-only (`storage_full`); retry after `Retry-After` seconds",
        ));
    }
    let responses = &mut operation.responses.responses;
    for (status, description) in common {
        responses.entry(status.to_owned()).or_insert_with(|| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/problem+json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .into()
        });
    }
}

/// The full document, as the running server serves it at `/openapi.json`.
pub fn spec() -> Spec {
    let (_, spec) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(routes::configure)
        .split_for_parts();
    let mut spec = spec;
    CommonResponses.modify(&mut spec);
    spec
}

/// The document as YAML, as checked in at the top of the repository.
pub fn yaml() -> String {
    spec()
        .to_yaml()
        .unwrap_or_else(|err| format!("# could not render: {err}\n"))
}

/// The methods the document declares for each path, for answering 405 with `Allow`.
pub fn methods_by_path(spec: &Spec) -> Vec<(String, Vec<Method>)> {
    spec.paths
        .paths
        .iter()
        .map(|(path, item)| (path.clone(), methods(item)))
        .collect()
}

fn methods(item: &PathItem) -> Vec<Method> {
    [
        (item.get.is_some(), Method::GET),
        (item.post.is_some(), Method::POST),
        (item.put.is_some(), Method::PUT),
        (item.patch.is_some(), Method::PATCH),
        (item.delete.is_some(), Method::DELETE),
    ]
    .into_iter()
    .filter_map(|(present, method)| present.then_some(method))
    .collect()
}
