//! Request and response types of the OpenRouter API (docs/openrouter.md–§5).
//!
//! Requests ([`ChatRequest`], [`Message`]) serialize exactly to OpenRouter's shapes. Responses
//! are lenient: every field has a default, `null` is accepted everywhere, unknown fields are
//! ignored, numbers may come as strings (model pricing does) and one malformed field never
//! fails the whole parse.

use std::fmt;

use serde::de::{DeserializeOwned, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// Requests

/// A `POST /chat/completions` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The first model to try, e.g. `deepseek/deepseek-r1`.
    pub model: String,
    /// Fallback models tried in order after `model` (omitted when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<String>,
    /// The conversation.
    pub messages: Vec<Message>,
    /// Ask for an SSE stream (the client sets this itself for `chat` / `chat_stream`).
    #[serde(default)]
    pub stream: bool,
    /// Output budget; reasoning tokens count against it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Sampling temperature, 0–2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Reasoning settings; `{"exclude": false}` by default (docs/openrouter.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<ReasoningConfig>,
    /// Always `{"include": true}` (legacy, harmless, needed by old servers).
    #[serde(default)]
    pub usage: UsageRequest,
    /// Other OpenRouter request fields passed through as given (provider preferences,
    /// `reasoning_effort`, `top_p`, …); empty unless a caller such as the gateway fills it.
    #[serde(flatten, default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub extra: serde_json::Map<String, Value>,
}

impl ChatRequest {
    /// One user message to `model`, reasoning shown, usage asked for.
    pub fn text(model: impl Into<String>, prompt: impl Into<String>) -> Self {
        Self::new(model, vec![Message::user(prompt)])
    }

    /// A request for `model` with `messages`.
    pub fn new(model: impl Into<String>, messages: Vec<Message>) -> Self {
        ChatRequest {
            model: model.into(),
            models: Vec::new(),
            messages,
            stream: false,
            max_tokens: None,
            temperature: None,
            reasoning: Some(ReasoningConfig::shown()),
            usage: UsageRequest::default(),
            extra: serde_json::Map::new(),
        }
    }

    /// Sets the fallback models.
    pub fn with_fallbacks<I, S>(mut self, models: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.models = models.into_iter().map(Into::into).collect();
        self
    }

    /// Sets `max_tokens`.
    pub fn with_max_tokens(mut self, max_tokens: u32) -> Self {
        self.max_tokens = Some(max_tokens);
        self
    }

    /// Sets `temperature`.
    pub fn with_temperature(mut self, temperature: f32) -> Self {
        self.temperature = Some(temperature);
        self
    }

    /// Sets (or with `None` drops) the `reasoning` object.
    pub fn with_reasoning(mut self, reasoning: Option<ReasoningConfig>) -> Self {
        self.reasoning = reasoning;
        self
    }

    /// Sets `stream`.
    pub fn with_stream(mut self, stream: bool) -> Self {
        self.stream = stream;
        self
    }

    /// Every model of the chain, `model` first.
    pub fn chain(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.model.as_str()).chain(self.models.iter().map(String::as_str))
    }
}

/// `usage: {include: true}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageRequest {
    /// Always true.
    pub include: bool,
}

impl Default for UsageRequest {
    fn default() -> Self {
        UsageRequest { include: true }
    }
}

/// The `reasoning` request object (set `effort` or `max_tokens`, not both).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReasoningConfig {
    /// `max` … `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effort: Option<String>,
    /// Reasoning token budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Reason but leave the reasoning out of the response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude: Option<bool>,
    /// Turn reasoning on with default settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

impl ReasoningConfig {
    /// `{"exclude": false}`: return the reasoning.
    pub fn shown() -> Self {
        ReasoningConfig {
            exclude: Some(false),
            ..Default::default()
        }
    }

    /// `{"exclude": true}`: reason, but do not return it.
    pub fn hidden() -> Self {
        ReasoningConfig {
            exclude: Some(true),
            ..Default::default()
        }
    }
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// System prompt.
    System,
    /// The person.
    User,
    /// The model.
    Assistant,
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Author.
    pub role: Role,
    /// Text, or text and image parts.
    pub content: Content,
}

impl Message {
    /// A system message.
    pub fn system(text: impl Into<String>) -> Self {
        Message {
            role: Role::System,
            content: Content::Text(text.into()),
        }
    }

    /// A user message.
    pub fn user(text: impl Into<String>) -> Self {
        Message {
            role: Role::User,
            content: Content::Text(text.into()),
        }
    }

    /// An assistant message (a previous answer, or a prefill).
    pub fn assistant(text: impl Into<String>) -> Self {
        Message {
            role: Role::Assistant,
            content: Content::Text(text.into()),
        }
    }

    /// A user message with the text part first, then one image (`data:<mime>;base64,…` or an
    /// `https://` URL).
    pub fn user_with_image(text: impl Into<String>, data_url: impl Into<String>) -> Self {
        Self::user_with_images(text, [data_url.into()])
    }

    /// A user message with the text part first, then the images in order.
    pub fn user_with_images<I, S>(text: impl Into<String>, urls: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut parts = vec![ContentPart::Text { text: text.into() }];
        parts.extend(urls.into_iter().map(|u| ContentPart::ImageUrl {
            image_url: ImageUrl {
                url: u.into(),
                detail: None,
            },
        }));
        Message {
            role: Role::User,
            content: Content::Parts(parts),
        }
    }
}

/// A message's content: a string, or an array of parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Content {
    /// Plain text.
    Text(String),
    /// Text and image parts.
    Parts(Vec<ContentPart>),
}

/// One content part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentPart {
    /// `{"type":"text","text":…}`.
    Text {
        /// The text.
        text: String,
    },
    /// `{"type":"image_url","image_url":{url, detail?}}`.
    ImageUrl {
        /// The image.
        image_url: ImageUrl,
    },
}

/// An image reference. `Debug` shortens data URLs to their MIME type and size.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageUrl {
    /// `data:<mime>;base64,<payload>` or `https://…`.
    pub url: String,
    /// `auto`, `low`, `high` or `original`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl fmt::Debug for ImageUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = match self.url.split_once(',') {
            Some((head, payload)) if head.starts_with("data:") => {
                format!("{head},<{} bytes>", payload.len())
            }
            _ => self.url.clone(),
        };
        f.debug_struct("ImageUrl")
            .field("url", &url)
            .field("detail", &self.detail)
            .finish()
    }
}

// ---------------------------------------------------------------------------------------------
// Lenient deserializers

/// `null` → default; a value of the wrong shape → default.
fn lenient<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned + Default,
{
    let v = Value::deserialize(d)?;
    Ok(serde_json::from_value(v).unwrap_or_default())
}

/// An array whose elements that do not parse are dropped; anything else → empty.
fn lenient_vec<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    Ok(match Value::deserialize(d)? {
        Value::Array(items) => items
            .into_iter()
            .filter_map(|v| serde_json::from_value(v).ok())
            .collect(),
        _ => Vec::new(),
    })
}

/// A string; numbers are rendered; anything else → `None`.
fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

/// Text: a string, or an array of parts whose `text` fields are joined.
fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        Value::Array(parts) => {
            let text: String = parts
                .iter()
                .filter_map(|p| p.as_str().or_else(|| p.get("text").and_then(Value::as_str)))
                .collect();
            Some(text)
        }
        _ => None,
    })
}

pub(crate) fn value_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0)
                .map(|f| f.round() as u64)
        }),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| *f >= 0.0)
            .map(|f| f.round() as u64),
        _ => None,
    }
}

pub(crate) fn value_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|f| f.is_finite())
}

/// An unsigned integer from a number (integer or float) or a numeric string.
fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(value_u64(&Value::deserialize(d)?))
}

/// A float from a number or a numeric string (OpenRouter prices are strings).
fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(value_f64(&Value::deserialize(d)?))
}

fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(Value::deserialize(d)?.as_bool())
}

/// `{"data": T}`, the envelope of `/key`, `/models` and `/generation`.
#[derive(Debug, Deserialize)]
pub(crate) struct DataEnvelope<T> {
    pub data: T,
}

// ---------------------------------------------------------------------------------------------
// Chat responses

/// Token counts and cost of one generation (`usage`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(from = "RawUsage")]
pub struct Usage {
    /// Prompt tokens (images included).
    pub prompt_tokens: u64,
    /// Completion tokens (reasoning included).
    pub completion_tokens: u64,
    /// Prompt + completion.
    pub total_tokens: u64,
    /// Reasoning tokens (`completion_tokens_details.reasoning_tokens`), 0 when not reported.
    pub reasoning_tokens: u64,
    /// Cost in credits (1 credit = 1 USD), when reported.
    pub cost: Option<f64>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawUsage {
    #[serde(deserialize_with = "opt_u64")]
    prompt_tokens: Option<u64>,
    #[serde(deserialize_with = "opt_u64")]
    completion_tokens: Option<u64>,
    #[serde(deserialize_with = "opt_u64")]
    total_tokens: Option<u64>,
    #[serde(deserialize_with = "opt_u64")]
    reasoning_tokens: Option<u64>,
    #[serde(deserialize_with = "lenient")]
    completion_tokens_details: Option<Value>,
    #[serde(deserialize_with = "opt_f64")]
    cost: Option<f64>,
}

impl From<RawUsage> for Usage {
    fn from(r: RawUsage) -> Self {
        let prompt = r.prompt_tokens.unwrap_or(0);
        let completion = r.completion_tokens.unwrap_or(0);
        let reasoning = r
            .completion_tokens_details
            .as_ref()
            .and_then(|d| d.get("reasoning_tokens"))
            .and_then(value_u64)
            .or(r.reasoning_tokens)
            .unwrap_or(0);
        Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: r.total_tokens.unwrap_or(prompt + completion),
            reasoning_tokens: reasoning,
            cost: r.cost,
        }
    }
}

impl Usage {
    /// Parses a `usage` JSON value leniently; `None` unless it is an object.
    pub fn from_value(v: &Value) -> Option<Usage> {
        v.is_object()
            .then(|| serde_json::from_value(v.clone()).unwrap_or_default())
    }
}

/// A non-streaming `/chat/completions` answer.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ChatResponse {
    /// Generation id (`gen-…`).
    #[serde(deserialize_with = "opt_string")]
    pub id: Option<String>,
    /// The model that answered.
    #[serde(deserialize_with = "opt_string")]
    pub model: Option<String>,
    /// The provider that served it.
    #[serde(deserialize_with = "opt_string")]
    pub provider: Option<String>,
    /// The choices (usually one; may be empty).
    #[serde(deserialize_with = "lenient_vec")]
    pub choices: Vec<Choice>,
    /// Token counts and cost.
    #[serde(deserialize_with = "lenient")]
    pub usage: Option<Usage>,
    /// A top-level error object (an error inside a 200 body).
    #[serde(deserialize_with = "lenient")]
    pub error: Option<Value>,
}

/// One choice of a [`ChatResponse`].
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Choice {
    /// The assistant message.
    #[serde(deserialize_with = "lenient")]
    pub message: Option<AssistantMessage>,
    /// `stop`, `length`, `content_filter`, `error`, `tool_calls`.
    #[serde(deserialize_with = "opt_string")]
    pub finish_reason: Option<String>,
    /// A choice-level error object.
    #[serde(deserialize_with = "lenient")]
    pub error: Option<Value>,
}

/// The assistant message of a [`Choice`].
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct AssistantMessage {
    /// The answer.
    #[serde(deserialize_with = "opt_text")]
    pub content: Option<String>,
    /// Plain-text reasoning.
    #[serde(deserialize_with = "opt_text")]
    pub reasoning: Option<String>,
    /// Structured reasoning blocks (used only when `reasoning` is absent).
    #[serde(deserialize_with = "lenient_vec")]
    pub reasoning_details: Vec<Value>,
}

impl AssistantMessage {
    /// `reasoning`, or else the joined `reasoning_details[].text`.
    pub fn reasoning_text(&self) -> Option<String> {
        match &self.reasoning {
            Some(r) if !r.is_empty() => Some(r.clone()),
            _ => {
                let joined = details_text(&self.reasoning_details);
                (!joined.is_empty()).then_some(joined)
            }
        }
    }
}

/// Joins the `text` of `reasoning.text` blocks (and `summary` of summary blocks).
pub(crate) fn details_text(details: &[Value]) -> String {
    details
        .iter()
        .filter_map(|d| {
            d.get("text")
                .or_else(|| d.get("summary"))
                .and_then(Value::as_str)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// /key

/// `GET /key`: what OpenRouter knows about the key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct KeyInfo {
    /// Display label (often OpenRouter's own masked key, e.g. `sk-or-v1-4f2...9ab`).
    #[serde(deserialize_with = "opt_string")]
    pub label: Option<String>,
    /// The key's spend cap in USD; `None` = no cap.
    #[serde(deserialize_with = "opt_f64")]
    pub limit: Option<f64>,
    /// Cap left; `None` = no cap.
    #[serde(deserialize_with = "opt_f64")]
    pub limit_remaining: Option<f64>,
    /// `daily`, `weekly`, `monthly` or `None`.
    #[serde(deserialize_with = "opt_string")]
    pub limit_reset: Option<String>,
    /// All-time spend, USD.
    #[serde(deserialize_with = "opt_f64")]
    pub usage: Option<f64>,
    /// Spend this UTC day, USD.
    #[serde(deserialize_with = "opt_f64")]
    pub usage_daily: Option<f64>,
    /// True if the account never bought credits.
    #[serde(deserialize_with = "opt_bool")]
    pub is_free_tier: Option<bool>,
    /// Management key (cannot chat).
    #[serde(deserialize_with = "opt_bool")]
    pub is_management_key: Option<bool>,
    /// The account that created the key (`user_…`), when OpenRouter says: keys of one
    /// account share it.
    #[serde(deserialize_with = "opt_string")]
    pub creator_user_id: Option<String>,
    /// Expiry (ISO-8601), if any.
    #[serde(deserialize_with = "opt_string")]
    pub expires_at: Option<String>,
    /// The account's free-model request counter for the UTC day (newest servers only).
    #[serde(deserialize_with = "lenient")]
    pub free_model_daily_requests: Option<FreeModelDailyRequests>,
}

/// `free_model_daily_requests`: the account-wide `:free` counter, reset at UTC midnight.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct FreeModelDailyRequests {
    /// 50 or 1000.
    #[serde(deserialize_with = "opt_u64")]
    pub limit: Option<u64>,
    /// Used today.
    #[serde(deserialize_with = "opt_u64")]
    pub used: Option<u64>,
    /// Left today.
    #[serde(deserialize_with = "opt_u64")]
    pub remaining: Option<u64>,
}

// ---------------------------------------------------------------------------------------------
// /models

/// One `/models` entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(from = "RawModel")]
pub struct ModelInfo {
    /// Routable slug, e.g. `meta-llama/llama-3.2-90b-vision-instruct`.
    pub id: String,
    /// Display name.
    pub name: Option<String>,
    /// Context window in tokens.
    pub context_length: Option<u64>,
    /// `architecture.input_modalities` (`text`, `image`, …).
    pub input_modalities: Vec<String>,
    /// `architecture.output_modalities` (`text`, `image`, `audio`, …).
    #[serde(default)]
    pub output_modalities: Vec<String>,
    /// Prices, USD per token (per image / per request for those two).
    pub pricing: Pricing,
    /// `expiration_date` (`YYYY-MM-DD`): the model may go away after it.
    pub expiration_date: Option<String>,
    /// `supported_parameters` (`reasoning`, `include_reasoning`, `tools`, …).
    #[serde(default)]
    pub supported_parameters: Vec<String>,
}

/// A model's prices, parsed from OpenRouter's strings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct Pricing {
    /// USD per prompt token.
    #[serde(deserialize_with = "opt_f64")]
    pub prompt: Option<f64>,
    /// USD per completion token.
    #[serde(deserialize_with = "opt_f64")]
    pub completion: Option<f64>,
    /// USD per request.
    #[serde(deserialize_with = "opt_f64")]
    pub request: Option<f64>,
    /// USD per input image.
    #[serde(deserialize_with = "opt_f64")]
    pub image: Option<f64>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawModel {
    #[serde(deserialize_with = "opt_string")]
    id: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    name: Option<String>,
    #[serde(deserialize_with = "opt_u64")]
    context_length: Option<u64>,
    #[serde(deserialize_with = "lenient")]
    architecture: Option<Value>,
    /// Our own serialized form keeps modalities at the top level.
    #[serde(deserialize_with = "lenient_vec")]
    input_modalities: Vec<String>,
    #[serde(deserialize_with = "lenient_vec")]
    output_modalities: Vec<String>,
    #[serde(deserialize_with = "lenient")]
    pricing: Pricing,
    #[serde(deserialize_with = "opt_string")]
    expiration_date: Option<String>,
    #[serde(deserialize_with = "lenient_vec")]
    supported_parameters: Vec<String>,
}

impl From<RawModel> for ModelInfo {
    fn from(r: RawModel) -> Self {
        let strings = |list: &[Value]| -> Vec<String> {
            list.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        };
        let split = |part: &str| -> Vec<String> {
            part.split('+')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        };
        let mut input_modalities = r.input_modalities;
        let mut output_modalities = r.output_modalities;
        if let Some(arch) = &r.architecture {
            // Older catalogues: only `modality: "text+image->text"`.
            let modality = arch.get("modality").and_then(Value::as_str).unwrap_or("");
            let (inputs, outputs) = modality.split_once("->").unwrap_or((modality, ""));
            if let Some(list) = arch.get("input_modalities").and_then(Value::as_array) {
                input_modalities = strings(list);
            } else if input_modalities.is_empty() {
                input_modalities = split(inputs);
            }
            if let Some(list) = arch.get("output_modalities").and_then(Value::as_array) {
                output_modalities = strings(list);
            } else if output_modalities.is_empty() {
                output_modalities = split(outputs);
            }
        }
        ModelInfo {
            id: r.id.unwrap_or_default(),
            name: r.name,
            context_length: r.context_length,
            input_modalities,
            output_modalities,
            pricing: r.pricing,
            expiration_date: r.expiration_date,
            supported_parameters: r.supported_parameters,
        }
    }
}

impl ModelInfo {
    /// A `:free` variant, or a model whose prompt and completion prices are both zero.
    pub fn is_free(&self) -> bool {
        self.id.ends_with(":free")
            || (self.pricing.prompt == Some(0.0) && self.pricing.completion == Some(0.0))
    }

    /// Whether the model takes image input (`input_modalities` contains `image`).
    pub fn takes_images(&self) -> bool {
        self.input_modalities.iter().any(|m| m == "image")
    }

    /// Whether the model answers in text only (an unknown output list counts as text).
    pub fn outputs_text_only(&self) -> bool {
        self.output_modalities.is_empty() || self.output_modalities.iter().all(|m| m == "text")
    }

    /// Whether the model can return its reasoning (`supported_parameters` has `reasoning` or
    /// `include_reasoning`).
    pub fn reasons(&self) -> bool {
        self.supported_parameters
            .iter()
            .any(|p| p == "reasoning" || p == "include_reasoning")
    }
}

// ---------------------------------------------------------------------------------------------
// /generation

/// `GET /generation?id=…`: the essentials of one past request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Generation {
    /// Generation id.
    #[serde(deserialize_with = "opt_string")]
    pub id: Option<String>,
    /// The model that answered.
    #[serde(deserialize_with = "opt_string")]
    pub model: Option<String>,
    /// The provider that served it.
    #[serde(deserialize_with = "opt_string")]
    pub provider_name: Option<String>,
    /// Normalised prompt tokens.
    #[serde(deserialize_with = "opt_u64")]
    pub tokens_prompt: Option<u64>,
    /// Normalised completion tokens.
    #[serde(deserialize_with = "opt_u64")]
    pub tokens_completion: Option<u64>,
    /// Native prompt tokens.
    #[serde(deserialize_with = "opt_u64")]
    pub native_tokens_prompt: Option<u64>,
    /// Native completion tokens.
    #[serde(deserialize_with = "opt_u64")]
    pub native_tokens_completion: Option<u64>,
    /// Native reasoning tokens.
    #[serde(deserialize_with = "opt_u64")]
    pub native_tokens_reasoning: Option<u64>,
    /// Total cost, USD.
    #[serde(deserialize_with = "opt_f64")]
    pub total_cost: Option<f64>,
    /// Latency, milliseconds.
    #[serde(deserialize_with = "opt_u64")]
    pub latency: Option<u64>,
    /// Normalised finish reason.
    #[serde(deserialize_with = "opt_string")]
    pub finish_reason: Option<String>,
    /// Whether it was streamed.
    #[serde(deserialize_with = "opt_bool")]
    pub streamed: Option<bool>,
    /// Whether it was cancelled.
    #[serde(deserialize_with = "opt_bool")]
    pub cancelled: Option<bool>,
    /// Creation time (ISO-8601).
    #[serde(deserialize_with = "opt_string")]
    pub created_at: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_request_serializes_to_openrouter_shape() {
        let req = ChatRequest::text("deepseek/deepseek-r1", "Which is bigger, 9.11 or 9.9?")
            .with_max_tokens(8000);
        let v = serde_json::to_value(&req).unwrap();
        assert_eq!(
            v,
            json!({"model":"deepseek/deepseek-r1",
                   "messages":[{"role":"user","content":"Which is bigger, 9.11 or 9.9?"}],
                   "stream":false,"max_tokens":8000,"reasoning":{"exclude":false},"usage":{"include":true}})
        );
    }

    #[test]
    fn vision_request_puts_text_first_and_keeps_fallbacks() {
        let url = "data:image/png;base64,iVBORw0KGgo=";
        let req = ChatRequest::new(
            "meta-llama/llama-3.2-90b-vision-instruct",
            vec![Message::user_with_image(
                "Transcribe all text in this image.",
                url,
            )],
        )
        .with_fallbacks(["meta-llama/llama-4-maverick", "google/gemini-2.5-flash"])
        .with_temperature(0.2)
        .with_reasoning(None);
        let v = serde_json::to_value(&req).unwrap();
        assert_eq!(
            v["models"],
            json!(["meta-llama/llama-4-maverick", "google/gemini-2.5-flash"])
        );
        assert_eq!(
            v["messages"][0]["content"],
            json!([{"type":"text","text":"Transcribe all text in this image."},
                   {"type":"image_url","image_url":{"url":url}}])
        );
        assert_eq!(v["usage"], json!({"include": true}));
        assert!(v.get("reasoning").is_none());
        assert_eq!(req.chain().collect::<Vec<_>>().len(), 3);
        let debug = format!("{req:?}");
        assert!(
            debug.contains("data:image/png;base64,<12 bytes>"),
            "{debug}"
        );
        let empty = serde_json::to_value(ChatRequest::text("m", "hi")).unwrap();
        assert!(empty.get("models").is_none());
    }

    #[test]
    fn chat_response_parses_reference_body() {
        let body = r#"{"id":"gen-1748781296-Qm3xYt8pLk2VbN7cRw1z","provider":"DeepInfra","model":"meta-llama/llama-4-maverick","object":"chat.completion","created":1748781296,"system_fingerprint":null,
 "choices":[{"index":0,"logprobs":null,"finish_reason":"stop","native_finish_reason":"stop","message":{"role":"assistant","content":"INVOICE #1042\nTotal: $88.00","refusal":null,"reasoning":null}}],
 "usage":{"prompt_tokens":1611,"completion_tokens":14,"total_tokens":1625,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0},"cost":0.00025,"is_byok":false,"cost_details":{"upstream_inference_cost":null,"upstream_inference_prompt_cost":0.00024,"upstream_inference_completions_cost":0.0000084}}}"#;
        let r: ChatResponse = serde_json::from_str(body).unwrap();
        assert_eq!(r.model.as_deref(), Some("meta-llama/llama-4-maverick"));
        assert_eq!(r.provider.as_deref(), Some("DeepInfra"));
        let msg = r.choices[0].message.as_ref().unwrap();
        assert_eq!(msg.content.as_deref(), Some("INVOICE #1042\nTotal: $88.00"));
        assert_eq!(msg.reasoning_text(), None);
        let u = r.usage.unwrap();
        assert_eq!(
            (u.prompt_tokens, u.completion_tokens, u.total_tokens),
            (1611, 14, 1625)
        );
        assert_eq!(u.cost, Some(0.00025));
    }

    #[test]
    fn chat_response_is_lenient() {
        let r: ChatResponse = serde_json::from_str(
            r#"{"id":null,"choices":null,"usage":{"prompt_tokens":"3","completion_tokens":2.0,"cost":null,"completion_tokens_details":null},"extra":{"x":1}}"#,
        )
        .unwrap();
        assert!(r.choices.is_empty());
        let u = r.usage.unwrap();
        assert_eq!(
            (
                u.prompt_tokens,
                u.completion_tokens,
                u.total_tokens,
                u.reasoning_tokens
            ),
            (3, 2, 5, 0)
        );
        let r: ChatResponse =
            serde_json::from_str(r#"{"choices":[{"message":{"content":null,"reasoning_details":[{"type":"reasoning.text","text":"a"},{"text":"b"}]}}, 7]}"#).unwrap();
        assert_eq!(r.choices.len(), 1);
        assert_eq!(
            r.choices[0]
                .message
                .as_ref()
                .unwrap()
                .reasoning_text()
                .as_deref(),
            Some("ab")
        );
    }

    #[test]
    fn usage_round_trips_through_our_own_shape() {
        let u = Usage {
            prompt_tokens: 14,
            completion_tokens: 61,
            total_tokens: 75,
            reasoning_tokens: 48,
            cost: Some(0.0001623),
        };
        let back: Usage = serde_json::from_value(serde_json::to_value(&u).unwrap()).unwrap();
        assert_eq!(back, u);
    }

    #[test]
    fn key_info_parses_both_reference_bodies() {
        let full = r#"{"data":{"label":"sk-or-v1-4f2...9ab","limit":5,"limit_remaining":4.87,"limit_reset":"daily","include_byok_in_limit":false,
 "usage":12.34,"usage_daily":0.13,"usage_weekly":1.02,"usage_monthly":3.5,
 "byok_usage":0,"byok_usage_daily":0,"byok_usage_weekly":0,"byok_usage_monthly":0,
 "is_free_tier":false,"is_management_key":false,"is_provisioning_key":false,
 "expires_at":null,"creator_user_id":"user_2yOPcMpKoQhcd4bVgSMlELRaIah",
 "rate_limit":{"requests":-1,"interval":"10s","note":"This field is deprecated and safe to ignore."},
 "free_model_daily_requests":{"limit":1000,"used":12,"remaining":988}}}"#;
        let k: DataEnvelope<KeyInfo> = serde_json::from_str(full).unwrap();
        let k = k.data;
        assert_eq!(k.limit, Some(5.0));
        assert_eq!(k.limit_remaining, Some(4.87));
        assert_eq!(k.limit_reset.as_deref(), Some("daily"));
        assert_eq!(k.usage_daily, Some(0.13));
        assert_eq!(k.is_free_tier, Some(false));
        let f = k.free_model_daily_requests.unwrap();
        assert_eq!(
            (f.limit, f.used, f.remaining),
            (Some(1000), Some(12), Some(988))
        );

        let minimal = r#"{"data":{"label":"sk-or-v1-a1b...c3d","usage":0,"limit":null,"is_free_tier":true,"rate_limit":{"requests":20,"interval":"10s"}}}"#;
        let k: DataEnvelope<KeyInfo> = serde_json::from_str(minimal).unwrap();
        assert_eq!(k.data.limit, None);
        assert_eq!(k.data.is_free_tier, Some(true));
        assert_eq!(k.data.free_model_daily_requests, None);
    }

    #[test]
    fn models_parse_with_vision_and_free_helpers() {
        let body = r#"{"data":[
 {"id":"deepseek/deepseek-r1","name":"DeepSeek: R1","context_length":64000,
  "architecture":{"modality":"text->text","input_modalities":["text"],"output_modalities":["text"]},
  "pricing":{"prompt":"0.0000007","completion":"0.0000025","request":"0","image":"0","internal_reasoning":"0"}},
 {"id":"meta-llama/llama-3.2-90b-vision-instruct","name":"Meta: Llama 3.2 90B Vision Instruct","context_length":131072,
  "architecture":{"modality":"text+image->text","input_modalities":["text","image"],"output_modalities":["text"]},
  "pricing":{"prompt":"0.00000035","completion":"0.0000004","request":"0","image":"0.0005058"},"expiration_date":"2026-09-30"},
 {"id":"google/gemma-4-31b-it:free","name":"Google: Gemma 4 31B (free)","context_length":131072,
  "architecture":{"modality":"text+image->text","input_modalities":["text","image"]},
  "pricing":{"prompt":"0","completion":"0","request":"0","image":"0"}},
 {"id":"old/vision","architecture":{"modality":"text+image->text"},"pricing":null},
 {"id":"zero/priced","pricing":{"prompt":0,"completion":"0"}}
]}"#;
        let models: DataEnvelope<Vec<ModelInfo>> = serde_json::from_str(body).unwrap();
        let m = models.data;
        assert_eq!(m.len(), 5);
        assert!(!m[0].takes_images() && !m[0].is_free());
        assert_eq!(m[0].pricing.prompt, Some(0.0000007));
        assert!(m[1].takes_images() && !m[1].is_free());
        assert_eq!(m[1].expiration_date.as_deref(), Some("2026-09-30"));
        assert!(m[2].takes_images() && m[2].is_free());
        assert!(m[3].takes_images());
        assert!(m[4].is_free());
        let back: ModelInfo = serde_json::from_value(serde_json::to_value(&m[1]).unwrap()).unwrap();
        assert_eq!(back, m[1]);
    }

    #[test]
    fn generation_parses_reference_body() {
        let body = r#"{"data":{"id":"gen-1748781300-R1strEamExample000001","upstream_id":"chatcmpl-9f1c…","model":"deepseek/deepseek-r1","provider_name":"DeepInfra","streamed":true,"cancelled":false,
 "finish_reason":"stop","latency":2410,"generation_time":2120,"tokens_prompt":14,"tokens_completion":61,"native_tokens_prompt":14,"native_tokens_completion":61,"native_tokens_reasoning":48,
 "total_cost":0.0001623,"usage":0.0001623,"provider_responses":[{"provider_name":"DeepInfra","status":200}]}}"#;
        let g: DataEnvelope<Generation> = serde_json::from_str(body).unwrap();
        let g = g.data;
        assert_eq!(
            g.id.as_deref(),
            Some("gen-1748781300-R1strEamExample000001")
        );
        assert_eq!(g.native_tokens_reasoning, Some(48));
        assert_eq!(g.total_cost, Some(0.0001623));
        assert_eq!(g.latency, Some(2410));
        assert_eq!(g.streamed, Some(true));
    }
}
