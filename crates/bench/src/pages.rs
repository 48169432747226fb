//! The web app's pages on the benchmark's data: each page requested one at a
//! time by a signed-in owner, its latency percentiles and what a browser
//! transfers for it (the page, its stylesheet and its script).

use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use reqwest::header::{COOKIE, SET_COOKIE};

/// One page's figures.
#[derive(Debug, Clone, Default)]
pub struct PageFigure {
    pub name: String,
    pub requests: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    /// The page's HTML with its stylesheet and script, uncompressed: the most
    /// a browser transfers for it (pages are not compressed; see the README).
    pub bytes: u64,
}

fn cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|line| line.strip_prefix(&format!("{name}=")))
        .and_then(|rest| rest.split(';').next())
        .map(str::to_owned)
}

/// The value of the page's first hidden CSRF input.
fn csrf_of(html: &str) -> Option<String> {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker)? + marker.len();
    html[start..].split('"').next().map(str::to_owned)
}

/// A client that shows redirects instead of following them, as the sign-in
/// answer's cookie comes with its redirect.
pub fn client() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?)
}

/// Signs in through the sign-in page as a browser does; the session cookie.
pub async fn sign_in(
    client: &reqwest::Client,
    base: &str,
    email: &str,
    password: &str,
) -> Result<String> {
    let page = client.get(format!("{base}/app/sign-in")).send().await?;
    let bound = cookie(&page, "fieldcrm_sign_in").context("no sign-in cookie")?;
    let csrf = csrf_of(&page.text().await?).context("no CSRF token on the sign-in page")?;
    let signed = client
        .post(format!("{base}/app/sign-in"))
        .header(COOKIE, format!("fieldcrm_sign_in={bound}"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", email),
            ("password", password),
        ])
        .send()
        .await?;
    cookie(&signed, "fieldcrm_session").context("signing in set no session cookie")
}

/// The bytes of the files every page links (`/app/static/...`).
async fn linked_files(client: &reqwest::Client, base: &str, html: &str) -> Result<u64> {
    let mut bytes = 0;
    for piece in html.split("\"/app/static/").skip(1) {
        let file = piece.split('"').next().unwrap_or_default();
        let body = client
            .get(format!("{base}/app/static/{file}"))
            .send()
            .await?
            .bytes()
            .await?;
        bytes += body.len() as u64;
    }
    Ok(bytes)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Requests each `(name, path)` one at a time for `each`, with the session.
pub async fn measure(
    client: &reqwest::Client,
    base: &str,
    session: &str,
    pages: &[(String, String)],
    each: Duration,
) -> Result<Vec<PageFigure>> {
    let mut figures = Vec::new();
    for (name, path) in pages {
        let url = format!("{base}{path}");
        let mut times = Vec::new();
        let mut bytes = 0;
        let started = Instant::now();
        while started.elapsed() < each || times.len() < 20 {
            let sent = Instant::now();
            let response = client
                .get(&url)
                .header(COOKIE, format!("fieldcrm_session={session}"))
                .send()
                .await?;
            let status = response.status();
            let body = response.text().await?;
            times.push(sent.elapsed().as_secs_f64() * 1000.0);
            ensure!(status.is_success(), "{path} answered {status}");
            if bytes == 0 {
                bytes = body.len() as u64 + linked_files(client, base, &body).await?;
            }
        }
        times.sort_by(f64::total_cmp);
        figures.push(PageFigure {
            name: name.clone(),
            requests: times.len() as u64,
            p50_ms: percentile(&times, 50.0),
            p95_ms: percentile(&times, 95.0),
            bytes,
        });
    }
    Ok(figures)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_taken_by_rank() {
        let times: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&times, 50.0), 50.0);
        assert_eq!(percentile(&times, 95.0), 95.0);
        assert_eq!(percentile(&[7.0], 95.0), 7.0);
    }
}
