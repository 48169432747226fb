//! Rules of messaging: templates and their placeholders, quiet hours, message
//! bodies, and the words that opt a texter out or back in.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::contact::Channel;
use crate::Invalid;

/// Why a message is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MessageKind {
    /// Written by staff or an integration.
    Manual,
    Reminder,
    /// The appointment was confirmed.
    Confirmation,
    /// The technician is on the way.
    OnMyWay,
}

impl MessageKind {
    pub const TEMPLATED: [MessageKind; 3] = [
        MessageKind::Reminder,
        MessageKind::Confirmation,
        MessageKind::OnMyWay,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Manual => "manual",
            MessageKind::Reminder => "reminder",
            MessageKind::Confirmation => "confirmation",
            MessageKind::OnMyWay => "on_my_way",
        }
    }

    /// The text used unless the account overrides it.
    pub fn default_template(self) -> &'static str {
        match self {
            MessageKind::Manual => "",
            MessageKind::Reminder => {
                "Hi {customer_name}, a reminder of your appointment with {business_name} on {time} at {address}."
            }
            MessageKind::Confirmation => {
                "Hi {customer_name}, your appointment with {business_name} on {time} at {address} is confirmed."
            }
            MessageKind::OnMyWay => {
                "Hi {customer_name}, your technician from {business_name} is on the way to {address}."
            }
        }
    }

    /// The subject of the email.
    pub fn subject(self) -> &'static str {
        match self {
            MessageKind::Manual => "A message from {business_name}",
            MessageKind::Reminder => "Appointment reminder from {business_name}",
            MessageKind::Confirmation => "Appointment confirmed by {business_name}",
            MessageKind::OnMyWay => "{business_name} is on the way",
        }
    }
}

impl FromStr for MessageKind {
    type Err = Invalid;

    fn from_str(s: &str) -> Result<Self, Invalid> {
        [
            MessageKind::Manual,
            MessageKind::Reminder,
            MessageKind::Confirmation,
            MessageKind::OnMyWay,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
        .ok_or_else(|| Invalid("must be one of manual, reminder, confirmation, on_my_way".into()))
    }
}

impl fmt::Display for MessageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The placeholders a template may use.
pub const PLACEHOLDERS: [&str; 5] = ["customer_name", "time", "address", "business_name", "title"];

/// A message template: text with `{placeholder}`s from [`PLACEHOLDERS`].
/// Four placeholders and plain text need no template engine; a typo in a
/// placeholder is refused when the template is saved, not when a reminder goes out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(String);

impl Template {
    pub const MAX_CHARS: usize = 1000;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let text = raw.trim();
        if text.is_empty() {
            return Err(Invalid("must not be empty".into()));
        }
        if text.chars().count() > Self::MAX_CHARS {
            return Err(Invalid(format!(
                "must be at most {} characters",
                Self::MAX_CHARS
            )));
        }
        if text.chars().any(|c| c.is_control() && c != '\n') {
            return Err(Invalid(
                "must not contain control characters other than line breaks".into(),
            ));
        }
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            let after = &rest[open + 1..];
            let close = after
                .find('}')
                .ok_or_else(|| Invalid("has a `{` without its `}`".into()))?;
            let name = &after[..close];
            if !PLACEHOLDERS.contains(&name) {
                return Err(Invalid(format!(
                    "uses {{{name}}}; the placeholders are {}",
                    PLACEHOLDERS.map(|p| format!("{{{p}}}")).join(", ")
                )));
            }
            rest = &after[close + 1..];
        }
        Ok(Template(text.to_owned()))
    }

    /// A built-in template (always valid).
    pub fn built_in(kind: MessageKind) -> Self {
        Template(kind.default_template().to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Fills in the placeholders; a missing value becomes empty text.
    pub fn render(&self, values: &BTreeMap<&str, String>) -> String {
        let mut out = String::with_capacity(self.0.len() + 64);
        let mut rest = self.0.as_str();
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            match after.find('}') {
                Some(close) => {
                    if let Some(value) = values.get(&after[..close]) {
                        out.push_str(value);
                    }
                    rest = &after[close + 1..];
                }
                None => {
                    out.push_str(&rest[open..]);
                    rest = "";
                }
            }
        }
        out.push_str(rest);
        out
    }
}

/// The text a person sends: 1 to `max_chars(channel)` characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageBody(String);

impl MessageBody {
    /// Twilio joins at most 10 segments: 1600 characters.
    pub const MAX_SMS_CHARS: usize = 1600;
    pub const MAX_EMAIL_CHARS: usize = 20_000;

    pub fn parse(raw: &str, channel: Channel) -> Result<Self, Invalid> {
        let text = raw.trim();
        let max = match channel {
            Channel::Sms => Self::MAX_SMS_CHARS,
            Channel::Email => Self::MAX_EMAIL_CHARS,
        };
        if text.is_empty() {
            return Err(Invalid("must not be empty".into()));
        }
        if text.chars().count() > max {
            return Err(Invalid(format!(
                "must be at most {max} characters for {}",
                channel.as_str()
            )));
        }
        if text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
        {
            return Err(Invalid("must not contain control characters".into()));
        }
        Ok(MessageBody(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Local hours during which no SMS goes out; `start == end` means none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl QuietHours {
    /// Parses `"HH:MM"`.
    pub fn parse_time(raw: &str) -> Result<NaiveTime, Invalid> {
        NaiveTime::parse_from_str(raw.trim(), "%H:%M")
            .map_err(|_| Invalid("must be a time of day as HH:MM, e.g. 21:00".into()))
    }

    /// From stored text; unreadable values fall back to the defaults.
    pub fn from_stored(start: &str, end: &str) -> Self {
        let fallback = |raw: &str, default: (u32, u32)| {
            Self::parse_time(raw).unwrap_or_else(|_| {
                NaiveTime::from_hms_opt(default.0, default.1, 0).unwrap_or_default()
            })
        };
        QuietHours {
            start: fallback(start, (21, 0)),
            end: fallback(end, (8, 0)),
        }
    }

    fn is_quiet_at(&self, local: NaiveTime) -> bool {
        if self.start == self.end {
            false
        } else if self.start < self.end {
            self.start <= local && local < self.end
        } else {
            local >= self.start || local < self.end
        }
    }

    /// `None` when an SMS may go out at `now`; otherwise the first moment after
    /// the quiet hours in the zone.
    pub fn defer_until(&self, now: DateTime<Utc>, zone: Tz) -> Option<DateTime<Utc>> {
        let local = now.with_timezone(&zone);
        if !self.is_quiet_at(local.time()) {
            return None;
        }
        let mut day = local.date_naive();
        if local.time() >= self.end {
            day = day.succ_opt()?;
        }
        let mut wall = day.and_time(self.end);
        // The end may fall into a daylight-saving gap: take the first hour that exists.
        for _ in 0..3 {
            if let Some(at) = zone.from_local_datetime(&wall).earliest() {
                return Some(at.with_timezone(&Utc));
            }
            wall += Duration::hours(1);
        }
        None
    }
}

/// What a texted reply asks for, when its whole body is one of the carrier
/// keywords (any case, surrounding space ignored). "YES" is not one: it is an
/// ordinary answer ("reply YES to confirm"), and carriers' re-subscribe words
/// are START and UNSTOP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsKeyword {
    Stop,
    Start,
}

impl SmsKeyword {
    pub const STOP_WORDS: [&str; 6] = ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"];
    pub const START_WORDS: [&str; 2] = ["START", "UNSTOP"];

    pub fn of(body: &str) -> Option<Self> {
        let word = body.trim().to_uppercase();
        if Self::STOP_WORDS.contains(&word.as_str()) {
            Some(SmsKeyword::Stop)
        } else if Self::START_WORDS.contains(&word.as_str()) {
            Some(SmsKeyword::Start)
        } else {
            None
        }
    }
}

/// Where a message is in its life. Carrier reports arrive out of order, so a
/// report may only move a message forward: waiting, then sent, then an end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageStatus {
    Queued,
    Sending,
    Sent,
    Delivered,
    Undelivered,
    Failed,
    Suppressed,
}

impl MessageStatus {
    pub const ALL: [MessageStatus; 7] = [
        MessageStatus::Queued,
        MessageStatus::Sending,
        MessageStatus::Sent,
        MessageStatus::Delivered,
        MessageStatus::Undelivered,
        MessageStatus::Failed,
        MessageStatus::Suppressed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Queued => "queued",
            MessageStatus::Sending => "sending",
            MessageStatus::Sent => "sent",
            MessageStatus::Delivered => "delivered",
            MessageStatus::Undelivered => "undelivered",
            MessageStatus::Failed => "failed",
            MessageStatus::Suppressed => "suppressed",
        }
    }

    /// 0 while it waits to go out, 1 once the carrier took it, 2 at its end.
    fn stage(self) -> u8 {
        match self {
            MessageStatus::Queued | MessageStatus::Sending => 0,
            MessageStatus::Sent => 1,
            MessageStatus::Delivered
            | MessageStatus::Undelivered
            | MessageStatus::Failed
            | MessageStatus::Suppressed => 2,
        }
    }

    /// Whether a report of `next` may replace this status.
    pub fn may_become(self, next: MessageStatus) -> bool {
        next.stage() > self.stage()
    }
}

impl FromStr for MessageStatus {
    type Err = Invalid;

    fn from_str(raw: &str) -> Result<Self, Invalid> {
        Ok(match raw {
            "queued" => MessageStatus::Queued,
            "sending" => MessageStatus::Sending,
            "sent" => MessageStatus::Sent,
            "delivered" => MessageStatus::Delivered,
            "undelivered" => MessageStatus::Undelivered,
            "failed" => MessageStatus::Failed,
            "suppressed" => MessageStatus::Suppressed,
            other => return Err(Invalid(format!("`{other}` is not a message status"))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_refuse_unknown_placeholders_and_render_known_ones() {
        assert!(Template::parse("Hi {name}").is_err());
        assert!(Template::parse("Hi {customer_name").is_err());
        assert!(Template::parse("Hi\u{0} {customer_name}").is_err());
        assert!(Template::parse("Hi\r{customer_name}").is_err());
        assert!(Template::parse("Hi\n{customer_name}").is_ok());
        let t = Template::parse("Hi {customer_name}, see you {time}.").unwrap();
        let values = BTreeMap::from([
            ("customer_name", "Ana".to_owned()),
            ("time", "Mon 9:00".to_owned()),
        ]);
        assert_eq!(t.render(&values), "Hi Ana, see you Mon 9:00.");
        for kind in MessageKind::TEMPLATED {
            assert!(Template::parse(kind.default_template()).is_ok(), "{kind}");
        }
    }

    #[test]
    fn quiet_hours_across_midnight_defer_to_the_local_end() {
        let q = QuietHours::from_stored("21:00", "08:00");
        let zone: Tz = "America/Chicago".parse().unwrap();
        // 22:30 local (CST, UTC-6) -> 08:00 the next morning.
        let late = Utc.with_ymd_and_hms(2026, 1, 15, 4, 30, 0).unwrap();
        assert_eq!(
            q.defer_until(late, zone),
            Some(Utc.with_ymd_and_hms(2026, 1, 15, 14, 0, 0).unwrap())
        );
        // 06:00 local -> 08:00 the same morning.
        let early = Utc.with_ymd_and_hms(2026, 1, 15, 12, 0, 0).unwrap();
        assert_eq!(
            q.defer_until(early, zone),
            Some(Utc.with_ymd_and_hms(2026, 1, 15, 14, 0, 0).unwrap())
        );
        // Noon local: no wait.
        let noon = Utc.with_ymd_and_hms(2026, 1, 15, 18, 0, 0).unwrap();
        assert_eq!(q.defer_until(noon, zone), None);
        // Equal start and end: never quiet.
        assert_eq!(
            QuietHours::from_stored("08:00", "08:00").defer_until(late, zone),
            None
        );
    }

    #[test]
    fn only_a_whole_keyword_counts() {
        assert_eq!(SmsKeyword::of(" stop "), Some(SmsKeyword::Stop));
        assert_eq!(SmsKeyword::of("Unsubscribe"), Some(SmsKeyword::Stop));
        assert_eq!(SmsKeyword::of("unstop"), Some(SmsKeyword::Start));
        assert_eq!(SmsKeyword::of("yes"), None);
        assert_eq!(SmsKeyword::of("please stop by at 5"), None);
    }

    #[test]
    fn bodies_are_bounded_per_channel() {
        assert!(MessageBody::parse(&"a".repeat(1601), Channel::Sms).is_err());
        assert!(MessageBody::parse(&"a".repeat(1601), Channel::Email).is_ok());
        assert!(MessageBody::parse("  ", Channel::Sms).is_err());
        assert!(MessageBody::parse("line\nline", Channel::Sms).is_ok());
        assert!(MessageBody::parse("bell\u{7}", Channel::Sms).is_err());
    }

    #[test]
    fn a_message_status_only_moves_forward() {
        use super::MessageStatus::*;
        assert!(
            Queued.may_become(Sent) && Sending.may_become(Delivered) && Sent.may_become(Failed)
        );
        assert!(!Delivered.may_become(Sent) && !Delivered.may_become(Failed));
        assert!(!Sent.may_become(Sent) && !Sent.may_become(Sending));
        for status in super::MessageStatus::ALL {
            assert_eq!(
                status.as_str().parse::<super::MessageStatus>().unwrap(),
                status
            );
        }
        assert!("lost".parse::<super::MessageStatus>().is_err());
    }
}
