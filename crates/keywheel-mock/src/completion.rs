//! A simulated completion and the JSON it turns into: the non-stream body (docs/openrouter.md), the
//! `usage` object, and the `/generation` record (docs/openrouter.md).
//!
//! Answers are deterministic: `You asked: <last user text>` for chat, a few fixed sentences that
//! quote the question as R1 reasoning, and a description (or OCR text) for images.

use chrono::{DateTime, SecondsFormat, Utc};
use rand::Rng;
use rand::distr::Alphanumeric;
use serde_json::{Value, json};

use crate::catalog::ModelFacts;

/// Everything needed to answer one chat request.
#[derive(Debug, Clone)]
pub(crate) struct Completion {
    pub id: String,
    pub created: i64,
    pub created_at: DateTime<Utc>,
    pub model: String,
    pub provider: String,
    pub content: String,
    /// Reasoning text, for R1 models (`None` otherwise).
    pub reasoning: Option<String>,
    /// Reasoning was produced but the request asked to exclude it from the response.
    pub reasoning_excluded: bool,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub reasoning_tokens: u64,
    pub prompt_cost: f64,
    pub completion_cost: f64,
    pub num_images: u64,
}

/// `gen-<unix seconds>-<20 alphanumerics>`.
pub(crate) fn generation_id(now: DateTime<Utc>) -> String {
    let suffix: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(20)
        .map(char::from)
        .collect();
    format!("gen-{}-{suffix}", now.timestamp())
}

/// Rough token estimate: a token per four characters, at least one.
pub(crate) fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4).max(1)
}

/// Prompt tokens an image costs (roughly a token per 28×28 tile).
pub(crate) fn image_tokens(width: u32, height: u32) -> u64 {
    (u64::from(width) * u64::from(height))
        .div_ceil(784)
        .clamp(1, 6400)
}

/// Collapses whitespace and shortens `text` to at most `max` characters (with `…`).
pub(crate) fn shorten(text: &str, max: usize) -> String {
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() <= max {
        collapsed
    } else {
        let mut s: String = collapsed.chars().take(max).collect();
        s.push('…');
        s
    }
}

/// The chat answer for a question.
pub(crate) fn chat_answer(question: &str) -> String {
    format!("You asked: {}", shorten(question, 200))
}

/// The R1 reasoning for a question.
pub(crate) fn reasoning_text(question: &str) -> String {
    format!(
        "The user asks: \"{}\". Let me think about what is being asked. \
         I will restate the question, check the facts I know, and keep the answer short. \
         That settles it, so I can answer now.",
        shorten(question, 120)
    )
}

fn round_usd(x: f64) -> f64 {
    (x * 1e12).round() / 1e12
}

/// Inputs of [`Completion::new`] that come from the request.
pub(crate) struct Prompt<'a> {
    pub all_text: &'a str,
    pub messages: u64,
    pub image_tokens: u64,
    pub num_images: u64,
    pub exclude_reasoning: bool,
}

impl Completion {
    /// Builds the completion `model` of the built-in catalogue gives with answer `content`.
    #[cfg(test)]
    pub fn new(model: &str, content: String, question: &str, p: &Prompt<'_>) -> Self {
        let facts = crate::catalog::Catalog::builtin().facts(model);
        Self::with_facts(model, &facts, content, question, p)
    }

    /// Builds the completion `model` (described by `facts`) gives with answer `content`.
    pub fn with_facts(
        model: &str,
        facts: &ModelFacts,
        content: String,
        question: &str,
        p: &Prompt<'_>,
    ) -> Self {
        let now = crate::clock::now();
        let reasoning = facts.reasoning.then(|| reasoning_text(question));
        let reasoning_tokens = reasoning.as_deref().map(estimate_tokens).unwrap_or(0);
        let prompt_tokens = estimate_tokens(p.all_text) + 4 * p.messages + p.image_tokens;
        let completion_tokens = estimate_tokens(&content) + reasoning_tokens;
        let (pp, cp, ip) = (
            facts.prompt_price,
            facts.completion_price,
            facts.image_price,
        );
        Completion {
            id: generation_id(now),
            created: now.timestamp(),
            created_at: now,
            model: model.to_string(),
            provider: facts.provider.clone(),
            content,
            reasoning_excluded: reasoning.is_some() && p.exclude_reasoning,
            reasoning,
            prompt_tokens,
            completion_tokens,
            reasoning_tokens,
            prompt_cost: round_usd(prompt_tokens as f64 * pp + p.num_images as f64 * ip),
            completion_cost: round_usd(completion_tokens as f64 * cp),
            num_images: p.num_images,
        }
    }

    /// Total cost in USD (credits).
    pub fn cost(&self) -> f64 {
        round_usd(self.prompt_cost + self.completion_cost)
    }

    /// Reasoning as shown to the client (`None` when absent or excluded).
    pub fn visible_reasoning(&self) -> Option<&str> {
        if self.reasoning_excluded {
            None
        } else {
            self.reasoning.as_deref()
        }
    }

    /// The `usage` object.
    pub fn usage_json(&self) -> Value {
        json!({
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "cost": self.cost(),
            "is_byok": false,
            "prompt_tokens_details": {"cached_tokens": 0},
            "cost_details": {
                "upstream_inference_cost": null,
                "upstream_inference_prompt_cost": self.prompt_cost,
                "upstream_inference_completions_cost": self.completion_cost,
            },
            "completion_tokens_details": {"reasoning_tokens": self.reasoning_tokens},
        })
    }

    /// The non-stream response body.
    pub fn response_json(&self) -> Value {
        let mut message = json!({
            "role": "assistant",
            "content": self.content,
            "refusal": null,
            "reasoning": self.visible_reasoning(),
        });
        if let Some(r) = self.visible_reasoning() {
            message["reasoning_details"] =
                json!([{"type": "reasoning.text", "text": r, "format": "unknown", "index": 0}]);
        }
        json!({
            "id": self.id,
            "provider": self.provider,
            "model": self.model,
            "object": "chat.completion",
            "created": self.created,
            "system_fingerprint": null,
            "choices": [{
                "index": 0,
                "logprobs": null,
                "finish_reason": "stop",
                "native_finish_reason": "stop",
                "message": message,
            }],
            "usage": self.usage_json(),
        })
    }

    /// The `/generation` record for this completion.
    pub fn generation_json(&self, g: &GenerationMeta<'_>) -> Value {
        let request_suffix = self.id.rsplit('-').next().unwrap_or("");
        let mut data = json!({
            "id": self.id,
            "upstream_id": format!("chatcmpl-{request_suffix}"),
            "request_id": format!("req-{}-{request_suffix}", self.created),
            "created_at": self.created_at.to_rfc3339_opts(SecondsFormat::Micros, false),
            "model": self.model,
            "provider_name": self.provider,
            "api_type": "completions",
            "app_id": null,
            "origin": "",
            "http_referer": g.referer,
            "user_agent": g.user_agent,
            "external_user": null,
            "session_id": null,
            "preset_id": null,
            "router": null,
            "streamed": g.streamed,
            "cancelled": g.cancelled,
            "finish_reason": g.finish_reason,
            "native_finish_reason": g.finish_reason,
            "latency": g.latency_ms,
            "generation_time": g.latency_ms,
        });
        let more = json!({
            "moderation_latency": null,
            "tokens_prompt": self.prompt_tokens,
            "tokens_completion": self.completion_tokens,
            "native_tokens_prompt": self.prompt_tokens,
            "native_tokens_completion": self.completion_tokens,
            "native_tokens_reasoning": self.reasoning_tokens,
            "native_tokens_cached": 0,
            "native_tokens_completion_images": 0,
            "num_media_prompt": self.num_images,
            "num_media_completion": 0,
            "num_input_audio_prompt": 0,
            "num_search_results": 0,
            "num_fetches": 0,
            "total_cost": self.cost(),
            "usage": self.cost(),
            "upstream_inference_cost": null,
            "cache_discount": null,
            "is_byok": false,
            "data_region": "global",
            "service_tier": null,
            "web_search_engine": null,
            "workspace_id": null,
            "response_cache_source_id": null,
            "provider_responses": [{
                "provider_name": self.provider,
                "status": 200,
                "latency": g.latency_ms,
                "model_permaslug": self.model.trim_end_matches(":free"),
                "endpoint_id": "mock-endpoint",
                "id": format!("chatcmpl-{request_suffix}"),
                "is_byok": false,
            }],
        });
        if let (Some(d), Value::Object(m)) = (data.as_object_mut(), more) {
            d.extend(m);
        }
        json!({ "data": data })
    }
}

/// Request facts the `/generation` record repeats.
pub(crate) struct GenerationMeta<'a> {
    pub referer: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub streamed: bool,
    pub cancelled: bool,
    pub finish_reason: &'a str,
    pub latency_ms: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prompt() -> Prompt<'static> {
        Prompt {
            all_text: "Which is bigger, 9.11 or 9.9?",
            messages: 1,
            image_tokens: 0,
            num_images: 0,
            exclude_reasoning: false,
        }
    }

    #[test]
    fn r1_completion_has_reasoning_and_cost() {
        let q = "Which is bigger, 9.11 or 9.9?";
        let c = Completion::new("deepseek/deepseek-r1", chat_answer(q), q, &prompt());
        assert!(c.reasoning.as_deref().unwrap().contains(q));
        assert!(c.reasoning_tokens > 0);
        assert_eq!(
            c.completion_tokens,
            estimate_tokens(&c.content) + c.reasoning_tokens
        );
        assert!(c.cost() > 0.0);
        let v = c.response_json();
        assert_eq!(
            v["usage"]["total_tokens"],
            c.prompt_tokens + c.completion_tokens
        );
        assert!(v["id"].as_str().unwrap().starts_with("gen-"));
        assert_eq!(
            v["id"].as_str().unwrap().rsplit('-').next().unwrap().len(),
            20
        );
    }

    #[test]
    fn free_model_costs_nothing_and_chat_has_no_reasoning() {
        let c = Completion::new(
            "meta-llama/llama-3.3-70b-instruct:free",
            chat_answer("hi"),
            "hi",
            &prompt(),
        );
        assert_eq!(c.cost(), 0.0);
        assert!(c.reasoning.is_none());
        assert_eq!(c.content, "You asked: hi");
    }

    #[test]
    fn shorten_collapses_and_cuts() {
        assert_eq!(shorten("a  b\n c", 10), "a b c");
        assert_eq!(shorten("abcdef", 3), "abc…");
    }
}
