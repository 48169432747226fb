//! Setting the apps up from fieldcrm: the links and QR codes each app reads,
//! built from the app's endpoint URL and the device's token and name.
//!
//! Every value in a link is percent-encoded with `%20` for a space: iOS
//! (`NSURLComponents`) does not read `+` as a space, and Android's
//! `URLDecoder` and Dart's `Uri` read `%XX` like everyone.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use qrcode::render::svg;
use qrcode::{Color, QrCode};

/// Everything but the unreserved characters of RFC 3986.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn encode(value: &str) -> String {
    utf8_percent_encode(value, COMPONENT).to_string()
}

fn query(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .map(|(key, value)| format!("{key}={}", encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A device name as the apps can carry it in a header, a topic and an
/// unescaped template: ASCII letters, digits, `.`, `_` and `-`; anything else
/// becomes `-`. OkHttp refuses non-ASCII header values, and GPSLogger would
/// replace a `%` sequence in its body. Empty becomes `phone`.
pub fn device_name(label: &str) -> String {
    let name: String = label
        .trim()
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let name = name.trim_matches('-');
    if name.is_empty() {
        "phone".to_owned()
    } else {
        name.to_owned()
    }
}

// --- Traccar Client -------------------------------------------------------

/// Starts tracking in Traccar Client (the app's `action/start` deep link).
pub const TRACCAR_START_LINK: &str = "org.traccar.client://action/start";
/// Stops tracking in Traccar Client.
pub const TRACCAR_STOP_LINK: &str = "org.traccar.client://action/stop";

/// Traccar Client's location accuracy setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraccarAccuracy {
    Highest,
    High,
    Medium,
    Low,
}

impl TraccarAccuracy {
    pub fn as_str(self) -> &'static str {
        match self {
            TraccarAccuracy::Highest => "highest",
            TraccarAccuracy::High => "high",
            TraccarAccuracy::Medium => "medium",
            TraccarAccuracy::Low => "low",
        }
    }
}

/// The settings a Traccar Client setup URL carries; `None` leaves the app's
/// own. Named as the app reads them (`lib/configuration_service.dart`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraccarSettings {
    /// The app's device identifier: a name shown in the app, not a credential.
    pub id: String,
    pub accuracy: Option<TraccarAccuracy>,
    /// Metres moved before a new fix.
    pub distance_m: Option<u32>,
    /// Seconds between fixes.
    pub interval_s: Option<u32>,
    /// Degrees of turn that make a new fix.
    pub angle_deg: Option<u32>,
    /// Seconds between reports while standing still (0: none).
    pub heartbeat_s: Option<u32>,
    /// Keep fixes on the phone while offline.
    pub buffer: Option<bool>,
    pub wakelock: Option<bool>,
    pub stop_detection: Option<bool>,
}

impl TraccarSettings {
    /// A fix a minute or every 50 m, high accuracy, buffered while offline:
    /// enough for routes and stops at a day's battery.
    pub fn new(label: &str) -> Self {
        Self {
            id: label.trim().to_owned(),
            accuracy: Some(TraccarAccuracy::High),
            distance_m: Some(50),
            interval_s: Some(60),
            angle_deg: None,
            heartbeat_s: None,
            buffer: Some(true),
            wakelock: None,
            stop_detection: None,
        }
    }

    fn pairs(&self) -> Vec<(&'static str, String)> {
        let number = |key, value: Option<u32>| value.map(|v| (key, v.to_string()));
        let flag = |key, value: Option<bool>| value.map(|v| (key, v.to_string()));
        [
            Some(("id", self.id.clone())),
            self.accuracy.map(|a| ("accuracy", a.as_str().to_owned())),
            number("distance", self.distance_m),
            number("interval", self.interval_s),
            number("angle", self.angle_deg),
            number("heartbeat", self.heartbeat_s),
            flag("buffer", self.buffer),
            flag("wakelock", self.wakelock),
            flag("stop_detection", self.stop_detection),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// The URL to show as a QR code to Traccar Client: the OsmAnd endpoint (the
/// token in its path, since the app keeps only origin and path of a scanned
/// URL and can send no header) with the settings as its query.
/// `endpoint` must have no query of its own.
pub fn traccar_setup_url(endpoint: &str, settings: &TraccarSettings) -> String {
    format!("{endpoint}?{}", query(&settings.pairs()))
}

/// The same setup as a link to tap on the phone: the app reads `url` and the
/// settings from any `org.traccar.client://` link but `action/...`.
pub fn traccar_setup_link(endpoint: &str, settings: &TraccarSettings) -> String {
    let mut pairs = vec![("url", endpoint.to_owned())];
    pairs.extend(settings.pairs());
    format!("org.traccar.client://setup?{}", query(&pairs))
}

// --- Overland -------------------------------------------------------------

/// Overland's setup link: the endpoint, the token it sends as
/// `Authorization: Bearer`, and the `device_id` it writes into every point.
pub fn overland_setup_link(endpoint: &str, token: &str, label: &str) -> String {
    let pairs = [
        ("url", endpoint.to_owned()),
        ("token", token.to_owned()),
        ("device_id", label.trim().to_owned()),
    ];
    format!("overland://setup?{}", query(&pairs))
}

// --- OwnTracks ------------------------------------------------------------

/// The user name OwnTracks is given. The app sends Basic auth only with both
/// a user name and a password, and writes the user name into headers and
/// the message's `topic`: so the token is the password, and this is a
/// constant that says nothing.
pub const OWNTRACKS_USERNAME: &str = "fieldcrm";

/// OwnTracks' configuration for HTTP mode (mode 3), as an `.otrc` file holds
/// it: the endpoint, the token as password, the device name (`X-Limit-D`)
/// and a two-character tracker id.
pub fn owntracks_config(endpoint: &str, token: &str, label: &str) -> String {
    let name = device_name(label);
    serde_json::json!({
        "_type": "configuration",
        "mode": 3,
        "url": endpoint,
        // iOS reads `auth`; Android sends Basic whenever both are set.
        "auth": true,
        "username": OWNTRACKS_USERNAME,
        "password": token,
        "deviceId": name,
        "tid": tracker_id(&name),
    })
    .to_string()
}

/// Two letters or digits for the map marker (Android takes at most two).
fn tracker_id(name: &str) -> String {
    let tid: String = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(2)
        .collect();
    if tid.is_empty() {
        "fc".to_owned()
    } else {
        tid.to_ascii_lowercase()
    }
}

/// The link that loads a configuration into OwnTracks:
/// `owntracks:///config?inline=` and the configuration in standard base64
/// with padding (iOS decodes with `NSData` base64, which wants both),
/// percent-encoded (Android's `URLDecoder` would turn `+` into a space).
pub fn owntracks_config_link(config: &str) -> String {
    format!(
        "owntracks:///config?inline={}",
        encode(&STANDARD.encode(config))
    )
}

// --- GPSLogger ------------------------------------------------------------

/// GPSLogger's custom URL settings for the OsmAnd endpoint: one POST per
/// fix, the body a form without `Content-Type` (GPSLogger sends none), the
/// speed as `speed_mps` since its `%SPD` is in m/s and OsmAnd's `speed` in
/// knots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpsLoggerTemplate {
    pub url: String,
    pub method: &'static str,
    pub body: String,
    pub headers: String,
}

/// The template for one device; `endpoint` is the OsmAnd URL with the token
/// in its path.
pub fn gpslogger_template(endpoint: &str, label: &str) -> GpsLoggerTemplate {
    GpsLoggerTemplate {
        url: endpoint.to_owned(),
        method: "POST",
        body: format!(
            "id={}&lat=%LAT&lon=%LON&timestamp=%TIMESTAMP&accuracy=%ACC&altitude=%ALT\
             &bearing=%DIR&speed_mps=%SPD&batt=%BATT",
            device_name(label)
        ),
        headers: String::new(),
    }
}

/// The `.properties` file GPSLogger loads as a profile (through
/// [`gpslogger_profile_link`]), with the template switched on. It holds the
/// token: serve it only from a URL as secret as the token.
pub fn gpslogger_properties(template: &GpsLoggerTemplate) -> String {
    [
        ("log_customurl_enabled", "true"),
        ("log_customurl_url", template.url.as_str()),
        ("log_customurl_method", template.method),
        ("log_customurl_body", template.body.as_str()),
        ("log_customurl_headers", template.headers.as_str()),
    ]
    .iter()
    .map(|(key, value)| format!("{key}={}\n", properties_value(value)))
    .collect()
}

/// A value as `java.util.Properties` reads it back: backslash escapes for
/// `\`, line breaks, tabs and a leading space; `\uXXXX` beyond ASCII.
fn properties_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for (i, c) in value.chars().enumerate() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{c}' => out.push_str("\\f"),
            ' ' if i == 0 => out.push_str("\\ "),
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04X}"));
                }
            }
        }
    }
    out
}

/// The link that makes GPSLogger download a `.properties` profile; the app
/// takes everything after the prefix as the URL, unescaped, and names the
/// profile after the file.
pub fn gpslogger_profile_link(properties_url: &str) -> String {
    format!("gpslogger://properties/{properties_url}")
}

// --- QR codes -------------------------------------------------------------

/// A text too long for a QR code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the text does not fit in a QR code")]
pub struct QrError;

/// Pixels per module in a PNG.
const PNG_MODULE_PX: u32 = 8;
/// The light border the QR standard asks for, in modules.
const QUIET_ZONE: u32 = 4;

/// A QR code of `text` as an SVG document.
pub fn qr_svg(text: &str) -> Result<String, QrError> {
    let code = QrCode::new(text.as_bytes()).map_err(|_| QrError)?;
    Ok(code
        .render::<svg::Color<'_>>()
        .min_dimensions(256, 256)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build())
}

/// A QR code of `text` as a PNG: 8-bit grey, 8 pixels a module.
pub fn qr_png(text: &str) -> Result<Vec<u8>, QrError> {
    let code = QrCode::new(text.as_bytes()).map_err(|_| QrError)?;
    let modules = code.width() as u32;
    let colors = code.to_colors();
    let side = (modules + 2 * QUIET_ZONE) * PNG_MODULE_PX;
    let mut pixels = vec![255u8; (side * side) as usize];
    for (i, color) in colors.iter().enumerate() {
        if *color != Color::Dark {
            continue;
        }
        let (mx, my) = (i as u32 % modules, i as u32 / modules);
        for y in 0..PNG_MODULE_PX {
            let row = (QUIET_ZONE + my) * PNG_MODULE_PX + y;
            let start = (row * side + (QUIET_ZONE + mx) * PNG_MODULE_PX) as usize;
            pixels[start..start + PNG_MODULE_PX as usize].fill(0);
        }
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    // Writing into memory fails only on a bug here (a wrong buffer size).
    let mut writer = encoder.write_header().expect("PNG header into memory");
    writer
        .write_image_data(&pixels)
        .expect("PNG data of the stated size");
    writer.finish().expect("PNG end into memory");
    Ok(out)
}
