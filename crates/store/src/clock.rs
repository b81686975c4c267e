//! The one reader of the wall clock. `serve` runs on the system clock; `tick --as-of`, replays and
//! tests on a fixed one. Everything else asks the [`Clock`] it was given (the store's, the
//! server's): nothing else in the workspace reads the wall clock, and a test (`cli/tests/house.rs`) checks that.
//! Monotonic timers (`Instant`, tokio's sleeps) measure durations and are not wall-clock reads.

use chrono::{DateTime, NaiveDate, Utc};

/// The time source: the system's, or a fixed instant (`tick --as-of`, tests).
#[derive(Clone, Copy, Debug, Default)]
pub struct Clock(Option<i64>);

impl Clock {
    /// The wall clock.
    pub fn system() -> Clock {
        Clock(None)
    }

    /// Always `at`.
    pub fn fixed(at: DateTime<Utc>) -> Clock {
        Clock(Some(at.timestamp_micros()))
    }

    /// Microseconds since the Unix epoch, as the store keeps instants.
    pub fn now_micros(&self) -> i64 {
        self.0.unwrap_or_else(|| Utc::now().timestamp_micros())
    }

    pub fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(self.now_micros()).unwrap_or_default()
    }

    /// The UTC day of [`Clock::now`].
    pub fn today(&self) -> NaiveDate {
        self.now().date_naive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_clock_stays_and_the_system_clock_moves() {
        let at = DateTime::parse_from_rfc3339("2026-11-30T23:59:59Z").unwrap().to_utc();
        let clock = Clock::fixed(at);
        assert_eq!(clock.now(), at);
        assert_eq!(clock.today().to_string(), "2026-11-30");
        assert!(Clock::system().now().timestamp() > 1_700_000_000);
    }
}
