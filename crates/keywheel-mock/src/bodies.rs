//! OpenRouter's error bodies and response helpers. The bodies are the fixtures of
//! `fixtures/openrouter/errors/` ([`crate::fixtures`]; sources in the README there), with the
//! caller's model ids, limits and reset times filled in.
//!
//! Every function returns a ready [`Response`] so handlers stay short. Bodies sent to a known
//! key carry the account's top-level `user_id`.

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use crate::fixtures as fx;

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
    json_response(401, &parse(fx::MISSING_AUTH))
}

/// 401 for a key the mock does not know.
pub(crate) fn user_not_found() -> Response {
    json_response(401, &parse(fx::USER_NOT_FOUND))
}

/// A fixture body as it is.
fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| json!({}))
}

/// A fixture body with the account's top-level `user_id` set.
fn fixture(text: &str, user_id: &str) -> Value {
    let mut v = parse(text);
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
        } => fixture(fx::NEVER_PURCHASED, user_id),
        Paid402::NoCredits {
            never_purchased: false,
        } => fixture(fx::LIMIT_SOURCE_CREDITS, user_id),
        Paid402::InFlight => {
            let mut v = fixture(fx::IN_FLIGHT, user_id);
            v["error"]["metadata"]["headers"] = json!({"Retry-After": "1"});
            v
        }
        Paid402::Weight => fixture(fx::WEIGHT, user_id),
        Paid402::KeyLimit => fixture(fx::KEY_LIMIT_402, user_id),
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
        let mut v = fixture(fx::UNKNOWN_ID_AVAILABILITY, user_id);
        v["error"]["message"] = json!(message);
        v["error"]["availability"]["requested_models"] = json!(requested);
        v
    } else {
        let mut v = fixture(fx::UNKNOWN_ID, user_id);
        v["error"]["message"] = json!(message);
        v
    };
    json_response(400, &body)
}

/// 402 for an account with a negative balance (every model, free ones included).
pub(crate) fn no_credit(user_id: &str) -> Response {
    json_response(402, &fixture(fx::LIMIT_SOURCE_CREDITS, user_id))
}

/// 403 for a key past its spend limit.
pub(crate) fn key_limit_exceeded(user_id: &str) -> Response {
    json_response(403, &fixture(fx::KEY_LIMIT_EXCEEDED, user_id))
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
    let mut v = fixture(fx::NO_ENDPOINTS, user_id);
    v["error"]["message"] = json!(format!("No endpoints found for {model}."));
    json_response(404, &v)
}

/// 404 "No endpoints found that support image input".
pub(crate) fn no_image_endpoints(user_id: &str) -> Response {
    json_response(404, &fixture(fx::NO_IMAGE_ENDPOINTS, user_id))
}

/// 429 daily (`free-models-per-day`), with headers mirrored into `metadata.headers`.
pub(crate) fn daily_limit(limit: u32, reset_ms: i64, user_id: &str) -> Response {
    let headers = json!({
        "X-RateLimit-Limit": limit.to_string(),
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": reset_ms.to_string(),
    });
    // The high-balance capture carries no `user_id`; the mock sends it as captured.
    let mut body = if limit >= 1000 {
        parse(fx::FREE_PER_DAY_HIGH_BALANCE)
    } else {
        fixture(fx::FREE_PER_DAY, user_id)
    };
    body["error"]["metadata"]["headers"] = headers;
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
    let mut body = fixture(fx::FREE_PER_MIN, user_id);
    body["error"]["metadata"]["headers"] = json!({
        "X-RateLimit-Limit": limit.to_string(),
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": reset_ms.to_string(),
    });
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
    fixture(fx::PROVIDER_ERROR_200, user_id)
}

/// A random 5xx fault: 502 with a provider error or 503 with `Retry-After`.
pub(crate) fn server_error(status_502: bool, user_id: &str) -> Response {
    if status_502 {
        json_response(502, &fixture(fx::PROVIDER_ERROR_502, user_id))
    } else {
        let mut resp = json_response(503, &fixture(fx::SERVICE_UNAVAILABLE, user_id));
        add_header(&mut resp, "Retry-After", "1");
        resp
    }
}

/// The 524 Cloudflare-style HTML page.
pub(crate) fn cloudflare_524() -> Response {
    raw_response(524, "text/html; charset=UTF-8", fx::CLOUDFLARE_524)
}

/// 404 for an unknown (or not yet ready) generation id.
pub(crate) fn generation_not_found() -> Response {
    json_response(404, &parse(fx::GENERATION_NOT_FOUND))
}

/// 404 for paths the mock does not serve.
pub(crate) fn not_found_path() -> Response {
    json_response(
        404,
        &json!({"error": {"code": 404, "message": "Not Found"}}),
    )
}
