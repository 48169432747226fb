//! How a business reaches a person: phone, postal address, tags, notes, consent.

use std::fmt;
use std::str::FromStr;

use crate::{CountryCode, Invalid};

/// A phone number in E.164 (`+15125550123`).
#[derive(Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    /// Parses a number as people type it; one without a country code is read as
    /// a number of `default_country`.
    pub fn parse(raw: &str, default_country: CountryCode) -> Result<Self, Invalid> {
        let invalid = || Invalid("is not a valid phone number".into());
        let raw = raw.trim();
        if raw.is_empty() || raw.len() > 40 {
            return Err(invalid());
        }
        let country = default_country
            .as_str()
            .parse::<phonenumber::country::Id>()
            .ok();
        let number = phonenumber::parse(country, raw).map_err(|_| invalid())?;
        if !phonenumber::is_valid(&number) {
            return Err(invalid());
        }
        Ok(Self(
            number.format().mode(phonenumber::Mode::E164).to_string(),
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// Numbers are personal data: debug output shows only the last two digits.
impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tail: String = self
            .0
            .chars()
            .rev()
            .take(2)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        write!(f, "Phone(***{tail})")
    }
}

/// A point on Earth, WGS 84 degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coordinates {
    pub lat: f64,
    pub lon: f64,
}

impl Coordinates {
    pub fn parse(lat: f64, lon: f64) -> Result<Self, (&'static str, Invalid)> {
        if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
            return Err(("lat", Invalid("must be between -90 and 90".into())));
        }
        if !lon.is_finite() || !(-180.0..=180.0).contains(&lon) {
            return Err(("lon", Invalid("must be between -180 and 180".into())));
        }
        Ok(Self { lat, lon })
    }
}

/// A postal address; only the first line is required.
#[derive(Debug, Clone, PartialEq)]
pub struct Address {
    pub line1: String,
    pub line2: Option<String>,
    pub city: Option<String>,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<CountryCode>,
    pub coordinates: Option<Coordinates>,
}

/// An address as given, before checking.
#[derive(Debug, Clone, Default)]
pub struct AddressInput<'a> {
    pub line1: &'a str,
    pub line2: Option<&'a str>,
    pub city: Option<&'a str>,
    pub region: Option<&'a str>,
    pub postal_code: Option<&'a str>,
    pub country: Option<&'a str>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}

impl Address {
    /// Every problem with its field name (relative to the address).
    pub fn parse(input: &AddressInput<'_>) -> Result<Self, Vec<(&'static str, Invalid)>> {
        let mut errors = Vec::new();
        let mut line = |field: &'static str, raw: Option<&str>, max: usize| -> Option<String> {
            let raw = raw.map(str::trim).filter(|r| !r.is_empty())?;
            match crate::single_line(raw, max) {
                Ok(text) => Some(text),
                Err(err) => {
                    errors.push((field, err));
                    None
                }
            }
        };
        let line1 = line("line1", Some(input.line1), 200);
        let line2 = line("line2", input.line2, 200);
        let city = line("city", input.city, 100);
        let region = line("region", input.region, 100);
        let postal_code = line("postal_code", input.postal_code, 20);
        if line1.is_none() && !errors.iter().any(|(f, _)| *f == "line1") {
            errors.push(("line1", Invalid("must not be empty".into())));
        }
        let country = match input.country.map(str::trim).filter(|c| !c.is_empty()) {
            None => None,
            Some(raw) => match CountryCode::parse(raw) {
                Ok(code) => Some(code),
                Err(err) => {
                    errors.push(("country", err));
                    None
                }
            },
        };
        let coordinates = match (input.lat, input.lon) {
            (None, None) => None,
            (Some(lat), Some(lon)) => match Coordinates::parse(lat, lon) {
                Ok(c) => Some(c),
                Err(err) => {
                    errors.push(err);
                    None
                }
            },
            (Some(_), None) => {
                errors.push(("lon", Invalid("is required with lat".into())));
                None
            }
            (None, Some(_)) => {
                errors.push(("lat", Invalid("is required with lon".into())));
                None
            }
        };
        match (errors.is_empty(), line1) {
            (true, Some(line1)) => Ok(Self {
                line1,
                line2,
                city,
                region,
                postal_code,
                country,
                coordinates,
            }),
            _ => Err(errors),
        }
    }
}

/// A label for grouping people (`vip`, `north-route`): lower-cased, 1 to 50
/// characters, no commas or control characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tag(String);

impl Tag {
    pub const MAX_PER_PERSON: usize = 20;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let tag = crate::single_line(raw, 50)?.to_lowercase();
        if tag.contains(',') {
            return Err(Invalid("must not contain commas".into()));
        }
        Ok(Self(tag))
    }

    /// A tag to filter by: as [`Tag::parse`], with nothing to trim at either
    /// end. A filter names a stored tag, and the contract's pattern refuses
    /// spaces at its ends rather than trimming them.
    pub fn parse_filter(raw: &str) -> Result<Self, Invalid> {
        // The pattern's `\s` holds U+FEFF, which `char::is_whitespace` does not.
        let space = |c: char| c.is_whitespace() || c == '\u{feff}';
        if raw.starts_with(space) || raw.ends_with(space) {
            return Err(Invalid("must not start or end with a space".into()));
        }
        Self::parse(raw)
    }

    /// A set of tags: duplicates folded, sorted, at most `MAX_PER_PERSON`.
    pub fn parse_set<S: AsRef<str>>(raw: &[S]) -> Result<Vec<Self>, Invalid> {
        let mut tags = raw
            .iter()
            .map(|t| Self::parse(t.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        tags.sort();
        tags.dedup();
        if tags.len() > Self::MAX_PER_PERSON {
            return Err(Invalid(format!(
                "must hold at most {} tags",
                Self::MAX_PER_PERSON
            )));
        }
        Ok(tags)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Free text about a person: up to 5,000 characters, line breaks allowed.
pub fn parse_notes(raw: &str) -> Result<Option<String>, Invalid> {
    let notes = raw.trim();
    if notes.chars().count() > 5000 {
        return Err(Invalid("must be at most 5000 characters".into()));
    }
    if notes
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(Invalid("must not contain control characters".into()));
    }
    Ok((!notes.is_empty()).then(|| notes.to_owned()))
}

/// A way of reaching a person that needs their consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    Sms,
    Email,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Email => "email",
        }
    }
}

impl FromStr for Channel {
    type Err = Invalid;

    fn from_str(s: &str) -> Result<Self, Invalid> {
        match s {
            "sms" => Ok(Channel::Sms),
            "email" => Ok(Channel::Email),
            _ => Err(Invalid("must be `sms` or `email`".into())),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentStatus {
    OptedIn,
    OptedOut,
}

impl ConsentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentStatus::OptedIn => "opted_in",
            ConsentStatus::OptedOut => "opted_out",
        }
    }
}

impl FromStr for ConsentStatus {
    type Err = Invalid;

    fn from_str(s: &str) -> Result<Self, Invalid> {
        match s {
            "opted_in" => Ok(ConsentStatus::OptedIn),
            "opted_out" => Ok(ConsentStatus::OptedOut),
            _ => Err(Invalid("must be `opted_in` or `opted_out`".into())),
        }
    }
}

/// A consent decision as the history records it: a person's choice, or the
/// reset that a new phone number or email address makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentChange {
    OptedIn,
    OptedOut,
    /// The contact details changed, so no earlier choice holds.
    Reset,
}

impl ConsentChange {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentChange::OptedIn => "opted_in",
            ConsentChange::OptedOut => "opted_out",
            ConsentChange::Reset => "reset",
        }
    }
}

impl From<ConsentStatus> for ConsentChange {
    fn from(status: ConsentStatus) -> Self {
        match status {
            ConsentStatus::OptedIn => ConsentChange::OptedIn,
            ConsentStatus::OptedOut => ConsentChange::OptedOut,
        }
    }
}

impl FromStr for ConsentChange {
    type Err = Invalid;

    fn from_str(s: &str) -> Result<Self, Invalid> {
        match s {
            "reset" => Ok(ConsentChange::Reset),
            other => other.parse::<ConsentStatus>().map(Self::from),
        }
    }
}

/// Whether a START reply gives SMS consent back, judged from the channel's
/// last two decisions (`latest`, then the one `before` it, each as change and
/// source). It undoes only an opt-out that a STOP from the number made (or the
/// carrier's record of one, Twilio's 21610), and only back to the opt-in that
/// STOP ended: a reply word never creates consent, nor overrides an opt-out
/// given any other way.
pub fn start_restores_consent(
    latest: Option<(ConsentChange, ConsentSource)>,
    before: Option<(ConsentChange, ConsentSource)>,
) -> bool {
    latest == Some((ConsentChange::OptedOut, ConsentSource::InboundStop))
        && before.is_some_and(|(change, _)| change == ConsentChange::OptedIn)
}

impl FromStr for ConsentSource {
    type Err = Invalid;

    /// Any source, the service's own among them: for reading the history.
    fn from_str(s: &str) -> Result<Self, Invalid> {
        match s {
            "inbound_stop" => Ok(ConsentSource::InboundStop),
            "unsubscribe_link" => Ok(ConsentSource::UnsubscribeLink),
            "contact_changed" => Ok(ConsentSource::ContactChanged),
            other => Self::parse_from_client(other),
        }
    }
}

/// Where a consent decision came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentSource {
    /// A form the person filled in.
    Form,
    /// Said to staff, on the phone or in person.
    Verbal,
    /// Brought over from another system.
    Import,
    /// An integration recorded it.
    Api,
    /// The person replied STOP to a text (recorded by the service).
    InboundStop,
    /// The person used the unsubscribe link of an email (recorded by the service).
    UnsubscribeLink,
    /// A new phone number or email address reset the channel (recorded by the service).
    ContactChanged,
}

impl ConsentSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentSource::Form => "form",
            ConsentSource::Verbal => "verbal",
            ConsentSource::Import => "import",
            ConsentSource::Api => "api",
            ConsentSource::InboundStop => "inbound_stop",
            ConsentSource::UnsubscribeLink => "unsubscribe_link",
            ConsentSource::ContactChanged => "contact_changed",
        }
    }

    /// The sources a client may state; the others only the service records.
    pub fn parse_from_client(raw: &str) -> Result<Self, Invalid> {
        match raw {
            "form" => Ok(ConsentSource::Form),
            "verbal" => Ok(ConsentSource::Verbal),
            "import" => Ok(ConsentSource::Import),
            "api" => Ok(ConsentSource::Api),
            "inbound_stop" | "unsubscribe_link" => Err(Invalid(format!(
                "`{raw}` is recorded by the service itself"
            ))),
            _ => Err(Invalid("must be one of form, verbal, import, api".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us() -> CountryCode {
        CountryCode::parse("US").unwrap()
    }

    #[test]
    fn phones_become_e164_with_the_default_country() {
        assert_eq!(
            Phone::parse("(512) 555-0123", us()).unwrap().as_str(),
            "+15125550123"
        );
        assert_eq!(
            Phone::parse("+44 20 7946 0018", us()).unwrap().as_str(),
            "+442079460018"
        );
        let de = CountryCode::parse("DE").unwrap();
        assert_eq!(
            Phone::parse("030 901820", de).unwrap().as_str(),
            "+4930901820"
        );
        for bad in ["", "12", "not a number", "+1 555", "+999 1234567"] {
            assert!(Phone::parse(bad, us()).is_err(), "{bad}");
        }
        assert!(!format!("{:?}", Phone::parse("(512) 555-0123", us()).unwrap()).contains("555"));
    }

    #[test]
    fn addresses_need_a_first_line_and_both_coordinates() {
        let ok = Address::parse(&AddressInput {
            line1: " 1 Main St ",
            city: Some("Austin"),
            country: Some("us"),
            lat: Some(30.27),
            lon: Some(-97.74),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(ok.line1, "1 Main St");
        assert_eq!(ok.country.unwrap().as_str(), "US");
        let errors = Address::parse(&AddressInput {
            line1: "",
            lat: Some(91.0),
            lon: Some(0.0),
            ..Default::default()
        })
        .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|(f, _)| *f).collect();
        assert_eq!(fields, ["line1", "lat"]);
        let only_lat = Address::parse(&AddressInput {
            line1: "x",
            lat: Some(1.0),
            ..Default::default()
        });
        assert_eq!(only_lat.unwrap_err()[0].0, "lon");
    }

    #[test]
    fn tags_are_folded_and_bounded() {
        let tags = Tag::parse_set(&["VIP", "vip", "North Route"]).unwrap();
        assert_eq!(
            tags.iter().map(Tag::as_str).collect::<Vec<_>>(),
            ["north route", "vip"]
        );
        assert!(Tag::parse_set(&["a,b"]).is_err());
        let many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
        assert!(Tag::parse_set(&many).is_err());
    }

    #[test]
    fn a_tag_filter_is_refused_with_a_space_at_either_end() {
        assert_eq!(
            Tag::parse_filter("North Route").unwrap().as_str(),
            "north route"
        );
        for padded in [" vip", "vip ", "\u{a0}m", "m\u{3000}", "\u{feff}m", " "] {
            assert!(Tag::parse_filter(padded).is_err(), "{padded:?}");
        }
        // A record's tags are typed in, and trimmed.
        assert_eq!(Tag::parse(" vip ").unwrap().as_str(), "vip");
    }

    #[test]
    fn clients_cannot_claim_service_recorded_sources() {
        assert_eq!(
            ConsentSource::parse_from_client("verbal").unwrap(),
            ConsentSource::Verbal
        );
        assert!(ConsentSource::parse_from_client("inbound_stop").is_err());
        assert!(ConsentSource::parse_from_client("whatever").is_err());
    }

    #[test]
    fn start_undoes_only_a_stop_that_ended_an_opt_in() {
        use ConsentChange::{OptedIn, OptedOut, Reset};
        use ConsentSource::{ContactChanged, Form, InboundStop, Verbal};
        let stop = Some((OptedOut, InboundStop));
        let opted_in = Some((OptedIn, Form));
        assert!(start_restores_consent(stop, opted_in));
        assert!(start_restores_consent(stop, Some((OptedIn, InboundStop))));
        // Never asked, or asked and refused, before the STOP: nothing to restore.
        assert!(!start_restores_consent(stop, None));
        assert!(!start_restores_consent(stop, Some((Reset, ContactChanged))));
        // An opt-out given another way, after or without a STOP, stays.
        assert!(!start_restores_consent(Some((OptedOut, Form)), opted_in));
        assert!(!start_restores_consent(Some((OptedOut, Verbal)), stop));
        assert!(!start_restores_consent(Some((OptedIn, Form)), stop));
        assert!(!start_restores_consent(None, None));
    }

    #[test]
    fn stored_consent_words_read_back() {
        for change in [
            ConsentChange::OptedIn,
            ConsentChange::OptedOut,
            ConsentChange::Reset,
        ] {
            assert_eq!(change.as_str().parse::<ConsentChange>().unwrap(), change);
        }
        assert_eq!(
            "contact_changed".parse::<ConsentSource>().unwrap(),
            ConsentSource::ContactChanged
        );
        assert!(ConsentSource::parse_from_client("contact_changed").is_err());
        assert!("reset".parse::<ConsentStatus>().is_err());
    }
}
