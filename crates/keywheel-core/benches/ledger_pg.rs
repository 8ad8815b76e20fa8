//! Reservations per second on a team ledger (PostgreSQL), with 1 and with 8 processes, side
//! by side with a bare loop on the same server: `UPDATE counter SET n = n + 1 WHERE id = $1
//! AND n < $2 RETURNING n` (prepared, one round trip, autocommit) on a one-row-per-worker table.
//!
//! Run: `bash scripts/with-postgres.sh cargo bench -p keywheel-core --bench ledger_pg` (the
//! server is the one in `KEYWHEEL_TEST_PG_URL`; this bench makes a database of its own and
//! drops it). Each case runs its workers (separate processes: the bench re-executes itself with
//! `KW_BENCH_WORKER` set) for a fixed time after a start barrier; throughput is all operations
//! over the span from the first start to the last end. `KW_BENCH_SECS` changes the time per
//! case (default 3); `KW_BENCH_ONLY=reserve` (or `bare`, optionally `:1` / `:8`) runs only the
//! matching cases.
//!
//! Like the SQLite bench (benches/ledger.rs), each worker reserves on its own key, its request
//! times 3 s apart (the caller's clock, not the server's), so every key's minute window holds
//! 20 rows. After every ledger case the database is checked: grants == day counters == request
//! rows, `inconsistencies()` empty. A last race checks over-allocation under contention: 8
//! processes reserve on the keys of one account until its cap refuses them; exactly the cap is
//! granted.
//!
//! A reservation goes through the fast path (one statement, `keywheel_reserve`, migration 12)
//! when every rule certainly allows it and the key's day row exists, else through the locked
//! transaction: each case prints how many of its grants the fast path made (the first of each
//! key's day is always the locked transaction's; the race's refusals are too).

use std::ffi::OsStr;
use std::path::PathBuf;
use std::time::{Duration as StdDuration, Instant};

use chrono::Duration;
use keywheel_core::keys::KeySource;
use keywheel_core::ledger::pg::{Options, Target};
use keywheel_core::ledger::{CapDefaults, Ledger, ReserveOutcome, ReserveRequest};

mod procs;

use procs::{AnyResult, api_key, barrier, base, epoch_ns, run_workers};

const CAPS: CapDefaults = CapDefaults {
    tier_applies: false,
    daily: 10_000_000,
    minute: 10_000_000,
};
const STEP_MS: i64 = 3_000;
const PROCS: [usize; 2] = [1, 8];
/// The contended race: 8 processes on the keys of one account with this daily cap.
const RACE_CAP: u32 = 400;
const RACE_PROCS: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    Bare,
    Reserve,
    Race,
}

impl Case {
    fn name(self) -> &'static str {
        match self {
            Case::Bare => "bare UPDATE … RETURNING",
            Case::Reserve => "team ledger reserve",
            Case::Race => "race for an account cap",
        }
    }

    fn tag(self) -> &'static str {
        match self {
            Case::Bare => "bare",
            Case::Reserve => "reserve",
            Case::Race => "race",
        }
    }

    fn from_tag(s: &str) -> Option<Self> {
        [Case::Bare, Case::Reserve, Case::Race]
            .into_iter()
            .find(|c| c.tag() == s)
    }
}

fn options() -> Options {
    Options {
        connect_timeout: StdDuration::from_secs(10),
        host: "bench".into(),
        server_clock: false,
        ..Options::default()
    }
}

fn open(url: &str) -> AnyResult<Ledger> {
    Ok(Ledger::open_postgres(
        &Target::parse(url)?,
        &options(),
        CAPS,
    )?)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// One connection to `url` (its task spawned on `rt`).
fn connect(rt: &tokio::runtime::Runtime, url: &str) -> AnyResult<tokio_postgres::Client> {
    let url = url.to_string();
    Ok(rt.block_on(async move {
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
        tokio::spawn(conn);
        Ok::<_, tokio_postgres::Error>(client)
    })?)
}

// ---------------------------------------------------------------------------------------------
// Workers.
// ---------------------------------------------------------------------------------------------

struct WorkerArgs {
    url: String,
    dir: PathBuf,
    id: usize,
    run_for: StdDuration,
}

fn worker_main(case: Case) -> AnyResult<()> {
    let a = WorkerArgs {
        url: std::env::var("KW_BENCH_URL")?,
        dir: std::env::var("KW_BENCH_DIR")?.into(),
        id: std::env::var("KW_BENCH_ID")?.parse()?,
        run_for: StdDuration::from_millis(std::env::var("KW_BENCH_MS")?.parse()?),
    };
    let (ops, start, end) = match case {
        Case::Bare => worker_bare(&a)?,
        Case::Reserve => worker_reserve(&a)?,
        Case::Race => worker_race(&a)?,
    };
    println!("KW_BENCH ops={ops} start_ns={start} end_ns={end}");
    Ok(())
}

fn worker_bare(a: &WorkerArgs) -> AnyResult<(u64, u128, u128)> {
    let rt = runtime();
    let client = connect(&rt, &a.url)?;
    let stmt = rt.block_on(
        client.prepare("UPDATE counter SET n = n + 1 WHERE id = $1 AND n < $2 RETURNING n"),
    )?;
    let (id, cap) = (a.id as i64 + 1, i64::from(CAPS.daily));
    barrier(&a.dir, a.id)?;
    let start = epoch_ns();
    let t = Instant::now();
    let mut ops = 0u64;
    while t.elapsed() < a.run_for {
        let rows = rt.block_on(client.query(&stmt, &[&id, &cap]))?;
        if rows.len() != 1 {
            return Err("the bare counter refused".into());
        }
        ops += 1;
    }
    Ok((ops, start, epoch_ns()))
}

fn worker_reserve(a: &WorkerArgs) -> AnyResult<(u64, u128, u128)> {
    let ledger = open(&a.url)?;
    let key = api_key(a.id as u64 + 1).id();
    let start_at = base();
    let me = ledger.register_instance("bench", std::process::id(), start_at)?;
    barrier(&a.dir, a.id)?;
    let start = epoch_ns();
    let t = Instant::now();
    let mut ops = 0u64;
    while t.elapsed() < a.run_for {
        let now = start_at + Duration::milliseconds(ops as i64 * STEP_MS);
        match ledger.reserve(&ReserveRequest {
            instance_id: &me,
            key_id: &key,
            kind: keywheel_core::dispatch::Kind::Chat,
            model: None,
            now,
        })? {
            ReserveOutcome::Granted(_) => ops += 1,
            other => return Err(format!("the bench caps must never refuse, got {other:?}").into()),
        }
    }
    Ok((ops, start, epoch_ns()))
}

/// Reserves on this worker's key of the shared account until the account's cap refuses.
fn worker_race(a: &WorkerArgs) -> AnyResult<(u64, u128, u128)> {
    let ledger = open(&a.url)?;
    let key = api_key(100 + a.id as u64).id();
    let now = base();
    let me = ledger.register_instance("bench", std::process::id(), now)?;
    barrier(&a.dir, a.id)?;
    let start = epoch_ns();
    let mut ops = 0u64;
    loop {
        match ledger.reserve(&ReserveRequest {
            instance_id: &me,
            key_id: &key,
            kind: keywheel_core::dispatch::Kind::Chat,
            model: None,
            now,
        })? {
            ReserveOutcome::Granted(_) => ops += 1,
            ReserveOutcome::AccountSpent { .. } => break,
            other => return Err(format!("unexpected answer in the race: {other:?}").into()),
        }
    }
    Ok((ops, start, epoch_ns()))
}

// ---------------------------------------------------------------------------------------------
// The parent.
// ---------------------------------------------------------------------------------------------

/// A database of this run's own on the server in `KEYWHEEL_TEST_PG_URL`, dropped at the end.
struct BenchDb {
    admin: String,
    name: String,
    url: String,
}

impl BenchDb {
    fn new() -> AnyResult<Self> {
        let admin = std::env::var("KEYWHEEL_TEST_PG_URL").map_err(|_| {
            "KEYWHEEL_TEST_PG_URL is not set: run this bench under `bash scripts/with-postgres.sh \
             cargo bench -p keywheel-core --bench ledger_pg` (it starts a private PostgreSQL)"
        })?;
        let name = format!("kw_bench_{}", std::process::id());
        let rt = runtime();
        let c = connect(&rt, &admin)?;
        // Two statements: CREATE DATABASE cannot run inside the implicit transaction of one
        // multi-statement query.
        rt.block_on(c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))?;
        rt.block_on(c.batch_execute(&format!("CREATE DATABASE {name}")))?;
        let (root, _) = admin.rsplit_once('/').ok_or("a URL with a database")?;
        Ok(Self {
            url: format!("{root}/{name}"),
            admin,
            name,
        })
    }

    fn exec(&self, sql: &str) -> AnyResult<()> {
        let rt = runtime();
        let c = connect(&rt, &self.url)?;
        rt.block_on(c.batch_execute(sql))?;
        Ok(())
    }

    fn scalar(&self, sql: &str) -> AnyResult<i64> {
        let rt = runtime();
        let c = connect(&rt, &self.url)?;
        Ok(rt.block_on(c.query_one(sql, &[]))?.get(0))
    }
}

impl Drop for BenchDb {
    fn drop(&mut self) {
        let rt = runtime();
        if let Ok(c) = connect(&rt, &self.admin) {
            let _ = rt.block_on(c.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            )));
        }
    }
}

/// A fresh ledger (or bare table) for one case.
fn setup(case: Case, db: &BenchDb) -> AnyResult<()> {
    db.exec(
        "DROP TABLE IF EXISTS counter;
         CREATE TABLE counter (id BIGINT PRIMARY KEY, n BIGINT NOT NULL);
         INSERT INTO counter SELECT g, 0 FROM generate_series(1, 8) g;",
    )?;
    let l = open(&db.url)?;
    db.exec("TRUNCATE requests, usage_daily, instances")?;
    match case {
        Case::Bare => {}
        Case::Reserve => {
            for n in 1..=8 {
                l.upsert_key(&api_key(n), KeySource::Env, None, None, base())?;
            }
        }
        Case::Race => {
            for n in 0..RACE_PROCS as u64 {
                l.upsert_key(
                    &api_key(100 + n),
                    KeySource::Env,
                    None,
                    Some("race"),
                    base(),
                )?;
            }
            l.set_account_caps("race", Some(RACE_CAP), None)?;
        }
    }
    Ok(())
}

fn verify(case: Case, db: &BenchDb, ops: u64) -> AnyResult<String> {
    if case == Case::Bare {
        let n = db.scalar("SELECT SUM(n)::bigint FROM counter")?;
        if n as u64 != ops {
            return Err(format!("bare counters {n} != ops {ops}").into());
        }
        return Ok(format!("counters {n} == ops"));
    }
    let counted = db.scalar("SELECT COALESCE(SUM(requests), 0)::bigint FROM usage_daily")? as u64;
    let rows = db.scalar("SELECT count(*) FROM requests")? as u64;
    let l = open(&db.url)?;
    let bad = l.inconsistencies()?;
    if counted != ops || rows != ops || !bad.is_empty() {
        return Err(format!(
            "over-allocation check failed: grants {ops}, counters {counted}, rows {rows}, \
             inconsistencies {bad:?}"
        )
        .into());
    }
    if case == Case::Race && ops != u64::from(RACE_CAP) {
        return Err(format!("the race granted {ops}, the account's cap is {RACE_CAP}").into());
    }
    let fast = db.scalar("SELECT count(*) FROM requests WHERE token IS NOT NULL")?;
    Ok(format!(
        "0 over-allocation: grants {ops} == counters {counted} == rows {rows} \
         ({fast} by the fast path)"
    ))
}

struct Measured {
    case: Case,
    procs: usize,
    ops: u64,
    secs: f64,
    verify: String,
}

impl Measured {
    fn rate(&self) -> f64 {
        self.ops as f64 / self.secs.max(1e-9)
    }
}

fn run_case(case: Case, procs: usize, db: &BenchDb, run_for: StdDuration) -> AnyResult<Measured> {
    setup(case, db)?;
    let dir = tempfile::tempdir()?;
    let t = run_workers(
        case.tag(),
        procs,
        run_for,
        dir.path(),
        &[("KW_BENCH_URL", OsStr::new(&db.url))],
    )?;
    let (ops, secs) = (t.ops, t.secs);
    let verify = verify(case, db, ops)?;
    Ok(Measured {
        case,
        procs,
        ops,
        secs,
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
    // `cargo bench` passes `--bench`; under `cargo test --benches` run a short smoke pass.
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
    let db = match BenchDb::new() {
        Ok(db) => db,
        Err(e) => {
            eprintln!("ledger_pg bench: {e}");
            std::process::exit(1);
        }
    };
    println!(
        "team ledger (PostgreSQL) bench: {run_for:?} per case, each worker on its own key, \
         request times {STEP_MS} ms apart"
    );
    let only = std::env::var("KW_BENCH_ONLY").ok();
    let mut results = Vec::new();
    let mut cases: Vec<(Case, usize)> = PROCS
        .iter()
        .flat_map(|p| [(Case::Bare, *p), (Case::Reserve, *p)])
        .collect();
    cases.push((Case::Race, RACE_PROCS));
    for (case, procs) in cases {
        if let Some(only) = &only {
            let (tag, n) = only
                .split_once(':')
                .map_or((only.as_str(), None), |(t, n)| (t, Some(n)));
            if tag != case.tag() || n.is_some_and(|n| n != procs.to_string()) {
                continue;
            }
        }
        match run_case(case, procs, &db, run_for) {
            Ok(m) => {
                println!("  {:<26} x{}: {}", case.name(), procs, m.verify);
                results.push(m);
            }
            Err(e) => {
                eprintln!("bench case {} x{procs} failed: {e}", case.name());
                std::process::exit(1);
            }
        }
    }
    println!();
    println!(
        "{:<28} {:>9} {:>9} {:>6} {:>9} {:>8}",
        "case", "processes", "ops", "secs", "ops/s", "vs bare"
    );
    for m in &results {
        let bare = results
            .iter()
            .find(|b| b.case == Case::Bare && b.procs == m.procs);
        let ratio = match (m.case, bare) {
            (Case::Reserve, Some(b)) => format!("{:.2}x", m.rate() / b.rate()),
            _ => "-".to_string(),
        };
        println!(
            "{:<28} {:>9} {:>9} {:>6.2} {:>9.0} {:>8}",
            m.case.name(),
            m.procs,
            m.ops,
            m.secs,
            m.rate(),
            ratio
        );
    }
}
