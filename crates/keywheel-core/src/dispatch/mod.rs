//! The request path: cache → resolve the chain → reserve in the ledger → send → complete, with
//! key fallback, bounded retries and model fallback (docs/errors.md, docs/models.md).
//!
//! [`Dispatcher::run`] is a short loop; the decision after a failure is the pure
//! [`policy::next_step`], and the chain comes from [`crate::chains::resolve`] against the
//! catalogue. Every attempt is its own reservation: a retried request counts again, because
//! OpenRouter counted it too, which is why one model gets at most two attempts and one job at
//! most `max_attempts` (4). Per-minute caps wait on the same key (no request, no charge),
//! bounded by `max_wait_secs`.

mod chain;
pub mod policy;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::alerts::{self, Alert, Rule};
use crate::cache::{self, CachedAnswer};
use crate::chains::{Catalogue, ModelChoice, ResolvedChain};
use crate::clock::{describe_reset, next_utc_midnight};
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::keys::KeyId;
use crate::ledger::{Completion, KeyStatus, RequestState};
use crate::openrouter::failure::{KeyPenalty, failure_sentence_at};
use crate::openrouter::types::Usage;
use crate::openrouter::{
    ApiFailure, Backoff, CancelToken, ChatReply, ChatRequest, ClientConfig, FailureClass,
    OpenRouter, RetrySchedule, StreamEvent,
};
use crate::pool::{Grant, Instance, Reserve};
use policy::{ModelMove, Step, Tally};

crate::vocab::stored_enum! {
    /// What kind of work a request is (for the request log, the cache policy and the chain).
    pub enum Kind {
        /// Chat (DeepSeek R1 first).
        Chat,
        /// Vision OCR.
        Ocr,
    }
}

/// One piece of work.
#[derive(Debug, Clone)]
pub struct Job {
    /// Chat or OCR.
    pub kind: Kind,
    /// The request; its `model` / `models` are replaced by the resolved chain.
    pub request: ChatRequest,
    /// How the models are chosen.
    pub models: ModelChoice,
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
    /// A sentence for the person: which model answers and why, a model no longer offered,
    /// keys found to share an account.
    Note(&'a str),
    /// A counted request was completed; `requests` is the job's total so far.
    Sent {
        /// Counted requests this job sent.
        requests: u32,
    },
    /// The answer is complete and final: the outcome [`Dispatcher::run`] returns once the
    /// completion's ledger write (and the alert checks after it) is done. A caller that
    /// serves someone else (the gateway) may answer now; the job still runs to its end, so
    /// the request is completed in the ledger whatever the caller does meanwhile.
    Answered(&'a Outcome),
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
    /// Counted requests sent (each reached OpenRouter; 0 for a cache hit).
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
    /// Sentences for the person (which model answered and why).
    pub notes: Vec<String>,
}

/// Where a job's wall time went that was not the dispatcher's own: awaiting OpenRouter (the
/// chat requests, a stream until its end, `/key` and `/models`) and pausing on purpose (for a
/// per-minute slot, or backing off before a retry). The rest is Keywheel's own time: the cache,
/// chain resolution, the ledger's reservations and completions (the gateway's
/// `X-Keywheel-Overhead-Us`). Readable while the job runs: an await in progress counts up to
/// the moment of reading (a stream's headers leave before its end).
#[derive(Debug, Default)]
pub struct Timings(Mutex<Spent>);

#[derive(Debug, Default)]
struct Spent {
    upstream: Duration,
    paused: Duration,
    /// The await in progress, if any: since when, and whether it is a pause.
    current: Option<(Instant, bool)>,
}

/// One await being timed; it counts when dropped.
struct Span<'a>(&'a Timings);

impl Drop for Span<'_> {
    fn drop(&mut self) {
        let mut s = self.0.0.lock().expect("timings lock");
        if let Some((since, paused)) = s.current.take() {
            let d = since.elapsed();
            if paused {
                s.paused += d
            } else {
                s.upstream += d
            }
        }
    }
}

impl Timings {
    fn span(&self, paused: bool) -> Span<'_> {
        self.0.lock().expect("timings lock").current = Some((Instant::now(), paused));
        Span(self)
    }

    /// Time awaiting OpenRouter so far.
    pub fn upstream(&self) -> Duration {
        let s = self.0.lock().expect("timings lock");
        match s.current {
            Some((since, false)) => s.upstream + since.elapsed(),
            _ => s.upstream,
        }
    }

    /// Time paused on purpose so far.
    pub fn paused(&self) -> Duration {
        let s = self.0.lock().expect("timings lock");
        match s.current {
            Some((since, true)) => s.paused + since.elapsed(),
            _ => s.paused,
        }
    }
}

impl Outcome {
    /// Counted requests the job sent (the same as `attempts`).
    pub fn requests(&self) -> u32 {
        self.attempts
    }
}

/// Runs jobs for one instance.
pub struct Dispatcher {
    instance: Arc<Instance>,
    client: OpenRouter,
    backoff: Backoff,
    max_wait: Duration,
    max_attempts: u32,
    cache_ttl: chrono::Duration,
    reconciled: tokio::sync::OnceCell<()>,
    /// Sentences from the start's reconciliation, said by the first job.
    start_notes: Mutex<Vec<String>>,
    catalogue: Mutex<Option<(chrono::DateTime<chrono::Utc>, Arc<Catalogue>)>>,
    /// When fetching the catalogue last failed: not tried again for a minute, so an
    /// unreachable `/models` does not slow every job.
    catalogue_failed: Mutex<Option<Instant>>,
    /// Where this dispatcher's ledger writes run (started by the first one in a runtime).
    ledger_thread: std::sync::OnceLock<LedgerThread>,
}

/// A ledger task: runs on the ledger thread, sends its result back itself.
type LedgerTask = Box<dyn FnOnce() + Send>;

/// One thread that runs a dispatcher's ledger writes one after the other. Under load the
/// tasks queue and the thread takes the next without sleeping, where tokio's blocking pool
/// would wake one thread per task and let them all queue on the ledger's write lock; a job
/// awaits its task's answer without holding a worker. The thread ends with its dispatcher.
struct LedgerThread(std::sync::mpsc::Sender<LedgerTask>);

impl LedgerThread {
    fn start() -> Self {
        let (tx, rx) = std::sync::mpsc::channel::<LedgerTask>();
        let spawned = std::thread::Builder::new()
            .name("keywheel-ledger".into())
            .spawn(move || {
                while let Ok(task) = rx.recv() {
                    task();
                }
            });
        if let Err(e) = spawned {
            // No thread: every task is refused below with a sentence (the receiver is gone).
            tracing::error!(error = %e, "could not start the ledger thread");
        }
        LedgerThread(tx)
    }

    /// Runs `f` on the thread and awaits its result; a panic in `f` resumes here.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let task: LedgerTask = Box::new(move || {
            let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let _ = tx.send(out);
        });
        let gone = || Error::Storage("the ledger thread is not running".into());
        self.0.send(task).map_err(|_| gone())?;
        match rx.await {
            Ok(Ok(out)) => out,
            Ok(Err(panic)) => std::panic::resume_unwind(panic),
            Err(_) => Err(gone()),
        }
    }
}

/// One job's running state.
struct Run {
    /// Counted requests sent.
    sent: u32,
    /// Attempts charged to the budget.
    charged: u32,
    /// Attempts on the current model.
    on_model: u32,
    in_flight_waits: u32,
    fallbacks: u32,
    waited: Duration,
    /// Time awaiting OpenRouter and paused.
    timings: Arc<Timings>,
    schedule: RetrySchedule,
    /// Models this job left (persistent failures), on top of today's skips.
    dropped: HashSet<String>,
    current: Option<String>,
    notes: Vec<String>,
    refreshed: bool,
}

impl Dispatcher {
    /// A dispatcher over `instance`, configured from its pool's settings.
    pub fn new(instance: Arc<Instance>) -> Result<Self> {
        let s: &Settings = instance.pool().settings();
        let cfg = ClientConfig::from_settings(s);
        let max_wait = Duration::from_secs(s.max_wait_secs);
        let backoff = Backoff {
            max_total_wait: max_wait,
            ..Backoff::default()
        };
        let cache_ttl = chrono::Duration::hours(i64::try_from(s.cache_ttl_hours).unwrap_or(168));
        let max_attempts = s.max_attempts.max(1);
        let client = OpenRouter::new(cfg).map_err(|e| Error::Upstream(e.to_string()))?;
        Ok(Self {
            instance,
            client,
            backoff,
            max_wait,
            max_attempts,
            cache_ttl,
            reconciled: tokio::sync::OnceCell::new(),
            start_notes: Mutex::new(Vec::new()),
            catalogue: Mutex::new(None),
            catalogue_failed: Mutex::new(None),
            ledger_thread: std::sync::OnceLock::new(),
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

    /// Runs ledger work (SQLite: blocking, and a write may wait for another process's lock)
    /// so that it never holds up an async worker behind another writer: here, on the worker,
    /// when its first write finds the file free ([`crate::ledger::writer::without_waiting`]:
    /// no hop to another thread and back, which costs two thread wake-ups), else on this
    /// dispatcher's ledger thread ([`LedgerThread`]), where waiting is fine; inline outside a
    /// runtime. A team ledger's work
    /// always goes to the thread (its client blocks on a runtime of its own). Reads
    /// (catalogue, skipped models, credits) stay inline: in WAL mode they never wait for a
    /// writer.
    pub(super) async fn ledger<T: Send + 'static>(
        &self,
        mut f: impl FnMut(&Instance) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        if tokio::runtime::Handle::try_current().is_err() {
            return f(&self.instance);
        }
        if self.instance.pool().ledger().pg().is_none()
            && let Some(out) = crate::ledger::writer::without_waiting(|| f(&self.instance))
        {
            return out;
        }
        let instance = self.instance.clone();
        self.ledger_thread
            .get_or_init(LedgerThread::start)
            .run(move || f(&instance))
            .await
    }

    /// Runs a job to its end: an answer, or an error with a sentence and a code.
    pub async fn run(
        &self,
        job: Job,
        on: impl FnMut(Progress<'_>),
        cancel: &CancelToken,
    ) -> Result<Outcome> {
        self.run_timed(job, on, cancel, Arc::default()).await
    }

    /// [`run`](Self::run), counting in `timings` how long the job awaits OpenRouter and
    /// pauses, so a caller can tell Keywheel's own time from the rest, while the job runs and
    /// after it (on success and failure alike).
    pub async fn run_timed(
        &self,
        mut job: Job,
        mut on: impl FnMut(Progress<'_>),
        cancel: &CancelToken,
        timings: Arc<Timings>,
    ) -> Result<Outcome> {
        let started = Instant::now();
        {
            let _upstream = timings.span(false);
            self.start().await;
        }
        let cache_key = job
            .use_cache
            .then(|| cache::key(job.kind.as_str(), &job.request));
        if let Some(hit) = self
            .cached(&job, cache_key.as_deref(), &mut on, started)
            .await?
        {
            return Ok(hit);
        }
        let run = &mut Run::new(self.backoff.schedule(), timings);
        for note in std::mem::take(&mut *self.start_notes.lock().expect("notes lock")) {
            on(Progress::Note(&note));
            run.notes.push(note);
        }
        // The ledger's state the chain needs, read once per attempt (one statement).
        let mut seen = Some(self.pre_send()?);
        let stored = seen.as_ref().and_then(|s| s.models_fetched);
        let mut catalogue = self.catalogue(false, stored, &run.timings.clone()).await;
        loop {
            if cancel.is_cancelled() {
                return Err(Error::Cancelled);
            }
            let now_seen = match seen.take() {
                Some(s) => s,
                None => self.pre_send()?,
            };
            let chain = self.chain(&job, catalogue.as_deref(), now_seen, run, &mut on)?;
            let Some(model) = chain.models.first().cloned() else {
                return Err(no_model_left(&job, &chain, run));
            };
            if run.current.as_deref() != Some(model.as_str()) {
                run.current = Some(model.clone());
                run.on_model = 0;
                run.schedule = self.backoff.schedule();
            }
            let Some(grant) = self.reserve(job.kind, &model, run, &mut on, cancel).await? else {
                continue;
            };
            let sent = Instant::now();
            let f = match self
                .send(&mut job, &chain.models, &grant, &mut on, cancel, run)
                .await
            {
                Ok(reply) => {
                    return self
                        .succeed(&job, &grant, reply, run, cache_key, started, &mut on)
                        .await;
                }
                Err(f) if f.not_sent => {
                    self.not_sent(&grant, &f, run, &mut on, cancel).await?;
                    continue;
                }
                Err(f) => f,
            };
            let step = self
                .failed(&grant, &model, &f, run, &chain, sent, &mut on)
                .await?;
            let at = (&grant, model.as_str(), &f);
            self.follow(step, at, run, &mut catalogue, &mut on, cancel)
                .await?;
        }
    }

    /// Sends one counted attempt of `job` on the granted key, with `chain` as `model` +
    /// `models` (the job's request is updated in place: no copy of its messages); its await on
    /// OpenRouter counts as upstream time.
    async fn send(
        &self,
        job: &mut Job,
        chain: &[String],
        grant: &Grant,
        on: &mut impl FnMut(Progress<'_>),
        cancel: &CancelToken,
        run: &Run,
    ) -> Result<ChatReply, ApiFailure> {
        let req = &mut job.request;
        req.model.clone_from(&chain[0]);
        req.models.clear();
        req.models.extend_from_slice(&chain[1..]);
        req.stream = job.stream;
        let _upstream = run.timings.span(false);
        if job.stream {
            let on_event = |ev: &StreamEvent| on(Progress::Stream(ev));
            self.client
                .chat_stream(&grant.key, req, on_event, cancel)
                .await
        } else {
            self.client.chat(&grant.key, req).await
        }
    }

    /// Carries out the step decided after a counted failure of `model` on the granted key:
    /// `Err` ends the job; after a model was gone the catalogue is fetched anew (once per job).
    async fn follow(
        &self,
        step: Step,
        (grant, model, f): (&Grant, &str, &ApiFailure),
        run: &mut Run,
        catalogue: &mut Option<Arc<Catalogue>>,
        on: &mut impl FnMut(Progress<'_>),
        cancel: &CancelToken,
    ) -> Result<()> {
        let now = || self.instance.pool().now();
        match step {
            Step::Stop => Err(final_error(f, now())),
            Step::GiveUp => Err(gave_up(f, run, now())),
            Step::Retry(wait) => {
                on(Progress::Retry {
                    attempt: run.sent + 1,
                    reason: f,
                    wait,
                });
                run.waited += wait;
                pause(wait, cancel, run).await
            }
            Step::NextModel(why) => {
                self.leave_model(grant, model, why, f, run, on)?;
                if why == ModelMove::Gone && !run.refreshed {
                    run.refreshed = true;
                    let stored = self
                        .instance
                        .pool()
                        .ledger()
                        .models_fetched()
                        .ok()
                        .flatten();
                    let fresh = self.catalogue(true, stored, &run.timings.clone()).await;
                    *catalogue = fresh.or(catalogue.take());
                }
                on(Progress::Retry {
                    attempt: run.sent + 1,
                    reason: f,
                    wait: Duration::ZERO,
                });
                Ok(())
            }
            Step::FallBack { penalty, scope } => {
                self.penalize(grant, penalty, f, on)?;
                let failed = grant.key.id();
                let Some(next) = self.instance.fall_back(&failed, scope)? else {
                    return Err(self.nothing_left(on));
                };
                run.fallbacks += 1;
                on(Progress::Fallback {
                    from: &failed,
                    to: &next,
                    reason: f,
                });
                Ok(())
            }
        }
    }

    /// Once per dispatcher (its instance's start): reconcile the pool with `/key` unless
    /// another process did in the last 10 minutes. Failures only log.
    async fn start(&self) {
        self.reconciled
            .get_or_init(|| async {
                let pool = self.instance.pool();
                match crate::reconcile::pool(pool, &self.client, false).await {
                    Ok(notes) => *self.start_notes.lock().expect("notes lock") = notes,
                    Err(e) => {
                        tracing::warn!(error = %e, "could not reconcile with OpenRouter's /key");
                    }
                }
            })
            .await;
    }

    /// A cache hit, served without a reservation.
    async fn cached(
        &self,
        job: &Job,
        cache_key: Option<&str>,
        on: &mut impl FnMut(Progress<'_>),
        started: Instant,
    ) -> Result<Option<Outcome>> {
        let Some(hash) = cache_key.map(str::to_string) else {
            return Ok(None);
        };
        let kind = job.kind;
        let hit = self
            .ledger(move |instance| {
                let pool = instance.pool();
                let ledger = pool.ledger();
                let Some((body, model)) = ledger.cache_get(&hash, pool.now())? else {
                    return Ok(None);
                };
                let Ok(hit) = serde_json::from_str::<CachedAnswer>(&body) else {
                    return Ok(None);
                };
                ledger.log_cached(
                    instance.id(),
                    instance.key().as_ref(),
                    kind.as_str(),
                    model.as_deref(),
                    pool.now(),
                )?;
                Ok(Some(hit))
            })
            .await?;
        let Some(hit) = hit else {
            return Ok(None);
        };
        if job.stream {
            if !hit.reasoning.is_empty() {
                on(Progress::Stream(&StreamEvent::Reasoning(
                    hit.reasoning.clone(),
                )));
            }
            on(Progress::Stream(&StreamEvent::Content(hit.content.clone())));
        }
        let outcome = Outcome {
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
            notes: Vec::new(),
        };
        on(Progress::Answered(&outcome));
        Ok(Some(outcome))
    }

    /// Reserves one request, waiting through per-minute caps (no request sent, no charge).
    /// `None`: waited, try again.
    async fn reserve(
        &self,
        kind: Kind,
        model: &str,
        run: &mut Run,
        on: &mut impl FnMut(Progress<'_>),
        cancel: &CancelToken,
    ) -> Result<Option<Grant>> {
        let pool = self.instance.pool();
        let asked = model.to_string();
        let reserved = match self
            .ledger(move |instance| instance.try_reserve(kind, Some(&asked)))
            .await
        {
            Err(e @ Error::QuotaExhausted { .. }) => {
                if let Some(a) = alerts::all_spent(pool, &e.to_string())? {
                    on(Progress::Alert(&a));
                }
                return Err(e);
            }
            other => other?,
        };
        match reserved {
            Reserve::Granted(g) => {
                if g.fell_back {
                    run.fallbacks += 1;
                }
                Ok(Some(g))
            }
            Reserve::Wait(until) => {
                let wait = (until - pool.now())
                    .to_std()
                    .unwrap_or_default()
                    .max(Duration::from_millis(5));
                if run.waited + wait > self.max_wait {
                    return Err(Error::QuotaExhausted {
                        message: format!(
                            "every usable key is at its per-minute cap; the next slot frees at {}",
                            describe_reset(until, pool.now())
                        ),
                        reset_at: until,
                    });
                }
                on(Progress::Waiting { wait });
                run.waited += wait;
                pause(wait, cancel, run).await?;
                Ok(None)
            }
        }
    }

    /// Completes a successful request: the outcome ([`Progress::Answered`]), then the ledger,
    /// alerts and cache.
    #[allow(clippy::too_many_arguments)]
    async fn succeed(
        &self,
        job: &Job,
        grant: &Grant,
        reply: ChatReply,
        run: &mut Run,
        cache_key: Option<String>,
        started: Instant,
        on: &mut impl FnMut(Progress<'_>),
    ) -> Result<Outcome> {
        run.sent += 1;
        let rotated = self.instance.adoption().rotated;
        let c = completion_ok(&reply, run.sent, run.fallbacks > 0, rotated);
        tracing::info!(
            instance = self.instance.id(),
            key = %grant.key.id(),
            model = reply.model.as_deref().unwrap_or(""),
            attempt = run.sent,
            class = "ok",
            latency_ms = reply.latency.as_millis() as u64,
            "request done"
        );
        // The answer to cache, serialized before it moves to the ledger thread.
        let cached = cache_key.map(|hash| {
            let answer = CachedAnswer {
                model: reply.model.clone(),
                content: reply.content.clone(),
                reasoning: reply.reasoning.clone(),
                usage: reply.usage.clone(),
            };
            let body = serde_json::to_string(&answer).unwrap_or_default();
            (hash, body, reply.model.clone())
        });
        let (kind, ttl, done) = (job.kind, self.cache_ttl, grant.reservation.clone());
        let outcome = Outcome {
            key_id: Some(grant.key.id()),
            model: reply.model,
            content: reply.content,
            reasoning: reply.reasoning,
            usage: reply.usage,
            attempts: run.sent,
            fallbacks: run.fallbacks,
            cached: false,
            rotated,
            latency_ms: started.elapsed().as_millis() as u64,
            generation_id: reply.id,
            notes: std::mem::take(&mut run.notes),
        };
        // The answer is known before its completion is written: a caller may pass it on now,
        // and the task it woke (the gateway's response) runs before this write, not after.
        on(Progress::Answered(&outcome));
        tokio::task::yield_now().await;
        let fired = self
            .ledger(move |instance| {
                let pool = instance.pool();
                let fired = complete_and_alert(pool, &done, &c)?;
                if let Some((hash, body, model)) = &cached {
                    pool.ledger().cache_put(
                        hash,
                        kind.as_str(),
                        model.as_deref(),
                        body,
                        ttl,
                        pool.now(),
                    )?;
                }
                Ok(fired)
            })
            .await?;
        on(Progress::Sent { requests: run.sent });
        for a in fired {
            on(Progress::Alert(&a));
        }
        Ok(outcome)
    }

    /// Nothing reached OpenRouter: give the reservation back (no quota spent), then back off.
    async fn not_sent(
        &self,
        grant: &Grant,
        f: &ApiFailure,
        run: &mut Run,
        on: &mut impl FnMut(Progress<'_>),
        cancel: &CancelToken,
    ) -> Result<()> {
        let reservation = grant.reservation.clone();
        self.ledger(move |instance| instance.pool().ledger().release(&reservation))
            .await?;
        match run.schedule.next(None) {
            Some(wait) if run.waited + wait <= self.max_wait => {
                on(Progress::Retry {
                    attempt: run.sent + 1,
                    reason: f,
                    wait,
                });
                run.waited += wait;
                pause(wait, cancel, run).await
            }
            _ => Err(Error::Upstream(format!(
                "{}; no request was sent and no quota was spent",
                failure_sentence_at(f, self.instance.pool().now())
            ))),
        }
    }

    /// Records a failed, counted request and decides what follows.
    #[allow(clippy::too_many_arguments)]
    async fn failed(
        &self,
        grant: &Grant,
        model: &str,
        f: &ApiFailure,
        run: &mut Run,
        chain: &ResolvedChain,
        sent: Instant,
        on: &mut impl FnMut(Progress<'_>),
    ) -> Result<Step> {
        let pool = self.instance.pool();
        run.sent += 1;
        // A wait for the in-flight budget is OpenRouter pacing paid requests, not a failure of
        // the model: it is counted in the ledger but not charged to the job's budget.
        if f.class != FailureClass::InFlightBudget {
            run.on_model += 1;
            run.charged += 1;
        }
        let c = Completion {
            state: RequestState::Failed,
            status_class: f.class.into(),
            http_status: f.http_status,
            attempts: run.sent,
            fallback: run.fallbacks > 0,
            rotation: self.instance.adoption().rotated,
            latency_ms: Some(sent.elapsed().as_millis() as u64),
            error: Some(f.message.chars().take(200).collect()),
            model_answered: None,
            ..Completion::ok()
        };
        let done = grant.reservation.clone();
        let fired = self
            .ledger(move |instance| complete_and_alert(instance.pool(), &done, &c))
            .await?;
        on(Progress::Sent { requests: run.sent });
        for a in fired {
            on(Progress::Alert(&a));
        }
        tracing::warn!(
            instance = self.instance.id(),
            key = %grant.key.id(),
            model,
            attempt = run.sent,
            class = f.class.as_str(),
            latency_ms = sent.elapsed().as_millis() as u64,
            "request failed"
        );
        if let Some(user) = &f.user_id
            && let Some(g) = pool.ledger().observe_owner(&grant.key.id(), user)?
        {
            let note = crate::reconcile::grouping_sentence(&g);
            tracing::info!("{note}");
            on(Progress::Note(&note));
        }
        if f.http_status == Some(429) {
            let timings = run.timings.clone();
            let _upstream = timings.span(false);
            crate::reconcile::key(pool, &self.client, &grant.key).await?;
        }
        let models_after = chain.models.len().saturating_sub(1);
        let tally = Tally {
            on_model: run.on_model,
            charged: run.charged,
            budget: self.max_attempts,
            in_flight_waits: run.in_flight_waits,
            models_after,
            waited: run.waited,
            max_wait: self.max_wait,
        };
        let backoff = if f.class.is_retryable() {
            run.schedule.next(f.wait_hint(pool.now()))
        } else {
            None
        };
        let free = self.model_is_free(model);
        let step = policy::next_step(f, free, &tally, backoff);
        if f.class == FailureClass::InFlightBudget && matches!(step, Step::Retry(_)) {
            run.in_flight_waits += 1;
        }
        Ok(step)
    }

    /// The chain leaves `model`: for the day (gone, or paid refused for the account) or for
    /// this job (persistent failures).
    fn leave_model(
        &self,
        grant: &Grant,
        model: &str,
        why: ModelMove,
        f: &ApiFailure,
        run: &mut Run,
        on: &mut impl FnMut(Progress<'_>),
    ) -> Result<()> {
        let pool = self.instance.pool();
        match why {
            ModelMove::Gone => pool
                .ledger()
                .skip_model_today(model, &f.message, pool.now())?,
            ModelMove::Persistent => {}
            ModelMove::PaidRefused => {
                let (account, news) = pool
                    .ledger()
                    .refuse_paid_today(&grant.key.id(), pool.now())?;
                if news {
                    let message = format!(
                        "account {account} has no credits for paid models ({model} was refused), so its chains use free models today; the key stays in use — add credits at https://openrouter.ai/settings/credits"
                    );
                    if let Some(a) =
                        alerts::fire(pool, Rule::PaidRefused, &account, message, pool.now())?
                    {
                        on(Progress::Alert(&a));
                    }
                }
            }
        }
        run.dropped.insert(model.to_string());
        Ok(())
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

    /// Records a key penalty and fires its alert.
    fn penalize(
        &self,
        grant: &Grant,
        penalty: KeyPenalty,
        f: &ApiFailure,
        on: &mut impl FnMut(Progress<'_>),
    ) -> Result<()> {
        let pool = self.instance.pool();
        let ledger = pool.ledger();
        let key = grant.key.id();
        let now = pool.now();
        let note = Some(f.message.as_str());
        let rule = match penalty {
            KeyPenalty::Invalid => {
                ledger.set_key_status(&key, KeyStatus::Invalid, None, note)?;
                Rule::KeyInvalid
            }
            KeyPenalty::NoCredit => {
                ledger.set_key_status(&key, KeyStatus::NoCredit, None, note)?;
                Rule::NoCredit
            }
            KeyPenalty::SpendLimit => {
                let until = f.reset_at.unwrap_or_else(|| next_utc_midnight(now));
                ledger.set_key_status(&key, KeyStatus::SpendLimited, Some(until), note)?;
                Rule::SpendLimited
            }
            KeyPenalty::AccountDailyExhausted => {
                let until = f
                    .reset_at
                    .filter(|t| *t > now)
                    .unwrap_or_else(|| next_utc_midnight(now));
                ledger.mark_account_exhausted(&grant.reservation.account, until, now)?;
                Rule::AccountSpent
            }
        };
        if let Some(a) = alerts::key_refused(pool, &key, rule, &f.message)? {
            on(Progress::Alert(&a));
        }
        Ok(())
    }
}

impl Run {
    fn new(schedule: RetrySchedule, timings: Arc<Timings>) -> Self {
        Run {
            sent: 0,
            charged: 0,
            on_model: 0,
            in_flight_waits: 0,
            fallbacks: 0,
            waited: Duration::ZERO,
            timings,
            schedule,
            dropped: HashSet::new(),
            current: None,
            notes: Vec::new(),
            refreshed: false,
        }
    }
}

impl ClientConfig {
    /// The HTTP client settings for these settings (base URL, attribution, timeouts).
    pub fn from_settings(s: &Settings) -> ClientConfig {
        let timeout = Duration::from_secs(s.timeout_secs.max(1));
        ClientConfig {
            base_url: s.base_url.clone(),
            referer: s.referer.clone(),
            title: s.title.clone(),
            first_byte_timeout: timeout,
            idle_stream_timeout: timeout,
            request_timeout: timeout.max(Duration::from_secs(300)).min(timeout * 5),
            stream_deadline: Duration::from_secs(s.stream_deadline_secs.max(1)),
            ..ClientConfig::default()
        }
    }
}

/// The HTTP client settings for these settings (kept for callers of the old name).
pub fn client_config(s: &Settings) -> ClientConfig {
    ClientConfig::from_settings(s)
}

/// Sleeps for `wait` unless cancelled first; the time slept counts as paused.
async fn pause(wait: Duration, cancel: &CancelToken, run: &Run) -> Result<()> {
    let _paused = run.timings.span(true);
    tokio::select! {
        _ = tokio::time::sleep(wait) => Ok(()),
        _ = cancel.cancelled() => Err(Error::Cancelled),
    }
}

/// Completes a counted request and checks the after-request alert rules on what the
/// completion's own transaction read (`Ledger::complete_and_check`): one ledger transaction.
fn complete_and_alert(
    pool: &crate::pool::Pool,
    done: &crate::ledger::Reservation,
    c: &Completion,
) -> Result<Vec<Alert>> {
    let now = pool.now();
    let seen = pool
        .ledger()
        .complete_and_check(done, c, now, alerts::spike_check(pool))?;
    alerts::after_completion(pool, &done.key_id, &seen, now)
}

fn completion_ok(reply: &ChatReply, attempts: u32, fallback: bool, rotation: bool) -> Completion {
    let u = reply.usage.as_ref();
    Completion {
        state: RequestState::Done,
        status_class: crate::ledger::request_log::StatusClass::Ok,
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

fn final_error(f: &ApiFailure, now: chrono::DateTime<chrono::Utc>) -> Error {
    match f.class {
        FailureClass::Cancelled => Error::Cancelled,
        FailureClass::BadRequest | FailureClass::RequestTooHeavy => {
            Error::BadInput(failure_sentence_at(f, now))
        }
        _ => Error::Upstream(failure_sentence_at(f, now)),
    }
}

fn gave_up(f: &ApiFailure, run: &Run, now: chrono::DateTime<chrono::Utc>) -> Error {
    let n = run.sent;
    Error::Upstream(format!(
        "{} (gave up after {n} counted request{}; each attempt counts against the day's quota)",
        failure_sentence_at(f, now),
        if n == 1 { "" } else { "s" }
    ))
}

fn no_model_left(job: &Job, chain: &ResolvedChain, run: &Run) -> Error {
    let what = match job.kind {
        Kind::Ocr => "vision",
        Kind::Chat => "chat",
    };
    let reasons: Vec<String> = chain
        .entries
        .iter()
        .filter(|e| !e.included)
        .map(|e| format!("{}: {}", e.id, e.why))
        .collect();
    let left = if run.dropped.is_empty() {
        String::new()
    } else {
        let mut d: Vec<&String> = run.dropped.iter().collect();
        d.sort();
        format!(
            "; failed in this run: {}",
            d.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        )
    };
    Error::Upstream(format!(
        "no model of the {what} chain can be used now ({}{left}); choose one with --model or in settings",
        if reasons.is_empty() {
            "the chain is empty".to_string()
        } else {
            reasons.join("; ")
        }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chains::ModelChoice;
    use crate::keys::MemoryStore;
    use crate::ledger::request_log::LogFilter;
    use crate::pool::{Pool, PoolOptions};
    use crate::{Settings, SystemClock};

    /// The answer is heard (`Progress::Answered`) while its request row is still reserved,
    /// and `run` returns the same outcome once the completion is written.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_answer_is_heard_before_its_completion_is_written() {
        let mock = keywheel_mock::MockServer::start(keywheel_mock::MockConfig::default())
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let pool = Pool::open(PoolOptions {
            settings: Settings {
                data_dir: dir.path().to_path_buf(),
                base_url: mock.base_url(),
                keychain: false,
                ..Settings::default()
            },
            clock: Arc::new(SystemClock),
            store: Arc::new(MemoryStore::default()),
            env_keys: Some(format!("sk-or-v1-{}", "01".repeat(32))),
        })
        .unwrap();
        let d = Dispatcher::new(Arc::new(pool.start_instance("test").unwrap())).unwrap();
        let model = "deepseek/deepseek-r1-0528:free";
        let states = |p: &Pool| -> Vec<RequestState> {
            p.ledger()
                .request_log(&LogFilter::default())
                .unwrap()
                .into_iter()
                .map(|r| r.state)
                .collect()
        };
        let mut heard = Vec::new();
        let out = d
            .run(
                Job {
                    kind: Kind::Chat,
                    request: ChatRequest::text(model, "hello"),
                    models: ModelChoice::Pinned(vec![model.to_string()]),
                    stream: false,
                    use_cache: false,
                },
                |p| {
                    if let Progress::Answered(o) = p {
                        heard.push((o.content.clone(), o.attempts, states(&pool)));
                    }
                },
                &CancelToken::new(),
            )
            .await
            .unwrap();
        assert_eq!(
            heard,
            [(out.content.clone(), 1, vec![RequestState::Reserved])],
            "heard once, before the completion"
        );
        assert!(!out.content.is_empty());
        assert_eq!(states(&pool), [RequestState::Done]);
        assert!(pool.ledger().inconsistencies().unwrap().is_empty());
    }
}
