//! The setup links and QR codes, read back the way each app reads them.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use fieldcrm_trackers::setup::{self, TraccarAccuracy, TraccarSettings};
use fieldcrm_trackers::{osmand, token, Request};
use uuid::Uuid;

const ENDPOINT: &str =
    "https://crm.example.com/v1/ingest/osmand/fcrm_dev_Qm9vAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/// `?` and everything after, split and decoded as Dart's `Uri.queryParameters`
/// and Android's `URLDecoder` do (`+` is a space).
fn form_query(link: &str) -> (String, Vec<(String, String)>) {
    let (base, query) = link.split_once('?').unwrap();
    let pairs = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    (base.to_owned(), pairs)
}

/// As iOS's `NSURLComponents.queryItems` decodes: percent escapes only.
fn ios_query(link: &str) -> Vec<(String, String)> {
    let (_, query) = link.split_once('?').unwrap();
    query
        .split('&')
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap();
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8()
                    .unwrap()
                    .into_owned()
            };
            (decode(k), decode(v))
        })
        .collect()
}

fn value<'a>(pairs: &'a [(String, String)], key: &str) -> &'a str {
    &pairs.iter().find(|(k, _)| k == key).unwrap().1
}

#[test]
fn traccar_setup_url_keeps_the_token_in_the_path() {
    let url = setup::traccar_setup_url(ENDPOINT, &TraccarSettings::new("anna-van"));
    assert_eq!(
        url,
        format!("{ENDPOINT}?id=anna-van&accuracy=high&distance=50&interval=60&buffer=true")
    );
    // The app keeps origin and path as the server URL, and the query as settings.
    let (server, settings) = form_query(&url);
    assert_eq!(server, ENDPOINT);
    assert_eq!(value(&settings, "interval"), "60");
}

#[test]
fn traccar_settings_are_encoded_as_every_app_decodes_them() {
    let settings = TraccarSettings {
        accuracy: Some(TraccarAccuracy::Highest),
        heartbeat_s: Some(300),
        angle_deg: Some(30),
        wakelock: Some(false),
        stop_detection: Some(true),
        ..TraccarSettings::new(" Anna's van & co+1 ")
    };
    let url = setup::traccar_setup_url(ENDPOINT, &settings);
    assert!(url.contains("id=Anna%27s%20van%20%26%20co%2B1&"), "{url}");
    let (_, pairs) = form_query(&url);
    assert_eq!(
        pairs,
        [
            ("id", "Anna's van & co+1"),
            ("accuracy", "highest"),
            ("distance", "50"),
            ("interval", "60"),
            ("angle", "30"),
            ("heartbeat", "300"),
            ("buffer", "true"),
            ("wakelock", "false"),
            ("stop_detection", "true"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
    );
    assert_eq!(ios_query(&url), pairs);
}

#[test]
fn traccar_setup_link_for_the_phone() {
    let link = setup::traccar_setup_link(ENDPOINT, &TraccarSettings::new("anna-van"));
    assert!(
        link.starts_with("org.traccar.client://setup?url=https%3A%2F%2Fcrm.example.com%2Fv1%2F"),
        "{link}"
    );
    let (_, pairs) = form_query(&link);
    assert_eq!(value(&pairs, "url"), ENDPOINT);
    assert_eq!(value(&pairs, "id"), "anna-van");
    assert_eq!(
        setup::TRACCAR_START_LINK,
        "org.traccar.client://action/start"
    );
    assert_eq!(setup::TRACCAR_STOP_LINK, "org.traccar.client://action/stop");
}

#[test]
fn overland_setup_link() {
    let token = token::new_device_token();
    let link = setup::overland_setup_link(
        "https://crm.example.com/v1/ingest/overland",
        &token,
        "Anna van+",
    );
    assert_eq!(
        link,
        format!(
            "overland://setup?url=https%3A%2F%2Fcrm.example.com%2Fv1%2Fingest%2Foverland&token={token}&device_id=Anna%20van%2B"
        )
    );
    // NSURLComponents reads no `+` as a space: the link has none.
    let items = ios_query(&link);
    assert_eq!(
        value(&items, "url"),
        "https://crm.example.com/v1/ingest/overland"
    );
    assert_eq!(value(&items, "token"), token);
    assert_eq!(value(&items, "device_id"), "Anna van+");
}

#[test]
fn owntracks_configuration_for_http_mode() {
    let token = token::new_device_token();
    let config = setup::owntracks_config(
        "https://crm.example.com/v1/ingest/owntracks",
        &token,
        "Anna's Van",
    );
    let json: serde_json::Value = serde_json::from_str(&config).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "_type": "configuration",
            "mode": 3,
            "url": "https://crm.example.com/v1/ingest/owntracks",
            "auth": true,
            "username": "fieldcrm",
            "password": token,
            "deviceId": "Anna-s-Van",
            "tid": "an",
        })
    );
    // The token goes nowhere the app copies the user name or device id to
    // (headers, the message's topic).
    assert!(!json["username"].as_str().unwrap().contains(&token));
    assert!(!json["deviceId"].as_str().unwrap().contains(&token));
}

#[test]
fn owntracks_inline_link_reads_back_on_android_and_ios() {
    // A password and name whose base64 has `+`, `/` and `=` in it.
    let config = setup::owntracks_config(
        "https://crm.example.com/v1/ingest/owntracks",
        "fcrm_dev_>>>???",
        "é",
    );
    let encoded = STANDARD.encode(&config);
    assert!(
        encoded.contains('+') && encoded.contains('/') && encoded.ends_with('='),
        "{encoded}"
    );
    let link = setup::owntracks_config_link(&config);
    let inline = link.strip_prefix("owntracks:///config?inline=").unwrap();
    assert!(!inline.contains(['+', '/', '=']), "{link}");
    // Android: URLDecoder, then kotlin's Base64 (standard alphabet).
    let (_, android) = form_query(&link);
    assert_eq!(
        STANDARD.decode(value(&android, "inline")).unwrap(),
        config.as_bytes()
    );
    // iOS: queryItems, then NSData's base64 (padding required).
    let ios = ios_query(&link);
    assert_eq!(
        STANDARD.decode(value(&ios, "inline")).unwrap(),
        config.as_bytes()
    );
}

/// GPSLogger's `CustomUrlManager.getFormattedTextblock`: each `%name`,
/// case-insensitively, in its order (so `%TIMESTAMP` before `%TIME`).
fn gpslogger_fill(template: &str) -> String {
    let values = [
        ("lat", "52.520008"),
        ("lon", "13.404954"),
        ("sat", "9"),
        ("desc", ""),
        ("alt", "41.0"),
        ("acc", "3.9000000953674316"),
        ("dir", "270.0"),
        ("prov", "gps"),
        ("spd_kph", "21.6"),
        ("spd", "6.0"),
        ("timestamp", "1764930000"),
        ("timeoffset", "2025-12-05T11%3A20%3A00.000%2B01%3A00"),
        ("time", "2025-12-05T10%3A20%3A00.000Z"),
        ("starttimestamp", "1764928800"),
        ("date", "2025-12-05"),
        ("batt", "76"),
        ("ischarging", "false"),
        ("aid", "5a1c0e0d3b2f4e61"),
        ("ser", "5a1c0e0d3b2f4e61"),
        ("act", ""),
        ("filename", "20251205"),
        ("profile", "fieldcrm"),
        ("hdop", "0.9"),
        ("vdop", "1.2"),
        ("pdop", "1.5"),
        ("dist", "1204"),
    ];
    let mut text = template.to_owned();
    for (name, value) in values {
        let pattern = format!("%{name}");
        let mut out = String::new();
        let mut rest = text.as_str();
        while let Some(at) = rest.to_ascii_lowercase().find(&pattern) {
            out.push_str(&rest[..at]);
            out.push_str(value);
            rest = &rest[at + pattern.len()..];
        }
        out.push_str(rest);
        text = out;
    }
    text
}

#[test]
fn gpslogger_template_posts_a_form_the_osmand_endpoint_reads() {
    let template = setup::gpslogger_template(ENDPOINT, "anna van");
    assert_eq!(template.url, ENDPOINT);
    assert_eq!(template.method, "POST");
    assert_eq!(template.headers, "");
    let body = gpslogger_fill(&template.body);
    let fixture = std::fs::read_to_string(format!(
        "{}/tests/fixtures/gpslogger_body.txt",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    assert_eq!(body, fixture);
    let request = Request {
        body: body.as_bytes(),
        ..Request::default()
    };
    let parsed = osmand::parse(Uuid::nil(), &request);
    assert_eq!(parsed.fixes[0].reading.speed_mps, Some(6.0));
}

#[test]
fn gpslogger_profile() {
    let template = setup::gpslogger_template(ENDPOINT, "anna-van");
    assert_eq!(
        setup::gpslogger_properties(&template),
        format!(
            "log_customurl_enabled=true\n\
             log_customurl_url={ENDPOINT}\n\
             log_customurl_method=POST\n\
             log_customurl_body=id=anna-van&lat=%LAT&lon=%LON&timestamp=%TIMESTAMP&accuracy=%ACC&altitude=%ALT&bearing=%DIR&speed_mps=%SPD&batt=%BATT\n\
             log_customurl_headers=\n"
        )
    );
    let odd = setup::GpsLoggerTemplate {
        url: " a\\b\n".to_owned(),
        method: "POST",
        body: "é€😀\t".to_owned(),
        headers: "X-A: 1\r\nX-B: 2".to_owned(),
    };
    let properties = setup::gpslogger_properties(&odd);
    assert!(
        properties.contains("log_customurl_url=\\ a\\\\b\\n\n"),
        "{properties}"
    );
    assert!(
        properties.contains("log_customurl_body=\\u00E9\\u20AC\\uD83D\\uDE00\\t\n"),
        "{properties}"
    );
    assert!(
        properties.contains("log_customurl_headers=X-A: 1\\r\\nX-B: 2\n"),
        "{properties}"
    );
    assert_eq!(
        setup::gpslogger_profile_link("https://crm.example.com/setup/x/fieldcrm.properties"),
        "gpslogger://properties/https://crm.example.com/setup/x/fieldcrm.properties"
    );
}

#[test]
fn device_names_fit_headers_topics_and_templates() {
    assert_eq!(setup::device_name("anna-van"), "anna-van");
    assert_eq!(setup::device_name(" Anna's Van "), "Anna-s-Van");
    assert_eq!(setup::device_name("Jürgen 2"), "J-rgen-2");
    assert_eq!(setup::device_name("%LAT"), "LAT");
    assert_eq!(setup::device_name("  "), "phone");
    assert_eq!(setup::device_name("ÄÖÜ"), "phone");
    assert_eq!(setup::device_name(&"a".repeat(100)).len(), 64);
}

/// Reads a QR code from a grey image.
fn read_qr(width: usize, height: usize, pixel: impl FnMut(usize, usize) -> u8) -> String {
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(width, height, pixel);
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1);
    grids[0].decode().unwrap().1
}

const QR_TEXT: &str = "https://crm.example.com/v1/ingest/osmand/fcrm_dev_Qm9vAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA?id=anna-van&accuracy=high&distance=50&interval=60&buffer=true";

#[test]
fn qr_png_reads_back() {
    let png_bytes = setup::qr_png(QR_TEXT).unwrap();
    let decoder = png::Decoder::new(std::io::Cursor::new(&png_bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    assert_eq!(info.color_type, png::ColorType::Grayscale);
    let (w, h) = (info.width as usize, info.height as usize);
    assert_eq!(w, h);
    // A quiet zone of four modules (32 px) all round.
    assert!(pixels[..w * 32].iter().all(|p| *p == 255));
    assert_eq!(read_qr(w, h, |x, y| pixels[y * w + x]), QR_TEXT);
}

#[test]
fn qr_svg_reads_back() {
    let svg = setup::qr_svg(QR_TEXT).unwrap();
    assert!(svg.starts_with("<?xml"));
    // Draw the path's rectangles (`M{x} {y}h{w}v{h}H{x}V{y}`) and read them.
    let size: usize = svg
        .split("width=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(size >= 256);
    let path = svg
        .split(" d=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let mut pixels = vec![255u8; size * size];
    for rect in path.split('M').filter(|r| !r.is_empty()) {
        let numbers: Vec<usize> = rect
            .split(|c: char| !c.is_ascii_digit())
            .filter(|n| !n.is_empty())
            .map(|n| n.parse().unwrap())
            .collect();
        let (x, y, w, h) = (numbers[0], numbers[1], numbers[2], numbers[3]);
        for row in y..y + h {
            pixels[row * size + x..row * size + x + w].fill(0);
        }
    }
    assert_eq!(read_qr(size, size, |x, y| pixels[y * size + x]), QR_TEXT);
}

#[test]
fn qr_codes_of_the_longest_link_fit() {
    let token = token::new_device_token();
    let config = setup::owntracks_config(
        "https://crm.example.com/v1/ingest/owntracks",
        &token,
        &"x".repeat(64),
    );
    let link = setup::owntracks_config_link(&config);
    assert!(setup::qr_png(&link).is_ok());
    assert!(setup::qr_svg(&link).is_ok());
    assert_eq!(setup::qr_svg(&"x".repeat(5000)), Err(setup::QrError));
}
