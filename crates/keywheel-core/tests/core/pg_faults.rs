//! Faults on the team ledger (docs/team.md, "Faults"), each ending as issue 16 says:
//! - a connection cut just before or just after the COMMIT of a reservation (a TCP proxy in
//!   the test cuts it): the reservation is counted exactly once or not at all, never lost,
//!   and the caller is told which (a grant is only ever returned for a counted row);
//! - `pg_terminate_backend` of every busy backend of the ledger, again and again, while real
//!   processes reserve: they reconnect and go on, and the counts are exact;
//! - a restart of the server (a private one, `scripts/pg.sh`, restarted with `pg_ctl` on the
//!   same port) while real processes reserve: the same;
//! - `kill -9` of a process holding a reservation, and of one reserving in a tight loop: its
//!   reservation stays counted, is abandoned when its instance expires, and is never lost.
//!
//! Unreachable at start (exit 7 naming host:port without the password) is
//! `pg_rules::an_unreachable_team_ledger_is_exit_7_naming_host_and_port_without_the_password`
//! and the CLI's `ledger::an_unreachable_team_ledger_is_exit_7…`.
//!
//! Workers are this test binary re-executed (`pg_faults::worker_entry`, `worker_command` in
//! main.rs).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use chrono::Duration;
use keywheel_core::clock::system_now;
use keywheel_core::keys::{KeyId, KeySource};
use keywheel_core::ledger::pg::{Options, Target};
use keywheel_core::ledger::{
    CapDefaults, Completion, Ledger, Reservation, ReserveOutcome, ReserveRequest,
};

use crate::pg_support::{TestDb, table, test_options};
use crate::{AnyResult, ENV_ID, ENV_MODE, api_key, finish_worker, t0, worker_command};

const ENV_URL: &str = "KW_WORKER_PG_URL";
const ENV_COUNT: &str = "KW_WORKER_COUNT";
/// Gives up instead of hanging (not a performance bound).
const HANG_GUARD: StdDuration = StdDuration::from_secs(240);

fn big_caps() -> CapDefaults {
    CapDefaults {
        daily: 10_000_000,
        minute: 10_000_000,
        tier_applies: false,
    }
}

// ---------------------------------------------------------------------------------------------
// A TCP proxy between the ledger and the server that cuts a connection at a chosen moment.
// ---------------------------------------------------------------------------------------------

/// When the proxy cuts the connection that sends the next COMMIT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Cut {
    /// Not armed.
    Never = 0,
    /// The COMMIT never reaches the server: it rolls the transaction back.
    BeforeCommit = 1,
    /// The server gets the COMMIT and commits; its answer is dropped and the connection cut.
    AfterCommit = 2,
}

/// The simple-protocol message `COMMIT` as tokio-postgres sends it (`Q`, length 11, text).
const COMMIT_MESSAGE: &[u8] = b"Q\0\0\0\x0bCOMMIT\0";

struct Proxy {
    port: u16,
    armed: Arc<AtomicU8>,
    /// The bytes that mark the message to cut at (the COMMIT unless armed otherwise).
    pattern: Arc<Mutex<Vec<u8>>>,
    fired: Arc<AtomicU64>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    /// Forwards 127.0.0.1:<port> to `upstream` (host:port).
    fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let armed = Arc::new(AtomicU8::new(Cut::Never as u8));
        let pattern = Arc::new(Mutex::new(COMMIT_MESSAGE.to_vec()));
        let fired = Arc::new(AtomicU64::new(0));
        let conns: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (a, f, c, p) = (armed.clone(), fired.clone(), conns.clone(), pattern.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                c.lock().unwrap().push(client.try_clone().unwrap());
                c.lock().unwrap().push(server.try_clone().unwrap());
                let swallow = Arc::new(AtomicBool::new(false));
                // Client → server: watches for the COMMIT.
                {
                    let (mut from, mut to) =
                        (client.try_clone().unwrap(), server.try_clone().unwrap());
                    let (a, f, swallow, p) = (a.clone(), f.clone(), swallow.clone(), p.clone());
                    std::thread::spawn(move || {
                        let mut buf = vec![0u8; 64 * 1024];
                        loop {
                            let n = match from.read(&mut buf) {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            let chunk = &buf[..n];
                            let pat = p.lock().unwrap().clone();
                            let commits = chunk.windows(pat.len()).any(|w| w == pat.as_slice());
                            let mode = if commits {
                                a.swap(Cut::Never as u8, Ordering::SeqCst)
                            } else {
                                Cut::Never as u8
                            };
                            if mode == Cut::BeforeCommit as u8 {
                                f.fetch_add(1, Ordering::SeqCst);
                                let _ = from.shutdown(Shutdown::Both);
                                let _ = to.shutdown(Shutdown::Both);
                                break;
                            }
                            if mode == Cut::AfterCommit as u8 {
                                swallow.store(true, Ordering::SeqCst);
                            }
                            if to.write_all(chunk).is_err() {
                                break;
                            }
                            if mode == Cut::AfterCommit as u8 {
                                f.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                        let _ = to.shutdown(Shutdown::Write);
                    });
                }
                // Server → client: drops the answer to a swallowed COMMIT, then cuts.
                {
                    let (mut from, mut to) = (server, client);
                    std::thread::spawn(move || {
                        let mut buf = vec![0u8; 64 * 1024];
                        loop {
                            let n = match from.read(&mut buf) {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            if swallow.load(Ordering::SeqCst) {
                                let _ = from.shutdown(Shutdown::Both);
                                let _ = to.shutdown(Shutdown::Both);
                                break;
                            }
                            if to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = to.shutdown(Shutdown::Write);
                    });
                }
            }
        });
        Self {
            port,
            armed,
            pattern,
            fired,
            conns,
        }
    }

    /// `url` (a URL on the test server) through this proxy.
    fn url_for(&self, url: &str) -> String {
        let (head, rest) = url.split_once('@').expect("a URL with a user");
        let (_, path) = rest.split_once('/').expect("a URL with a database");
        format!("{head}@127.0.0.1:{}/{path}", self.port)
    }

    fn arm(&self, cut: Cut) {
        self.arm_on(COMMIT_MESSAGE, cut);
    }

    /// Cuts at the next message that contains `pattern` instead of the next COMMIT (the fast
    /// path's call has no COMMIT: it is cut at its parameters).
    fn arm_on(&self, pattern: &[u8], cut: Cut) {
        *self.pattern.lock().unwrap() = pattern.to_vec();
        self.armed.store(cut as u8, Ordering::SeqCst);
    }

    fn fired(&self) -> u64 {
        self.fired.load(Ordering::SeqCst)
    }

    /// Cuts every connection made so far.
    #[allow(dead_code)]
    fn cut_all(&self) {
        for s in self.conns.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

/// host:port of a postgres:// URL.
fn host_port(url: &str) -> String {
    let (_, rest) = url.split_once('@').expect("a URL with a user");
    rest.split_once('/')
        .expect("a URL with a database")
        .0
        .to_string()
}

fn one(l: &Ledger, sql: &str) -> String {
    table(l, sql)
        .first()
        .and_then(|r| r.first())
        .cloned()
        .unwrap_or_default()
}

fn reserve_on(l: &Ledger, inst: &str, k: &KeyId) -> keywheel_core::Result<ReserveOutcome> {
    l.reserve(&ReserveRequest {
        instance_id: inst,
        key_id: k,
        kind: keywheel_core::dispatch::Kind::Chat,
        model: None,
        now: t0(),
    })
}

fn granted(o: keywheel_core::Result<ReserveOutcome>) -> Reservation {
    match o {
        Ok(ReserveOutcome::Granted(r)) => r,
        other => panic!("expected a grant, got {other:?}"),
    }
}

/// A ledger on a fresh database reached through a proxy; the key and an instance registered.
fn through_proxy() -> (TestDb, Proxy, Ledger, String, KeyId) {
    let db = TestDb::new();
    let proxy = Proxy::start(host_port(db.url()));
    let target = Target::parse(&proxy.url_for(db.url())).unwrap();
    let l = Ledger::open_postgres(&target, &test_options(), big_caps()).unwrap();
    let k = api_key(1);
    l.upsert_key(&k, KeySource::Env, None, None, t0()).unwrap();
    let inst = l.register_instance("test", 1, t0()).unwrap();
    (db, proxy, l, inst, k.id())
}

/// The (request rows, counted requests) of the day, read on the server directly.
fn counts(db: &TestDb) -> (String, String) {
    (
        db.query("SELECT count(*) FROM requests").concat(),
        db.query("SELECT COALESCE(SUM(requests), 0) FROM usage_daily")
            .concat(),
    )
}

#[test]
fn a_reservation_whose_commit_never_reached_the_server_is_retried_and_counted_once() {
    let (db, proxy, l, inst, k) = through_proxy();
    proxy.arm(Cut::BeforeCommit);
    let r = granted(reserve_on(&l, &inst, &k));
    assert_eq!(proxy.fired(), 1, "the proxy cut the reservation's COMMIT");
    assert_eq!(counts(&db), ("1".into(), "1".into()), "counted once");
    assert_eq!(
        one(
            &l,
            &format!("SELECT state FROM requests WHERE id = {}", r.id)
        ),
        "reserved"
    );
    // The same for the completion.
    proxy.arm(Cut::BeforeCommit);
    l.complete(&r, &Completion::ok(), t0()).unwrap();
    assert_eq!(proxy.fired(), 2);
    assert_eq!(db.query("SELECT state FROM requests").concat(), "done");
    assert_eq!(db.query("SELECT successes FROM usage_daily").concat(), "1");
    assert_eq!(l.inconsistencies().unwrap(), vec![]);
}

#[test]
fn a_reservation_whose_commit_answer_was_lost_is_found_counted_and_granted_once() {
    let (db, proxy, l, inst, k) = through_proxy();
    proxy.arm(Cut::AfterCommit);
    let r = granted(reserve_on(&l, &inst, &k));
    assert_eq!(proxy.fired(), 1, "the proxy dropped the COMMIT's answer");
    assert_eq!(
        counts(&db),
        ("1".into(), "1".into()),
        "counted once, not twice"
    );
    assert_eq!(
        db.query(&format!(
            "SELECT count(*) FROM requests WHERE id = {}",
            r.id
        ))
        .concat(),
        "1",
        "the grant names the counted row"
    );
    // A completion and a release whose answers are lost are applied once too.
    proxy.arm(Cut::AfterCommit);
    l.complete(&r, &Completion::ok(), t0()).unwrap();
    assert_eq!(proxy.fired(), 2);
    assert_eq!(db.query("SELECT successes FROM usage_daily").concat(), "1");
    let second = granted(reserve_on(&l, &inst, &k));
    proxy.arm(Cut::AfterCommit);
    l.release(&second).unwrap();
    assert_eq!(proxy.fired(), 3);
    assert_eq!(counts(&db), ("1".into(), "1".into()), "released once");
    assert_eq!(l.inconsistencies().unwrap(), vec![]);
}

/// Whether request row `id` was granted by the fast path (it carries a token).
fn fast(db: &TestDb, id: i64) -> bool {
    db.query(&format!(
        "SELECT token IS NOT NULL FROM requests WHERE id = {id}"
    )) == ["t"]
}

#[test]
fn a_fast_reservation_whose_call_never_reached_the_server_is_retried_and_counted_once() {
    let (db, proxy, l, inst, k) = through_proxy();
    // The first of the day makes the key's day row (locked); the next is the fast path's.
    granted(reserve_on(&l, &inst, &k));
    // The call carries the instance's id among its parameters.
    proxy.arm_on(inst.as_bytes(), Cut::BeforeCommit);
    let r = granted(reserve_on(&l, &inst, &k));
    assert_eq!(proxy.fired(), 1, "the proxy cut the fast path's call");
    assert_eq!(counts(&db), ("2".into(), "2".into()), "counted once");
    assert!(fast(&db, r.id), "granted on the fast path when tried again");
    assert_eq!(l.inconsistencies().unwrap(), vec![]);
}

#[test]
fn a_fast_reservation_whose_answer_was_lost_is_found_counted_and_granted_once() {
    let (db, proxy, l, inst, k) = through_proxy();
    granted(reserve_on(&l, &inst, &k));
    proxy.arm_on(inst.as_bytes(), Cut::AfterCommit);
    let r = granted(reserve_on(&l, &inst, &k));
    assert_eq!(proxy.fired(), 1, "the proxy dropped the fast path's answer");
    assert_eq!(
        counts(&db),
        ("2".into(), "2".into()),
        "counted once, not twice"
    );
    assert!(
        fast(&db, r.id),
        "the grant names the row the lost call counted"
    );
    l.complete(&r, &Completion::ok(), t0()).unwrap();
    assert_eq!(l.inconsistencies().unwrap(), vec![]);
}

#[test]
fn a_refused_reservation_cut_at_its_end_is_still_refused_and_counts_nothing() {
    let (db, proxy, l, inst, k) = through_proxy();
    l.update_key(
        &k,
        &keywheel_core::ledger::KeyUpdate {
            daily_cap: Some(Some(1)),
            ..Default::default()
        },
    )
    .unwrap();
    let r = granted(reserve_on(&l, &inst, &k));
    l.complete(&r, &Completion::ok(), t0()).unwrap();
    for cut in [Cut::BeforeCommit, Cut::AfterCommit] {
        proxy.arm(cut);
        match reserve_on(&l, &inst, &k) {
            Ok(ReserveOutcome::KeySpent { .. }) => {}
            other => panic!("{cut:?}: expected the key spent, got {other:?}"),
        }
        proxy.arm(Cut::Never);
    }
    assert_eq!(counts(&db), ("1".into(), "1".into()));
}

// ---------------------------------------------------------------------------------------------
// Real processes: the worker side.
// ---------------------------------------------------------------------------------------------

/// Runs as a worker when `KW_WORKER_MODE` is set; otherwise does nothing.
#[test]
fn worker_entry() {
    let Ok(mode) = std::env::var(ENV_MODE) else {
        return;
    };
    let result = match mode.as_str() {
        "loop" => worker_loop(),
        "hold" => worker_hold(),
        other => Err(format!("unknown worker mode {other:?}").into()),
    };
    finish_worker(result);
}

fn env(name: &str) -> AnyResult<String> {
    Ok(std::env::var(name).map_err(|_| format!("{name} is not set"))?)
}

/// The worker's ledger: the server's clock (team mode), a connect timeout long enough to ride
/// through a restart.
fn worker_ledger(caps: CapDefaults) -> AnyResult<Ledger> {
    let opts = Options {
        connect_timeout: StdDuration::from_secs(30),
        host: format!("worker-{}", env(ENV_ID)?),
        server_clock: true,
        migrate: true,
        team_cache: false,
        keychain: false,
    };
    Ok(Ledger::open_postgres(
        &Target::parse(&env(ENV_URL)?)?,
        &opts,
        caps,
    )?)
}

/// Reserves and completes `KW_WORKER_COUNT` times on key 1, saying `KW_PROGRESS n` after each.
fn worker_loop() -> AnyResult<String> {
    let total: u64 = env(ENV_COUNT)?.parse()?;
    let l = worker_ledger(big_caps())?;
    let key = api_key(1).id();
    let me = l.register_instance("test-worker", std::process::id(), system_now())?;
    println!("\nKW_INSTANCE {me}");
    let mut out = std::io::stdout();
    for i in 1..=total {
        match l.reserve(&ReserveRequest {
            instance_id: &me,
            key_id: &key,
            kind: keywheel_core::dispatch::Kind::Chat,
            model: None,
            now: system_now(),
        })? {
            ReserveOutcome::Granted(r) => l.complete(&r, &Completion::ok(), system_now())?,
            other => return Err(format!("expected a grant, got {other:?}").into()),
        }
        writeln!(out, "KW_PROGRESS {i}")?;
        out.flush()?;
    }
    l.deregister_instance(&me)?;
    Ok(format!("granted={total}"))
}

/// Reserves one request at t0 (the caller's clock) and waits to be killed.
fn worker_hold() -> AnyResult<String> {
    let opts = test_options();
    let l = Ledger::open_postgres(&Target::parse(&env(ENV_URL)?)?, &opts, big_caps())?;
    let key = api_key(1).id();
    let me = l.register_instance("test-worker", std::process::id(), t0())?;
    let r = match l.reserve(&ReserveRequest {
        instance_id: &me,
        key_id: &key,
        kind: keywheel_core::dispatch::Kind::Chat,
        model: None,
        now: t0(),
    })? {
        ReserveOutcome::Granted(r) => r,
        other => return Err(format!("expected a grant, got {other:?}").into()),
    };
    println!("\nKW_RESERVED id={}", r.id);
    std::thread::sleep(StdDuration::from_secs(600));
    Err("was not killed".into())
}

// ---------------------------------------------------------------------------------------------
// Real processes: the parent side.
// ---------------------------------------------------------------------------------------------

/// A running worker: its progress (the last `KW_PROGRESS`), its result line when it ends.
struct Worker {
    child: Child,
    progress: Arc<AtomicU64>,
    lines: Arc<Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

fn spawn_worker(mode: &str, url: &str, id: usize, count: u64) -> Worker {
    let mut child = worker_command("pg_faults", mode, Path::new(""))
        .env(ENV_URL, url)
        .env(ENV_ID, id.to_string())
        .env(ENV_COUNT, count.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn a worker");
    let stdout = child.stdout.take().unwrap();
    let progress = Arc::new(AtomicU64::new(0));
    let lines: Arc<Mutex<Vec<String>>> = Arc::default();
    let (p, ls) = (progress.clone(), lines.clone());
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(n) = line.strip_prefix("KW_PROGRESS ") {
                p.store(n.trim().parse().unwrap_or(0), Ordering::SeqCst);
            } else if line.starts_with("KW_") {
                ls.lock().unwrap().push(line);
            }
        }
    });
    Worker {
        child,
        progress,
        lines,
        reader: Some(reader),
    }
}

impl Worker {
    fn progress(&self) -> u64 {
        self.progress.load(Ordering::SeqCst)
    }

    /// Waits for a line starting with `prefix`.
    fn wait_line(&mut self, prefix: &str) -> String {
        let start = Instant::now();
        loop {
            if let Some(l) = self
                .lines
                .lock()
                .unwrap()
                .iter()
                .find(|l| l.starts_with(prefix))
            {
                return l.clone();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                let mut err = String::new();
                let _ = self.child.stderr.take().unwrap().read_to_string(&mut err);
                panic!("the worker ended ({status}) before {prefix}: {err}");
            }
            assert!(start.elapsed() < HANG_GUARD, "no {prefix} from the worker");
            std::thread::sleep(StdDuration::from_millis(5));
        }
    }

    /// Waits for the worker to end; its result line, or a panic with its stderr.
    fn finish(mut self) -> String {
        let mut err = String::new();
        let _ = self.child.stderr.take().unwrap().read_to_string(&mut err);
        let status = self.child.wait().unwrap();
        if let Some(r) = self.reader.take() {
            r.join().unwrap();
        }
        let lines = self.lines.lock().unwrap().clone();
        match lines.iter().find_map(|l| l.strip_prefix("KW_RESULT ")) {
            Some(line) if status.success() => line.to_string(),
            _ => panic!("the worker failed ({status}): {err}"),
        }
    }
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < HANG_GUARD, "never: {what}");
        std::thread::sleep(StdDuration::from_millis(5));
    }
}

/// Checks that `db` counted exactly `n` done requests on key 1 and nothing else.
fn assert_exact(db: &TestDb, n: u64) {
    assert_eq!(
        db.query("SELECT count(*) FROM requests WHERE state = 'done'")
            .concat(),
        n.to_string(),
        "every grant is one done row"
    );
    assert_eq!(
        db.query("SELECT count(*) FROM requests").concat(),
        n.to_string(),
        "no row was left over or lost"
    );
    assert_eq!(
        db.query("SELECT COALESCE(SUM(requests), 0) FROM usage_daily")
            .concat(),
        n.to_string(),
        "the day's count equals the rows"
    );
    assert_eq!(
        db.query("SELECT COALESCE(SUM(successes), 0) FROM usage_daily")
            .concat(),
        n.to_string()
    );
}

/// Registers key 1 on `db` (its own account, no caps in the way).
fn seed(url: &str) {
    let l =
        Ledger::open_postgres(&Target::parse(url).unwrap(), &test_options(), big_caps()).unwrap();
    l.upsert_key(&api_key(1), KeySource::Env, None, None, t0())
        .unwrap();
}

const WORKERS: usize = 4;
const PER_WORKER: u64 = 250;

#[test]
fn terminated_backends_are_replaced_and_the_counts_stay_exact() {
    let db = TestDb::new();
    seed(db.url());
    let workers: Vec<Worker> = (0..WORKERS)
        .map(|i| spawn_worker("loop", db.url(), i, PER_WORKER))
        .collect();
    wait_for("every worker reserving", || {
        workers.iter().all(|w| w.progress() >= 10)
    });
    // Terminate every busy backend of the ledger's database, again and again, while they run.
    let name = db.query("SELECT current_database()").concat();
    let mut terminated = 0usize;
    for _ in 0..20 {
        if workers.iter().all(|w| w.progress() >= PER_WORKER) {
            break;
        }
        let killed = db.query(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = '{name}' AND application_name = 'keywheel' AND pid <> pg_backend_pid()"
        ));
        terminated += killed.iter().filter(|t| *t == "t").count();
        std::thread::sleep(StdDuration::from_millis(40));
    }
    assert!(terminated > 0, "some backend was terminated");
    let results: Vec<String> = workers.into_iter().map(Worker::finish).collect();
    assert!(
        results
            .iter()
            .all(|r| *r == format!("granted={PER_WORKER}")),
        "{results:?}"
    );
    assert_exact(&db, WORKERS as u64 * PER_WORKER);
}

/// A private PostgreSQL server of this test's own (so restarting it disturbs no other test).
struct PrivateServer {
    dir: tempfile::TempDir,
    url: String,
}

fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts")
}

/// `pg_ctl` as the server's owner (`postgres` when root, as scripts/pg.sh does).
fn pg_ctl(data: &Path, args: &[&str]) {
    let bin = std::fs::read_dir("/usr/lib/postgresql")
        .ok()
        .and_then(|d| {
            let mut v: Vec<PathBuf> = d
                .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
                .collect();
            v.sort();
            v.pop()
        })
        .map(|b| b.join("pg_ctl"))
        .unwrap_or_else(|| PathBuf::from("pg_ctl"));
    let root = nix_is_root();
    let mut cmd = if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(&bin);
        c
    } else {
        Command::new(&bin)
    };
    // The server pg_ctl starts keeps its output: a log file, never this test's pipes.
    let log = data.with_file_name("server.log");
    let status = cmd
        .arg("-D")
        .arg(data)
        .arg("-l")
        .arg(&log)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("pg_ctl runs");
    assert!(
        status.success(),
        "pg_ctl {args:?} failed ({status}); see {}",
        log.display()
    );
}

fn nix_is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl PrivateServer {
    fn start() -> Self {
        crate::pg_support::server_url(); // the same sentence when PostgreSQL is not set up
        let dir = tempfile::Builder::new()
            .prefix("keywheel-pg-restart")
            .tempdir_in("/tmp")
            .unwrap();
        let out = Command::new("bash")
            .arg(scripts().join("pg.sh"))
            .arg("start")
            .arg(dir.path().join("srv"))
            .output()
            .expect("scripts/pg.sh runs");
        assert!(
            out.status.success(),
            "scripts/pg.sh start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let url = String::from_utf8_lossy(&out.stdout).trim().to_string();
        Self { dir, url }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("srv/data")
    }

    fn restart(&self) {
        pg_ctl(&self.data(), &["restart", "-m", "fast", "-w", "-t", "60"]);
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        let _ =
            std::panic::catch_unwind(|| pg_ctl(&self.data(), &["stop", "-m", "immediate", "-w"]));
    }
}

#[test]
fn a_server_restart_mid_run_is_ridden_through_and_the_counts_stay_exact() {
    let server = PrivateServer::start();
    let url = server.url.clone();
    seed(&url);
    let workers: Vec<Worker> = (0..3)
        .map(|i| spawn_worker("loop", &url, i, PER_WORKER))
        .collect();
    for round in 1..=2u64 {
        wait_for("the workers reserving", || {
            workers.iter().all(|w| w.progress() >= 40 * round)
        });
        server.restart();
    }
    let results: Vec<String> = workers.into_iter().map(Worker::finish).collect();
    assert!(
        results
            .iter()
            .all(|r| *r == format!("granted={PER_WORKER}")),
        "{results:?}"
    );
    let check = ServerDb(url);
    check.assert_exact(3 * PER_WORKER);
}

/// The private server's database, read like a [`TestDb`].
struct ServerDb(String);

impl ServerDb {
    fn assert_exact(&self, n: u64) {
        let l = Ledger::open_postgres(
            &Target::parse(&self.0).unwrap(),
            &test_options(),
            big_caps(),
        )
        .unwrap();
        let rows = |sql: &str| one(&l, sql);
        assert_eq!(
            rows("SELECT count(*) FROM requests WHERE state = 'done'"),
            n.to_string()
        );
        assert_eq!(rows("SELECT count(*) FROM requests"), n.to_string());
        assert_eq!(rows("SELECT SUM(requests) FROM usage_daily"), n.to_string());
        assert_eq!(
            rows("SELECT SUM(successes) FROM usage_daily"),
            n.to_string()
        );
        assert_eq!(l.inconsistencies().unwrap(), vec![]);
    }
}

#[test]
fn a_process_killed_holding_a_reservation_leaves_it_counted_until_its_instance_expires() {
    let db = TestDb::new();
    seed(db.url());
    let mut w = spawn_worker("hold", db.url(), 0, 0);
    let line = w.wait_line("KW_RESERVED ");
    let id: i64 = line
        .trim_start_matches("KW_RESERVED id=")
        .trim()
        .parse()
        .unwrap();
    w.child.kill().unwrap();
    let status = w.child.wait().unwrap();
    assert!(!status.success());
    let l = db.open(big_caps());
    let state = |l: &Ledger| one(l, &format!("SELECT state FROM requests WHERE id = {id}"));
    assert_eq!(state(&l), "reserved", "counted while its instance may live");
    assert_eq!(counts(&db), ("1".into(), "1".into()));
    // Its instance expires after the TTL: the row is abandoned and stays counted.
    let ttl = Duration::seconds(30);
    assert_eq!(l.expire_instances(t0() + ttl * 2, ttl).unwrap(), 1);
    assert_eq!(state(&l), "abandoned");
    assert_eq!(counts(&db), ("1".into(), "1".into()), "never lost");
    assert_eq!(l.inconsistencies().unwrap(), vec![]);
}

#[test]
fn a_process_killed_mid_reservation_leaves_exact_counts() {
    let db = TestDb::new();
    seed(db.url());
    let mut before = 0u64;
    for (round, after) in [80u64, 150, 220].into_iter().enumerate() {
        let mut w = spawn_worker("loop", db.url(), round, 1_000_000);
        wait_for("the worker reserving", || w.progress() >= after);
        w.child.kill().unwrap();
        let _ = w.child.wait();
        let reported = w.progress();
        if let Some(r) = w.reader.take() {
            r.join().unwrap();
        }
        let reported = reported.max(w.progress());
        // The server notices the dead connection and rolls back what was in flight.
        let name = db.query("SELECT current_database()").concat();
        wait_for("the killed worker's backends gone", || {
            db.query(&format!(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = '{name}'
                 AND application_name = 'keywheel'"
            ))
            .concat()
                == "0"
        });
        let (rows, counted) = counts(&db);
        assert_eq!(
            rows, counted,
            "round {round}: the day's count equals the rows"
        );
        let done: u64 = db
            .query("SELECT count(*) FROM requests WHERE state = 'done'")
            .concat()
            .parse()
            .unwrap();
        let rows: u64 = rows.parse().unwrap();
        let done_now = done - before;
        assert!(
            done_now >= reported && done_now <= reported + 1,
            "round {round}: {done_now} done rows for {reported} completions reported"
        );
        assert!(
            rows >= done && rows <= done + round as u64 + 1,
            "round {round}: at most the one in flight per killed process is left reserved \
             ({rows} rows, {done} done)"
        );
        before = done;
    }
    let l = db.open(big_caps());
    l.expire_instances(system_now() + Duration::hours(1), Duration::seconds(30))
        .unwrap();
    assert_eq!(
        db.query("SELECT count(*) FROM requests WHERE state = 'reserved'")
            .concat(),
        "0",
        "a killed process's reservation is abandoned once its instance expires"
    );
    assert_eq!(l.inconsistencies().unwrap(), vec![]);
}
