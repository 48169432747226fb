//! The frame of every page: language, landmarks, a skip link, the navigation.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use maud::{html, Markup, DOCTYPE};

use super::assets::{script_href, style_href};
use super::forms::csrf_input;
use super::session::SignedIn;
use fieldcrm_domain::Action;

/// The sections the navigation leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Customers,
    Prospects,
    Appointments,
    Live,
    Timesheets,
    Messages,
    Users,
    ApiKeys,
    Webhooks,
    Settings,
    Account,
    /// The technician's day.
    Today,
    /// The technician's own timesheet.
    MyTimesheet,
    /// The technician's own tracker apps.
    MyDevices,
}

impl Section {
    fn link(self) -> (&'static str, &'static str) {
        match self {
            Section::Customers => ("/app/customers", "Customers"),
            Section::Prospects => ("/app/prospects", "Prospects"),
            Section::Appointments => ("/app/appointments", "Appointments"),
            Section::Live => ("/app/live", "Live map"),
            Section::Timesheets => ("/app/timesheets", "Timesheets"),
            Section::Messages => ("/app/messages", "Messages"),
            Section::Users => ("/app/users", "Users"),
            Section::ApiKeys => ("/app/api-keys", "API keys"),
            Section::Webhooks => ("/app/webhooks", "Webhooks"),
            Section::Settings => ("/app/settings", "Settings"),
            Section::Account => ("/app/account", "Account"),
            Section::Today => ("/app/today", "Today"),
            Section::MyTimesheet => ("/app/my-timesheet", "My hours"),
            Section::MyDevices => ("/app/my-devices", "My phone"),
        }
    }

    /// What a person must be allowed to see the section at all.
    fn action(self) -> Action {
        match self {
            Section::Customers | Section::Prospects => Action::ManageCustomers,
            Section::Appointments => Action::ManageAppointments,
            Section::Live => Action::ViewLiveLocations,
            Section::Timesheets => Action::ViewShifts,
            Section::Messages => Action::ViewMessages,
            Section::Users => Action::ManageUsers,
            Section::ApiKeys => Action::ManageApiKeys,
            Section::Webhooks => Action::ManageWebhooks,
            Section::Settings | Section::Account => Action::ViewAccount,
            Section::Today | Section::MyTimesheet => Action::TrackOwnTime,
            Section::MyDevices => Action::ManageDevices,
        }
    }
}

/// What the office (owner, admin, dispatcher) is shown, as their role allows.
const OFFICE: [Section; 11] = [
    Section::Customers,
    Section::Prospects,
    Section::Appointments,
    Section::Live,
    Section::Timesheets,
    Section::Messages,
    Section::Users,
    Section::ApiKeys,
    Section::Webhooks,
    Section::Settings,
    Section::Account,
];
/// What a technician is shown.
const TECHNICIAN: [Section; 3] = [Section::Today, Section::MyTimesheet, Section::MyDevices];

/// The navigation of a signed-in person; its sign-out form needs their CSRF token.
pub struct Nav<'a> {
    pub csrf: &'a str,
    pub current: Section,
    pub sections: Vec<Section>,
}

/// A signed-in person's page in `current`, with the navigation their role is shown.
pub fn frame(
    signed_in: &SignedIn,
    current: Section,
    status: StatusCode,
    title: &str,
    content: Markup,
) -> HttpResponse {
    let csrf = signed_in.csrf();
    let offered: &[Section] = if signed_in.is_office() {
        &OFFICE
    } else {
        &TECHNICIAN
    };
    let sections = offered
        .iter()
        .copied()
        .filter(|section| signed_in.caller.require(section.action()).is_ok())
        .collect();
    html(
        status,
        page(
            title,
            Some(Nav {
                csrf: &csrf,
                current,
                sections,
            }),
            content,
        ),
    )
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
                script src=(script_href()) defer {}
            }
            body {
                a class="skip" href="#main" { "Skip to the content" }
                header class="site" {
                    a class="brand" href="/app/" { "fieldcrm" }
                    @if let Some(nav) = nav {
                        nav aria-label="Main" {
                            ul {
                                @for section in &nav.sections {
                                    (link(section.link(), *section == nav.current))
                                }
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

fn link((href, text): (&str, &str), current: bool) -> Markup {
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
