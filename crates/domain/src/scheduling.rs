//! Appointments: their status lifecycle and reminder rules.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use crate::{Channel, Invalid};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Scheduled,
    Confirmed,
    EnRoute,
    InProgress,
    Completed,
    Cancelled,
    NoShow,
}

impl Status {
    pub const ALL: [Status; 7] = [
        Status::Scheduled,
        Status::Confirmed,
        Status::EnRoute,
        Status::InProgress,
        Status::Completed,
        Status::Cancelled,
        Status::NoShow,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Scheduled => "scheduled",
            Status::Confirmed => "confirmed",
            Status::EnRoute => "en_route",
            Status::InProgress => "in_progress",
            Status::Completed => "completed",
            Status::Cancelled => "cancelled",
            Status::NoShow => "no_show",
        }
    }

    /// Still to happen or happening: it occupies the technician's time.
    pub fn is_open(self) -> bool {
        !matches!(self, Status::Completed | Status::Cancelled | Status::NoShow)
    }

    /// The statuses this one may move to: one step along scheduled → confirmed
    /// → en_route → in_progress → completed, or cancelled / no_show from any
    /// open status. Closed statuses are final.
    pub fn next(self) -> &'static [Status] {
        use Status::*;
        match self {
            Scheduled => &[Confirmed, Cancelled, NoShow],
            Confirmed => &[EnRoute, Cancelled, NoShow],
            EnRoute => &[InProgress, Cancelled, NoShow],
            InProgress => &[Completed, Cancelled, NoShow],
            Completed | Cancelled | NoShow => &[],
        }
    }

    pub fn can_become(self, to: Status) -> bool {
        self.next().contains(&to)
    }
}

impl FromStr for Status {
    type Err = Invalid;

    fn from_str(s: &str) -> Result<Self, Invalid> {
        Status::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| {
                Invalid("must be one of scheduled, confirmed, en_route, in_progress, completed, cancelled, no_show".into())
            })
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a reminder is: waiting for its time, or done one way or another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReminderStatus {
    Scheduled,
    Cancelled,
    Sent,
    Failed,
    Suppressed,
}

impl ReminderStatus {
    pub const ALL: [ReminderStatus; 5] = [
        ReminderStatus::Scheduled,
        ReminderStatus::Cancelled,
        ReminderStatus::Sent,
        ReminderStatus::Failed,
        ReminderStatus::Suppressed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReminderStatus::Scheduled => "scheduled",
            ReminderStatus::Cancelled => "cancelled",
            ReminderStatus::Sent => "sent",
            ReminderStatus::Failed => "failed",
            ReminderStatus::Suppressed => "suppressed",
        }
    }
}

impl FromStr for ReminderStatus {
    type Err = Invalid;

    fn from_str(s: &str) -> Result<Self, Invalid> {
        ReminderStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| Invalid(format!("`{s}` is not a reminder status")))
    }
}

/// When an appointment takes place: its end follows its start. Every way an
/// appointment is made or moved (the API, a Google import) goes through it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeSlot {
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
}

impl TimeSlot {
    /// The slot, or why not; the words are about the end, the field to fix.
    pub fn new(starts_at: DateTime<Utc>, ends_at: DateTime<Utc>) -> Result<Self, Invalid> {
        if ends_at <= starts_at {
            return Err(Invalid("must be after starts_at".into()));
        }
        Ok(Self { starts_at, ends_at })
    }

    pub fn starts_at(self) -> DateTime<Utc> {
        self.starts_at
    }

    pub fn ends_at(self) -> DateTime<Utc> {
        self.ends_at
    }
}

/// When a reminder goes out: on a channel, some minutes before the start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReminderRule {
    pub channel: Channel,
    pub minutes_before: i32,
}

impl ReminderRule {
    /// Up to 30 days ahead.
    pub const MAX_MINUTES_BEFORE: i32 = 30 * 24 * 60;
    pub const MAX_PER_APPOINTMENT: usize = 5;

    pub fn parse(channel: &str, minutes_before: i64) -> Result<Self, Invalid> {
        let channel = channel.parse::<Channel>()?;
        let minutes_before = i32::try_from(minutes_before)
            .ok()
            .filter(|m| (0..=Self::MAX_MINUTES_BEFORE).contains(m))
            .ok_or_else(|| {
                Invalid(format!(
                    "minutes_before must be between 0 and {}",
                    Self::MAX_MINUTES_BEFORE
                ))
            })?;
        Ok(Self {
            channel,
            minutes_before,
        })
    }

    pub fn due_at(&self, starts_at: DateTime<Utc>) -> DateTime<Utc> {
        starts_at - chrono::Duration::minutes(i64::from(self.minutes_before))
    }
}

/// What an appointment is called: one line, 1 to 200 characters. Every way
/// an appointment is named (the API, a Google import) goes through it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Title(String);

impl Title {
    pub const MAX_CHARS: usize = 200;

    /// A title as a person typed it: refused when empty, too long or not one line.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        crate::single_line(raw, Self::MAX_CHARS).map(Self)
    }

    /// The title of an event made elsewhere (Google Calendar), which is kept
    /// whatever it holds: control characters (a bare CR among them) become
    /// spaces, it is cut to the maximum, and "Appointment" when nothing is left.
    pub fn imported(raw: Option<&str>) -> Self {
        let line: String = raw
            .unwrap_or_default()
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if line.is_empty() {
            return Self("Appointment".into());
        }
        Self(line.chars().take(Self::MAX_CHARS).collect())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lifecycle_moves_one_step_or_ends() {
        use Status::*;
        assert!(Scheduled.can_become(Confirmed));
        assert!(!Scheduled.can_become(InProgress));
        assert!(InProgress.can_become(Completed));
        for open in [Scheduled, Confirmed, EnRoute, InProgress] {
            assert!(
                open.can_become(Cancelled) && open.can_become(NoShow),
                "{open}"
            );
        }
        for closed in [Completed, Cancelled, NoShow] {
            assert!(closed.next().is_empty());
            assert!(!closed.is_open());
        }
    }

    #[test]
    fn reminder_rules_are_bounded() {
        assert!(ReminderRule::parse("sms", 60).is_ok());
        assert!(ReminderRule::parse("fax", 60).is_err());
        assert!(ReminderRule::parse("email", -1).is_err());
        assert!(ReminderRule::parse("email", 50_000).is_err());
    }

    #[test]
    fn imported_titles_are_one_line_and_never_empty() {
        let imported = |raw: Option<&str>| Title::imported(raw).into_inner();
        assert_eq!(
            imported(Some("Boiler\rservice\n\u{0}x")),
            "Boiler service x"
        );
        assert_eq!(imported(Some("  \t ")), "Appointment");
        assert_eq!(imported(None), "Appointment");
        assert_eq!(imported(Some(&"é".repeat(300))).chars().count(), 200);
    }

    #[test]
    fn typed_titles_are_one_line_of_at_most_200_characters() {
        assert_eq!(
            Title::parse("  Boiler service ").unwrap().as_str(),
            "Boiler service"
        );
        assert!(Title::parse(" ").is_err());
        assert!(Title::parse("a\nb").is_err());
        assert!(Title::parse(&"é".repeat(201)).is_err());
        assert!(Title::parse(&"é".repeat(200)).is_ok());
    }

    #[test]
    fn a_time_slot_ends_after_it_starts() {
        let start = chrono::Utc::now();
        let slot = super::TimeSlot::new(start, start + chrono::Duration::minutes(1)).unwrap();
        assert_eq!(
            (slot.starts_at(), slot.ends_at()),
            (start, start + chrono::Duration::minutes(1))
        );
        assert!(super::TimeSlot::new(start, start).is_err());
        assert!(super::TimeSlot::new(start, start - chrono::Duration::minutes(1)).is_err());
    }
}
