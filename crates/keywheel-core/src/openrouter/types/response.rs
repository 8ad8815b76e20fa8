//! The chat answers: a non-streamed [`ChatResponse`] with its [`Choice`]s and
//! [`AssistantMessage`], and [`Usage`] (token counts and cost), shared with the SSE stream.
//! Lenient: every field has a default and one malformed field never fails the parse.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::lenient::{lenient, lenient_vec, opt_f64, opt_string, opt_text, opt_u64, value_u64};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
