//! Incremental response bodies: SSE streams (docs/openrouter.md) and non-stream bodies
//! that arrive in pieces or are cut off.
//!
//! A body is a list of [`Frame`]s written one by one with a short pause between them, so clients
//! see separate TCP writes; [`Frame::Abort`] fails the body, which makes the server drop the
//! connection without finishing the chunked encoding (a cut stream).

use std::io;
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Value, json};

use crate::bodies::{add_header, raw_response};
use crate::completion::Completion;
use crate::config::Faults;

/// Pause between two frames.
const FRAME_GAP: Duration = Duration::from_millis(3);

/// The keep-alive comment OpenRouter sends.
pub(crate) const KEEPALIVE: &str = ": OPENROUTER PROCESSING\n\n";

/// One write of an incremental body.
#[derive(Debug, Clone)]
pub(crate) enum Frame {
    /// Bytes to write.
    Data(Bytes),
    /// Close the connection abruptly.
    Abort,
}

impl Frame {
    fn text(s: impl Into<String>) -> Self {
        Frame::Data(Bytes::from(s.into()))
    }
}

/// A response whose body is written frame by frame from a background task.
pub(crate) fn framed_response(status: u16, content_type: &str, frames: Vec<Frame>) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, io::Error>>(4);
    tokio::spawn(async move {
        for (i, frame) in frames.into_iter().enumerate() {
            if i > 0 {
                tokio::time::sleep(FRAME_GAP).await;
            }
            let item = match frame {
                Frame::Data(b) => Ok(b),
                Frame::Abort => Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "keywheel-mock: stream cut (fault)",
                )),
            };
            let abort = item.is_err();
            if tx.send(item).await.is_err() || abort {
                break;
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    raw_response(status, content_type, Body::from_stream(stream))
}

/// Splits `text` into about `n` pieces at spaces; the pieces concatenate back to `text`.
pub(crate) fn split_pieces(text: &str, n: usize) -> Vec<String> {
    let words: Vec<&str> = text.split_inclusive(' ').collect();
    if words.is_empty() {
        return vec![String::new()];
    }
    let per = words.len().div_ceil(n.max(1));
    words.chunks(per).map(|c| c.concat()).collect()
}

fn chunk(c: &Completion, delta: Value, finish: Option<&str>) -> Value {
    json!({
        "id": c.id,
        "provider": c.provider,
        "model": c.model,
        "object": "chat.completion.chunk",
        "created": c.created,
        "choices": [{
            "index": 0,
            "delta": delta,
            "finish_reason": finish,
            "native_finish_reason": finish,
            "logprobs": null,
        }],
    })
}

/// The `data:` payloads of a healthy stream, `[DONE]` included, in the variant `faults` asks
/// for (`usage_on_finish_chunk`, `no_reasoning_details`).
pub(crate) fn stream_events(c: &Completion, faults: &Faults) -> Vec<String> {
    let mut events = Vec::new();
    if let Some(reasoning) = c.visible_reasoning() {
        for piece in split_pieces(reasoning, 5) {
            let mut delta = json!({"role": "assistant", "content": "", "reasoning": piece});
            if !faults.no_reasoning_details {
                delta["reasoning_details"] = json!([{"type": "reasoning.text", "text": piece,
                                                     "format": "unknown", "index": 0}]);
            }
            events.push(chunk(c, delta, None));
        }
    }
    for piece in split_pieces(&c.content, 4) {
        events.push(chunk(
            c,
            json!({"role": "assistant", "content": piece, "reasoning": null}),
            None,
        ));
    }
    let mut finish = chunk(c, json!({"role": "assistant", "content": ""}), Some("stop"));
    if faults.usage_on_finish_chunk {
        finish["usage"] = c.usage_json();
        events.push(finish);
    } else {
        events.push(finish);
        events.push(json!({
            "id": c.id,
            "provider": c.provider,
            "model": c.model,
            "object": "chat.completion.chunk",
            "created": c.created,
            "choices": [],
            "usage": c.usage_json(),
        }));
    }
    let mut out: Vec<String> = events.iter().map(Value::to_string).collect();
    out.push("[DONE]".to_string());
    out
}

/// The mid-stream error chunk (docs/openrouter.md).
fn error_chunk(c: &Completion) -> String {
    json!({
        "id": c.id,
        "object": "chat.completion.chunk",
        "created": c.created,
        "model": c.model,
        "provider": c.provider,
        "error": {"code": 502, "message": "Provider disconnected unexpectedly",
                  "metadata": {"error_type": "provider_unavailable"}},
        "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}],
    })
    .to_string()
}

/// How a stream ended, for the generation record.
pub(crate) struct StreamPlan {
    pub frames: Vec<Frame>,
    pub cancelled: bool,
    pub finish_reason: &'static str,
}

/// The frames of an SSE answer with the faults applied. `model_fails` (the answering model is
/// in `error_in_200_models`) ends the stream with the error chunk after the reasoning and the
/// first content piece.
pub(crate) fn stream_plan(c: &Completion, faults: &Faults, model_fails: bool) -> StreamPlan {
    let mut events = stream_events(c, faults);
    let tail = if faults.usage_on_finish_chunk { 2 } else { 3 };
    let mut abort = false;
    let mut finish_reason = "stop";
    if faults.error_in_200 {
        events.truncate(1);
        events.push(error_chunk(c));
        finish_reason = "error";
    } else if model_fails {
        let reasoning_chunks = c
            .visible_reasoning()
            .map(|r| split_pieces(r, 5).len())
            .unwrap_or(0);
        events.truncate(reasoning_chunks + 1);
        events.push(error_chunk(c));
        finish_reason = "error";
    } else if faults.cut_stream {
        // Keep about half of the content-bearing chunks; never the finish, usage or [DONE].
        let keep = ((events.len() - tail) / 2).max(1);
        events.truncate(keep);
        abort = true;
    }
    if faults.malformed_json && events.len() > 1 {
        let i = events.len() / 2;
        let cut = events[i].len() / 2;
        let mut end = cut;
        while !events[i].is_char_boundary(end) {
            end -= 1;
        }
        events[i].truncate(end);
    }
    let eol = if faults.sse_crlf { "\r\n" } else { "\n" };
    let mut frames = Vec::new();
    for e in &events {
        if faults.keepalive_comments {
            frames.push(Frame::text(KEEPALIVE.replace('\n', eol)));
        }
        let line = format!("data: {e}{eol}{eol}");
        if faults.sse_split_writes {
            let mut mid = line.len() / 2;
            while !line.is_char_boundary(mid) {
                mid -= 1;
            }
            frames.push(Frame::text(&line[..mid]));
            frames.push(Frame::text(&line[mid..]));
        } else {
            frames.push(Frame::text(line));
        }
    }
    if abort {
        frames.push(Frame::Abort);
    }
    StreamPlan {
        frames,
        cancelled: abort,
        finish_reason,
    }
}

/// An SSE response for the plan, with OpenRouter's headers.
pub(crate) fn sse_response(generation_id: &str, frames: Vec<Frame>) -> Response {
    let mut resp = framed_response(200, "text/event-stream", frames);
    add_header(&mut resp, "Cache-Control", "no-cache");
    add_header(&mut resp, "X-Generation-Id", generation_id);
    resp
}

/// Frames of a non-stream body with the stream-ish faults applied (`cut_stream` cuts the JSON
/// and closes the connection; `keepalive_comments` sends leading newline padding first).
pub(crate) fn json_frames(body: &str, faults: &Faults) -> Vec<Frame> {
    let mut frames = Vec::new();
    if faults.keepalive_comments {
        frames.push(Frame::text("\n".repeat(200)));
    }
    if faults.cut_stream {
        let mut end = body.len() / 2;
        while !body.is_char_boundary(end) {
            end -= 1;
        }
        frames.push(Frame::text(&body[..end]));
        frames.push(Frame::Abort);
    } else {
        frames.push(Frame::text(body));
    }
    frames
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::completion::{Prompt, chat_answer};

    fn r1() -> Completion {
        let q = "Which is bigger, 9.11 or 9.9?";
        Completion::new(
            "deepseek/deepseek-r1",
            chat_answer(q),
            q,
            &Prompt {
                all_text: q,
                messages: 1,
                image_tokens: 0,
                num_images: 0,
                exclude_reasoning: false,
            },
        )
    }

    #[test]
    fn pieces_concatenate_back() {
        let t = "one two three four five six seven";
        let p = split_pieces(t, 3);
        assert_eq!(p.concat(), t);
        assert!(p.len() >= 3);
    }

    #[test]
    fn cut_stream_has_no_finish_and_aborts() {
        let plan = stream_plan(
            &r1(),
            &Faults {
                cut_stream: true,
                ..Faults::default()
            },
            false,
        );
        assert!(matches!(plan.frames.last(), Some(Frame::Abort)));
        let text: String = plan
            .frames
            .iter()
            .filter_map(|f| match f {
                Frame::Data(b) => Some(String::from_utf8_lossy(b).into_owned()),
                Frame::Abort => None,
            })
            .collect();
        assert!(!text.contains("[DONE]"));
        assert!(!text.contains("\"finish_reason\":\"stop\""));
    }
}
