//! `/docs`: the API reference (Swagger UI), served from files built into the
//! binary by `utoipa-swagger-ui`'s vendored copy, so the page loads nothing
//! from another site and works where the server cannot reach the internet.

use std::sync::{Arc, LazyLock};

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use utoipa_swagger_ui::Config;

use crate::problem::Problem;

/// The page: the files below, and nothing else, under a policy that allows
/// only this server (Swagger UI sets inline styles and uses `data:` icons).
const PAGE: &str = r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>fieldcrm API reference</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/swagger-ui-standalone-preset.js"></script>
<script src="/docs/swagger-initializer.js"></script>
</body>
</html>
"#;

const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'";

/// Reads the document this server serves.
static CONFIG: LazyLock<Arc<Config<'static>>> =
    LazyLock::new(|| Arc::new(Config::new(["/openapi.json"])));

pub async fn page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .insert_header((header::CONTENT_SECURITY_POLICY, POLICY))
        .body(PAGE)
}

/// One of the page's files; 404 for anything else.
pub async fn asset(file: web::Path<String>) -> Result<HttpResponse, Problem> {
    let file = match file.as_str() {
        name @ ("swagger-ui.css"
        | "swagger-ui-bundle.js"
        | "swagger-ui-standalone-preset.js"
        | "swagger-initializer.js") => name,
        _ => return Err(Problem::not_found()),
    };
    let served = utoipa_swagger_ui::serve(file, CONFIG.clone())
        .map_err(|err| Problem::internal_from(&err.to_string()))?
        .ok_or_else(Problem::not_found)?;
    Ok(HttpResponse::Ok()
        .content_type(served.content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(served.bytes.into_owned()))
}
