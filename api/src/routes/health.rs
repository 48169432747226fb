use std::time::Duration;

use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::problem::Problem;
use fieldcrm_app::state::AppState;

/// How long readiness waits for a database connection before it answers 503.
const READINESS_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok` when the process is up; `ready` when it can serve requests.
    #[schema(example = "ready")]
    pub status: &'static str,
    /// The database backend in use (readiness only): `sqlite` or `postgres`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "postgres")]
    pub database: Option<String>,
}

/// Liveness: the process is up. Does not touch the database.
///
/// Public; no authentication.
#[utoipa::path(
    tag = "operations",
    responses((status = 200, description = "The process is up", body = Health))
)]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok",
        database: None,
    })
}

/// Readiness: the database is reachable and usable. Answers 503 while it is
/// not, and 200 again as soon as it is back, without a restart.
///
/// Public; no authentication.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "Ready to serve requests", body = Health),
        (status = 503, description = "The database cannot be used right now", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, Problem> {
    let pool = state.pool.clone();
    web::block(move || pool.get_within(READINESS_TIMEOUT)?.ping()).await??;
    Ok(HttpResponse::Ok().json(Health {
        status: "ready",
        database: Some(state.pool.backend().to_string()),
    }))
}
