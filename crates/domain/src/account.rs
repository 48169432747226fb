use std::str::FromStr;

use crate::Invalid;

/// An account's display name: trimmed, 1 to 200 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountName(String);

impl AccountName {
    pub const MAX_CHARS: usize = 200;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        crate::single_line(raw, Self::MAX_CHARS).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An IANA time zone name known to the tz database, e.g. `Europe/Berlin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeZoneName(chrono_tz::Tz);

impl TimeZoneName {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        chrono_tz::Tz::from_str(raw.trim()).map(Self).map_err(|_| {
            Invalid(format!(
                "`{raw}` is not an IANA time zone name such as America/Chicago"
            ))
        })
    }

    pub fn tz(&self) -> chrono_tz::Tz {
        self.0
    }

    pub fn name(&self) -> &'static str {
        self.0.name()
    }
}

impl FromStr for TimeZoneName {
    type Err = Invalid;

    fn from_str(raw: &str) -> Result<Self, Invalid> {
        Self::parse(raw)
    }
}

impl Default for TimeZoneName {
    fn default() -> Self {
        Self(chrono_tz::UTC)
    }
}

/// An ISO 3166-1 alpha-2 country code, upper case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let raw = raw.trim();
        match raw.as_bytes() {
            [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
                Ok(Self([a.to_ascii_uppercase(), b.to_ascii_uppercase()]))
            }
            _ => Err(Invalid(format!(
                "`{raw}` is not a two-letter ISO 3166-1 country code"
            ))),
        }
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("US")
    }
}

impl FromStr for CountryCode {
    type Err = Invalid;

    fn from_str(raw: &str) -> Result<Self, Invalid> {
        Self::parse(raw)
    }
}

/// Defines a setting of the account that must lie within a range.
macro_rules! bounded_setting {
    ($(#[$doc:meta])* $name:ident($t:ty), $low:expr, $high:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq)]
        pub struct $name($t);

        impl $name {
            pub const LOW: $t = $low;
            pub const HIGH: $t = $high;

            pub fn parse(value: $t) -> Result<Self, Invalid> {
                if (Self::LOW..=Self::HIGH).contains(&value) {
                    Ok(Self(value))
                } else {
                    Err(Invalid(format!(
                        "must be between {} and {}",
                        Self::LOW,
                        Self::HIGH
                    )))
                }
            }

            pub fn get(self) -> $t {
                self.0
            }
        }
    };
}

bounded_setting!(
    /// Pings less accurate than this many metres are refused.
    PingAccuracyLimit(f64),
    1.0,
    1000.0
);

bounded_setting!(
    /// A shift still open after this many hours is closed by the upkeep.
    MaxShiftHours(i32),
    1,
    24
);

bounded_setting!(
    /// Pings, and message bodies, are kept this many days.
    RetentionDays(i32),
    1,
    3650
);

bounded_setting!(
    /// A technician this many metres from an appointment's address has arrived.
    ArrivalRadius(f64),
    10.0,
    5000.0
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_names_are_trimmed_and_bounded() {
        assert_eq!(
            AccountName::parse("  Acme Plumbing ").unwrap().as_str(),
            "Acme Plumbing"
        );
        assert!(AccountName::parse("   ").is_err());
        assert!(AccountName::parse(&"x".repeat(201)).is_err());
        assert!(AccountName::parse(&"é".repeat(200)).is_ok());
        assert!(AccountName::parse("a\u{0}b").is_err());
    }

    #[test]
    fn time_zones_come_from_the_tz_database() {
        assert_eq!(
            TimeZoneName::parse("America/Chicago").unwrap().name(),
            "America/Chicago"
        );
        assert!(TimeZoneName::parse("Mars/Olympus").is_err());
        assert!(TimeZoneName::parse("").is_err());
    }

    #[test]
    fn country_codes_are_two_letters() {
        assert_eq!(CountryCode::parse("de").unwrap().as_str(), "DE");
        assert!(CountryCode::parse("DEU").is_err());
        assert!(CountryCode::parse("1A").is_err());
    }

    #[test]
    fn account_settings_stay_within_their_ranges() {
        use super::{ArrivalRadius, MaxShiftHours, PingAccuracyLimit, RetentionDays};
        assert_eq!(MaxShiftHours::parse(24).unwrap().get(), 24);
        assert!(MaxShiftHours::parse(0).is_err() && MaxShiftHours::parse(25).is_err());
        assert_eq!(
            RetentionDays::parse(3651).unwrap_err().0,
            "must be between 1 and 3650"
        );
        assert!(PingAccuracyLimit::parse(0.5).is_err() && PingAccuracyLimit::parse(1.0).is_ok());
        assert!(ArrivalRadius::parse(f64::NAN).is_err() && ArrivalRadius::parse(10.0).is_ok());
    }
}
