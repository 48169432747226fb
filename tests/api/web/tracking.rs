//! The office's live map, shift routes and timesheets.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use fieldcrm_test_support::{spawn_app, spawn_app_with, start_shift_at, Signed, TestApp};
use reqwest::Method;
use serde_json::Value;

use super::*;
use crate::tracking::{clock, ping, trail_with_a_stop, upload};

async fn technician_named(app: &TestApp, owner: &Signed, name: &str) -> Signed {
    app.user_named(owner, "technician", name).await
}

/// Sends the positions as the technician's device would.
async fn send_pings(app: &TestApp, who: &Signed, trail: &[(DateTime<Utc>, f64, f64)]) {
    let pings = trail
        .iter()
        .map(|(at, lat, lon)| ping(*at, *lat, *lon))
        .collect();
    let result = upload(app, who, pings).await;
    assert_eq!(result["accepted"], trail.len(), "{result}");
}

/// Clocks `who` in and moves the shift's start `ago` back; its id and start.
async fn shift_begun(app: &TestApp, who: &Signed, ago: Duration) -> (String, DateTime<Utc>) {
    let shift = clock(app, who, "clock-in").await;
    let id = shift["id"].as_str().unwrap().to_owned();
    let start = (Utc::now() - ago).trunc_subsecs(6);
    start_shift_at(app, &id, start);
    (id, start)
}

/// The `points` of the page's first polyline.
fn polyline_points(html: &str) -> &str {
    html.split("<polyline")
        .nth(1)
        .and_then(|line| line.split("points=\"").nth(1))
        .expect("a polyline")
        .split('"')
        .next()
        .unwrap()
}

async fn text_of(app: &TestApp, path: &str, session: &str) -> String {
    let page = get_page(app, path, session).await;
    assert_eq!(page.status(), 200, "{path}");
    page.text().await.unwrap()
}

/// The part of a page inside its first `<svg>`.
fn svg_of(html: &str) -> &str {
    let start = html.find("<svg").expect("a drawing");
    &html[start..start + html[start..].find("</svg>").unwrap()]
}

#[tokio::test]
async fn the_live_map_shows_clocked_in_technicians_and_not_those_who_clocked_out() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let dispatcher = app.user_with_role(&owner, "dispatcher").await;
    let working = technician_named(&app, &owner, "Ana <b>Ruiz</b>").await;
    let gone = technician_named(&app, &owner, "Gone Home").await;

    let shift = clock(&app, &working, "clock-in").await;
    let shift_id = shift["id"].as_str().unwrap();
    let at: DateTime<Utc> = shift["clock_in_at"].as_str().unwrap().parse().unwrap();
    send_pings(
        &app,
        &working,
        &[(at + Duration::milliseconds(1), 30.25, -97.75)],
    )
    .await;
    let other = clock(&app, &gone, "clock-in").await;
    let at: DateTime<Utc> = other["clock_in_at"].as_str().unwrap().parse().unwrap();
    send_pings(
        &app,
        &gone,
        &[(at + Duration::milliseconds(1), 30.3, -97.8)],
    )
    .await;
    clock(&app, &gone, "clock-out").await;

    let session = sign_in(&app, &dispatcher.email).await;
    let page = get_page(&app, "/app/live", &session).await;
    assert_eq!(page.status(), 200);
    // Its script may fetch the page again, and nothing from elsewhere.
    assert!(page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("img-src 'self' data:; connect-src 'self'; form-action"));
    let html = page.text().await.unwrap();
    assert!(html.contains("aria-current=\"page\">Live map"));
    assert!(html.contains("data-refresh=\"15\""));
    assert!(html.contains("href=\"/app/live\">Refresh</a>"));
    assert!(html.contains("<th scope=\"row\">Ana &lt;b&gt;Ruiz&lt;/b&gt;</th>"));
    assert!(html.contains("within 8 m"));
    assert!(html.contains(&format!("href=\"/app/shifts/{shift_id}\"")));
    assert!(!html.contains("<b>Ruiz"), "the name is text");
    assert!(!html.contains("Gone Home"), "clocked out: not shown");
    assert!(!html.contains("style="), "no inline style");

    let svg = svg_of(&html);
    assert!(!svg.contains("<image"), "no tile server: no background");
    assert!(!html.contains("class=\"attribution\""));
    assert!(svg.contains("role=\"img\""));
    assert!(svg.contains("aria-label=\"Last positions of 1 technician"));
    assert!(svg.contains("<title>"));
    assert_eq!(svg.matches("<circle").count(), 1, "{svg}");
    assert!(svg.contains(">Ana &lt;b&gt;Ruiz&lt;/b&gt;</text>"), "{svg}");

    // A technician does not see where the others are.
    let technician = sign_in(&app, &working.email).await;
    assert_eq!(get_page(&app, "/app/live", &technician).await.status(), 403);
}

#[tokio::test]
async fn a_shift_page_draws_the_route_with_its_distance_duration_and_gpx() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let tech = technician_named(&app, &owner, "Ana <b>Ruiz</b>").await;
    let (id, start) = shift_begun(&app, &tech, Duration::hours(1)).await;
    let trail = trail_with_a_stop(start);
    send_pings(&app, &tech, &trail).await;
    clock(&app, &tech, "clock-out").await;
    let api: Value = app
        .call(
            Method::GET,
            &format!("/v1/shifts/{id}"),
            &owner.access,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let km = api["distance_m"].as_f64().unwrap() / 1000.0;

    let session = sign_in(&app, &owner.email).await;
    let path = format!("/app/shifts/{id}");
    let html = text_of(&app, &path, &session).await;
    assert!(html.contains("<h1>Ana &lt;b&gt;Ruiz&lt;/b&gt;'s shift on "));
    assert!(html.contains(&format!("<dd>{km:.1} km</dd>")), "{html}");
    assert!(html.contains("<dd>1 hour</dd>"), "{html}");
    assert!(html.contains("Places where Ana &lt;b&gt;Ruiz&lt;/b&gt; stayed"));
    assert!(!html.contains("<b>Ruiz"));
    let svg = svg_of(&html);
    let points = polyline_points(svg).split(' ').count();
    assert!((2..=trail.len()).contains(&points), "{svg}");
    assert!(svg.contains(">Start</text>") && svg.contains(">End</text>"));
    assert!(svg.contains("class=\"stop\""), "the stop is marked");
    assert!(html.contains(&format!("href=\"/app/shifts/{id}/route.gpx\"")));

    let gpx = get_page(&app, &format!("/app/shifts/{id}/route.gpx"), &session).await;
    assert_eq!(gpx.status(), 200);
    assert_eq!(gpx.headers()["content-type"], "application/gpx+xml");
    assert_eq!(
        gpx.headers()["content-disposition"],
        format!("attachment; filename=\"shift-{id}.gpx\"").as_str()
    );
    let parsed = gpx::read(gpx.bytes().await.unwrap().as_ref()).expect("valid GPX");
    let points = &parsed.tracks[0].segments[0].points;
    assert_eq!(points.len(), trail.len());
    for (point, (_, lat, lon)) in points.iter().zip(&trail) {
        assert!((point.point().y() - lat).abs() < 1e-9);
        assert!((point.point().x() - lon).abs() < 1e-9);
    }

    // Another account's office finds no such shift; nor does a made-up id.
    let stranger = app.signup().await;
    let theirs = sign_in(&app, &stranger.email).await;
    assert_eq!(get_page(&app, &path, &theirs).await.status(), 404);
    assert_eq!(
        get_page(&app, &format!("{path}/route.gpx"), &theirs)
            .await
            .status(),
        404
    );
    assert_eq!(
        get_page(&app, "/app/shifts/not-an-id", &session)
            .await
            .status(),
        404
    );

    // Technicians have no office pages, not even for their own shift.
    let technician = sign_in(&app, &tech.email).await;
    assert_eq!(get_page(&app, &path, &technician).await.status(), 403);
    assert_eq!(
        get_page(&app, &format!("{path}/route.gpx"), &technician)
            .await
            .status(),
        403
    );
}

#[tokio::test]
async fn a_long_route_is_drawn_with_at_most_two_thousand_points() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let tech = technician_named(&app, &owner, "Long Day").await;
    let (id, start) = shift_begun(&app, &tech, Duration::hours(4)).await;
    // A zigzag no simplification can flatten: 5,000 pings, 2 s apart.
    let trail: Vec<_> = (0..5_000i32)
        .map(|i| {
            (
                start + Duration::seconds(2 * i64::from(i) + 2),
                30.0 + f64::from(i % 2) * 0.01,
                -97.0 + f64::from(i) * 1e-4,
            )
        })
        .collect();
    for batch in trail.chunks(1_000) {
        send_pings(&app, &tech, batch).await;
    }
    let session = sign_in(&app, &owner.email).await;
    let html = text_of(&app, &format!("/app/shifts/{id}"), &session).await;
    assert_eq!(polyline_points(&html).split(' ').count(), 2_000);
    assert!(html.contains("<dd>5000</dd>"), "every position is counted");
    assert!(html.len() < 100_000, "{} bytes", html.len());
}

#[tokio::test]
async fn timesheets_list_shifts_by_technician_with_totals_and_as_csv() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let formula = technician_named(&app, &owner, "=cmd|' /C calc'!A0").await;
    let marked = technician_named(&app, &owner, "Bo <i>Li</i>").await;
    let first = clock(&app, &formula, "clock-in").await;
    clock(&app, &formula, "clock-out").await;
    let second = clock(&app, &marked, "clock-in").await;
    clock(&app, &marked, "clock-out").await;
    let (first_id, second_id) = (
        first["id"].as_str().unwrap(),
        second["id"].as_str().unwrap(),
    );

    let session = sign_in(&app, &owner.email).await;
    // This week, by default.
    let html = text_of(&app, "/app/timesheets", &session).await;
    assert!(html.contains("aria-current=\"page\">Timesheets"));
    assert!(html.contains("<h2>Bo &lt;i&gt;Li&lt;/i&gt;</h2>"));
    assert!(!html.contains("<i>Li"));
    assert!(html.contains("Total for Bo &lt;i&gt;Li&lt;/i&gt;"));
    assert!(html.contains("<h2>=cmd|' /C calc'!A0</h2>"));
    assert!(html.contains(&format!("href=\"/app/shifts/{first_id}\"")));
    assert!(html.contains(&format!("href=\"/app/shifts/{second_id}\"")));
    let totals = html.split("<tfoot>").nth(1).unwrap();
    assert!(
        totals.contains("All technicians</th><td>2</td>"),
        "{totals}"
    );
    assert!(!html.contains("style="));

    let today = Utc::now()
        .with_timezone(&chrono_tz::America::Chicago)
        .date_naive();
    let (from, to) = (today - Duration::days(1), today + Duration::days(1));
    let csv = get_page(
        &app,
        &format!("/app/timesheets.csv?from={from}&to={to}"),
        &session,
    )
    .await;
    assert_eq!(csv.status(), 200);
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        csv.headers()["content-disposition"],
        format!("attachment; filename=\"timesheet-{from}-{to}.csv\"").as_str()
    );
    let body = csv.text().await.unwrap();
    let lines: Vec<&str> = body.split("\r\n").filter(|line| !line.is_empty()).collect();
    assert_eq!(
        lines[0],
        "technician,shift_id,clock_in,clock_out,hours,distance_km"
    );
    assert_eq!(lines.len(), 3, "{body}");
    let neutralised = lines
        .iter()
        .find(|line| line.contains(first_id))
        .expect("the first shift's row");
    assert!(
        neutralised.starts_with("'=cmd|' /C calc'!A0,"),
        "{neutralised}"
    );
    let cells: Vec<&str> = neutralised.split(',').collect();
    assert!(
        cells[2].ends_with("-06:00"),
        "Chicago's offset: {}",
        cells[2]
    );
    let clock_in = DateTime::parse_from_rfc3339(cells[2]).unwrap();
    assert_eq!(
        clock_in.timestamp(),
        first["clock_in_at"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap()
            .timestamp()
    );
    assert_eq!((cells[4], cells[5]), ("0.00", "0.00"));
    assert!(lines
        .iter()
        .any(|line| line.starts_with(&format!("Bo <i>Li</i>,{second_id},"))));

    // A range that ends before it starts is refused beside its field, as typed.
    let refused = get_page(
        &app,
        "/app/timesheets?from=2026-12-09&to=2026-12-01",
        &session,
    )
    .await;
    assert_eq!(refused.status(), 422);
    let html = refused.text().await.unwrap();
    assert!(html.contains("must not be before the first day"));
    assert!(html.contains("value=\"2026-12-09\""));
    let too_long = get_page(
        &app,
        "/app/timesheets.csv?from=2024-01-01&to=2026-12-01",
        &session,
    )
    .await;
    assert_eq!(too_long.status(), 422);
    assert!(too_long
        .text()
        .await
        .unwrap()
        .contains("must be within 366 days of the first day"));
    // An earlier week has none of these shifts.
    let earlier = text_of(
        &app,
        "/app/timesheets?from=2020-01-06&to=2020-01-12",
        &session,
    )
    .await;
    assert!(earlier.contains("No shifts started"));

    // Another account's office sees none of them.
    let stranger = app.signup().await;
    let theirs = sign_in(&app, &stranger.email).await;
    let html = text_of(&app, "/app/timesheets", &theirs).await;
    assert!(!html.contains(first_id) && !html.contains("Bo &lt;i&gt;"));

    let technician = sign_in(&app, &marked.email).await;
    for path in ["/app/timesheets", "/app/timesheets.csv"] {
        assert_eq!(
            get_page(&app, path, &technician).await.status(),
            403,
            "{path}"
        );
    }
}

/// The value of `attribute` in the markup of one element.
fn attribute<'a>(element: &'a str, attribute: &str) -> &'a str {
    let marker = format!(" {attribute}=\"");
    let start = element.find(&marker).expect(attribute) + marker.len();
    element[start..].split('"').next().unwrap()
}

#[tokio::test]
async fn maps_lie_on_the_operators_tiles_with_their_credit() {
    let app = spawn_app_with(|s| {
        s.map_tile_url = Some("https://tiles.example.com/{z}/{x}/{y}.png".into());
        s.map_attribution = Some("© Tiles <Example>".into());
    })
    .await;
    let owner = app.signup().await;
    let tech = technician_named(&app, &owner, "On Tiles").await;
    let (id, start) = shift_begun(&app, &tech, Duration::hours(1)).await;
    send_pings(&app, &tech, &trail_with_a_stop(start)).await;
    let (lat, lon) = (30.2900f64, -97.7500f64);

    let session = sign_in(&app, &owner.email).await;
    for path in ["/app/live".to_owned(), format!("/app/shifts/{id}")] {
        let page = get_page(&app, &path, &session).await;
        assert_eq!(page.status(), 200);
        let policy = page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            policy.contains("img-src 'self' data: https://tiles.example.com;"),
            "{policy}"
        );
        assert!(policy.contains("script-src 'self';"), "{policy}");
        let html = page.text().await.unwrap();
        assert!(html.contains("Map: © Tiles &lt;Example&gt;</p>"));
        let svg = svg_of(&html);

        let tiles = svg.matches("<image").count();
        assert!((1..=30).contains(&tiles), "{tiles} tiles");
        // The tile under the last position is drawn where that position is.
        let first = svg.split("<image").nth(1).expect("tiles");
        let href = attribute(first, "href");
        let zoom: i32 = href.split('/').nth(3).unwrap().parse().unwrap();
        let count = 2f64.powi(zoom);
        let phi = lat.to_radians();
        let column = ((lon + 180.0) / 360.0 * count).floor();
        let row = ((1.0 - (phi.tan() + 1.0 / phi.cos()).ln() / std::f64::consts::PI) / 2.0 * count)
            .floor();
        let wanted = format!("https://tiles.example.com/{zoom}/{column}/{row}.png");
        let tile = svg
            .split("<image")
            .skip(1)
            .find(|image| attribute(image, "href") == wanted)
            .unwrap_or_else(|| panic!("{wanted} in {svg}"));
        let number =
            |element: &str, name: &str| -> f64 { attribute(element, name).parse().unwrap() };
        let last = if path == "/app/live" {
            svg.split("class=\"technician\"").nth(1).unwrap()
        } else {
            svg.split("class=\"end\"").nth(1).unwrap()
        };
        let (x, y) = (number(last, "cx"), number(last, "cy"));
        let (left, top, side) = (number(tile, "x"), number(tile, "y"), number(tile, "width"));
        assert!((left..=left + side).contains(&x), "{x} in {tile}");
        assert!((top..=top + side).contains(&y), "{y} in {tile}");
    }
}
