//! What the full request path costs on top of the HTTP call itself: `Dispatcher::run` with a
//! non-streaming chat job (read the day's skipped models, reserve in SQLite, send, parse,
//! complete in SQLite) against a bare `reqwest` POST of the same JSON body to the same
//! keywheel-mock endpoint with the same key (its JSON answer parsed into `ChatResponse` too).
//!
//! Run: `cargo bench -p keywheel-core --bench request_path` (release; about 30–60 s).
//!
//! One run measures p50, p99 and throughput at concurrency 1 and 32 (32 tasks on a 2-worker
//! multi-thread tokio runtime) and prints the ADDED p50/p99 (full − bare); the target is an
//! added p50 ≤ 0.5 ms. keywheel-mock answers with 0 ms latency on its own thread and runtime
//! (`start_blocking`), but it shares the machine's cores with the client, so absolute numbers
//! include the server's work; the difference between the two paths does not.
//!
//! Caps never bind: the mock's per-account limits and the pool's daily and per-minute caps are
//! huge, the rotation threshold too, and the cache is off. Bare and full runs alternate in two
//! halves each, so drift (the ledger file growing, CPU frequency) hits both alike. A breakdown
//! follows: each step of the full path measured on its own at concurrency 1 (the `OpenRouter`
//! client without the ledger; the ledger's reserve + complete transactions on a key with an
//! empty per-minute window and on the bench key whose window holds every request of the run;
//! the skipped-models read), then ledger reserve + complete from 32 tasks.
//!
//! `KW_BENCH_SCALE=0.25` (any factor) scales the request counts for a quicker look.

use std::error::Error as StdError;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use keywheel_core::dispatch::{Dispatcher, Job, Kind};
use keywheel_core::keys::{ApiKey, OsKeychain};
use keywheel_core::ledger::{Completion, ReserveOutcome, ReserveRequest};
use keywheel_core::openrouter::{CancelToken, ChatRequest, ChatResponse, OpenRouter};
use keywheel_core::pool::{Instance, Pool, PoolOptions, Reserve};
use keywheel_core::{Settings, SystemClock};
use keywheel_mock::MockConfig;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};

type AnyResult<T> = Result<T, Box<dyn StdError + Send + Sync>>;

const KEYS: u64 = 8;
const WARMUP: usize = 300;
const N_C1: usize = 2000;
const N_C32: usize = 4000;
const N_STEP: usize = 2000;
const HUGE: u32 = u32::MAX / 2;
const TARGET_ADDED_P50_MS: f64 = 0.5;

/// Everything a request needs, shared by all tasks.
struct Ctx {
    dispatcher: Dispatcher,
    instance: Arc<Instance>,
    http: reqwest::Client,
    client: OpenRouter,
    url: String,
    key: ApiKey,
    fresh_key: ApiKey,
    request: ChatRequest,
    body: Bytes,
    cancel: CancelToken,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Path {
    /// reqwest POST + parse.
    Bare,
    /// `Dispatcher::run`.
    Full,
    /// `OpenRouter::chat` alone (no ledger).
    Client,
}

impl Ctx {
    async fn one(&self, path: Path) -> AnyResult<()> {
        match path {
            Path::Bare => {
                let resp = self
                    .http
                    .post(&self.url)
                    .bearer_auth(self.key.expose())
                    .header(CONTENT_TYPE, "application/json")
                    .body(self.body.clone())
                    .send()
                    .await?;
                let status = resp.status();
                let bytes = resp.bytes().await?;
                let parsed: ChatResponse = serde_json::from_slice(&bytes)?;
                if !status.is_success() || parsed.choices.is_empty() {
                    return Err(format!("bare request answered {status}").into());
                }
            }
            Path::Full => {
                let job = Job { kind: Kind::Chat, request: self.request.clone(), stream: false, use_cache: false };
                let o = self.dispatcher.run(job, |_| {}, &self.cancel).await?;
                if o.attempts != 1 || o.fallbacks != 0 || o.content.is_empty() {
                    return Err(format!("unexpected outcome: {} attempts, {} fallbacks", o.attempts, o.fallbacks).into());
                }
            }
            Path::Client => {
                let reply = self.client.chat(&self.key, &self.request).await.map_err(|f| f.message)?;
                if reply.content.is_empty() {
                    return Err("empty answer".into());
                }
            }
        }
        Ok(())
    }
}

/// Latencies of one case and the wall time they took.
#[derive(Default)]
struct Sample {
    lat: Vec<Duration>,
    wall: Duration,
}

impl Sample {
    fn add(&mut self, other: Sample) {
        self.lat.extend(other.lat);
        self.wall += other.wall;
    }

    fn pct(&self, p: f64) -> f64 {
        let mut v: Vec<Duration> = self.lat.clone();
        v.sort_unstable();
        if v.is_empty() {
            return f64::NAN;
        }
        let i = ((v.len() as f64 - 1.0) * p).round() as usize;
        v[i].as_secs_f64() * 1e3
    }

    fn rps(&self) -> f64 {
        self.lat.len() as f64 / self.wall.as_secs_f64()
    }
}

/// Runs `n` operations from `c` tasks (each takes the next number until `n` are done).
async fn drive<F, Fut>(c: usize, n: usize, op: F) -> AnyResult<Sample>
where
    F: Fn() -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = AnyResult<()>> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(c);
    for _ in 0..c {
        let next = next.clone();
        let op = op.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(n / c + 1);
            while next.fetch_add(1, Ordering::Relaxed) < n {
                let t = Instant::now();
                op().await?;
                lat.push(t.elapsed());
            }
            AnyResult::Ok(lat)
        }));
    }
    let mut lat = Vec::with_capacity(n);
    for t in tasks {
        lat.extend(t.await??);
    }
    Ok(Sample { lat, wall: started.elapsed() })
}

async fn run_path(ctx: &Arc<Ctx>, path: Path, c: usize, n: usize) -> AnyResult<Sample> {
    let ctx = ctx.clone();
    drive(c, n, move || {
        let ctx = ctx.clone();
        async move { ctx.one(path).await }
    })
    .await
}

/// Ledger reserve + complete through the instance (as `Dispatcher::run` does), from `c` tasks.
async fn run_ledger(ctx: &Arc<Ctx>, c: usize, n: usize) -> AnyResult<Sample> {
    let ctx = ctx.clone();
    drive(c, n, move || {
        let ctx = ctx.clone();
        async move {
            match ctx.instance.try_reserve("chat", Some(&ctx.request.model))? {
                Reserve::Granted(g) => ctx.instance.complete(&g, &Completion::ok())?,
                Reserve::Wait(_) => return Err("unexpected per-minute wait".into()),
            }
            Ok(())
        }
    })
    .await
}

/// Synchronous loop of `op`, `n` times, timing each.
fn time_sync(n: usize, mut op: impl FnMut() -> AnyResult<()>) -> AnyResult<Sample> {
    let started = Instant::now();
    let mut lat = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        op()?;
        lat.push(t.elapsed());
    }
    Ok(Sample { lat, wall: started.elapsed() })
}

fn scale() -> f64 {
    std::env::var("KW_BENCH_SCALE").ok().and_then(|v| v.parse().ok()).filter(|s: &f64| *s > 0.0).unwrap_or(1.0)
}

fn scaled(n: usize) -> usize {
    ((n as f64 * scale()) as usize).max(64)
}

fn row(label: &str, c: usize, s: &Sample) {
    println!("{label:<46} {c:>3} {:>7} {:>9.3} {:>9.3} {:>10.0}", s.lat.len(), s.pct(0.50), s.pct(0.99), s.rps());
}

fn header(title: &str) {
    println!("\n{title}");
    println!("{:<46} {:>3} {:>7} {:>9} {:>9} {:>10}", "case", "c", "n", "p50 ms", "p99 ms", "req/s");
    println!("{}", "-".repeat(89));
}

fn main() -> AnyResult<()> {
    let total = Instant::now();
    let mock = keywheel_mock::start_blocking(MockConfig::default().with_limits(HUGE, HUGE))?;
    let dir = tempfile::tempdir()?;
    let settings = Settings {
        data_dir: dir.path().to_path_buf(),
        base_url: mock.base_url(),
        daily_cap: HUGE,
        minute_cap: HUGE,
        rotate_after: HUGE,
        keychain: false,
        cache_chat: false,
        cache_ocr: false,
        ..Settings::default()
    };
    let raw_keys: Vec<String> = (1..=KEYS).map(|i| format!("sk-or-v1-{:064x}", 0xbe00 + i)).collect();
    let pool = Pool::open(PoolOptions {
        settings: settings.clone(),
        clock: Arc::new(SystemClock),
        store: Arc::new(OsKeychain::disabled()),
        env_keys: Some(raw_keys.join(",")),
    })?;
    let instance = Arc::new(pool.start_instance("bench")?);
    let key_id = instance.key().ok_or("the bench instance adopted no key")?;
    let key = pool.ring().get(&key_id).cloned().ok_or("adopted key not in the ring")?;
    let fresh_key = pool.ring().iter().map(|(k, _)| k.clone()).find(|k| k.id() != key_id).ok_or("need a 2nd key")?;
    let dispatcher = Dispatcher::new(instance.clone())?;
    let client = dispatcher.client().clone();

    let request = ChatRequest::text(
        settings.chat_models[0].clone(),
        "Summarise in one sentence why teams that write decisions down work well across time zones.",
    );
    // The body `OpenRouter::chat` sends: the request with `stream: false`.
    let mut v = serde_json::to_value(&request)?;
    v["stream"] = serde_json::Value::Bool(false);
    let body = Bytes::from(serde_json::to_vec(&v)?);
    // Same default headers as the keywheel client (user agent, attribution).
    let mut headers = HeaderMap::new();
    if let Some(t) = &settings.title {
        headers.insert(HeaderName::from_static("x-openrouter-title"), HeaderValue::from_str(t)?);
        headers.insert(HeaderName::from_static("x-title"), HeaderValue::from_str(t)?);
    }
    let http = reqwest::Client::builder()
        .use_rustls_tls()
        .user_agent(concat!("keywheel/", env!("CARGO_PKG_VERSION")))
        .default_headers(headers)
        .build()?;
    let url = format!("{}/chat/completions", settings.base_url);
    let ctx = Arc::new(Ctx {
        dispatcher,
        instance,
        http,
        client,
        url,
        key,
        fresh_key,
        request,
        body,
        cancel: CancelToken::new(),
    });

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    println!(
        "request path vs bare reqwest — keywheel-mock {} (0 ms latency, own 2-thread runtime), ledger {}, {} cores",
        mock.base_url(),
        settings.db_path().display(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("bench key {key_id}; body {} bytes; model {}", ctx.body.len(), ctx.request.model);

    let (n1, n32, nstep, warm) = (scaled(N_C1), scaled(N_C32), scaled(N_STEP), scaled(WARMUP));
    let results = rt.block_on(async {
        for c in [1, 32] {
            for p in [Path::Bare, Path::Full, Path::Client] {
                run_path(&ctx, p, c, warm).await?;
            }
        }
        let mut out = Vec::new();
        for (c, n) in [(1usize, n1), (32, n32)] {
            let (mut bare, mut full) = (Sample::default(), Sample::default());
            for _ in 0..2 {
                bare.add(run_path(&ctx, Path::Bare, c, n / 2).await?);
                full.add(run_path(&ctx, Path::Full, c, n / 2).await?);
            }
            out.push((c, bare, full));
        }
        AnyResult::Ok(out)
    })?;

    header("main comparison");
    for (c, bare, full) in &results {
        row("bare reqwest POST + parse", *c, bare);
        row("full path (Dispatcher::run, non-streaming)", *c, full);
    }
    println!("\nadded by the full path (full − bare)");
    println!("{:>3}  {:>13}  {:>13}  {:>18}  target added p50 ≤ {TARGET_ADDED_P50_MS} ms", "c", "added p50 ms", "added p99 ms", "throughput full/bare");
    for (c, bare, full) in &results {
        let added50 = full.pct(0.5) - bare.pct(0.5);
        let verdict = if added50 <= TARGET_ADDED_P50_MS { "met" } else { "MISSED" };
        println!(
            "{c:>3}  {added50:>13.3}  {:>13.3}  {:>17.0}%  {verdict}",
            full.pct(0.99) - bare.pct(0.99),
            100.0 * full.rps() / bare.rps()
        );
    }

    // Where the time goes: each step alone.
    header("breakdown: each step of the full path alone");
    let client1 = rt.block_on(run_path(&ctx, Path::Client, 1, nstep))?;
    row("OpenRouter::chat alone (no ledger)", 1, &client1);
    let ledger = pool.ledger().clone();
    let inst_id = ctx.instance.id().to_string();
    let fresh_id = ctx.fresh_key.id();
    let window_rows = ledger.key_states(std::slice::from_ref(&key_id), pool.now())?.first().map_or(0, |s| s.today);
    let mut reserve_complete = |key: &keywheel_core::KeyId| -> AnyResult<()> {
        let now = pool.now();
        match ledger.reserve(&ReserveRequest { instance_id: &inst_id, key_id: key, kind: "chat", model: None, now })? {
            ReserveOutcome::Granted(r) => ledger.complete(&r, &Completion::ok(), pool.now())?,
            other => return Err(format!("reserve answered {other:?}").into()),
        }
        Ok(())
    };
    let fresh = time_sync(nstep, || reserve_complete(&fresh_id))?;
    row(&format!("ledger reserve+complete, window 0→{nstep} rows"), 1, &fresh);
    let busy = time_sync(nstep, || reserve_complete(&key_id))?;
    row(&format!("ledger reserve+complete, window ≈{window_rows} rows"), 1, &busy);
    let mut reserve_only = Sample::default();
    let mut complete_only = Sample::default();
    for _ in 0..nstep {
        let t = Instant::now();
        let ReserveOutcome::Granted(r) =
            ledger.reserve(&ReserveRequest { instance_id: &inst_id, key_id: &fresh_id, kind: "chat", model: None, now: pool.now() })?
        else {
            return Err("reserve refused".into());
        };
        let t2 = Instant::now();
        ledger.complete(&r, &Completion::ok(), pool.now())?;
        reserve_only.lat.push(t2 - t);
        complete_only.lat.push(t2.elapsed());
        reserve_only.wall += t2 - t;
        complete_only.wall += t2.elapsed();
    }
    row("  of which reserve (BEGIN IMMEDIATE … COMMIT)", 1, &reserve_only);
    row("  of which complete (BEGIN IMMEDIATE … COMMIT)", 1, &complete_only);
    let skipped = time_sync(nstep, || {
        ledger.skipped_models(pool.now())?;
        Ok(())
    })?;
    row("ledger skipped_models read", 1, &skipped);
    let ledger32 = rt.block_on(run_ledger(&ctx, 32, nstep))?;
    row("ledger reserve+complete via Instance, 32 tasks", 32, &ledger32);
    let client32 = rt.block_on(run_path(&ctx, Path::Client, 32, nstep))?;
    row("OpenRouter::chat alone (no ledger)", 32, &client32);

    let stats = mock.stats();
    println!(
        "\nmock served {} chat requests; every one answered 200: {}",
        stats.total_requests,
        stats.keys.values().all(|k| k.status.keys().all(|s| s == "200"))
    );
    println!("total bench time {:.1} s", total.elapsed().as_secs_f64());
    drop(rt);
    Ok(())
}
