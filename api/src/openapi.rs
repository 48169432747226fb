//! The OpenAPI 3.1 document, generated from the handlers' own annotations.

use actix_web::http::Method;
use actix_web::App;
use utoipa::openapi::{OpenApi as Spec, PathItem};
use utoipa::OpenApi;
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
    tags((name = "operations", description = "Health, readiness, metrics and this document")),
)]
struct ApiDoc;

/// The full document, as the running server serves it at `/openapi.json`.
pub fn spec() -> Spec {
    let (_, spec) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(routes::configure)
        .split_for_parts();
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
