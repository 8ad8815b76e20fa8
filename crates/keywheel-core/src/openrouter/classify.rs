//! Wire bodies → failures: every HTTP status, error body, error object inside a 200 body or an
//! SSE chunk, and transport error becomes an [`ApiFailure`] whose [`FailureClass`] says what to
//! do ([`super::failure`] holds the classes and the one table of what each asks for).
//!
//! What is read: OpenRouter's `error` object (`code` as a number, a numeric string or a word;
//! or `error_type` + `http_status`), `metadata.reason` / `limit_source` (the kinds of 402),
//! `availability.code`, typed `metadata.error_type`s, the provider's own words in
//! `metadata.raw`, the top-level `user_id`, and the wait and limit hints ([`super::headers`]).
//! Bodies that are empty, HTML or not JSON go by their status. The real bodies this is tested
//! on are fixtures shared with keywheel-mock (`crates/keywheel-mock/fixtures/openrouter/errors/`).

use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use serde_json::Value;

use super::failure::{ApiFailure, FailureClass};
use super::headers::{
    json_header, rate_limit_from_headers, rate_limit_from_json, retry_after_from_headers,
    wait_from_json,
};

/// Longest upstream message kept in [`ApiFailure::message`], in characters.
pub const MAX_MESSAGE_CHARS: usize = 300;

/// Classifies a failed (or error-carrying) HTTP response from its status, headers and body.
///
/// JSON bodies with an `error` object are classified by that object (even with status 200);
/// empty or non-JSON bodies (Cloudflare HTML, truncated JSON) are [`FailureClass::Transient`],
/// except that 401, 402, 413 and 429 keep their meaning.
pub fn classify(status: u16, headers: &HeaderMap, body: &str) -> ApiFailure {
    classify_at(status, headers, body, crate::clock::system_now())
}

/// [`classify()`] with an explicit "now" (a `Retry-After` HTTP date is a wait from it).
pub fn classify_at(status: u16, headers: &HeaderMap, body: &str, now: DateTime<Utc>) -> ApiFailure {
    let header_info = rate_limit_from_headers(headers);
    let header_retry = retry_after_from_headers(headers, now);
    let trimmed = body.trim();
    let mut failure = match serde_json::from_str::<Value>(trimmed) {
        Ok(v) if v.get("error").is_some_and(|e| !e.is_null()) => {
            let mut f = error_object_at(&v, status, now);
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
    error_object_at(v, http_status, crate::clock::system_now())
}

fn error_object_at(v: &Value, http_status: u16, now: DateTime<Utc>) -> ApiFailure {
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
    let wait = |v: &Value| wait_from_json(v, now);
    let retry_after = metadata
        .and_then(|m| m.get("retry_after_seconds"))
        .and_then(wait)
        .or_else(|| {
            headers_meta
                .and_then(|h| json_header(h, "retry-after"))
                .and_then(wait)
        })
        .or_else(|| {
            availability
                .and_then(|a| a.get("retry_after"))
                .and_then(wait)
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

fn as_u16(v: &Value) -> Option<u16> {
    match v {
        Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Cuts a message to [`MAX_MESSAGE_CHARS`], collapses whitespace and masks anything shaped
/// like an OpenRouter key with the one redactor, [`crate::keys::redact`].
pub(crate) fn clean_message(s: &str) -> String {
    // Upstream text reaches terminals and the web view: no control characters (escape
    // sequences, bells, C1 controls), whitespace collapsed.
    let visible: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let collapsed = visible.split_whitespace().collect::<Vec<_>>().join(" ");
    let scrubbed = crate::keys::redact(&collapsed);
    if scrubbed.chars().count() <= MAX_MESSAGE_CHARS {
        scrubbed.into_owned()
    } else {
        let mut out: String = scrubbed.chars().take(MAX_MESSAGE_CHARS - 1).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests;
