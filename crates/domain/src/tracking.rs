//! The rules for GPS pings: what a valid ping is, and that a position is kept
//! only inside one of the sender's shifts.

use chrono::{DateTime, Duration, Utc};

use crate::Coordinates;

/// Most pings one request may carry.
pub const MAX_PINGS_PER_BATCH: usize = 1000;

/// Device clocks drift: a ping may claim to be this far in the future.
pub fn future_tolerance() -> Duration {
    Duration::minutes(2)
}

/// Why a ping was not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Not a ping: missing or mistyped fields, or an id that is not a UUID.
    Malformed,
    InvalidCoordinates,
    InvalidAccuracy,
    InvalidSpeed,
    InvalidHeading,
    InFuture,
    /// Less accurate than the account accepts.
    LowAccuracy,
    /// Not recorded inside one of the sender's shifts.
    OutsideShift,
    /// Recorded closer in time to another of the sender's pings than the
    /// server's per-person rate allows: no real device reports that often.
    TooFrequent,
    /// The account stored as many pings today as the server allows it.
    OverQuota,
}

impl Rejection {
    pub fn as_str(self) -> &'static str {
        match self {
            Rejection::Malformed => "malformed",
            Rejection::InvalidCoordinates => "invalid_coordinates",
            Rejection::InvalidAccuracy => "invalid_accuracy",
            Rejection::InvalidSpeed => "invalid_speed",
            Rejection::InvalidHeading => "invalid_heading",
            Rejection::InFuture => "in_future",
            Rejection::LowAccuracy => "low_accuracy",
            Rejection::OutsideShift => "outside_shift",
            Rejection::TooFrequent => "too_frequent",
            Rejection::OverQuota => "over_quota",
        }
    }
}

/// A ping's measurements as the device sent them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    pub recorded_at: DateTime<Utc>,
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: Option<f64>,
    pub speed_mps: Option<f64>,
    pub heading_deg: Option<f64>,
}

/// Fastest plausible ground speed: 150 m/s (540 km/h).
const MAX_SPEED_MPS: f64 = 150.0;

impl Reading {
    /// Checks what needs no shift: ranges, and the clock.
    pub fn check(&self, now: DateTime<Utc>, accuracy_limit_m: f64) -> Result<(), Rejection> {
        Coordinates::parse(self.lat, self.lon).map_err(|_| Rejection::InvalidCoordinates)?;
        if self.accuracy_m.is_some_and(|a| !a.is_finite() || a < 0.0) {
            return Err(Rejection::InvalidAccuracy);
        }
        if self
            .speed_mps
            .is_some_and(|s| !s.is_finite() || !(0.0..=MAX_SPEED_MPS).contains(&s))
        {
            return Err(Rejection::InvalidSpeed);
        }
        if self
            .heading_deg
            .is_some_and(|h| !h.is_finite() || !(0.0..360.0).contains(&h))
        {
            return Err(Rejection::InvalidHeading);
        }
        if self.recorded_at > now + future_tolerance() {
            return Err(Rejection::InFuture);
        }
        if self.accuracy_m.is_some_and(|a| a > accuracy_limit_m) {
            return Err(Rejection::LowAccuracy);
        }
        Ok(())
    }
}

/// A shift as a time window: from clock-in to clock-out, or open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
}

impl Window {
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        at >= self.start && self.end.is_none_or(|end| at <= end)
    }
}

/// The index of the window that holds `at`, if any.
pub fn window_of(windows: &[Window], at: DateTime<Utc>) -> Option<usize> {
    windows.iter().position(|w| w.contains(at))
}

/// What becomes of one in-shift reading of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Store,
    /// Its id was stored before, or came earlier in the batch: a resend.
    Duplicate,
    Refused(Rejection),
}

/// Judges a batch's in-shift readings (`id`, time) against the sender's pings
/// already stored around those times: a resend is a duplicate; a reading
/// within `min_interval` of a stored or an already admitted one is too
/// frequent; beyond `room` (what the account's daily quota has left) it is
/// over quota. Earlier readings are admitted first. Returns one verdict per
/// reading, in the batch's order.
pub fn admit<I: Copy + Eq + std::hash::Hash>(
    batch: &[(I, DateTime<Utc>)],
    stored: &[(I, DateTime<Utc>)],
    min_interval: Duration,
    mut room: u64,
) -> Vec<Admission> {
    let mut seen: std::collections::HashSet<I> = stored.iter().map(|(id, _)| *id).collect();
    let mut times: Vec<DateTime<Utc>> = stored.iter().map(|(_, at)| *at).collect();
    times.sort_unstable();
    let mut order: Vec<usize> = (0..batch.len()).collect();
    order.sort_by_key(|&i| batch[i].1);
    let mut verdicts = vec![Admission::Store; batch.len()];
    for i in order {
        let (id, at) = batch[i];
        verdicts[i] = if !seen.insert(id) {
            Admission::Duplicate
        } else if too_close(&times, at, min_interval) {
            Admission::Refused(Rejection::TooFrequent)
        } else if room == 0 {
            Admission::Refused(Rejection::OverQuota)
        } else {
            room -= 1;
            let at_index = times.partition_point(|t| *t < at);
            times.insert(at_index, at);
            Admission::Store
        };
    }
    verdicts
}

/// Whether a time in `sorted` lies less than `min_interval` from `at`.
fn too_close(sorted: &[DateTime<Utc>], at: DateTime<Utc>, min_interval: Duration) -> bool {
    if min_interval <= Duration::zero() {
        return false;
    }
    let next = sorted.partition_point(|t| *t < at);
    let near = |t: &DateTime<Utc>| (*t - at).abs() < min_interval;
    sorted.get(next).is_some_and(near)
        || next
            .checked_sub(1)
            .and_then(|p| sorted.get(p))
            .is_some_and(near)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(lat: f64, lon: f64) -> Reading {
        Reading {
            recorded_at: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            lat,
            lon,
            accuracy_m: Some(10.0),
            speed_mps: Some(3.0),
            heading_deg: Some(90.0),
        }
    }

    #[test]
    fn each_range_has_its_reason() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        assert_eq!(reading(10.0, 10.0).check(now, 100.0), Ok(()));
        assert_eq!(
            reading(91.0, 0.0).check(now, 100.0),
            Err(Rejection::InvalidCoordinates)
        );
        assert_eq!(
            reading(0.0, -181.0).check(now, 100.0),
            Err(Rejection::InvalidCoordinates)
        );
        let with = |f: fn(&mut Reading)| {
            let mut r = reading(1.0, 1.0);
            f(&mut r);
            r.check(now, 100.0)
        };
        assert_eq!(
            with(|r| r.accuracy_m = Some(-1.0)),
            Err(Rejection::InvalidAccuracy)
        );
        assert_eq!(
            with(|r| r.speed_mps = Some(f64::NAN)),
            Err(Rejection::InvalidSpeed)
        );
        assert_eq!(
            with(|r| r.heading_deg = Some(360.0)),
            Err(Rejection::InvalidHeading)
        );
        assert_eq!(
            with(|r| r.recorded_at += Duration::minutes(3)),
            Err(Rejection::InFuture)
        );
        assert_eq!(with(|r| r.recorded_at += Duration::minutes(1)), Ok(()));
        assert_eq!(
            with(|r| r.accuracy_m = Some(150.0)),
            Err(Rejection::LowAccuracy)
        );
    }

    #[test]
    fn windows_include_their_ends_and_open_ones_run_on() {
        let t = |s: i64| DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap();
        let windows = [
            Window {
                start: t(0),
                end: Some(t(100)),
            },
            Window {
                start: t(200),
                end: None,
            },
        ];
        assert_eq!(window_of(&windows, t(0)), Some(0));
        assert_eq!(window_of(&windows, t(100)), Some(0));
        assert_eq!(window_of(&windows, t(150)), None);
        assert_eq!(window_of(&windows, t(-1)), None);
        assert_eq!(window_of(&windows, t(10_000)), Some(1));
    }

    #[test]
    fn resends_repeats_and_the_quota_each_have_their_verdict() {
        let t = |ms: i64| DateTime::from_timestamp_millis(1_700_000_000_000 + ms).unwrap();
        let second = Duration::seconds(1);
        let stored = [(1, t(0)), (2, t(5_000))];
        // In the batch's order; judged in time order.
        let batch = [
            (1, t(0)),      // a resend
            (3, t(5_400)),  // 400 ms after a stored one
            (4, t(2_000)),  // clear of both
            (5, t(2_999)),  // 999 ms after the one just admitted
            (6, t(3_000)),  // a whole second after it
            (4, t(2_000)),  // the same ping twice in one batch
            (7, t(10_000)), // clear, but over the quota of two
        ];
        use Admission::*;
        assert_eq!(
            admit(&batch, &stored, second, 2),
            [
                Duplicate,
                Refused(Rejection::TooFrequent),
                Store,
                Refused(Rejection::TooFrequent),
                Store,
                Duplicate,
                Refused(Rejection::OverQuota),
            ]
        );
        // No rate limit: only resends and the quota count.
        let none = admit(&[(8, t(1)), (9, t(1))], &stored, Duration::zero(), 10);
        assert_eq!(none, [Store, Store]);
        // A quota of nothing stores nothing, in time order.
        assert_eq!(
            admit(&[(8, t(50_000))], &[], second, 0),
            [Refused(Rejection::OverQuota)]
        );
    }
}
