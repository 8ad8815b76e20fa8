//! Configuration of the mock: keys, limits, latency, faults and scripted responses.
//!
//! Everything here is plain data with `pub` fields so tests can build it with struct literals or
//! the small builder helpers; [`Faults`], [`MockKey`] and [`ScriptedResponse`] are also the JSON
//! accepted by the control endpoints (`POST /__mock/faults`, `/__mock/keys`, `/__mock/script`).

use serde::{Deserialize, Serialize};

/// How the mock server behaves. `Default` gives OpenRouter's free-tier limits and no faults.
#[derive(Debug, Clone, PartialEq)]
pub struct MockConfig {
    /// Known keys. Empty means "accept any key shaped `sk-or-v1-` + 64 lowercase hex", each key
    /// then being its own account.
    pub keys: Vec<MockKey>,
    /// Requests per ACCOUNT per UTC day before `429 free-models-per-day` (default 50).
    pub daily_limit: u32,
    /// Requests per ACCOUNT per sliding 60 s before `429 free-models-per-min` (default 20).
    pub minute_limit: u32,
    /// Milliseconds slept before answering each chat request (default 0).
    pub latency_ms: u64,
    /// Faults injected into chat answers (default: none).
    pub faults: Faults,
    /// Models answered with `404 No endpoints found for <model>.`.
    pub unavailable_models: Vec<String>,
    /// When true and `tesseract` is on `PATH`, vision answers carry the image's OCR text.
    pub ocr_with_tesseract: bool,
}

impl Default for MockConfig {
    fn default() -> Self {
        MockConfig {
            keys: Vec::new(),
            daily_limit: 50,
            minute_limit: 20,
            latency_ms: 0,
            faults: Faults::default(),
            unavailable_models: Vec::new(),
            ocr_with_tesseract: false,
        }
    }
}

impl MockConfig {
    /// Adds a known key belonging to `account`.
    pub fn with_key(mut self, key: impl Into<String>, account: impl Into<String>) -> Self {
        self.keys.push(MockKey::new(key, account));
        self
    }

    /// Adds a fully specified key.
    pub fn with_mock_key(mut self, key: MockKey) -> Self {
        self.keys.push(key);
        self
    }

    /// Sets the per-account daily and per-minute limits.
    pub fn with_limits(mut self, daily_limit: u32, minute_limit: u32) -> Self {
        self.daily_limit = daily_limit;
        self.minute_limit = minute_limit;
        self
    }

    /// Sets the latency added before each chat answer.
    pub fn with_latency_ms(mut self, latency_ms: u64) -> Self {
        self.latency_ms = latency_ms;
        self
    }

    /// Sets the faults.
    pub fn with_faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    /// Marks a model as unavailable (404 "No endpoints found for …").
    pub fn with_unavailable_model(mut self, model: impl Into<String>) -> Self {
        self.unavailable_models.push(model.into());
        self
    }
}

/// One key the mock knows, with the account whose quota it shares and its per-key conditions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MockKey {
    /// The key material (`sk-or-v1-…` usually, but any string is accepted when listed).
    pub key: String,
    /// Account name: keys with the same account share the daily and per-minute quota.
    /// Empty means "its own account" (named by the key id).
    #[serde(default)]
    pub account: String,
    /// The key's account has no credit: chat answers 402.
    #[serde(default)]
    pub no_credit: bool,
    /// The key hit its spend limit: chat answers 403 "Key limit exceeded (daily limit)…".
    #[serde(default)]
    pub spend_limited: bool,
}

impl MockKey {
    /// A healthy key in `account`.
    pub fn new(key: impl Into<String>, account: impl Into<String>) -> Self {
        MockKey {
            key: key.into(),
            account: account.into(),
            no_credit: false,
            spend_limited: false,
        }
    }

    /// Marks the key as out of credit (402).
    pub fn no_credit(mut self) -> Self {
        self.no_credit = true;
        self
    }

    /// Marks the key as spend limited (403 "Key limit exceeded").
    pub fn spend_limited(mut self) -> Self {
        self.spend_limited = true;
        self
    }
}

/// Faults injected into chat answers that pass auth, validation and limits. All off by default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Probability (0.0–1.0) of answering a random 502 or 503 with OpenRouter's bodies.
    pub error_rate_5xx: f64,
    /// Sleep 120 s before answering (the client's timeout should fire first).
    pub timeout: bool,
    /// Streams stop mid-way (no finish chunk, no `[DONE]`) and the connection is closed;
    /// non-stream bodies are cut mid-JSON the same way.
    pub cut_stream: bool,
    /// HTTP 200 carrying `{"error":{"code":502,…}}`; in streams the mid-stream error chunk.
    pub error_in_200: bool,
    /// HTTP 200 with truncated JSON (in streams: one truncated `data:` line).
    pub malformed_json: bool,
    /// HTTP 524 with a Cloudflare-style HTML page.
    pub html_body: bool,
    /// `: OPENROUTER PROCESSING` comments before and between SSE chunks; non-stream bodies get
    /// leading newline padding instead.
    pub keepalive_comments: bool,
    /// SSE variant: every `data:` line is written in two TCP writes, split mid-JSON.
    pub sse_split_writes: bool,
    /// SSE variant: `\r\n` line endings.
    pub sse_crlf: bool,
    /// SSE variant: usage rides on the finish chunk instead of a separate `choices: []` chunk.
    pub usage_on_finish_chunk: bool,
    /// SSE variant: `delta.reasoning_details` omitted (only `delta.reasoning`).
    pub no_reasoning_details: bool,
}

/// A response served verbatim to the next chat request (after auth), ahead of all other logic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptedResponse {
    /// HTTP status.
    pub status: u16,
    /// Body bytes, sent as is.
    #[serde(default)]
    pub body: String,
    /// Extra response headers.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// Send `body` as `text/event-stream` (split into writes at event boundaries) instead of JSON.
    #[serde(default)]
    pub sse: bool,
}

impl ScriptedResponse {
    /// A JSON response with `status` and `body`.
    pub fn json(status: u16, body: impl Into<String>) -> Self {
        ScriptedResponse {
            status,
            body: body.into(),
            headers: Vec::new(),
            sse: false,
        }
    }

    /// A 200 `text/event-stream` response whose body is `body`.
    pub fn sse(body: impl Into<String>) -> Self {
        ScriptedResponse {
            status: 200,
            body: body.into(),
            headers: Vec::new(),
            sse: true,
        }
    }

    /// Adds a response header.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}
