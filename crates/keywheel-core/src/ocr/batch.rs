//! A batch of images: jobs planned against today's quota, run with bounded concurrency,
//! resumed on the next run.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use futures_util::StreamExt as _;
use serde::Serialize;

use std::sync::atomic::Ordering;

use crate::cache;
use crate::chains::ModelChoice;
use crate::clock::describe_reset;
use crate::dispatch::{Dispatcher, Job, Kind, Progress};
use crate::error::{Error, Result};
use crate::ledger::jobs::{JobAnswer, JobKey, JobRow, JobStatus};
use crate::openrouter::{CancelToken, ChatRequest};
use crate::pool::Pool;
use crate::progress::{Note, Notice};

use super::local::{LOCAL_LABEL, tesseract_text};
use super::plan::{QuotaPlan, budget};
use super::{Input, OcrOptions, request};

/// The chain key of jobs whose models are resolved from the catalogue (not pinned).
const RESOLVED_CHAIN: &str = "@vision";

/// What a running batch reports, for progress bars and logs.
#[derive(Debug, Clone)]
pub enum Event<'a> {
    /// A tile reached its state for this run (done, waiting, queued or failed).
    Finished {
        /// The image's caller id ([`Input::caller_id`]).
        caller_id: u64,
        /// The image's file name.
        file: &'a str,
        /// The tile, from 0.
        tile: usize,
        /// How many tiles the image has.
        of: usize,
        /// Its status now.
        status: JobStatus,
        /// Read by the local engine.
        local: bool,
        /// Served without spending quota (an earlier run, or the cache).
        free: bool,
    },
    /// Something worth a line: a retry, a key fallback, a wait for a per-minute slot, a tile
    /// read locally instead; structured, with its sentence.
    Note(Note),
}

crate::vocab::stored_enum! {
    /// Why an image (a tile) is not done: stored in its job row as this word.
    pub enum ErrorClass (unknown reads as Upstream) {
        /// Today's quota is spent; it waits for the reset.
        Quota,
        /// No key can serve at all.
        NoUsableKey,
        /// It would have been read locally, but the local engine (tesseract) is not installed.
        LocalMissing,
        /// The run was cancelled.
        Cancelled,
        /// The model refused the input.
        BadInput,
        /// OpenRouter kept failing.
        Upstream,
        /// The local engine failed on it.
        Local,
        /// The ledger or the file system failed.
        Storage,
    }
}

/// What happened to one image.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ImageResult {
    /// The image's caller id ([`Input::caller_id`]); not sent to a web view (the app sends
    /// its own id beside the result).
    #[serde(skip)]
    #[cfg_attr(feature = "ts", ts(skip))]
    pub caller_id: u64,
    /// The file name as given.
    pub file: String,
    /// `done` when every tile is; otherwise the least finished tile's status.
    pub status: JobStatus,
    /// The Markdown (when done).
    pub text: Option<String>,
    /// The model that answered (`tesseract` for the local engine).
    pub model: Option<String>,
    /// The key that paid, if one did.
    pub key_id: Option<String>,
    /// No quota was spent for it in this run (the cache, or an earlier run).
    pub cached: bool,
    /// Read by the local engine.
    pub local: bool,
    /// `local OCR (tesseract)` when read locally.
    pub label: Option<&'static str>,
    /// Every tile was done by an earlier run.
    pub resumed: bool,
    /// Width of the (first) image sent.
    pub width: u32,
    /// Height of the (first) image sent.
    pub height: u32,
    /// Tiles (requests) the image needs.
    pub tiles: usize,
    /// Requests sent for it in this run.
    pub requests: u32,
    /// Why it is not done, as a class.
    pub error_class: Option<ErrorClass>,
    /// Why it is not done, as a sentence.
    pub error: Option<String>,
    /// For a waiting image: when quota frees.
    pub wait_until: Option<DateTime<Utc>>,
}

/// A job's state if it is left unanswered.
#[derive(Debug, Clone)]
struct Unfinished {
    status: JobStatus,
    class: ErrorClass,
    message: String,
    wait_until: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
enum Route {
    /// Done in an earlier run.
    Done,
    /// Send it (or read it from the response cache).
    Model,
    /// The local engine; if it is missing, leave the job as `otherwise`.
    Local { otherwise: Unfinished },
    /// Leave it unanswered.
    Leave(Unfinished),
}

#[derive(Debug, Clone)]
struct PlannedJob {
    row: JobRow,
    input: usize,
    tile: usize,
    request: ChatRequest,
    route: Route,
}

/// A planned batch. Make it with [`Batch::plan`], show [`Batch::quota`], then [`Batch::run`].
#[derive(Debug)]
pub struct Batch {
    pool: Pool,
    inputs: Vec<Input>,
    opts: OcrOptions,
    jobs: Vec<PlannedJob>,
    /// For each input, its tiles' indices into `jobs`, in reading order.
    per_input: Vec<Vec<usize>>,
    plan: QuotaPlan,
}

impl Batch {
    /// Registers a job per tile (finding the ones earlier runs did), and decides which tiles
    /// are sent, read from the cache, handed to the local engine, or left to wait. Spends
    /// nothing.
    pub fn plan(pool: &Pool, inputs: Vec<Input>, opts: OcrOptions) -> Result<Batch> {
        let mut opts = opts;
        opts.concurrency = opts.concurrency.max(1);
        // A resolved chain changes with the catalogue, so its jobs are keyed by purpose: a tile
        // read once is never paid again because OpenRouter's list moved on.
        let (chain_key, pinned) = match &opts.models {
            ModelChoice::Pinned(list) => (list.join(","), list.clone()),
            ModelChoice::Default | ModelChoice::Prefer(_) => {
                (RESOLVED_CHAIN.to_string(), Vec::new())
            }
        };
        let ledger = pool.ledger();
        let now = pool.now();

        let mut jobs: Vec<PlannedJob> = Vec::new();
        let mut by_id: HashMap<i64, usize> = HashMap::new();
        let mut per_input = Vec::with_capacity(inputs.len());
        for (i, input) in inputs.iter().enumerate() {
            let mut mine = Vec::new();
            for tile in &input.prepared.tiles {
                let key = JobKey {
                    content_hash: &input.prepared.content_hash,
                    tile_index: tile.index,
                    tiles: tile.of,
                    chain: &chain_key,
                };
                let mut row = ledger.job_upsert(&key, &input.file, tile.width, tile.height, now)?;
                if row.status != JobStatus::Done
                    && pinned.is_empty()
                    && let Some(done) =
                        ledger.job_find_done(&input.prepared.content_hash, tile.index, tile.of)?
                {
                    row = done;
                }
                let at = *by_id.entry(row.id).or_insert_with(|| {
                    jobs.push(PlannedJob {
                        route: if row.status == JobStatus::Done {
                            Route::Done
                        } else {
                            Route::Model
                        },
                        request: request(tile, &pinned),
                        row,
                        input: i,
                        tile: tile.index,
                    });
                    jobs.len() - 1
                });
                mine.push(at);
            }
            per_input.push(mine);
        }

        let done = jobs
            .iter()
            .filter(|j| matches!(j.route, Route::Done))
            .count();
        let mut cached = 0;
        let mut needing = Vec::new();
        for (n, job) in jobs
            .iter()
            .enumerate()
            .filter(|(_, j)| matches!(j.route, Route::Model))
        {
            let hit = opts.use_cache
                && ledger
                    .cache_get(&cache::key(Kind::Ocr.as_str(), &job.request), now)?
                    .is_some();
            if hit {
                cached += 1;
            } else {
                needing.push(n);
            }
        }
        let budget = budget(pool)?;
        let send = if budget.no_key.is_some() {
            0
        } else {
            needing.len().min(budget.left as usize)
        };
        let otherwise = match &budget.no_key {
            Some(why) => Unfinished {
                status: JobStatus::Queued,
                class: ErrorClass::NoUsableKey,
                message: why.clone(),
                wait_until: None,
            },
            None => Unfinished {
                status: JobStatus::Waiting,
                class: ErrorClass::Quota,
                message: format!(
                    "no quota left today; it frees at {}",
                    describe_reset(budget.reset_at, now)
                ),
                wait_until: Some(budget.reset_at),
            },
        };
        for &n in &needing[send..] {
            jobs[n].route = if opts.local_fallback {
                Route::Local {
                    otherwise: otherwise.clone(),
                }
            } else {
                Route::Leave(otherwise.clone())
            };
        }
        let over = needing.len() - send;
        let plan = QuotaPlan {
            images: inputs.len(),
            tiles: jobs.len(),
            done,
            cached,
            needed: needing.len(),
            left: budget.left,
            send,
            over,
            over_to_local: opts.local_fallback && over > 0,
            reset_at: (budget.no_key.is_none() && over > 0).then_some(budget.reset_at),
            no_key: budget.no_key,
            now,
        };
        Ok(Batch {
            pool: pool.clone(),
            inputs,
            opts,
            jobs,
            per_input,
            plan,
        })
    }

    /// The quota plan.
    pub fn quota(&self) -> &QuotaPlan {
        &self.plan
    }

    /// How many tiles (jobs) the batch has; the length of a progress bar.
    pub fn tiles(&self) -> usize {
        self.jobs.len()
    }

    /// Whether any tile will be sent to a model (so an instance and a dispatcher are needed).
    pub fn sends(&self) -> bool {
        self.jobs.iter().any(|j| matches!(j.route, Route::Model))
    }

    /// Runs the batch: at most `concurrency` tiles at once. A tile that fails is marked and
    /// the others go on. Returns one result per input, in order.
    pub async fn run(
        &self,
        dispatcher: Option<&Dispatcher>,
        on: &(dyn Fn(Event<'_>) + Sync),
        cancel: &CancelToken,
    ) -> Result<Vec<ImageResult>> {
        let ledger = self.pool.ledger();
        let mut requests = vec![0u32; self.jobs.len()];
        for job in &self.jobs {
            match &job.route {
                Route::Done => self.finished(job, on, JobStatus::Done, job.row.local, true),
                Route::Leave(u) => {
                    ledger.job_unfinished(
                        job.row.id,
                        u.status,
                        u.class.as_str(),
                        &u.message,
                        u.wait_until,
                        self.pool.now(),
                    )?;
                    self.finished(job, on, u.status, false, false);
                }
                Route::Model | Route::Local { .. } => {}
            }
        }
        let work = self
            .jobs
            .iter()
            .enumerate()
            .filter(|(_, j)| matches!(j.route, Route::Model | Route::Local { .. }))
            .map(|(n, job)| async move {
                self.run_job(job, dispatcher, on, cancel)
                    .await
                    .map(|sent| (n, sent))
            });
        let mut stream = futures_util::stream::iter(work).buffer_unordered(self.opts.concurrency);
        let mut first_error = None;
        while let Some(r) = stream.next().await {
            match r {
                Ok((n, sent)) => requests[n] = sent,
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        self.results(&requests)
    }

    fn finished(
        &self,
        job: &PlannedJob,
        on: &(dyn Fn(Event<'_>) + Sync),
        status: JobStatus,
        local: bool,
        free: bool,
    ) {
        on(Event::Finished {
            caller_id: self.inputs[job.input].caller_id,
            file: &self.inputs[job.input].file,
            tile: job.tile,
            of: self.per_input[job.input].len(),
            status,
            local,
            free,
        });
    }

    /// Runs one job; returns the requests it sent.
    async fn run_job(
        &self,
        job: &PlannedJob,
        dispatcher: Option<&Dispatcher>,
        on: &(dyn Fn(Event<'_>) + Sync),
        cancel: &CancelToken,
    ) -> Result<u32> {
        let ledger = self.pool.ledger();
        let file = &self.inputs[job.input].file;
        let (instance_id, pid) = match dispatcher {
            Some(d) => (d.instance().id().to_string(), std::process::id()),
            None => (String::new(), std::process::id()),
        };
        if let Err(row) = ledger.job_claim(job.row.id, &instance_id, pid, self.pool.now())? {
            // Done meanwhile, or another live run holds it.
            self.finished(job, on, row.status, row.local, true);
            return Ok(0);
        }
        let otherwise = match (&job.route, dispatcher) {
            (Route::Local { otherwise }, _) => {
                return self.run_local(job, otherwise, on).await.map(|()| 0);
            }
            (_, None) => {
                return Err(Error::Usage(
                    "a batch that sends requests needs a dispatcher".into(),
                ));
            }
            (_, Some(d)) => {
                let task = Job {
                    kind: Kind::Ocr,
                    request: job.request.clone(),
                    models: self.opts.models.clone(),
                    stream: false,
                    use_cache: self.opts.use_cache,
                };
                let sent = std::sync::atomic::AtomicU32::new(0);
                let tile = format!(
                    "{file}{}",
                    tile_suffix(job.tile, self.per_input[job.input].len())
                );
                let notes = |p: Progress<'_>| match p {
                    Progress::Sent { requests } => sent.store(requests, Ordering::Relaxed),
                    // Alerts and model notes are about the pool, not this tile.
                    Progress::Alert(_) | Progress::Note(_) => p
                        .notice()
                        .into_iter()
                        .for_each(|n| on(Event::Note(Note::new(n)))),
                    p => p
                        .notice()
                        .into_iter()
                        .for_each(|n| on(Event::Note(Note::about(n, tile.clone())))),
                };
                match d.run(task, notes, cancel).await {
                    Ok(o) => {
                        let key = o.key_id.as_ref().map(|k| k.as_str().to_string());
                        let answer = JobAnswer {
                            result: &o.content,
                            model: o.model.as_deref(),
                            key_id: key.as_deref(),
                            cached: o.cached,
                            local: false,
                        };
                        ledger.job_done(job.row.id, &answer, self.pool.now())?;
                        self.finished(job, on, JobStatus::Done, false, o.cached);
                        return Ok(o.requests());
                    }
                    Err(e) => {
                        let fallback = matches!(
                            e,
                            Error::QuotaExhausted { .. }
                                | Error::NoUsableKey(_)
                                | Error::Upstream(_)
                        );
                        let u = unfinished(e);
                        if self.opts.local_fallback && fallback {
                            on(Event::Note(Note::about(
                                Notice::Local {
                                    reason: u.message.clone(),
                                },
                                tile.clone(),
                            )));
                            self.run_local(job, &u, on).await?;
                            return Ok(sent.load(Ordering::Relaxed));
                        }
                        (u, sent.load(Ordering::Relaxed))
                    }
                }
            }
        };
        let (otherwise, spent) = otherwise;
        ledger.job_unfinished(
            job.row.id,
            otherwise.status,
            otherwise.class.as_str(),
            &otherwise.message,
            otherwise.wait_until,
            self.pool.now(),
        )?;
        self.finished(job, on, otherwise.status, false, false);
        Ok(spent)
    }

    async fn run_local(
        &self,
        job: &PlannedJob,
        otherwise: &Unfinished,
        on: &(dyn Fn(Event<'_>) + Sync),
    ) -> Result<()> {
        let ledger = self.pool.ledger();
        let tile = &self.inputs[job.input].prepared.tiles[job.tile];
        match tesseract_text(tile).await {
            Ok(text) => {
                let answer = JobAnswer {
                    result: &text,
                    model: Some("tesseract"),
                    key_id: None,
                    cached: false,
                    local: true,
                };
                ledger.job_done(job.row.id, &answer, self.pool.now())?;
                self.finished(job, on, JobStatus::Done, true, true);
            }
            Err(Error::ToolMissing(hint)) => {
                let message = format!("{}; {hint}", otherwise.message);
                ledger.job_unfinished(
                    job.row.id,
                    otherwise.status,
                    ErrorClass::LocalMissing.as_str(),
                    &message,
                    otherwise.wait_until,
                    self.pool.now(),
                )?;
                self.finished(job, on, otherwise.status, false, false);
            }
            Err(e @ (Error::Db(_) | Error::Pool(_) | Error::Migration(_))) => return Err(e),
            Err(e) => {
                ledger.job_unfinished(
                    job.row.id,
                    JobStatus::Failed,
                    ErrorClass::Local.as_str(),
                    &e.to_string(),
                    None,
                    self.pool.now(),
                )?;
                self.finished(job, on, JobStatus::Failed, true, false);
            }
        }
        Ok(())
    }

    fn results(&self, requests: &[u32]) -> Result<Vec<ImageResult>> {
        let ledger = self.pool.ledger();
        let mut rows: HashMap<usize, JobRow> = HashMap::new();
        for (n, job) in self.jobs.iter().enumerate() {
            let row = ledger.job(job.row.id)?.unwrap_or_else(|| job.row.clone());
            rows.insert(n, row);
        }
        let mut out = Vec::with_capacity(self.inputs.len());
        for (i, input) in self.inputs.iter().enumerate() {
            let mine: Vec<(&PlannedJob, &JobRow)> = self.per_input[i]
                .iter()
                .map(|&n| (&self.jobs[n], &rows[&n]))
                .collect();
            let status = mine
                .iter()
                .map(|(_, r)| r.status)
                .max()
                .unwrap_or(JobStatus::Done);
            let text = (status == JobStatus::Done).then(|| {
                let parts: Vec<String> = mine
                    .iter()
                    .map(|(_, r)| r.result.clone().unwrap_or_default())
                    .collect();
                keywheel_vision::join_markdown(&parts)
            });
            let local = mine.iter().any(|(_, r)| r.local);
            let resumed = mine.iter().all(|(j, _)| matches!(j.route, Route::Done));
            let sent: u32 = self.per_input[i].iter().map(|&n| requests[n]).sum();
            let problem = mine
                .iter()
                .map(|(_, r)| r)
                .filter(|r| r.status != JobStatus::Done)
                .max_by_key(|r| r.status);
            let first = &input.prepared.tiles[0];
            out.push(ImageResult {
                caller_id: input.caller_id,
                file: input.file.clone(),
                status,
                text,
                model: mine.iter().find_map(|(_, r)| r.model.clone()),
                key_id: mine.iter().find_map(|(_, r)| r.key_id.clone()),
                cached: status == JobStatus::Done && sent == 0 && !local,
                local,
                label: local.then_some(LOCAL_LABEL),
                resumed,
                width: first.width,
                height: first.height,
                tiles: input.prepared.tiles.len(),
                requests: sent,
                error_class: problem.and_then(|r| r.error_class.as_deref().map(ErrorClass::parse)),
                error: problem.and_then(|r| r.error.clone()),
                wait_until: problem.and_then(|r| r.wait_until),
            });
        }
        Ok(out)
    }

    /// The error a front end should exit with after the batch, if any image is not done:
    /// waiting for quota (exit 3, with the reset time), queued for lack of a usable key (4),
    /// failed (5, or 6 when the model refused the input).
    pub fn outcome_error(&self, results: &[ImageResult]) -> Option<Error> {
        let n = results.len();
        let count = |s: JobStatus| results.iter().filter(|r| r.status == s).count();
        let first = |s: JobStatus| results.iter().find(|r| r.status == s);
        let failed = count(JobStatus::Failed);
        let failed_note = first(JobStatus::Failed).map_or(String::new(), |r| {
            format!(
                "; {failed} failed ({}: {})",
                r.file,
                r.error.as_deref().unwrap_or("unknown error")
            )
        });
        let waiting = count(JobStatus::Waiting);
        if waiting > 0 {
            let reset_at = results
                .iter()
                .filter_map(|r| r.wait_until)
                .min()
                .unwrap_or_else(|| self.pool.now());
            let images = match (n, waiting) {
                (1, _) => "image is",
                (_, 1) => "images is",
                _ => "images are",
            };
            let local_missing = results.iter().any(|r| {
                r.status == JobStatus::Waiting && r.error_class == Some(ErrorClass::LocalMissing)
            });
            let hint = if local_missing {
                format!("; {}", super::local::INSTALL_HINT)
            } else {
                String::new()
            };
            return Some(Error::QuotaExhausted {
                message: format!(
                    "{waiting} of {n} {images} queued until {} because today's quota is spent; run the same command again after that to finish them (done images are not paid again){failed_note}{hint}",
                    describe_reset(reset_at, self.pool.now())
                ),
                reset_at,
            });
        }
        if let Some(r) = first(JobStatus::Queued) {
            let queued = count(JobStatus::Queued);
            let why = r.error.as_deref().unwrap_or("not started");
            let images = if n == 1 { "image" } else { "images" };
            let verb = if queued == 1 { "is" } else { "are" };
            let message =
                format!("{queued} of {n} {images} {verb} still queued: {why}{failed_note}");
            return Some(match r.error_class {
                Some(ErrorClass::Cancelled) => Error::Cancelled,
                _ => Error::NoUsableKey(message),
            });
        }
        if let Some(r) = first(JobStatus::Failed) {
            let message = format!(
                "{failed} of {n} image{} failed; run the same command again to retry only those ({}: {})",
                if n == 1 { "" } else { "s" },
                r.file,
                r.error.as_deref().unwrap_or("unknown error")
            );
            return Some(match r.error_class {
                Some(ErrorClass::BadInput) => Error::BadInput(message),
                _ => Error::Upstream(message),
            });
        }
        let running = count(JobStatus::Running);
        (running > 0).then(|| {
            Error::Upstream(format!(
                "{running} of {n} images are being read by another keywheel run right now; run the same command again when it has finished"
            ))
        })
    }
}

fn tile_suffix(tile: usize, of: usize) -> String {
    if of > 1 {
        format!(" (part {} of {of})", tile + 1)
    } else {
        String::new()
    }
}

fn unfinished(e: Error) -> Unfinished {
    let message = e.to_string();
    let (status, class, wait_until) = match &e {
        Error::QuotaExhausted { reset_at, .. } => {
            (JobStatus::Waiting, ErrorClass::Quota, Some(*reset_at))
        }
        Error::NoUsableKey(_) => (JobStatus::Queued, ErrorClass::NoUsableKey, None),
        Error::Cancelled => (JobStatus::Queued, ErrorClass::Cancelled, None),
        Error::BadInput(_) => (JobStatus::Failed, ErrorClass::BadInput, None),
        Error::Upstream(_) => (JobStatus::Failed, ErrorClass::Upstream, None),
        _ => (JobStatus::Failed, ErrorClass::Storage, None),
    };
    Unfinished {
        status,
        class,
        message,
        wait_until,
    }
}
