//! The request path: cache → reserve in the ledger → send → complete, with key fallback,
//! backoff and model fallback (DESIGN §2.5, §3).
//!
//! | failure class | action |
//! |---|---|
//! | bad request, moderation, cancelled | stop; no retry, no key penalty; the sentence goes to the person |
//! | key invalid (401), no credit (402), spend limit (403) | record it on the key, fall back to the next key |
//! | account spent for the day (429 `free-models-per-day`) | mark the account until the reset, fall back to another account |
//! | model unavailable (404 "No endpoints found…") | skip that model for the UTC day, next model |
//! | rate limited, transient (408, 5xx, cut stream, HTML, …) | backoff with full jitter (honouring `Retry-After` / `X-RateLimit-Reset`), same key; then next model |
//!
//! Every attempt is its own reservation: a retried request counts again, because OpenRouter
//! counted it too. Per-minute caps wait on the same key, bounded by `max_wait_secs`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde::Serialize;

use crate::alerts::{self, Alert, Rule};
use crate::cache::{self, CachedAnswer};
use crate::clock::{describe_reset, next_utc_midnight};
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::keys::KeyId;
use crate::ledger::{Completion, FailureScope, KeyStatus, RequestState};
use crate::openrouter::classify::{KeyPenalty, failure_sentence};
use crate::openrouter::types::Usage;
use crate::openrouter::{
    ApiFailure, Backoff, CancelToken, ChatReply, ChatRequest, ClientConfig, FailureClass,
    OpenRouter, StreamEvent,
};
use crate::pool::{Instance, Reserve};

/// What kind of work a request is (for the request log and the cache policy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// R1 chat.
    Chat,
    /// Vision OCR.
    Ocr,
}

impl Kind {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Chat => "chat",
            Kind::Ocr => "ocr",
        }
    }
}

/// One piece of work.
#[derive(Debug, Clone)]
pub struct Job {
    /// Chat or OCR.
    pub kind: Kind,
    /// The request; `model` + `models` form the chain.
    pub request: ChatRequest,
    /// Stream the answer (events reach the callback as they arrive).
    pub stream: bool,
    /// Look in and fill the shared cache.
    pub use_cache: bool,
}

/// What the callback hears while a job runs.
#[derive(Debug)]
pub enum Progress<'a> {
    /// A stream event (reasoning, content, usage, …).
    Stream(&'a StreamEvent),
    /// The request is retried after a failure; partial streamed output should be discarded.
    Retry {
        /// Attempt about to start.
        attempt: u32,
        /// Why.
        reason: &'a ApiFailure,
        /// How long it waits first.
        wait: Duration,
    },
    /// The instance moved to another key.
    Fallback {
        /// From.
        from: &'a KeyId,
        /// To.
        to: &'a KeyId,
        /// Why.
        reason: &'a ApiFailure,
    },
    /// Waiting for a per-minute slot.
    Waiting {
        /// How long.
        wait: Duration,
    },
    /// An alert fired (once per subject per UTC day across all processes).
    Alert(&'a Alert),
}

/// The result of a job.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Outcome {
    /// The key that answered (absent for a cache hit).
    pub key_id: Option<KeyId>,
    /// The model that answered.
    pub model: Option<String>,
    /// The answer.
    pub content: String,
    /// The reasoning (R1).
    pub reasoning: String,
    /// Tokens and cost.
    pub usage: Option<Usage>,
    /// Requests sent.
    pub attempts: u32,
    /// Key fallbacks taken.
    pub fallbacks: u32,
    /// Whether the answer came from the cache (no quota spent).
    pub cached: bool,
    /// Whether this instance rotated at its start.
    pub rotated: bool,
    /// Wall time of the job, including waits.
    pub latency_ms: u64,
    /// Generation id.
    pub generation_id: Option<String>,
}

/// Runs jobs for one instance.
pub struct Dispatcher {
    instance: Arc<Instance>,
    client: OpenRouter,
    backoff: Backoff,
    max_wait: Duration,
    cache_ttl: chrono::Duration,
}

impl Dispatcher {
    /// A dispatcher over `instance`, configured from its pool's settings.
    pub fn new(instance: Arc<Instance>) -> Result<Self> {
        let s: &Settings = instance.pool().settings();
        let cfg = client_config(s);
        let max_wait = Duration::from_secs(s.max_wait_secs);
        let backoff = Backoff {
            max_total_wait: max_wait,
            ..Backoff::default()
        };
        let cache_ttl = chrono::Duration::hours(i64::try_from(s.cache_ttl_hours).unwrap_or(168));
        let client = OpenRouter::new(cfg).map_err(|e| Error::Upstream(e.to_string()))?;
        Ok(Self {
            instance,
            client,
            backoff,
            max_wait,
            cache_ttl,
        })
    }

    /// Replaces the backoff policy (tests, benchmarks).
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// The HTTP client.
    pub fn client(&self) -> &OpenRouter {
        &self.client
    }

    /// The instance.
    pub fn instance(&self) -> &Arc<Instance> {
        &self.instance
    }

    /// Runs a job to its end: an answer, or an error with a sentence and a code.
    pub async fn run(
        &self,
        job: Job,
        mut on: impl FnMut(Progress<'_>),
        cancel: &CancelToken,
    ) -> Result<Outcome> {
        let started = Instant::now();
        let pool = self.instance.pool();
        let ledger = pool.ledger();
        let kind = job.kind.as_str();
        let cache_key = job.use_cache.then(|| cache::key(kind, &job.request));
        if let Some(hash) = &cache_key
            && let Some((body, model)) = ledger.cache_get(hash, pool.now())?
            && let Ok(hit) = serde_json::from_str::<CachedAnswer>(&body)
        {
            ledger.log_cached(
                self.instance.id(),
                self.instance.key().as_ref(),
                kind,
                model.as_deref(),
                pool.now(),
            )?;
            if job.stream {
                if !hit.reasoning.is_empty() {
                    on(Progress::Stream(&StreamEvent::Reasoning(
                        hit.reasoning.clone(),
                    )));
                }
                on(Progress::Stream(&StreamEvent::Content(hit.content.clone())));
            }
            return Ok(Outcome {
                key_id: None,
                model: hit.model,
                content: hit.content,
                reasoning: hit.reasoning,
                usage: hit.usage,
                attempts: 0,
                fallbacks: 0,
                cached: true,
                rotated: self.instance.adoption().rotated,
                latency_ms: started.elapsed().as_millis() as u64,
                generation_id: None,
            });
        }

        let skipped = ledger.skipped_models(pool.now())?;
        let mut chain: Vec<String> = std::iter::once(job.request.model.clone())
            .chain(job.request.models.iter().cloned())
            .collect();
        let available: Vec<String> = chain
            .iter()
            .filter(|m| !skipped.contains(m))
            .cloned()
            .collect();
        if !available.is_empty() {
            chain = available;
        }
        let mut attempts = 0u32;
        let mut fallbacks = 0u32;
        let mut schedule = self.backoff.schedule();
        let mut waited = Duration::ZERO;
        loop {
            if cancel.is_cancelled() {
                return Err(Error::Cancelled);
            }
            let reserved = match self
                .instance
                .try_reserve(kind, chain.first().map(String::as_str))
            {
                Err(e @ Error::QuotaExhausted { .. }) => {
                    if let Some(a) = alerts::all_spent(pool, &e.to_string())? {
                        on(Progress::Alert(&a));
                    }
                    return Err(e);
                }
                other => other?,
            };
            let grant = match reserved {
                Reserve::Granted(g) => g,
                Reserve::Wait(until) => {
                    let wait = (until - pool.now())
                        .to_std()
                        .unwrap_or_default()
                        .max(Duration::from_millis(5));
                    if waited + wait > self.max_wait {
                        return Err(Error::QuotaExhausted {
                            message: format!(
                                "every usable key is at its per-minute cap; the next slot frees at {}",
                                describe_reset(until, pool.now())
                            ),
                            reset_at: until,
                        });
                    }
                    on(Progress::Waiting { wait });
                    waited += wait;
                    pause(wait, cancel).await?;
                    continue;
                }
            };
            if grant.fell_back {
                fallbacks += 1;
            }
            attempts += 1;
            let mut req = job.request.clone();
            req.model = chain[0].clone();
            req.models = chain[1..].to_vec();
            let sent = Instant::now();
            let result = if job.stream {
                self.client
                    .chat_stream(&grant.key, &req, |ev| on(Progress::Stream(ev)), cancel)
                    .await
            } else {
                self.client.chat(&grant.key, &req).await
            };
            let rotated = self.instance.adoption().rotated;
            match result {
                Ok(reply) => {
                    let c = completion_ok(&reply, attempts, fallbacks > 0, rotated);
                    tracing::info!(
                        instance = self.instance.id(),
                        key = %grant.key.id(),
                        model = reply.model.as_deref().unwrap_or(""),
                        attempt = attempts,
                        class = "ok",
                        latency_ms = reply.latency.as_millis() as u64,
                        "request done"
                    );
                    self.instance.complete(&grant, &c)?;
                    for a in alerts::after_request(pool, &grant.key.id())? {
                        on(Progress::Alert(&a));
                    }
                    if let Some(hash) = &cache_key {
                        let answer = CachedAnswer {
                            model: reply.model.clone(),
                            content: reply.content.clone(),
                            reasoning: reply.reasoning.clone(),
                            usage: reply.usage.clone(),
                        };
                        let body = serde_json::to_string(&answer).unwrap_or_default();
                        ledger.cache_put(
                            hash,
                            kind,
                            reply.model.as_deref(),
                            &body,
                            self.cache_ttl,
                            pool.now(),
                        )?;
                    }
                    return Ok(Outcome {
                        key_id: Some(grant.key.id()),
                        model: reply.model,
                        content: reply.content,
                        reasoning: reply.reasoning,
                        usage: reply.usage,
                        attempts,
                        fallbacks,
                        cached: false,
                        rotated,
                        latency_ms: started.elapsed().as_millis() as u64,
                        generation_id: reply.id,
                    });
                }
                Err(f) if f.not_sent => {
                    // Nothing reached OpenRouter: give the reservation back, then back off.
                    self.instance.pool().ledger().release(&grant.reservation)?;
                    attempts -= 1;
                    match schedule.next(None) {
                        Some(wait) if waited + wait <= self.max_wait => {
                            on(Progress::Retry {
                                attempt: attempts + 1,
                                reason: &f,
                                wait,
                            });
                            waited += wait;
                            pause(wait, cancel).await?;
                        }
                        _ => {
                            return Err(Error::Upstream(format!(
                                "{}; no request was sent and no quota was spent",
                                failure_sentence(&f)
                            )));
                        }
                    }
                }
                Err(f) => {
                    let c = Completion {
                        state: RequestState::Failed,
                        status_class: f.class.as_str().into(),
                        http_status: f.http_status,
                        attempts,
                        fallback: fallbacks > 0,
                        rotation: rotated,
                        latency_ms: Some(sent.elapsed().as_millis() as u64),
                        error: Some(f.message.chars().take(200).collect()),
                        model_answered: None,
                        ..Completion::ok()
                    };
                    self.instance.complete(&grant, &c)?;
                    for a in alerts::after_request(pool, &grant.key.id())? {
                        on(Progress::Alert(&a));
                    }
                    tracing::warn!(
                        instance = self.instance.id(),
                        key = %grant.key.id(),
                        model = %chain[0],
                        attempt = attempts,
                        class = f.class.as_str(),
                        latency_ms = sent.elapsed().as_millis() as u64,
                        "request failed"
                    );
                    if f.class.is_final() {
                        return Err(final_error(&f));
                    }
                    if let Some(penalty) = f.class.penalizes_key() {
                        self.penalize(&grant.key.id(), &grant.reservation.account, penalty, &f)?;
                        let rule = match penalty {
                            KeyPenalty::Invalid => Rule::KeyInvalid,
                            KeyPenalty::NoCredit => Rule::NoCredit,
                            KeyPenalty::SpendLimit => Rule::SpendLimited,
                            KeyPenalty::AccountDailyExhausted => Rule::AccountSpent,
                        };
                        if let Some(a) =
                            alerts::key_refused(pool, &grant.key.id(), rule, &f.message)?
                        {
                            on(Progress::Alert(&a));
                        }
                        let scope = if f.class.is_account_wide() {
                            FailureScope::Account
                        } else {
                            FailureScope::Key
                        };
                        let failed = grant.key.id();
                        match self.instance.fall_back(&failed, scope)? {
                            Some(next) => {
                                fallbacks += 1;
                                on(Progress::Fallback {
                                    from: &failed,
                                    to: &next,
                                    reason: &f,
                                });
                                continue;
                            }
                            None => return Err(self.nothing_left(&mut on)),
                        }
                    }
                    if f.class.model_gone() {
                        ledger.skip_model_today(&chain[0], &f.message, pool.now())?;
                        chain.remove(0);
                        if chain.is_empty() {
                            return Err(Error::Upstream(format!(
                                "no model in the chain is available right now ({}); choose another with --model or in settings",
                                f.message
                            )));
                        }
                        schedule = self.backoff.schedule();
                        continue;
                    }
                    // Rate limited or transient: back off on the same key, then the next model.
                    match schedule.next(f.wait_hint(Utc::now())) {
                        Some(wait) if waited + wait <= self.max_wait => {
                            on(Progress::Retry {
                                attempt: attempts + 1,
                                reason: &f,
                                wait,
                            });
                            waited += wait;
                            pause(wait, cancel).await?;
                        }
                        _ if chain.len() > 1 => {
                            chain.remove(0);
                            schedule = self.backoff.schedule();
                            on(Progress::Retry {
                                attempt: attempts + 1,
                                reason: &f,
                                wait: Duration::ZERO,
                            });
                        }
                        _ => {
                            return Err(Error::Upstream(format!(
                                "{} (gave up after {attempts} attempt{})",
                                failure_sentence(&f),
                                if attempts == 1 { "" } else { "s" }
                            )));
                        }
                    }
                }
            }
        }
    }

    /// The error for "no key can serve", firing the all-spent alert when it is a quota problem.
    fn nothing_left(&self, on: &mut impl FnMut(Progress<'_>)) -> Error {
        let e = self.instance.explain();
        if matches!(e, Error::QuotaExhausted { .. })
            && let Ok(Some(a)) = alerts::all_spent(self.instance.pool(), &e.to_string())
        {
            on(Progress::Alert(&a));
        }
        e
    }

    fn penalize(
        &self,
        key: &KeyId,
        account: &str,
        penalty: KeyPenalty,
        f: &ApiFailure,
    ) -> Result<()> {
        let pool = self.instance.pool();
        let ledger = pool.ledger();
        let now = pool.now();
        let note = Some(f.message.as_str());
        match penalty {
            KeyPenalty::Invalid => ledger.set_key_status(key, KeyStatus::Invalid, None, note),
            KeyPenalty::NoCredit => ledger.set_key_status(key, KeyStatus::NoCredit, None, note),
            KeyPenalty::SpendLimit => {
                let until = f.reset_at.unwrap_or_else(|| next_utc_midnight(now));
                ledger.set_key_status(key, KeyStatus::SpendLimited, Some(until), note)
            }
            KeyPenalty::AccountDailyExhausted => {
                let until = f
                    .reset_at
                    .filter(|t| *t > now)
                    .unwrap_or_else(|| next_utc_midnight(now));
                ledger.mark_account_exhausted(account, until, now)
            }
        }
    }
}

/// The HTTP client settings for these settings (base URL, attribution, timeouts).
pub fn client_config(s: &Settings) -> ClientConfig {
    let timeout = Duration::from_secs(s.timeout_secs.max(1));
    ClientConfig {
        base_url: s.base_url.clone(),
        referer: s.referer.clone(),
        title: s.title.clone(),
        first_byte_timeout: timeout,
        idle_stream_timeout: timeout,
        request_timeout: timeout.max(Duration::from_secs(300)).min(timeout * 5),
        ..ClientConfig::default()
    }
}

/// Sleeps for `wait` unless cancelled first.
async fn pause(wait: Duration, cancel: &CancelToken) -> Result<()> {
    tokio::select! {
        _ = tokio::time::sleep(wait) => Ok(()),
        _ = cancel.cancelled() => Err(Error::Cancelled),
    }
}

fn completion_ok(reply: &ChatReply, attempts: u32, fallback: bool, rotation: bool) -> Completion {
    let u = reply.usage.as_ref();
    Completion {
        state: RequestState::Done,
        status_class: "ok".into(),
        http_status: Some(reply.http_status),
        model_answered: reply.model.clone(),
        attempts,
        fallback,
        rotation,
        prompt_tokens: u.map(|u| u.prompt_tokens as u32),
        completion_tokens: u.map(|u| u.completion_tokens as u32),
        reasoning_tokens: u.map(|u| u.reasoning_tokens as u32),
        cost: u.and_then(|u| u.cost),
        latency_ms: Some(reply.latency.as_millis() as u64),
        bytes_sent: Some(reply.bytes_sent),
        error: None,
    }
}

fn final_error(f: &ApiFailure) -> Error {
    match f.class {
        FailureClass::Cancelled => Error::Cancelled,
        FailureClass::BadRequest => Error::BadInput(failure_sentence(f)),
        _ => Error::Upstream(failure_sentence(f)),
    }
}
