//! What the gateway adds: the same chat requests sent straight to keywheel-mock and through
//! `keywheel serve`'s code (in-process `Gateway::start`, the real ledger file, the real
//! dispatcher), at concurrency 1 and 32, JSON and SSE, with the mock answering after 0 ms and
//! after 20 ms.
//!
//! Run: `cargo bench -p keywheel-gateway --bench gateway` (release). `KW_BENCH_SCALE=0.25`
//! scales the request counts; `KW_BENCH_LATENCY=0|20`, `KW_BENCH_KIND=json|sse` and
//! `KW_BENCH_CONC=1|32` (comma-separated lists) run only the tables they name.
//!
//! Load generator: in-process tokio + reqwest (keep-alive connection pool; one client task per
//! concurrent stream of requests), on its own 2-worker runtime. The gateway runs on another
//! 2-worker runtime and the mock on a third (`start_blocking`), as three processes would; all
//! share this machine's cores, and the CPU column is this whole process's, so the "added CPU"
//! is the gateway's (and its ledger's) share. Caps never bind: the mock's limits, the pool's
//! daily and per-minute caps and the rotation threshold are huge; every request is reserved
//! and completed in the ledger. Direct, relay, forwarder and gateway runs alternate in two
//! halves each.
//!
//! The floors, measured in turn in the same run. The relay copies bytes between the client's
//! connection and one of its own to the mock, on plain threads, and parses nothing: what it
//! adds is the least a separate proxy process costs here (two more loopback hops and their
//! wake-ups). The bare forwarder is an axum server on
//! 127.0.0.1 with no Keywheel logic, on the gateway's runtime and served as the gateway's
//! server is (`axum::serve`, TCP_NODELAY). Its one handler sends the body to the mock with one
//! shared reqwest client, built as the core's OpenRouter client is, and returns the answer:
//! JSON whole, SSE chunk by chunk. That is what any HTTP proxy costs on this machine (a second
//! HTTP exchange and its wake-ups) before it does any work. Each table prints a floor block:
//! direct, relay, forwarder and gateway per figure, then "relay−dir" (any separate proxy's
//! least cost), "fwd−direct" (an HTTP proxy's cost) and "gw−fwd" (what Keywheel itself costs
//! beyond any proxy), plus a summary at the end.
//!
//! Printed per table: p50 / p99 latency (JSON: whole answer; SSE: whole stream), throughput,
//! CPU ms per request, SSE time to first chunk, and the added figures (gateway − direct); the
//! floor block also gives context switches per request (the whole process's threads: each
//! hand-off that puts a thread to sleep and wakes it again counts). Then
//! the ledger's own cost per request (reserve + complete on the same kind of ledger, alone)
//! and its share of the added p50, and the split of the added c=1 JSON time: the core request
//! path alone (the same job as a task on the gateway's runtime, no HTTP, beside direct
//! requests in turn) and the gateway's own rest (HTTP server, token check, parse, answer).
//! The core path is timed to its answer (`Progress::Answered`: the gateway answers before the
//! completion's ledger write, which goes on in the job's task); it is also run awaited on the
//! load generator's own runtime (as the core's request_path bench runs it), on this ledger and
//! on a fresh one. Each gateway table also prints the median `X-Keywheel-Overhead-Us`
//! (Keywheel's own time). With the system clock and a huge per-minute cap a key's window holds
//! every request of the last minute, which each reservation decodes and rewrites (the ledger
//! gets slower as a run goes on); `KW_BENCH_CLOCK=spread` gives every pool one clock that
//! moves 1 s a read (the request_path bench's table B: a dozen times in a window, as under
//! real caps).
//! `KW_BENCH_GW_WORKERS` sets the gateway runtime's workers (default 2, as `keywheel serve`
//! has here). `KW_BENCH_CALLGRIND=gateway|direct|core` (with `KW_BENCH_N` and
//! `KW_BENCH_MOCK_URL`) runs one path serially against an outside mock, for instruction
//! counts under callgrind (see `callgrind_run`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use keywheel_core::chains::ModelChoice;
use keywheel_core::dispatch::{Dispatcher, Job, Kind, Progress};
use keywheel_core::keys::OsKeychain;
use keywheel_core::ledger::Completion;
use keywheel_core::openrouter::{CancelToken, ChatRequest};
use keywheel_core::pool::{Pool, PoolOptions, Reserve};
use keywheel_core::{Settings, SystemClock};
use keywheel_gateway::{Gateway, GatewaySettings};
use keywheel_mock::MockConfig;
use serde_json::json;

const HUGE: u32 = u32::MAX / 4;
const KEYS: u8 = 8;

fn key(n: u8) -> String {
    format!("sk-or-v1-{}", format!("{n:02x}").repeat(32))
}

/// Whether a table's `value` is one to run: the environment variable `var` (a comma-separated
/// list, e.g. `KW_BENCH_LATENCY=20`, `KW_BENCH_KIND=json`, `KW_BENCH_CONC=1`) names it, or is
/// unset (every table runs).
fn only(var: &str, value: &str) -> bool {
    std::env::var(var).map_or(true, |v| v.split(',').any(|x| x.trim() == value))
}

fn scale(n: usize) -> usize {
    let f: f64 = std::env::var("KW_BENCH_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1.0);
    ((n as f64 * f) as usize).max(20)
}

/// Process CPU time (user + system) from /proc/self/stat, in ms.
fn cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    ticks * 10.0 // USER_HZ is 100 on Linux
}

/// Context switches of this whole process so far, by thread name (every thread's voluntary
/// and involuntary switches, from /proc/self/task/*/status, keyed by its `Name:` — the
/// runtimes' thread names, `keywheel-ledger`, `ledger-checkpoi…`): a thread that sleeps and is
/// woken again counts one. Threads that ended are not counted, so only differences over a run
/// mean anything.
fn switches() -> std::collections::BTreeMap<String, u64> {
    let mut by_name = std::collections::BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return by_name;
    };
    for status in tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("status")).ok())
    {
        let name = status
            .lines()
            .find_map(|l| l.strip_prefix("Name:"))
            .unwrap_or("")
            .trim()
            .to_string();
        let n: u64 = status
            .lines()
            .filter(|l| l.contains("ctxt_switches:"))
            .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum();
        *by_name.entry(name).or_insert(0) += n;
    }
    by_name
}

/// The switches from `before` to `after`, by thread name.
fn switches_since(
    before: &std::collections::BTreeMap<String, u64>,
) -> std::collections::BTreeMap<String, u64> {
    let mut after = switches();
    for (name, n) in after.iter_mut() {
        *n = n.saturating_sub(before.get(name).copied().unwrap_or(0));
    }
    after
}

#[derive(Clone)]
struct Target {
    url: String,
    bearer: String,
    body: bytes::Bytes,
    sse: bool,
}

#[derive(Default, Clone)]
struct Run {
    lat_us: Vec<u64>,
    ttfb_us: Vec<u64>,
    /// The gateway's `X-Keywheel-Overhead-Us` (its own time, upstream awaits subtracted).
    own_us: Vec<u64>,
    wall: Duration,
    cpu_ms: f64,
    /// Context switches of the whole process over the run, by thread name ([`switches`]).
    switches: std::collections::BTreeMap<String, u64>,
    n: usize,
}

impl Run {
    fn merge(&mut self, o: Run) {
        self.lat_us.extend(o.lat_us);
        self.ttfb_us.extend(o.ttfb_us);
        self.own_us.extend(o.own_us);
        self.wall += o.wall;
        self.cpu_ms += o.cpu_ms;
        for (name, n) in o.switches {
            *self.switches.entry(name).or_insert(0) += n;
        }
        self.n += o.n;
    }
    fn pct(v: &[u64], p: f64) -> f64 {
        let mut s = v.to_vec();
        s.sort_unstable();
        if s.is_empty() {
            return 0.0;
        }
        s[((s.len() - 1) as f64 * p).round() as usize] as f64 / 1000.0
    }
    fn p50(&self) -> f64 {
        Self::pct(&self.lat_us, 0.5)
    }
    fn p99(&self) -> f64 {
        Self::pct(&self.lat_us, 0.99)
    }
    fn ttfb50(&self) -> f64 {
        Self::pct(&self.ttfb_us, 0.5)
    }
    fn rps(&self) -> f64 {
        self.n as f64 / self.wall.as_secs_f64()
    }
    fn cpu(&self) -> f64 {
        self.cpu_ms / self.n as f64
    }
    fn switches_per(&self) -> f64 {
        self.switches.values().sum::<u64>() as f64 / self.n as f64
    }
    fn switches_of(&self, name: &str) -> f64 {
        self.switches.get(name).copied().unwrap_or(0) as f64 / self.n as f64
    }
}

async fn one(http: &reqwest::Client, t: &Target) -> (u64, u64, Option<u64>) {
    let start = Instant::now();
    let mut resp = http
        .post(&t.url)
        .bearer_auth(&t.bearer)
        .header("content-type", "application/json")
        .body(t.body.clone())
        .send()
        .await
        .expect("request sent");
    assert!(resp.status().is_success(), "status {}", resp.status());
    let own = resp
        .headers()
        .get("x-keywheel-overhead-us")
        .and_then(|v| v.to_str().ok()?.parse().ok());
    let mut ttfb = 0;
    let mut bytes = 0usize;
    while let Some(c) = resp.chunk().await.expect("body") {
        if ttfb == 0 {
            ttfb = start.elapsed().as_micros() as u64;
        }
        bytes += c.len();
    }
    assert!(bytes > 0);
    if t.sse {
        assert!(bytes > 100);
    }
    (start.elapsed().as_micros() as u64, ttfb, own)
}

async fn load(http: &reqwest::Client, t: &Target, conc: usize, n: usize) -> Run {
    let per = n.div_ceil(conc);
    let cpu0 = cpu_ms();
    let sw0 = switches();
    let t0 = Instant::now();
    let tasks: Vec<_> = (0..conc)
        .map(|_| {
            let (http, t) = (http.clone(), t.clone());
            tokio::spawn(async move {
                let mut out = Vec::with_capacity(per);
                for _ in 0..per {
                    out.push(one(&http, &t).await);
                }
                out
            })
        })
        .collect();
    let mut run = Run::default();
    for task in tasks {
        for (lat, ttfb, own) in task.await.unwrap() {
            run.lat_us.push(lat);
            run.ttfb_us.push(ttfb);
            run.own_us.extend(own);
        }
    }
    run.wall = t0.elapsed();
    run.cpu_ms = cpu_ms() - cpu0;
    run.switches = switches_since(&sw0);
    run.n = per * conc;
    run
}

/// What the bare forwarder holds: one shared upstream client, the mock's chat URL and the key
/// it sends (a client's own bearer is not looked at, as the gateway holds the pool's keys).
struct Forwarder {
    http: reqwest::Client,
    url: reqwest::Url,
    bearer: String,
}

/// The floor's one handler: the body goes to the mock as it came, and the answer comes back —
/// JSON whole, SSE chunk by chunk (`Body::from_stream` of reqwest's `bytes_stream`). Nothing
/// else: no token check, parse, catalogue, ledger or header of Keywheel's.
async fn forward(
    axum::extract::State(f): axum::extract::State<Arc<Forwarder>>,
    body: bytes::Bytes,
) -> axum::response::Response {
    use axum::http::{StatusCode, header::CONTENT_TYPE};
    use axum::response::IntoResponse;
    let sent = f
        .http
        .post(f.url.clone())
        .bearer_auth(&f.bearer)
        .header(CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await;
    let up = match sent {
        Ok(up) => up,
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    let status = up.status();
    let ct = up.headers().get(CONTENT_TYPE).cloned();
    let sse = ct
        .as_ref()
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    let body = if sse {
        axum::body::Body::from_stream(up.bytes_stream())
    } else {
        match up.bytes().await {
            Ok(b) => axum::body::Body::from(b),
            Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
        }
    };
    let mut resp = axum::response::Response::new(body);
    *resp.status_mut() = status;
    if let Some(ct) = ct {
        resp.headers_mut().insert(CONTENT_TYPE, ct);
    }
    resp
}

/// Starts the bare forwarder (the floor) on the current runtime — the gateway's, in `main` —
/// served as the gateway's server is (`axum::serve` on a 127.0.0.1 listener with TCP_NODELAY
/// on each connection), its upstream client built as the core's OpenRouter client is (rustls,
/// user agent, 10 s connect timeout, no redirects). Returns its base URL and its server task.
async fn start_forwarder(mock_base: &str) -> (String, tokio::task::JoinHandle<()>) {
    #[allow(clippy::disallowed_methods)] // the floor's own client, built as the core's is
    let http = reqwest::Client::builder()
        .use_rustls_tls()
        .user_agent(concat!("keywheel/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let f = Arc::new(Forwarder {
        http,
        url: format!("{mock_base}/chat/completions").parse().unwrap(),
        bearer: key(1),
    });
    let app = axum::Router::new()
        .route("/chat/completions", axum::routing::post(forward))
        .with_state(f);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp: &mut tokio::net::TcpStream| {
        let _ = tcp.set_nodelay(true);
    });
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (format!("http://{addr}"), task)
}

/// The physical floor: a byte relay on plain threads, no HTTP at all. Each connection it
/// accepts gets its own connection to the mock and two threads copying bytes, one each way
/// (blocking reads and writes, TCP_NODELAY). What it adds over direct is the least any
/// separate proxy process costs on this machine: one more pair of loopback hops and the
/// thread wake-ups they take, before any parsing. Returns its base URL (the mock's path).
fn start_relay(mock_base: &str) -> String {
    use std::net::{TcpListener, TcpStream};
    let url: reqwest::Url = mock_base.parse().unwrap();
    let upstream = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let pump = |mut from: TcpStream, mut to: TcpStream| {
        std::thread::Builder::new()
            .name("relay".into())
            .spawn(move || {
                let _ = std::io::copy(&mut from, &mut to);
                let _ = to.shutdown(std::net::Shutdown::Write);
            })
            .unwrap();
    };
    std::thread::Builder::new()
        .name("relay".into())
        .spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(up) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = up.set_nodelay(true);
                pump(client.try_clone().unwrap(), up.try_clone().unwrap());
                pump(up, client);
            }
        })
        .unwrap();
    format!("http://{addr}{}", url.path().trim_end_matches('/'))
}

/// The floor block of one table: each figure for direct, the relay, the bare forwarder and the
/// gateway, then what the relay adds over direct (the least any separate proxy costs here),
/// what the forwarder adds over direct (an HTTP proxy's cost) and what the gateway adds over
/// the forwarder (what Keywheel itself costs beyond a proxy).
fn print_floor(d: &Run, r: &Run, f: &Run, g: &Run) {
    println!(
        "  floor (relay: a byte relay on threads, no HTTP; bare forwarder: axum + one reqwest client, no Keywheel logic, on the gateway's runtime):"
    );
    println!(
        "    {:<18} {:>9} {:>9} {:>9} {:>9} {:>11} {:>11} {:>11}",
        "", "direct", "relay", "forwarder", "gateway", "relay−dir", "fwd−direct", "gw−fwd"
    );
    type Figure = fn(&Run) -> f64;
    let rows: [(&str, Figure); 6] = [
        ("p50 ms", Run::p50),
        ("p99 ms", Run::p99),
        ("first chunk p50 ms", Run::ttfb50),
        ("req/s", Run::rps),
        ("CPU ms/req", Run::cpu),
        ("switches/req", Run::switches_per),
    ];
    for (name, v) in rows {
        let (d, r, f, g) = (v(d), v(r), v(f), v(g));
        let dp = if name == "req/s" { 0 } else { 3 };
        println!(
            "    {name:<18} {d:>9.dp$} {r:>9.dp$} {f:>9.dp$} {g:>9.dp$} {:>+11.dp$} {:>+11.dp$} {:>+11.dp$}",
            r - d,
            f - d,
            g - f
        );
    }
    // Which threads the switches are on (names as the runtimes and threads set them).
    let names: std::collections::BTreeSet<&String> = d
        .switches
        .keys()
        .chain(r.switches.keys())
        .chain(f.switches.keys())
        .chain(g.switches.keys())
        .collect();
    for name in names {
        let (d, r, f, g) = (
            d.switches_of(name),
            r.switches_of(name),
            f.switches_of(name),
            g.switches_of(name),
        );
        if d.max(r).max(f).max(g) >= 0.05 {
            println!(
                "      on {:<16}{d:>9.3} {r:>9.3} {f:>9.3} {g:>9.3} {:>+11.3} {:>+11.3} {:>+11.3}",
                format!("{name}:"),
                r - d,
                f - d,
                g - f
            );
        }
    }
    println!(
        "    gateway over forwarder p50 {:+.3} ms vs Keywheel's own time p50 {:.3} ms",
        g.p50() - f.p50(),
        Run::pct(&g.own_us, 0.5)
    );
}

fn settings(dir: &std::path::Path, base_url: String) -> Settings {
    Settings {
        data_dir: dir.to_path_buf(),
        base_url,
        keychain: false,
        daily_cap: HUGE,
        daily_cap_set: true,
        minute_cap: HUGE,
        rotate_after: HUGE,
        cache_chat: false,
        cache_ocr: false,
        ..Settings::default()
    }
}

/// A clock that moves 1 s each time it is read (`KW_BENCH_CLOCK=spread`; the core's
/// request_path bench's table B): requests spread out in ledger time, so a key's per-minute
/// window holds a dozen or so times, as under real per-minute caps, instead of every request
/// of the last minute (what the system clock and a huge cap give; each reservation decodes
/// and rewrites its key's window).
#[derive(Debug)]
struct SpreadClock(std::sync::atomic::AtomicI64);

impl keywheel_core::Clock for SpreadClock {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        let ms = self.0.fetch_add(1000, std::sync::atomic::Ordering::Relaxed);
        chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
    }
}

fn clock() -> keywheel_core::clock::SharedClock {
    static SPREAD: std::sync::OnceLock<Arc<SpreadClock>> = std::sync::OnceLock::new();
    if std::env::var("KW_BENCH_CLOCK").is_ok_and(|v| v == "spread") {
        // One clock for every pool of the run (they share ledger files).
        SPREAD
            .get_or_init(|| {
                Arc::new(SpreadClock(
                    keywheel_core::Clock::now(&SystemClock)
                        .timestamp_millis()
                        .into(),
                ))
            })
            .clone()
    } else {
        Arc::new(SystemClock)
    }
}

fn pool(s: Settings) -> Pool {
    Pool::open(PoolOptions {
        settings: s,
        clock: clock(),
        store: Arc::new(OsKeychain::disabled()),
        env_keys: Some((1..=KEYS).map(key).collect::<Vec<_>>().join(",")),
    })
    .expect("pool")
}

/// The job the gateway makes of the benchmark's body (an explicit model id: pinned, reasoning
/// shown).
fn core_job(model: &str) -> Job {
    let mut request = ChatRequest::text(model.to_string(), "How far is the moon?");
    request.reasoning = Some(keywheel_core::openrouter::ReasoningConfig::shown());
    Job {
        kind: Kind::Chat,
        request,
        models: ModelChoice::Pinned(vec![model.to_string()]),
        stream: false,
        use_cache: false,
    }
}

/// The gateway's runtime in the benchmark: `KW_BENCH_GW_WORKERS` workers (default 2, as
/// `keywheel serve` has on this 2-core machine).
fn gateway_runtime() -> tokio::runtime::Runtime {
    let workers = std::env::var("KW_BENCH_GW_WORKERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("gateway")
        .enable_all()
        .build()
        .unwrap()
}

/// `KW_BENCH_CALLGRIND=gateway|direct|core`: `KW_BENCH_N` requests one after the other (c=1,
/// after 50 warm-up; SSE with `KW_BENCH_SSE=1`) through the in-process gateway or straight to
/// an outside keywheel-mock at `KW_BENCH_MOCK_URL`, and nothing else — for
/// `valgrind --tool=callgrind`. The load generator's instructions are in both runs; two runs
/// with different `KW_BENCH_N` give instructions per request as (I(n₂) − I(n₁)) / (n₂ − n₁).
fn callgrind_run(which: &str) {
    let n: usize = std::env::var("KW_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let sse = std::env::var("KW_BENCH_SSE").is_ok_and(|v| v == "1");
    let mock_url = std::env::var("KW_BENCH_MOCK_URL")
        .expect("KW_BENCH_MOCK_URL (an outside keywheel-mock's /api/v1 URL)");
    let rt = gateway_runtime();
    let dir = tempfile::tempdir().unwrap();
    let p = pool(settings(dir.path(), mock_url.clone()));
    let handle = rt
        .block_on(Gateway::start(
            p,
            GatewaySettings::default(),
            "127.0.0.1:0".parse().unwrap(),
        ))
        .unwrap();
    #[allow(clippy::disallowed_methods)] // the benchmark is the gateway's client
    let http = reqwest::Client::builder().build().unwrap();
    let model = "deepseek/deepseek-r1-0528";
    let t = if which == "direct" {
        let body = json!({"model": model, "stream": sse,
            "messages": [{"role": "user", "content": "How far is the moon?"}],
            "reasoning": {"exclude": false}, "usage": {"include": true}});
        Target {
            url: format!("{mock_url}/chat/completions"),
            bearer: key(1),
            body: serde_json::to_vec(&body).unwrap().into(),
            sse,
        }
    } else {
        let body = json!({"model": model, "stream": sse,
            "messages": [{"role": "user", "content": "How far is the moon?"}]});
        Target {
            url: format!("{}/chat/completions", handle.base_url()),
            bearer: handle.token().expose().to_string(),
            body: serde_json::to_vec(&body).unwrap().into(),
            sse,
        }
    };
    if which == "core" {
        // The dispatcher alone, each job a task as the gateway runs it (no HTTP server).
        let d = Arc::new(
            Dispatcher::new(Arc::new(
                pool(settings(dir.path(), mock_url.clone()))
                    .start_instance("bench-dispatch")
                    .unwrap(),
            ))
            .unwrap(),
        );
        let model = model.to_string();
        rt.block_on(async {
            for _ in 0..50 + n {
                let (d, job) = (d.clone(), core_job(&model));
                tokio::spawn(async move { d.run(job, |_| {}, &CancelToken::new()).await })
                    .await
                    .unwrap()
                    .unwrap();
            }
        });
        println!("callgrind run: core, {n} jobs after 50 warm-up");
        drop(d);
        rt.block_on(handle.shutdown()).ok();
        return;
    }
    rt.block_on(async {
        for _ in 0..50 + n {
            one(&http, &t).await;
        }
    });
    println!("callgrind run: {which}, sse {sse}, {n} requests after 50 warm-up");
    rt.block_on(handle.shutdown()).ok();
}

fn main() {
    if let Ok(which) = std::env::var("KW_BENCH_CALLGRIND") {
        callgrind_run(&which);
        return;
    }
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let gw_rt = gateway_runtime();
    println!(
        "keywheel gateway benchmark: direct to keywheel-mock vs through the gateway (in-process tokio+reqwest load generator)"
    );
    let mut summary = Vec::new();
    // (mock latency, sse, concurrency, direct, relay, forwarder, gateway): the floor's summary.
    let mut floors: Vec<(u64, bool, usize, Run, Run, Run, Run)> = Vec::new();
    for latency in [0u64, 20] {
        if !only("KW_BENCH_LATENCY", &latency.to_string()) {
            continue;
        }
        let mock = keywheel_mock::start_blocking(
            MockConfig::default()
                .with_limits(HUGE, HUGE)
                .with_latency_ms(latency),
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = pool(settings(dir.path(), mock.base_url()));
        let handle = gw_rt
            .block_on(Gateway::start(
                p,
                GatewaySettings::default(),
                "127.0.0.1:0".parse().unwrap(),
            ))
            .unwrap();
        let token = handle.token().expose().to_string();
        let (fwd_base, fwd_task) = gw_rt.block_on(start_forwarder(&mock.base_url()));
        let relay_base = start_relay(&mock.base_url());
        #[allow(clippy::disallowed_methods)]
        // the benchmark is the gateway's client, not OpenRouter's
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()
            .unwrap();
        // Warm up and learn the model the gateway resolves the chat alias to.
        let model = client_rt.block_on(async {
            let r = http
                .post(format!("{}/chat/completions", handle.base_url()))
                .bearer_auth(&token)
                .json(&json!({"model": "keywheel/chat", "messages": [{"role": "user", "content": "warm up"}]}))
                .send()
                .await
                .unwrap();
            r.headers()["x-keywheel-model"].to_str().unwrap().to_string()
        });
        for sse in [false, true] {
            if !only("KW_BENCH_KIND", if sse { "sse" } else { "json" }) {
                continue;
            }
            let gw_body = json!({"model": model, "stream": sse,
                "messages": [{"role": "user", "content": "How far is the moon?"}]});
            let direct_body = json!({"model": model, "stream": sse,
                "messages": [{"role": "user", "content": "How far is the moon?"}],
                "reasoning": {"exclude": false}, "usage": {"include": true}});
            let gw = Target {
                url: format!("{}/chat/completions", handle.base_url()),
                bearer: token.clone(),
                body: serde_json::to_vec(&gw_body).unwrap().into(),
                sse,
            };
            let direct = Target {
                url: format!("{}/chat/completions", mock.base_url()),
                bearer: key(1),
                body: serde_json::to_vec(&direct_body).unwrap().into(),
                sse,
            };
            let fwd = Target {
                url: format!("{fwd_base}/chat/completions"),
                ..direct.clone()
            };
            let relay = Target {
                url: format!("{relay_base}/chat/completions"),
                ..direct.clone()
            };
            for conc in [1usize, 32] {
                if !only("KW_BENCH_CONC", &conc.to_string()) {
                    continue;
                }
                let n = match (latency, conc) {
                    (0, 1) => scale(1500),
                    (0, _) => scale(4000),
                    (_, 1) => scale(150),
                    _ => scale(2000),
                };
                client_rt.block_on(async {
                    for _ in 0..2 {
                        let _ = load(&http, &gw, conc, 20).await;
                        let _ = load(&http, &relay, conc, 20).await;
                        let _ = load(&http, &fwd, conc, 20).await;
                        let _ = load(&http, &direct, conc, 20).await;
                    }
                });
                let (mut d, mut r, mut f, mut g): (Run, Run, Run, Run) = Default::default();
                for _ in 0..2 {
                    d.merge(client_rt.block_on(load(&http, &direct, conc, n / 2)));
                    r.merge(client_rt.block_on(load(&http, &relay, conc, n / 2)));
                    f.merge(client_rt.block_on(load(&http, &fwd, conc, n / 2)));
                    g.merge(client_rt.block_on(load(&http, &gw, conc, n / 2)));
                }
                let kind = if sse { "SSE " } else { "JSON" };
                println!(
                    "\nmock {latency:>2} ms · {kind} · c={conc:<2} · {} requests each",
                    d.n
                );
                println!(
                    "  {:<8} {:>9} {:>9} {:>10} {:>10} {:>11}",
                    "", "p50 ms", "p99 ms", "req/s", "CPU ms/req", "TTFB p50 ms"
                );
                for (name, r) in [("direct", &d), ("gateway", &g)] {
                    println!(
                        "  {name:<8} {:>9.3} {:>9.3} {:>10.0} {:>10.3} {:>11.3}",
                        r.p50(),
                        r.p99(),
                        r.rps(),
                        r.cpu(),
                        r.ttfb50()
                    );
                }
                let added = (
                    g.p50() - d.p50(),
                    g.p99() - d.p99(),
                    g.ttfb50() - d.ttfb50(),
                    g.cpu() - d.cpu(),
                );
                println!(
                    "  added:   p50 {:+.3} ms · p99 {:+.3} ms · first chunk {:+.3} ms · CPU {:+.3} ms/req",
                    added.0, added.1, added.2, added.3
                );
                println!(
                    "  Keywheel's own time (X-Keywheel-Overhead-Us: the gateway's wall time minus its job's upstream awaits) p50 {:.3} ms",
                    Run::pct(&g.own_us, 0.5)
                );
                print_floor(&d, &r, &f, &g);
                summary.push((latency, sse, conc, added, g.rps(), d.p50()));
                floors.push((latency, sse, conc, d, r, f, g));
            }
        }
        // The core's request path alone, c=1 JSON: the same job the gateway runs, as a task on
        // the gateway's runtime awaited from the load generator's (the thread hops of an
        // HTTP exchange, without HTTP), with direct requests measured in turn: what of the
        // added time is the dispatcher's rather than the gateway's own.
        let p = pool(settings(dir.path(), mock.base_url()));
        let dispatcher = Arc::new(
            Dispatcher::new(Arc::new(p.start_instance("bench-dispatch").unwrap())).unwrap(),
        );
        let n = scale(600);
        let direct = Target {
            url: format!("{}/chat/completions", mock.base_url()),
            bearer: key(1),
            body: serde_json::to_vec(&json!({"model": model, "stream": false,
                "messages": [{"role": "user", "content": "How far is the moon?"}],
                "reasoning": {"exclude": false}, "usage": {"include": true}}))
            .unwrap()
            .into(),
            sse: false,
        };
        let gw = gw_rt.handle().clone();
        let (core_ms, core_cpu, direct_ms, direct_cpu) = client_rt.block_on(async {
            let job = || core_job(&model);
            // Awaited until the answer (`Progress::Answered`), as the gateway answers; the
            // completion's write goes on in the task.
            let run = |d: &Arc<Dispatcher>, j: Job| {
                let d = d.clone();
                let (tx, rx) = tokio::sync::oneshot::channel();
                gw.spawn(async move {
                    let mut tx = Some(tx);
                    let on = |p: Progress<'_>| {
                        if let (Progress::Answered(_), Some(tx)) = (p, tx.take()) {
                            let _ = tx.send(());
                        }
                    };
                    d.run(j, on, &CancelToken::new()).await.unwrap();
                });
                rx
            };
            for _ in 0..20 {
                run(&dispatcher, job()).await.unwrap();
                one(&http, &direct).await;
            }
            let (mut lat, mut dlat) = (Vec::with_capacity(n), Vec::with_capacity(n));
            let (mut cpu, mut dcpu) = (0.0, 0.0);
            for _ in 0..2 {
                let cpu0 = cpu_ms();
                for _ in 0..n / 2 {
                    let t = Instant::now();
                    run(&dispatcher, job()).await.unwrap();
                    lat.push(t.elapsed().as_micros() as u64);
                }
                let cpu1 = cpu_ms();
                for _ in 0..n / 2 {
                    dlat.push(one(&http, &direct).await.0);
                }
                cpu += cpu1 - cpu0;
                dcpu += cpu_ms() - cpu1;
            }
            let per = (n / 2 * 2) as f64;
            (
                Run::pct(&lat, 0.5),
                cpu / per,
                Run::pct(&dlat, 0.5),
                dcpu / per,
            )
        });
        drop(dispatcher);
        let added_c1 = summary
            .iter()
            .find(|s| s.0 == latency && !s.1 && s.2 == 1)
            .map(|s| s.3)
            .unwrap_or_default();
        let core_added = core_ms - direct_ms;
        println!(
            "\ncore request path alone (mock {latency} ms, Dispatcher::run as a task on the gateway's runtime until its answer, c=1 JSON): p50 {core_ms:.3} ms vs direct {direct_ms:.3} ms in turn ({core_added:+.3} ms), CPU {:+.3} ms/req",
            core_cpu - direct_cpu
        );
        println!(
            "split of the added c=1 JSON p50 ({:+.3} ms): core request path {core_added:+.3} ms, the gateway's own (HTTP server, token, parse, answer) {:+.3} ms; CPU: core {:+.3}, gateway's own {:+.3} ms/req",
            added_c1.0,
            added_c1.0 - core_added,
            core_cpu - direct_cpu,
            added_c1.3 - (core_cpu - direct_cpu)
        );
        // Diagnosis: the same job awaited on the load generator's runtime itself (as the
        // core's request_path bench runs it: no hop between runtimes), on this ledger (its
        // key's window holds every request of the last minute: the per-minute cap is huge)
        // and on a fresh ledger file (a window of this run's few requests).
        let fresh = tempfile::tempdir().unwrap();
        for (name, at) in [
            ("this ledger", dir.path()),
            ("a fresh ledger", fresh.path()),
        ] {
            let d = Dispatcher::new(Arc::new(
                pool(settings(at, mock.base_url()))
                    .start_instance("bench-inline")
                    .unwrap(),
            ))
            .unwrap();
            let (lat, dlat) = client_rt.block_on(async {
                let cancel = CancelToken::new();
                for _ in 0..20 {
                    d.run(core_job(&model), |_| {}, &cancel).await.unwrap();
                }
                let (mut lat, mut dlat) = (Vec::new(), Vec::new());
                for _ in 0..2 {
                    for _ in 0..n / 2 {
                        let t = Instant::now();
                        let mut answered = None;
                        let on = |p: Progress<'_>| {
                            if let Progress::Answered(_) = p {
                                answered = Some(t.elapsed());
                            }
                        };
                        d.run(core_job(&model), on, &cancel).await.unwrap();
                        lat.push(answered.unwrap_or_else(|| t.elapsed()).as_micros() as u64);
                    }
                    for _ in 0..n / 2 {
                        dlat.push(one(&http, &direct).await.0);
                    }
                }
                (Run::pct(&lat, 0.5), Run::pct(&dlat, 0.5))
            });
            println!(
                "core request path inline on the load generator's runtime ({name}), until the answer: p50 {lat:.3} ms vs direct {dlat:.3} ms ({:+.3} ms)",
                lat - dlat
            );
            if name == "a fresh ledger" {
                let inst = d.instance();
                let t0 = Instant::now();
                for _ in 0..n {
                    match inst.try_reserve(Kind::Chat, Some(&model)).unwrap() {
                        Reserve::Granted(g) => inst.complete(&g, &Completion::ok()).unwrap(),
                        Reserve::Wait(_) => panic!("caps never bind in the benchmark"),
                    }
                }
                println!(
                    "ledger alone on a fresh ledger: reserve + complete = {:.3} ms per request",
                    t0.elapsed().as_secs_f64() * 1000.0 / n as f64
                );
            }
        }
        // The ledger's own work per request on a ledger like the gateway's, alone, c=1.
        let inst = p.start_instance("bench-ledger").unwrap();
        let n = scale(1000);
        let t0 = Instant::now();
        for _ in 0..n {
            match inst
                .try_reserve(keywheel_core::dispatch::Kind::Chat, Some(&model))
                .unwrap()
            {
                Reserve::Granted(g) => inst.complete(&g, &Completion::ok()).unwrap(),
                Reserve::Wait(_) => panic!("caps never bind in the benchmark"),
            }
        }
        let ledger_ms = t0.elapsed().as_secs_f64() * 1000.0 / n as f64;
        let added_c1_json = summary
            .iter()
            .find(|s| s.0 == latency && !s.1 && s.2 == 1)
            .map(|s| s.3.0)
            .unwrap_or(0.0);
        println!(
            "\nledger (mock {latency} ms): reserve + complete = {ledger_ms:.3} ms per request alone; share of the added c=1 JSON p50 ({added_c1_json:.3} ms): {:.0}%",
            if added_c1_json > 0.0 {
                100.0 * ledger_ms / added_c1_json
            } else {
                0.0
            }
        );
        drop(inst);
        fwd_task.abort();
        gw_rt.block_on(handle.shutdown()).unwrap();
    }
    println!(
        "\ntargets: c=1 added p50 <= 0.3 ms and p99 <= 1 ms (JSON and SSE); c=32 >= 2500 req/s with the ledger on; added first chunk <= 0.5 ms"
    );
    for (lat, sse, conc, added, rps, direct_p50) in summary {
        let kind = if sse { "SSE " } else { "JSON" };
        let verdict = if conc == 1 {
            let ok = added.0 <= 0.3 && added.1 <= 1.0 && (!sse || added.2 <= 0.5);
            (if ok { "meets" } else { "MISSES" }).to_string()
        } else if sse {
            // A stream lasts as long as the mock's frames take (their gaps, and its latency):
            // 32 streams at a time cannot reach the JSON target's rate, direct or not.
            format!(
                "throughput bound by the stream's length (32 / {direct_p50:.1} ms direct = {:.0} streams/s at most)",
                32_000.0 / direct_p50
            )
        } else if lat > 0 {
            "throughput bound by the mock's latency (32 / 20 ms = 1600 req/s at most)".to_string()
        } else if rps >= 2500.0 {
            "meets".to_string()
        } else {
            "MISSES".to_string()
        };
        println!(
            "  mock {lat:>2} ms {kind} c={conc:<2}: added p50 {:+.3} ms, p99 {:+.3} ms, first chunk {:+.3} ms; gateway {rps:.0} req/s — {verdict}",
            added.0, added.1, added.2
        );
    }
    println!(
        "\nfloor: a byte relay (threads, no HTTP) and a bare forwarder (axum + one reqwest client, no Keywheel logic) measured in turn; relay = relay over direct (any separate proxy's least cost here), fwd = forwarder over direct (an HTTP proxy's cost), kw = gateway over forwarder (Keywheel's own)"
    );
    for (lat, sse, conc, d, r, f, g) in floors {
        let kind = if sse { "SSE " } else { "JSON" };
        println!(
            "  mock {lat:>2} ms {kind} c={conc:<2}: p50 relay {:+.3} fwd {:+.3} kw {:+.3} ms · p99 relay {:+.3} fwd {:+.3} kw {:+.3} ms · first chunk relay {:+.3} fwd {:+.3} kw {:+.3} ms · req/s direct {:.0} forwarder {:.0} gateway {:.0}",
            r.p50() - d.p50(),
            f.p50() - d.p50(),
            g.p50() - f.p50(),
            r.p99() - d.p99(),
            f.p99() - d.p99(),
            g.p99() - f.p99(),
            r.ttfb50() - d.ttfb50(),
            f.ttfb50() - d.ttfb50(),
            g.ttfb50() - f.ttfb50(),
            d.rps(),
            f.rps(),
            g.rps()
        );
    }
}
