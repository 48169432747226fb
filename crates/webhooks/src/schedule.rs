//! When to try again: the example schedule of Standard Webhooks, with jitter so
//! that deliveries which failed together (a receiver's outage) do not all come
//! back at the same second; and when to give up on an endpoint altogether.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use rand::Rng;

const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;

/// The waits after the first attempt, the second, and so on.
pub const RETRY_SCHEDULE: [Duration; 9] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * MINUTE),
    Duration::from_secs(30 * MINUTE),
    Duration::from_secs(2 * HOUR),
    Duration::from_secs(5 * HOUR),
    Duration::from_secs(10 * HOUR),
    Duration::from_secs(14 * HOUR),
    Duration::from_secs(20 * HOUR),
    Duration::from_secs(24 * HOUR),
];

/// The first attempt and one after each wait of the schedule.
pub const MAX_ATTEMPTS: u32 = RETRY_SCHEDULE.len() as u32 + 1;

/// Each wait is moved by up to this share of itself, either way.
pub const JITTER: f64 = 0.1;

/// An endpoint that has failed every attempt for this long is disabled.
pub const DISABLE_AFTER_DAYS: i64 = 5;

/// How long to wait after `attempts_made` attempts (counted from 1, the first
/// delivery) have all failed; `None` once the last one has. The job layer
/// passes `&mut rand::thread_rng()`; tests a seeded generator.
pub fn retry_delay(attempts_made: u32, rng: &mut impl Rng) -> Option<Duration> {
    let base = *RETRY_SCHEDULE.get(attempts_made.saturating_sub(1) as usize)?;
    Some(base.mul_f64(1.0 + rng.gen_range(-JITTER..=JITTER)))
}

/// Whether an endpoint whose attempts have all failed since `failing_since`
/// (the first failure after its last success) is to be disabled now.
pub fn should_disable(failing_since: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now.signed_duration_since(failing_since) >= TimeDelta::days(DISABLE_AFTER_DAYS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn follows_the_example_schedule_within_the_jitter() {
        let expected = [
            5,
            5 * 60,
            30 * 60,
            2 * 3600,
            5 * 3600,
            10 * 3600,
            14 * 3600,
            20 * 3600,
            24 * 3600,
        ];
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..200 {
            for (i, secs) in expected.iter().enumerate() {
                let delay = retry_delay(i as u32 + 1, &mut rng).unwrap().as_secs_f64();
                let secs = *secs as f64;
                assert!(
                    delay >= secs * 0.9 && delay <= secs * 1.1,
                    "after attempt {}: {delay} s",
                    i + 1
                );
            }
        }
    }

    #[test]
    fn stops_after_the_tenth_attempt() {
        let mut rng = StdRng::seed_from_u64(1);
        assert_eq!(MAX_ATTEMPTS, 10);
        assert!(retry_delay(9, &mut rng).is_some());
        assert_eq!(retry_delay(10, &mut rng), None);
        assert_eq!(retry_delay(u32::MAX, &mut rng), None);
    }

    #[test]
    fn the_waits_are_spread() {
        let mut rng = StdRng::seed_from_u64(3);
        let delays: std::collections::HashSet<Duration> =
            (0..50).map(|_| retry_delay(3, &mut rng).unwrap()).collect();
        assert!(delays.len() > 40, "{} distinct waits", delays.len());
        let mean = delays.iter().map(Duration::as_secs_f64).sum::<f64>() / delays.len() as f64;
        // Spread both ways around 30 minutes, not only later.
        assert!((mean - 1800.0).abs() < 60.0, "{mean}");
    }

    #[test]
    fn disables_after_five_days_of_failures() {
        let now = Utc::now();
        assert!(!should_disable(now, now));
        assert!(!should_disable(
            now - TimeDelta::days(5) + TimeDelta::minutes(1),
            now
        ));
        assert!(should_disable(now - TimeDelta::days(5), now));
        assert!(should_disable(now - TimeDelta::days(9), now));
    }
}
