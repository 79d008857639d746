//! Where the engine gets the time from.
//!
//! The [`Crm`](crate::Crm) facade never reads the system clock directly: it
//! asks its [`Clock`]. Production code uses [`SystemClock`]; tests use a
//! [`ManualClock`] they can set and advance, so every timestamp is
//! deterministic. All times are UTC with millisecond precision (finer parts
//! are dropped), which every store can represent exactly.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Duration, Utc};

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// The current time. The facade truncates it to whole milliseconds.
    fn now(&self) -> DateTime<Utc>;
}

/// The operating system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        DateTime::from_timestamp_millis(millis).unwrap_or_default()
    }
}

/// A clock that only moves when told to. Shared between threads safely.
///
/// ```
/// use chrono::{Duration, TimeZone, Utc};
/// use crm_core::{Clock, ManualClock};
///
/// let clock = ManualClock::new(Utc.with_ymd_and_hms(2025, 3, 1, 9, 0, 0).unwrap());
/// clock.advance(Duration::hours(2));
/// assert_eq!(clock.now(), Utc.with_ymd_and_hms(2025, 3, 1, 11, 0, 0).unwrap());
/// ```
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now: Mutex::new(truncate_to_millis(start)),
        }
    }

    /// Moves the clock to `to` (which may be earlier than now).
    pub fn set(&self, to: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(|p| p.into_inner()) = truncate_to_millis(to);
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|p| p.into_inner());
        *now = truncate_to_millis(*now + by);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl<C: Clock + ?Sized> Clock for std::sync::Arc<C> {
    fn now(&self) -> DateTime<Utc> {
        (**self).now()
    }
}

/// Drops everything below the millisecond, the precision every store keeps.
pub fn truncate_to_millis(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_to_millis() {
        let t = DateTime::from_timestamp(1_700_000_000, 123_456_789).unwrap();
        assert_eq!(truncate_to_millis(t).timestamp_subsec_nanos(), 123_000_000);
    }

    #[test]
    fn system_clock_is_recent() {
        assert!(SystemClock.now().timestamp() > 1_700_000_000);
    }
}
