//! Reservations per second on the shared SQLite ledger, with 1 and with 8 processes on one file,
//! side by side with a bare SQLite loop using the same pragmas (`ledger::db::configure`: WAL,
//! `synchronous=NORMAL`, busy timeout) doing `BEGIN IMMEDIATE; UPDATE counter SET n = n + 1
//! WHERE id = 1; COMMIT` on a one-row table.
//!
//! Run: `cargo bench -p keywheel-core --bench ledger`. Each case runs its workers (always separate
//! processes: the bench re-executes itself with `KW_BENCH_WORKER` set) for a fixed time after a
//! start barrier; throughput is all operations over the span from the first start to the last end.
//! After every ledger case the file is checked for over-allocation (counters == grants ≤ caps,
//! `inconsistencies()` empty). `KW_BENCH_SECS` changes the time per case (default 3);
//! `KW_BENCH_ONLY=reserve` (a case tag: `bare`, `reserve`, `reserve_complete`, optionally with
//! `:1` or `:8`) runs only the matching cases, e.g. under `perf record`.
//!
//! Then (`KW_BENCH_ONLY=reads` for this part alone) the reads that range over request rows by
//! time, on a realistic ledger (8 keys, 250 requests a key a day, 100 days: 200 000 rows),
//! side by side: the schema-9 SQL on a copy that still has the time index `requests_started`
//! ("index"), and the `Ledger` methods on the schema-10 file, which reads time ranges as
//! ranges of the primary key through `request_hours` ("pk range"). Median of repeated runs.
//!
//! Each worker reserves on its own key (1 of 8), its request times 3 s apart, so every key's 60 s
//! window holds 20 rows — what a real per-minute cap of 20 allows — and the window queries do
//! honest work. (With a shared key, workers running ahead in simulated time would fill the
//! windows of those behind: the window has no upper bound on `started_ms`.)

use std::path::{Path, PathBuf};
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, Utc};
use keywheel_core::keys::{KeyId, KeySource};
use keywheel_core::ledger::{CapDefaults, Completion, Ledger, ReserveOutcome, ReserveRequest, db};
use rusqlite::{Connection, TransactionBehavior};

mod procs;

use procs::{AnyResult, api_key, barrier, base, cpu_ns, epoch_ns, run_workers};

const CAPS: CapDefaults = CapDefaults {
    tier_applies: true,
    daily: 10_000_000,
    minute: 10_000_000,
};
const KEYS: u64 = 8;
const STEP_MS: i64 = 3_000;
const PROCS: [usize; 2] = [1, 8];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    Bare,
    Reserve,
    ReserveComplete,
}

impl Case {
    fn name(self) -> &'static str {
        match self {
            Case::Bare => "bare sqlite counter",
            Case::Reserve => "ledger reserve",
            Case::ReserveComplete => "ledger reserve+complete",
        }
    }

    fn tag(self) -> &'static str {
        match self {
            Case::Bare => "bare",
            Case::Reserve => "reserve",
            Case::ReserveComplete => "reserve_complete",
        }
    }

    fn from_tag(s: &str) -> Option<Self> {
        [Case::Bare, Case::Reserve, Case::ReserveComplete]
            .into_iter()
            .find(|c| c.tag() == s)
    }
}

fn key_ids() -> Vec<KeyId> {
    (1..=KEYS).map(|n| api_key(n).id()).collect()
}

// ---------------------------------------------------------------------------------------------
// Workers.
// ---------------------------------------------------------------------------------------------

struct WorkerArgs {
    db: PathBuf,
    dir: PathBuf,
    id: usize,
    run_for: StdDuration,
}

fn worker_main(case: Case) -> AnyResult<()> {
    let a = WorkerArgs {
        db: std::env::var("KW_BENCH_DB")?.into(),
        dir: std::env::var("KW_BENCH_DIR")?.into(),
        id: std::env::var("KW_BENCH_ID")?.parse()?,
        run_for: StdDuration::from_millis(std::env::var("KW_BENCH_MS")?.parse()?),
    };
    let cpu0 = cpu_ns();
    let (ops, start, end) = match case {
        Case::Bare => worker_bare(&a)?,
        Case::Reserve | Case::ReserveComplete => worker_ledger(&a, case == Case::ReserveComplete)?,
    };
    println!(
        "KW_BENCH ops={ops} start_ns={start} end_ns={end} cpu_ns={}",
        cpu_ns() - cpu0
    );
    Ok(())
}

fn worker_bare(a: &WorkerArgs) -> AnyResult<(u64, u128, u128)> {
    let mut conn = Connection::open(&a.db)?;
    db::configure(&conn)?;
    barrier(&a.dir, a.id)?;
    let (start, t) = (epoch_ns(), Instant::now());
    let mut ops = 0u64;
    while t.elapsed() < a.run_for {
        // Same shape as `Ledger::write`: retry on busy beyond the busy timeout.
        let mut delay = StdDuration::from_millis(2);
        loop {
            let attempt = (|| -> rusqlite::Result<()> {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                tx.prepare_cached("UPDATE counter SET n = n + 1 WHERE id = 1")?
                    .execute([])?;
                tx.commit()
            })();
            match attempt {
                Ok(()) => break,
                Err(e) if db::is_busy(&e) => {
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(StdDuration::from_millis(100));
                }
                Err(e) => return Err(e.into()),
            }
        }
        ops += 1;
    }
    Ok((ops, start, epoch_ns()))
}

fn worker_ledger(a: &WorkerArgs, complete: bool) -> AnyResult<(u64, u128, u128)> {
    let ledger = Ledger::open(&a.db, CAPS)?;
    let keys = key_ids();
    let me = ledger.register_instance("bench", std::process::id(), base())?;
    let done = Completion::ok();
    barrier(&a.dir, a.id)?;
    let (start, t) = (epoch_ns(), Instant::now());
    let mut ops = 0u64;
    while t.elapsed() < a.run_for {
        let i = ops as i64;
        let now = base() + Duration::milliseconds(i * STEP_MS + a.id as i64);
        let key = &keys[a.id % keys.len()];
        match ledger.reserve(&ReserveRequest {
            instance_id: &me,
            key_id: key,
            kind: keywheel_core::dispatch::Kind::Chat,
            model: None,
            now,
        })? {
            ReserveOutcome::Granted(r) => {
                if complete {
                    ledger.complete(&r, &done, now)?;
                }
            }
            other => return Err(format!("the bench caps must never refuse, got {other:?}").into()),
        }
        ops += 1;
    }
    Ok((ops, start, epoch_ns()))
}

// ---------------------------------------------------------------------------------------------
// The driver.
// ---------------------------------------------------------------------------------------------

struct Measured {
    case: Case,
    procs: usize,
    ops: u64,
    secs: f64,
    cpu_ns: u128,
    verify: String,
}

impl Measured {
    fn rate(&self) -> f64 {
        self.ops as f64 / self.secs
    }

    fn cpu_us_per_op(&self) -> f64 {
        self.cpu_ns as f64 / 1e3 / self.ops.max(1) as f64
    }
}

fn setup(case: Case, path: &Path) -> AnyResult<()> {
    match case {
        Case::Bare => {
            let conn = Connection::open(path)?;
            db::configure(&conn)?;
            conn.execute_batch("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL); INSERT INTO counter VALUES (1, 0);")?;
        }
        Case::Reserve | Case::ReserveComplete => {
            let ledger = Ledger::open(path, CAPS)?;
            for n in 1..=KEYS {
                ledger.upsert_key(&api_key(n), KeySource::Env, None, None, base())?;
            }
        }
    }
    Ok(())
}

fn verify(case: Case, path: &Path, ops: u64) -> AnyResult<String> {
    if case == Case::Bare {
        let conn = Connection::open(path)?;
        let n: u64 = conn.query_row("SELECT n FROM counter WHERE id = 1", [], |r| r.get(0))?;
        if n != ops {
            return Err(format!("bare counter {n} != {ops} operations").into());
        }
        return Ok(format!("counter == ops ({n})"));
    }
    let ledger = Ledger::open(path, CAPS)?;
    let conn = ledger.conn()?;
    let (counted, max_cell): (u64, u64) = conn.query_row(
        "SELECT COALESCE(SUM(requests), 0), COALESCE(MAX(requests), 0) FROM usage_daily",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let rows: u64 = conn.query_row("SELECT COUNT(*) FROM requests", [], |r| r.get(0))?;
    let open: u64 = conn.query_row(
        "SELECT COUNT(*) FROM requests WHERE state = 'reserved'",
        [],
        |r| r.get(0),
    )?;
    let bad = ledger.inconsistencies()?;
    let expect_open = if case == Case::Reserve { ops } else { 0 };
    if counted != ops
        || rows != ops
        || max_cell > u64::from(CAPS.daily)
        || !bad.is_empty()
        || open != expect_open
    {
        return Err(format!(
            "OVER-ALLOCATION or drift: grants {ops}, counters {counted}, rows {rows}, max per key-day {max_cell}, open {open}, inconsistencies {bad:?}"
        )
        .into());
    }
    Ok(format!(
        "0 over-allocation: grants {ops} == counters {counted} == rows {rows}; max per key-day {max_cell} <= {}",
        CAPS.daily
    ))
}

fn run_case(case: Case, procs: usize, run_for: StdDuration) -> AnyResult<Measured> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("bench.sqlite3");
    setup(case, &path)?;
    let t = run_workers(
        case.tag(),
        procs,
        run_for,
        dir.path(),
        &[("KW_BENCH_DB", path.as_os_str())],
    )?;
    let (ops, secs, cpu_ns) = (t.ops, t.secs, t.cpu_ns);
    let verify = verify(case, &path, ops)?;
    Ok(Measured {
        case,
        procs,
        ops,
        secs,
        cpu_ns,
        verify,
    })
}

fn main() {
    if let Ok(tag) = std::env::var("KW_BENCH_WORKER") {
        let Some(case) = Case::from_tag(&tag) else {
            eprintln!("unknown bench worker case {tag:?}");
            std::process::exit(2);
        };
        if let Err(e) = worker_main(case) {
            eprintln!("bench worker failed: {e}");
            std::process::exit(3);
        }
        return;
    }
    // `cargo bench` passes `--bench`; under `cargo test --benches` run a short smoke pass instead.
    let benching = std::env::args().any(|a| a == "--bench");
    let secs: f64 = std::env::var("KW_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let run_for = if benching {
        StdDuration::from_secs_f64(secs)
    } else {
        StdDuration::from_millis(200)
    };

    println!(
        "ledger bench: {run_for:?} per case, {KEYS} keys, request times {STEP_MS} ms apart per worker"
    );
    let only = std::env::var("KW_BENCH_ONLY").ok();
    if only.as_deref() == Some("reads") {
        if let Err(e) = run_reads() {
            eprintln!("bench reads failed: {e}");
            std::process::exit(1);
        }
        return;
    }
    let mut results = Vec::new();
    for procs in PROCS {
        for case in [Case::Bare, Case::Reserve, Case::ReserveComplete] {
            if let Some(only) = &only {
                let (tag, n) = only
                    .split_once(':')
                    .map_or((only.as_str(), None), |(t, n)| (t, Some(n)));
                if tag != case.tag() || n.is_some_and(|n| n != procs.to_string()) {
                    continue;
                }
            }
            match run_case(case, procs, run_for) {
                Ok(m) => {
                    println!("  {:<24} x{}: {}", case.name(), procs, m.verify);
                    results.push(m);
                }
                Err(e) => {
                    eprintln!("bench case {} x{procs} failed: {e}", case.name());
                    std::process::exit(1);
                }
            }
        }
    }

    println!();
    println!(
        "{:<26} {:>9} {:>9} {:>6} {:>9} {:>8} {:>10} {:>8}",
        "case", "processes", "ops", "secs", "ops/s", "vs bare", "cpu us/op", "cpu vs"
    );
    for m in &results {
        let bare = results
            .iter()
            .find(|b| b.case == Case::Bare && b.procs == m.procs);
        let (ratio, cpu_ratio) = bare.map_or_else(
            || ("-".to_string(), "-".to_string()),
            |b| {
                (
                    format!("{:.2}x", m.rate() / b.rate()),
                    format!("{:.2}x", b.cpu_us_per_op() / m.cpu_us_per_op()),
                )
            },
        );
        println!(
            "{:<26} {:>9} {:>9} {:>6.2} {:>9.0} {:>8} {:>10.1} {:>8}",
            m.case.name(),
            m.procs,
            m.ops,
            m.secs,
            m.rate(),
            ratio,
            m.cpu_us_per_op(),
            cpu_ratio
        );
    }
    println!(
        "(vs bare: throughput ratio; cpu vs: bare's CPU per op / this case's, from the workers' own CPU time)"
    );
    if only.is_none()
        && benching
        && let Err(e) = run_reads()
    {
        eprintln!("bench reads failed: {e}");
        std::process::exit(1);
    }
}

// ---------------------------------------------------------------------------------------------
// Reads by time on a realistic ledger: the time index (schema 9) vs primary-key ranges.
// ---------------------------------------------------------------------------------------------

const READ_DAYS: i64 = 100;
const READ_PER_KEY_DAY: i64 = 250;

/// The request-log columns schema 9 read (ledger/request_log.rs).
const LOG_COLUMNS: &str = "id, started_ms, day, instance_id, key_id, account, kind, model_asked, model_answered, state, \
     status_class, http_status, attempts, fallback, rotation, cached, prompt_tokens, completion_tokens, \
     reasoning_tokens, cost, latency_ms, bytes_sent, error, via";

/// "Now" of the read cases: 18:00 UTC on the last day of the history.
fn reads_now() -> DateTime<Utc> {
    base() + Duration::days(READ_DAYS - 1) + Duration::hours(18)
}

/// Fills a ledger with `READ_DAYS` days of history up to `reads_now()`, in time order (ids grow
/// with time, as when appended by reservations): 5 % cached, 4 % rate-limited, 0.2 % upstream.
fn fill_history(path: &Path) -> AnyResult<Ledger> {
    let ledger = Ledger::open(path, CAPS)?;
    for n in 1..=KEYS {
        ledger.upsert_key(&api_key(n), KeySource::Env, None, None, base())?;
    }
    let keys = key_ids();
    let mut conn = Connection::open(path)?;
    db::configure(&conn)?;
    let tx = conn.transaction()?;
    {
        let mut row = tx.prepare(
            "INSERT INTO requests (instance_id, key_id, account, day, started_ms, finished_ms, state, kind,
                                   model_asked, status_class, cached, prompt_tokens, completion_tokens,
                                   cost, latency_ms, via)
             VALUES ('bench', ?1, ?1, ?2, ?3, ?3 + 900, ?4, 'chat', 'm', ?5, ?6, 100, 200, 0.0, 900, 'cli')",
        )?;
        let mut day_row = tx.prepare(
            "INSERT INTO usage_daily (key_id, day, requests, successes, errors) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        let per_day = READ_PER_KEY_DAY * KEYS as i64;
        let step = 86_400_000 / per_day;
        let end = reads_now().timestamp_millis();
        for d in 0..READ_DAYS {
            let day = base() + Duration::days(d);
            let day_s = day.format("%Y-%m-%d").to_string();
            let mut counts = vec![(0i64, 0i64, 0i64); keys.len()];
            for i in 0..per_day {
                let at = day.timestamp_millis() + i * step;
                if at > end {
                    break;
                }
                let k = (i as usize) % keys.len();
                let (state, class, cached) = match i % 500 {
                    0..=24 => ("done", "cached", true),
                    25..=44 => ("failed", "rate_limited", false),
                    45 => ("failed", "upstream", false),
                    _ => ("done", "ok", false),
                };
                row.execute(rusqlite::params![
                    keys[k].as_str(),
                    day_s,
                    at,
                    state,
                    class,
                    cached
                ])?;
                if !cached {
                    counts[k].0 += 1;
                    if state == "done" {
                        counts[k].1 += 1;
                    } else {
                        counts[k].2 += 1;
                    }
                }
            }
            for (k, (n, ok, err)) in counts.into_iter().enumerate() {
                if n > 0 {
                    day_row.execute(rusqlite::params![keys[k].as_str(), day_s, n, ok, err])?;
                }
            }
        }
    }
    tx.commit()?;
    Ok(ledger)
}

/// The median of `runs` timings of `f`, in µs.
fn median_us(runs: usize, mut f: impl FnMut() -> AnyResult<()>) -> AnyResult<f64> {
    f()?;
    let mut t: Vec<f64> = (0..runs)
        .map(|_| {
            let s = Instant::now();
            f().map(|()| s.elapsed().as_secs_f64() * 1e6)
        })
        .collect::<AnyResult<_>>()?;
    t.sort_by(f64::total_cmp);
    Ok(t[t.len() / 2])
}

/// Steps through every row of `sql`, reading each column (what the schema-9 method did with it).
fn step_all(conn: &Connection, sql: &str, args: &[&dyn rusqlite::ToSql]) -> AnyResult<usize> {
    let mut stmt = conn.prepare_cached(sql)?;
    let cols = stmt.column_count();
    let mut rows = stmt.query(args)?;
    let mut n = 0;
    while let Some(r) = rows.next()? {
        for c in 0..cols {
            let _ = r.get_ref(c)?;
        }
        n += 1;
    }
    Ok(n)
}

fn run_reads() -> AnyResult<()> {
    use keywheel_core::ledger::request_log::{GroupBy, LogFilter, StatusClass};
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("reads.sqlite3");
    let t = Instant::now();
    let ledger = fill_history(&path)?;
    let rows: i64 = ledger
        .conn()?
        .query_row("SELECT COUNT(*) FROM requests", [], |r| r.get(0))?;
    // The schema-9 shape: the same rows with the time index back.
    let old_path = dir.path().join("reads-index.sqlite3");
    {
        let c = ledger.conn()?;
        c.execute("VACUUM INTO ?1", [old_path.to_string_lossy()])?;
    }
    let old = Connection::open(&old_path)?;
    db::configure(&old)?;
    old.execute_batch("CREATE INDEX requests_started ON requests (started_ms); ANALYZE;")?;
    ledger.conn()?.execute_batch("ANALYZE")?;
    println!(
        "\nreads by time on a realistic ledger: {rows} request rows, {KEYS} keys, {READ_DAYS} days (filled in {:.1} s)",
        t.elapsed().as_secs_f64()
    );

    let now = reads_now();
    let midnight = (now - Duration::hours(18)).timestamp_millis();
    let week = midnight - 6 * 86_400_000;
    let key = key_ids()[3].clone();
    let runs = 15;
    let mut table: Vec<(&str, f64, f64)> = Vec::new();

    let i = median_us(runs, || {
        step_all(
            &old,
            "SELECT key_id, account, MIN(started_ms) FROM requests INDEXED BY requests_started
             WHERE started_ms >= ?1 AND started_ms < ?2 AND cached = 0 GROUP BY key_id",
            &[&midnight, &(midnight + 86_400_000)],
        )
        .map(drop)
    })?;
    let p = median_us(runs, || {
        ledger
            .first_requests_today(now)
            .map(drop)
            .map_err(Into::into)
    })?;
    table.push(("first_requests_today", i, p));

    let i = median_us(runs, || {
        step_all(
            &old,
            "SELECT key_id, account, day, state, status_class, cached, prompt_tokens, completion_tokens,
                    reasoning_tokens, cost, latency_ms
             FROM requests INDEXED BY requests_started WHERE started_ms >= ?1",
            &[&week],
        )
        .map(drop)
    })?;
    let p = median_us(runs, || {
        ledger
            .aggregates(7, GroupBy::Key, now)
            .map(drop)
            .map_err(Into::into)
    })?;
    table.push(("aggregates, 7 days", i, p));

    let log = |key: Option<&str>, class: Option<&str>, since: Option<i64>| {
        let mut sql = format!("SELECT {LOG_COLUMNS} FROM requests WHERE 1 = 1");
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(k) = key {
            sql.push_str(" AND key_id = ?");
            args.push(k.to_string().into());
        }
        if let Some(c) = class {
            sql.push_str(" AND status_class = ?");
            args.push(c.to_string().into());
        }
        if let Some(t) = since {
            sql.push_str(" AND started_ms >= ?");
            args.push(t.into());
        }
        sql.push_str(" ORDER BY started_ms DESC, id DESC LIMIT 100");
        let mut stmt = old.prepare_cached(&sql)?;
        let cols = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
        // Each column as an owned value, as building a `RequestRow` does.
        let mut page = Vec::new();
        while let Some(r) = rows.next()? {
            for c in 0..cols {
                page.push(r.get::<_, rusqlite::types::Value>(c)?);
            }
        }
        drop(page);
        AnyResult::Ok(())
    };
    let filter = |key: Option<&KeyId>, class: Option<&str>, since: Option<i64>| LogFilter {
        key_id: key.map(|k| k.as_str().to_string()),
        status_class: class.map(StatusClass::parse),
        since: since.map(keywheel_core::clock::from_millis),
        limit: 100,
        ..LogFilter::default()
    };
    for (name, k, class, since) in [
        ("request_log, newest 100", None, None, None),
        ("request_log, one key", Some(&key), None, None),
        ("request_log, key, 7 days", Some(&key), None, Some(week)),
        ("request_log, rare class", None, Some("upstream"), None),
    ] {
        let i = median_us(runs, || log(k.map(KeyId::as_str), class, since))?;
        let f = filter(k, class, since);
        let p = median_us(runs, || {
            ledger.request_log(&f).map(drop).map_err(Into::into)
        })?;
        table.push((name, i, p));
    }

    let i = median_us(runs, || {
        step_all(
            &old,
            "SELECT COUNT(*), COALESCE(SUM(state = 'failed'), 0) FROM (
               SELECT state FROM requests
               WHERE key_id = ?1 AND started_ms >= ?2 AND started_ms < ?4 AND cached = 0
                 AND state IN ('done', 'failed')
               ORDER BY started_ms DESC LIMIT ?3)",
            &[&key.as_str(), &midnight, &10, &(midnight + 86_400_000)],
        )
        .map(drop)
    })?;
    let p = median_us(runs, || {
        ledger
            .recent_failures(&key, 10, now)
            .map(drop)
            .map_err(Into::into)
    })?;
    table.push(("recent_failures (n = 10)", i, p));

    // Pruning, 90 days kept: the first pass deletes the 10 oldest days; the next finds nothing.
    let old_prune = |cut: i64| -> AnyResult<()> {
        loop {
            let n = old.execute(
                "DELETE FROM requests WHERE id IN
                   (SELECT id FROM requests WHERE started_ms < ?1 LIMIT ?2)",
                rusqlite::params![cut, 2000],
            )?;
            if n < 2000 {
                return Ok(());
            }
        }
    };
    let cut = keywheel_core::ledger::retention::cutoff(now, 90).timestamp_millis();
    let s = Instant::now();
    old_prune(cut)?;
    let i = s.elapsed().as_secs_f64() * 1e6;
    let s = Instant::now();
    let pruned = ledger.prune(now, 90)?;
    let p = s.elapsed().as_secs_f64() * 1e6;
    table.push(("prune 90 days (10 days go)", i, p));
    let i = median_us(5, || old_prune(cut))?;
    let p = median_us(5, || ledger.prune(now, 90).map(drop).map_err(Into::into))?;
    table.push(("prune again (nothing goes)", i, p));
    let bad = ledger.inconsistencies()?;
    if !bad.is_empty() {
        return Err(format!("inconsistencies after pruning: {bad:?}").into());
    }

    println!(
        "{:<30} {:>12} {:>12} {:>7}",
        "read", "index us", "pk range us", "ratio"
    );
    for (name, i, p) in table {
        println!("{name:<30} {i:>12.0} {p:>12.0} {:>6.2}x", p / i);
    }
    println!(
        "(ratio: pk range time / index time; the pruning pass deleted {} request rows)",
        pruned.requests
    );
    Ok(())
}
