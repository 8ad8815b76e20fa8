//! OpenAI's wire shapes: a `/v1/chat/completions` body read into a core [`Job`], and answers,
//! stream chunks and errors written the way the OpenAI SDKs expect them.
//!
//! Fields the gateway understands are mapped; every other top-level field (provider
//! preferences, `reasoning_effort`, `top_p`, `stop`, `seed`, `response_format`, `transforms`,
//! …) passes through to OpenRouter untouched. OpenRouter's own extras come back as it sends
//! them: `reasoning` on the message and in `delta`, `usage.cost`.

use keywheel_core::chains::ModelChoice;
use keywheel_core::dispatch::{Job, Kind, Outcome};
use keywheel_core::openrouter::types::Usage;
use keywheel_core::openrouter::{
    ChatRequest, Content, ContentPart, ImageUrl, Message, ReasoningConfig, Role,
};
use keywheel_core::{Error, Settings};
use serde::Serialize;
use serde_json::{Map, Value, json};

/// The alias for the configured chat (R1) chain.
pub const CHAT_ALIAS: &str = "keywheel/chat";
/// The alias for the configured vision chain.
pub const VISION_ALIAS: &str = "keywheel/vision";

/// A chat request read from a client.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// What the dispatcher runs.
    pub job: Job,
    /// The model the client named (an alias or an id), for the `model` field of answers.
    pub asked_model: String,
}

fn bad(msg: impl Into<String>) -> Error {
    Error::BadInput(msg.into())
}

/// Reads an OpenAI chat-completions body. Errors are [`Error::BadInput`] sentences (HTTP 400).
pub fn parse_chat(body: &[u8], settings: &Settings) -> Result<Parsed, Error> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        bad(format!(
            "the request body is not valid JSON ({e}); send an OpenAI chat-completions body"
        ))
    })?;
    let Value::Object(mut obj) = v else {
        return Err(bad("the request body must be a JSON object"));
    };
    let model = match obj.remove("model") {
        Some(Value::String(m)) if !m.trim().is_empty() => m.trim().to_string(),
        None | Some(Value::Null) => CHAT_ALIAS.to_string(),
        Some(_) => {
            return Err(bad(
                "`model` must be a model id string, e.g. \"keywheel/chat\"",
            ));
        }
    };
    let fallbacks: Vec<String> = match obj.remove("models") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list
            .into_iter()
            .map(|m| match m {
                Value::String(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
                _ => Err(bad("`models` must be a list of model id strings")),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(bad("`models` must be a list of model id strings")),
    };
    let messages = match obj.remove("messages") {
        Some(Value::Array(list)) if !list.is_empty() => list
            .into_iter()
            .enumerate()
            .map(|(i, m)| message(i, m))
            .collect::<Result<Vec<_>, _>>()?,
        Some(Value::Array(_)) => return Err(bad("`messages` is empty; send at least one message")),
        _ => {
            return Err(bad(
                "`messages` is missing; send a list of {role, content} messages",
            ));
        }
    };
    let stream = match obj.remove("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => b,
        Some(_) => return Err(bad("`stream` must be true or false")),
    };
    // Usage always comes back (with cost); the stream's usage chunk is always sent.
    obj.remove("stream_options");
    obj.remove("usage");
    let max_tokens = match (
        obj.remove("max_tokens"),
        obj.remove("max_completion_tokens"),
    ) {
        (Some(v), _) | (None, Some(v)) if !v.is_null() => Some(
            v.as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| *n > 0)
                .ok_or_else(|| bad("`max_tokens` must be a positive whole number"))?,
        ),
        _ => None,
    };
    let temperature = match obj.remove("temperature") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_f64()
                .filter(|t| (0.0..=2.0).contains(t))
                .ok_or_else(|| bad("`temperature` must be a number from 0 to 2"))?
                as f32,
        ),
    };
    let explicit_reasoning = match obj.remove("reasoning") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(v) => Some(Some(serde_json::from_value::<ReasoningConfig>(v).map_err(
            |e| bad(format!("`reasoning` is not a reasoning object ({e})")),
        )?)),
    };
    let has_images = messages.iter().any(|m| {
        matches!(&m.content, Content::Parts(p) if p.iter().any(|p| matches!(p, ContentPart::ImageUrl { .. })))
    });
    check_prompts(&messages, has_images)?;

    // Aliases use `settings`' chains and pins (the config file as it is now, see
    // crate::follow), resolved against the live catalogue by the dispatcher; explicit ids
    // are pinned (an id the catalogue lacks is a usage error).
    let (kind, chain, choice) = match model.as_str() {
        CHAT_ALIAS => alias(Kind::Chat, &settings.chat_models, &settings.chat_pin),
        VISION_ALIAS => alias(Kind::Ocr, &settings.vision_models, &settings.vision_pin),
        _ => {
            let chain: Vec<String> = std::iter::once(model.clone())
                .chain(fallbacks.iter().cloned())
                .collect();
            let kind = if has_images { Kind::Ocr } else { Kind::Chat };
            (kind, chain.clone(), ModelChoice::Pinned(chain))
        }
    };
    let Some((first, rest)) = chain.split_first() else {
        return Err(Error::Usage(format!(
            "the configured model chain for {model} is empty; set it in the settings"
        )));
    };
    let mut request = ChatRequest::new(first.clone(), messages);
    request.models = rest.to_vec();
    request.max_tokens = max_tokens;
    request.temperature = temperature;
    request.reasoning = match explicit_reasoning {
        Some(r) => r,
        None if kind == Kind::Chat => Some(ReasoningConfig::shown()),
        None => None,
    };
    request.extra = obj;
    let use_cache = match kind {
        Kind::Chat => settings.cache_chat,
        Kind::Ocr => settings.cache_ocr,
    };
    Ok(Parsed {
        job: Job {
            kind,
            request,
            models: choice,
            stream,
            use_cache,
        },
        asked_model: model,
    })
}

/// An alias's kind, chain and choice: the pin alone if one is set, else the chain.
fn alias(kind: Kind, chain: &[String], pin: &Option<String>) -> (Kind, Vec<String>, ModelChoice) {
    let choice = ModelChoice::from_pin_or_chain(chain, pin.as_deref());
    (kind, choice.ids().to_vec(), choice)
}

/// The CLI's prompt checks (`keywheel_core::input`), before anything is reserved: each
/// message's text is at most [`keywheel_core::input::MAX_PROMPT_BYTES`], and a request must ask
/// something (a user message with text, or an image).
fn check_prompts(messages: &[Message], has_images: bool) -> Result<(), Error> {
    let mut asks = has_images;
    for (i, m) in messages.iter().enumerate() {
        let text: std::borrow::Cow<'_, str> = match &m.content {
            Content::Text(t) => t.as_str().into(),
            Content::Parts(parts) => parts
                .iter()
                .filter_map(|p| match p {
                    ContentPart::Text { text } => Some(text.as_str()),
                    _ => None,
                })
                .collect::<String>()
                .into(),
        };
        if text.len() > keywheel_core::input::MAX_PROMPT_BYTES {
            // The CLI's own check and sentence, naming the message.
            keywheel_core::input::check_prompt(&text, &format!("message {i}"))?;
        }
        asks |= m.role == Role::User && !text.trim().is_empty();
    }
    if asks {
        Ok(())
    } else {
        Err(bad(
            "no user message has any text (the prompt is empty); send a question in a user message",
        ))
    }
}

fn message(i: usize, v: Value) -> Result<Message, Error> {
    let Value::Object(mut m) = v else {
        return Err(bad(format!("message {i} is not an object")));
    };
    let role = match m.get("role").and_then(Value::as_str) {
        Some("system" | "developer") => Role::System,
        Some("user") => Role::User,
        Some("assistant") => Role::Assistant,
        Some(other) => {
            return Err(bad(format!(
                "message {i} has role `{other}`, which the gateway does not relay; use system, developer, user or assistant"
            )));
        }
        None => return Err(bad(format!("message {i} has no `role`"))),
    };
    let content = match m.remove("content") {
        Some(Value::String(s)) => Content::Text(s),
        None | Some(Value::Null) if role == Role::Assistant => Content::Text(String::new()),
        Some(Value::Array(parts)) => Content::Parts(
            parts
                .into_iter()
                .map(|p| part(i, p))
                .collect::<Result<_, _>>()?,
        ),
        _ => {
            return Err(bad(format!(
                "message {i} needs `content`: a string or a list of text and image_url parts"
            )));
        }
    };
    Ok(Message { role, content })
}

/// One content part, its strings moved out of the body (an image's data URL is never copied).
fn part(i: usize, v: Value) -> Result<ContentPart, Error> {
    let Value::Object(mut p) = v else {
        return Err(bad(format!(
            "a content part of message {i} is not an object"
        )));
    };
    let kind = match p.remove("type") {
        Some(Value::String(t)) => t,
        _ => return Err(bad(format!("a content part of message {i} has no `type`"))),
    };
    match kind.as_str() {
        "text" => match p.remove("text") {
            Some(Value::String(text)) => Ok(ContentPart::Text { text }),
            _ => Err(bad(format!("a text part of message {i} has no `text`"))),
        },
        "image_url" => {
            let (url, detail) = match p.remove("image_url") {
                Some(Value::String(url)) => (url, None),
                Some(Value::Object(mut img)) => {
                    let detail = match img.remove("detail") {
                        Some(Value::String(d)) => Some(d),
                        _ => None,
                    };
                    match img.remove("url") {
                        Some(Value::String(url)) => (url, detail),
                        _ => (String::new(), None),
                    }
                }
                _ => (String::new(), None),
            };
            if url.is_empty() {
                return Err(bad(format!(
                    "an image_url part of message {i} has no `url` (a data: URL or https:// URL)"
                )));
            }
            Ok(ContentPart::ImageUrl {
                image_url: ImageUrl { url, detail },
            })
        }
        other => Err(bad(format!(
            "message {i} has a `{other}` part, which the gateway does not relay; send text and image_url parts"
        ))),
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    keywheel_core::clock::system_now().timestamp()
}

/// A fresh completion id when upstream gave none (cache hits).
pub fn fresh_id() -> String {
    format!("chatcmpl-kw{:016x}", rand::random::<u64>())
}

/// OpenAI's `usage` object, with OpenRouter's `cost`.
#[derive(Debug, Serialize)]
pub struct UsageOut {
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
    completion_tokens_details: ReasoningTokens,
    #[serde(skip_serializing_if = "Option::is_none")]
    cost: Option<f64>,
}

#[derive(Debug, Serialize)]
struct ReasoningTokens {
    reasoning_tokens: u64,
}

impl From<&Usage> for UsageOut {
    fn from(u: &Usage) -> Self {
        UsageOut {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
            total_tokens: u.total_tokens,
            completion_tokens_details: ReasoningTokens {
                reasoning_tokens: u.reasoning_tokens,
            },
            cost: u.cost,
        }
    }
}

/// A whole `chat.completion` for a finished job, borrowing the answer (written straight to
/// the body, the text never copied).
#[derive(Debug, Serialize)]
pub struct CompletionOut<'a> {
    id: std::borrow::Cow<'a, str>,
    object: &'static str,
    created: i64,
    model: &'a str,
    choices: [ChoiceOut<'a>; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<UsageOut>,
}

#[derive(Debug, Serialize)]
struct ChoiceOut<'a> {
    index: u32,
    message: MessageOut<'a>,
    finish_reason: &'static str,
    logprobs: (),
}

#[derive(Debug, Serialize)]
struct MessageOut<'a> {
    role: &'static str,
    content: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    reasoning: &'a str,
}

impl<'a> CompletionOut<'a> {
    /// The answer to a finished job; `asked_model` when upstream named none.
    pub fn new(o: &'a Outcome, asked_model: &'a str) -> Self {
        CompletionOut {
            id: o
                .generation_id
                .as_deref()
                .map_or_else(|| fresh_id().into(), Into::into),
            object: "chat.completion",
            created: unix_now(),
            model: o.model.as_deref().unwrap_or(asked_model),
            choices: [ChoiceOut {
                index: 0,
                message: MessageOut {
                    role: "assistant",
                    content: &o.content,
                    reasoning: &o.reasoning,
                },
                finish_reason: "stop",
                logprobs: (),
            }],
            usage: o.usage.as_ref().map(UsageOut::from),
        }
    }
}

/// What a stream chunk's `delta` carries (absent fields are left out: `{}` for the finish).
#[derive(Debug, Default, Serialize)]
pub struct Delta<'a> {
    /// `assistant`, on the first chunk only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
    /// Answer text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<&'a str>,
    /// Reasoning text, as OpenRouter sends it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<&'a str>,
}

/// One `chat.completion.chunk`: a delta (`choices: [...]`), or the final usage chunk
/// (`choices: []`, as OpenAI sends with `include_usage`).
#[derive(Debug, Serialize)]
pub struct ChunkOut<'a> {
    id: &'a str,
    object: &'static str,
    created: i64,
    model: &'a str,
    choices: Vec<ChunkChoice<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<UsageOut>,
}

#[derive(Debug, Serialize)]
struct ChunkChoice<'a> {
    index: u32,
    delta: Delta<'a>,
    finish_reason: Option<&'a str>,
}

impl<'a> ChunkOut<'a> {
    /// A chunk with `delta`, and the finish reason on the last one.
    pub fn delta(id: &'a str, model: &'a str, delta: Delta<'a>, finish: Option<&'a str>) -> Self {
        ChunkOut {
            id,
            object: "chat.completion.chunk",
            created: unix_now(),
            model,
            choices: vec![ChunkChoice {
                index: 0,
                delta,
                finish_reason: finish,
            }],
            usage: None,
        }
    }

    /// The final usage chunk.
    pub fn usage(id: &'a str, model: &'a str, u: &Usage) -> Self {
        ChunkOut {
            id,
            object: "chat.completion.chunk",
            created: unix_now(),
            model,
            choices: Vec::new(),
            usage: Some(u.into()),
        }
    }
}

/// How an error is presented: HTTP status, OpenAI `type`, our stable `code`.
pub fn error_class(e: &Error) -> (u16, &'static str) {
    use keywheel_core::ErrorCode as C;
    match e.code() {
        C::Usage | C::BadInput => (400, "invalid_request_error"),
        C::QuotaExhausted => (429, "rate_limit_error"),
        C::NoUsableKey | C::ToolMissing | C::LedgerUnreachable => (503, "service_unavailable"),
        C::Upstream => (502, "upstream_error"),
        C::Cancelled => (503, "service_unavailable"),
        C::KeychainUnavailable | C::Storage => (500, "server_error"),
    }
}

/// `{"error":{"message","type","code"}}`.
pub fn error_json(message: &str, kind: &str, code: &str) -> Value {
    json!({"error": {"message": message, "type": kind, "code": code, "param": null}})
}

/// The code string of a core error (`quota_exhausted`, `bad_input`, …).
pub fn code_str(e: &Error) -> String {
    serde_json::to_value(e.code())
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "error".into())
}

/// The `data:` payload of an error inside a stream (OpenRouter's shape: top-level `error`).
pub fn stream_error_json(e: &Error) -> Value {
    let (_, kind) = error_class(e);
    error_json(&e.to_string(), kind, &code_str(e))
}

/// OpenAI's model-list entry for a catalogue model (OpenRouter's fields kept).
pub fn model_entry(id: &str, extra: Map<String, Value>) -> Value {
    let mut v = json!({
        "id": id,
        "object": "model",
        "created": 0,
        "owned_by": id.split('/').next().unwrap_or("openrouter"),
    });
    if let Some(o) = v.as_object_mut() {
        o.extend(extra);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: Value) -> Result<Parsed, Error> {
        parse_chat(v.to_string().as_bytes(), &Settings::default())
    }

    #[test]
    fn aliases_use_the_configured_chains_and_extras_pass_through() {
        let p = parse(json!({"model": "keywheel/vision", "messages": [{"role":"user","content":[
            {"type":"text","text":"read"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}],
            "provider": {"order": ["DeepInfra"]}, "top_p": 0.5, "stream": true,
            "stream_options": {"include_usage": true}}))
        .unwrap();
        let s = Settings::default();
        assert_eq!(p.job.kind, Kind::Ocr);
        assert_eq!(p.job.models, ModelChoice::Prefer(s.vision_models.clone()));
        assert!(p.job.stream);
        assert_eq!(p.job.request.model, s.vision_models[0]);
        assert_eq!(p.job.request.models, s.vision_models[1..].to_vec());
        assert_eq!(
            p.job.request.extra["provider"],
            json!({"order": ["DeepInfra"]})
        );
        assert!(!p.job.request.extra.contains_key("stream_options"));
        let body = serde_json::to_value(&p.job.request).unwrap();
        assert_eq!(body["top_p"], json!(0.5));

        let p = parse(json!({"model":"keywheel/chat","messages":[{"role":"developer","content":"be brief"},{"role":"user","content":"hi"}]})).unwrap();
        assert_eq!(p.job.kind, Kind::Chat);
        assert_eq!(p.job.request.model, s.chat_models[0]);
        assert_eq!(p.job.request.messages[0].role, Role::System);

        let p = parse(json!({"model":"a/b","models":["c/d"],"max_completion_tokens":9,"messages":[{"role":"user","content":"hi"}]})).unwrap();
        assert_eq!(p.job.request.chain().collect::<Vec<_>>(), ["a/b", "c/d"]);
        assert_eq!(
            p.job.models,
            ModelChoice::Pinned(vec!["a/b".into(), "c/d".into()])
        );
        assert_eq!(p.job.request.max_tokens, Some(9));
    }

    #[test]
    fn bad_bodies_are_sentences() {
        for (body, needle) in [
            (json!([1]), "JSON object"),
            (json!({"messages": []}), "empty"),
            (json!({"model": "x"}), "`messages` is missing"),
            (
                json!({"messages":[{"role":"tool","content":"x"}]}),
                "role `tool`",
            ),
            (
                json!({"messages":[{"role":"user","content":[{"type":"input_audio"}]}]}),
                "input_audio",
            ),
            (
                json!({"temperature": 7, "messages":[{"role":"user","content":"x"}]}),
                "temperature",
            ),
        ] {
            let e = parse(body).unwrap_err();
            assert_eq!(error_class(&e).0, 400);
            assert!(e.to_string().contains(needle), "{e}");
        }
        let e = parse_chat(b"{not json", &Settings::default()).unwrap_err();
        assert!(e.to_string().contains("not valid JSON"));
    }

    #[test]
    fn prompts_get_the_cli_checks() {
        let limit = keywheel_core::input::MAX_PROMPT_BYTES;
        let user = |content: Value| json!({"messages": [{"role": "user", "content": content}]});
        assert!(parse(user(json!("a".repeat(limit)))).is_ok());
        for (body, needle) in [
            (
                user(json!("a".repeat(limit + 1))),
                "message 0 is over 1 MiB",
            ),
            (
                user(
                    json!([{"type": "text", "text": "a".repeat(limit)}, {"type": "text", "text": "b"}]),
                ),
                "limit is 1 MiB",
            ),
            (user(json!(" \n ")), "the prompt is empty"),
            (
                json!({"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": ""}]}),
                "the prompt is empty",
            ),
        ] {
            let e = parse(body).unwrap_err();
            assert_eq!(error_class(&e).0, 400, "{e}");
            assert!(e.to_string().contains(needle), "{e}");
        }
        // An image alone asks something.
        let image =
            json!([{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]);
        assert!(parse(user(image)).is_ok());
    }
}
