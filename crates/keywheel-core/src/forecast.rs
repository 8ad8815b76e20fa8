//! Forecasts: at today's pace, when does a key or an account hit its daily cap?

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::clock::{human_duration, next_utc_midnight};

/// When a key or an account runs out today, at the current pace.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Forecast {
    /// Key id or account.
    pub subject: String,
    /// Requests today.
    pub today: u32,
    /// The daily cap.
    pub cap: u32,
    /// When it would hit the cap, if before the UTC reset.
    pub hits_cap_at: Option<DateTime<Utc>>,
    /// `capped`, `not today`, or `at 17:40 UTC (in 3 h 5 min)`.
    pub summary: String,
}

/// Projects `today` requests since `first_today` forward at the same pace.
pub fn forecast(
    subject: &str,
    today: u32,
    cap: u32,
    first_today: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Forecast {
    let reset = next_utc_midnight(now);
    let (hits_cap_at, summary) = if today >= cap {
        (None, "capped".to_string())
    } else if let (Some(first), true) = (first_today, today > 0) {
        // Pace over at least ten minutes, so one early request does not predict a flood.
        let elapsed = (now - first).max(Duration::minutes(10));
        let per_request = elapsed / i32::try_from(today).unwrap_or(i32::MAX);
        let at = now + per_request * i32::try_from(cap - today).unwrap_or(i32::MAX);
        if at < reset {
            (
                Some(at),
                format!(
                    "at {} (in {})",
                    at.format("%H:%M UTC"),
                    human_duration(at - now)
                ),
            )
        } else {
            (None, "not today".to_string())
        }
    } else {
        (None, "not today".to_string())
    };
    Forecast {
        subject: subject.to_string(),
        today,
        cap,
        hits_cap_at,
        summary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_steady_pace_predicts_the_cap_time() {
        let now = Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap();
        let f = forecast("k", 25, 50, Some(now - Duration::hours(2)), now);
        assert_eq!(
            f.hits_cap_at,
            Some(now + Duration::hours(2)),
            "25 more at 25 per 2 h"
        );
        assert!(f.summary.starts_with("at 14:00 UTC"), "{}", f.summary);
    }

    #[test]
    fn slow_keys_and_capped_keys() {
        let now = Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap();
        assert_eq!(
            forecast("k", 2, 50, Some(now - Duration::hours(6)), now).summary,
            "not today"
        );
        assert_eq!(forecast("k", 50, 50, Some(now), now).summary, "capped");
        assert_eq!(forecast("k", 0, 50, None, now).summary, "not today");
    }
}
