//! The `POST /chat/completions` request: [`ChatRequest`], its [`Message`]s (text, or text
//! then images) and the `reasoning` / `usage` objects. These serialize exactly to OpenRouter's
//! shapes (docs/openrouter.md).

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

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
}
