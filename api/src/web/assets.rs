//! The stylesheet, built into the binary and served under a name that
//! changes with its content, so browsers may keep it for a year.

use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use sha2::{Digest, Sha256};

use super::error::PageError;
use crate::problem::Problem;

const STYLE: &str = include_str!("assets/app.css");

static STYLE_FILE: LazyLock<String> = LazyLock::new(|| {
    let digest = Sha256::digest(STYLE.as_bytes());
    let short: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    format!("app.{short}.css")
});

/// Where pages link the stylesheet.
pub fn style_href() -> String {
    format!("/app/static/{}", *STYLE_FILE)
}

pub async fn asset(file: web::Path<String>) -> Result<HttpResponse, PageError> {
    if *file != *STYLE_FILE {
        return Err(PageError::Problem(Problem::not_found()));
    }
    Ok(HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .body(STYLE))
}
