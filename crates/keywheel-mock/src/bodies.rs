//! OpenRouter's error bodies and response helpers, reproduced from the reference (§7, §10.4) and
//! from real 2026 bodies kept as fixtures in `fixtures/openrouter/errors/` (see the README
//! there for their sources).
//!
//! Every function returns a ready [`Response`] so handlers stay short and the wording lives in
//! one place. Bodies sent to a known key carry the account's top-level `user_id`.

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

/// A JSON response with `status`.
pub(crate) fn json_response(status: u16, body: &Value) -> Response {
    raw_response(status, "application/json", body.to_string())
}

/// A response with an arbitrary content type and body.
pub(crate) fn raw_response(status: u16, content_type: &str, body: impl Into<Body>) -> Response {
    let mut resp = Response::new(body.into());
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = HeaderValue::from_str(content_type) {
        resp.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    resp
}

/// Adds a header, ignoring names or values that are not valid HTTP.
pub(crate) fn add_header(resp: &mut Response, name: &str, value: &str) {
    if let (Ok(n), Ok(v)) = (
        HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(value),
    ) {
        resp.headers_mut().append(n, v);
    }
}

/// 401 with no `Authorization` header.
pub(crate) fn missing_auth() -> Response {
    json_response(
        401,
        &json!({"error": {"code": 401, "message": "Missing Authentication header"}}),
    )
}

/// 401 for a key the mock does not know.
pub(crate) fn user_not_found() -> Response {
    json_response(
        401,
        &json!({"error": {"message": "User not found.", "code": 401}}),
    )
}

const NEVER_PURCHASED: &str =
    include_str!("../fixtures/openrouter/errors/402-never-purchased-credits.json");
const LIMIT_SOURCE_CREDITS: &str =
    include_str!("../fixtures/openrouter/errors/402-insufficient-credits-limit-source.json");
const IN_FLIGHT: &str = include_str!("../fixtures/openrouter/errors/402-in-flight-budget.json");
const WEIGHT: &str = include_str!("../fixtures/openrouter/errors/402-weight-exceeds-budget.json");
const KEY_LIMIT: &str = include_str!("../fixtures/openrouter/errors/402-key-limit.json");
const UNKNOWN_ID: &str =
    include_str!("../fixtures/openrouter/errors/400-not-a-valid-model-id.json");
const UNKNOWN_ID_AVAILABILITY: &str =
    include_str!("../fixtures/openrouter/errors/400-not-a-valid-model-id-availability.json");

/// A fixture body with the account's top-level `user_id` set.
fn fixture(text: &str, user_id: &str) -> Value {
    let mut v: Value = serde_json::from_str(text).unwrap_or_else(|_| json!({}));
    v["user_id"] = json!(user_id);
    v
}

/// Which 402 a paid-model request meets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Paid402 {
    /// The account never bought credits (`never_purchased`: which real body).
    NoCredits { never_purchased: bool },
    /// Too many paid requests in flight for the balance (`Retry-After: 1`).
    InFlight,
    /// This one request is too heavy for the balance.
    Weight,
    /// The key's own credit cap.
    KeyLimit,
}

/// The 402 answer of `kind`.
pub(crate) fn paid_402(kind: Paid402, user_id: &str) -> Response {
    let body = match kind {
        Paid402::NoCredits {
            never_purchased: true,
        } => fixture(NEVER_PURCHASED, user_id),
        Paid402::NoCredits {
            never_purchased: false,
        } => fixture(LIMIT_SOURCE_CREDITS, user_id),
        Paid402::InFlight => {
            let mut v = fixture(IN_FLIGHT, user_id);
            v["error"]["metadata"]["headers"] = json!({"Retry-After": "1"});
            v
        }
        Paid402::Weight => fixture(WEIGHT, user_id),
        Paid402::KeyLimit => fixture(KEY_LIMIT, user_id),
    };
    let mut resp = json_response(402, &body);
    if kind == Paid402::InFlight {
        add_header(&mut resp, "Retry-After", "1");
    }
    resp
}

/// 400 for a model id that is not in the catalogue, in the plain or the availability shape.
pub(crate) fn unknown_model(
    model: &str,
    requested: &[&str],
    availability: bool,
    user_id: &str,
) -> Response {
    let message = format!("{model} is not a valid model ID");
    let body = if availability {
        let mut v = fixture(UNKNOWN_ID_AVAILABILITY, user_id);
        v["error"]["message"] = json!(message);
        v["error"]["availability"]["requested_models"] = json!(requested);
        v
    } else {
        let mut v = fixture(UNKNOWN_ID, user_id);
        v["error"]["message"] = json!(message);
        v
    };
    json_response(400, &body)
}

/// 402 for an account with a negative balance (every model, free ones included).
pub(crate) fn no_credit(user_id: &str) -> Response {
    json_response(402, &fixture(LIMIT_SOURCE_CREDITS, user_id))
}

/// 403 for a key past its spend limit.
pub(crate) fn key_limit_exceeded(user_id: &str) -> Response {
    json_response(
        403,
        &json!({"error": {
            "message": "Key limit exceeded (daily limit). Manage it using https://openrouter.ai/settings/keys",
            "code": 403},
            "user_id": user_id}),
    )
}

/// 400 in OpenRouter's minimal shape, with a typed `error_type` (no account known yet).
pub(crate) fn bad_request(message: &str, error_type: &str) -> Response {
    json_response(
        400,
        &json!({"error": {"code": 400, "message": message, "metadata": {"error_type": error_type}}}),
    )
}

/// Like [`bad_request`], for a known key: carries the account's `user_id`.
pub(crate) fn bad_request_for(message: &str, error_type: &str, user_id: &str) -> Response {
    json_response(
        400,
        &json!({"error": {"code": 400, "message": message, "metadata": {"error_type": error_type}},
                "user_id": user_id}),
    )
}

/// 404 "No endpoints found for <model>.".
pub(crate) fn no_endpoints(model: &str, user_id: &str) -> Response {
    json_response(
        404,
        &json!({"error": {"message": format!("No endpoints found for {model}."), "code": 404},
                "user_id": user_id}),
    )
}

/// 404 "No endpoints found that support image input".
pub(crate) fn no_image_endpoints(user_id: &str) -> Response {
    json_response(
        404,
        &json!({"error": {"message": "No endpoints found that support image input", "code": 404},
                "user_id": user_id}),
    )
}

/// 429 daily (`free-models-per-day`), with headers mirrored into `metadata.headers`.
pub(crate) fn daily_limit(limit: u32, reset_ms: i64, user_id: &str) -> Response {
    let headers = json!({
        "X-RateLimit-Limit": limit.to_string(),
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": reset_ms.to_string(),
    });
    let body = if limit >= 1000 {
        json!({"error": {
            "message": "Rate limit exceeded: free-models-per-day-high-balance. ",
            "code": 429,
            "metadata": {"headers": headers, "limit_source": "openrouter_free_tier_daily",
                         "remedy_hint": "Wait for the daily reset"}}})
    } else {
        json!({"error": {
            "message": "Rate limit exceeded: free-models-per-day. Add 10 credits to unlock 1000 free model requests per day",
            "code": 429,
            "metadata": {"headers": headers, "provider_name": null}},
            "user_id": user_id})
    };
    let mut resp = json_response(429, &body);
    add_ratelimit_headers(&mut resp, limit, reset_ms);
    resp
}

/// 429 per-minute (`free-models-per-min`) with `Retry-After`.
pub(crate) fn minute_limit(
    limit: u32,
    reset_ms: i64,
    retry_after_s: i64,
    user_id: &str,
) -> Response {
    let body = json!({"error": {
        "message": "Rate limit exceeded: free-models-per-min. ",
        "code": 429,
        "metadata": {"headers": {
            "X-RateLimit-Limit": limit.to_string(),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": reset_ms.to_string(),
        }, "provider_name": null}},
        "user_id": user_id});
    let mut resp = json_response(429, &body);
    add_ratelimit_headers(&mut resp, limit, reset_ms);
    add_header(&mut resp, "Retry-After", &retry_after_s.to_string());
    resp
}

fn add_ratelimit_headers(resp: &mut Response, limit: u32, reset_ms: i64) {
    add_header(resp, "X-RateLimit-Limit", &limit.to_string());
    add_header(resp, "X-RateLimit-Remaining", "0");
    add_header(resp, "X-RateLimit-Reset", &reset_ms.to_string());
}

/// The 502 "Provider returned error" body.
pub(crate) fn provider_error_body(user_id: &str) -> Value {
    json!({"error": {"code": 502, "message": "Provider returned error",
                     "metadata": {"provider_name": "Targon", "raw": "timeout"}},
           "user_id": user_id})
}

/// A random 5xx fault: 502 with a provider error or 503 with `Retry-After`.
pub(crate) fn server_error(status_502: bool, user_id: &str) -> Response {
    if status_502 {
        json_response(
            502,
            &json!({"error": {"code": 502, "message": "Provider returned error",
                "metadata": {"provider_name": "Chutes",
                             "raw": "{\"error\":{\"message\":\"upstream connect error\"}}"}},
                "user_id": user_id}),
        )
    } else {
        let mut resp = json_response(
            503,
            &json!({"error": {"code": 503, "message": "Service temporarily unavailable"},
                    "user_id": user_id}),
        );
        add_header(&mut resp, "Retry-After", "1");
        resp
    }
}

/// The 524 Cloudflare-style HTML page.
pub(crate) fn cloudflare_524() -> Response {
    const PAGE: &str = "<!DOCTYPE html>\n<html lang=\"en-US\">\n<head>\n<title>openrouter.ai | 524: A timeout occurred</title>\n<meta charset=\"UTF-8\" />\n</head>\n<body>\n<div id=\"cf-wrapper\">\n<h1><span class=\"cf-error-type\">Error</span> <span class=\"cf-error-code\">524</span></h1>\n<h2 class=\"cf-subheadline\">A timeout occurred</h2>\n<p>The origin web server timed out responding to this request.</p>\n<p>Cloudflare Ray ID: <strong>8f1c2a3b4d5e6f70</strong> &bull; Performance &amp; security by Cloudflare</p>\n</div>\n</body>\n</html>\n";
    raw_response(524, "text/html; charset=UTF-8", PAGE)
}

/// 404 for an unknown (or not yet ready) generation id.
pub(crate) fn generation_not_found() -> Response {
    json_response(
        404,
        &json!({"error": {"code": 404, "message": "Generation not found"}}),
    )
}

/// 404 for paths the mock does not serve.
pub(crate) fn not_found_path() -> Response {
    json_response(
        404,
        &json!({"error": {"code": 404, "message": "Not Found"}}),
    )
}
