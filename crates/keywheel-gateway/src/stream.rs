//! SSE answers: each core [`StreamEvent`] is re-encoded as an OpenAI `chat.completion.chunk`
//! and written as soon as it arrives (events already waiting are written together); nothing
//! is buffered beyond that.
//!
//! The status line waits for the first event, so an error before any output (quota, bad
//! input, upstream) still gets its real status and OpenAI's error body. Reasoning travels as
//! OpenRouter sends it (`delta.reasoning`); usage with cost rides on a final `choices: []`
//! chunk; then `data: [DONE]`. If the client goes away, the job is cancelled (the upstream
//! request is dropped; what was sent stays counted). If upstream fails after output was
//! written, the dispatcher's retry would repeat text the client already has, so the job is
//! cancelled and the stream ends with an error chunk instead.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use keywheel_core::Error;
use keywheel_core::dispatch::{Dispatcher, Outcome, Timings};
use keywheel_core::openrouter::types::Usage;
use keywheel_core::openrouter::{CancelToken, StreamEvent};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::openai::{self, ChunkOut, Delta};
use crate::server::{CancelOnDrop, KEY_ID, MODEL, Msg, Spent, State, error_response};

struct Writer {
    state: State,
    rx: UnboundedReceiver<Msg>,
    guard: CancelOnDrop,
    id: String,
    model: String,
    role_sent: bool,
    text_sent: bool,
    finished: bool,
    usage: Option<Usage>,
    ended: bool,
}

impl Writer {
    fn data(out: &mut Vec<u8>, v: &impl serde::Serialize) {
        out.extend_from_slice(b"data: ");
        let _ = serde_json::to_writer(&mut *out, v);
        out.extend_from_slice(b"\n\n");
    }

    fn delta(&mut self, out: &mut Vec<u8>, mut delta: Delta<'_>) {
        if !self.role_sent {
            delta.role = Some("assistant");
            self.role_sent = true;
        }
        Self::data(out, &ChunkOut::delta(&self.id, &self.model, delta, None));
    }

    /// Encodes one message; returns false once the stream is over.
    fn push(&mut self, msg: Msg, out: &mut Vec<u8>) {
        match msg {
            Msg::Stream(ev) => match ev {
                StreamEvent::Meta { id, model, .. } => {
                    if let Some(id) = id {
                        self.id = id;
                    }
                    if let Some(m) = model {
                        self.model = m;
                    }
                    if !self.role_sent {
                        let delta = Delta {
                            content: Some(""),
                            ..Delta::default()
                        };
                        self.delta(out, delta);
                    }
                }
                StreamEvent::Reasoning(t) => {
                    self.text_sent = true;
                    let delta = Delta {
                        reasoning: Some(&t),
                        ..Delta::default()
                    };
                    self.delta(out, delta);
                }
                StreamEvent::Content(t) => {
                    self.text_sent = true;
                    let delta = Delta {
                        content: Some(&t),
                        ..Delta::default()
                    };
                    self.delta(out, delta);
                }
                StreamEvent::Usage(u) => self.usage = Some(u),
                StreamEvent::Finish(r) => {
                    if !self.finished {
                        self.finished = true;
                        let chunk =
                            ChunkOut::delta(&self.id, &self.model, Delta::default(), Some(&r));
                        Self::data(out, &chunk);
                    }
                }
                StreamEvent::Error(_) | StreamEvent::Done => {}
            },
            Msg::Retry if self.text_sent => {
                self.guard.cancel();
                let e = Error::Upstream(
                    "the answer broke off upstream after part of it was sent; ask again (the part sent was counted)".into(),
                );
                self.fail(out, &e);
            }
            Msg::Retry => {}
            Msg::Done(Ok(o)) => self.finish(out, &o),
            Msg::Done(Err(e)) => self.fail(out, &e),
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>, o: &Outcome) {
        self.guard.disarm();
        if !self.finished {
            self.finished = true;
            let chunk = ChunkOut::delta(&self.id, &self.model, Delta::default(), Some("stop"));
            Self::data(out, &chunk);
        }
        if let Some(u) = o.usage.as_ref().or(self.usage.as_ref()) {
            Self::data(out, &ChunkOut::usage(&self.id, &self.model, u));
        }
        out.extend_from_slice(b"data: [DONE]\n\n");
        self.state.counters.answered.fetch_add(1, Ordering::Relaxed);
        self.ended = true;
    }

    fn fail(&mut self, out: &mut Vec<u8>, e: &Error) {
        if !self.ended {
            self.guard.disarm();
            self.state.counters.failed.fetch_add(1, Ordering::Relaxed);
            Self::data(out, &openai::stream_error_json(e));
            self.ended = true;
        }
    }

    async fn next_bytes(&mut self) -> Option<Bytes> {
        if self.ended {
            return None;
        }
        let mut out = Vec::with_capacity(512);
        match self.rx.recv().await {
            Some(m) => self.push(m, &mut out),
            None => self.fail(
                &mut out,
                &Error::Upstream("the answer ended without a result".into()),
            ),
        }
        while !self.ended {
            match self.rx.try_recv() {
                Ok(m) => self.push(m, &mut out),
                Err(_) => break,
            }
        }
        Some(Bytes::from(out))
    }
}

/// Waits for the first event (or the result), then answers with the stream.
pub(crate) async fn respond(
    state: State,
    mut rx: UnboundedReceiver<Msg>,
    cancel: CancelToken,
    dispatcher: Arc<Dispatcher>,
    asked: String,
    first_model: String,
    timings: Arc<Timings>,
) -> Response {
    let guard = CancelOnDrop::new(cancel);
    let first = loop {
        match rx.recv().await {
            Some(Msg::Retry) => continue,
            Some(Msg::Done(Err(e))) => {
                let mut r = error_response(&state, &e);
                r.extensions_mut().insert(Spent(timings));
                return r;
            }
            Some(m) => break m,
            None => {
                let e = Error::Upstream("the answer ended without a result".into());
                let mut r = error_response(&state, &e);
                r.extensions_mut().insert(Spent(timings));
                return r;
            }
        }
    };
    let (key, model) = match &first {
        Msg::Done(Ok(o)) => (
            o.key_id.clone(),
            o.model.clone().unwrap_or_else(|| asked.clone()),
        ),
        Msg::Stream(StreamEvent::Meta { model: Some(m), .. }) => {
            (dispatcher.instance().key(), m.clone())
        }
        _ => (dispatcher.instance().key(), first_model),
    };
    let mut w = Writer {
        state,
        rx,
        guard,
        id: openai::fresh_id(),
        model,
        role_sent: false,
        text_sent: false,
        finished: false,
        usage: None,
        ended: false,
    };
    let mut head = Vec::with_capacity(512);
    w.push(first, &mut head);
    while !w.ended {
        match w.rx.try_recv() {
            Ok(m) => w.push(m, &mut head),
            Err(_) => break,
        }
    }
    let model_header = HeaderValue::from_str(&w.model).ok();
    let head = Bytes::from(head);
    let body = futures_util::stream::unfold((Some(head), w), |(head, mut w)| async move {
        if let Some(h) = head {
            return Some((Ok::<Bytes, std::io::Error>(h), (None, w)));
        }
        w.next_bytes().await.map(|b| (Ok(b), (None, w)))
    });
    let mut resp = Response::new(Body::from_stream(body));
    *resp.status_mut() = StatusCode::OK;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Some(v) = key.and_then(|k| HeaderValue::from_str(k.as_str()).ok()) {
        h.insert(KEY_ID, v);
    }
    if let Some(v) = model_header {
        h.insert(MODEL, v);
    }
    resp.extensions_mut().insert(Spent(timings));
    resp
}
