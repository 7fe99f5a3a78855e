//! Time as a port. Logic takes the time from a [`Clock`] so that tests (and TOTP windows, expiries, token
//! checks) are deterministic.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// A point in time, in milliseconds since the Unix epoch (the unit Logto uses on the wire).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const fn from_millis(millis: i64) -> Self {
        Self(millis)
    }

    pub const fn from_secs(secs: i64) -> Self {
        Self(secs.saturating_mul(1000))
    }

    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch (rounded down), as TOTP and token expiries count.
    pub const fn as_secs(self) -> i64 {
        self.0.div_euclid(1000)
    }

    pub const fn plus_secs(self, secs: i64) -> Self {
        Self(self.0.saturating_add(secs.saturating_mul(1000)))
    }

    pub const fn plus_millis(self, millis: i64) -> Self {
        Self(self.0.saturating_add(millis))
    }

    /// The instant as JavaScript's `Date.prototype.toISOString` writes it (`2024-05-06T07:08:09.010Z`), for the
    /// few fields Logto sends as strings. Instants outside years 1970–9999 are clamped to that range's ends.
    pub fn to_iso8601(self) -> String {
        const FORMAT: &[time::format_description::FormatItem<'static>] =
            time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
        // 9999-12-31T23:59:59.999Z.
        const LAST_MILLI_OF_9999: i64 = 253_402_300_799_999;
        let nanos = i128::from(self.0.clamp(0, LAST_MILLI_OF_9999)) * 1_000_000;
        time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
            .ok()
            .and_then(|instant| instant.format(FORMAT).ok())
            .unwrap_or_default()
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({}ms)", self.0)
    }
}

/// Where the domain reads the current time.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// The real clock. Only composition roots (the server, an embedding program) should construct it.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    // The one place that may read the system time.
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> Timestamp {
        let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        Timestamp::from_millis(i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX))
    }
}

/// A clock that always answers the same instant; handy in tests and examples.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub Timestamp);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_is_what_javascript_writes() {
        assert_eq!(Timestamp::from_millis(0).to_iso8601(), "1970-01-01T00:00:00.000Z");
        assert_eq!(Timestamp::from_millis(1_714_979_289_010).to_iso8601(), "2024-05-06T07:08:09.010Z");
        assert_eq!(Timestamp::from_millis(-1).to_iso8601(), "1970-01-01T00:00:00.000Z");
        assert_eq!(Timestamp::from_millis(i64::MAX).to_iso8601(), "9999-12-31T23:59:59.999Z");
    }

    #[test]
    fn seconds_round_down_even_before_the_epoch() {
        assert_eq!(Timestamp::from_millis(1_999).as_secs(), 1);
        assert_eq!(Timestamp::from_millis(-1).as_secs(), -1);
    }

    #[test]
    fn adding_seconds_saturates_instead_of_overflowing() {
        assert_eq!(Timestamp::from_millis(i64::MAX - 5).plus_secs(10).as_millis(), i64::MAX);
    }
}
