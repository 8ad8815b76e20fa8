//! The HTTP routes: the OpenRouter API under `/api/v1` (`chat/completions`, `key`, `models`,
//! `generation`) and the unauthenticated control endpoints under `/__mock`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use bytes::Bytes;
use serde_json::{Value, json};

use crate::bodies;
use crate::chat::{self, auth_failure, bearer};
use crate::config::{Faults, MockKey, ScriptedResponse};
use crate::state::{Caller, Shared, key_id};

/// Credits a tier-2 account bought (shown as its keys' cap in `/key`).
const TIER2_CREDITS: f64 = 10.0;

/// Largest request body accepted (images travel as base64 inside JSON).
const MAX_BODY: usize = 64 * 1024 * 1024;

/// Builds the router over the shared state.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/v1/chat/completions", post(chat::chat_completions))
        .route("/api/v1/key", get(key_info))
        .route("/api/v1/auth/key", get(key_info))
        .route("/api/v1/models", get(models))
        .route("/api/v1/generation", get(generation))
        .route("/__mock/stats", get(stats))
        .route("/__mock/requests", get(requests))
        .route("/__mock/requests/{n}/image/{i}", get(request_image))
        .route("/__mock/faults", post(set_faults))
        .route("/__mock/script", post(script))
        .route("/__mock/reset-day", post(reset_day))
        .route("/__mock/keys", post(add_keys))
        .route("/__mock/accounts/used", post(account_used))
        .route("/__mock/accounts/tier2", post(account_tier2))
        .fallback(|| async { bodies::not_found_path() })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(shared)
}

/// `GET /api/v1/key` (and the legacy `/auth/key`): docs/openrouter.md for the caller's key.
async fn key_info(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let caller = shared.authenticate(bearer(&headers));
    if let Some(resp) = auth_failure(&caller) {
        return resp;
    }
    let Caller::Known(key) = caller else {
        return bodies::user_not_found();
    };
    let now = crate::clock::now();
    let limit = shared.account_daily_limit(&key);
    let used = shared.daily_used(&key.account, now);
    let (usage, usage_daily) = shared.usage(&key.key_id, now);
    let (spend_limit, spend_remaining, limit_reset) = if key.spend_limited {
        (json!(1.0), json!(0.0), json!("daily"))
    } else if key.tier2 {
        // A tier-2 account bought 10 credits; its key shows them as its cap.
        (
            json!(TIER2_CREDITS),
            json!((TIER2_CREDITS - usage).max(0.0)),
            Value::Null,
        )
    } else {
        (Value::Null, Value::Null, Value::Null)
    };
    // `is_free_tier` means "never bought credits": an account with a few credits still has
    // the 50 ceiling but is not on the free tier (docs/openrouter.md, "Limits").
    let is_free_tier = !key.has_credits;
    bodies::json_response(
        200,
        &json!({"data": {
            "label": key.label,
            "limit": spend_limit,
            "limit_remaining": spend_remaining,
            "limit_reset": limit_reset,
            "include_byok_in_limit": false,
            "usage": usage,
            "usage_daily": usage_daily,
            "usage_weekly": usage_daily,
            "usage_monthly": usage_daily,
            "byok_usage": 0,
            "byok_usage_daily": 0,
            "byok_usage_weekly": 0,
            "byok_usage_monthly": 0,
            "is_free_tier": is_free_tier,
            "is_management_key": false,
            "is_provisioning_key": false,
            "expires_at": null,
            "creator_user_id": key.user_id,
            "rate_limit": {"requests": -1, "interval": "10s",
                           "note": "This field is deprecated and safe to ignore."},
            "free_model_daily_requests": {
                "limit": limit,
                "used": used,
                "remaining": limit.saturating_sub(used),
            },
        }}),
    )
}

/// `GET /api/v1/models`: the catalogue (a loaded snapshot byte for byte), no auth.
async fn models(State(shared): State<Arc<Shared>>) -> Response {
    bodies::raw_response(200, "application/json", shared.settings().catalog.body())
}

/// `GET /api/v1/generation?id=…`: 404 on the first look-up of each id, then the record.
async fn generation(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let caller = shared.authenticate(bearer(&headers));
    if let Some(resp) = auth_failure(&caller) {
        return resp;
    }
    let Some(id) = q.get("id").filter(|id| !id.is_empty()) else {
        return bodies::bad_request("Missing required query parameter: id", "invalid_request");
    };
    match shared.generation(id) {
        Some(record) => bodies::json_response(200, &record),
        None => bodies::generation_not_found(),
    }
}

/// `GET /__mock/stats`.
async fn stats(State(shared): State<Arc<Shared>>) -> Response {
    let mut s = shared.stats();
    s.accounts_daily_used = shared.accounts_daily(crate::clock::now());
    bodies::json_response(200, &json!(s))
}

/// `GET /__mock/requests`.
async fn requests(State(shared): State<Arc<Shared>>) -> Response {
    bodies::json_response(200, &json!(shared.requests()))
}

/// `GET /__mock/requests/{n}/image/{i}`: the raw image bytes as sent.
async fn request_image(
    State(shared): State<Arc<Shared>>,
    Path((n, i)): Path<(u64, usize)>,
) -> Response {
    let mime = shared
        .requests()
        .into_iter()
        .find(|r| r.seq == n)
        .and_then(|r| r.images.get(i).map(|img| img.mime.clone()));
    match (shared.image(n, i), mime) {
        (Some(bytes), Some(mime)) => bodies::raw_response(200, &mime, bytes),
        _ => bodies::json_response(
            404,
            &json!({"error": {"code": 404, "message": format!("no image {i} kept for request {n}")}}),
        ),
    }
}

fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Box<Response>> {
    serde_json::from_slice(body).map_err(|e| {
        Box::new(bodies::bad_request(
            &format!("Invalid JSON body: {e}"),
            "invalid_request",
        ))
    })
}

fn ok() -> Response {
    bodies::json_response(200, &json!({"ok": true}))
}

/// `POST /__mock/faults` with the JSON of [`Faults`].
async fn set_faults(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    match parse_json::<Faults>(&body) {
        Ok(f) => {
            shared.set_faults(f);
            ok()
        }
        Err(resp) => *resp,
    }
}

/// `POST /__mock/script` with a JSON array of [`ScriptedResponse`].
async fn script(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    match parse_json::<Vec<ScriptedResponse>>(&body) {
        Ok(list) => {
            let n = list.len();
            shared.script(list);
            bodies::json_response(200, &json!({"ok": true, "queued": n}))
        }
        Err(resp) => *resp,
    }
}

/// `POST /__mock/reset-day`.
async fn reset_day(State(shared): State<Arc<Shared>>) -> Response {
    shared.reset_day();
    ok()
}

/// `POST /__mock/keys` with one [`MockKey`] (or an array of them); answers their key ids.
async fn add_keys(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let keys = match parse_json::<Value>(&body) {
        Ok(Value::Array(_)) => parse_json::<Vec<MockKey>>(&body),
        Ok(_) => parse_json::<MockKey>(&body).map(|k| vec![k]),
        Err(resp) => Err(resp),
    };
    match keys {
        Ok(keys) => {
            let ids: Vec<String> = keys.iter().map(|k| key_id(&k.key)).collect();
            for k in keys {
                shared.add_key(k);
            }
            bodies::json_response(200, &json!({"ok": true, "key_ids": ids}))
        }
        Err(resp) => *resp,
    }
}

/// Body of `POST /__mock/accounts/used`.
#[derive(serde::Deserialize)]
struct AccountUsed {
    account: String,
    used: u32,
}

/// `POST /__mock/accounts/used` with `{"account": NAME, "used": N}`: the account has used N
/// requests today (keys that are their own account are named by key id).
async fn account_used(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    match parse_json::<AccountUsed>(&body) {
        Ok(a) => {
            shared.set_account_used(&a.account, a.used, crate::clock::now());
            ok()
        }
        Err(resp) => *resp,
    }
}

/// Body of `POST /__mock/accounts/tier2`.
#[derive(serde::Deserialize)]
struct AccountTier2 {
    account: String,
    #[serde(default = "yes")]
    tier2: bool,
}

fn yes() -> bool {
    true
}

/// `POST /__mock/accounts/tier2` with `{"account": NAME, "tier2": true|false}`.
async fn account_tier2(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    match parse_json::<AccountTier2>(&body) {
        Ok(a) => {
            shared.set_tier2(&a.account, a.tier2);
            ok()
        }
        Err(resp) => *resp,
    }
}
