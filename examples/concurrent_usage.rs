//! Several instances sharing one key pool and one ledger: threads of this process (each its own
//! `Instance`) and child processes (this example re-executed with `--child NAME N`), with small
//! settings — 3 keys, a rotation threshold of 3, a daily cap of 8 per key — so that one short
//! run shows:
//!
//! - who got which key at start (every worker prints its adoption before any request is sent);
//! - rotation: an instance that starts while the current key has MORE than 3 requests today
//!   moves the pool to the key with the fewest; running instances keep theirs;
//! - caps holding across threads and processes: of 30 requests asked for, exactly 3 × 8 = 24
//!   are sent, and the rest are refused with the plain sentence, never sent;
//! - the final per-key usage from the ledger next to what the mock counted (they must match).
//!
//! Run: `cargo run -p keywheel-core --example concurrent_usage` (offline, a few seconds).
//!
//! Without `OPENROUTER_API_KEYS` it starts `keywheel-mock` in-process on 127.0.0.1 with 3
//! made-up keys and a temporary ledger, and says so on stderr. With `OPENROUTER_API_KEYS` set it
//! uses OpenRouter and your normal ledger (or `KEYWHEEL_DATA_DIR`), with the same small caps for
//! this run only (up to 8 real requests per key; R1 answers take a while each); the keychain is
//! not used either way. Children get the data dir, base URL, keys and caps through the usual
//! `KEYWHEEL_*` / `OPENROUTER_*` environment variables and open the pool with `Pool::from_env`,
//! like any other `keywheel` process would.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{ChildStdin, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{self, Sender};
use std::thread;

use keywheel_core::dispatch::{Dispatcher, Job, Kind};
use keywheel_core::keys::{KeyId, OsKeychain, env};
use keywheel_core::openrouter::{CancelToken, ChatRequest};
use keywheel_core::pool::{Pool, PoolOptions};
use keywheel_core::{Error, Result, Settings, SystemClock};
use keywheel_mock::MockServer;
use keywheel_testkit::backend::Backend;

const ROTATE_AFTER: u32 = 3;
const DAILY_CAP: u32 = 8;
const MOCK_KEYS: usize = 3;

#[derive(Clone, Copy, PartialEq)]
enum Where {
    Thread,
    Child,
}

/// The script: each wave starts its workers together (all adopt a key before any sends).
const WAVES: [(&str, &[(Where, u32)]); 3] = [
    (
        "wave 1: two threads of this process, 2 requests each",
        &[(Where::Thread, 2), (Where::Thread, 2)],
    ),
    (
        "wave 2: two child processes, 3 requests each",
        &[(Where::Child, 3), (Where::Child, 3)],
    ),
    (
        "wave 3: a thread and a child process, 10 requests each (more than the caps leave)",
        &[(Where::Thread, 10), (Where::Child, 10)],
    ),
];

/// What a worker tells the parent.
#[derive(Debug, Clone)]
enum Report {
    Ready {
        key: Option<KeyId>,
        rotated: bool,
        previous: Option<KeyId>,
        pid: u32,
    },
    Served {
        key: KeyId,
        fallbacks: u32,
    },
    Refused(String),
    Failed(String),
    Done,
}

impl Report {
    /// One line of the parent/child protocol (the child's stdout).
    fn to_line(&self) -> String {
        let id = |k: &Option<KeyId>| k.as_ref().map_or("-".to_string(), |k| k.to_string());
        match self {
            Report::Ready {
                key,
                rotated,
                previous,
                pid,
            } => {
                format!(
                    "READY {} {} {} {pid}",
                    id(key),
                    u8::from(*rotated),
                    id(previous)
                )
            }
            Report::Served { key, fallbacks } => format!("SERVED {key} {fallbacks}"),
            Report::Refused(s) => format!("REFUSED {}", s.replace(['\n', '\r'], " ")),
            Report::Failed(s) => format!("FAILED {}", s.replace(['\n', '\r'], " ")),
            Report::Done => "DONE".to_string(),
        }
    }

    fn from_line(line: &str) -> Option<Report> {
        let (tag, rest) = line.split_once(' ').unwrap_or((line, ""));
        let id = |s: &str| (s != "-").then(|| KeyId::from_stored(s));
        let f: Vec<&str> = rest.split(' ').collect();
        Some(match tag {
            "READY" if f.len() == 4 => Report::Ready {
                key: id(f[0]),
                rotated: f[1] == "1",
                previous: id(f[2]),
                pid: f[3].parse().ok()?,
            },
            "SERVED" if f.len() == 2 => Report::Served {
                key: KeyId::from_stored(f[0]),
                fallbacks: f[1].parse().ok()?,
            },
            "REFUSED" => Report::Refused(rest.to_string()),
            "FAILED" => Report::Failed(rest.to_string()),
            "DONE" => Report::Done,
            _ => return None,
        })
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        let name = args.get(2).cloned().unwrap_or_else(|| "child".into());
        let n = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
        return child(&name, n);
    }
    match parent() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("concurrent_usage: {e}");
            ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(1))
        }
    }
}

/// A worker: start an instance, report the adoption, wait for the go, send `n` requests.
fn work(pool: &Pool, name: &str, n: u32, report: &mut dyn FnMut(Report), go: impl FnOnce()) {
    if let Err(e) = work_inner(pool, name, n, report, go) {
        report(Report::Failed(e.to_string()));
    }
    report(Report::Done);
}

fn work_inner(
    pool: &Pool,
    name: &str,
    n: u32,
    report: &mut dyn FnMut(Report),
    go: impl FnOnce(),
) -> Result<()> {
    let instance = Arc::new(pool.start_instance("example")?);
    let a = instance.adoption();
    report(Report::Ready {
        key: instance.key(),
        rotated: a.rotated,
        previous: a.previous.clone(),
        pid: std::process::id(),
    });
    go();
    let dispatcher = Dispatcher::new(instance)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("could not start the async runtime", e))?;
    let cancel = CancelToken::new();
    for i in 1..=n {
        // No model named: the configured chat chain, resolved against the catalogue.
        let request = ChatRequest::text("", format!("{name}, request {i}: reply with one word."));
        let job = Job {
            kind: Kind::Chat,
            request,
            models: keywheel_core::chains::ModelChoice::Default,
            stream: false,
            use_cache: false,
        };
        match rt.block_on(dispatcher.run(job, |_| {}, &cancel)) {
            Ok(o) => match o.key_id {
                Some(key) => report(Report::Served {
                    key,
                    fallbacks: o.fallbacks,
                }),
                None => report(Report::Failed("answered from the cache".into())),
            },
            Err(e @ (Error::QuotaExhausted { .. } | Error::NoUsableKey(_))) => {
                report(Report::Refused(e.to_string()))
            }
            Err(e) => report(Report::Failed(e.to_string())),
        }
    }
    Ok(())
}

/// `--child NAME N`: the same worker in its own process, talking over stdin/stdout.
fn child(name: &str, n: u32) -> ExitCode {
    let mut out = std::io::stdout();
    let mut say = |r: Report| {
        let _ = writeln!(out, "{}", r.to_line());
        let _ = out.flush();
    };
    match Pool::from_env() {
        Ok(pool) => work(&pool, name, n, &mut say, || {
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line);
        }),
        Err(e) => {
            say(Report::Failed(e.to_string()));
            say(Report::Done);
        }
    }
    ExitCode::SUCCESS
}

/// Environment shared by the parent's settings and every child; the backend (keywheel-testkit's
/// choice of OpenRouter or keywheel-mock) lives as long as this.
struct Setup {
    vars: Vec<(String, String)>,
    backend: Backend,
}

impl Setup {
    fn var(&self, k: &str) -> Option<String> {
        self.vars
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .or_else(|| std::env::var(k).ok())
    }
}

fn setup() -> Result<Setup> {
    let mut vars: Vec<(String, String)> = vec![
        ("KEYWHEEL_ROTATE_AFTER".into(), ROTATE_AFTER.to_string()),
        ("KEYWHEEL_DAILY_CAP".into(), DAILY_CAP.to_string()),
        ("KEYWHEEL_KEYCHAIN".into(), "off".into()),
    ];
    let backend = Backend::choose(&["1c", "5e", "b9"][..MOCK_KEYS])?;
    let (Some(mock), Some(dir)) = (&backend.mock, &backend.dir) else {
        eprintln!(
            "{} is set: using OpenRouter and your ledger, with a daily cap of {DAILY_CAP} and a rotation threshold of \
             {ROTATE_AFTER} for this run (real requests; R1 may take a while per answer)",
            env::VAR
        );
        return Ok(Setup { vars, backend });
    };
    eprintln!(
        "{} is not set: using keywheel-mock at {} with {MOCK_KEYS} made-up keys and a temporary ledger in {}",
        env::VAR,
        mock.base_url(),
        dir.path().display()
    );
    vars.extend([
        // Empty: no config file (a file KEYWHEEL_CONFIG names must exist).
        ("KEYWHEEL_CONFIG".into(), String::new()),
        ("KEYWHEEL_DATA_DIR".into(), dir.path().display().to_string()),
        ("OPENROUTER_BASE_URL".into(), mock.base_url()),
        (env::VAR.into(), backend.keys.clone()),
        ("KEYWHEEL_MINUTE_CAP".into(), "20".into()),
    ]);
    Ok(Setup { vars, backend })
}

/// How the parent releases a waiting worker.
enum Go {
    Thread(Sender<()>),
    Child(ChildStdin),
}

fn parent() -> Result<bool> {
    let setup = setup()?;
    let settings = Settings::load_with(&|k| setup.var(k))?;
    let env_keys = setup.var(env::VAR);
    let pool = Pool::open(PoolOptions {
        settings,
        clock: Arc::new(SystemClock),
        store: Arc::new(OsKeychain::disabled()),
        env_keys: env_keys.clone(),
    })?;
    for w in pool.warnings() {
        eprintln!("{w}");
    }
    let ring: Vec<KeyId> = pool.ring().ids();
    let names: BTreeMap<KeyId, String> = ring
        .iter()
        .enumerate()
        .map(|(i, k)| (k.clone(), format!("k{}", i + 1)))
        .collect();
    let name = |k: &KeyId| names.get(k).cloned().unwrap_or_else(|| k.to_string());
    let opt_name = |k: &Option<KeyId>| k.as_ref().map_or("(none)".to_string(), &name);
    println!(
        "pool: {} keys, daily cap {DAILY_CAP} each, rotation when the current key has more than {ROTATE_AFTER} today",
        ring.len()
    );
    for k in &ring {
        println!("  {} = key {k}", name(k));
    }
    let exe = std::env::current_exe()
        .map_err(|e| Error::io("could not find this example's executable", e))?;

    let mut asked = 0u32;
    let mut served = 0u32;
    let mut refused = 0u32;
    let mut failed = 0u32;
    let mut sentences: Vec<String> = Vec::new();
    let mut letter = b'A';
    for (title, workers) in WAVES {
        println!("\n{title}");
        let today: BTreeMap<KeyId, u32> = pool
            .key_views()?
            .into_iter()
            .map(|v| (v.id, v.today))
            .collect();
        let current = pool.ledger().current_key()?;
        println!(
            "  before: current key {}; today {}",
            opt_name(&current),
            ring.iter()
                .map(|k| format!("{} {}", name(k), today.get(k).copied().unwrap_or(0)))
                .collect::<Vec<_>>()
                .join(" · ")
        );

        let (tx, rx) = mpsc::channel::<(usize, Report)>();
        let mut gos = Vec::new();
        let mut labels = Vec::new();
        let mut children = Vec::new();
        let mut threads = Vec::new();
        for (i, &(kind, n)) in workers.iter().enumerate() {
            let wname = format!(
                "{}{}",
                if kind == Where::Thread {
                    "thread "
                } else {
                    "child "
                },
                letter as char
            );
            letter += 1;
            asked += n;
            labels.push(wname.clone());
            let tx = tx.clone();
            match kind {
                Where::Thread => {
                    let (go_tx, go_rx) = mpsc::channel::<()>();
                    gos.push(Go::Thread(go_tx));
                    let pool = pool.clone();
                    threads.push(thread::spawn(move || {
                        let mut say = |r: Report| {
                            let _ = tx.send((i, r));
                        };
                        work(&pool, &wname, n, &mut say, || {
                            let _ = go_rx.recv();
                        });
                    }));
                }
                Where::Child => {
                    let mut cmd = Command::new(&exe);
                    cmd.arg("--child").arg(&wname).arg(n.to_string());
                    cmd.envs(setup.vars.iter().map(|(k, v)| (k, v)))
                        .env_remove("KEYWHEEL_FAKE_NOW");
                    cmd.stdin(Stdio::piped())
                        .stdout(Stdio::piped())
                        .stderr(Stdio::inherit());
                    let mut ch = cmd
                        .spawn()
                        .map_err(|e| Error::io("could not start a child process", e))?;
                    let stdin = ch.stdin.take().expect("piped stdin");
                    let stdout = ch.stdout.take().expect("piped stdout");
                    gos.push(Go::Child(stdin));
                    threads.push(thread::spawn(move || {
                        let mut done = false;
                        for line in BufReader::new(stdout)
                            .lines()
                            .map_while(std::io::Result::ok)
                        {
                            if let Some(r) = Report::from_line(&line) {
                                done |= matches!(r, Report::Done);
                                let _ = tx.send((i, r));
                            }
                        }
                        if !done {
                            let _ = tx
                                .send((i, Report::Failed("the child process ended early".into())));
                            let _ = tx.send((i, Report::Done));
                        }
                    }));
                    children.push(ch);
                }
            }
        }
        drop(tx);

        // Everyone adopts a key first; then all are released together.
        let mut events: Vec<Vec<Report>> = vec![Vec::new(); workers.len()];
        let mut ready = 0;
        let mut finished = 0;
        while ready + finished < workers.len() {
            let Ok((i, r)) = rx.recv() else { break };
            match &r {
                Report::Ready {
                    key,
                    rotated,
                    previous,
                    pid,
                } => {
                    ready += 1;
                    let place = if *pid == std::process::id() {
                        "(this process)"
                    } else {
                        "(own process)"
                    };
                    let how = if *rotated {
                        let prev = opt_name(previous);
                        let had = previous
                            .as_ref()
                            .and_then(|p| today.get(p))
                            .copied()
                            .unwrap_or(0);
                        format!("ROTATED from {prev} ({prev} had {had} > {ROTATE_AFTER} today)")
                    } else {
                        let had = key
                            .as_ref()
                            .and_then(|k| today.get(k))
                            .copied()
                            .unwrap_or(0);
                        format!("the current key ({had} ≤ {ROTATE_AFTER} today, no rotation)")
                    };
                    println!(
                        "  {:<9} pid {pid:<7} {place:<14} adopted {}: {how}",
                        labels[i],
                        opt_name(key)
                    );
                }
                Report::Done => finished += 1,
                _ => {}
            }
            events[i].push(r);
        }
        for g in gos {
            match g {
                Go::Thread(s) => {
                    let _ = s.send(());
                }
                Go::Child(mut stdin) => {
                    let _ = writeln!(stdin, "go");
                }
            }
        }
        while let Ok((i, r)) = rx.recv() {
            events[i].push(r);
        }
        for t in threads {
            let _ = t.join();
        }
        for mut ch in children {
            let _ = ch.wait();
        }

        // What each worker's requests did.
        for (i, evs) in events.iter().enumerate() {
            let mut line = Vec::new();
            let mut last: Option<KeyId> = evs.iter().find_map(|r| match r {
                Report::Ready { key, .. } => key.clone(),
                _ => None,
            });
            let mut refusals = 0;
            for r in evs {
                match r {
                    Report::Served { key, .. } => {
                        served += 1;
                        let moved = last.as_ref() != Some(key);
                        line.push(if moved {
                            format!("→{}", name(key))
                        } else {
                            name(key)
                        });
                        last = Some(key.clone());
                    }
                    Report::Refused(s) => {
                        refused += 1;
                        refusals += 1;
                        line.push("✗".into());
                        if !sentences.contains(s) {
                            sentences.push(s.clone());
                        }
                    }
                    Report::Failed(s) => {
                        failed += 1;
                        line.push("!".into());
                        eprintln!("  {}: {s}", labels[i]);
                    }
                    _ => {}
                }
            }
            let note = if refusals > 0 {
                format!("   ({refusals} refused, not sent)")
            } else {
                String::new()
            };
            println!("  {:<9} {}{note}", labels[i], line.join(" "));
        }
        if title.starts_with("wave 1")
            && let Some(cur) = pool.ledger().current_key()?
        {
            let n = pool
                .key_views()?
                .into_iter()
                .find(|v| v.id == cur)
                .map_or(0, |v| v.today);
            println!(
                "  ({} now has {n} > {ROTATE_AFTER}, yet both kept it to the end: a running instance never rotates; rotation happens at start)",
                name(&cur)
            );
        }
    }

    println!(
        "\n{asked} requests asked for; {served} sent and answered, {refused} refused, {failed} failed"
    );
    println!(
        "cap: {} keys × {DAILY_CAP} = {} requests per UTC day",
        ring.len(),
        ring.len() as u32 * DAILY_CAP
    );
    for s in &sentences {
        println!("refusal: \"{s}\"");
    }

    // Final per-key usage: the ledger, next to the mock's own count.
    let usage = pool.usage(1)?;
    let stats = setup.backend.mock.as_ref().map(MockServer::stats);
    println!(
        "\nper-key usage today (ledger{}):",
        if stats.is_some() {
            " vs keywheel-mock"
        } else {
            ""
        }
    );
    println!(
        "  key  id            ledger  ok  failed{}",
        if stats.is_some() {
            "   mock-served  mock-200"
        } else {
            ""
        }
    );
    let mut all_match = true;
    let (mut tot_l, mut tot_ok, mut tot_err, mut tot_m, mut tot_200) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    for k in &ring {
        let row = usage.usage.iter().find(|u| &u.key_id == k);
        let (req, ok, err) = row.map_or((0, 0, 0), |u| (u.requests, u.successes, u.errors));
        tot_l += u64::from(req);
        tot_ok += u64::from(ok);
        tot_err += u64::from(err);
        let mock_cols = match &stats {
            Some(st) => {
                let ks = st.keys.get(k.as_str()).cloned().unwrap_or_default();
                let ok200 = ks.status.get("200").copied().unwrap_or(0);
                tot_m += ks.served;
                tot_200 += ok200;
                let same = ks.served == u64::from(req) && ok200 == u64::from(ok);
                all_match &= same;
                format!(
                    "   {:>11}  {:>8}  {}",
                    ks.served,
                    ok200,
                    if same { "✓" } else { "MISMATCH" }
                )
            }
            None => String::new(),
        };
        println!(
            "  {:<4} {k}  {req:>6}  {ok:>2}  {err:>6}{mock_cols}",
            name(k)
        );
    }
    let mock_tot = if stats.is_some() {
        format!("   {tot_m:>11}  {tot_200:>8}")
    } else {
        String::new()
    };
    println!("  total              {tot_l:>6}  {tot_ok:>2}  {tot_err:>6}{mock_tot}");
    if let Some(st) = &stats {
        println!(
            "  the mock received {} chat requests in all: the {refused} refused ones never left this machine",
            st.total_requests
        );
        all_match &= st.total_requests == tot_l && u64::from(served) == tot_l;
        println!(
            "{}",
            if all_match {
                "ledger and mock agree ✓"
            } else {
                "ledger and mock DISAGREE"
            }
        );
    }
    drop(pool);
    drop(setup);
    Ok(all_match && failed == 0)
}
