//! OpenRouter's wait and limit hints: `X-RateLimit-Limit` / `-Remaining` / `-Reset` and
//! `Retry-After`, from response headers or from the copy OpenRouter puts in an error body's
//! `metadata.headers` (docs/openrouter.md).
//!
//! Pure: "now" is passed in (a `Retry-After` HTTP date becomes the time left until it), so
//! every form is tested without a clock.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::types::value_u64;

/// Longest wait a server hint is taken for: a week.
const MAX_HINT_SECS: f64 = 86_400.0 * 7.0;

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

    /// Each value from `self`, else from `other`.
    pub fn or(self, other: RateLimitInfo) -> RateLimitInfo {
        RateLimitInfo {
            limit: self.limit.or(other.limit),
            remaining: self.remaining.or(other.remaining),
            reset: self.reset.or(other.reset),
        }
    }
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

/// Reads `X-RateLimit-*` from a JSON copy of the headers (`error.metadata.headers`; names
/// matched case-insensitively, values as strings or numbers).
pub fn rate_limit_from_json(h: &Value) -> RateLimitInfo {
    RateLimitInfo {
        limit: json_header(h, "x-ratelimit-limit").and_then(value_u64),
        remaining: json_header(h, "x-ratelimit-remaining").and_then(value_u64),
        reset: json_header(h, "x-ratelimit-reset").and_then(|v| match v {
            Value::String(s) => parse_reset(s),
            Value::Number(n) => n.as_f64().and_then(epoch_to_time),
            _ => None,
        }),
    }
}

/// The `Retry-After` response header, as a wait from `now`.
pub fn retry_after_from_headers(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|s| parse_retry_after(s, now))
}

/// A header in a JSON object, matched case-insensitively.
pub fn json_header<'a>(h: &'a Value, name: &str) -> Option<&'a Value> {
    h.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// `X-RateLimit-Reset`: epoch milliseconds (or seconds, for small values).
pub fn parse_reset(s: &str) -> Option<DateTime<Utc>> {
    epoch_to_time(s.trim().parse::<f64>().ok()?)
}

fn epoch_to_time(n: f64) -> Option<DateTime<Utc>> {
    if !n.is_finite() || n <= 0.0 {
        return None;
    }
    let ms = if n < 10_000_000_000.0 { n * 1000.0 } else { n };
    Utc.timestamp_millis_opt(ms as i64).single()
}

/// `Retry-After`: delta seconds (possibly fractional, at most a week), or an HTTP date (the
/// time left from `now`, zero when past).
pub fn parse_retry_after(s: &str, now: DateTime<Utc>) -> Option<Duration> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0)
            .then(|| Duration::from_secs_f64(secs.min(MAX_HINT_SECS)));
    }
    let at = DateTime::parse_from_rfc2822(s).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// A wait given in a JSON body (`retry_after_seconds`, `availability.retry_after`, a copied
/// `Retry-After`): a number of seconds, or a string in any `Retry-After` form.
pub fn wait_from_json(v: &Value, now: DateTime<Utc>) -> Option<Duration> {
    match v {
        Value::Number(n) => n
            .as_f64()
            .filter(|f| f.is_finite() && *f >= 0.0)
            .map(|f| Duration::from_secs_f64(f.min(MAX_HINT_SECS))),
        Value::String(s) => parse_retry_after(s, now),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderName, HeaderValue};
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
    }

    #[test]
    fn retry_after_forms() {
        let now = now();
        assert_eq!(parse_retry_after("17", now), Some(Duration::from_secs(17)));
        assert_eq!(
            parse_retry_after("1.5", now),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after("Mon, 01 Jun 2026 12:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(
            parse_retry_after("1e12", now),
            Some(Duration::from_secs(7 * 86_400))
        );
    }

    #[test]
    fn rate_limits_from_headers_and_from_their_json_copy() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("X-RateLimit-Limit", "20"),
            ("X-RateLimit-Remaining", "0"),
            ("X-RateLimit-Reset", "1748781300000"),
            ("Retry-After", "5"),
        ] {
            h.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        let from_headers = rate_limit_from_headers(&h);
        let reset = Utc.timestamp_millis_opt(1_748_781_300_000).unwrap();
        assert_eq!(
            from_headers,
            RateLimitInfo {
                limit: Some(20),
                remaining: Some(0),
                reset: Some(reset),
            }
        );
        assert_eq!(
            retry_after_from_headers(&h, now()),
            Some(Duration::from_secs(5))
        );
        let copy = json!({"x-ratelimit-limit": 20, "X-RATELIMIT-REMAINING": "0",
                          "X-RateLimit-Reset": 1_748_781_300_i64});
        assert_eq!(rate_limit_from_json(&copy), from_headers);
        assert!(rate_limit_from_json(&json!([1])).is_empty());
        let partial = RateLimitInfo {
            limit: Some(50),
            ..Default::default()
        };
        assert_eq!(partial.clone().or(from_headers.clone()).limit, Some(50));
        assert_eq!(partial.or(from_headers).reset, Some(reset));
    }

    #[test]
    fn waits_in_json_bodies() {
        assert_eq!(
            wait_from_json(&json!(40), now()),
            Some(Duration::from_secs(40))
        );
        assert_eq!(
            wait_from_json(&json!("17"), now()),
            Some(Duration::from_secs(17))
        );
        assert_eq!(wait_from_json(&json!(-3), now()), None);
        assert_eq!(wait_from_json(&json!(null), now()), None);
    }
}
