//! What the mock observed, as returned by `GET /__mock/stats` and `GET /__mock/requests`
//! (and by [`crate::MockServer::stats`] / [`crate::MockServer::requests`]).
//!
//! Keys are named only by their key id (first 12 hex of SHA-256); the key itself never appears.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Counters of chat requests, per key id and in total.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Per key id (`missing` for requests without a bearer token).
    pub keys: BTreeMap<String, KeyStats>,
    /// Chat requests received, all keys, including rejected ones.
    pub total_requests: u64,
    /// Requests counted toward each account's quota today (account name, or the key id for
    /// keys that are their own account).
    #[serde(default)]
    pub accounts_daily_used: BTreeMap<String, u32>,
}

/// Chat-request counters for one key id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyStats {
    /// Chat requests received with this key, including rejected ones.
    pub requests: u64,
    /// Requests that passed auth, validation and limits, i.e. reached the simulated model and
    /// were counted toward the account's daily quota (a 5xx fault after that still counts;
    /// 400/401/402/403/404/429 and scripted responses do not).
    pub served: u64,
    /// Answers by HTTP status (`"200"`, `"429"`, …). Requests whose client went away before the
    /// answer (latency, timeout fault) are not listed.
    pub status: BTreeMap<String, u64>,
    /// 429s produced by the mock's own daily or per-minute limits (not scripted ones).
    pub rate_limited_429: u64,
}

/// One recorded chat request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedRequest {
    /// Sequence number of the request since the server started (0-based); the `<n>` of
    /// `GET /__mock/requests/<n>/image/<i>`.
    pub seq: u64,
    /// Key id of the bearer token (`missing` when there was none).
    pub key_id: String,
    /// The request's `model` field.
    pub model: Option<String>,
    /// The request's `models` fallback list.
    #[serde(default)]
    pub models: Vec<String>,
    /// The model that answered (after fallbacks), when one did.
    #[serde(default)]
    pub model_used: Option<String>,
    /// Whether `stream: true` was asked.
    pub stream: bool,
    /// All text parts of all messages, joined with `\n`.
    pub text: String,
    /// The images sent, in order.
    #[serde(default)]
    pub images: Vec<RecordedImage>,
    /// HTTP status of the answer; 0 while none was sent.
    pub status: u16,
    /// Whether a scripted response answered it.
    #[serde(default)]
    pub scripted: bool,
}

/// One image of a recorded request (only images that decoded are listed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedImage {
    /// MIME type from the data URL.
    pub mime: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Size of the decoded (base64-decoded, still encoded as PNG/JPEG/…) bytes.
    pub bytes: u64,
}
