//! What a failed OpenRouter call means: the failure classes, the penalties a key can take,
//! [`ApiFailure`], and the one failure → action table ([`FailureClass::remedy`], rules in
//! docs/errors.md).
//!
//! | class | seen on the wire ([`super::classify()`]) | remedy |
//! |---|---|---|
//! | [`BadRequest`](FailureClass::BadRequest) | 400, 413, 422, image errors, `wrong_endpoint` | [`Remedy::Stop`] |
//! | [`RequestTooHeavy`](FailureClass::RequestTooHeavy) | 402 `weight_exceeds_budget`, "can only afford N" | [`Remedy::Stop`] |
//! | [`Moderation`](FailureClass::Moderation) | 403 other, guardrail, flagged, refusal | [`Remedy::Stop`] |
//! | [`Cancelled`](FailureClass::Cancelled) | the caller cancelled | [`Remedy::Stop`] |
//! | [`KeyInvalid`](FailureClass::KeyInvalid) | 401 | [`Remedy::OtherKey`], [`KeyPenalty::Invalid`] |
//! | [`KeySpendLimit`](FailureClass::KeySpendLimit) | 403 "Key limit exceeded", 402 `openrouter_key_limit` | [`Remedy::OtherKey`], [`KeyPenalty::SpendLimit`] |
//! | [`AccountDailyExhausted`](FailureClass::AccountDailyExhausted) | 429 `free-models-per-day*` | [`Remedy::OtherKey`] of another account, [`KeyPenalty::AccountDailyExhausted`] until `reset_at` |
//! | [`NoCredit`](FailureClass::NoCredit) | 402 insufficient credits | free model: [`Remedy::OtherKey`] of another account, [`KeyPenalty::NoCredit`]; paid model: [`Remedy::DropPaidModels`] (the key is fine) |
//! | [`ModelUnavailable`](FailureClass::ModelUnavailable) | 404 "No endpoints found…", 400 "… is not a valid model ID", availability codes (`model_not_found`, …) | [`Remedy::SkipModel`] |
//! | [`InFlightBudget`](FailureClass::InFlightBudget) | 402 `in_flight_budget_exhausted` | [`Remedy::WaitInFlight`] (`Retry-After`) |
//! | [`RateLimited`](FailureClass::RateLimited) | 429 per-minute, `Provider returned error` 429, `capacity_exhausted` | [`Remedy::Retry`] after `retry_after` / `reset_at` |
//! | [`Transient`](FailureClass::Transient) | 408, 5xx, 524, 529, timeouts, resets, cut stream, non-JSON bodies, empty 200, error objects with 5xx codes inside 200 | [`Remedy::Retry`] with backoff |
//!
//! The table is [`FailureClass::remedy`] and nothing else: the predicates on [`FailureClass`]
//! read it, and [`crate::dispatch::policy::next_step`] turns a remedy into a step once it has
//! counted the job's attempts and waits.
//!
//! A failure's `message` is OpenRouter's own text (plus the provider's text for "Provider
//! returned error"), cut to about 300 characters and scrubbed of anything shaped like a key
//! ([`super::classify::clean_message`]); [`failure_sentence`] turns a failure into a sentence a
//! person can act on.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::classify::clean_message;
use super::headers::RateLimitInfo;

/// What kind of failure happened; each class maps to one [`Remedy`] (module docs). Its word
/// (serde, strum and [`FailureClass::as_str`] agree, as in [`crate::vocab`]) is what the
/// request log stores in `status_class`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum FailureClass {
    /// The request itself is wrong (400, 413, 422, image errors): no retry, no key penalty.
    BadRequest,
    /// The key is invalid, disabled or revoked (401).
    KeyInvalid,
    /// The key's account has no credit (402 insufficient credits): it cannot buy paid models.
    NoCredit,
    /// Too many paid requests in flight for the balance (402 `in_flight_budget_exhausted`):
    /// wait `Retry-After` and retry; the key is fine.
    InFlightBudget,
    /// This one request (input + `max_tokens`) is too heavy for the balance (402
    /// `weight_exceeds_budget`): a request error; no key penalty.
    RequestTooHeavy,
    /// The key reached its own spend limit (403 "Key limit exceeded").
    KeySpendLimit,
    /// The content was refused (403 moderation, guardrail, refusal): no retry, no key penalty.
    Moderation,
    /// The model is gone or has no usable endpoint (404, availability errors): try the next model.
    ModelUnavailable,
    /// The account's free-model requests for the UTC day are spent (429 `free-models-per-day*`).
    AccountDailyExhausted,
    /// A short rate limit (429 per-minute, upstream 429, capacity): wait and retry the same key.
    RateLimited,
    /// A passing upstream or network failure: retry with backoff, then the next model.
    Transient,
    /// The caller cancelled the request.
    Cancelled,
}

/// What a failure means for the key that was used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyPenalty {
    /// Mark the key invalid (401) and alert.
    Invalid,
    /// Mark the key's account out of credit (402) and alert.
    NoCredit,
    /// The key is unusable until its `limit_reset` (403 "Key limit exceeded").
    SpendLimit,
    /// The key's account is spent until `reset_at` (UTC midnight).
    AccountDailyExhausted,
}

/// What a failure class asks the caller to do, before any attempt is counted: one row of the
/// failure → action table ([`FailureClass::remedy`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remedy {
    /// End the request as it is; the person gets the failure's sentence (bad input, refused
    /// content, cancellation).
    Stop,
    /// Record `penalty` against the key and move to another key: of another account when
    /// `account_wide`.
    OtherKey {
        /// What to record against the key.
        penalty: KeyPenalty,
        /// The failure holds for every key of the key's account.
        account_wide: bool,
    },
    /// The model is gone or has no endpoint: leave it at once and skip it for the UTC day.
    SkipModel,
    /// A paid model, and the account has no credit: next model, paid models out for the day;
    /// the key is fine.
    DropPaidModels,
    /// Too much in flight for the balance: wait `Retry-After` and send again (not charged to
    /// the retry schedule); once the waits are spent, the next model.
    WaitInFlight,
    /// Wait (the server's hint, else backoff) and send again on the same key and model; once
    /// the model's attempts are spent, the next model.
    Retry,
}

impl FailureClass {
    /// Every class, in table order.
    pub const ALL: &'static [FailureClass] = <Self as strum::VariantArray>::VARIANTS;

    /// The failure → action table, written once (module docs). `model_is_free` tells a 402 on
    /// a free model (the key's account is out of credit) from one on a paid model (the account
    /// cannot buy paid models); no other class depends on it.
    pub const fn remedy(self, model_is_free: bool) -> Remedy {
        use FailureClass as C;
        match self {
            C::BadRequest | C::RequestTooHeavy | C::Moderation | C::Cancelled => Remedy::Stop,
            C::KeyInvalid => Remedy::OtherKey {
                penalty: KeyPenalty::Invalid,
                account_wide: false,
            },
            C::KeySpendLimit => Remedy::OtherKey {
                penalty: KeyPenalty::SpendLimit,
                account_wide: false,
            },
            C::AccountDailyExhausted => Remedy::OtherKey {
                penalty: KeyPenalty::AccountDailyExhausted,
                account_wide: true,
            },
            C::NoCredit if model_is_free => Remedy::OtherKey {
                penalty: KeyPenalty::NoCredit,
                account_wide: true,
            },
            C::NoCredit => Remedy::DropPaidModels,
            C::ModelUnavailable => Remedy::SkipModel,
            C::InFlightBudget => Remedy::WaitInFlight,
            C::RateLimited | C::Transient => Remedy::Retry,
        }
    }

    /// Whether the same request may be retried with the same key after a wait.
    pub fn is_retryable(self) -> bool {
        matches!(self.remedy(true), Remedy::Retry | Remedy::WaitInFlight)
    }

    /// What to record against the key, if anything (a free model's remedy). `Some` also means:
    /// fall back to another key.
    pub fn penalizes_key(self) -> Option<KeyPenalty> {
        match self.remedy(true) {
            Remedy::OtherKey { penalty, .. } => Some(penalty),
            _ => None,
        }
    }

    /// Whether the failure holds for every key of the key's account (fall back to a key of
    /// another account).
    pub fn is_account_wide(self) -> bool {
        matches!(
            self.remedy(true),
            Remedy::OtherKey {
                account_wide: true,
                ..
            }
        )
    }

    /// Whether the next model of the chain should be tried: at once for
    /// [`FailureClass::ModelUnavailable`], and for retryable classes once retries are spent.
    pub fn next_model(self) -> bool {
        matches!(
            self.remedy(true),
            Remedy::SkipModel | Remedy::Retry | Remedy::WaitInFlight
        )
    }

    /// Whether the model should be skipped at once (and remembered as unavailable for the day).
    pub fn model_gone(self) -> bool {
        self.remedy(true) == Remedy::SkipModel
    }

    /// Whether the failure ends the request and goes to the person as is (no retry, no other
    /// key, no other model): bad input, refused content, cancellation.
    pub fn is_final(self) -> bool {
        self.remedy(true) == Remedy::Stop
    }
}

crate::vocab::stored_as_text!(FailureClass);

impl fmt::Display for FailureClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A classified failure of an OpenRouter call. Safe to show and to log: it never holds a key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiFailure {
    /// What kind of failure, hence what to do.
    pub class: FailureClass,
    /// The HTTP status of the response (200 for errors inside a 200 body or a stream), `None`
    /// when no response arrived.
    pub http_status: Option<u16>,
    /// OpenRouter's message (or ours for transport failures), at most ~300 characters.
    pub message: String,
    /// How long the server asked us to wait (`Retry-After`, `retry_after_seconds`,
    /// `availability.retry_after`).
    pub retry_after: Option<Duration>,
    /// When the limit resets (`X-RateLimit-Reset`).
    pub reset_at: Option<DateTime<Utc>>,
    /// The `X-RateLimit-*` values, when present.
    pub rate_limit: Option<Box<RateLimitInfo>>,
    /// The request certainly never reached OpenRouter (the connection could not be opened),
    /// so its reservation can be released: no quota was spent.
    #[serde(default)]
    pub not_sent: bool,
    /// The account identifier OpenRouter put beside the error (top-level `user_id`), if any:
    /// keys whose errors carry the same one belong to one account.
    #[serde(default)]
    pub user_id: Option<Box<str>>,
}

impl ApiFailure {
    /// A failure of `class` with our own `message` and nothing else.
    pub fn new(class: FailureClass, message: impl Into<String>) -> Self {
        ApiFailure {
            class,
            http_status: None,
            message: clean_message(&message.into()),
            retry_after: None,
            reset_at: None,
            rate_limit: None,
            not_sent: false,
            user_id: None,
        }
    }

    /// A [`FailureClass::Transient`] failure.
    pub fn transient(message: impl Into<String>) -> Self {
        Self::new(FailureClass::Transient, message)
    }

    /// A [`FailureClass::Cancelled`] failure.
    pub fn cancelled() -> Self {
        Self::new(FailureClass::Cancelled, "the request was cancelled")
    }

    /// Sets the HTTP status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.http_status = Some(status);
        self
    }

    /// The server's wait hint: `retry_after`, else the time until `reset_at` (zero if past).
    pub fn wait_hint(&self, now: DateTime<Utc>) -> Option<Duration> {
        self.retry_after.or_else(|| {
            self.reset_at
                .map(|at| (at - now).to_std().unwrap_or(Duration::ZERO))
        })
    }
}

impl fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.http_status {
            Some(s) => write!(f, "{} (HTTP {s}): {}", self.class, self.message),
            None => write!(f, "{}: {}", self.class, self.message),
        }
    }
}

impl std::error::Error for ApiFailure {}

/// A sentence a person can act on, for any failure (uses the current time for countdowns).
pub fn failure_sentence(f: &ApiFailure) -> String {
    failure_sentence_at(f, crate::clock::system_now())
}

/// [`failure_sentence`] with an explicit "now" (for the reset countdown).
pub fn failure_sentence_at(f: &ApiFailure, now: DateTime<Utc>) -> String {
    let m = f.message.trim_end_matches(['.', ' ']);
    match f.class {
        FailureClass::BadRequest => format!(
            "OpenRouter refused the request as invalid ({m}); check the input (image format and size, prompt length, model name) and try again."
        ),
        FailureClass::KeyInvalid => format!(
            "OpenRouter rejected the key as invalid or revoked ({m}); check it at https://openrouter.ai/settings/keys and replace or remove it."
        ),
        FailureClass::NoCredit => format!(
            "The key's account is out of credit ({m}); add credits at https://openrouter.ai/settings/credits or use a key of another account."
        ),
        FailureClass::InFlightBudget => format!(
            "OpenRouter is holding back paid requests until earlier ones finish ({m}); try again in a few seconds."
        ),
        FailureClass::RequestTooHeavy => format!(
            "The request is too large for the account's balance ({m}); ask for fewer tokens (a smaller max_tokens) or add credits."
        ),
        FailureClass::KeySpendLimit => format!(
            "The key reached its own spending limit ({m}); it works again when the limit resets, or raise the limit at https://openrouter.ai/settings/keys."
        ),
        FailureClass::Moderation => format!(
            "OpenRouter refused the content ({m}); rephrase the request or choose another model."
        ),
        FailureClass::ModelUnavailable => {
            format!(
                "The model is not available right now ({m}); choose another model or try again later."
            )
        }
        FailureClass::AccountDailyExhausted => {
            let when = match f.reset_at {
                Some(at) => format!("at {} UTC ({})", at.format("%H:%M"), countdown(at, now)),
                None => "at 00:00 UTC".to_string(),
            };
            format!(
                "This account's free-model requests for today are used up; they come back {when}. Use a key of another account or a paid model meanwhile."
            )
        }
        FailureClass::RateLimited => match f.wait_hint(now) {
            Some(d) => format!(
                "OpenRouter is limiting requests right now ({m}); wait about {} s and try again.",
                d.as_secs().max(1)
            ),
            None => format!(
                "OpenRouter is limiting requests right now ({m}); wait a minute and try again."
            ),
        },
        FailureClass::Transient => {
            format!("OpenRouter or the network failed for a moment ({m}); try again shortly.")
        }
        FailureClass::Cancelled => "The request was cancelled.".to_string(),
    }
}

/// `in 3 h 12 min`, `in 5 min`, `now`.
fn countdown(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let mins = (at - now).num_minutes();
    if mins <= 0 {
        "now".to_string()
    } else if mins < 60 {
        format!("in {mins} min")
    } else {
        format!("in {} h {} min", mins / 60, mins % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const RESET_DAY_MS: i64 = 1_748_822_400_000;

    fn ts(ms: i64) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(ms).unwrap()
    }

    #[test]
    fn messages_lose_control_characters() {
        let f = ApiFailure::new(
            FailureClass::Transient,
            "bad\u{1b}]52;c;eA==\u{7} gateway\u{9b}2J",
        );
        assert!(!f.message.chars().any(char::is_control), "{:?}", f.message);
        assert!(
            f.message.starts_with("bad ]52;c;eA== gateway"),
            "{:?}",
            f.message
        );
    }

    #[test]
    fn sentences_name_the_action() {
        let mut f = ApiFailure::new(
            FailureClass::AccountDailyExhausted,
            "Rate limit exceeded: free-models-per-day.",
        );
        f.reset_at = Some(ts(RESET_DAY_MS));
        let s = failure_sentence_at(&f, ts(RESET_DAY_MS - (3 * 60 + 12) * 60_000));
        assert!(s.contains("at 00:00 UTC (in 3 h 12 min)"), "{s}");
        for &class in FailureClass::ALL {
            let s = failure_sentence(&ApiFailure::new(class, "why."));
            assert!(s.ends_with('.') && s.len() > 20, "{class}: {s}");
        }
        let mut r = ApiFailure::new(FailureClass::RateLimited, "slow");
        r.retry_after = Some(Duration::from_secs(17));
        assert!(failure_sentence(&r).contains("wait about 17 s"));
    }

    /// The words existing ledgers hold in `status_class` (they were a hand-written match).
    #[test]
    fn class_words_are_the_stored_ones() {
        let words: Vec<&str> = FailureClass::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            words,
            [
                "bad_request",
                "key_invalid",
                "no_credit",
                "in_flight_budget",
                "request_too_heavy",
                "key_spend_limit",
                "moderation",
                "model_unavailable",
                "account_daily_exhausted",
                "rate_limited",
                "transient",
                "cancelled",
            ]
        );
    }

    #[test]
    fn class_names_round_trip() {
        for &class in FailureClass::ALL {
            let json = serde_json::to_string(&class).unwrap();
            assert_eq!(json, format!("\"{}\"", class.as_str()));
            assert_eq!(serde_json::from_str::<FailureClass>(&json).unwrap(), class);
        }
    }

    #[test]
    fn only_no_credit_depends_on_the_model_being_free() {
        for &class in FailureClass::ALL {
            let (free, paid) = (class.remedy(true), class.remedy(false));
            if class == FailureClass::NoCredit {
                assert_eq!(paid, Remedy::DropPaidModels);
                assert!(matches!(
                    free,
                    Remedy::OtherKey {
                        account_wide: true,
                        ..
                    }
                ));
            } else {
                assert_eq!(free, paid, "{class}");
            }
        }
    }
}
