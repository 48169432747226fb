//! What a page answers when it cannot do what was asked: the sign-in page for
//! a browser without a live session, otherwise a page with the status and the
//! words of the API's problem for the same failure.

use std::fmt;

use actix_web::error::{QueryPayloadError, UrlencodedError};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use maud::html;

use fieldcrm_app::AppError;

use super::layout;
use crate::problem::Problem;

pub enum PageError {
    /// No session, or one that ended: sign in (again).
    SignIn,
    Problem(Problem),
}

impl PageError {
    pub fn forbidden_form() -> Self {
        PageError::Problem(Problem::forbidden(
            "the form was not sent from this page or is out of date; go back, reload the page and try again",
        ))
    }
}

impl From<AppError> for PageError {
    fn from(err: AppError) -> Self {
        Problem::from(err).into()
    }
}

impl From<Problem> for PageError {
    fn from(problem: Problem) -> Self {
        if problem.status == StatusCode::UNAUTHORIZED {
            PageError::SignIn
        } else {
            PageError::Problem(problem)
        }
    }
}

impl fmt::Debug for PageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PageError::SignIn => f.write_str("sign in"),
            PageError::Problem(problem) => write!(f, "{}", problem.status),
        }
    }
}

impl fmt::Display for PageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::SignIn => StatusCode::SEE_OTHER,
            PageError::Problem(problem) => problem.status,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            PageError::SignIn => super::see_other("/app/sign-in"),
            PageError::Problem(problem) => layout::html(
                problem.status,
                layout::page(
                    problem.title,
                    None,
                    html! {
                        h1 { (problem.title) }
                        @if let Some(detail) = &problem.detail {
                            p { (capitalised(detail)) "." }
                        }
                        p { a href="/app/" { "Back to the start page" } }
                    },
                ),
            ),
        }
    }
}

/// The API's details start in lower case, as the middle of a sentence.
fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// A form the page cannot read (a field of the wrong kind, a body too large):
/// a page that says so, where the API would answer with problem+json.
pub fn unreadable_form(err: UrlencodedError) -> PageError {
    let problem = match err {
        UrlencodedError::Overflow { limit, .. } => Problem::payload_too_large(limit),
        other => {
            tracing::debug!(error = %other, "unreadable form");
            Problem::bad_request(
                "the form could not be read; go back, reload the page and try again",
            )
        }
    };
    PageError::Problem(problem)
}

/// A query string the page cannot read (a number that is not one, say).
pub fn unreadable_query(err: QueryPayloadError) -> PageError {
    tracing::debug!(error = %err, "unreadable query string");
    PageError::Problem(Problem::bad_request(
        "the address could not be read; go back and follow a link of the page",
    ))
}

/// Unknown pages under `/app`.
pub async fn not_found() -> Result<HttpResponse, PageError> {
    Err(PageError::Problem(Problem::not_found()))
}
