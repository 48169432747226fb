//! The web app's pages over HTTP, without a browser: sessions, CSRF and
//! headers with the customer pages (`people`), and one file per group of
//! pages. The helpers below sign in and send forms as a browser does.

mod account;
mod api_keys;
mod appointments;
mod devices;
mod google;
mod messages;
mod people;
mod settings;
mod technician;
mod tracking;
mod users;
mod webhooks;

use fieldcrm_test_support::{TestApp, PASSWORD};
use reqwest::header::{HeaderMap, COOKIE, LOCATION, SET_COOKIE};
use reqwest::Response;

pub const SESSION: &str = "fieldcrm_session";
pub const SIGN_IN: &str = "fieldcrm_sign_in";

/// The `Set-Cookie` line for `name`, if the response sets it.
pub fn set_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|line| line.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

pub fn cookie_value(line: &str) -> String {
    let pair = line.split(';').next().unwrap();
    pair.split_once('=').unwrap().1.to_owned()
}

/// The value of the form's hidden CSRF input.
pub fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("a CSRF input") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

pub fn location(response: &Response) -> &str {
    response.headers()[LOCATION].to_str().unwrap()
}

pub async fn get_page(app: &TestApp, path: &str, session: &str) -> Response {
    app.client
        .get(app.url(path))
        .header(COOKIE, format!("{SESSION}={session}"))
        .send()
        .await
        .unwrap()
}

/// The HTML of the page at `path`, as the session sees it.
pub async fn page_html(app: &TestApp, path: &str, session: &str) -> String {
    get_page(app, path, session).await.text().await.unwrap()
}

pub async fn post_form(
    app: &TestApp,
    path: &str,
    session: &str,
    form: &[(&str, &str)],
) -> Response {
    app.client
        .post(app.url(path))
        .header(COOKIE, format!("{SESSION}={session}"))
        .form(form)
        .send()
        .await
        .unwrap()
}

/// The sign-in page's form as a browser sends it, with its cookie and token.
pub async fn submit_sign_in(app: &TestApp, email: &str, password: &str) -> Response {
    let page = app.get("/app/sign-in").await;
    assert_eq!(page.status(), 200);
    let bound = cookie_value(&set_cookie(page.headers(), SIGN_IN).expect("a sign-in cookie"));
    let csrf = csrf_of(&page.text().await.unwrap());
    app.client
        .post(app.url("/app/sign-in"))
        .header(COOKIE, format!("{SIGN_IN}={bound}"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", email),
            ("password", password),
        ])
        .send()
        .await
        .unwrap()
}

/// Signs `email` in through the sign-in page and returns the session cookie's value.
pub async fn sign_in(app: &TestApp, email: &str) -> String {
    let response = submit_sign_in(app, email, PASSWORD).await;
    assert_eq!(response.status(), 303);
    cookie_value(&set_cookie(response.headers(), SESSION).expect("a session cookie"))
}

/// The CSRF token of the session's forms, read from a page.
pub async fn csrf(app: &TestApp, session: &str) -> String {
    let page = get_page(app, "/app/customers/new", session).await;
    assert_eq!(page.status(), 200);
    csrf_of(&page.text().await.unwrap())
}
