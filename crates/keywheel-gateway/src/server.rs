//! The axum app: routes, the token check, the overhead header, dispatch (each job a task
//! whose ledger writes go to its dispatcher's ledger thread, off the async workers), and
//! shutdown.

use std::collections::HashMap;
use std::future::IntoFuture;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Request, State as AxState};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use keywheel_core::dispatch::{Dispatcher, Outcome, Progress, Timings};
use keywheel_core::openrouter::{CancelToken, OpenRouter, StreamEvent};
use keywheel_core::pool::Pool;
use keywheel_core::{Error, Result};
use serde_json::json;
use tokio::sync::mpsc;

use crate::follow::Followed;
use crate::openai::{self, CHAT_ALIAS, VISION_ALIAS};
use crate::sessions::{Lease, Sessions};
use crate::token::LocalToken;
use crate::{GatewaySettings, blocking};

/// Largest request body (images travel as base64 data URLs inside JSON).
const MAX_BODY: usize = 64 * 1024 * 1024;

pub(crate) const OVERHEAD: HeaderName = HeaderName::from_static("x-keywheel-overhead-us");
pub(crate) const KEY_ID: HeaderName = HeaderName::from_static("x-keywheel-key-id");
pub(crate) const MODEL: HeaderName = HeaderName::from_static("x-keywheel-model");
const SESSION: HeaderName = HeaderName::from_static("x-keywheel-session");
const CACHED: HeaderName = HeaderName::from_static("x-keywheel-cached");

/// Where a response's job spent time outside Keywheel (awaiting OpenRouter, pausing on
/// purpose): subtracted from the overhead header.
#[derive(Debug, Clone)]
pub(crate) struct Spent(pub Arc<Timings>);

/// What a running job reports to the response side.
pub(crate) enum Msg {
    Stream(StreamEvent),
    Retry,
    Done(Result<Outcome>),
}

/// Counters shown in `GET /v1/keywheel/status`.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub chat_requests: AtomicU64,
    pub answered: AtomicU64,
    pub refused_quota: AtomicU64,
    pub failed: AtomicU64,
    pub unauthorized: AtomicU64,
}

/// Shared state of one gateway.
pub(crate) struct Inner {
    pub pool: Pool,
    pub settings: GatewaySettings,
    pub token: LocalToken,
    pub main: Arc<Dispatcher>,
    pub sessions: Sessions,
    pub client: OpenRouter,
    pub counters: Counters,
    /// The settings aliases use, following the config file.
    pub followed: Followed,
    inflight: Mutex<HashMap<u64, CancelToken>>,
    inflight_done: tokio::sync::Notify,
    /// Jobs whose answer went out before their completion was written in the ledger (the
    /// write follows in the job's task): `GET /v1/keywheel/status` waits for them.
    completing: std::sync::atomic::AtomicUsize,
    completed: tokio::sync::Notify,
    next_job: AtomicU64,
    closing: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("sessions", &self.sessions)
            .finish_non_exhaustive()
    }
}

pub(crate) type State = Arc<Inner>;

impl Inner {
    pub async fn new(pool: Pool, settings: GatewaySettings, token: LocalToken) -> Result<State> {
        let p = pool.clone();
        let main = blocking(move || {
            let instance = p.start_instance("gateway")?;
            if let Some(s) = instance.adoption().sentence() {
                // A team-ledger machine without the pool's current key (also in
                // `GET /v1/keywheel/status`'s `notes`).
                tracing::warn!(instance = instance.id(), "{s}");
            }
            Ok(Arc::new(Dispatcher::new(Arc::new(instance))?))
        })
        .await?;
        let client = main.client().clone();
        let sessions = Sessions::new(pool.clone(), settings.session_idle, settings.max_sessions);
        let followed = Followed::new(settings.config.clone(), pool.settings().clone());
        Ok(Arc::new(Inner {
            pool,
            settings,
            token,
            main,
            sessions,
            client,
            counters: Counters::default(),
            followed,
            inflight: Mutex::new(HashMap::new()),
            inflight_done: tokio::sync::Notify::new(),
            completing: 0.into(),
            completed: tokio::sync::Notify::new(),
            next_job: AtomicU64::new(0),
            closing: false.into(),
        }))
    }

    fn register(self: &Arc<Self>, cancel: CancelToken) -> Inflight {
        let id = self.next_job.fetch_add(1, Ordering::Relaxed);
        if self.closing.load(Ordering::Acquire) {
            cancel.cancel();
        }
        self.inflight
            .lock()
            .expect("inflight lock")
            .insert(id, cancel);
        Inflight {
            state: self.clone(),
            id,
        }
    }

    fn cancel_all(&self) -> usize {
        self.closing.store(true, Ordering::Release);
        let map = self.inflight.lock().expect("inflight lock");
        for c in map.values() {
            c.cancel();
        }
        map.len()
    }

    async fn wait_inflight(&self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.inflight_done.notified();
            if self.inflight.lock().expect("inflight lock").is_empty() {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return;
            }
        }
    }

    /// Waits (at most `limit`) until every answer already sent has its completion written in
    /// the ledger, so what is read next counts it as done.
    pub async fn completions_written(&self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.completed.notified();
            if self.completing.load(Ordering::Acquire) == 0 {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return;
            }
        }
    }

    /// Ends every session (deregistering their instances) off the async workers.
    pub async fn close(&self) {
        let ended = self.sessions.take_expired(true);
        if !ended.is_empty() {
            let _ = tokio::task::spawn_blocking(move || drop(ended)).await;
        }
    }
}

/// A job in flight; deregistered when dropped (at the end of the job's task).
struct Inflight {
    state: State,
    id: u64,
}

impl Drop for Inflight {
    fn drop(&mut self) {
        let empty = {
            let mut map = self.state.inflight.lock().expect("inflight lock");
            map.remove(&self.id);
            map.is_empty()
        };
        if empty {
            self.state.inflight_done.notify_waiters();
        }
    }
}

/// Cancels a job when the response side goes away (client disconnect).
pub(crate) struct CancelOnDrop(Option<CancelToken>);

impl CancelOnDrop {
    pub fn new(c: CancelToken) -> Self {
        Self(Some(c))
    }

    /// The job ended: nothing to cancel.
    pub fn disarm(&mut self) {
        self.0 = None;
    }

    pub fn cancel(&self) {
        if let Some(c) = &self.0 {
            c.cancel();
        }
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.cancel();
    }
}

fn router(state: State) -> Router {
    let api = Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/api/v1/chat/completions", post(chat))
        .route("/chat/completions", post(chat))
        .route("/v1/models", get(models))
        .route("/api/v1/models", get(models))
        .route("/v1/keywheel/status", get(status))
        .route_layer(middleware::from_fn_with_state(state.clone(), auth));
    Router::new()
        .route(
            "/health",
            get(|| async { axum::Json(json!({"status": "ok"})) }),
        )
        .merge(api)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn(overhead))
        .with_state(state)
}

/// Serves until `stop` turns true, then shuts down gracefully (see [`crate::Handle::shutdown`]).
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    state: State,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<()> {
    let app = router(state.clone());
    let mut graceful = stop.clone();
    // Small SSE writes must leave at once (Nagle + delayed ACK would hold each for ~40 ms).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp: &mut tokio::net::TcpStream| {
        let _ = tcp.set_nodelay(true);
    });
    let server = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = graceful.wait_for(|v| *v).await;
        })
        .into_future();
    let mut server = tokio::spawn(server);
    let sweeper = tokio::spawn(sweep(state.clone()));
    let result = tokio::select! {
        r = &mut server => Some(r),
        _ = stop.wait_for(|v| *v) => None,
    };
    let result = match result {
        Some(r) => r,
        None => {
            tracing::info!("gateway stopping: no new connections; answers in flight may finish");
            match tokio::time::timeout(state.settings.shutdown_grace, &mut server).await {
                Ok(r) => r,
                Err(_) => {
                    let n = state.cancel_all();
                    tracing::warn!(
                        cancelled = n,
                        "gateway grace period over; cancelling answers still in flight"
                    );
                    match tokio::time::timeout(Duration::from_secs(5), &mut server).await {
                        Ok(r) => r,
                        Err(_) => {
                            server.abort();
                            Ok(Ok(()))
                        }
                    }
                }
            }
        }
    };
    state.cancel_all();
    // Every job's task completes or releases its ledger rows before the process may exit.
    state.wait_inflight(Duration::from_secs(10)).await;
    sweeper.abort();
    match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Error::io("the gateway stopped accepting connections", e)),
        Err(e) if e.is_cancelled() => Ok(()),
        Err(e) => Err(Error::Upstream(format!("the gateway task failed: {e}"))),
    }
}

async fn sweep(state: State) {
    let every = state.sessions.sweep_every();
    loop {
        tokio::time::sleep(every).await;
        let ended = state.sessions.take_expired(false);
        if !ended.is_empty() {
            let _ = tokio::task::spawn_blocking(move || drop(ended)).await;
        }
    }
}

/// Adds `X-Keywheel-Overhead-Us` to every response: the time from the request's arrival to its
/// response head spent in Keywheel — the gateway, and the dispatcher's cache, chain resolution
/// and ledger work — that is, minus the time its job awaited OpenRouter or paused on purpose
/// (a stream's head leaves at its first chunk, so it counts up to then).
async fn overhead(req: Request, next: Next) -> Response {
    let t0 = Instant::now();
    let mut resp = next.run(req).await;
    let outside = resp
        .extensions()
        .get::<Spent>()
        .map_or(Duration::ZERO, |s| s.0.upstream() + s.0.paused());
    let us = t0.elapsed().saturating_sub(outside).as_micros() as u64;
    resp.headers_mut().insert(OVERHEAD, HeaderValue::from(us));
    resp
}

/// The local-token check. The presented bearer is compared, never logged or forwarded.
async fn auth(AxState(state): AxState<State>, req: Request, next: Next) -> Response {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
                .unwrap_or(v)
                .trim()
        });
    let refusal = match presented {
        Some(t) if state.token.matches(t) => None,
        None | Some("") => Some(
            "no local token was sent; send `Authorization: Bearer <token>` with the token `keywheel serve --token` prints (set it as OPENAI_API_KEY)",
        ),
        Some(t) if t.starts_with("sk-or-") => Some(
            "that is an OpenRouter key; the gateway never uses or forwards keys sent by clients — use the local token instead (`keywheel serve --token`, as OPENAI_API_KEY); the pool's own keys are used for you",
        ),
        Some(_) => Some(
            "the token is not this gateway's local token; get the right one with `keywheel serve --token`",
        ),
    };
    match refusal {
        None => next.run(req).await,
        Some(msg) => {
            state.counters.unauthorized.fetch_add(1, Ordering::Relaxed);
            json_response(
                StatusCode::UNAUTHORIZED,
                &openai::error_json(msg, "authentication_error", "invalid_api_key"),
            )
        }
    }
}

async fn not_found(req: Request) -> Response {
    let msg = format!(
        "no route {} {}; the gateway serves POST /v1/chat/completions, GET /v1/models, GET /v1/keywheel/status and GET /health",
        req.method(),
        req.uri().path()
    );
    json_response(
        StatusCode::NOT_FOUND,
        &openai::error_json(&msg, "invalid_request_error", "not_found"),
    )
}

pub(crate) fn json_response(status: StatusCode, v: &impl serde::Serialize) -> Response {
    let body = serde_json::to_vec(v).unwrap_or_default();
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// An error in OpenAI's shape with its status; quota refusals carry `Retry-After`.
pub(crate) fn error_response(state: &State, e: &Error) -> Response {
    let (status, kind) = openai::error_class(e);
    match e {
        Error::QuotaExhausted { .. } => {
            state.counters.refused_quota.fetch_add(1, Ordering::Relaxed);
        }
        _ => {
            state.counters.failed.fetch_add(1, Ordering::Relaxed);
        }
    }
    let mut resp = json_response(
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        &openai::error_json(&e.to_string(), kind, &openai::code_str(e)),
    );
    if let Error::QuotaExhausted { reset_at, .. } = e {
        let secs = (*reset_at - state.pool.now()).num_milliseconds().max(0);
        let secs = ((secs + 999) / 1000).max(1);
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs as u64));
    }
    resp
}

fn header_value(s: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(s).ok()
}

/// The `X-Keywheel-Session` header, read from the request's head without copying the rest of
/// its headers (a header that is not text reads as an invalid id).
struct SessionId(Option<String>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for SessionId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> std::result::Result<Self, Self::Rejection> {
        Ok(SessionId(
            parts
                .headers
                .get(SESSION)
                .map(|v| v.to_str().unwrap_or("\n").trim().to_string()),
        ))
    }
}

async fn chat(
    AxState(state): AxState<State>,
    SessionId(session): SessionId,
    body: Bytes,
) -> Response {
    state.counters.chat_requests.fetch_add(1, Ordering::Relaxed);
    let parsed = match openai::parse_chat(&body, &state.followed.get()) {
        Ok(p) => p,
        Err(e) => return error_response(&state, &e),
    };
    drop(body);
    let (dispatcher, lease): (Arc<Dispatcher>, Option<Lease>) = match session {
        None => (state.main.clone(), None),
        Some(id) => match state.sessions.get(&id).await {
            Ok((d, l)) => (d, Some(l)),
            Err(e) => return error_response(&state, &e),
        },
    };
    let stream = parsed.job.stream;
    let asked = parsed.asked_model.clone();
    let first_model = parsed.job.request.model.clone();
    let cancel = CancelToken::new();
    let inflight = state.register(cancel.clone());
    let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
    let timings = Arc::new(Timings::default());
    {
        let d = dispatcher.clone();
        let cancel = cancel.clone();
        let timings = timings.clone();
        // The job is a task on the async workers; the dispatcher sends its ledger writes
        // (reserve, complete) to its ledger thread, so a write that waits for another
        // process's lock holds up no worker, and its HTTP I/O stays on the worker that drives
        // it (no thread hand-off per read, as driving it from a blocking thread had).
        // The answer goes to the client as soon as the dispatcher has it
        // (`Progress::Answered`), before its completion is written; the task (and its
        // `Inflight`, which shutdown waits for) lasts until the write is done.
        let state = state.clone();
        tokio::spawn(async move {
            let _inflight = inflight;
            let _lease = lease;
            let mut answered = false;
            let result = d
                .run_timed(
                    parsed.job,
                    |p| match p {
                        Progress::Stream(ev) if stream => {
                            let _ = tx.send(Msg::Stream(ev.clone()));
                        }
                        Progress::Retry { .. } => {
                            let _ = tx.send(Msg::Retry);
                        }
                        Progress::Answered(o) if !answered => {
                            answered = true;
                            state.completing.fetch_add(1, Ordering::AcqRel);
                            let _ = tx.send(Msg::Done(Ok(o.clone())));
                        }
                        _ => {}
                    },
                    &cancel,
                    timings,
                )
                .await;
            if answered {
                if let Err(e) = &result {
                    tracing::warn!(error = %e, "an answer was sent but its completion could not be written; the request stays counted");
                }
                if state.completing.fetch_sub(1, Ordering::AcqRel) == 1 {
                    state.completed.notify_waiters();
                }
            } else {
                let _ = tx.send(Msg::Done(result));
            }
            if Arc::strong_count(&d) == 1 {
                // The session ended while this job ran: its instance deregisters (a ledger
                // write) off the workers.
                drop(tokio::task::spawn_blocking(move || drop(d)));
            }
        });
    }
    if stream {
        return crate::stream::respond(state, rx, cancel, dispatcher, asked, first_model, timings)
            .await;
    }
    let mut guard = CancelOnDrop::new(cancel);
    let result = loop {
        match rx.recv().await {
            Some(Msg::Done(r)) => break r,
            Some(_) => continue,
            None => {
                break Err(Error::Upstream(
                    "the request ended without an answer".into(),
                ));
            }
        }
    };
    guard.disarm();
    let mut resp = match result {
        Ok(o) => {
            state.counters.answered.fetch_add(1, Ordering::Relaxed);
            let mut r = json_response(StatusCode::OK, &openai::CompletionOut::new(&o, &asked));
            upstream_headers(r.headers_mut(), &o);
            r
        }
        Err(e) => error_response(&state, &e),
    };
    resp.extensions_mut().insert(Spent(timings));
    resp
}

pub(crate) fn upstream_headers(h: &mut HeaderMap, o: &Outcome) {
    if let Some(v) = o.key_id.as_ref().and_then(|k| header_value(k.as_str())) {
        h.insert(KEY_ID, v);
    }
    if let Some(v) = o.model.as_deref().and_then(header_value) {
        h.insert(MODEL, v);
    }
    if o.cached {
        h.insert(CACHED, HeaderValue::from_static("true"));
    }
}

async fn models(AxState(state): AxState<State>) -> Response {
    let list = match keywheel_core::catalogue::models(&state.pool, &state.client, false).await {
        Ok(l) => l,
        Err(e) => return error_response(&state, &e),
    };
    let s = state.followed.get();
    let alias = |id: &str, chain: &[String], pin: &Option<String>, what: &str| {
        let mut extra = serde_json::Map::new();
        extra.insert("owned_by".into(), json!("keywheel"));
        extra.insert(
            "name".into(),
            json!(format!("Keywheel: the configured {what} chain")),
        );
        extra.insert("keywheel_chain".into(), json!(chain));
        extra.insert("keywheel_pin".into(), json!(pin));
        openai::model_entry(id, extra)
    };
    let mut data = vec![
        alias(CHAT_ALIAS, &s.chat_models, &s.chat_pin, "chat"),
        alias(VISION_ALIAS, &s.vision_models, &s.vision_pin, "vision"),
    ];
    for m in list {
        let mut extra = serde_json::Map::new();
        extra.insert("name".into(), json!(m.name));
        extra.insert("context_length".into(), json!(m.context_length));
        extra.insert(
            "architecture".into(),
            json!({"input_modalities": m.input_modalities}),
        );
        extra.insert("pricing".into(), json!(m.pricing));
        data.push(openai::model_entry(&m.id, extra));
    }
    json_response(StatusCode::OK, &json!({"object": "list", "data": data}))
}

async fn status(AxState(state): AxState<State>) -> Response {
    // Answers already sent count as done in what follows.
    state.completions_written(Duration::from_secs(5)).await;
    let p = state.pool.clone();
    let view = match blocking(move || p.status()).await {
        Ok(v) => v,
        Err(e) => return error_response(&state, &e),
    };
    let c = &state.counters;
    let mut v = serde_json::to_value(&view).unwrap_or_default();
    v["gateway"] = json!({
        "instance": state.main.instance().id(),
        "key_id": state.main.instance().key(),
        "sessions": state.sessions.list(),
        "session_idle_secs": state.settings.session_idle.as_secs(),
        "chat_requests": c.chat_requests.load(Ordering::Relaxed),
        "answered": c.answered.load(Ordering::Relaxed),
        "refused_quota": c.refused_quota.load(Ordering::Relaxed),
        "failed": c.failed.load(Ordering::Relaxed),
        "unauthorized": c.unauthorized.load(Ordering::Relaxed),
    });
    v["notes"] = json!(status_notes(&state));
    json_response(StatusCode::OK, &v)
}

/// Sentences for the person about how the instances started: the server's own instance, then
/// each session's, when its machine does not hold the pool's current key (a team ledger).
fn status_notes(state: &State) -> Vec<String> {
    let mut notes: Vec<String> = state
        .main
        .instance()
        .adoption()
        .sentence()
        .into_iter()
        .collect();
    notes.extend(
        state
            .sessions
            .list()
            .into_iter()
            .filter_map(|s| s.note.map(|n| format!("session {}: {n}", s.id))),
    );
    notes
}
