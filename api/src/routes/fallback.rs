//! What answers a request no route takes: 404 for an unknown path, 405 with
//! `Allow` for a known path asked with another method.

use actix_web::dev::ResourceDef;
use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::problem::Problem;

/// The documented paths with their methods, to tell an unknown path (404) from
/// a known path asked with the wrong method (405 with `Allow`).
pub(crate) struct RouteTable(Vec<(ResourceDef, bool, Vec<Method>)>);

impl RouteTable {
    pub(crate) fn new(documented: Vec<(String, Vec<Method>)>) -> Self {
        Self(
            documented
                .into_iter()
                .map(|(path, methods)| {
                    let literal = !path.contains('{');
                    (ResourceDef::new(path), literal, methods)
                })
                .collect(),
        )
    }

    /// A literal path (`/v1/shifts/clock-in`) wins over a template that also
    /// matches it (`/v1/shifts/{id}`), as in the router.
    fn allowed(&self, path: &str) -> Vec<&'static str> {
        let matches: Vec<_> = self
            .0
            .iter()
            .filter(|(def, ..)| def.is_match(path))
            .collect();
        let literal = matches.iter().any(|(_, literal, _)| *literal);
        let mut allowed: Vec<&'static str> = matches
            .into_iter()
            .filter(|(_, is_literal, _)| *is_literal || !literal)
            .flat_map(|(.., methods)| methods.iter().map(method_name))
            .collect();
        allowed.sort_unstable();
        allowed.dedup();
        allowed
    }
}

fn method_name(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        _ => "DELETE",
    }
}

/// 404, or 405 with `Allow` for a documented path asked with another method.
pub(crate) async fn no_route(req: HttpRequest, routes: web::Data<RouteTable>) -> HttpResponse {
    let allowed = routes.allowed(req.path());
    let problem = if allowed.is_empty() {
        Problem::not_found().with_detail("no such endpoint; see /docs for the API reference")
    } else {
        Problem::method_not_allowed(&allowed)
    };
    actix_web::ResponseError::error_response(&problem)
}
