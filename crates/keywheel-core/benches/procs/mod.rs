//! The multi-process harness shared by the ledger benches (`ledger`, `ledger_pg`): bench keys,
//! the fixed start day, clocks, and [`run_workers`], which starts N copies of the bench as
//! workers, opens a start barrier once all are ready, and sums what they print
//! (`KW_BENCH ops=… start_ns=… end_ns=… [cpu_ns=…]`). Included with `mod procs;`; not a bench
//! itself (cargo only discovers `benches/*.rs` and `benches/*/main.rs`).

// Each bench uses a part of it (the PostgreSQL bench reports no CPU time).
#![allow(dead_code)]

use std::error::Error as StdError;
use std::ffi::OsStr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration as StdDuration, Instant, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, TimeZone, Utc};
use keywheel_core::keys::ApiKey;

/// The benches' error type.
pub type AnyResult<T> = Result<T, Box<dyn StdError>>;

/// Bench key number `n` (a well-formed, fake OpenRouter key).
pub fn api_key(n: u64) -> ApiKey {
    ApiKey::parse(&format!("sk-or-v1-{n:064x}")).expect("well-formed bench key")
}

/// The day the benches' ledgers start on.
pub fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 0).unwrap()
}

/// CPU time of the calling thread so far (Linux `/proc/thread-self/schedstat`), 0 elsewhere.
/// Unlike throughput, it barely moves when other programs load the machine.
pub fn cpu_ns() -> u128 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

/// Wall-clock nanoseconds since the epoch, comparable between the workers.
#[allow(clippy::disallowed_methods)] // a benchmark's timestamps, not a decision
pub fn epoch_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// A worker's side of the start barrier: says it is ready (`dir/ready-<id>`), then waits for
/// `dir/go`.
pub fn barrier(dir: &Path, id: usize) -> AnyResult<()> {
    std::fs::write(dir.join(format!("ready-{id}")), b"")?;
    let go = dir.join("go");
    let t = Instant::now();
    while !go.exists() {
        if t.elapsed() > StdDuration::from_secs(120) {
            return Err("the start barrier never opened".into());
        }
        std::thread::sleep(StdDuration::from_micros(200));
    }
    Ok(())
}

/// What the workers of one case did, summed.
pub struct Totals {
    /// Operations, all workers.
    pub ops: u64,
    /// From the first worker's start to the last one's end, in seconds.
    pub secs: f64,
    /// The workers' own CPU time (0 when they do not report it).
    pub cpu_ns: u128,
}

/// Starts `procs` workers (this executable with `KW_BENCH_WORKER=tag`, `KW_BENCH_DIR`,
/// `KW_BENCH_ID`, `KW_BENCH_MS` and `env`), opens the barrier when all are ready, and sums
/// their `KW_BENCH` lines.
pub fn run_workers(
    tag: &str,
    procs: usize,
    run_for: StdDuration,
    dir: &Path,
    env: &[(&str, &OsStr)],
) -> AnyResult<Totals> {
    let exe = std::env::current_exe()?;
    let mut children: Vec<Child> = (0..procs)
        .map(|id| {
            Command::new(&exe)
                .env("KW_BENCH_WORKER", tag)
                .envs(env.iter().copied())
                .env("KW_BENCH_DIR", dir)
                .env("KW_BENCH_ID", id.to_string())
                .env("KW_BENCH_MS", run_for.as_millis().to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
        })
        .collect::<Result<_, _>>()?;
    let t = Instant::now();
    while (0..procs).any(|id| !dir.join(format!("ready-{id}")).exists()) {
        for c in children.iter_mut() {
            if let Some(status) = c.try_wait()? {
                let mut err = String::new();
                if let Some(mut e) = c.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut e, &mut err);
                }
                return Err(
                    format!("a {tag} worker exited before the barrier: {status}: {err}").into(),
                );
            }
        }
        if t.elapsed() > StdDuration::from_secs(120) {
            return Err("workers never became ready".into());
        }
        std::thread::sleep(StdDuration::from_millis(1));
    }
    std::fs::write(dir.join("go"), b"")?;

    let (mut ops, mut first, mut last, mut cpu_ns) = (0u64, u128::MAX, 0u128, 0u128);
    for c in children {
        let out = c.wait_with_output()?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout.lines().find_map(|l| l.strip_prefix("KW_BENCH "));
        let (true, Some(line)) = (out.status.success(), line) else {
            return Err(format!(
                "a {tag} worker failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        };
        let field = |name: &str| -> Option<&str> {
            line.split_whitespace()
                .find_map(|kv| kv.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
        };
        let num = |name: &str| -> AnyResult<u128> {
            Ok(field(name)
                .ok_or_else(|| format!("no {name} in {line:?}"))?
                .parse()?)
        };
        ops += num("ops")? as u64;
        first = first.min(num("start_ns")?);
        last = last.max(num("end_ns")?);
        if field("cpu_ns").is_some() {
            cpu_ns += num("cpu_ns")?;
        }
    }
    Ok(Totals {
        ops,
        secs: (last.saturating_sub(first)) as f64 / 1e9,
        cpu_ns,
    })
}
