//! The injected clock and the one place the UTC day is computed.
//!
//! Nothing in the core calls `Utc::now()` directly: every "now" comes from a [`Clock`], so tests
//! drive day rollovers and per-minute windows with a [`FakeClock`].
//!
//! The wall clock can step back (NTP, a person fixing the time). [`SystemClock`] notices when
//! it reads an earlier time than it read before in this process and logs the jump once per
//! jump; the ledger does not trust times from the future either (the per-minute window and
//! the instance heartbeats ignore them).

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

/// The latest wall-clock reading in this process, in ms (for noticing a step back).
static LATEST_MS: AtomicI64 = AtomicI64::new(i64::MIN);

/// A step back smaller than this is jitter between threads, not a jump.
const JUMP_MS: i64 = 1_000;

impl Clock for SystemClock {
    // The one wall-clock read of Keywheel (clippy.toml forbids it everywhere else).
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> DateTime<Utc> {
        let now = Utc::now();
        note_reading(&LATEST_MS, now.timestamp_millis());
        now
    }
}

/// Records a reading; logs (and returns the size of) a step back of [`JUMP_MS`] or more.
fn note_reading(latest: &AtomicI64, ms: i64) -> Option<i64> {
    let before = latest.fetch_max(ms, Ordering::SeqCst);
    if before != i64::MIN && before - ms >= JUMP_MS {
        // Reset so the same jump is logged once, not on every reading until time catches up.
        latest.store(ms, Ordering::SeqCst);
        tracing::warn!(
            back_ms = before - ms,
            "the system clock stepped back by {} s; per-minute windows and heartbeats ignore times from the future",
            (before - ms) / 1000
        );
        return Some(before - ms);
    }
    None
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

/// Now by the system clock, for the few places with no pool to ask (timestamps of chat
/// messages, benchmark marks, OpenAI `created` fields); everything that decides uses an
/// injected [`Clock`].
pub fn system_now() -> DateTime<Utc> {
    SystemClock.now()
}

/// The UTC day an instant belongs to. The only place a day is computed.
pub fn utc_day(t: DateTime<Utc>) -> NaiveDate {
    t.date_naive()
}

/// The UTC day as stored in the ledger (`YYYY-MM-DD`).
pub fn day_key(t: DateTime<Utc>) -> String {
    use chrono::Datelike;
    let d = utc_day(t);
    // Written out rather than through chrono's `format`, which parses "%Y-%m-%d" on every call
    // (the request path computes the day several times per request).
    match d.year() {
        y @ 0..=9999 => {
            let mut s = String::with_capacity(10);
            for n in [y as u32 / 100, y as u32 % 100] {
                push_two(&mut s, n);
            }
            s.push('-');
            push_two(&mut s, d.month());
            s.push('-');
            push_two(&mut s, d.day());
            s
        }
        _ => d.format("%Y-%m-%d").to_string(),
    }
}

fn push_two(s: &mut String, n: u32) {
    s.push(char::from(b'0' + (n / 10) as u8));
    s.push(char::from(b'0' + (n % 10) as u8));
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
    fn day_keys_read_as_chrono_formats_them() {
        for (y, m, d) in [(2026, 1, 5), (1999, 12, 31), (905, 7, 9), (10_000, 2, 29)] {
            let t = Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).single().unwrap();
            assert_eq!(day_key(t), t.format("%Y-%m-%d").to_string());
        }
    }

    #[test]
    fn a_step_back_is_noticed_once() {
        let latest = AtomicI64::new(i64::MIN);
        assert_eq!(note_reading(&latest, 100_000), None);
        assert_eq!(note_reading(&latest, 100_500), None);
        assert_eq!(note_reading(&latest, 100_200), None, "jitter is not a jump");
        assert_eq!(note_reading(&latest, 40_500), Some(60_000));
        assert_eq!(note_reading(&latest, 41_000), None, "logged once");
        assert!(SystemClock.now().timestamp_millis() > 0);
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
