//! Many machines on one team ledger (docs/team.md): real processes, each with its own data
//! directory, its own keys in its environment and its own machine name, on one PostgreSQL.
//!
//! The test binary re-executes itself (`pg_machines::worker_entry`, see `worker_command` in
//! main.rs). Workers wait on a barrier file, so all of them are connected before any starts.
//! - 8 processes open an empty database at once: the schema is migrated exactly once (every
//!   version row names the same process) and no process fails.
//! - 3 machines × 8 processes reserve until their keys are spent: the totals are exact, no
//!   key or account cap is exceeded, and the ledger sees 3 machines with 8 instances each.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration as StdDuration, Instant};

use keywheel_core::clock::system_now;
use keywheel_core::config::Settings;
use keywheel_core::keys::KeySource;
use keywheel_core::ledger::{CapDefaults, Completion, Ledger, ReserveOutcome, ReserveRequest};

use crate::pg_support::TestDb;
use crate::{AnyResult, ENV_DIR, ENV_ID, ENV_MODE, api_key, finish_worker, worker_command};

const ENV_URL: &str = "KW_WORKER_PG_URL";
const ENV_KEYS: &str = "KW_WORKER_KEYS";

/// Processes per machine.
const PROCESSES: usize = 8;
/// Machines.
const MACHINES: usize = 3;
/// Key 1 and key 2 are one account ("team", daily cap [`TEAM_CAP`]); key 3 is its own.
const TEAM_CAP: u32 = 60;
/// Each key's own daily cap.
const KEY_CAP: u32 = 50;
/// Key 3's cap (its own account).
const SOLO_CAP: u32 = 40;
/// Gives up instead of hanging (not a performance bound).
const HANG_GUARD: StdDuration = StdDuration::from_secs(240);

/// Runs as a worker when `KW_WORKER_MODE` is set; otherwise does nothing.
#[test]
fn worker_entry() {
    let Ok(mode) = std::env::var(ENV_MODE) else {
        return;
    };
    let result = match mode.as_str() {
        "open" => worker_open(),
        "reserve" => worker_reserve(),
        other => Err(format!("unknown worker mode {other:?}").into()),
    };
    finish_worker(result);
}

fn env(name: &str) -> AnyResult<String> {
    Ok(std::env::var(name).map_err(|_| format!("{name} is not set"))?)
}

/// Signals readiness and waits for the barrier.
fn barrier() -> AnyResult<()> {
    let dir = env(ENV_DIR)?;
    let dir = Path::new(&dir);
    std::fs::write(dir.join(format!("ready-{}", env(ENV_ID)?)), b"")?;
    let start = Instant::now();
    while !dir.join("go").exists() {
        if start.elapsed() > HANG_GUARD {
            return Err("the start barrier never opened".into());
        }
        std::thread::sleep(StdDuration::from_millis(1));
    }
    Ok(())
}

/// This process's settings: its own data dir, the team ledger.
fn settings() -> AnyResult<Settings> {
    Ok(Settings {
        data_dir: Path::new(&env(ENV_DIR)?).join(format!("data-{}", env(ENV_ID)?)),
        ledger_url: Some(env(ENV_URL)?),
        ..Settings::default()
    })
}

fn caps() -> CapDefaults {
    CapDefaults {
        daily: KEY_CAP,
        minute: 1_000_000,
        tier_applies: false,
    }
}

fn worker_open() -> AnyResult<String> {
    let settings = settings()?;
    barrier()?;
    let ledger = Ledger::open_for(&settings, caps())?;
    Ok(format!("schema={}", ledger.schema_version()?))
}

/// Registers this machine's keys, then reserves on them in order (the next when one is
/// spent) until all are spent, completing each grant.
fn worker_reserve() -> AnyResult<String> {
    let settings = settings()?;
    let keys: Vec<_> = env(ENV_KEYS)?
        .split(',')
        .map(|n| api_key(n.parse().expect("a key number")))
        .collect();
    let ledger = Ledger::open_for(&settings, caps())?;
    let instance = ledger.register_instance("test", std::process::id(), system_now())?;
    for k in &keys {
        let account = (k.id() != api_key(3).id()).then_some("team");
        ledger.upsert_key(k, KeySource::Env, None, account, system_now())?;
    }
    barrier()?;
    let mut granted: BTreeMap<String, u32> = BTreeMap::new();
    let mut current = 0;
    while current < keys.len() {
        let id = keys[current].id();
        let out = ledger.reserve(&ReserveRequest {
            instance_id: &instance,
            key_id: &id,
            kind: keywheel_core::dispatch::Kind::Chat,
            model: None,
            now: system_now(),
        })?;
        match out {
            ReserveOutcome::Granted(r) => {
                *granted.entry(id.as_str().to_string()).or_default() += 1;
                ledger.complete(&r, &Completion::ok(), system_now())?;
            }
            ReserveOutcome::KeySpent { .. } | ReserveOutcome::AccountSpent { .. } => current += 1,
            other => return Err(format!("unexpected answer {other:?}").into()),
        }
    }
    Ok(granted
        .iter()
        .map(|(k, n)| format!("{k}={n}"))
        .collect::<Vec<_>>()
        .join(" "))
}

/// Starts one worker per entry of `machines` (its name and its keys).
fn spawn(mode: &str, db: &TestDb, dir: &Path, machines: &[(&str, &str)]) -> Vec<Child> {
    machines
        .iter()
        .enumerate()
        .map(|(i, (machine, keys))| {
            let mut cmd = worker_command("pg_machines", mode, Path::new(""));
            cmd.env(ENV_URL, db.url())
                .env(ENV_DIR, dir)
                .env(ENV_ID, i.to_string())
                .env(ENV_KEYS, keys)
                .env("KEYWHEEL_MACHINE", machine)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            cmd.spawn().expect("spawn a worker")
        })
        .collect()
}

/// Opens the barrier once every worker is ready; returns each worker's result line.
fn run(dir: &Path, mut children: Vec<Child>) -> Vec<String> {
    let start = Instant::now();
    while (0..children.len()).any(|i| !dir.join(format!("ready-{i}")).exists()) {
        if let Some(i) = children
            .iter_mut()
            .position(|c| matches!(c.try_wait(), Ok(Some(_))))
        {
            let out = children.remove(i).wait_with_output().unwrap();
            for c in &mut children {
                let _ = c.kill();
            }
            panic!(
                "worker {i} ended before the barrier: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert!(
            start.elapsed() < HANG_GUARD,
            "the workers never became ready"
        );
        std::thread::sleep(StdDuration::from_millis(5));
    }
    std::fs::write(dir.join("go"), b"").unwrap();
    let mut lines = Vec::new();
    let mut failures = Vec::new();
    for (i, c) in children.into_iter().enumerate() {
        let out = c.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        match stdout.lines().find_map(|l| l.strip_prefix("KW_RESULT ")) {
            Some(line) if out.status.success() => lines.push(line.to_string()),
            _ => failures.push(format!(
                "worker {i} ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    lines
}

#[test]
fn eight_processes_starting_at_once_on_an_empty_database_migrate_it_once() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let machines: Vec<(&str, &str)> = (0..8).map(|_| ("starter", "1")).collect();
    let lines = run(dir.path(), spawn("open", &db, dir.path(), &machines));
    let version = keywheel_core::ledger::pg::SCHEMA_VERSION;
    assert!(
        lines.iter().all(|l| *l == format!("schema={version}")),
        "{lines:?}"
    );
    let appliers = db.query("SELECT DISTINCT applied_by FROM keywheel_schema");
    assert_eq!(
        appliers.len(),
        1,
        "one process applied every migration: {appliers:?}"
    );
    assert_eq!(
        db.query("SELECT count(*) FROM keywheel_schema"),
        [version.to_string()]
    );
}

#[test]
fn three_machines_of_eight_processes_share_exact_counts() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    // Machine c lacks key 3: it can only spend the team account.
    let names = [
        ("machine-a", "1,2,3"),
        ("machine-b", "1,2,3"),
        ("machine-c", "1,2"),
    ];
    let machines: Vec<(&str, &str)> = names
        .iter()
        .flat_map(|m| std::iter::repeat_n(*m, PROCESSES))
        .collect();
    // Key 3 is its own account with a lower cap; the team account's cap is below its two
    // keys' caps, so the account cap is what stops keys 1 and 2.
    {
        let l = db.open(caps());
        for k in [1, 2, 3] {
            let account = (k != 3).then_some("team");
            l.upsert_key(&api_key(k), KeySource::Env, None, account, system_now())
                .unwrap();
        }
        l.set_account_caps("team", Some(TEAM_CAP), None).unwrap();
        l.update_key(
            &api_key(3).id(),
            &keywheel_core::ledger::KeyUpdate {
                daily_cap: Some(Some(SOLO_CAP)),
                ..Default::default()
            },
        )
        .unwrap();
    }
    let lines = run(dir.path(), spawn("reserve", &db, dir.path(), &machines));
    assert_eq!(lines.len(), MACHINES * PROCESSES);
    let mut granted: BTreeMap<String, u32> = BTreeMap::new();
    for line in &lines {
        for kv in line.split_whitespace() {
            let (k, n) = kv.split_once('=').unwrap();
            *granted.entry(k.to_string()).or_default() += n.parse::<u32>().unwrap();
        }
    }
    let of = |n: u64| granted.get(api_key(n).id().as_str()).copied().unwrap_or(0);
    assert_eq!(
        of(1) + of(2),
        TEAM_CAP,
        "the team account's cap, exactly: {granted:?}"
    );
    assert!(of(1) <= KEY_CAP && of(2) <= KEY_CAP, "{granted:?}");
    assert_eq!(of(3), SOLO_CAP, "{granted:?}");

    let l = db.open(caps());
    assert_eq!(l.inconsistencies().unwrap(), vec![]);
    let today = l.daily_usage(1, system_now()).unwrap();
    let counted: u32 = today.iter().map(|u| u.requests).sum();
    assert_eq!(
        counted,
        TEAM_CAP + SOLO_CAP,
        "the ledger counted what was granted"
    );
    assert_eq!(
        db.query("SELECT count(*) FROM requests WHERE state = 'done'"),
        [(TEAM_CAP + SOLO_CAP).to_string()]
    );
    let machines = l
        .pg()
        .unwrap()
        .machines(system_now(), chrono::Duration::hours(1))
        .unwrap();
    let seen: Vec<(String, u32)> = machines
        .into_iter()
        .map(|m| (m.host, m.instances))
        .collect();
    assert_eq!(
        seen,
        names
            .iter()
            .map(|(n, _)| (n.to_string(), PROCESSES as u32))
            .collect::<Vec<_>>()
    );
}
