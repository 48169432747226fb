//! Test dates relative to today, so that no test ages into the past (a rule
//! such as "no booking in the past" would otherwise break it one day).

use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, Utc};

/// One calendar day (UTC). Take it once per test and build every time from
/// it, so a test that runs across midnight keeps one date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Day(pub NaiveDate);

impl Day {
    /// The day `days` after today.
    pub fn ahead(days: i64) -> Day {
        Day((Utc::now() + Duration::days(days)).date_naive())
    }

    /// The day `days` after this one (before it, when negative).
    pub fn plus(self, days: i64) -> Day {
        Day(self.0 + Duration::days(days))
    }

    /// `time` (`HH:MM`, UTC) on this day, as the API writes it:
    /// `2030-01-02T15:00:00Z`.
    pub fn at(self, time: &str) -> String {
        format!("{}T{time}:00Z", self.0)
    }
}

/// An RFC 3339 time moved by `minutes`, in the API's form.
pub fn shifted(at: &str, minutes: i64) -> String {
    let at: DateTime<Utc> = at.parse().expect("an RFC 3339 time");
    (at + Duration::minutes(minutes)).to_rfc3339_opts(SecondsFormat::Secs, true)
}
