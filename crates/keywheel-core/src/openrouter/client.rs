//! The HTTP client: one `reqwest::Client` (rustls) for `POST /chat/completions` (plain and
//! streamed), `GET /key`, `GET /models` and `GET /generation`.
//!
//! Every failure comes back as an [`ApiFailure`] classified by [`super::classify()`] (bodies)
//! or [`classify_transport`] (no usable response). The key is
//! sent only in the `Authorization` header (marked sensitive); logs name it by key id, and no
//! failure message is built from a request, a URL or a header.
//!
//! What comes back is bounded: an SSE line ([`MAX_LINE`]), a stream's total size
//! ([`MAX_STREAM`]), a body read whole ([`MAX_BODY`]) and a stream's total time
//! ([`ClientConfig::stream_deadline`]); going past any of them is an error, never a silently
//! cut answer. Redirects are never followed: a 307 would send the prompt (and the key's
//! request) somewhere else. The base URL must be `https://`, or `http://` to loopback
//! ([`check_base_url`]).

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::classify::{classify, classify_error_object};
use super::failure::{ApiFailure, FailureClass};
use super::headers::{RateLimitInfo, rate_limit_from_headers};
use super::retry::Backoff;
use super::stream::{ChatOutcome, SseDecoder, StreamAccumulator, StreamEvent};
use super::types::{
    ChatRequest, ChatResponse, DataEnvelope, Generation, KeyInfo, ModelInfo, Usage,
};
use crate::cancel::CancelToken;
use crate::error::{Error, Result};
use crate::keys::ApiKey;

/// OpenRouter's API root.
pub const DEFAULT_BASE_URL: &str = "https://openrouter.ai/api/v1";

/// Error bodies longer than this are cut before classification.
const MAX_ERROR_BODY: usize = 256 * 1024;

/// Bodies read whole (non-streamed answers, `/models`, errors): past this size the call fails.
pub const MAX_BODY: usize = 16 * 1024 * 1024;

/// The longest SSE line (a `data:` chunk) a stream may send.
pub const MAX_LINE: usize = 1024 * 1024;

/// The most bytes one stream may send in all.
pub const MAX_STREAM: usize = 16 * 1024 * 1024;

/// `base` and `path` joined by one `/`.
fn join(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

/// Checks an API base URL: `https://host…`, or `http://` only to a loopback address
/// (`localhost`, 127.0.0.0/8, `[::1]`: the mock in tests). Anything else is a usage error whose
/// sentence says what to give instead; `what` names the setting.
pub fn check_base_url(what: &str, url: &str) -> Result<()> {
    let example = "give e.g. https://openrouter.ai/api/v1";
    let parsed = reqwest::Url::parse(url).ok().filter(|u| u.has_host());
    let Some(u) = parsed.filter(|u| matches!(u.scheme(), "http" | "https")) else {
        return Err(Error::Usage(format!(
            "{what} {url:?} is not an http(s) URL with a host (no scheme?); {example}"
        )));
    };
    if u.scheme() == "http" {
        let host = u.host_str().unwrap_or_default();
        let ip = host.trim_start_matches('[').trim_end_matches(']');
        let loopback = host.eq_ignore_ascii_case("localhost")
            || ip
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if !loopback {
            return Err(Error::Usage(format!(
                "{what} {url:?} uses http://, which would send keys and prompts unencrypted; \
                 https is needed (http:// is allowed only to localhost/127.0.0.1); {example}"
            )));
        }
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(Error::Usage(format!(
            "{what} must not carry a user name or password; {example}"
        )));
    }
    Ok(())
}

/// How the client connects and how long it waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// API root, e.g. `https://openrouter.ai/api/v1` or a mock's `http://127.0.0.1:PORT/api/v1`.
    pub base_url: String,
    /// `HTTP-Referer` attribution header (the app's URL), when set.
    pub referer: Option<String>,
    /// `X-OpenRouter-Title` (and legacy `X-Title`) attribution header, when set.
    pub title: Option<String>,
    /// TCP + TLS connect timeout (default 10 s).
    pub connect_timeout: Duration,
    /// Streams: longest wait from sending until the first body byte (default 60 s).
    pub first_byte_timeout: Duration,
    /// Streams: longest silence between two reads once bytes flow (default 60 s; keep-alive
    /// comments count as bytes).
    pub idle_stream_timeout: Duration,
    /// Non-streamed calls: longest time for the whole exchange (default 300 s). Streams are
    /// bounded by the two timeouts above and by [`stream_deadline`](Self::stream_deadline).
    pub request_timeout: Duration,
    /// Streams: longest time for the whole answer (default 10 min). Keep-alive comments reset
    /// the idle timeout, so without this a stream could last forever.
    pub stream_deadline: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            base_url: DEFAULT_BASE_URL.to_string(),
            referer: None,
            title: None,
            connect_timeout: Duration::from_secs(10),
            first_byte_timeout: Duration::from_secs(60),
            idle_stream_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(300),
            stream_deadline: Duration::from_secs(600),
        }
    }
}

impl ClientConfig {
    /// Defaults with another base URL.
    pub fn with_base_url(base_url: impl Into<String>) -> Self {
        ClientConfig {
            base_url: base_url.into(),
            ..Default::default()
        }
    }
}

/// A finished chat answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatReply {
    /// Generation id (from the body, or the `X-Generation-Id` header).
    pub id: Option<String>,
    /// The model that answered (may differ from the request's first model).
    pub model: Option<String>,
    /// The provider that served it.
    pub provider: Option<String>,
    /// The answer.
    pub content: String,
    /// The reasoning (empty when the model gave none).
    pub reasoning: String,
    /// Token counts and cost.
    pub usage: Option<Usage>,
    /// `stop`, `length`, …
    pub finish_reason: Option<String>,
    /// HTTP status of the response.
    pub http_status: u16,
    /// Size of the request body.
    pub bytes_sent: u64,
    /// From sending to the end of the answer.
    pub latency: Duration,
    /// `X-RateLimit-*` headers, if the response had any.
    pub rate_limit: Option<RateLimitInfo>,
}

/// The OpenRouter client. Cheap to clone (the connection pool is shared).
#[derive(Debug, Clone)]
pub struct OpenRouter {
    http: reqwest::Client,
    cfg: ClientConfig,
    /// `POST /chat/completions`, parsed once (a request then clones it instead of parsing).
    chat_url: reqwest::Url,
}

impl OpenRouter {
    /// Builds the client: rustls, user agent `keywheel/<version>`, attribution headers when
    /// configured, the connect timeout, no redirects. The base URL is checked first
    /// ([`check_base_url`]).
    pub fn new(cfg: ClientConfig) -> Result<Self> {
        check_base_url("the OpenRouter base URL", &cfg.base_url)?;
        let mut headers = HeaderMap::new();
        let mut attribution = |name: &'static str, value: &Option<String>| -> Result<()> {
            if let Some(v) = value.as_deref().filter(|v| !v.trim().is_empty()) {
                let hv = HeaderValue::from_str(v.trim()).map_err(|_| {
                    Error::Usage(format!(
                        "the {name} setting may only hold visible ASCII characters"
                    ))
                })?;
                headers.insert(HeaderName::from_static(name), hv);
            }
            Ok(())
        };
        attribution("http-referer", &cfg.referer)?;
        attribution("x-openrouter-title", &cfg.title)?;
        attribution("x-title", &cfg.title)?;
        #[allow(clippy::disallowed_methods)] // the one place Keywheel builds an HTTP client
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .user_agent(concat!("keywheel/", env!("CARGO_PKG_VERSION")))
            .default_headers(headers)
            .connect_timeout(cfg.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Upstream(format!("the HTTP client could not be set up: {e}")))?;
        let chat_url = reqwest::Url::parse(&join(&cfg.base_url, "chat/completions"))
            .map_err(|e| Error::Usage(format!("the OpenRouter base URL is not a URL: {e}")))?;
        Ok(OpenRouter {
            http,
            cfg,
            chat_url,
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &ClientConfig {
        &self.cfg
    }

    fn url(&self, path: &str) -> String {
        join(&self.cfg.base_url, path)
    }

    /// The JSON body of a chat request with `stream` set. Written straight from the request
    /// when it already says `stream` as asked and its pass-through fields name none of its
    /// own (the dispatcher's requests, the gateway's: one pass, no JSON tree, no copy of the
    /// messages); otherwise through a JSON tree, where the pass-through fields win and
    /// `stream` is set last.
    fn chat_body(req: &ChatRequest, stream: bool) -> Result<Vec<u8>, ApiFailure> {
        let unencodable = |_| {
            ApiFailure::new(
                FailureClass::BadRequest,
                "the request could not be encoded as JSON",
            )
        };
        const OWN: [&str; 8] = [
            "model",
            "models",
            "messages",
            "stream",
            "max_tokens",
            "temperature",
            "reasoning",
            "usage",
        ];
        if req.stream == stream && !OWN.iter().any(|k| req.extra.contains_key(*k)) {
            return serde_json::to_vec(req).map_err(unencodable);
        }
        let mut v = serde_json::to_value(req).map_err(unencodable)?;
        v["stream"] = Value::Bool(stream);
        serde_json::to_vec(&v).map_err(unencodable)
    }

    /// `POST /chat/completions` without streaming. A 200 carrying an error, an empty or
    /// unreadable body are classified failures too.
    pub async fn chat(&self, key: &ApiKey, req: &ChatRequest) -> Result<ChatReply, ApiFailure> {
        let body = Self::chat_body(req, false)?;
        let bytes_sent = body.len() as u64;
        let started = Instant::now();
        let resp = self
            .http
            .post(self.chat_url.clone())
            .bearer_auth(key.expose())
            .header(CONTENT_TYPE, "application/json")
            .timeout(self.cfg.request_timeout)
            .body(body)
            .send()
            .await
            .map_err(|e| classify_transport(&e))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = read_capped(resp).await.map_err(|e| e.with_status(status))?;
        let result = parse_chat_body(status, &headers, &text);
        log_outcome(
            key,
            &req.model,
            status,
            started.elapsed(),
            result.as_ref().err(),
        );
        let outcome = result?;
        Ok(reply(
            outcome,
            status,
            &headers,
            bytes_sent,
            started.elapsed(),
        ))
    }

    /// `POST /chat/completions` with `stream: true`. Every event is handed to `on_event` as it
    /// arrives. Fails with [`FailureClass::Cancelled`] when `cancel` fires (the connection is
    /// dropped, which stops generation at providers that support it), with
    /// [`FailureClass::Transient`] on the first-byte or idle timeout or a cut stream, and with
    /// the chunk's own class for an error inside the stream.
    pub async fn chat_stream<F>(
        &self,
        key: &ApiKey,
        req: &ChatRequest,
        mut on_event: F,
        cancel: &CancelToken,
    ) -> Result<ChatReply, ApiFailure>
    where
        F: FnMut(&StreamEvent),
    {
        if cancel.is_cancelled() {
            return Err(ApiFailure::cancelled());
        }
        let body = Self::chat_body(req, true)?;
        let bytes_sent = body.len() as u64;
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + self.cfg.stream_deadline;
        let first_deadline =
            (tokio::time::Instant::now() + self.cfg.first_byte_timeout).min(deadline);
        let send = self
            .http
            .post(self.chat_url.clone())
            .bearer_auth(key.expose())
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "text/event-stream")
            .body(body)
            .send();
        let resp = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(ApiFailure::cancelled()),
            r = tokio::time::timeout_at(first_deadline, send) => match r {
                Err(_) if tokio::time::Instant::now() >= deadline => return Err(self.deadline_passed()),
                Err(_) => return Err(self.first_byte_timeout()),
                Ok(Err(e)) => return Err(classify_transport(&e)),
                Ok(Ok(resp)) => resp,
            },
        };
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let is_sse = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.contains("text/event-stream"));

        if !resp.status().is_success() || !is_sse {
            // An error before the first token (real status), or a plain JSON answer.
            let text = tokio::select! {
                biased;
                _ = cancel.cancelled() => return Err(ApiFailure::cancelled()),
                r = tokio::time::timeout(self.cfg.request_timeout, read_capped(resp)) => match r {
                    Err(_) => return Err(ApiFailure::transient("OpenRouter stopped sending the response").with_status(status)),
                    Ok(r) => r.map_err(|e| e.with_status(status))?,
                },
            };
            let result = parse_chat_body(status, &headers, &text);
            log_outcome(
                key,
                &req.model,
                status,
                started.elapsed(),
                result.as_ref().err(),
            );
            let outcome = result?;
            for ev in outcome_events(&outcome) {
                on_event(&ev);
            }
            return Ok(reply(
                outcome,
                status,
                &headers,
                bytes_sent,
                started.elapsed(),
            ));
        }

        let mut stream = resp.bytes_stream();
        let mut decoder = SseDecoder::with_max_line(MAX_LINE);
        let mut acc = StreamAccumulator::new();
        let mut got_bytes = false;
        let mut received = 0usize;
        let result: Result<(), ApiFailure> = 'read: loop {
            let until = if got_bytes {
                (tokio::time::Instant::now() + self.cfg.idle_stream_timeout).min(deadline)
            } else {
                first_deadline
            };
            let next = tokio::time::timeout_at(until, stream.next());
            let item = tokio::select! {
                biased;
                _ = cancel.cancelled() => break Err(ApiFailure::cancelled()),
                item = next => item,
            };
            let ended = matches!(item, Ok(None));
            let events = match item {
                Err(_) if tokio::time::Instant::now() >= deadline => {
                    break Err(self.deadline_passed().with_status(status));
                }
                Err(_) if got_bytes => {
                    break Err(ApiFailure::transient(format!(
                        "the stream went silent for {} s",
                        self.cfg.idle_stream_timeout.as_secs_f32()
                    ))
                    .with_status(status));
                }
                Err(_) => break Err(self.first_byte_timeout().with_status(status)),
                Ok(None) => decoder.finish(),
                Ok(Some(Err(e))) => {
                    let cause = classify_transport(&e);
                    break Err(ApiFailure::transient(format!(
                        "the stream was cut: {}",
                        cause.message
                    ))
                    .with_status(status));
                }
                Ok(Some(Ok(bytes))) => {
                    got_bytes = true;
                    received = received.saturating_add(bytes.len());
                    if received > MAX_STREAM {
                        break Err(ApiFailure::transient(format!(
                            "OpenRouter's stream grew past {} MiB; the answer was stopped",
                            MAX_STREAM >> 20
                        ))
                        .with_status(status));
                    }
                    decoder.push(&bytes)
                }
            };
            for ev in &events {
                on_event(ev);
                acc.push(ev);
                if cancel.is_cancelled() {
                    break 'read Err(ApiFailure::cancelled());
                }
                if let StreamEvent::Error(e) = ev {
                    break 'read Err(e.clone());
                }
            }
            if ended || decoder.is_done() {
                break Ok(());
            }
        };
        let result = result.and_then(|()| acc.into_result());
        log_outcome(
            key,
            &req.model,
            status,
            started.elapsed(),
            result.as_ref().err(),
        );
        let outcome = result?;
        Ok(reply(
            outcome,
            status,
            &headers,
            bytes_sent,
            started.elapsed(),
        ))
    }

    fn deadline_passed(&self) -> ApiFailure {
        ApiFailure::transient(format!(
            "the answer took longer than the {} s stream deadline and was stopped",
            self.cfg.stream_deadline.as_secs()
        ))
    }

    fn first_byte_timeout(&self) -> ApiFailure {
        ApiFailure::transient(format!(
            "OpenRouter did not start answering within {} s",
            self.cfg.first_byte_timeout.as_secs_f32()
        ))
    }

    /// `GET /key` (falling back to the legacy `/auth/key` on 404). Costs no quota.
    pub async fn key_info(&self, key: &ApiKey) -> Result<KeyInfo, ApiFailure> {
        match self.get_data::<KeyInfo>("key", Some(key), &[]).await {
            Err(f) if f.http_status == Some(404) => self.get_data("auth/key", Some(key), &[]).await,
            r => r,
        }
    }

    /// `GET /models`: the public catalogue (no key sent). Entries that cannot be read are
    /// skipped.
    pub async fn models(&self) -> Result<Vec<ModelInfo>, ApiFailure> {
        let raw: Vec<Value> = self.get_data("models", None, &[]).await?;
        Ok(raw
            .into_iter()
            .filter_map(|v| serde_json::from_value::<ModelInfo>(v).ok())
            .filter(|m| !m.id.is_empty())
            .collect())
    }

    /// `GET /generation?id=…`, retrying the 404s OpenRouter answers until the record exists
    /// ([`Backoff::generation_lookup`]). A 404 that outlasts the retries comes back as
    /// [`FailureClass::Transient`] with `http_status` 404.
    pub async fn generation(&self, key: &ApiKey, id: &str) -> Result<Generation, ApiFailure> {
        self.generation_with_backoff(key, id, &Backoff::generation_lookup())
            .await
    }

    /// [`generation`](Self::generation) with a given retry schedule for the early 404s.
    pub async fn generation_with_backoff(
        &self,
        key: &ApiKey,
        id: &str,
        backoff: &Backoff,
    ) -> Result<Generation, ApiFailure> {
        let mut schedule = backoff.schedule();
        loop {
            match self
                .get_data::<Generation>("generation", Some(key), &[("id", id)])
                .await
            {
                Err(f) if f.http_status == Some(404) => match schedule.next(None) {
                    Some(d) => {
                        tracing::debug!(key = %key.id(), attempt = schedule.attempts(), "generation not ready yet");
                        tokio::time::sleep(d).await;
                    }
                    None => {
                        // The record never appeared: not a model problem, just not there yet.
                        return Err(ApiFailure {
                            class: FailureClass::Transient,
                            ..f
                        });
                    }
                },
                r => return r,
            }
        }
    }

    async fn get_data<T: DeserializeOwned>(
        &self,
        path: &str,
        key: Option<&ApiKey>,
        query: &[(&str, &str)],
    ) -> Result<T, ApiFailure> {
        let mut rb = self
            .http
            .get(self.url(path))
            .timeout(self.cfg.request_timeout);
        if let Some(k) = key {
            rb = rb.bearer_auth(k.expose());
        }
        if !query.is_empty() {
            rb = rb.query(query);
        }
        let resp = rb.send().await.map_err(|e| classify_transport(&e))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = read_capped(resp).await.map_err(|e| e.with_status(status))?;
        if !(200..300).contains(&status) {
            return Err(classify(status, &headers, &text));
        }
        let v: Value = match serde_json::from_str(text.trim()) {
            Ok(v) => v,
            Err(_) => return Err(classify(status, &headers, &text)),
        };
        if v.get("error").is_some_and(|e| !e.is_null()) {
            return Err(classify(status, &headers, &text));
        }
        serde_json::from_value::<DataEnvelope<T>>(v)
            .map(|e| e.data)
            .map_err(|_| {
                ApiFailure::transient(format!("OpenRouter's answer to /{path} could not be read"))
                    .with_status(status)
            })
    }
}

/// Classifies a transport error from reqwest: timeouts, refused or reset connections and cut
/// bodies are all [`FailureClass::Transient`]. The message names no URL and no header.
pub fn classify_transport(err: &reqwest::Error) -> ApiFailure {
    let what = if err.is_timeout() {
        "the request to OpenRouter timed out"
    } else if err.is_connect() {
        "could not connect to OpenRouter"
    } else if err.is_body() || err.is_decode() {
        "the response from OpenRouter was cut off"
    } else if err.is_request() {
        "the request to OpenRouter failed"
    } else {
        "talking to OpenRouter failed"
    };
    // The innermost cause ("connection refused", "connection reset by peer", …); reqwest's own
    // top-level text names the URL, which we leave out.
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(err);
    let mut last = None;
    while let Some(c) = cause {
        last = Some(c.to_string());
        cause = c.source();
    }
    let mut f = match last {
        Some(c) if !c.is_empty() => ApiFailure::transient(format!("{what}: {c}")),
        _ => ApiFailure::transient(what),
    };
    f.http_status = err.status().map(|s| s.as_u16());
    f.not_sent = err.is_connect();
    f
}

/// Reads a whole body; a body past [`MAX_BODY`] bytes is an error (never a cut answer).
async fn read_capped(resp: reqwest::Response) -> Result<String, ApiFailure> {
    if resp.content_length().is_some_and(|n| n > MAX_BODY as u64) {
        return Err(body_too_large());
    }
    let capacity = resp.content_length().map_or(0, |n| n as usize);
    let mut stream = resp.bytes_stream();
    let mut buf = Vec::with_capacity(capacity);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| classify_transport(&e))?;
        if buf.len() + chunk.len() > MAX_BODY {
            return Err(body_too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    // Valid UTF-8 (the usual case) becomes the string without a copy.
    Ok(String::from_utf8(buf)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

fn body_too_large() -> ApiFailure {
    ApiFailure::transient(format!(
        "OpenRouter's answer is larger than {} MiB; it was not read",
        MAX_BODY >> 20
    ))
}

/// A non-streamed chat body → outcome, or the classified failure (docs/openrouter.md).
fn parse_chat_body(
    status: u16,
    headers: &HeaderMap,
    text: &str,
) -> Result<ChatOutcome, ApiFailure> {
    if !(200..300).contains(&status) {
        let cut = text.get(..MAX_ERROR_BODY.min(text.len())).unwrap_or(text);
        return Err(classify(status, headers, cut));
    }
    // An object read straight into the answer (one pass); anything that does not read so
    // (not an object, a field twice) goes through a JSON tree as it always did.
    let trimmed = text.trim();
    let direct = trimmed
        .starts_with('{')
        .then(|| serde_json::from_str::<ChatResponse>(trimmed).ok())
        .flatten();
    let r = match direct {
        Some(r) if r.error.is_some() => return Err(classify(status, headers, text)),
        Some(r) => r,
        None => {
            let v = match serde_json::from_str::<Value>(trimmed) {
                Ok(v) if v.is_object() => v,
                _ => return Err(classify(status, headers, text)),
            };
            if v.get("error").is_some_and(|e| !e.is_null()) {
                return Err(classify(status, headers, text));
            }
            serde_json::from_value::<ChatResponse>(v).map_err(|_| {
                ApiFailure::transient("OpenRouter's answer could not be read").with_status(status)
            })?
        }
    };
    let Some(choice) = r.choices.into_iter().next() else {
        return Err(
            ApiFailure::transient("OpenRouter answered without any choice").with_status(status),
        );
    };
    if choice.error.is_some() || choice.finish_reason.as_deref() == Some("error") {
        return Err(match &choice.error {
            Some(e) if e.is_object() => classify_error_object(e, status),
            _ => ApiFailure::transient("the provider stopped the answer with an error")
                .with_status(status),
        });
    }
    let msg = choice.message.unwrap_or_default();
    Ok(ChatOutcome {
        id: r.id.or_else(|| generation_id(headers)),
        model: r.model,
        provider: r.provider,
        reasoning: msg.reasoning_text().unwrap_or_default(),
        content: msg.content.unwrap_or_default(),
        usage: r.usage,
        finish_reason: choice.finish_reason,
    })
}

fn generation_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-generation-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The events a streamed answer would have produced, for a server that answered plain JSON.
fn outcome_events(o: &ChatOutcome) -> Vec<StreamEvent> {
    let mut evs = vec![StreamEvent::Meta {
        id: o.id.clone(),
        model: o.model.clone(),
        provider: o.provider.clone(),
    }];
    if !o.reasoning.is_empty() {
        evs.push(StreamEvent::Reasoning(o.reasoning.clone()));
    }
    if !o.content.is_empty() {
        evs.push(StreamEvent::Content(o.content.clone()));
    }
    if let Some(f) = &o.finish_reason {
        evs.push(StreamEvent::Finish(f.clone()));
    }
    if let Some(u) = &o.usage {
        evs.push(StreamEvent::Usage(u.clone()));
    }
    evs.push(StreamEvent::Done);
    evs
}

fn reply(
    o: ChatOutcome,
    status: u16,
    headers: &HeaderMap,
    bytes_sent: u64,
    latency: Duration,
) -> ChatReply {
    let rl = rate_limit_from_headers(headers);
    ChatReply {
        id: o.id.or_else(|| generation_id(headers)),
        model: o.model,
        provider: o.provider,
        content: o.content,
        reasoning: o.reasoning,
        usage: o.usage,
        finish_reason: o.finish_reason,
        http_status: status,
        bytes_sent,
        latency,
        rate_limit: (!rl.is_empty()).then_some(rl),
    }
}

fn log_outcome(
    key: &ApiKey,
    model: &str,
    status: u16,
    latency: Duration,
    failure: Option<&ApiFailure>,
) {
    let ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
    match failure {
        None => tracing::debug!(key = %key.id(), model, status, latency_ms = ms, "chat answered"),
        Some(f) => {
            tracing::debug!(key = %key.id(), model, status, latency_ms = ms, class = f.class.as_str(), message = %f.message, "chat failed")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_has_sane_timeouts() {
        let c = ClientConfig::default();
        assert_eq!(c.base_url, DEFAULT_BASE_URL);
        assert_eq!(c.connect_timeout, Duration::from_secs(10));
        assert_eq!(c.first_byte_timeout, Duration::from_secs(60));
        assert_eq!(c.idle_stream_timeout, Duration::from_secs(60));
        assert_eq!(c.request_timeout, Duration::from_secs(300));
        assert_eq!(c.stream_deadline, Duration::from_secs(600));
    }

    #[test]
    fn base_urls_need_a_scheme_and_https_off_loopback() {
        for ok in [
            "https://openrouter.ai/api/v1",
            "http://127.0.0.1:8080/api/v1",
            "http://127.1.2.3/x",
            "http://localhost:1/api",
            "http://[::1]:9/api",
            "HTTPS://OpenRouter.ai/api/v1",
        ] {
            check_base_url("base_url", ok).unwrap();
        }
        for (bad, says) in [
            ("openrouter.ai/api/v1", "no scheme"),
            ("localhost:8080/api", "no scheme"),
            ("127.0.0.1:8080", "no scheme"),
            ("", "no scheme"),
            ("ftp://openrouter.ai/", "no scheme"),
            ("http://openrouter.ai/api/v1", "https is needed"),
            ("http://10.0.0.1/api/v1", "https is needed"),
            ("http://localhost.evil.example/", "https is needed"),
            ("https://u:p@openrouter.ai/", "user name"),
        ] {
            let e = check_base_url("base_url", bad).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad}");
            assert!(e.to_string().contains(says), "{bad}: {e}");
        }
        let e = OpenRouter::new(ClientConfig::with_base_url("openrouter.ai")).unwrap_err();
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn bad_attribution_header_is_a_usage_error() {
        let cfg = ClientConfig {
            title: Some("bad\nvalue".into()),
            ..Default::default()
        };
        let err = OpenRouter::new(cfg).unwrap_err();
        assert!(matches!(err, Error::Usage(_)), "{err}");
    }

    #[test]
    fn url_joins_cleanly() {
        let c = OpenRouter::new(ClientConfig::with_base_url("https://x/api/v1/")).unwrap();
        assert_eq!(
            c.url("chat/completions"),
            "https://x/api/v1/chat/completions"
        );
    }

    #[test]
    fn plain_body_parsing() {
        let h = HeaderMap::new();
        let body = "\n\n\n{\"id\":\"gen-1\",\"model\":\"m\",\"choices\":[{\"message\":{\"content\":\"hi\",\"reasoning\":\"r\"},\"finish_reason\":\"stop\"}]}";
        let o = parse_chat_body(200, &h, body).unwrap();
        assert_eq!((o.content.as_str(), o.reasoning.as_str()), ("hi", "r"));
        let err = parse_chat_body(200, &h, "{\"choices\":[]}").unwrap_err();
        assert_eq!(err.class, FailureClass::Transient);
        let err = parse_chat_body(
            200,
            &h,
            r#"{"choices":[{"message":{"content":"part"},"finish_reason":"error","error":{"code":502,"message":"Provider returned error"}}]}"#,
        )
        .unwrap_err();
        assert_eq!(err.class, FailureClass::Transient);
        assert_eq!(err.http_status, Some(200));
    }

    /// Nested objects are read in the one pass; a field named twice inside one (which the
    /// one pass refuses) is read through a tree, the last value winning, as before; a nested
    /// value of the wrong shape is its default; an `error` that is not an object still
    /// counts as an error.
    #[test]
    fn nested_objects_are_read_leniently_in_one_pass_or_through_a_tree() {
        let h = HeaderMap::new();
        let twice = r#"{"choices":[{"message":{"content":"first","content":"last"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"prompt_tokens":4,"completion_tokens":1}}"#;
        let o = parse_chat_body(200, &h, twice).unwrap();
        assert_eq!(o.content, "last");
        assert_eq!(o.usage.map(|u| u.prompt_tokens), Some(4));
        let shapes = r#"{"choices":[{"message":"not an object","finish_reason":"stop"}],"usage":"none","provider":7}"#;
        let o = parse_chat_body(200, &h, shapes).unwrap();
        assert_eq!(
            (o.content.as_str(), o.usage, o.provider.as_deref()),
            ("", None, Some("7"))
        );
        let err = parse_chat_body(200, &h, r#"{"error":"overloaded","choices":[]}"#).unwrap_err();
        assert_ne!(err.class, FailureClass::Cancelled);
    }
}
