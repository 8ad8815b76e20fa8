//! Forecasts: at today's pace, when does a key or an account hit its daily cap?

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::clock::{human_duration, next_utc_midnight};

/// Where a key or an account stands against its daily cap at today's pace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Summary {
    /// The cap is reached.
    Capped,
    /// It will not reach the cap before the UTC reset.
    NotToday,
    /// It reaches the cap then.
    At {
        /// When.
        at: DateTime<Utc>,
        /// Seconds from now until then.
        in_secs: u64,
    },
}

impl std::fmt::Display for Summary {
    /// `capped`, `not today`, or `at 17:40 UTC (in 3 h 5 min)` (what `keywheel usage` prints).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Summary::Capped => f.write_str("capped"),
            Summary::NotToday => f.write_str("not today"),
            Summary::At { at, in_secs } => write!(
                f,
                "at {} (in {})",
                at.format("%H:%M UTC"),
                human_duration(Duration::seconds(
                    i64::try_from(*in_secs).unwrap_or(i64::MAX)
                ))
            ),
        }
    }
}

impl Summary {
    /// The forecast as a sentence for a person (the app's Usage view).
    pub fn sentence(&self) -> String {
        match self {
            Summary::Capped => "Daily cap reached.".into(),
            Summary::NotToday => "Will not reach its cap before the reset at this pace.".into(),
            at @ Summary::At { .. } => format!("At this pace it reaches its cap {at}."),
        }
    }
}

/// What a forecast is about: one key, or an account several keys share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    /// `subject` is a key id.
    Key,
    /// `subject` is an account name shared by keys.
    Account,
}

/// When a key or an account runs out today, at the current pace.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Forecast {
    /// Key id or account.
    pub subject: String,
    /// Whether `subject` is a key id or an account.
    pub about: SubjectKind,
    /// Requests today.
    pub today: u32,
    /// The daily cap.
    pub cap: u32,
    /// When it would hit the cap, if before the UTC reset.
    pub hits_cap_at: Option<DateTime<Utc>>,
    /// Capped, not today, or at a time.
    pub summary: Summary,
    /// [`Summary::sentence`].
    pub sentence: String,
}

/// Projects `today` requests since `first_today` forward at the same pace.
pub fn forecast(
    subject: &str,
    about: SubjectKind,
    today: u32,
    cap: u32,
    first_today: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Forecast {
    let reset = next_utc_midnight(now);
    let summary = if today >= cap {
        Summary::Capped
    } else if let (Some(first), true) = (first_today, today > 0) {
        // Pace over at least ten minutes, so one early request does not predict a flood.
        let elapsed = (now - first).max(Duration::minutes(10));
        let per_request = elapsed / i32::try_from(today).unwrap_or(i32::MAX);
        let at = now + per_request * i32::try_from(cap - today).unwrap_or(i32::MAX);
        if at < reset {
            Summary::At {
                at,
                in_secs: u64::try_from((at - now).num_seconds()).unwrap_or(0),
            }
        } else {
            Summary::NotToday
        }
    } else {
        Summary::NotToday
    };
    Forecast {
        subject: subject.to_string(),
        about,
        today,
        cap,
        hits_cap_at: match summary {
            Summary::At { at, .. } => Some(at),
            _ => None,
        },
        sentence: summary.sentence(),
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
        let f = forecast(
            "k",
            SubjectKind::Key,
            25,
            50,
            Some(now - Duration::hours(2)),
            now,
        );
        assert_eq!(
            f.hits_cap_at,
            Some(now + Duration::hours(2)),
            "25 more at 25 per 2 h"
        );
        assert!(
            f.summary.to_string().starts_with("at 14:00 UTC"),
            "{}",
            f.summary
        );
    }

    #[test]
    fn slow_keys_and_capped_keys() {
        let now = Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap();
        assert_eq!(
            forecast(
                "k",
                SubjectKind::Key,
                2,
                50,
                Some(now - Duration::hours(6)),
                now
            )
            .summary
            .to_string(),
            "not today"
        );
        assert_eq!(
            forecast("k", SubjectKind::Key, 50, 50, Some(now), now)
                .summary
                .to_string(),
            "capped"
        );
        assert_eq!(
            forecast("k", SubjectKind::Key, 0, 50, None, now)
                .summary
                .to_string(),
            "not today"
        );
    }

    /// The sentences the app's Usage view shows (they were `forecastSentence` in the UI).
    #[test]
    fn forecasts_become_sentences() {
        assert_eq!(Summary::Capped.sentence(), "Daily cap reached.");
        assert!(Summary::NotToday.sentence().contains("not reach its cap"));
        let now = Utc.with_ymd_and_hms(2026, 11, 26, 14, 35, 0).unwrap();
        let at = Utc.with_ymd_and_hms(2026, 11, 26, 17, 40, 0).unwrap();
        let f = forecast("k", SubjectKind::Key, 25, 50, Some(now - (at - now)), now);
        assert_eq!(f.hits_cap_at, Some(at));
        assert_eq!(
            f.sentence,
            "At this pace it reaches its cap at 17:40 UTC (in 3 h 5 min)."
        );
        assert_eq!(
            serde_json::to_value(&f.summary).unwrap(),
            serde_json::json!({"state": "at", "at": "2026-11-26T17:40:00Z", "in_secs": 11100})
        );
    }
}
