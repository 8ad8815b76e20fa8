//! A process killed with SIGKILL (`kill -9`) while it holds a reservation, or while it is
//! reserving in a tight loop, leaves a consistent ledger (docs/pool.md §5: "a dead instance (crash,
//! `kill -9`) expires and holds nothing").
//!
//! The test binary re-executes itself: the parent spawns `current_exe() --exact ledger_kill9::worker_entry`
//! with `KW_WORKER_*` variables set; [`worker_entry`] returns at once in a normal test run.

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Stdio};

use crate::{AnyResult, ENV_DB, ENV_MODE, api_key, scalar, t0, worker_command};
use chrono::{DateTime, Duration, Utc};
use keywheel_core::keys::{KeyId, KeySource};
use keywheel_core::ledger::{
    CapDefaults, Completion, Ledger, Reservation, ReserveOutcome, ReserveRequest,
};

const ENV_BASE_S: &str = "KW_WORKER_BASE_S";

/// Caps for the "hold" scenario: the killed request and one more fill the key.
const HOLD_CAPS: CapDefaults = CapDefaults {
    tier_applies: true,
    daily: 2,
    minute: 100,
};
/// Caps for the "loop" scenario: nothing is refused.
const LOOP_CAPS: CapDefaults = CapDefaults {
    tier_applies: true,
    daily: 10_000_000,
    minute: 10_000_000,
};
/// How many grants the looping worker reports before each kill.
const LOOP_KILL_AFTER: [u64; 3] = [100, 150, 200];

fn ttl() -> Duration {
    Duration::seconds(30)
}

// ---------------------------------------------------------------------------------------------
// The worker side.
// ---------------------------------------------------------------------------------------------

/// Runs as a worker when `KW_WORKER_MODE` is set; otherwise does nothing.
#[test]
fn worker_entry() {
    let Ok(mode) = std::env::var(ENV_MODE) else {
        return;
    };
    if let Err(e) = run_worker(&mode) {
        eprintln!("KW_ERROR worker failed: {e}");
        std::process::exit(3);
    }
    // Both modes run until killed.
    std::process::exit(4);
}

fn run_worker(mode: &str) -> AnyResult<()> {
    let db: PathBuf = std::env::var(ENV_DB)?.into();
    match mode {
        "hold" => worker_hold(&db),
        "loop" => worker_loop(&db, std::env::var(ENV_BASE_S)?.parse()?),
        other => Err(format!("unknown worker mode {other:?}").into()),
    }
}

/// Registers, reserves one request without completing it, says so and sleeps until killed.
fn worker_hold(db: &Path) -> AnyResult<()> {
    let ledger = Ledger::open(db, HOLD_CAPS)?;
    let key = api_key(1).id();
    let me = ledger.register_instance("test-worker", std::process::id(), t0())?;
    let r = match ledger.reserve(&ReserveRequest {
        instance_id: &me,
        key_id: &key,
        kind: keywheel_core::dispatch::Kind::Chat,
        model: None,
        now: t0(),
    })? {
        ReserveOutcome::Granted(r) => r,
        other => return Err(format!("expected a grant, got {other:?}").into()),
    };
    // A leading newline: the harness has printed `test worker_entry ... ` without one.
    println!(
        "\nKW_RESERVED instance={me} id={} account={} day={}",
        r.id, r.account, r.day
    );
    std::thread::sleep(std::time::Duration::from_secs(600));
    Err("was not killed".into())
}

/// Registers, then reserves and completes in a loop, reporting each grant, until killed.
fn worker_loop(db: &Path, base_s: i64) -> AnyResult<()> {
    let ledger = Ledger::open(db, LOOP_CAPS)?;
    let key = api_key(2).id();
    let start = t0() + Duration::seconds(base_s);
    let me = ledger.register_instance("test-worker", std::process::id(), start)?;
    println!("\nKW_INSTANCE {me}");
    for i in 0..1_000_000i64 {
        let now = start + Duration::seconds(i);
        match ledger.reserve(&ReserveRequest {
            instance_id: &me,
            key_id: &key,
            kind: keywheel_core::dispatch::Kind::Chat,
            model: None,
            now,
        })? {
            ReserveOutcome::Granted(r) => {
                ledger.complete(&r, &Completion::ok(), now)?;
                println!("KW_PROGRESS {}", i + 1);
            }
            other => return Err(format!("expected a grant, got {other:?}").into()),
        }
    }
    Err("was not killed".into())
}

// ---------------------------------------------------------------------------------------------
// The parent side.
// ---------------------------------------------------------------------------------------------

fn spawn_worker(mode: &str, db: &Path, base_s: i64) -> (Child, BufReader<ChildStdout>) {
    let mut child = worker_command("ledger_kill9", mode, db)
        .env(ENV_BASE_S, base_s.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn a worker process");
    let out = BufReader::new(child.stdout.take().expect("piped stdout"));
    (child, out)
}

/// Reads lines until `pick` returns something; panics (after killing the child) at EOF.
fn read_until<T>(
    child: &mut Child,
    out: &mut BufReader<ChildStdout>,
    mut pick: impl FnMut(&str) -> Option<T>,
) -> T {
    let mut line = String::new();
    loop {
        line.clear();
        let n = out.read_line(&mut line).expect("read the worker's stdout");
        if n == 0 {
            let status = child.wait().expect("wait for the worker");
            panic!("the worker ended ({status}) before saying what the test waits for");
        }
        if let Some(v) = pick(line.trim()) {
            return v;
        }
    }
}

fn sigkill(child: &mut Child) {
    child.kill().expect("SIGKILL the worker");
    let status = child.wait().expect("reap the worker");
    assert_eq!(
        status.signal(),
        Some(9),
        "the worker died of SIGKILL, not by itself: {status}"
    );
}

fn field<'a>(line: &'a str, name: &str) -> &'a str {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
        .unwrap_or_else(|| panic!("no {name}= in {line:?}"))
}

fn state_of(ledger: &Ledger, id: i64) -> String {
    ledger
        .conn()
        .unwrap()
        .query_row("SELECT state FROM requests WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .unwrap()
}

fn successes(ledger: &Ledger, key: &KeyId, now: DateTime<Utc>) -> u32 {
    ledger
        .daily_usage(1, now)
        .unwrap()
        .into_iter()
        .find(|u| &u.key_id == key)
        .map(|u| u.successes)
        .unwrap_or(0)
}

fn live_ids(ledger: &Ledger, now: DateTime<Utc>) -> Vec<String> {
    ledger
        .live_instances(now, ttl())
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect()
}

#[test]
fn killed_holder_keeps_its_request_counted_and_expires_after_the_ttl() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.sqlite3");
    let ledger = Ledger::open(&db, HOLD_CAPS).unwrap();
    let key = api_key(1);
    ledger
        .upsert_key(&key, KeySource::Env, None, None, t0())
        .unwrap();
    let key = key.id();

    let (mut child, mut out) = spawn_worker("hold", &db, 0);
    let line = read_until(&mut child, &mut out, |l| {
        l.starts_with("KW_RESERVED").then(|| l.to_string())
    });
    let pid = child.id();
    sigkill(&mut child);

    let dead = field(&line, "instance").to_string();
    let held = Reservation {
        id: field(&line, "id").parse().unwrap(),
        key_id: key.clone(),
        account: field(&line, "account").to_string(),
        day: field(&line, "day").to_string(),
    };
    assert_eq!(
        held.account,
        key.as_str(),
        "an ungrouped key is its own account"
    );

    // The request the dead process reserved is still counted: it may have been sent.
    assert_eq!(ledger.requests_today(&key, t0()).unwrap(), 1);
    assert_eq!(ledger.inconsistencies().unwrap(), vec![]);
    assert_eq!(state_of(&ledger, held.id), "reserved");

    // Listed live (with its pid) until its TTL has passed; expiring at exactly the TTL keeps it.
    let live = ledger.live_instances(t0() + ttl(), ttl()).unwrap();
    assert_eq!(live.len(), 1);
    assert_eq!((live[0].id.as_str(), live[0].pid), (dead.as_str(), pid));
    assert_eq!(ledger.expire_instances(t0() + ttl(), ttl()).unwrap(), 0);
    assert_eq!(live_ids(&ledger, t0() + ttl()), vec![dead.clone()]);
    assert_eq!(state_of(&ledger, held.id), "reserved");

    // One second later it expires: gone, and its reservation is abandoned but still counted.
    let later = t0() + ttl() + Duration::seconds(1);
    assert!(
        live_ids(&ledger, later).is_empty(),
        "not live once the TTL has passed"
    );
    assert_eq!(ledger.expire_instances(later, ttl()).unwrap(), 1);
    assert_eq!(
        scalar(&ledger, "SELECT COUNT(*) FROM instances"),
        0,
        "the row is deleted"
    );
    assert_eq!(state_of(&ledger, held.id), "abandoned");
    assert_eq!(ledger.requests_today(&key, later).unwrap(), 1);
    assert_eq!(ledger.inconsistencies().unwrap(), vec![]);
    assert_eq!(
        ledger.expire_instances(later, ttl()).unwrap(),
        0,
        "expiring again finds nothing"
    );

    // A new instance can use the same key; the abandoned request still takes one of the two slots.
    let me = ledger
        .register_instance("test", std::process::id(), later)
        .unwrap();
    let req = ReserveRequest {
        instance_id: &me,
        key_id: &key,
        kind: keywheel_core::dispatch::Kind::Chat,
        model: None,
        now: later,
    };
    let fresh = match ledger.reserve(&req).unwrap() {
        ReserveOutcome::Granted(r) => r,
        other => panic!("a new reservation after the kill was refused: {other:?}"),
    };
    assert_ne!(fresh.id, held.id);
    assert_eq!(ledger.requests_today(&key, later).unwrap(), 2);
    let third = ledger.reserve(&req).unwrap();
    assert!(
        matches!(third, ReserveOutcome::KeySpent { .. }),
        "cap 2 = the abandoned one + the new one: {third:?}"
    );
    ledger.complete(&fresh, &Completion::ok(), later).unwrap();

    // Completing the abandoned reservation late is harmless: nothing is counted twice.
    let before = successes(&ledger, &key, later);
    ledger.complete(&held, &Completion::ok(), later).unwrap();
    assert_eq!(ledger.requests_today(&key, later).unwrap(), 2);
    assert_eq!(ledger.inconsistencies().unwrap(), vec![]);
    assert_ne!(
        state_of(&ledger, held.id),
        "reserved",
        "a late completion does not reopen the request"
    );
    let after_once = successes(&ledger, &key, later);
    assert!(
        after_once <= before + 1,
        "one completion adds at most one success"
    );
    ledger.complete(&held, &Completion::ok(), later).unwrap();
    assert_eq!(
        successes(&ledger, &key, later),
        after_once,
        "completing again is a no-op"
    );
    assert_eq!(scalar(&ledger, "SELECT COUNT(*) FROM requests"), 2);
}

#[test]
fn killed_mid_loop_leaves_an_intact_consistent_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.sqlite3");
    {
        let ledger = Ledger::open(&db, LOOP_CAPS).unwrap();
        ledger
            .upsert_key(&api_key(2), KeySource::Env, None, None, t0())
            .unwrap();
    }
    let key = api_key(2).id();
    let mut reported_total = 0u64;
    let mut dead = Vec::new();
    for (round, kill_after) in LOOP_KILL_AFTER.into_iter().enumerate() {
        // Each round on its own stretch of the same day.
        let base_s = round as i64 * 3_600;
        let (mut child, mut out) = spawn_worker("loop", &db, base_s);
        dead.push(read_until(&mut child, &mut out, |l| {
            l.strip_prefix("KW_INSTANCE ").map(str::to_string)
        }));
        let seen = read_until(&mut child, &mut out, |l| {
            l.strip_prefix("KW_PROGRESS ")
                .and_then(|n| n.parse::<u64>().ok())
                .filter(|n| *n >= kill_after)
        });
        sigkill(&mut child);
        reported_total += seen;

        // Reopen the file as a fresh process would, after every kill.
        let ledger = Ledger::open(&db, LOOP_CAPS).unwrap();
        let ok: String = ledger
            .conn()
            .unwrap()
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ok, "ok", "round {round}");
        assert_eq!(ledger.inconsistencies().unwrap(), vec![], "round {round}");
        let counted = i64::from(ledger.requests_today(&key, t0()).unwrap());
        assert_eq!(
            counted,
            scalar(&ledger, "SELECT COUNT(*) FROM requests"),
            "round {round}"
        );
        assert!(
            counted as u64 >= reported_total,
            "round {round}: {counted} counted < {reported_total} reported"
        );
        // At most the one request in flight per killed worker is still open.
        assert!(
            scalar(
                &ledger,
                "SELECT COUNT(*) FROM requests WHERE state = 'reserved'"
            ) <= round as i64 + 1
        );
    }

    let ledger = Ledger::open(&db, LOOP_CAPS).unwrap();
    let end = t0() + Duration::hours(5);
    let mut live = live_ids(&ledger, t0() + Duration::seconds(1));
    live.sort();
    dead.sort();
    assert_eq!(
        live, dead,
        "the killed workers are still registered until they expire"
    );
    assert_eq!(ledger.expire_instances(end, ttl()).unwrap(), dead.len());
    assert_eq!(
        scalar(
            &ledger,
            "SELECT COUNT(*) FROM requests WHERE state = 'reserved'"
        ),
        0,
        "nothing is left open"
    );
    assert!(ledger.live_instances(end, ttl()).unwrap().is_empty());

    // The ledger is fully usable afterwards.
    let before = ledger.requests_today(&key, end).unwrap();
    let me = ledger
        .register_instance("test", std::process::id(), end)
        .unwrap();
    let r = match ledger
        .reserve(&ReserveRequest {
            instance_id: &me,
            key_id: &key,
            kind: keywheel_core::dispatch::Kind::Chat,
            model: None,
            now: end,
        })
        .unwrap()
    {
        ReserveOutcome::Granted(r) => r,
        other => panic!("refused after the kills: {other:?}"),
    };
    ledger.complete(&r, &Completion::ok(), end).unwrap();
    assert_eq!(ledger.requests_today(&key, end).unwrap(), before + 1);
    assert_eq!(ledger.inconsistencies().unwrap(), vec![]);
}
