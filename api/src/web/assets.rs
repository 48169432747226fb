//! The stylesheet and the script, built into the binary and served under names
//! that change with their content, so browsers may keep them for a year.

use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use sha2::{Digest, Sha256};

use super::error::PageError;
use crate::problem::Problem;

struct Asset {
    /// `app.<first bytes of the SHA-256 of the content>.<extension>`
    file: String,
    content_type: &'static str,
    body: &'static str,
}

impl Asset {
    fn new(extension: &str, content_type: &'static str, body: &'static str) -> Self {
        let digest = Sha256::digest(body.as_bytes());
        let short: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
        Asset {
            file: format!("app.{short}.{extension}"),
            content_type,
            body,
        }
    }

    fn href(&self) -> String {
        format!("/app/static/{}", self.file)
    }
}

static STYLE: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "css",
        "text/css; charset=utf-8",
        include_str!("assets/app.css"),
    )
});

/// Progressive enhancement only: every page works without it.
static SCRIPT: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "js",
        "text/javascript; charset=utf-8",
        include_str!("assets/app.js"),
    )
});

/// Where pages link the stylesheet.
pub fn style_href() -> String {
    STYLE.href()
}

/// Where pages load the script from.
pub fn script_href() -> String {
    SCRIPT.href()
}

pub async fn asset(file: web::Path<String>) -> Result<HttpResponse, PageError> {
    let asset = [&*STYLE, &*SCRIPT]
        .into_iter()
        .find(|asset| asset.file == *file)
        .ok_or(PageError::Problem(Problem::not_found()))?;
    Ok(HttpResponse::Ok()
        .content_type(asset.content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .body(asset.body))
}
