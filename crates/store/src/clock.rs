//! The one reader of the wall clock. `serve` runs on the system clock; `tick --as-of`, replays and
//! tests on a fixed one. Everything else asks the [`Clock`] it was given (the store's, the
//! server's): nothing else in the workspace reads the wall clock, and a test (`cli/tests/house.rs`) checks that.
//! Monotonic timers (`Instant`, tokio's sleeps) measure durations and are not wall-clock reads.

use chrono::{DateTime, NaiveDate, Utc};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// The time source: the system's, or a fixed instant that tests and `tick --as-of` set.
#[derive(Clone, Debug, Default)]
pub struct Clock(Option<Arc<AtomicI64>>);

impl Clock {
    /// The wall clock.
    pub fn system() -> Clock {
        Clock(None)
    }

    /// An instant that stays until [`Clock::set`] moves it.
    pub fn fixed(at: DateTime<Utc>) -> Clock {
        Clock(Some(Arc::new(AtomicI64::new(at.timestamp_micros()))))
    }

    /// Moves a fixed clock (and every copy of it) to `at`; a system clock cannot be set.
    pub fn set(&self, at: DateTime<Utc>) {
        match &self.0 {
            Some(t) => t.store(at.timestamp_micros(), Ordering::Relaxed),
            None => tracing::warn!("the system clock cannot be set"),
        }
    }

    pub fn is_fixed(&self) -> bool {
        self.0.is_some()
    }

    /// Microseconds since the Unix epoch, as the store keeps instants.
    pub fn now_micros(&self) -> i64 {
        match &self.0 {
            Some(t) => t.load(Ordering::Relaxed),
            None => Utc::now().timestamp_micros(),
        }
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
    fn a_fixed_clock_stays_until_set_and_its_copies_follow() {
        let at = DateTime::parse_from_rfc3339("2026-11-30T23:59:59Z").unwrap().to_utc();
        let clock = Clock::fixed(at);
        let copy = clock.clone();
        assert_eq!(copy.now(), at);
        assert_eq!(copy.today().to_string(), "2026-11-30");
        clock.set(at + chrono::Days::new(1));
        assert_eq!(copy.today().to_string(), "2026-12-01");
        assert!(!Clock::system().is_fixed());
        assert!(Clock::system().now().timestamp() > 1_700_000_000);
    }
}
