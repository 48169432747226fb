//! The frame of every page: language, landmarks, a skip link, the navigation.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use maud::{html, Markup, DOCTYPE};

use super::assets::style_href;
use super::forms::csrf_input;

/// The sections the navigation leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Customers,
    Prospects,
}

/// The navigation of a signed-in person; its sign-out form needs their CSRF token.
pub struct Nav<'a> {
    pub csrf: &'a str,
    pub current: Section,
}

pub fn page(title: &str, nav: Option<Nav<'_>>, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · fieldcrm" }
                link rel="stylesheet" href=(style_href());
            }
            body {
                a class="skip" href="#main" { "Skip to the content" }
                header class="site" {
                    a class="brand" href="/app/" { "fieldcrm" }
                    @if let Some(nav) = nav {
                        nav aria-label="Main" {
                            ul {
                                (link("/app/customers", "Customers", nav.current == Section::Customers))
                                (link("/app/prospects", "Prospects", nav.current == Section::Prospects))
                            }
                        }
                        form method="post" action="/app/sign-out" {
                            (csrf_input(nav.csrf))
                            button class="quiet" type="submit" { "Sign out" }
                        }
                    }
                }
                main id="main" tabindex="-1" { (content) }
            }
        }
    }
}

fn link(href: &str, text: &str, current: bool) -> Markup {
    html! {
        li {
            @if current {
                a href=(href) aria-current="page" { (text) }
            } @else {
                a href=(href) { (text) }
            }
        }
    }
}

/// An HTML response with `status`.
pub fn html(status: StatusCode, markup: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(markup.into_string())
}
