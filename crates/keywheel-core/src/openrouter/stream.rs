//! A sans-IO reader of OpenRouter's Server-Sent Events (docs/openrouter.md).
//!
//! [`SseDecoder`] takes bytes as they arrive, in pieces split anywhere (mid-line, mid-UTF-8
//! code point), and turns every complete line into [`StreamEvent`]s: keep-alive comments
//! (`: OPENROUTER PROCESSING`) are skipped, `data:` works with or without the space, `\n` and
//! `\r\n` both end lines, `[DONE]` ends the stream. Reasoning (`delta.reasoning`, or
//! `delta.reasoning_details[].text` only when `reasoning` is absent) is kept apart from
//! content; `usage` is read from any chunk; errors inside chunks (a top-level `error`, or
//! `finish_reason: "error"` with `choices[0].error`) and data lines that are not JSON become
//! [`StreamEvent::Error`]. It never panics on input, and its memory is bounded: a line (or a
//! multi-line event) longer than its cap ([`SseDecoder::with_max_line`]) is an error, after
//! which the rest of the input is ignored.
//!
//! [`StreamAccumulator`] folds the events into a [`ChatOutcome`].

use serde_json::Value;

use super::classify::classify_error_object;
use super::failure::{ApiFailure, FailureClass};
use super::types::{Usage, details_text};

/// One thing that happened in a stream.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// A piece of reasoning text.
    Reasoning(String),
    /// A piece of answer text.
    Content(String),
    /// Token counts and cost (the consumer keeps the last one).
    Usage(Usage),
    /// Who answers: sent on the first chunk and whenever one of the values changes.
    Meta {
        /// Generation id.
        id: Option<String>,
        /// The model answering.
        model: Option<String>,
        /// The provider serving it.
        provider: Option<String>,
    },
    /// The finish reason (`stop`, `length`, …).
    Finish(String),
    /// An error reported inside the stream, or a chunk that could not be read.
    Error(ApiFailure),
    /// `data: [DONE]`.
    Done,
}

/// Incremental SSE decoder. Feed it with [`push`](Self::push), end with [`finish`](Self::finish).
#[derive(Debug, Default)]
pub struct SseDecoder {
    /// Bytes of the line not yet ended.
    buf: Vec<u8>,
    /// `data:` lines of the event being assembled (multi-line data, per the SSE spec).
    pending: Vec<String>,
    last_meta: (Option<String>, Option<String>, Option<String>),
    last_finish: Option<String>,
    done: bool,
    finishing: bool,
    /// Longest line or event, in bytes (0: no cap).
    max_line: usize,
    /// Bytes held in `pending`.
    pending_len: usize,
    /// The cap was hit: everything after is ignored.
    overflowed: bool,
}

impl SseDecoder {
    /// A fresh decoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// A decoder that fails (one [`StreamEvent::Error`], then silence) on a line or multi-line
    /// event longer than `max_line` bytes, instead of buffering it.
    pub fn with_max_line(max_line: usize) -> Self {
        Self {
            max_line,
            ..Self::default()
        }
    }

    fn too_long(&mut self, out: &mut Vec<StreamEvent>) {
        self.overflowed = true;
        self.buf = Vec::new();
        self.pending = Vec::new();
        self.pending_len = 0;
        out.push(StreamEvent::Error(
            ApiFailure::transient(format!(
                "OpenRouter sent a stream line longer than {} KiB; the answer was stopped",
                self.max_line >> 10
            ))
            .with_status(200),
        ));
    }

    fn over_cap(&self, n: usize) -> bool {
        self.max_line > 0 && n > self.max_line
    }

    /// Whether `data: [DONE]` was seen.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Feeds bytes; returns the events of every line they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<StreamEvent> {
        let mut out = Vec::new();
        if self.overflowed {
            return out;
        }
        let mut start = 0;
        for (i, b) in bytes.iter().enumerate() {
            if *b == b'\n' {
                if self.over_cap(self.buf.len() + (i - start)) {
                    self.too_long(&mut out);
                    return out;
                }
                if self.buf.is_empty() {
                    self.line(&bytes[start..i], &mut out);
                } else {
                    self.buf.extend_from_slice(&bytes[start..i]);
                    let line = std::mem::take(&mut self.buf);
                    self.line(&line, &mut out);
                }
                if self.overflowed {
                    return out;
                }
                start = i + 1;
            }
        }
        if self.over_cap(self.buf.len() + (bytes.len() - start)) {
            self.too_long(&mut out);
            return out;
        }
        self.buf.extend_from_slice(&bytes[start..]);
        out
    }

    /// Ends the input: an unterminated last line and a pending event are processed.
    pub fn finish(&mut self) -> Vec<StreamEvent> {
        let mut out = Vec::new();
        if self.overflowed {
            return out;
        }
        self.finishing = true;
        if !self.buf.is_empty() {
            let line = std::mem::take(&mut self.buf);
            self.line(&line, &mut out);
        }
        self.dispatch(&mut out);
        out
    }

    fn line(&mut self, raw: &[u8], out: &mut Vec<StreamEvent>) {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.is_empty() {
            self.dispatch(out);
            return;
        }
        if raw[0] == b':' {
            return; // comment / keep-alive
        }
        let line = String::from_utf8_lossy(raw);
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line.as_ref(), ""),
        };
        if field != "data" {
            return; // event:, id:, retry: and unknown fields are ignored
        }
        // OpenRouter sends one JSON document per data line; dispatch it at once so a missing
        // blank line never glues two chunks together. Multi-line data still works: a line that
        // is not complete on its own waits for the blank line.
        if self.over_cap(self.pending_len + value.len()) {
            self.too_long(out);
            return;
        }
        self.pending_len += value.len() + 1;
        if self.pending.is_empty() {
            if value.trim() == "[DONE]" {
                self.pending.push(value.to_string());
                self.dispatch(out);
                return;
            }
            // A whole document: read once, here (not again in `dispatch`).
            if let Ok(v) = serde_json::from_str::<Value>(value) {
                self.pending_len = 0;
                self.document(Some(v), out);
                return;
            }
        }
        self.pending.push(value.to_string());
    }

    fn dispatch(&mut self, out: &mut Vec<StreamEvent>) {
        if self.pending.is_empty() {
            return;
        }
        self.pending_len = 0;
        let data = std::mem::take(&mut self.pending).join("\n");
        let data = data.trim();
        if data.is_empty() {
            return;
        }
        if data == "[DONE]" {
            self.done = true;
            out.push(StreamEvent::Done);
            return;
        }
        let v = serde_json::from_str::<Value>(data).ok();
        self.document(v, out);
    }

    /// One event's data read as JSON (`None`: not JSON): a chunk if it is an object, else an
    /// error event.
    fn document(&mut self, v: Option<Value>, out: &mut Vec<StreamEvent>) {
        match v {
            Some(v) if v.is_object() => self.chunk(&v, out),
            _ => {
                let what = if self.finishing {
                    "the stream was cut in the middle of a chunk"
                } else {
                    "OpenRouter sent a stream chunk that is not valid JSON"
                };
                out.push(StreamEvent::Error(
                    ApiFailure::transient(what).with_status(200),
                ));
            }
        }
    }

    fn chunk(&mut self, v: &Value, out: &mut Vec<StreamEvent>) {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let meta = (s("id"), s("model"), s("provider"));
        if (meta.0.is_some() || meta.1.is_some() || meta.2.is_some()) && meta != self.last_meta {
            // Keep earlier values a chunk leaves out (error chunks may omit the provider).
            let merged = (
                meta.0.or_else(|| self.last_meta.0.clone()),
                meta.1.or_else(|| self.last_meta.1.clone()),
                meta.2.or_else(|| self.last_meta.2.clone()),
            );
            if merged != self.last_meta {
                self.last_meta = merged.clone();
                out.push(StreamEvent::Meta {
                    id: merged.0,
                    model: merged.1,
                    provider: merged.2,
                });
            }
        }

        let choice = v.get("choices").and_then(Value::as_array).and_then(|cs| {
            cs.iter()
                .find(|c| c.get("index").and_then(Value::as_u64) == Some(0))
                .or_else(|| cs.first())
        });
        let mut finish = None;
        let mut choice_error = None;
        if let Some(c) = choice {
            if let Some(delta) = c
                .get("delta")
                .or_else(|| c.get("message"))
                .filter(|d| d.is_object())
            {
                let reasoning = match delta.get("reasoning").and_then(Value::as_str) {
                    Some(r) => r.to_string(),
                    None => delta
                        .get("reasoning_details")
                        .and_then(Value::as_array)
                        .map(|d| details_text(d))
                        .unwrap_or_default(),
                };
                if !reasoning.is_empty() {
                    out.push(StreamEvent::Reasoning(reasoning));
                }
                if let Some(content) = delta
                    .get("content")
                    .and_then(Value::as_str)
                    .filter(|c| !c.is_empty())
                {
                    out.push(StreamEvent::Content(content.to_string()));
                }
            }
            finish = c
                .get("finish_reason")
                .and_then(Value::as_str)
                .map(str::to_string);
            choice_error = c.get("error").filter(|e| e.is_object());
        }

        if let Some(u) = v.get("usage").and_then(Usage::from_value) {
            out.push(StreamEvent::Usage(u));
        }

        let top_error = v.get("error").filter(|e| !e.is_null());
        if top_error.is_some() || choice_error.is_some() || finish.as_deref() == Some("error") {
            let failure = match top_error.or(choice_error) {
                Some(e) if e.is_object() => classify_error_object(e, 200),
                Some(e) => ApiFailure::transient(format!(
                    "the stream reported an error: {}",
                    e.as_str().map_or_else(|| e.to_string(), str::to_string)
                ))
                .with_status(200),
                None => ApiFailure::new(
                    FailureClass::Transient,
                    "the provider stopped the answer with an error",
                )
                .with_status(200),
            };
            out.push(StreamEvent::Error(failure));
            return;
        }

        if let Some(f) = finish
            && self.last_finish.as_deref() != Some(f.as_str())
        {
            self.last_finish = Some(f.clone());
            out.push(StreamEvent::Finish(f));
        }
    }
}

/// The folded result of a stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatOutcome {
    /// Generation id.
    pub id: Option<String>,
    /// The model that answered.
    pub model: Option<String>,
    /// The provider that served it.
    pub provider: Option<String>,
    /// The whole answer.
    pub content: String,
    /// The whole reasoning.
    pub reasoning: String,
    /// The last usage seen.
    pub usage: Option<Usage>,
    /// The last finish reason seen.
    pub finish_reason: Option<String>,
}

/// Folds [`StreamEvent`]s into a [`ChatOutcome`], remembering the first error and whether the
/// stream ended properly.
#[derive(Debug, Clone, Default)]
pub struct StreamAccumulator {
    outcome: ChatOutcome,
    error: Option<ApiFailure>,
    done: bool,
}

impl StreamAccumulator {
    /// A fresh accumulator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies one event.
    pub fn push(&mut self, ev: &StreamEvent) {
        let o = &mut self.outcome;
        match ev {
            StreamEvent::Reasoning(r) => o.reasoning.push_str(r),
            StreamEvent::Content(c) => o.content.push_str(c),
            StreamEvent::Usage(u) => o.usage = Some(u.clone()),
            StreamEvent::Meta {
                id,
                model,
                provider,
            } => {
                if id.is_some() {
                    o.id.clone_from(id);
                }
                if model.is_some() {
                    o.model.clone_from(model);
                }
                if provider.is_some() {
                    o.provider.clone_from(provider);
                }
            }
            StreamEvent::Finish(f) => o.finish_reason = Some(f.clone()),
            StreamEvent::Error(e) => {
                if self.error.is_none() {
                    self.error = Some(e.clone());
                }
            }
            StreamEvent::Done => self.done = true,
        }
    }

    /// Applies several events.
    pub fn extend<'a>(&mut self, evs: impl IntoIterator<Item = &'a StreamEvent>) {
        for ev in evs {
            self.push(ev);
        }
    }

    /// The first error seen, if any.
    pub fn error(&self) -> Option<&ApiFailure> {
        self.error.as_ref()
    }

    /// Whether the stream ended properly: `[DONE]` or a finish reason, and no error.
    pub fn is_complete(&self) -> bool {
        self.error.is_none() && (self.done || self.outcome.finish_reason.is_some())
    }

    /// What was received so far, complete or not.
    pub fn outcome(&self) -> &ChatOutcome {
        &self.outcome
    }

    /// The outcome, or the stream's error, or a [`FailureClass::Transient`] "stream was cut"
    /// when it ended without a finish reason or `[DONE]`.
    pub fn into_result(self) -> Result<ChatOutcome, ApiFailure> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if !self.done && self.outcome.finish_reason.is_none() {
            return Err(
                ApiFailure::transient("the stream was cut before the answer finished")
                    .with_status(200),
            );
        }
        Ok(self.outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A DeepSeek R1 stream in OpenRouter's wire form (keep-alive comments, `reasoning` and
    /// `reasoning_details`, usage on a final chunk; docs/openrouter.md), kept byte for byte.
    const R1_STREAM: &str = r#": OPENROUTER PROCESSING

: OPENROUTER PROCESSING

data: {"id":"gen-1748781300-R1strEamExample000001","provider":"DeepInfra","model":"deepseek/deepseek-r1","object":"chat.completion.chunk","created":1748781300,"choices":[{"index":0,"delta":{"role":"assistant","content":"","reasoning":"Okay"},"finish_reason":null,"native_finish_reason":null,"logprobs":null}]}

data: {"id":"gen-1748781300-R1strEamExample000001","provider":"DeepInfra","model":"deepseek/deepseek-r1","object":"chat.completion.chunk","created":1748781300,"choices":[{"index":0,"delta":{"role":"assistant","content":"","reasoning":", compare 9.11 and 9.90: 0.90 > 0.11.","reasoning_details":[{"type":"reasoning.text","text":", compare 9.11 and 9.90: 0.90 > 0.11.","format":"unknown","index":0}]},"finish_reason":null,"native_finish_reason":null,"logprobs":null}]}

: OPENROUTER PROCESSING

data: {"id":"gen-1748781300-R1strEamExample000001","provider":"DeepInfra","model":"deepseek/deepseek-r1","object":"chat.completion.chunk","created":1748781300,"choices":[{"index":0,"delta":{"role":"assistant","content":"9.9 is bigger.","reasoning":null},"finish_reason":null,"native_finish_reason":null,"logprobs":null}]}

data: {"id":"gen-1748781300-R1strEamExample000001","provider":"DeepInfra","model":"deepseek/deepseek-r1","object":"chat.completion.chunk","created":1748781300,"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":"stop","native_finish_reason":"stop","logprobs":null}]}

data: {"id":"gen-1748781300-R1strEamExample000001","provider":"DeepInfra","model":"deepseek/deepseek-r1","object":"chat.completion.chunk","created":1748781300,"choices":[],"usage":{"prompt_tokens":14,"completion_tokens":61,"total_tokens":75,"cost":0.0001623,"is_byok":false,"prompt_tokens_details":{"cached_tokens":0},"cost_details":{"upstream_inference_cost":null,"upstream_inference_prompt_cost":0.0000098,"upstream_inference_completions_cost":0.0001525},"completion_tokens_details":{"reasoning_tokens":48}}}

data: [DONE]

"#;

    /// An error after the first token: HTTP 200 already sent, the error arrives as a chunk
    /// (docs/openrouter.md, "Errors"); ends at EOF without `[DONE]`.
    const MID_STREAM_ERROR: &str = r#"data: {"id":"gen-1748781300-R1strEamExample000002","provider":"DeepInfra","model":"deepseek/deepseek-r1","object":"chat.completion.chunk","created":1748781300,"choices":[{"index":0,"delta":{"role":"assistant","content":"","reasoning":"Let me"},"finish_reason":null,"native_finish_reason":null,"logprobs":null}]}

data: {"id":"gen-1748781300-R1strEamExample000002","object":"chat.completion.chunk","created":1748781305,"model":"deepseek/deepseek-r1","provider":"DeepInfra","error":{"code":502,"message":"Provider disconnected unexpectedly","metadata":{"error_type":"provider_unavailable"}},"choices":[{"index":0,"delta":{"content":""},"finish_reason":"error"}]}

"#;

    fn run(pieces: &[&[u8]]) -> (Vec<StreamEvent>, Result<ChatOutcome, ApiFailure>) {
        let mut d = SseDecoder::new();
        let mut evs = Vec::new();
        for p in pieces {
            evs.extend(d.push(p));
        }
        evs.extend(d.finish());
        let mut acc = StreamAccumulator::new();
        acc.extend(&evs);
        (evs, acc.into_result())
    }

    fn whole(s: &str) -> Result<ChatOutcome, ApiFailure> {
        run(&[s.as_bytes()]).1
    }

    fn r1_expected() -> ChatOutcome {
        ChatOutcome {
            id: Some("gen-1748781300-R1strEamExample000001".into()),
            model: Some("deepseek/deepseek-r1".into()),
            provider: Some("DeepInfra".into()),
            content: "9.9 is bigger.".into(),
            reasoning: "Okay, compare 9.11 and 9.90: 0.90 > 0.11.".into(),
            usage: Some(Usage {
                prompt_tokens: 14,
                completion_tokens: 61,
                total_tokens: 75,
                reasoning_tokens: 48,
                cost: Some(0.0001623),
            }),
            finish_reason: Some("stop".into()),
        }
    }

    /// Every way of cutting `s` gives the same events as feeding it whole.
    fn assert_split_invariant(s: &str) {
        let bytes = s.as_bytes();
        let (reference, outcome) = run(&[bytes]);
        let one_by_one: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(run(&one_by_one).0, reference, "byte by byte");
        for i in 0..=bytes.len() {
            let (evs, o) = run(&[&bytes[..i], &bytes[i..]]);
            assert_eq!(evs, reference, "split at {i}");
            assert_eq!(o, outcome, "split at {i}");
        }
    }

    #[test]
    fn r1_stream_whole() {
        let (evs, outcome) = run(&[R1_STREAM.as_bytes()]);
        assert_eq!(outcome.unwrap(), r1_expected());
        assert_eq!(
            evs.first(),
            Some(&StreamEvent::Meta {
                id: Some("gen-1748781300-R1strEamExample000001".into()),
                model: Some("deepseek/deepseek-r1".into()),
                provider: Some("DeepInfra".into()),
            })
        );
        assert_eq!(evs.last(), Some(&StreamEvent::Done));
        // reasoning_details is not added on top of reasoning
        let reasoning: Vec<_> = evs
            .iter()
            .filter(|e| matches!(e, StreamEvent::Reasoning(_)))
            .collect();
        assert_eq!(reasoning.len(), 2);
        assert_eq!(
            evs.iter()
                .filter(|e| matches!(e, StreamEvent::Meta { .. }))
                .count(),
            1
        );
    }

    #[test]
    fn r1_stream_split_anywhere() {
        assert_split_invariant(R1_STREAM);
    }

    #[test]
    fn multibyte_utf8_split_inside_a_code_point() {
        let s = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"café 🙂\",\"reasoning\":\"é\"}}]}\n\n\
                 data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
        assert_split_invariant(s);
        let o = whole(s).unwrap();
        assert_eq!(o.content, "café 🙂");
        assert_eq!(o.reasoning, "é");
        // Split inside the 4-byte emoji explicitly.
        let at = s.find('🙂').unwrap() + 2;
        assert_eq!(
            run(&[&s.as_bytes()[..at], &s.as_bytes()[at..]])
                .1
                .unwrap()
                .content,
            "café 🙂"
        );
    }

    #[test]
    fn crlf_line_endings() {
        let crlf = R1_STREAM.replace('\n', "\r\n");
        assert_eq!(whole(&crlf).unwrap(), r1_expected());
        assert_split_invariant(&crlf);
    }

    #[test]
    fn data_without_space_and_comments_between_chunks() {
        let s = R1_STREAM
            .replace("data: ", "data:")
            .replace("\n\ndata:", "\n\n: OPENROUTER PROCESSING\n\ndata:");
        assert_eq!(whole(&s).unwrap(), r1_expected());
    }

    #[test]
    fn usage_on_the_finish_chunk() {
        let s = r#"data: {"id":"gen-1","model":"m","choices":[{"index":0,"delta":{"content":"hi"}}]}

data: {"id":"gen-1","model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":"stop"}],"usage":{"prompt_tokens":22,"completion_tokens":7,"total_tokens":29,"cost":0.000171,"is_byok":false,"prompt_tokens_details":{"cached_tokens":0},"cost_details":{"upstream_inference_cost":null},"completion_tokens_details":{"reasoning_tokens":0}}}

data: [DONE]

"#;
        let o = whole(s).unwrap();
        assert_eq!(o.content, "hi");
        assert_eq!(o.usage.unwrap().total_tokens, 29);
        assert_eq!(o.finish_reason.as_deref(), Some("stop"));
    }

    #[test]
    fn usage_only_final_chunk_and_last_usage_wins() {
        let s = r#"data: {"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1}}

data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":6,"total_tokens":11}}

data: [DONE]
"#;
        let o = whole(s).unwrap();
        assert_eq!(o.usage.unwrap().total_tokens, 11);
    }

    #[test]
    fn reasoning_details_used_only_without_reasoning() {
        let s = r#"data: {"choices":[{"index":0,"delta":{"content":"","reasoning_details":[{"type":"reasoning.text","text":"think"}]}}]}
data: {"choices":[{"index":0,"delta":{"reasoning":"A","reasoning_details":[{"type":"reasoning.text","text":"A"}]}}]}
data: {"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":"stop"}]}
"#;
        let o = whole(s).unwrap();
        assert_eq!(o.reasoning, "thinkA");
        assert_eq!(o.content, "x");
    }

    #[test]
    fn mid_stream_error_without_done() {
        let (evs, res) = run(&[MID_STREAM_ERROR.as_bytes()]);
        let err = res.unwrap_err();
        assert_eq!(err.class, FailureClass::Transient);
        assert_eq!(err.http_status, Some(200));
        assert_eq!(err.message, "Provider disconnected unexpectedly");
        assert!(evs.contains(&StreamEvent::Reasoning("Let me".into())));
        assert!(!evs.iter().any(|e| matches!(e, StreamEvent::Finish(_))));
        assert_split_invariant(MID_STREAM_ERROR);
    }

    #[test]
    fn mid_stream_error_with_done() {
        let s = format!("{MID_STREAM_ERROR}data: [DONE]\n\n");
        let err = whole(&s).unwrap_err();
        assert_eq!(err.class, FailureClass::Transient);
        assert_eq!(err.message, "Provider disconnected unexpectedly");
    }

    #[test]
    fn mid_stream_error_with_word_code() {
        let s = MID_STREAM_ERROR.replace("\"code\":502", "\"code\":\"server_error\"");
        let err = whole(&s).unwrap_err();
        assert_eq!(err.class, FailureClass::Transient);
    }

    #[test]
    fn choice_level_error() {
        let s = r#"data: {"choices":[{"index":0,"delta":{"content":"part"},"finish_reason":"error","error":{"code":429,"message":"Rate limit exceeded","metadata":{"error_type":"rate_limit_exceeded"}}}]}
"#;
        let (evs, res) = run(&[s.as_bytes()]);
        assert_eq!(res.unwrap_err().class, FailureClass::RateLimited);
        assert!(evs.contains(&StreamEvent::Content("part".into())));
        let bare = r#"data: {"choices":[{"index":0,"delta":{},"finish_reason":"error"}]}"#;
        assert_eq!(whole(bare).unwrap_err().class, FailureClass::Transient);
    }

    #[test]
    fn garbage_data_line_is_a_transient_error_not_a_panic() {
        let s = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ok\"}}]}\n\ndata: {\"choices\":[{\"ind\n\ndata: <html>oops</html>\n\ndata: [DONE]\n\n";
        let (evs, res) = run(&[s.as_bytes()]);
        let err = res.unwrap_err();
        assert_eq!(err.class, FailureClass::Transient);
        assert_eq!(
            evs.iter()
                .filter(|e| matches!(e, StreamEvent::Error(_)))
                .count(),
            2
        );
        // Odd input never panics.
        let mut d = SseDecoder::new();
        for junk in [
            &b"\xff\xfe\n\n"[..],
            b"data\n\n",
            b":\n",
            b"data: 42\n\n",
            b"data: null\n\n",
            b"\r\n\r\n",
            b"event: x\nid: 1\nretry: 5\n\n",
        ] {
            d.push(junk);
        }
        d.finish();
    }

    #[test]
    fn cut_stream_is_transient() {
        let cut = &R1_STREAM[..R1_STREAM.find("9.9 is bigger").unwrap() + 5];
        let (_, res) = run(&[cut.as_bytes()]);
        let err = res.unwrap_err();
        assert_eq!(err.class, FailureClass::Transient);
        assert!(err.message.contains("cut"));
        assert!(whole("").is_err());
    }

    #[test]
    fn finish_without_done_is_complete() {
        let s = &R1_STREAM[..R1_STREAM.find("data: [DONE]").unwrap()];
        assert_eq!(whole(s).unwrap(), r1_expected());
    }

    #[test]
    fn multi_line_data_field() {
        let s = "data: {\"choices\":[{\"index\":0,\ndata: \"delta\":{\"content\":\"joined\"},\"finish_reason\":\"stop\"}]}\n\n";
        assert_eq!(whole(s).unwrap().content, "joined");
    }

    #[test]
    fn model_change_emits_meta_again() {
        let s = "data: {\"id\":\"g\",\"model\":\"a\",\"choices\":[]}\n\ndata: {\"id\":\"g\",\"model\":\"b\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n";
        let (evs, res) = run(&[s.as_bytes()]);
        assert_eq!(
            evs.iter()
                .filter(|e| matches!(e, StreamEvent::Meta { .. }))
                .count(),
            2
        );
        assert_eq!(res.unwrap().model.as_deref(), Some("b"));
    }

    #[test]
    fn a_line_past_the_cap_is_an_error_and_memory_stays_bounded() {
        let mut d = SseDecoder::with_max_line(1024);
        let mut evs = d.push(b"data: ");
        for _ in 0..100 {
            evs.extend(d.push(&[b'x'; 100]));
            assert!(
                d.buf.len() <= 1024,
                "the decoder buffered {} bytes",
                d.buf.len()
            );
        }
        evs.extend(d.finish());
        let errors: Vec<_> = evs
            .iter()
            .filter_map(|e| match e {
                StreamEvent::Error(f) => Some(f),
                _ => None,
            })
            .collect();
        assert_eq!(errors.len(), 1, "{evs:?}");
        assert!(
            errors[0].message.contains("longer than 1 KiB"),
            "{}",
            errors[0]
        );
        assert_eq!(errors[0].class, FailureClass::Transient);

        // Many short lines that never end an event count too.
        let mut d = SseDecoder::with_max_line(1024);
        let mut evs = Vec::new();
        for _ in 0..100 {
            evs.extend(d.push(b"data: {\"never\": \n"));
        }
        assert!(matches!(evs.last(), Some(StreamEvent::Error(_))), "{evs:?}");
        assert!(d.pending.is_empty());

        // Within the cap, a split line still decodes.
        let mut d = SseDecoder::with_max_line(R1_STREAM.len());
        let mut acc = StreamAccumulator::new();
        for piece in R1_STREAM.as_bytes().chunks(7) {
            acc.extend(&d.push(piece));
        }
        acc.extend(&d.finish());
        assert_eq!(acc.into_result().unwrap(), r1_expected());
    }
}
