//! The `Caller` of a request, from its `Authorization: Bearer` header.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};

use fieldcrm_app::accounts::auth::authenticate;
use fieldcrm_app::{AppError, AppState};

use crate::problem::Problem;

/// The authenticated caller, as an extractor: 401 for a request without valid
/// credentials. Dereferences to the use cases' `Caller`.
pub struct Caller(pub fieldcrm_app::Caller);

impl std::ops::Deref for Caller {
    type Target = fieldcrm_app::Caller;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl FromRequest for Caller {
    type Error = Problem;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Problem>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer_token(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| Problem::internal_from(&"AppState missing"))?;
            Ok(Caller(authenticate(&state, &token?).await?))
        })
    }
}

fn bearer_token(req: &HttpRequest) -> Result<String, AppError> {
    let value = req.headers().get(header::AUTHORIZATION).ok_or_else(|| {
        AppError::unauthorized().with_detail("send `Authorization: Bearer <token>`")
    })?;
    let value = value.to_str().unwrap_or_default();
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim().to_owned())
        }
        _ => Err(AppError::unauthorized()
            .with_detail("the Authorization header must be `Bearer <token>`")),
    }
}
