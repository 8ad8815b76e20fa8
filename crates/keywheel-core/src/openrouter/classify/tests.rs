//! [`classify()`](super::classify) row by row, on OpenRouter's own bodies: the fixtures of
//! `crates/keywheel-mock/fixtures/openrouter/errors/`, the same files the mock serves
//! ([`keywheel_mock::fixtures`]). Bodies written inline here are ours (proxies, cut JSON,
//! shapes OpenRouter might send), never OpenRouter's wording.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use keywheel_mock::fixtures as fx;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

use super::*;
use crate::openrouter::failure::KeyPenalty;

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

/// A fixture body with its top-level `user_id` set, as the mock sends it to an account.
fn with_user(body: &str, user_id: &str) -> String {
    let mut v: Value = serde_json::from_str(body).unwrap();
    v["user_id"] = Value::from(user_id);
    v.to_string()
}

const REFERENCE_USER: &str = "user_2yOPcMpKoQhcd4bVgSMlELRaIah";

#[test]
fn missing_auth_header_is_key_invalid() {
    let f = c(401, fx::MISSING_AUTH);
    assert_eq!(f.class, FailureClass::KeyInvalid);
    assert_eq!(f.http_status, Some(401));
    assert_eq!(f.message, "Missing Authentication header");
    assert_eq!(f.class.penalizes_key(), Some(KeyPenalty::Invalid));
}

#[test]
fn user_not_found_is_key_invalid() {
    let f = c(401, fx::USER_NOT_FOUND);
    assert_eq!(f.class, FailureClass::KeyInvalid);
}

#[test]
fn no_auth_credentials_is_key_invalid() {
    let f = c(401, fx::NO_AUTH_CREDENTIALS);
    assert_eq!(f.class, FailureClass::KeyInvalid);
}

#[test]
fn insufficient_credits_is_no_credit() {
    let f = c(402, fx::INSUFFICIENT_CREDITS);
    assert_eq!(f.class, FailureClass::NoCredit);
    assert!(f.class.is_account_wide());
    assert!(f.message.starts_with("Insufficient credits."));
}

#[test]
fn can_only_afford_is_a_request_too_heavy_not_a_dead_key() {
    let f = c(402, fx::CAN_ONLY_AFFORD);
    assert_eq!(f.class, FailureClass::RequestTooHeavy);
    assert!(f.class.penalizes_key().is_none());
    assert!(f.message.contains("can only afford 1056"));
    assert_eq!(f.user_id.as_deref(), Some(REFERENCE_USER));
}

#[test]
fn key_limit_exceeded_is_key_spend_limit() {
    let f = c(403, fx::KEY_LIMIT_EXCEEDED);
    assert_eq!(f.class, FailureClass::KeySpendLimit);
    assert_eq!(f.class.penalizes_key(), Some(KeyPenalty::SpendLimit));
    assert!(!f.class.is_account_wide());
}

#[test]
fn flagged_input_is_moderation() {
    let f = c(403, fx::MODERATION);
    assert_eq!(f.class, FailureClass::Moderation);
    assert!(f.class.is_final());
    assert_eq!(f.class.penalizes_key(), None);
    assert!(!f.class.is_retryable());
    assert!(f.message.contains("flagged for \"harassment\""));
}

#[test]
fn guardrail_is_moderation() {
    let f = c(403, fx::GUARDRAIL);
    assert_eq!(f.class, FailureClass::Moderation);
}

#[test]
fn no_endpoints_for_model_is_model_unavailable() {
    let f = c(404, fx::NO_ENDPOINTS);
    assert_eq!(f.class, FailureClass::ModelUnavailable);
    assert!(f.class.next_model() && f.class.model_gone());
}

#[test]
fn no_image_endpoints_is_model_unavailable() {
    let f = c(404, fx::NO_IMAGE_ENDPOINTS);
    assert_eq!(f.class, FailureClass::ModelUnavailable);
}

#[test]
fn data_policy_is_model_unavailable() {
    let f = c(404, fx::DATA_POLICY);
    assert_eq!(f.class, FailureClass::ModelUnavailable);
}

#[test]
fn invalid_model_id_availability_is_model_unavailable() {
    let f = c(400, fx::UNKNOWN_ID_AVAILABILITY);
    assert_eq!(f.class, FailureClass::ModelUnavailable);
    assert!(!f.class.is_retryable());
    assert_eq!(f.class.penalizes_key(), None);
}

#[test]
fn invalid_model_id_without_availability_is_model_level_not_bad_input() {
    let f = c(400, fx::UNKNOWN_ID);
    assert_eq!(f.class, FailureClass::ModelUnavailable);
    assert!(!f.class.is_final());
}

#[test]
fn payment_402s_are_told_apart_by_reason_and_limit_source() {
    let in_flight = c(402, &with_user(fx::IN_FLIGHT, "user_x"));
    assert_eq!(in_flight.class, FailureClass::InFlightBudget);
    assert!(in_flight.class.is_retryable() && in_flight.class.penalizes_key().is_none());
    let heavy = c(402, &with_user(fx::WEIGHT, "user_x"));
    assert_eq!(heavy.class, FailureClass::RequestTooHeavy);
    assert!(heavy.class.is_final());
    let key_cap = c(402, &with_user(fx::KEY_LIMIT_402, "user_x"));
    assert_eq!(key_cap.class, FailureClass::KeySpendLimit);
    let broke = c(402, &with_user(fx::LIMIT_SOURCE_CREDITS, "user_x"));
    assert_eq!(broke.class, FailureClass::NoCredit);
    assert_eq!(broke.user_id.as_deref(), Some("user_x"));
    let never = c(402, fx::NEVER_PURCHASED);
    assert_eq!(never.class, FailureClass::NoCredit);
    assert_eq!(never.user_id, None);
}

#[test]
fn operation_timed_out_is_transient() {
    let f = c(408, fx::TIMED_OUT);
    assert_eq!(f.class, FailureClass::Transient);
    assert!(f.class.is_retryable());
}

#[test]
fn provider_returned_error_502_is_transient_with_provider_text() {
    let f = c(502, fx::PROVIDER_ERROR_502);
    assert_eq!(f.class, FailureClass::Transient);
    assert_eq!(
        f.message,
        "Provider returned error (Chutes: upstream connect error)"
    );
}

#[test]
fn service_unavailable_is_transient() {
    let f = c(503, fx::SERVICE_UNAVAILABLE);
    assert_eq!(f.class, FailureClass::Transient);
}

#[test]
fn bad_requests_and_image_errors() {
    assert_eq!(
        c(400, r#"{"error":{"code":400,"message":"bad"}}"#).class,
        FailureClass::BadRequest
    );
    assert_eq!(
        c(413, fx::PAYLOAD_TOO_LARGE).class,
        FailureClass::BadRequest
    );
    assert_eq!(
        c(413, "<html>too big</html>").class,
        FailureClass::BadRequest
    );
    let img = c(400, fx::INVALID_IMAGE);
    assert_eq!(img.class, FailureClass::BadRequest);
    let not_found = c(404, fx::IMAGE_NOT_FOUND);
    assert_eq!(not_found.class, FailureClass::BadRequest);
    let fmt = c(400, fx::UNSUPPORTED_IMAGE_FORMAT);
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
    let f = classify(429, &h, fx::FREE_PER_DAY);
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
    let f = c(429, fx::FREE_PER_DAY_HIGH_BALANCE);
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
    let f = classify(429, &h, fx::FREE_PER_MIN);
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
    let f = c(429, fx::UPSTREAM_429);
    assert_eq!(f.class, FailureClass::RateLimited);
    assert_eq!(f.retry_after, Some(Duration::from_secs(17)));
    assert!(
        f.message
            .contains("Chutes: deepseek/deepseek-r1-0528:free is temporarily rate-limited")
    );
}

#[test]
fn capacity_exhausted_is_rate_limited_with_retry_after() {
    let f = c(429, fx::CAPACITY_EXHAUSTED);
    assert_eq!(f.class, FailureClass::RateLimited);
    assert_eq!(f.retry_after, Some(Duration::from_secs(40)));
    let f = classify(
        429,
        &headers(&[("Retry-After", "41")]),
        fx::CAPACITY_EXHAUSTED,
    );
    assert_eq!(
        f.retry_after,
        Some(Duration::from_secs(41)),
        "the header wins"
    );
}

#[test]
fn a_retry_after_date_counts_from_the_given_now() {
    let now = Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap();
    let h = headers(&[("Retry-After", "Mon, 01 Jun 2026 12:00:09 GMT")]);
    let f = classify_at(429, &h, fx::RATE_LIMIT_EXCEEDED, now);
    assert_eq!(f.retry_after, Some(Duration::from_secs(9)));
}

#[test]
fn cloudflare_html_524_is_transient() {
    let f = c(524, fx::CLOUDFLARE_524);
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
    let f = c(200, fx::PROVIDER_ERROR_200);
    assert_eq!(f.class, FailureClass::Transient);
    assert_eq!(f.http_status, Some(200));
    assert_eq!(f.message, "Provider returned error (Targon: timeout)");
    let f = c(200, fx::RATE_LIMIT_EXCEEDED);
    assert_eq!(f.class, FailureClass::RateLimited);
    let f = c(200, fx::SERVICE_UNAVAILABLE);
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
    let v: Value = serde_json::from_str(fx::ERROR_WORD_CODE_200).unwrap();
    assert_eq!(
        classify_error_object(&v, 200).class,
        FailureClass::Transient
    );
    assert_eq!(
        classify_error_object(&v["error"], 200).class,
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
fn every_fixture_classifies_without_panicking_and_says_something() {
    for (name, body) in fx::ALL {
        let status: u16 = name[..3].parse().unwrap();
        let f = c(status, body);
        assert!(!f.message.is_empty(), "{name}");
        assert_eq!(f.http_status, Some(status), "{name}");
    }
}
