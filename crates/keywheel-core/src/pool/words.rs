//! The words people read about keys, written once for both faces: a key status in words,
//! a key's availability as a short label and as a sentence, and what a `GET /key` check
//! found. The CLI prints these strings and the app's views show them; neither writes its own.

use chrono::{DateTime, Utc};

use crate::catalogue::KeyCheck;
use crate::ledger::KeyStatus;
use crate::ledger::request_log::{RequestRow, StatusClass};
use crate::ledger::reserve::{Availability, RequestState};
use crate::openrouter::failure::FailureClass;

impl KeyStatus {
    /// The status in words: `OK`, `invalid key`, `out of credit`, `spend limit reached`.
    pub fn words(self) -> &'static str {
        match self {
            KeyStatus::Ok => "OK",
            KeyStatus::Invalid => "invalid key",
            KeyStatus::NoCredit => "out of credit",
            KeyStatus::SpendLimited => "spend limit reached",
        }
    }
}

impl FailureClass {
    /// A few words for a badge: `rate limited`, `invalid key`, `account spent today`, …
    pub fn label(self) -> &'static str {
        match self {
            FailureClass::BadRequest => "bad request",
            FailureClass::KeyInvalid => "invalid key",
            FailureClass::NoCredit => "no credit",
            FailureClass::InFlightBudget => "too many paid in flight",
            FailureClass::RequestTooHeavy => "too heavy for the balance",
            FailureClass::KeySpendLimit => "spend limit reached",
            FailureClass::Moderation => "refused by moderation",
            FailureClass::ModelUnavailable => "model unavailable",
            FailureClass::AccountDailyExhausted => "account spent today",
            FailureClass::RateLimited => "rate limited",
            FailureClass::Transient => "temporary failure",
            FailureClass::Cancelled => "cancelled",
        }
    }
}

impl StatusClass {
    /// A few words for a badge: `answered`, `cached`, or the failure's
    /// [`FailureClass::label`]; a word this Keywheel does not know, with spaces for `_`.
    pub fn label(&self) -> String {
        match self {
            StatusClass::Ok => "answered".into(),
            StatusClass::Cached => "cached".into(),
            StatusClass::Failure(c) => c.label().into(),
            StatusClass::Other(s) => s.replace('_', " "),
        }
    }
}

impl RequestRow {
    /// [`RequestRow::outcome`] in words, for the request log's badge: `cached`, the class's
    /// [`StatusClass::label`], or the state while there is no class (`in flight`,
    /// `abandoned`).
    pub fn outcome_label(&self) -> String {
        if self.cached {
            return StatusClass::Cached.label();
        }
        match (&self.status_class, self.state) {
            (Some(c), _) => c.label(),
            (None, RequestState::Reserved) => "in flight".into(),
            (None, RequestState::Done) => "answered".into(),
            (None, RequestState::Failed) => "failed".into(),
            (None, RequestState::Abandoned) => "abandoned".into(),
        }
    }
}

/// `14:05 UTC`, with the date in front when it is more than a day away from `now`.
pub fn utc_time(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    if (at - now).num_seconds().abs() > 24 * 3600 {
        at.format("%Y-%m-%d %H:%M UTC").to_string()
    } else {
        at.format("%H:%M UTC").to_string()
    }
}

/// A USD amount: `$0`, `$0.00012` (small amounts keep two significant digits), `$1.50`.
pub fn cost(c: f64) -> String {
    if c == 0.0 {
        "$0".into()
    } else if c.abs() < 0.01 {
        let digits = (1.0 - c.abs().log10().floor()).max(0.0) as usize;
        format!("${c:.digits$}")
    } else {
        format!("${c:.2}")
    }
}

impl Availability {
    /// A short label for a badge or a table cell: `ready`, `disabled`, `invalid key`,
    /// `spent until 00:00 UTC`, `account spent until 00:00 UTC`, …
    pub fn label(&self, now: DateTime<Utc>) -> String {
        match self {
            Availability::Usable => "ready".into(),
            Availability::Disabled => "disabled".into(),
            Availability::Broken { status } => status.words().into(),
            Availability::Until { status, until } => {
                format!("{} until {}", status.words(), utc_time(*until, now))
            }
            Availability::KeySpent { until } => format!("spent until {}", utc_time(*until, now)),
            Availability::AccountSpent { until } => {
                format!("account spent until {}", utc_time(*until, now))
            }
        }
    }

    /// A full sentence: what the state means and what to do.
    pub fn sentence(&self, now: DateTime<Utc>) -> String {
        match self {
            Availability::Usable => "Ready to use.".into(),
            Availability::Disabled => {
                "Disabled: Keywheel will not use it until you enable it.".into()
            }
            Availability::Broken {
                status: KeyStatus::Invalid,
            } => "OpenRouter rejects this key: it was revoked or mistyped. Replace it.".into(),
            Availability::Broken {
                status: KeyStatus::NoCredit,
            } => "This key has no credit left: add credit on OpenRouter, then check it.".into(),
            Availability::Broken { status } => {
                format!("Unusable ({}); check it again later.", status.words())
            }
            Availability::Until { status, until } => format!(
                "Unusable ({}) until {}; other keys are used meanwhile.",
                status.words(),
                utc_time(*until, now)
            ),
            Availability::KeySpent { until } => format!(
                "Its daily cap is spent; it frees at {}.",
                utc_time(*until, now)
            ),
            Availability::AccountSpent { until } => format!(
                "Its account is spent for the day; it frees at {}.",
                utc_time(*until, now)
            ),
        }
    }
}

impl KeyCheck {
    /// What the check found, in one sentence: accepted (tier, spend, today's free-model
    /// requests on the account) or why not.
    pub fn summary(&self) -> String {
        let Some(info) = self.info.as_ref().filter(|_| self.ok) else {
            return self
                .error
                .clone()
                .unwrap_or_else(|| "OpenRouter did not accept this key.".into());
        };
        let mut parts = vec!["OpenRouter accepts it".to_string()];
        if info.is_management_key == Some(true) {
            parts.push("but it is a management key and cannot chat".into());
        }
        parts.push(if info.is_free_tier == Some(true) {
            "free tier".into()
        } else {
            "paid".into()
        });
        match (info.limit, info.usage) {
            (Some(limit), usage) => parts.push(format!(
                "{} of {} spent",
                cost(usage.unwrap_or(0.0)),
                cost(limit)
            )),
            (None, Some(usage)) if usage > 0.0 => {
                parts.push(format!("no spend limit, {} spent so far", cost(usage)))
            }
            (None, _) => parts.push("no spend limit".into()),
        }
        if let Some(free) = &info.free_model_daily_requests
            && let (Some(used), Some(limit)) = (free.used, free.limit)
        {
            parts.push(format!(
                "{used} of {limit} free-model requests used today on its account"
            ));
        }
        format!("{}.", parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, 20, 47, 55).unwrap()
    }

    fn midnight() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, 0, 0, 0).unwrap()
    }

    #[test]
    fn every_status_class_has_words_not_a_stored_word() {
        use strum::VariantArray;
        for c in FailureClass::VARIANTS {
            let label = StatusClass::Failure(*c).label();
            assert!(!label.contains('_') && !label.is_empty(), "{c:?}: {label}");
        }
        assert_eq!(StatusClass::parse("rate_limited").label(), "rate limited");
        assert_eq!(StatusClass::parse("ok").label(), "answered");
        assert_eq!(StatusClass::parse("new_kind").label(), "new kind");
    }

    // The cases the app's format tests held when the UI wrote these words.
    #[test]
    fn a_spent_key_says_when_it_frees_in_utc() {
        let av = Availability::KeySpent { until: midnight() };
        assert_eq!(av.label(now()), "spent until 00:00 UTC");
        assert_eq!(
            av.sentence(now()),
            "Its daily cap is spent; it frees at 00:00 UTC."
        );
        let av = Availability::AccountSpent { until: midnight() };
        assert_eq!(av.label(now()), "account spent until 00:00 UTC");
        assert!(av.sentence(now()).contains("account is spent"));
    }

    #[test]
    fn broken_keys_say_what_to_do() {
        let invalid = Availability::Broken {
            status: KeyStatus::Invalid,
        };
        assert_eq!(invalid.label(now()), "invalid key");
        assert!(invalid.sentence(now()).contains("Replace it"));
        let broke = Availability::Broken {
            status: KeyStatus::NoCredit,
        };
        assert!(broke.sentence(now()).contains("add credit"));
        assert_eq!(KeyStatus::SpendLimited.words(), "spend limit reached");
    }

    #[test]
    fn usable_disabled_and_far_limits() {
        assert_eq!(Availability::Usable.label(now()), "ready");
        assert!(
            Availability::Disabled
                .sentence(now())
                .contains("until you enable it")
        );
        let far = Availability::Until {
            status: KeyStatus::NoCredit,
            until: Utc.with_ymd_and_hms(2026, 11, 29, 0, 0, 0).unwrap(),
        };
        assert_eq!(far.label(now()), "out of credit until 2026-11-29 00:00 UTC");
    }

    #[test]
    fn costs_keep_their_significant_digits() {
        assert_eq!(cost(0.0), "$0");
        assert_eq!(cost(0.000123), "$0.00012");
        assert_eq!(cost(1.5), "$1.50");
    }

    #[test]
    fn a_check_summary_says_what_get_key_found() {
        let info: crate::openrouter::KeyInfo = serde_json::from_value(serde_json::json!({
            "is_free_tier": true, "usage": 0.0, "limit": null,
            "free_model_daily_requests": {"limit": 50, "used": 3, "remaining": 47}
        }))
        .unwrap();
        let check = KeyCheck {
            id: crate::KeyId::from_stored("abc"),
            masked: "sk-or-v1-…abcd".into(),
            ok: true,
            info: Some(info),
            error: None,
            note: None,
            summary: String::new(),
        };
        assert_eq!(
            check.summary(),
            "OpenRouter accepts it, free tier, no spend limit, 3 of 50 free-model requests used today on its account."
        );
        let refused = KeyCheck {
            ok: false,
            info: None,
            error: Some("OpenRouter rejected the key.".into()),
            ..check
        };
        assert_eq!(refused.summary(), "OpenRouter rejected the key.");
    }
}
