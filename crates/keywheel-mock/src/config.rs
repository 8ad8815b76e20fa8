//! Configuration of the mock: keys, limits, latency, faults and scripted responses.
//!
//! Everything here is plain data with `pub` fields so tests can build it with struct literals or
//! the small builder helpers; [`Faults`], [`MockKey`] and [`ScriptedResponse`] are also the JSON
//! accepted by the control endpoints (`POST /__mock/faults`, `/__mock/keys`, `/__mock/script`).

use std::path::Path;
use std::sync::Arc;

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
    /// A real `GET /api/v1/models` answer to serve verbatim and to answer chat from (modalities,
    /// prices). `None` keeps the built-in catalogue. Loading one turns on `strict_models`.
    pub catalog: Option<CatalogJson>,
    /// Refuse chat for model ids that are not in the catalogue with OpenRouter's unknown-id 400.
    pub strict_models: bool,
    /// Which of the two unknown-id 400 bodies to send.
    pub unknown_model_shape: UnknownModelShape,
    /// No account has ever bought credits (except tier-2 accounts): paid models answer 402,
    /// free models (`:free` or zero-priced) keep working.
    pub no_credits: bool,
    /// Which real body the no-credits 402 carries.
    pub no_credits_body: NoCreditsBody,
    /// Accounts that bought 10 credits or more: 1000 free-model requests a day, credits for
    /// paid models, `is_free_tier: false` in `/key`.
    pub tier2_accounts: Vec<String>,
    /// Daily limit of tier-2 accounts (default 1000).
    pub tier2_daily_limit: u32,
    /// Requests each named account has already used today when the server starts, as if its keys
    /// had been used elsewhere (`/key` and the daily limit see them).
    pub account_used: Vec<(String, u32)>,
}

/// The text of a `/models` answer, shared cheaply; `Debug` shows only its size.
#[derive(Clone, PartialEq, Eq)]
pub struct CatalogJson(pub Arc<str>);

impl std::fmt::Debug for CatalogJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CatalogJson({} bytes)", self.0.len())
    }
}

/// The two bodies OpenRouter uses for an unknown model id (both HTTP 400).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownModelShape {
    /// `{"error":{"message":"<id> is not a valid model ID","code":400},"user_id":"user_…"}`.
    #[default]
    Plain,
    /// The documented availability body: `error.availability = {"code":"model_not_found",
    /// "retryable":false,…}` with `error_type` and `http_status` in place of `code`.
    Availability,
    /// Plain, availability, plain, … (one counter for the whole server).
    Alternate,
}

/// The two real bodies of a no-credits 402 on a paid model.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoCreditsBody {
    /// "Insufficient credits. This account never purchased credits. …" with no `metadata`
    /// (as captured in 2026).
    #[default]
    NeverPurchased,
    /// "Insufficient credits. Add more using …" with `metadata.limit_source:
    /// "openrouter_credits"` and a `remedy_hint` (as captured in July 2026).
    LimitSource,
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
            catalog: None,
            strict_models: false,
            unknown_model_shape: UnknownModelShape::default(),
            no_credits: false,
            no_credits_body: NoCreditsBody::default(),
            tier2_accounts: Vec::new(),
            tier2_daily_limit: 1000,
            account_used: Vec::new(),
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

    /// Serves `json` (a real `GET /api/v1/models` answer) as the catalogue and refuses unknown
    /// model ids. The text is checked when the server starts.
    pub fn with_catalog_json(mut self, json: impl Into<String>) -> Self {
        self.catalog = Some(CatalogJson(Arc::from(json.into())));
        self.strict_models = true;
        self
    }

    /// Like [`MockConfig::with_catalog_json`], reading the file at `path`.
    pub fn with_catalog_file(self, path: impl AsRef<Path>) -> std::io::Result<Self> {
        let text = std::fs::read_to_string(path.as_ref()).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("cannot read catalogue {}: {e}", path.as_ref().display()),
            )
        })?;
        Ok(self.with_catalog_json(text))
    }

    /// Refuses model ids missing from the catalogue (on by default with a catalogue file).
    pub fn with_strict_models(mut self, strict: bool) -> Self {
        self.strict_models = strict;
        self
    }

    /// Chooses the body of the unknown-id 400.
    pub fn with_unknown_model_shape(mut self, shape: UnknownModelShape) -> Self {
        self.unknown_model_shape = shape;
        self
    }

    /// No account has credits (tier-2 accounts excepted): paid models answer 402.
    pub fn with_no_credits(mut self) -> Self {
        self.no_credits = true;
        self
    }

    /// Chooses the body of the no-credits 402.
    pub fn with_no_credits_body(mut self, body: NoCreditsBody) -> Self {
        self.no_credits_body = body;
        self
    }

    /// Marks `account` as tier 2 (bought 10 credits or more).
    pub fn with_tier2_account(mut self, account: impl Into<String>) -> Self {
        self.tier2_accounts.push(account.into());
        self
    }

    /// Starts `account` with `used` requests already counted today.
    pub fn with_account_used(mut self, account: impl Into<String>, used: u32) -> Self {
        self.account_used.push((account.into(), used));
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
    /// The key's account has a negative balance: chat answers 402 for every model, free ones
    /// included.
    #[serde(default)]
    pub no_credit: bool,
    /// The key hit its spend limit: chat answers 403 "Key limit exceeded (daily limit)…".
    #[serde(default)]
    pub spend_limited: bool,
    /// The key's account never bought credits: paid models answer 402, free models work.
    #[serde(default)]
    pub no_paid_credits: bool,
}

impl MockKey {
    /// A healthy key in `account`.
    pub fn new(key: impl Into<String>, account: impl Into<String>) -> Self {
        MockKey {
            key: key.into(),
            account: account.into(),
            no_credit: false,
            spend_limited: false,
            no_paid_credits: false,
        }
    }

    /// Marks the key's account as never having bought credits (402 on paid models only).
    pub fn no_paid_credits(mut self) -> Self {
        self.no_paid_credits = true;
        self
    }

    /// Marks the key as out of credit (402 on every model, as with a negative balance).
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
    /// Answers from these model ids fail after the quota is counted: streams carry some tokens,
    /// then the mid-stream error chunk (`code` 502, `finish_reason: "error"`); non-stream
    /// answers are HTTP 200 with the 502 error body. Empty: no model fails this way.
    pub error_in_200_models: Vec<String>,
    /// The next N requests for paid models answer 402 `in_flight_budget_exhausted` with
    /// `Retry-After: 1` (decremented on use; free models are exempt).
    pub in_flight_402: u32,
    /// The next N requests for paid models answer 402 `weight_exceeds_budget`.
    pub weight_402: u32,
    /// The next N requests for paid models answer 402 `openrouter_key_limit`.
    pub key_limit_402: u32,
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
