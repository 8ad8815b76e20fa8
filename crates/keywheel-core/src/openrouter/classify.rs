//! The one classification of OpenRouter failures (docs/errors.md): every HTTP status, error body,
//! error object inside a 200 body or an SSE chunk, and transport error becomes an [`ApiFailure`]
//! with a [`FailureClass`] that tells the caller what to do.
//!
//! | class | seen | retry same key | key penalty | account-wide | next model |
//! |---|---|---|---|---|---|
//! | [`BadRequest`](FailureClass::BadRequest) | 400, 413, 422, image errors, `wrong_endpoint` | no | no | no | no |
//! | [`KeyInvalid`](FailureClass::KeyInvalid) | 401 | no | [`KeyPenalty::Invalid`] | no | no (next key) |
//! | [`NoCredit`](FailureClass::NoCredit) | 402 insufficient credits | no | on a free model only: [`KeyPenalty::NoCredit`]; on a paid model the account's chains drop paid models | free model: yes | paid model: **yes** (next free model) |
//! | [`InFlightBudget`](FailureClass::InFlightBudget) | 402 `in_flight_budget_exhausted` | yes, after `Retry-After` | no | no | no |
//! | [`RequestTooHeavy`](FailureClass::RequestTooHeavy) | 402 `weight_exceeds_budget`, "can only afford N" | no | no | no | no |
//! | [`KeySpendLimit`](FailureClass::KeySpendLimit) | 403 "Key limit exceeded", 402 `openrouter_key_limit` | no | [`KeyPenalty::SpendLimit`] | no | no (next key) |
//! | [`Moderation`](FailureClass::Moderation) | 403 other, guardrail, flagged, refusal | no | no | no | no |
//! | [`ModelUnavailable`](FailureClass::ModelUnavailable) | 404 "No endpoints found…", 400 "… is not a valid model ID", availability codes (`model_not_found`, …) | no | no | no | **yes**, at once |
//! | [`AccountDailyExhausted`](FailureClass::AccountDailyExhausted) | 429 `free-models-per-day*` | no | [`KeyPenalty::AccountDailyExhausted`] until `reset_at` | yes | no (next account) |
//! | [`RateLimited`](FailureClass::RateLimited) | 429 per-minute, `Provider returned error` 429, `capacity_exhausted` | yes, after `retry_after` / `reset_at` | no | no | after retries |
//! | [`Transient`](FailureClass::Transient) | 408, 5xx, 524, 529, timeouts, resets, cut stream, non-JSON bodies, empty 200, error objects with 5xx codes inside 200 | yes, with backoff | no | no | after retries |
//! | [`Cancelled`](FailureClass::Cancelled) | the caller cancelled | no | no | no | no |
//!
//! A failure's `message` is OpenRouter's own text (plus the provider's text for "Provider
//! returned error"), cut to about 300 characters and scrubbed of anything shaped like a key;
//! [`super::failure_sentence`] turns a failure into a sentence a person can act on.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Longest upstream message kept in [`ApiFailure::message`], in characters.
pub const MAX_MESSAGE_CHARS: usize = 300;

/// What kind of failure happened; each class maps to one action (module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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

impl FailureClass {
    /// Every class, in table order.
    pub const ALL: [FailureClass; 12] = [
        FailureClass::BadRequest,
        FailureClass::KeyInvalid,
        FailureClass::NoCredit,
        FailureClass::InFlightBudget,
        FailureClass::RequestTooHeavy,
        FailureClass::KeySpendLimit,
        FailureClass::Moderation,
        FailureClass::ModelUnavailable,
        FailureClass::AccountDailyExhausted,
        FailureClass::RateLimited,
        FailureClass::Transient,
        FailureClass::Cancelled,
    ];

    /// The stable snake_case name (the same as its serde form).
    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::BadRequest => "bad_request",
            FailureClass::KeyInvalid => "key_invalid",
            FailureClass::NoCredit => "no_credit",
            FailureClass::InFlightBudget => "in_flight_budget",
            FailureClass::RequestTooHeavy => "request_too_heavy",
            FailureClass::KeySpendLimit => "key_spend_limit",
            FailureClass::Moderation => "moderation",
            FailureClass::ModelUnavailable => "model_unavailable",
            FailureClass::AccountDailyExhausted => "account_daily_exhausted",
            FailureClass::RateLimited => "rate_limited",
            FailureClass::Transient => "transient",
            FailureClass::Cancelled => "cancelled",
        }
    }

    /// Whether the same request may be retried with the same key after a wait.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            FailureClass::RateLimited | FailureClass::Transient | FailureClass::InFlightBudget
        )
    }

    /// What to record against the key, if anything. `Some` also means: fall back to another key.
    pub fn penalizes_key(self) -> Option<KeyPenalty> {
        match self {
            FailureClass::KeyInvalid => Some(KeyPenalty::Invalid),
            FailureClass::NoCredit => Some(KeyPenalty::NoCredit),
            FailureClass::KeySpendLimit => Some(KeyPenalty::SpendLimit),
            FailureClass::AccountDailyExhausted => Some(KeyPenalty::AccountDailyExhausted),
            _ => None,
        }
    }

    /// Whether the failure holds for every key of the key's account (fall back to a key of
    /// another account).
    pub fn is_account_wide(self) -> bool {
        matches!(
            self,
            FailureClass::AccountDailyExhausted | FailureClass::NoCredit
        )
    }

    /// Whether the next model of the chain should be tried: at once for
    /// [`FailureClass::ModelUnavailable`], and for retryable classes once retries are spent.
    pub fn next_model(self) -> bool {
        matches!(
            self,
            FailureClass::ModelUnavailable | FailureClass::Transient | FailureClass::RateLimited
        )
    }

    /// Whether the model should be skipped at once (and remembered as unavailable for the day).
    pub fn model_gone(self) -> bool {
        self == FailureClass::ModelUnavailable
    }

    /// Whether the failure ends the request and goes to the person as is (no retry, no other
    /// key, no other model): bad input, refused content, cancellation.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            FailureClass::BadRequest
                | FailureClass::RequestTooHeavy
                | FailureClass::Moderation
                | FailureClass::Cancelled
        )
    }
}

impl fmt::Display for FailureClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// OpenRouter's `X-RateLimit-*` values (from headers, or `error.metadata.headers`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimitInfo {
    /// `X-RateLimit-Limit`.
    pub limit: Option<u64>,
    /// `X-RateLimit-Remaining`.
    pub remaining: Option<u64>,
    /// `X-RateLimit-Reset` (epoch milliseconds on the wire).
    pub reset: Option<DateTime<Utc>>,
}

impl RateLimitInfo {
    /// Whether no value is known.
    pub fn is_empty(&self) -> bool {
        self.limit.is_none() && self.remaining.is_none() && self.reset.is_none()
    }

    fn or(self, other: RateLimitInfo) -> RateLimitInfo {
        RateLimitInfo {
            limit: self.limit.or(other.limit),
            remaining: self.remaining.or(other.remaining),
            reset: self.reset.or(other.reset),
        }
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
    failure_sentence_at(f, crate::clock::Clock::now(&crate::clock::SystemClock))
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

/// Classifies a failed (or error-carrying) HTTP response from its status, headers and body.
///
/// JSON bodies with an `error` object are classified by that object (even with status 200);
/// empty or non-JSON bodies (Cloudflare HTML, truncated JSON) are [`FailureClass::Transient`],
/// except that 401, 402, 413 and 429 keep their meaning.
pub fn classify(status: u16, headers: &HeaderMap, body: &str) -> ApiFailure {
    let header_info = rate_limit_from_headers(headers);
    let header_retry = headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    let trimmed = body.trim();
    let mut failure = match serde_json::from_str::<Value>(trimmed) {
        Ok(v) if v.get("error").is_some_and(|e| !e.is_null()) => {
            let mut f = classify_error_object(&v, status);
            f.user_id = v
                .get("user_id")
                .and_then(Value::as_str)
                .filter(|u| !u.is_empty())
                .map(Into::into);
            f
        }
        Ok(v) if v.is_object() && (200..300).contains(&status) => {
            ApiFailure::transient("OpenRouter answered without a usable result").with_status(status)
        }
        Ok(v) if v.is_object() => {
            // JSON without OpenRouter's `error` (a proxy, an older server): go by the status.
            let text = ["message", "detail", "error_description"]
                .iter()
                .find_map(|k| v.get(*k).and_then(Value::as_str))
                .unwrap_or("");
            let message = if text.is_empty() {
                format!("OpenRouter answered HTTP {status}")
            } else {
                text.to_string()
            };
            ApiFailure::new(status_class(status, text), message).with_status(status)
        }
        Ok(_) | Err(_) => classify_opaque(status, trimmed),
    };
    failure.http_status = Some(status);
    if header_retry.is_some() {
        failure.retry_after = header_retry;
    }
    let merged = header_info.or(failure.rate_limit.take().map(|b| *b).unwrap_or_default());
    if failure.reset_at.is_none() {
        failure.reset_at = merged.reset;
    }
    failure.rate_limit = (!merged.is_empty()).then(|| Box::new(merged));
    failure
}

/// A body that is not JSON (or JSON without an `error`): class from the status alone.
fn classify_opaque(status: u16, body: &str) -> ApiFailure {
    let class = match status {
        401 => FailureClass::KeyInvalid,
        402 => FailureClass::NoCredit,
        413 => FailureClass::BadRequest,
        429 => FailureClass::RateLimited,
        _ => FailureClass::Transient,
    };
    let message = if body.is_empty() {
        if (200..300).contains(&status) {
            "OpenRouter sent an empty response".to_string()
        } else {
            format!("OpenRouter answered HTTP {status} with an empty body")
        }
    } else if looks_like_html(body) {
        match html_title(body) {
            Some(t) => format!("OpenRouter's edge answered HTTP {status} with an HTML page: {t}"),
            None => format!("OpenRouter's edge answered HTTP {status} with an HTML page"),
        }
    } else if (200..300).contains(&status) {
        "OpenRouter sent a response that is not valid JSON".to_string()
    } else {
        format!("OpenRouter answered HTTP {status}: {body}")
    };
    ApiFailure::new(class, message).with_status(status)
}

fn looks_like_html(body: &str) -> bool {
    let head: String = body
        .chars()
        .take(200)
        .collect::<String>()
        .to_ascii_lowercase();
    head.starts_with('<') || head.contains("<html") || head.contains("<!doctype")
}

fn html_title(body: &str) -> Option<String> {
    let lower = body.to_ascii_lowercase();
    let start = lower.find("<title>")? + "<title>".len();
    let end = start + lower[start..].find("</title>")?;
    let t = body
        .get(start..end)?
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    (!t.is_empty()).then_some(t)
}

/// Classifies an OpenRouter error object: the `error` value itself, or a whole body holding
/// one under `error`. `http_status` is the status the object arrived with (200 for errors in a
/// 200 body or an SSE chunk); the object's own `code` / `http_status` win over it.
pub fn classify_error_object(v: &Value, http_status: u16) -> ApiFailure {
    let err = match v.get("error") {
        Some(e) if e.is_object() => e,
        _ => v,
    };
    let metadata = err.get("metadata").filter(|m| m.is_object());
    let availability = err.get("availability").filter(|a| a.is_object());
    let code = err.get("code");
    let numeric_code = code.and_then(as_u16);
    let word_code = code
        .and_then(Value::as_str)
        .filter(|s| s.parse::<u16>().is_err());
    let status = numeric_code
        .or_else(|| err.get("http_status").and_then(as_u16))
        .or((http_status != 200).then_some(http_status));
    let error_type = metadata
        .and_then(|m| m.get("error_type"))
        .or_else(|| err.get("error_type"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let avail_code = availability
        .and_then(|a| a.get("code"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let limit_source = metadata
        .and_then(|m| m.get("limit_source"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let reason = metadata
        .and_then(|m| m.get("reason"))
        .or_else(|| err.get("reason"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let raw_message = err.get("message").and_then(Value::as_str).unwrap_or("");
    let message = full_message(raw_message, metadata);

    let class = if !avail_code.is_empty() {
        availability_class(avail_code, status)
    } else if let Some(c) = payment_class(status, reason, limit_source, raw_message) {
        c
    } else if is_unknown_model(raw_message) {
        FailureClass::ModelUnavailable
    } else if raw_message.contains("free-models-per-day")
        || limit_source == "openrouter_free_tier_daily"
    {
        FailureClass::AccountDailyExhausted
    } else if is_image_error(error_type) || is_request_error(error_type) {
        FailureClass::BadRequest
    } else if matches!(error_type, "content_policy_violation" | "refusal") {
        FailureClass::Moderation
    } else if let Some(s) = status {
        status_class(s, raw_message)
    } else {
        type_class(word_code.unwrap_or(""), error_type)
    };

    let headers_meta = metadata
        .and_then(|m| m.get("headers"))
        .filter(|h| h.is_object());
    let info = headers_meta.map(rate_limit_from_json).unwrap_or_default();
    let retry_after = metadata
        .and_then(|m| m.get("retry_after_seconds"))
        .and_then(as_secs)
        .or_else(|| {
            headers_meta
                .and_then(|h| json_header(h, "retry-after"))
                .and_then(as_secs)
        })
        .or_else(|| {
            availability
                .and_then(|a| a.get("retry_after"))
                .and_then(as_secs)
        });
    let message = if message.is_empty() {
        match status {
            Some(s) => format!("OpenRouter reported an error (code {s}) without a message"),
            None => "OpenRouter reported an error without a message".to_string(),
        }
    } else {
        message
    };
    ApiFailure {
        class,
        http_status: Some(http_status),
        message: clean_message(&message),
        retry_after,
        reset_at: info.reset,
        rate_limit: (!info.is_empty()).then(|| Box::new(info.clone())),
        not_sent: false,
        user_id: None,
    }
}

/// The kind of a 402 (or of a payment failure reported inside a 200 / a stream), told apart
/// by `metadata.reason` / `limit_source` (docs/openrouter.md, "402 has kinds"); `None` when the
/// object is not about payment.
fn payment_class(
    status: Option<u16>,
    reason: &str,
    limit_source: &str,
    message: &str,
) -> Option<FailureClass> {
    if reason == "in_flight_budget_exhausted" || limit_source == "openrouter_in_flight_budget" {
        return Some(FailureClass::InFlightBudget);
    }
    if reason == "weight_exceeds_budget" {
        return Some(FailureClass::RequestTooHeavy);
    }
    if limit_source == "openrouter_key_limit" {
        return Some(FailureClass::KeySpendLimit);
    }
    if status != Some(402) {
        return None;
    }
    // "This request requires more credits, or fewer max_tokens. You requested up to 16384
    // tokens, but can only afford 1056." — this request is too big, the key is fine.
    if message.contains("can only afford") || message.contains("fewer max_tokens") {
        return Some(FailureClass::RequestTooHeavy);
    }
    Some(FailureClass::NoCredit)
}

/// OpenRouter's refusal of a model id it does not list (`"<id> is not a valid model ID"`).
pub fn is_unknown_model(message: &str) -> bool {
    message.contains("is not a valid model ID") || message.contains("is not a valid model id")
}

/// `availability.code` → class (docs/openrouter.md).
fn availability_class(code: &str, status: Option<u16>) -> FailureClass {
    match code {
        "capacity_exhausted" => FailureClass::RateLimited,
        "temporarily_unavailable" => FailureClass::Transient,
        "wrong_endpoint" => FailureClass::BadRequest,
        "model_not_found"
        | "no_endpoints"
        | "model_deprecated"
        | "model_unavailable_upstream"
        | "region_restricted"
        | "privacy_restricted"
        | "constraint_filtered"
        | "free_variant_ended" => FailureClass::ModelUnavailable,
        _ => match status {
            Some(s) => status_class(s, ""),
            None => FailureClass::ModelUnavailable,
        },
    }
}

fn is_image_error(error_type: &str) -> bool {
    error_type == "invalid_image"
        || error_type.starts_with("image_")
        || error_type == "unsupported_image_format"
}

fn is_request_error(error_type: &str) -> bool {
    matches!(
        error_type,
        "context_length_exceeded"
            | "max_tokens_exceeded"
            | "token_limit_exceeded"
            | "string_too_long"
            | "invalid_prompt"
            | "payload_too_large"
            | "unprocessable"
    )
}

/// Class from a numeric status (HTTP or `error.code`).
fn status_class(status: u16, message: &str) -> FailureClass {
    match status {
        401 => FailureClass::KeyInvalid,
        402 => FailureClass::NoCredit,
        403 if message.contains("Key limit exceeded") => FailureClass::KeySpendLimit,
        403 if message.contains("Only management keys") => FailureClass::BadRequest,
        403 => FailureClass::Moderation,
        404 => FailureClass::ModelUnavailable,
        408 => FailureClass::Transient,
        429 if message.contains("free-models-per-day") => FailureClass::AccountDailyExhausted,
        429 => FailureClass::RateLimited,
        400..=499 => FailureClass::BadRequest,
        _ => FailureClass::Transient,
    }
}

/// Class from a word `code` or `error_type` when there is no numeric status.
fn type_class(word_code: &str, error_type: &str) -> FailureClass {
    let t = if error_type.is_empty() {
        word_code
    } else {
        error_type
    };
    match t {
        "authentication" | "invalid_api_key" | "unauthorized" => FailureClass::KeyInvalid,
        "payment_required" | "insufficient_credits" => FailureClass::NoCredit,
        "permission_denied" | "moderation" => FailureClass::Moderation,
        "rate_limit_exceeded" | "rate_limited" => FailureClass::RateLimited,
        "not_found" => FailureClass::ModelUnavailable,
        "invalid_request" | "invalid_request_error" | "bad_request" | "precondition_failed" => {
            FailureClass::BadRequest
        }
        _ => FailureClass::Transient,
    }
}

/// The message, plus the provider's own words for "Provider returned error".
fn full_message(message: &str, metadata: Option<&Value>) -> String {
    let Some(m) = metadata else {
        return message.to_string();
    };
    let provider = m.get("provider_name").and_then(Value::as_str);
    let raw = m.get("raw").and_then(raw_text);
    match (provider, raw) {
        (Some(p), Some(r)) if !r.is_empty() && r != message => format!("{message} ({p}: {r})"),
        (None, Some(r)) if !r.is_empty() && r != message => format!("{message} ({r})"),
        (Some(p), _) if message == "Provider returned error" => format!("{message} ({p})"),
        _ => message.to_string(),
    }
}

/// `metadata.raw`: a string (often JSON inside), or an object; the message inside if any.
fn raw_text(raw: &Value) -> Option<String> {
    let inner = match raw {
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(v) if v.is_object() => v,
            _ => return Some(s.clone()),
        },
        Value::Object(_) => raw.clone(),
        _ => return None,
    };
    let msg = inner
        .pointer("/error/message")
        .or_else(|| inner.get("message"))
        .or_else(|| inner.get("detail"))
        .and_then(Value::as_str);
    Some(msg.map(str::to_string).unwrap_or_else(|| inner.to_string()))
}

/// Classifies a transport error from reqwest: timeouts, refused or reset connections and cut
/// bodies are all [`FailureClass::Transient`]. The message names no URL and no header.
pub fn classify_transport(err: &reqwest::Error) -> ApiFailure {
    let what = if err.is_timeout() {
        "the request to OpenRouter timed out"
    } else if err.is_connect() {
        "could not connect to OpenRouter"
    } else if err.is_body() || err.is_decode() {
        "the response from OpenRouter was cut off"
    } else if err.is_request() {
        "the request to OpenRouter failed"
    } else {
        "talking to OpenRouter failed"
    };
    // The innermost cause ("connection refused", "connection reset by peer", …); reqwest's own
    // top-level text names the URL, which we leave out.
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(err);
    let mut last = None;
    while let Some(c) = cause {
        last = Some(c.to_string());
        cause = c.source();
    }
    let mut f = match last {
        Some(c) if !c.is_empty() => ApiFailure::transient(format!("{what}: {c}")),
        _ => ApiFailure::transient(what),
    };
    f.http_status = err.status().map(|s| s.as_u16());
    f.not_sent = err.is_connect();
    f
}

/// Reads `X-RateLimit-*` from response headers.
pub fn rate_limit_from_headers(headers: &HeaderMap) -> RateLimitInfo {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    RateLimitInfo {
        limit: get("x-ratelimit-limit").and_then(|s| s.parse().ok()),
        remaining: get("x-ratelimit-remaining").and_then(|s| s.parse().ok()),
        reset: get("x-ratelimit-reset").and_then(parse_reset),
    }
}

fn rate_limit_from_json(h: &Value) -> RateLimitInfo {
    RateLimitInfo {
        limit: json_header(h, "x-ratelimit-limit").and_then(as_u64),
        remaining: json_header(h, "x-ratelimit-remaining").and_then(as_u64),
        reset: json_header(h, "x-ratelimit-reset").and_then(|v| match v {
            Value::String(s) => parse_reset(s),
            Value::Number(n) => n.as_f64().and_then(epoch_to_time),
            _ => None,
        }),
    }
}

/// A header in a JSON object, matched case-insensitively.
fn json_header<'a>(h: &'a Value, name: &str) -> Option<&'a Value> {
    h.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// `X-RateLimit-Reset`: epoch milliseconds (or seconds, for small values).
fn parse_reset(s: &str) -> Option<DateTime<Utc>> {
    epoch_to_time(s.trim().parse::<f64>().ok()?)
}

fn epoch_to_time(n: f64) -> Option<DateTime<Utc>> {
    if !n.is_finite() || n <= 0.0 {
        return None;
    }
    let ms = if n < 10_000_000_000.0 { n * 1000.0 } else { n };
    Utc.timestamp_millis_opt(ms as i64).single()
}

/// `Retry-After`: delta seconds (possibly fractional), or an HTTP date.
pub fn parse_retry_after(s: &str) -> Option<Duration> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0)
            .then(|| Duration::from_secs_f64(secs.min(86_400.0 * 7.0)));
    }
    let at = DateTime::parse_from_rfc2822(s).ok()?.with_timezone(&Utc);
    Some(
        (at - crate::clock::Clock::now(&crate::clock::SystemClock))
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

fn as_u16(v: &Value) -> Option<u16> {
    match v {
        Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn as_secs(v: &Value) -> Option<Duration> {
    match v {
        Value::Number(n) => n
            .as_f64()
            .filter(|f| f.is_finite() && *f >= 0.0)
            .map(|f| Duration::from_secs_f64(f.min(86_400.0 * 7.0))),
        Value::String(s) => parse_retry_after(s),
        _ => None,
    }
}

/// Cuts a message to [`MAX_MESSAGE_CHARS`], collapses whitespace and masks anything shaped
/// like an OpenRouter key.
pub(crate) fn clean_message(s: &str) -> String {
    // Upstream text reaches terminals and the web view: no control characters (escape
    // sequences, bells, C1 controls), whitespace collapsed.
    let visible: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let collapsed = visible.split_whitespace().collect::<Vec<_>>().join(" ");
    let scrubbed = scrub_keys(&collapsed);
    if scrubbed.chars().count() <= MAX_MESSAGE_CHARS {
        scrubbed
    } else {
        let mut out: String = scrubbed.chars().take(MAX_MESSAGE_CHARS - 1).collect();
        out.push('…');
        out
    }
}

/// Masks key-shaped tokens: the one redactor, [`crate::keys::redact`].
fn scrub_keys(s: &str) -> String {
    crate::keys::redact(s).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn c(status: u16, body: &str) -> ApiFailure {
        classify(status, &HeaderMap::new(), body)
    }

    fn ts(ms: i64) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(ms).unwrap()
    }

    #[test]
    fn missing_auth_header_is_key_invalid() {
        let f = c(
            401,
            r#"{"error":{"code":401,"message":"Missing Authentication header"}}"#,
        );
        assert_eq!(f.class, FailureClass::KeyInvalid);
        assert_eq!(f.http_status, Some(401));
        assert_eq!(f.message, "Missing Authentication header");
        assert_eq!(f.class.penalizes_key(), Some(KeyPenalty::Invalid));
    }

    #[test]
    fn user_not_found_is_key_invalid() {
        let f = c(401, r#"{"error":{"message":"User not found.","code":401}}"#);
        assert_eq!(f.class, FailureClass::KeyInvalid);
    }

    #[test]
    fn no_auth_credentials_is_key_invalid() {
        let f = c(
            401,
            r#"{"error":{"message":"No auth credentials found","code":401}}"#,
        );
        assert_eq!(f.class, FailureClass::KeyInvalid);
    }

    #[test]
    fn insufficient_credits_is_no_credit() {
        let f = c(
            402,
            r#"{"error":{"message":"Insufficient credits. Add more using https://openrouter.ai/credits","code":402,"metadata":{"provider_name":null}},"user_id":"user_2yOPcMpKoQhcd4bVgSMlELRaIah"}"#,
        );
        assert_eq!(f.class, FailureClass::NoCredit);
        assert!(f.class.is_account_wide());
        assert!(f.message.starts_with("Insufficient credits."));
    }

    #[test]
    fn can_only_afford_is_a_request_too_heavy_not_a_dead_key() {
        let f = c(
            402,
            r#"{"error":{"message":"This request requires more credits, or fewer max_tokens. You requested up to 16384 tokens, but can only afford 1056. To increase, visit https://openrouter.ai/settings/credits and upgrade to a paid account","code":402,"metadata":{"provider_name":null}},"user_id":"user_2yOPcMpKoQhcd4bVgSMlELRaIah"}"#,
        );
        assert_eq!(f.class, FailureClass::RequestTooHeavy);
        assert!(f.class.penalizes_key().is_none());
        assert!(f.message.contains("can only afford 1056"));
        assert_eq!(
            f.user_id.as_deref(),
            Some("user_2yOPcMpKoQhcd4bVgSMlELRaIah")
        );
    }

    #[test]
    fn key_limit_exceeded_is_key_spend_limit() {
        let f = c(
            403,
            r#"{"error":{"message":"Key limit exceeded (daily limit). Manage it using https://openrouter.ai/settings/keys","code":403}}"#,
        );
        assert_eq!(f.class, FailureClass::KeySpendLimit);
        assert_eq!(f.class.penalizes_key(), Some(KeyPenalty::SpendLimit));
        assert!(!f.class.is_account_wide());
    }

    #[test]
    fn flagged_input_is_moderation() {
        let f = c(
            403,
            r#"{"error":{"code":403,"message":"openai/gpt-4o-mini requires moderation on OpenAI. Your input was flagged for \"harassment\". No credits were charged.","metadata":{"reasons":["harassment"],"flagged_input":"you are a worthless…please respond","provider_name":"OpenAI","model_slug":"openai/gpt-4o-mini"}}}"#,
        );
        assert_eq!(f.class, FailureClass::Moderation);
        assert!(f.class.is_final());
        assert_eq!(f.class.penalizes_key(), None);
        assert!(!f.class.is_retryable());
        assert!(f.message.contains("flagged for \"harassment\""));
    }

    #[test]
    fn guardrail_is_moderation() {
        let f = c(
            403,
            r#"{"error":{"code":403,"message":"Request blocked: prompt injection patterns detected"}}"#,
        );
        assert_eq!(f.class, FailureClass::Moderation);
    }

    #[test]
    fn no_endpoints_for_model_is_model_unavailable() {
        let f = c(
            404,
            r#"{"error":{"message":"No endpoints found for meta-llama/llama-3.2-11b-vision-instruct.","code":404},"user_id":"user_2yOPcMpKoQhcd4bVgSMlELRaIah"}"#,
        );
        assert_eq!(f.class, FailureClass::ModelUnavailable);
        assert!(f.class.next_model() && f.class.model_gone());
    }

    #[test]
    fn no_image_endpoints_is_model_unavailable() {
        let f = c(
            404,
            r#"{"error":{"message":"No endpoints found that support image input","code":404}}"#,
        );
        assert_eq!(f.class, FailureClass::ModelUnavailable);
    }

    #[test]
    fn data_policy_is_model_unavailable() {
        let f = c(
            404,
            r#"{"error":{"message":"No endpoints found matching your data policy (Free model publication). Configure: https://openrouter.ai/settings/privacy","code":404}}"#,
        );
        assert_eq!(f.class, FailureClass::ModelUnavailable);
    }

    #[test]
    fn invalid_model_id_availability_is_model_unavailable() {
        let f = c(
            400,
            r#"{"error":{"message":"acme/fake-1.0 is not a valid model ID","error_type":"invalid_request","http_status":400,"availability":{"code":"model_not_found","retryable":false,"requested_models":["acme/fake-1.0"],"docs_url":"https://openrouter.ai/docs/errors#model_not_found"}}}"#,
        );
        assert_eq!(f.class, FailureClass::ModelUnavailable);
        assert!(!f.class.is_retryable());
        assert_eq!(f.class.penalizes_key(), None);
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
    fn invalid_model_id_without_availability_is_model_level_not_bad_input() {
        let f = c(
            400,
            r#"{"error":{"code":400,"message":"acme/fake-1.0 is not a valid model ID"}}"#,
        );
        assert_eq!(f.class, FailureClass::ModelUnavailable);
        assert!(!f.class.is_final());
    }

    #[test]
    fn payment_402s_are_told_apart_by_reason_and_limit_source() {
        let body = |reason: &str, source: &str| {
            format!(
                r#"{{"error":{{"message":"Payment required","code":402,"metadata":{{"reason":"{reason}","limit_source":"{source}"}}}},"user_id":"user_x"}}"#
            )
        };
        let in_flight = c(
            402,
            &body("in_flight_budget_exhausted", "openrouter_in_flight_budget"),
        );
        assert_eq!(in_flight.class, FailureClass::InFlightBudget);
        assert!(in_flight.class.is_retryable() && in_flight.class.penalizes_key().is_none());
        let heavy = c(402, &body("weight_exceeds_budget", "openrouter_credits"));
        assert_eq!(heavy.class, FailureClass::RequestTooHeavy);
        assert!(heavy.class.is_final());
        let key_cap = c(402, &body("limit_reached", "openrouter_key_limit"));
        assert_eq!(key_cap.class, FailureClass::KeySpendLimit);
        let broke = c(402, &body("insufficient_credits", "openrouter_credits"));
        assert_eq!(broke.class, FailureClass::NoCredit);
        assert_eq!(broke.user_id.as_deref(), Some("user_x"));
    }

    #[test]
    fn operation_timed_out_is_transient() {
        let f = c(
            408,
            r#"{"error":{"code":408,"message":"Operation timed out. Please try again later."}}"#,
        );
        assert_eq!(f.class, FailureClass::Transient);
        assert!(f.class.is_retryable());
    }

    #[test]
    fn provider_returned_error_502_is_transient_with_provider_text() {
        let f = c(
            502,
            r#"{"error":{"code":502,"message":"Provider returned error","metadata":{"provider_name":"Chutes","raw":"{\"error\":{\"message\":\"upstream connect error\"}}"}}}"#,
        );
        assert_eq!(f.class, FailureClass::Transient);
        assert_eq!(
            f.message,
            "Provider returned error (Chutes: upstream connect error)"
        );
    }

    #[test]
    fn service_unavailable_is_transient() {
        let f = c(
            503,
            r#"{"error":{"code":503,"message":"Service temporarily unavailable"}}"#,
        );
        assert_eq!(f.class, FailureClass::Transient);
    }

    #[test]
    fn bad_requests_and_image_errors() {
        assert_eq!(
            c(400, r#"{"error":{"code":400,"message":"bad"}}"#).class,
            FailureClass::BadRequest
        );
        assert_eq!(
            c(
                413,
                r#"{"error":{"code":413,"message":"Request payload too large"}}"#
            )
            .class,
            FailureClass::BadRequest
        );
        assert_eq!(
            c(413, "<html>too big</html>").class,
            FailureClass::BadRequest
        );
        let img = c(
            400,
            r#"{"error":{"code":400,"message":"The image is not valid","metadata":{"error_type":"invalid_image"}}}"#,
        );
        assert_eq!(img.class, FailureClass::BadRequest);
        let not_found = c(
            404,
            r#"{"error":{"code":404,"message":"image not found","metadata":{"error_type":"image_not_found"}}}"#,
        );
        assert_eq!(not_found.class, FailureClass::BadRequest);
        let fmt = c(
            400,
            r#"{"error":{"code":400,"message":"bmp is not supported","metadata":{"error_type":"unsupported_image_format"}}}"#,
        );
        assert_eq!(fmt.class, FailureClass::BadRequest);
        assert!(fmt.class.is_final());
    }

    const RESET_DAY_MS: i64 = 1_748_822_400_000;
    const RESET_MIN_MS: i64 = 1_748_781_300_000;

    #[test]
    fn free_models_per_day_is_account_daily_exhausted() {
        let h = headers(&[
            ("X-RateLimit-Limit", "50"),
            ("X-RateLimit-Remaining", "0"),
            ("X-RateLimit-Reset", "1748822400000"),
        ]);
        let f = classify(
            429,
            &h,
            r#"{"error":{"message":"Rate limit exceeded: free-models-per-day. Add 10 credits to unlock 1000 free model requests per day","code":429,"metadata":{"headers":{"X-RateLimit-Limit":"50","X-RateLimit-Remaining":"0","X-RateLimit-Reset":"1748822400000"},"provider_name":null}},"user_id":"user_2yOPcMpKoQhcd4bVgSMlELRaIah"}"#,
        );
        assert_eq!(f.class, FailureClass::AccountDailyExhausted);
        assert!(f.class.is_account_wide());
        assert_eq!(f.reset_at, Some(ts(RESET_DAY_MS)));
        assert_eq!(
            f.reset_at.unwrap().to_rfc3339(),
            "2025-06-02T00:00:00+00:00"
        );
        let rl = f.rate_limit.unwrap();
        assert_eq!((rl.limit, rl.remaining), (Some(50), Some(0)));
    }

    #[test]
    fn free_models_per_day_high_balance_from_body_only() {
        let f = c(
            429,
            r#"{"error":{"message":"Rate limit exceeded: free-models-per-day-high-balance. ","code":429,"metadata":{"headers":{"X-RateLimit-Limit":"1000","X-RateLimit-Remaining":"0","X-RateLimit-Reset":"1748822400000"},"limit_source":"openrouter_free_tier_daily","remedy_hint":"Wait for the daily reset"}}}"#,
        );
        assert_eq!(f.class, FailureClass::AccountDailyExhausted);
        assert_eq!(f.reset_at, Some(ts(RESET_DAY_MS)));
        assert_eq!(f.rate_limit.unwrap().limit, Some(1000));
    }

    #[test]
    fn free_models_per_min_is_rate_limited() {
        let h = headers(&[
            ("X-RateLimit-Limit", "20"),
            ("X-RateLimit-Remaining", "0"),
            ("X-RateLimit-Reset", "1748781300000"),
        ]);
        let f = classify(
            429,
            &h,
            r#"{"error":{"message":"Rate limit exceeded: free-models-per-min. ","code":429,"metadata":{"headers":{"X-RateLimit-Limit":"20","X-RateLimit-Remaining":"0","X-RateLimit-Reset":"1748781300000"},"provider_name":null}}}"#,
        );
        assert_eq!(f.class, FailureClass::RateLimited);
        assert!(f.class.is_retryable());
        assert_eq!(f.class.penalizes_key(), None);
        assert_eq!(f.reset_at, Some(ts(RESET_MIN_MS)));
        assert_eq!(
            f.reset_at.unwrap().to_rfc3339(),
            "2025-06-01T12:35:00+00:00"
        );
        let now = ts(RESET_MIN_MS - 30_000);
        assert_eq!(f.wait_hint(now), Some(Duration::from_secs(30)));
    }

    #[test]
    fn upstream_429_is_rate_limited_with_retry_after_seconds() {
        let f = c(
            429,
            r#"{"error":{"message":"Provider returned error","code":429,"metadata":{"raw":"deepseek/deepseek-r1-0528:free is temporarily rate-limited upstream. Please retry shortly, or add your own key to accumulate your rate limits: https://openrouter.ai/settings/integrations","provider_name":"Chutes","is_byok":false,"retry_after_seconds":17,"retry_after_seconds_raw":16.007,"headers":{"Retry-After":"17"},"limit_source":"upstream_provider_shared_pool"}},"user_id":"user_2yOPcMpKoQhcd4bVgSMlELRaIah"}"#,
        );
        assert_eq!(f.class, FailureClass::RateLimited);
        assert_eq!(f.retry_after, Some(Duration::from_secs(17)));
        assert!(
            f.message
                .contains("Chutes: deepseek/deepseek-r1-0528:free is temporarily rate-limited")
        );
    }

    #[test]
    fn capacity_exhausted_is_rate_limited_with_retry_after() {
        let body = r#"{"error":{"message":"All providers for deepseek/deepseek-r1 are at capacity. Retry after 40 seconds.","error_type":"rate_limit_exceeded","http_status":429,"availability":{"code":"capacity_exhausted","retryable":true,"retry_after":40,"requested_models":["deepseek/deepseek-r1"],"affected_providers":["deepinfra","novita"],"fallback_models":["deepseek/deepseek-r1-0528"],"docs_url":"https://openrouter.ai/docs/errors#capacity_exhausted"},"metadata":{"previous_errors":[{"provider":"deepinfra","code":"capacity_exhausted","status":429}]}}}"#;
        let f = c(429, body);
        assert_eq!(f.class, FailureClass::RateLimited);
        assert_eq!(f.retry_after, Some(Duration::from_secs(40)));
        let f = classify(429, &headers(&[("Retry-After", "41")]), body);
        assert_eq!(
            f.retry_after,
            Some(Duration::from_secs(41)),
            "the header wins"
        );
    }

    #[test]
    fn cloudflare_html_524_is_transient() {
        let html = "<!DOCTYPE html>\n<html><head><title>openrouter.ai | 524: A timeout occurred</title></head><body>Cloudflare</body></html>";
        let f = c(524, html);
        assert_eq!(f.class, FailureClass::Transient);
        assert_eq!(f.http_status, Some(524));
        assert!(
            f.message.contains("524: A timeout occurred"),
            "{}",
            f.message
        );
        assert_eq!(c(529, "Overloaded").class, FailureClass::Transient);
        assert_eq!(c(500, "").class, FailureClass::Transient);
    }

    #[test]
    fn json_without_error_object_goes_by_status() {
        let f = c(404, r#"{"detail":"Not Found"}"#);
        assert_eq!(f.class, FailureClass::ModelUnavailable);
        assert_eq!(f.message, "Not Found");
        assert_eq!(c(401, "{}").class, FailureClass::KeyInvalid);
        assert_eq!(c(503, "[1,2]").class, FailureClass::Transient);
    }

    #[test]
    fn whitespace_only_200_is_transient() {
        let f = c(200, "\n\n   \n\t  ");
        assert_eq!(f.class, FailureClass::Transient);
        assert_eq!(f.message, "OpenRouter sent an empty response");
    }

    #[test]
    fn error_in_200_is_classified_by_code() {
        let f = c(
            200,
            r#"{"error":{"code":502,"message":"Provider returned error","metadata":{"provider_name":"Targon","raw":"timeout"}},"user_id":"user_2yOPcMpKoQhcd4bVgSMlELRaIah"}"#,
        );
        assert_eq!(f.class, FailureClass::Transient);
        assert_eq!(f.http_status, Some(200));
        assert_eq!(f.message, "Provider returned error (Targon: timeout)");
        let f = c(
            200,
            r#"{"error":{"code":429,"message":"Rate limit exceeded","metadata":{"error_type":"rate_limit_exceeded"}}}"#,
        );
        assert_eq!(f.class, FailureClass::RateLimited);
        let f = c(
            200,
            r#"{"error":{"code":503,"message":"Service temporarily unavailable"}}"#,
        );
        assert_eq!(f.class, FailureClass::Transient);
    }

    #[test]
    fn malformed_json_200_is_transient() {
        let f = c(
            200,
            r#"{"id":"gen-1","choices":[{"message":{"content":"hal"#,
        );
        assert_eq!(f.class, FailureClass::Transient);
        assert_eq!(
            f.message,
            "OpenRouter sent a response that is not valid JSON"
        );
    }

    #[test]
    fn error_objects_with_word_codes() {
        let v: Value = serde_json::from_str(
            r#"{"code":"server_error","message":"Provider disconnected unexpectedly","metadata":{"error_type":"provider_unavailable"}}"#,
        )
        .unwrap();
        assert_eq!(
            classify_error_object(&v, 200).class,
            FailureClass::Transient
        );
        let v: Value = serde_json::from_str(r#"{"code":"429","message":"slow down"}"#).unwrap();
        assert_eq!(
            classify_error_object(&v, 200).class,
            FailureClass::RateLimited
        );
        let v: Value = serde_json::from_str(
            r#"{"message":"who are you","metadata":{"error_type":"authentication"}}"#,
        )
        .unwrap();
        assert_eq!(
            classify_error_object(&v, 200).class,
            FailureClass::KeyInvalid
        );
    }

    #[test]
    fn messages_are_truncated_and_scrubbed() {
        let key = format!("sk-or-v1-{}", "ab".repeat(32));
        let long = format!("bad key {key} {}", "x".repeat(1000));
        let f = c(
            401,
            &serde_json::json!({"error": {"code": 401, "message": long}}).to_string(),
        );
        assert!(!f.message.contains(&key));
        assert!(f.message.contains(crate::keys::REDACTED));
        assert!(f.message.chars().count() <= MAX_MESSAGE_CHARS);
        assert!(!format!("{f:?}").contains(&key));
        assert_eq!(
            clean_message("label sk-or-v1-4f2...9ab ok"),
            "label sk-or-v1-4f2...9ab ok"
        );
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("17"), Some(Duration::from_secs(17)));
        assert_eq!(parse_retry_after("1.5"), Some(Duration::from_millis(1500)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
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
        for class in FailureClass::ALL {
            let s = failure_sentence(&ApiFailure::new(class, "why."));
            assert!(s.ends_with('.') && s.len() > 20, "{class}: {s}");
        }
        let mut r = ApiFailure::new(FailureClass::RateLimited, "slow");
        r.retry_after = Some(Duration::from_secs(17));
        assert!(failure_sentence(&r).contains("wait about 17 s"));
    }

    #[test]
    fn class_names_round_trip() {
        for class in FailureClass::ALL {
            let json = serde_json::to_string(&class).unwrap();
            assert_eq!(json, format!("\"{}\"", class.as_str()));
            assert_eq!(serde_json::from_str::<FailureClass>(&json).unwrap(), class);
        }
    }
}
