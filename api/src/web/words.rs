//! How the pages write times, lengths, distances and an appointment's status:
//! one wording for every page, in the account's time zone.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, SecondsFormat, TimeZone, Utc};
use chrono_tz::Tz;
use maud::{html, Markup};

use fieldcrm_app::accounts::settings;
use fieldcrm_app::AppState;
use fieldcrm_domain::scheduling::Status;

use super::error::PageError;
use super::session::SignedIn;

/// The account's time zone, in which every page shows times.
pub async fn zone(state: &AppState, signed_in: &SignedIn) -> Result<Tz, PageError> {
    Ok(settings::get(state, &signed_in.caller)
        .await?
        .time_zone
        .tz())
}

/// When `day` begins in `zone` (an hour later where the clocks skip midnight).
pub fn start_of(day: NaiveDate, zone: Tz) -> DateTime<Utc> {
    let midnight = day.and_time(NaiveTime::MIN);
    [midnight, midnight + Duration::hours(1)]
        .iter()
        .find_map(|local| zone.from_local_datetime(local).earliest())
        .map_or_else(
            || Utc.from_utc_datetime(&midnight),
            |at| at.with_timezone(&Utc),
        )
}

/// "Monday 7 December 2026"
pub fn day(day: NaiveDate) -> String {
    day.format("%A %-d %B %Y").to_string()
}

/// "14:05"
pub fn clock(at: DateTime<Tz>) -> String {
    at.format("%H:%M").to_string()
}

/// A moment as a person reads it: "Monday 7 December 2026, 14:05".
pub fn moment(at: DateTime<Utc>, zone: Tz) -> String {
    at.with_timezone(&zone)
        .format("%A %-d %B %Y, %H:%M")
        .to_string()
}

/// A `time` element: the words, and the exact moment for machines.
pub fn time_element(at: DateTime<Utc>, zone: Tz) -> Markup {
    html! { time datetime=(at.to_rfc3339_opts(SecondsFormat::Secs, true)) { (moment(at, zone)) } }
}

/// "1 stop", "3 stops".
pub fn plural(count: i64, one: &str) -> String {
    if count == 1 {
        format!("1 {one}")
    } else {
        format!("{count} {one}s")
    }
}

/// "2 hours 5 minutes", "40 minutes", "less than a minute".
pub fn length(seconds: i64) -> String {
    let minutes = seconds.max(0) / 60;
    match (minutes / 60, minutes % 60) {
        (0, 0) => "less than a minute".to_owned(),
        (0, m) => plural(m, "minute"),
        (h, 0) => plural(h, "hour"),
        (h, m) => format!("{} {}", plural(h, "hour"), plural(m, "minute")),
    }
}

/// "just now", "5 minutes ago".
pub fn ago(seconds: i64) -> String {
    if seconds < 60 {
        "just now".to_owned()
    } else {
        format!("{} ago", length(seconds))
    }
}

/// "850 m", "12.3 km".
pub fn distance(metres: f64) -> String {
    // Shifts stored before distances were folded from 0.0 may hold -0.0.
    let metres = metres + 0.0;
    if metres < 1_000.0 {
        format!("{metres:.0} m")
    } else {
        format!("{:.1} km", metres / 1_000.0)
    }
}

/// An appointment's status as the office and the technician read it.
pub fn status(status: Status) -> &'static str {
    match status {
        Status::Scheduled => "Scheduled",
        Status::Confirmed => "Confirmed",
        Status::EnRoute => "On the way",
        Status::InProgress => "In progress",
        Status::Completed => "Completed",
        Status::Cancelled => "Cancelled",
        Status::NoShow => "Customer did not show up",
    }
}

/// The words of the button that moves an appointment to `status`.
pub fn status_action(status: Status) -> &'static str {
    match status {
        Status::Scheduled => "Back to scheduled",
        Status::Confirmed => "Confirm",
        Status::EnRoute => "Mark as on the way",
        Status::InProgress => "Mark as in progress",
        Status::Completed => "Mark as completed",
        Status::Cancelled => "Cancel the appointment",
        Status::NoShow => "Mark as not shown up",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_distances_read_as_words() {
        assert_eq!(length(30), "less than a minute");
        assert_eq!(length(60), "1 minute");
        assert_eq!(length(7_500), "2 hours 5 minutes");
        assert_eq!(length(7_200), "2 hours");
        assert_eq!(ago(10), "just now");
        assert_eq!(ago(300), "5 minutes ago");
        assert_eq!(distance(-0.0), "0 m");
        assert_eq!(distance(850.4), "850 m");
        assert_eq!(distance(12_345.0), "12.3 km");
    }

    #[test]
    fn a_day_starts_at_local_midnight() {
        let chicago: Tz = "America/Chicago".parse().unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        assert_eq!(
            start_of(day, chicago).to_rfc3339(),
            "2026-12-07T06:00:00+00:00"
        );
    }

    #[test]
    fn a_day_that_skips_midnight_begins_an_hour_later() {
        // Santiago moved its clocks from 00:00 to 01:00 on 2022-09-11.
        let zone: Tz = "America/Santiago".parse().unwrap();
        let day = NaiveDate::from_ymd_opt(2022, 9, 11).unwrap();
        assert_eq!(
            start_of(day, zone)
                .with_timezone(&zone)
                .format("%H:%M")
                .to_string(),
            "01:00"
        );
    }
}
