//! The OpenAPI 3.1 document, generated from the handlers' own annotations.

use actix_web::http::Method;
use actix_web::App;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{AnyOfBuilder, ArrayItems, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::server::{ServerBuilder, ServerVariableBuilder};
use utoipa::openapi::{
    ContactBuilder, ContentBuilder, OpenApi as Spec, PathItem, Ref, RefOr, ResponseBuilder,
};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt;

use fieldcrm_domain::Action;

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
        (name = "events", description = "The change feed: what changed in the account, oldest first"),
        (name = "webhooks", description = "Signed webhooks (Standard Webhooks 1.0): endpoints, secrets, the delivery log"),
        (name = "device protocols", description = "What tracker apps on technicians' phones send (Traccar Client, GPSLogger, Overland, OwnTracks), with a device token"),
        (name = "operations", description = "Health, readiness, metrics and this document"),
        (name = "callbacks", description = "Called by outside services and browsers, not by integrators: Twilio's and Google's webhooks, the unsubscribe pages, the Google OAuth callback, the calendar feed. Client generators can leave this tag out."),
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
            USER_TOKEN,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A person's access token from `/v1/auth/login` or `/v1/auth/signup` \
                         (JWT, 15 minutes; renew it with `/v1/auth/refresh`). It ends when its \
                         user is removed or changes password or its session ends (sign-out), \
                         and follows the user's current role; on PostgreSQL, a change made \
                         through another server process holds about 10 ms after it commits.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            API_KEY,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("fcrm_key_...")
                    .description(Some(
                        "An integration's API key (`fcrm_key_...`, from `POST /v1/api-keys`), \
                         sent as `Authorization: Bearer <key>`. Its scope is `read` or \
                         `write`: an operation lists the scope it needs as this scheme's \
                         scope, and does not list this scheme when keys are not accepted.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            DEVICE_TOKEN,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("fcrm_dev_...")
                    .description(Some(
                        "A tracker app's device token (`fcrm_dev_...`, from \
                         `POST /v1/users/{id}/devices`): it only sends that person's positions to \
                         the ingest endpoints and is refused everywhere else.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            DEVICE_BASIC,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "OwnTracks' HTTP mode: any user name, the device token as password.",
                    ))
                    .build(),
            ),
        );
        // The rule of `extract::control_characters`, for every text field of
        // what requests send (answers may quote refused text back).
        let sent = request_schemas(&spec.paths.paths, &components.schemas);
        for (name, schema) in components.schemas.iter_mut() {
            if let (true, RefOr::T(Schema::Object(object))) = (sent.contains(name), schema) {
                for property in object.properties.values_mut() {
                    text_without_control_characters(property);
                }
            }
        }
        list_items_by_reference(&mut components.schemas);
        type_event_data(&mut components.schemas);
        if let Some(RefOr::T(Schema::Object(problem))) = components.schemas.get_mut("Problem") {
            describe_problem(problem);
        }
        for schema in components.schemas.values_mut() {
            if let RefOr::T(Schema::Object(object)) = schema {
                object
                    .properties
                    .values_mut()
                    .for_each(unwrap_single_one_of);
            }
        }
        spec.servers = Some(vec![ServerBuilder::new()
            .url("{base_url}")
            .description(Some(
                "Where the service runs: its `FIELDCRM_PUBLIC_BASE_URL`",
            ))
            .parameter(
                "base_url",
                ServerVariableBuilder::new()
                    .default_value("http://127.0.0.1:8080")
                    .description(Some("Scheme, host and port, without a trailing slash")),
            )
            .build()]);
        spec.info.contact = Some(
            ContactBuilder::new()
                .name(Some("fieldcrm maintainers"))
                .url(Some("https://github.com/fieldcrm/fieldcrm"))
                .build(),
        );
        for (path, item) in spec.paths.paths.iter_mut() {
            for operation in operations(item) {
                name_the_stage(operation);
                write_roles_line(operation);
                split_security(path, operation);
                one_line_summary(operation);
                if is_callback(path) {
                    operation.tags = Some(vec![CALLBACKS.to_owned()]);
                }
                add_common_responses(path, operation);
                declare_headers(path, operation);
                for parameter in operation.parameters.iter_mut().flatten() {
                    let in_url = matches!(
                        parameter.parameter_in,
                        ParameterIn::Path | ParameterIn::Query
                    );
                    if let Some(schema) = parameter.schema.as_mut() {
                        never_null(schema);
                        if in_url {
                            no_control_characters(schema);
                        }
                    }
                }
            }
        }
    }
}

/// The two security schemes: a person's token, and an integration's key.
const USER_TOKEN: &str = "user_token";
const API_KEY: &str = "api_key";
/// Tracker apps: a device token, as a bearer token or OwnTracks' Basic password.
const DEVICE_TOKEN: &str = "device_token";
const DEVICE_BASIC: &str = "device_basic";

/// The tag of what outside services and browsers call, not integrators:
/// client generators can leave these operations out.
const CALLBACKS: &str = "callbacks";

fn is_callback(path: &str) -> bool {
    path.starts_with("/v1/webhooks/")
        || path.starts_with("/v1/unsubscribe")
        || path == "/v1/integrations/google/callback"
        || path.starts_with("/v1/calendar-feeds/")
}

/// The operations customers and prospects share are written once
/// (`routes::people`), with `{person}` and `{people}` for the stage's words:
/// each operation's tag is its stage.
fn name_the_stage(operation: &mut Operation) {
    let people = match operation.tags.as_deref() {
        Some([tag]) if tag == "customers" || tag == "prospects" => tag.clone(),
        _ => return,
    };
    let person = people.trim_end_matches('s');
    let name = |text: &mut String| {
        if text.contains("{pe") {
            *text = text
                .replace("{person}", person)
                .replace("{people}", &people);
        }
    };
    operation.summary.iter_mut().for_each(name);
    operation.description.iter_mut().for_each(name);
    for parameter in operation.parameters.iter_mut().flatten() {
        parameter.description.iter_mut().for_each(name);
    }
    for response in operation.responses.responses.values_mut() {
        if let RefOr::T(response) = response {
            name(&mut response.description);
        }
    }
}

/// A handler names the action it performs (`Permission: \`ManageUsers\`.`);
/// the document says who may call it in the words of the permission table,
/// so the two cannot disagree. (The few operations that need only a signed-in
/// caller, and no action, write their roles line themselves.)
fn write_roles_line(operation: &mut Operation) {
    const MARK: &str = "Permission: `";
    let Some(description) = operation.description.as_mut() else {
        return;
    };
    let Some(start) = description.find(MARK) else {
        return;
    };
    let name_at = start + MARK.len();
    let name_end = name_at
        + description[name_at..]
            .find("`.")
            .expect("a permission line reads Permission: `Action`.");
    let action = Action::named(&description[name_at..name_end])
        .unwrap_or_else(|| panic!("no action {}", &description[name_at..name_end]));
    description.replace_range(start..name_end + "`.".len(), &action.roles_line());
}

/// Handlers declare one `bearer` requirement and say in their description
/// which API key scope, if any, they accept (`Action::describe`); the
/// document says it as requirements: a person's token, or a key with that
/// scope. Public operations say `security: []`.
fn split_security(path: &str, operation: &mut Operation) {
    // Tracker apps send their device token in a header where the path has none.
    if path.starts_with("/v1/ingest/") && !path.contains('{') {
        let mut requirements = vec![SecurityRequirement::new::<_, _, &str>(DEVICE_TOKEN, [])];
        if path.starts_with("/v1/ingest/owntracks") {
            requirements.push(SecurityRequirement::new::<_, _, &str>(DEVICE_BASIC, []));
        }
        operation.security = Some(requirements);
        return;
    }
    let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    if !secured {
        operation.security = Some(Vec::new());
        return;
    }
    let description = operation.description.clone().unwrap_or_default();
    let scope = if description.contains("API keys: `read`") {
        Some("read")
    } else if description.contains("API keys: `write`") {
        Some("write")
    } else {
        None
    };
    let mut requirements = vec![SecurityRequirement::new::<_, _, &str>(USER_TOKEN, [])];
    if let Some(scope) = scope {
        requirements.push(SecurityRequirement::new(API_KEY, [scope]));
    }
    operation.security = Some(requirements);
}

/// `Page<T>` inlines `T` as its items; generated clients then have one class
/// per list. Each `Page_T` refers to `T` instead.
fn list_items_by_reference(schemas: &mut std::collections::BTreeMap<String, RefOr<Schema>>) {
    let names: Vec<String> = schemas.keys().cloned().collect();
    for name in names {
        let Some(item) = name.strip_prefix("Page_") else {
            continue;
        };
        if !schemas.contains_key(item) {
            continue;
        }
        if let Some(RefOr::T(Schema::Object(page))) = schemas.get_mut(&name) {
            if let Some(RefOr::T(Schema::Array(data))) = page.properties.get_mut("data") {
                data.items = ArrayItems::RefOrSchema(Box::new(Ref::from_schema_name(item).into()));
            }
        }
    }
}

/// A `oneOf` of one member (an enum with a description, an `Option` of a
/// reference) is that member: generators make a class of each wrapper.
fn unwrap_single_one_of(schema: &mut RefOr<Schema>) {
    let RefOr::T(Schema::OneOf(one_of)) = schema else {
        return;
    };
    let members: Vec<RefOr<Schema>> = one_of
        .items
        .iter()
        .filter(|m| {
            !matches!(m, RefOr::T(Schema::Object(o)) if o.schema_type == SchemaType::Type(Type::Null))
        })
        .cloned()
        .collect();
    if one_of.items.len() == 1 {
        if let [only] = members.as_slice() {
            let mut only = only.clone();
            if let (RefOr::T(Schema::Object(object)), Some(description)) =
                (&mut only, one_of.description.clone())
            {
                object.description.get_or_insert(description);
            }
            *schema = only;
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

/// `code`'s closed set, and the members some kinds of problem add.
fn describe_problem(problem: &mut utoipa::openapi::schema::Object) {
    if let Some(RefOr::T(Schema::Object(code))) = problem.properties.get_mut("code") {
        code.enum_values = Some(crate::problem::CODES.iter().map(|c| (*c).into()).collect());
    }
    problem.properties.insert(
        "conflicting_id".into(),
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Uuid,
            )))
            .description(Some(
                "For `double_booked`: the appointment the new time overlaps",
            ))
            .into(),
    );
    problem.properties.insert(
        "allowed".into(),
        utoipa::openapi::schema::ArrayBuilder::new()
            .items(ObjectBuilder::new().schema_type(Type::String))
            .description(Some(
                "For a status change the lifecycle refuses (`validation` on `status`): the statuses the appointment can move to",
            ))
            .into(),
    );
}

/// A summary is one short line: the first sentence of the handler's first
/// paragraph. The paragraph itself leads the description.
fn one_line_summary(operation: &mut Operation) {
    let Some(summary) = operation.summary.clone() else {
        return;
    };
    let flat = summary.split_whitespace().collect::<Vec<_>>().join(" ");
    let first = flat
        .find(". ")
        .map(|end| &flat[..end])
        .unwrap_or(flat.trim_end_matches('.'));
    if first.len() == flat.trim_end_matches('.').len() && !summary.contains('\n') {
        return;
    }
    // Long first sentences are cut at the first colon or semicolon.
    let mut short = first
        .split_once([':', ';'])
        .map(|(head, _)| head)
        .filter(|head| head.len() >= 12)
        .unwrap_or(first);
    // and a sentence still long, at its first aside.
    if short.len() > 90 {
        if let Some(at) = [" (", ", "]
            .iter()
            .filter_map(|s| short.find(s))
            .filter(|at| *at >= 20)
            .min()
        {
            short = &short[..at];
        }
    }
    operation.summary = Some(short.trim().to_owned());
    operation.description = Some(match operation.description.take() {
        Some(rest) if !rest.is_empty() => format!("{summary}\n\n{rest}"),
        _ => summary,
    });
}

/// Creates that answer `Location` with the new resource's URL.
const LOCATED_CREATES: [&str; 7] = [
    "/v1/customers",
    "/v1/prospects",
    "/v1/messages",
    "/v1/users",
    "/v1/appointments",
    "/v1/webhook-endpoints",
    "/v1/shifts/clock-in",
];

/// Bodies sent with their version as `ETag`.
const VERSIONED_VIEWS: [&str; 2] = ["PersonView", "AppointmentView"];

/// The response headers the server sends: `X-Request-Id` on every answer,
/// `Retry-After` on 429 and 503, `Location` on the creates that name their
/// resource, `ETag` with versioned records, `Idempotency-Replayed` where an
/// `Idempotency-Key` is taken.
fn declare_headers(path: &str, operation: &mut Operation) {
    let keyed = operation.parameters.as_ref().is_some_and(|ps| {
        ps.iter()
            .any(|p| matches!(p.parameter_in, ParameterIn::Header) && p.name == "Idempotency-Key")
    });
    let text = |description: &str| {
        HeaderBuilder::new()
            .schema(ObjectBuilder::new().schema_type(Type::String))
            .description(Some(description))
            .build()
    };
    for (status, response) in operation.responses.responses.iter_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        let success = status.starts_with('2');
        let body_ref = response
            .content
            .get("application/json")
            .and_then(|c| c.schema.as_ref())
            .and_then(|s| match s {
                RefOr::Ref(r) => r.ref_location.rsplit('/').next().map(str::to_owned),
                RefOr::T(_) => None,
            });
        let headers = &mut response.headers;
        headers.insert(
            "X-Request-Id".into(),
            text("This request's id, also in the server's log lines: quote it when reporting a problem"),
        );
        if status == "429" || status == "503" {
            headers.insert(
                "Retry-After".into(),
                HeaderBuilder::new()
                    .schema(
                        ObjectBuilder::new()
                            .schema_type(Type::Integer)
                            .minimum(Some(0)),
                    )
                    .description(Some("Seconds to wait before trying again"))
                    .build(),
            );
        }
        if status == "201" && LOCATED_CREATES.contains(&path) {
            headers.insert("Location".into(), text("The path of the new resource"));
        }
        if success
            && body_ref
                .as_deref()
                .is_some_and(|r| VERSIONED_VIEWS.contains(&r))
        {
            headers.insert(
                "ETag".into(),
                text("The record's version, as an entity tag: send it back in `If-Match`"),
            );
        }
        if success && keyed {
            headers.insert(
                "Idempotency-Replayed".into(),
                text("`true` when this answers a retry of an earlier request with the same `Idempotency-Key`"),
            );
        }
    }
}

/// What `extract::control_characters_in_url` refuses, said in the schema of
/// every free-text path and query parameter (and of the items of a list one),
/// so that a client knows the value is refused before sending it.
const NO_CONTROL_CHARACTERS: &str = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$";

/// What `extract::control_characters` refuses in a JSON body's text: control
/// characters other than tab and line breaks.
const TEXT_WITHOUT_CONTROL_CHARACTERS: &str =
    "^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F]*$";

/// The names of the component schemas request bodies use, directly or
/// through others.
fn request_schemas(
    paths: &std::collections::BTreeMap<String, PathItem>,
    schemas: &std::collections::BTreeMap<String, RefOr<Schema>>,
) -> std::collections::BTreeSet<String> {
    fn refs(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::String(target)) = map.get("$ref") {
                    if let Some(name) = target.strip_prefix("#/components/schemas/") {
                        out.push(name.to_owned());
                    }
                }
                map.values().for_each(|v| refs(v, out));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut pending = Vec::new();
    for item in paths.values() {
        let item = serde_json::to_value(item).unwrap_or_default();
        for operation in item.as_object().into_iter().flat_map(|o| o.values()) {
            refs(&operation["requestBody"], &mut pending);
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    while let Some(name) = pending.pop() {
        if seen.insert(name.clone()) {
            if let Some(schema) = schemas.get(&name) {
                refs(
                    &serde_json::to_value(schema).unwrap_or_default(),
                    &mut pending,
                );
            }
        }
    }
    seen
}

fn is_text(object: &utoipa::openapi::schema::Object) -> bool {
    let text = match &object.schema_type {
        SchemaType::Type(Type::String) => true,
        SchemaType::Array(types) => types.contains(&Type::String),
        _ => false,
    };
    text && object.format.is_none() && object.enum_values.is_none() && object.pattern.is_none()
}

fn text_without_control_characters(schema: &mut RefOr<Schema>) {
    match schema {
        RefOr::T(Schema::Object(object)) if is_text(object) => {
            object.pattern = Some(TEXT_WITHOUT_CONTROL_CHARACTERS.to_owned());
        }
        RefOr::T(Schema::Array(array)) => {
            if let ArrayItems::RefOrSchema(items) = &mut array.items {
                text_without_control_characters(items);
            }
        }
        RefOr::T(Schema::OneOf(one_of)) => {
            one_of
                .items
                .iter_mut()
                .for_each(text_without_control_characters);
        }
        _ => {}
    }
}

fn no_control_characters(schema: &mut RefOr<Schema>) {
    let RefOr::T(inner) = schema else { return };
    match inner {
        Schema::Object(object) if is_text(object) => {
            object.pattern = Some(NO_CONTROL_CHARACTERS.to_owned());
        }
        Schema::Array(array) => {
            if let ArrayItems::RefOrSchema(items) = &mut array.items {
                no_control_characters(items);
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
            .any(|p| matches!(p.parameter_in, ParameterIn::Query))
    });
    // Headers whose syntax is checked (400 when malformed).
    let has_checked_header = operation.parameters.as_ref().is_some_and(|ps| {
        ps.iter().any(|p| {
            matches!(p.parameter_in, ParameterIn::Header)
                && (p.name == "If-Match" || p.name == "Idempotency-Key")
        })
    });
    let mut common: Vec<(&str, &str)> = Vec::new();
    if has_body || has_query || has_checked_header || path.contains('{') {
        common.push((
            "400",
            "Malformed request: unreadable JSON (with line and column), query string, `If-Match` / `Idempotency-Key` header, or a path or query string holding a control character",
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

/// The feed's `EventView.data`: one of the shapes events carry, named, so
/// generated clients get types rather than an open object.
fn type_event_data(schemas: &mut std::collections::BTreeMap<String, RefOr<Schema>>) {
    let mut shapes = Vec::new();
    for (name, shape) in crate::event_docs::feed_data_shapes() {
        if let Ok(schema) = serde_json::from_value::<RefOr<Schema>>(shape) {
            schemas.insert(name.to_owned(), schema);
            shapes.push(RefOr::Ref(Ref::from_schema_name(name)));
        }
    }
    let data = shapes
        .into_iter()
        .fold(AnyOfBuilder::new(), AnyOfBuilder::item)
        .description(Some(
            "The ids the event concerns; its `type` says which shape (the `webhooks` section gives each type's own)",
        ))
        .build();
    if let Some(RefOr::T(Schema::Object(view))) = schemas.get_mut("EventView") {
        view.properties
            .insert("data".into(), RefOr::T(Schema::AnyOf(data)));
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
    // OpenAPI 3.1's `webhooks`, at the root of the document.
    spec.extensions
        .get_or_insert_with(Default::default)
        .insert("webhooks".into(), crate::event_docs::webhooks());
    spec
}

/// The document as YAML, as checked in at the top of the repository.
pub fn yaml() -> String {
    spec()
        .to_yaml()
        .map(|text| quote_clock_times(&text))
        .unwrap_or_else(|err| format!("# could not render: {err}\n"))
}

/// YAML 1.1 readers take a plain `21:00` for the sexagesimal integer 1260:
/// such values are written quoted, so every reader gets the string.
fn quote_clock_times(yaml: &str) -> String {
    let is_clock_time = |value: &str| {
        let mut parts = value.split(':');
        let hours = parts.next().unwrap_or_default();
        (1..=2).contains(&hours.len())
            && hours.bytes().all(|b| b.is_ascii_digit())
            && parts.clone().count() >= 1
            && parts.all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit()))
    };
    let mut out = String::with_capacity(yaml.len() + 64);
    for line in yaml.lines() {
        let split = line.rfind(": ").map(|at| at + 2).or_else(|| {
            let trimmed = line.trim_start();
            trimmed
                .starts_with("- ")
                .then(|| line.len() - trimmed.len() + 2)
        });
        match split {
            Some(at) if is_clock_time(&line[at..]) => {
                out.push_str(&line[..at]);
                out.push('\'');
                out.push_str(&line[at..]);
                out.push('\'');
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
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
