//! The injected clock and the one place the UTC day is computed.
//!
//! Nothing in the core calls `Utc::now()` directly: every "now" comes from a [`Clock`], so tests
//! drive day rollovers and per-minute windows with a [`FakeClock`].

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};

/// A source of "now".
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current instant in UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// A shared clock handle.
pub type SharedClock = Arc<dyn Clock>;

/// The real wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to; for tests.
#[derive(Debug)]
pub struct FakeClock {
    ms: AtomicI64,
}

impl FakeClock {
    /// A fake clock standing at `at`.
    pub fn new(at: DateTime<Utc>) -> Self {
        Self {
            ms: AtomicI64::new(at.timestamp_millis()),
        }
    }

    /// A fake clock standing at `YYYY-MM-DD hh:mm:ss` UTC.
    pub fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Self {
        Self::new(
            Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
                .single()
                .expect("valid fake time"),
        )
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        self.ms.fetch_add(by.num_milliseconds(), Ordering::SeqCst);
    }

    /// Puts the clock at `at`.
    pub fn set(&self, at: DateTime<Utc>) {
        self.ms.store(at.timestamp_millis(), Ordering::SeqCst);
    }
}

impl Clock for FakeClock {
    fn now(&self) -> DateTime<Utc> {
        from_millis(self.ms.load(Ordering::SeqCst))
    }
}

/// A clock pinned at a fixed instant; what `KEYWHEEL_FAKE_NOW` selects (tests of whole processes).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// The UTC day an instant belongs to. The only place a day is computed.
pub fn utc_day(t: DateTime<Utc>) -> NaiveDate {
    t.date_naive()
}

/// The UTC day as stored in the ledger (`YYYY-MM-DD`).
pub fn day_key(t: DateTime<Utc>) -> String {
    utc_day(t).format("%Y-%m-%d").to_string()
}

/// The next 00:00 UTC after `t`: when daily counts reset.
pub fn next_utc_midnight(t: DateTime<Utc>) -> DateTime<Utc> {
    let tomorrow = utc_day(t).succ_opt().expect("date in range");
    Utc.from_utc_datetime(&tomorrow.and_hms_opt(0, 0, 0).expect("midnight"))
}

/// Milliseconds since the epoch back to an instant.
pub fn from_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// A short human duration: `3 h 12 min`, `45 min`, `20 s`.
pub fn human_duration(d: Duration) -> String {
    let secs = d.num_seconds().max(0);
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s} s"),
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

/// `00:00 UTC (01:00 local, in 3 h 12 min)` — how a reset time is shown to people.
pub fn describe_reset(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let local = at.with_timezone(&chrono::Local);
    let utc = at.format("%H:%M UTC");
    let local = local.format("%H:%M local");
    format!("{utc} ({local}, in {})", human_duration(at - now))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_and_midnight() {
        let c = FakeClock::at(2026, 11, 26, 23, 59, 59);
        assert_eq!(day_key(c.now()), "2026-11-26");
        assert_eq!(
            next_utc_midnight(c.now()).to_rfc3339(),
            "2026-11-27T00:00:00+00:00"
        );
        c.advance(Duration::seconds(1));
        assert_eq!(
            day_key(c.now()),
            "2026-11-27",
            "one second later is the next UTC day"
        );
    }

    #[test]
    fn durations_read_like_a_person_wrote_them() {
        assert_eq!(
            human_duration(Duration::seconds(3 * 3600 + 12 * 60 + 5)),
            "3 h 12 min"
        );
        assert_eq!(human_duration(Duration::seconds(45 * 60)), "45 min");
        assert_eq!(human_duration(Duration::seconds(20)), "20 s");
        assert_eq!(human_duration(Duration::seconds(7200)), "2 h");
    }
}
