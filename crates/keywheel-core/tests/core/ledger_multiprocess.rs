//! Many real processes reserving on one SQLite ledger file at the same time (docs/pool.md §1: "two
//! processes can never both spend request #50").
//!
//! The test binary re-executes itself: the parent spawns `current_exe() --exact ledger_multiprocess::worker_entry`
//! with `KW_WORKER_*` variables set, and [`worker_entry`] then acts as one worker process (it
//! returns at once in a normal test run). Workers wait on a barrier file so that all of them are
//! running before any starts reserving. A worker exits non-zero on any error — including
//! `database is locked` — and prints one `KW_RESULT …` line at the end.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration as StdDuration, Instant};

use crate::{
    AnyResult, ENV_DB, ENV_DIR, ENV_ID, ENV_MODE, api_key, finish_worker, scalar, t0,
    worker_command,
};
use chrono::Duration;
use keywheel_core::keys::{KeyId, KeySource};
use keywheel_core::ledger::{CapDefaults, Completion, Ledger, ReserveOutcome, ReserveRequest};

const ENV_ATTEMPTS: &str = "KW_WORKER_ATTEMPTS";

/// Processes per scenario.
const WORKERS: usize = 8;
/// Scenario 1: three keys, this daily cap each. Large enough that the work outlasts the
/// workers' start: with 40 a key, one process on a fast machine sometimes spent all three
/// keys (~5 ms) before the others, asleep in their 1 ms start poll or in SQLite's busy
/// handler, got one grant (2 of 12 runs on 2026-12-02).
const FALLBACK_KEYS: usize = 3;
const FALLBACK_CAP: u32 = 200;
/// Scenario 2: one key, this daily cap, this many attempts per worker.
const SINGLE_CAP: u32 = 50;
const SINGLE_ATTEMPTS: u32 = 20;
/// A minute cap high enough never to interfere.
const NO_MINUTE_CAP: u32 = 1_000_000;
/// How long anything may take before the test gives up instead of hanging (not a performance bound).
const HANG_GUARD: StdDuration = StdDuration::from_secs(180);

// ---------------------------------------------------------------------------------------------
// The worker side.
// ---------------------------------------------------------------------------------------------

/// Runs as a worker when `KW_WORKER_MODE` is set; otherwise does nothing.
#[test]
fn worker_entry() {
    let Ok(mode) = std::env::var(ENV_MODE) else {
        return;
    };
    finish_worker(run_worker(&mode));
}

struct WorkerEnv {
    db: PathBuf,
    dir: PathBuf,
    id: usize,
}

fn worker_env() -> AnyResult<WorkerEnv> {
    Ok(WorkerEnv {
        db: std::env::var(ENV_DB)?.into(),
        dir: std::env::var(ENV_DIR)?.into(),
        id: std::env::var(ENV_ID)?.parse()?,
    })
}

fn run_worker(mode: &str) -> AnyResult<String> {
    let env = worker_env()?;
    match mode {
        "fallback" => worker_fallback(&env),
        "single" => worker_single(&env),
        other => Err(format!("unknown worker mode {other:?}").into()),
    }
}

fn signal_ready(env: &WorkerEnv) -> AnyResult<()> {
    std::fs::write(env.dir.join(format!("ready-{}", env.id)), b"")?;
    Ok(())
}

fn wait_for_go(env: &WorkerEnv) -> AnyResult<()> {
    let go = env.dir.join("go");
    let start = Instant::now();
    while !go.exists() {
        if start.elapsed() > HANG_GUARD {
            return Err("the start barrier never opened".into());
        }
        std::thread::sleep(StdDuration::from_millis(1));
    }
    Ok(())
}

/// Three keys; reserve (and complete) on the current one, move to the next when it is spent,
/// stop when all three are spent.
fn worker_fallback(env: &WorkerEnv) -> AnyResult<String> {
    let ledger = Ledger::open(
        &env.db,
        CapDefaults {
            tier_applies: true,
            daily: FALLBACK_CAP,
            minute: NO_MINUTE_CAP,
        },
    )?;
    let keys: Vec<KeyId> = (1..=FALLBACK_KEYS as u64)
        .map(|n| api_key(n).id())
        .collect();
    let me = ledger.register_instance("test-worker", std::process::id(), t0())?;
    signal_ready(env)?;
    wait_for_go(env)?;

    let mut granted = [0u32; FALLBACK_KEYS];
    let mut spent = [false; FALLBACK_KEYS];
    let mut k = env.id % FALLBACK_KEYS;
    let mut step: i64 = 0;
    while spent.iter().any(|s| !s) {
        if spent[k] {
            k = (k + 1) % FALLBACK_KEYS;
            continue;
        }
        step += 1;
        let now = t0() + Duration::milliseconds(step * 10 + env.id as i64);
        let outcome = ledger.reserve(&ReserveRequest {
            instance_id: &me,
            key_id: &keys[k],
            kind: keywheel_core::dispatch::Kind::Chat,
            model: Some("test/model:free"),
            now,
        })?;
        match outcome {
            ReserveOutcome::Granted(r) => {
                if r.key_id != keys[k] {
                    return Err(format!("granted on {} but asked for {}", r.key_id, keys[k]).into());
                }
                ledger.complete(&r, &Completion::ok(), now)?;
                granted[k] += 1;
            }
            ReserveOutcome::KeySpent { .. } => {
                spent[k] = true;
                k = (k + 1) % FALLBACK_KEYS;
            }
            other => return Err(format!("unexpected outcome on key {k}: {other:?}").into()),
        }
        if step > 10_000 {
            return Err("the keys never ran out".into());
        }
    }
    ledger.deregister_instance(&me)?;
    let total: u32 = granted.iter().sum();
    let per_key = granted
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    Ok(format!("instance={me} granted={total} per_key={per_key}"))
}

/// All workers open a fresh file at the same moment, register the same key and make
/// `KW_WORKER_ATTEMPTS` attempts on it.
fn worker_single(env: &WorkerEnv) -> AnyResult<String> {
    let attempts: u32 = std::env::var(ENV_ATTEMPTS)?.parse()?;
    signal_ready(env)?;
    wait_for_go(env)?;
    let ledger = Ledger::open(
        &env.db,
        CapDefaults {
            tier_applies: true,
            daily: SINGLE_CAP,
            minute: NO_MINUTE_CAP,
        },
    )?;
    let key = api_key(7);
    ledger.upsert_key(&key, KeySource::Env, Some("shared"), None, t0())?;
    let me = ledger.register_instance("test-worker", std::process::id(), t0())?;
    let (mut granted, mut spent) = (0u32, 0u32);
    for i in 0..attempts {
        let now = t0() + Duration::milliseconds(i64::from(i) * 10 + env.id as i64);
        match ledger.reserve(&ReserveRequest {
            instance_id: &me,
            key_id: &key.id(),
            kind: keywheel_core::dispatch::Kind::Chat,
            model: None,
            now,
        })? {
            ReserveOutcome::Granted(r) => {
                ledger.complete(&r, &Completion::ok(), now)?;
                granted += 1;
            }
            ReserveOutcome::KeySpent { .. } => spent += 1,
            other => return Err(format!("unexpected outcome: {other:?}").into()),
        }
    }
    ledger.deregister_instance(&me)?;
    Ok(format!("instance={me} granted={granted} spent={spent}"))
}

// ---------------------------------------------------------------------------------------------
// The parent side.
// ---------------------------------------------------------------------------------------------

struct Report {
    fields: HashMap<String, String>,
}

impl Report {
    fn get(&self, k: &str) -> &str {
        self.fields
            .get(k)
            .unwrap_or_else(|| panic!("worker result has no {k}: {:?}", self.fields))
    }

    fn num(&self, k: &str) -> u32 {
        self.get(k)
            .parse()
            .unwrap_or_else(|e| panic!("{k}={} is not a number: {e}", self.get(k)))
    }
}

fn spawn_workers(mode: &str, db: &Path, dir: &Path, extra: &[(&str, String)]) -> Vec<Child> {
    (0..WORKERS)
        .map(|id| {
            let mut cmd = worker_command("ledger_multiprocess", mode, db);
            cmd.env(ENV_DIR, dir)
                .env(ENV_ID, id.to_string())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            for (k, v) in extra {
                cmd.env(k, v);
            }
            cmd.spawn().expect("spawn a worker process")
        })
        .collect()
}

fn kill_all(children: &mut [Child]) {
    for c in children.iter_mut() {
        let _ = c.kill();
        let _ = c.wait();
    }
}

fn drain(c: &mut Child) -> (String, String) {
    let mut out = String::new();
    let mut err = String::new();
    if let Some(mut s) = c.stdout.take() {
        let _ = s.read_to_string(&mut out);
    }
    if let Some(mut s) = c.stderr.take() {
        let _ = s.read_to_string(&mut err);
    }
    (out, err)
}

/// Waits until every worker is ready, then opens the barrier so they all start together.
fn release(dir: &Path, children: &mut [Child]) {
    let start = Instant::now();
    loop {
        let ready = (0..WORKERS)
            .filter(|id| dir.join(format!("ready-{id}")).exists())
            .count();
        if ready == WORKERS {
            break;
        }
        for i in 0..children.len() {
            if let Ok(Some(status)) = children[i].try_wait() {
                let (out, err) = drain(&mut children[i]);
                kill_all(children);
                panic!("worker {i} exited before the start barrier ({status}):\n{out}\n{err}");
            }
        }
        if start.elapsed() > HANG_GUARD {
            kill_all(children);
            panic!("only {ready} of {WORKERS} workers became ready");
        }
        std::thread::sleep(StdDuration::from_millis(2));
    }
    std::fs::write(dir.join("go"), b"").expect("open the start barrier");
}

/// Waits for every worker; each must exit 0 and print exactly one result line.
fn collect(children: Vec<Child>) -> Vec<Report> {
    let mut failures = Vec::new();
    let mut reports = Vec::new();
    for (i, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().expect("wait for a worker");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let results: Vec<&str> = stdout
            .lines()
            .filter_map(|l| l.strip_prefix("KW_RESULT "))
            .collect();
        if !out.status.success() || results.len() != 1 || stderr.contains("locked") {
            failures.push(format!(
                "worker {i}: {} \nstdout:\n{stdout}\nstderr:\n{stderr}",
                out.status
            ));
            continue;
        }
        let fields = results[0]
            .split_whitespace()
            .filter_map(|kv| {
                kv.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
            })
            .collect();
        reports.push(Report { fields });
    }
    assert!(
        failures.is_empty(),
        "{} worker(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    reports
}

/// Request rows per instance id.
fn rows_per_instance(ledger: &Ledger) -> HashMap<String, u32> {
    let conn = ledger.conn().unwrap();
    let mut stmt = conn
        .prepare("SELECT instance_id, COUNT(*) FROM requests GROUP BY instance_id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u32>(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

fn integrity(ledger: &Ledger) -> String {
    ledger
        .conn()
        .unwrap()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn eight_processes_spend_three_keys_exactly_to_their_caps() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.sqlite3");
    let ledger = Ledger::open(
        &db,
        CapDefaults {
            tier_applies: true,
            daily: FALLBACK_CAP,
            minute: NO_MINUTE_CAP,
        },
    )
    .unwrap();
    let keys: Vec<KeyId> = (1..=FALLBACK_KEYS as u64)
        .map(|n| {
            let k = api_key(n);
            ledger
                .upsert_key(&k, KeySource::Env, None, None, t0())
                .unwrap();
            k.id()
        })
        .collect();

    let mut children = spawn_workers("fallback", &db, dir.path(), &[]);
    release(dir.path(), &mut children);
    let reports = collect(children);
    assert_eq!(reports.len(), WORKERS);

    // What the workers saw.
    let total: u32 = reports.iter().map(|r| r.num("granted")).sum();
    assert_eq!(
        total,
        FALLBACK_KEYS as u32 * FALLBACK_CAP,
        "sum of grants over all workers"
    );
    let mut per_key = [0u32; FALLBACK_KEYS];
    for r in &reports {
        let split: Vec<u32> = r
            .get("per_key")
            .split(',')
            .map(|n| n.parse().unwrap())
            .collect();
        assert_eq!(split.len(), FALLBACK_KEYS);
        for (acc, n) in per_key.iter_mut().zip(split) {
            *acc += n;
        }
    }
    assert_eq!(
        per_key, [FALLBACK_CAP; FALLBACK_KEYS],
        "grants per key over all workers"
    );

    // What the ledger holds.
    for k in &keys {
        assert_eq!(
            ledger.requests_today(k, t0()).unwrap(),
            FALLBACK_CAP,
            "counter of {k}"
        );
    }
    assert_eq!(
        ledger.inconsistencies().unwrap(),
        vec![],
        "counters match request rows"
    );
    let usage = ledger.daily_usage(1, t0()).unwrap();
    assert_eq!(usage.len(), FALLBACK_KEYS);
    for u in &usage {
        assert_eq!(
            (u.requests, u.successes, u.errors),
            (FALLBACK_CAP, FALLBACK_CAP, 0),
            "{u:?}"
        );
    }
    assert_eq!(
        scalar(&ledger, "SELECT COUNT(*) FROM requests"),
        i64::from(total)
    );
    assert_eq!(
        scalar(
            &ledger,
            "SELECT COUNT(*) FROM requests WHERE state != 'done'"
        ),
        0,
        "every grant completed"
    );

    // Each worker's own count matches the rows written under its instance id.
    let rows = rows_per_instance(&ledger);
    for r in &reports {
        assert_eq!(
            rows.get(r.get("instance")).copied().unwrap_or(0),
            r.num("granted"),
            "rows of {}",
            r.get("instance")
        );
    }
    assert!(
        rows.len() >= 2,
        "the workers did not actually run concurrently: only {} instance(s) got grants",
        rows.len()
    );
    assert!(
        ledger
            .live_instances(t0(), Duration::days(1))
            .unwrap()
            .is_empty(),
        "every worker deregistered"
    );
    assert_eq!(integrity(&ledger), "ok");
}

#[test]
fn eight_processes_on_one_key_get_exactly_its_cap() {
    let dir = tempfile::tempdir().unwrap();
    // The file does not exist yet: all eight processes create and migrate it at the same moment.
    let db = dir.path().join("fresh").join("ledger.sqlite3");
    let mut children = spawn_workers(
        "single",
        &db,
        dir.path(),
        &[(ENV_ATTEMPTS, SINGLE_ATTEMPTS.to_string())],
    );
    release(dir.path(), &mut children);
    let reports = collect(children);
    assert_eq!(reports.len(), WORKERS);

    let granted: u32 = reports.iter().map(|r| r.num("granted")).sum();
    let spent: u32 = reports.iter().map(|r| r.num("spent")).sum();
    assert_eq!(
        granted, SINGLE_CAP,
        "exactly the cap is granted over all processes"
    );
    assert_eq!(
        spent,
        WORKERS as u32 * SINGLE_ATTEMPTS - SINGLE_CAP,
        "every other attempt is refused as spent"
    );

    let ledger = Ledger::open(
        &db,
        CapDefaults {
            tier_applies: true,
            daily: SINGLE_CAP,
            minute: NO_MINUTE_CAP,
        },
    )
    .unwrap();
    let key = api_key(7).id();
    assert_eq!(
        ledger.keys().unwrap().len(),
        1,
        "eight concurrent upserts of one key make one row"
    );
    assert_eq!(ledger.requests_today(&key, t0()).unwrap(), SINGLE_CAP);
    assert_eq!(ledger.inconsistencies().unwrap(), vec![]);
    assert_eq!(
        scalar(&ledger, "SELECT COUNT(*) FROM requests"),
        i64::from(SINGLE_CAP)
    );
    assert_eq!(
        scalar(
            &ledger,
            "SELECT COUNT(*) FROM requests WHERE state != 'done'"
        ),
        0
    );
    let rows = rows_per_instance(&ledger);
    for r in &reports {
        assert_eq!(
            rows.get(r.get("instance")).copied().unwrap_or(0),
            r.num("granted"),
            "rows of {}",
            r.get("instance")
        );
    }
    assert_eq!(integrity(&ledger), "ok");
    // One more attempt from this process is refused too.
    let me = ledger
        .register_instance("test", std::process::id(), t0())
        .unwrap();
    let out = ledger
        .reserve(&ReserveRequest {
            instance_id: &me,
            key_id: &key,
            kind: keywheel_core::dispatch::Kind::Chat,
            model: None,
            now: t0(),
        })
        .unwrap();
    assert!(matches!(out, ReserveOutcome::KeySpent { .. }), "{out:?}");
}
