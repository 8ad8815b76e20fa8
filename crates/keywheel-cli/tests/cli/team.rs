//! A team pool through the real `keywheel` binary (docs/team.md): several "machines" (each its
//! own data directory, its own keys in its environment, its own `KEYWHEEL_MACHINE`) on one
//! team ledger and one keywheel-mock.
//! - The rotation rule across machines: a start adopts the pool's current key unless it has
//!   more than `rotate_after` requests today, else the pool moves to the usable key with the
//!   fewest today; a machine that lacks the current key uses its own least-used key, says so
//!   (its log), and leaves the team's key alone.
//! - `pg_terminate_backend` of every ledger backend while asks are in flight at a slow mock:
//!   every ask still answers, and the mock saw exactly what the ledger counted.
//! - The canary test (monitoring.rs) on a team ledger whose URL has a password: neither the key
//!   nor the password reaches stdout, stderr, the data dir, the team database, or the
//!   environment and arguments of the programs keywheel starts.
//!
//! Run: `bash scripts/with-postgres.sh cargo test -p keywheel-cli --test cli team::`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use keywheel_mock::MockConfig;
use keywheel_testkit::files::{all_bytes_under, files_under};
use keywheel_testkit::keys::{key_id, key_material_in};
use keywheel_testkit::output::{json, succeeded};
use keywheel_testkit::world::World;

use crate::ledger::team_database;
use crate::monitoring::{CANARY, canary_everywhere};

/// `keywheel <args>` as machine `name`: its own data dir and its own keys.
fn on_machine(w: &World, name: &str, keys: &[&String], args: &[&str]) -> Command {
    let mut c = w.cmd(args);
    let csv: Vec<&str> = keys.iter().map(|k| k.as_str()).collect();
    c.env("KEYWHEEL_MACHINE", name)
        .env("KEYWHEEL_DATA_DIR", w.path(name))
        .env("OPENROUTER_API_KEYS", csv.join(","));
    c
}

/// One `ask --json` on machine `name`; the key it used and whether the pool rotated.
fn ask(w: &World, name: &str, keys: &[&String]) -> (String, bool) {
    let (key, rotated, _) = ask_told(w, name, keys);
    (key, rotated)
}

/// [`ask`], with what it told the person on stderr.
fn ask_told(w: &World, name: &str, keys: &[&String]) -> (String, bool, String) {
    let out = on_machine(w, name, keys, &["ask", "--json", "hello"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{name}: {stderr}");
    let v = json(&out);
    (
        v["key_id"].as_str().expect("the key used").to_string(),
        v["rotated"].as_bool().expect("whether it rotated"),
        stderr,
    )
}

fn current_key(w: &World, name: &str, keys: &[&String]) -> String {
    let out = succeeded(
        on_machine(w, name, keys, &["status", "--json"])
            .output()
            .unwrap(),
    );
    json(&out)["current_key"].as_str().unwrap_or("").to_string()
}

/// Today's requests per key id, as machine `name` reads the team ledger.
fn usage(w: &World, name: &str, keys: &[&String]) -> BTreeMap<String, u64> {
    let out = succeeded(
        on_machine(w, name, keys, &["usage", "--json", "--days", "1"])
            .output()
            .unwrap(),
    );
    json(&out)["usage"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["key_id"].as_str().unwrap().to_string(),
                r["requests"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn logs_of(w: &World, name: &str) -> String {
    files_under(&w.path(name).join("logs"))
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .collect()
}

#[test]
fn the_rotation_rule_holds_across_machines_including_one_without_the_current_key() {
    let url = team_database();
    let w = World::new(3, MockConfig::default())
        .with("KEYWHEEL_LEDGER_URL", &url)
        .with("KEYWHEEL_ROTATE_AFTER", "3");
    let all: Vec<&String> = w.keys.iter().collect();
    let ids: Vec<String> = w.keys.iter().map(|k| key_id(k)).collect();
    // Machine A starts first: the pool has no current key; it takes one.
    let (first, _) = ask(&w, "machine-a", &all);
    assert_eq!(current_key(&w, "machine-a", &all), first);
    // Machine B adopts the team's current key while it has at most 3 requests today.
    for _ in 0..3 {
        let (k, rotated) = ask(&w, "machine-b", &all);
        assert_eq!(k, first, "B adopts the pool's current key");
        assert!(!rotated);
    }
    // Four today, more than 3: the next start (on A) moves the pool to the usable key with the
    // fewest requests today (both others have 0).
    let (second, rotated) = ask(&w, "machine-a", &all);
    assert!(rotated, "A rotated past a key with 4 requests today");
    assert_ne!(second, first);
    assert_eq!(
        current_key(&w, "machine-b", &all),
        second,
        "B sees the new current key"
    );
    // B's next start adopts the new current key.
    let (k, rotated) = ask(&w, "machine-b", &all);
    assert_eq!((k.as_str(), rotated), (second.as_str(), false));
    // Machine C lacks the current key: it uses its own least-used key (the third, 0 today,
    // rather than the first, 4 today), says so, and leaves the team's key alone.
    let c_keys: Vec<&String> = w.keys.iter().filter(|k| key_id(k) != second).collect();
    let third = ids
        .iter()
        .find(|i| **i != first && **i != second)
        .unwrap()
        .clone();
    for n in 1..=2 {
        let (k, rotated, told) = ask_told(&w, "machine-c", &c_keys);
        assert_eq!(k, third, "C's least-used key of its own (ask {n})");
        assert!(
            told.contains(&format!(
                "this machine does not hold the pool's current key {second}; using its own \
                 least-used key {third}"
            )),
            "C tells the person why it uses a key of its own (ask {n}): {told}"
        );
        assert!(!rotated, "C does not move the team's key (ask {n})");
        assert_eq!(current_key(&w, "machine-a", &all), second);
    }
    assert!(
        logs_of(&w, "machine-c").contains("does not hold the pool's current key"),
        "C says why it uses a key of its own"
    );
    // The counts are exact on every machine, and equal what the mock saw.
    let expected: BTreeMap<String, u64> = [(first.clone(), 4), (second.clone(), 2), (third, 2)]
        .into_iter()
        .collect();
    for (name, keys) in [
        ("machine-a", &all),
        ("machine-b", &all),
        ("machine-c", &c_keys),
    ] {
        assert_eq!(usage(&w, name, keys), expected, "{name}");
    }
    let stats = w.mock.stats();
    for (id, n) in &expected {
        assert_eq!(stats.keys[id].requests, *n, "the mock saw {n} on {id}");
    }
    // No machine made a local ledger.
    for name in ["machine-a", "machine-b", "machine-c"] {
        assert!(!w.path(name).join("keywheel.sqlite3").exists(), "{name}");
    }
}

/// Runs `sql` on the team database with psql; its output.
fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .arg(url)
        .args(["-v", "ON_ERROR_STOP=1", "-Atqc", sql])
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn asks_in_flight_survive_terminated_ledger_backends_and_counts_match_the_mock() {
    let url = team_database();
    // A slow mock: each answer takes 300 ms, so backends are terminated while asks are out.
    let w =
        World::new(2, MockConfig::default().with_latency_ms(300)).with("KEYWHEEL_LEDGER_URL", &url);
    let all: Vec<&String> = w.keys.iter().collect();
    let db = url.rsplit('/').next().unwrap().to_string();
    let asks: Vec<_> = (0..6)
        .map(|i| {
            let name = ["laptop-a", "build-b", "notebook-c"][i % 3];
            on_machine(&w, name, &all, &["ask", "--json", &format!("question {i}")])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut terminated = 0usize;
    for _ in 0..15 {
        terminated += psql(
            &url,
            &format!(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
                 WHERE datname = '{db}' AND application_name = 'keywheel'"
            ),
        )
        .trim()
        .parse::<usize>()
        .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(terminated > 0, "some ledger backend was terminated");
    for a in asks {
        let out = a.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "an ask rode through its connection being terminated: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // What the mock answered is what the ledger counted, and every row is finished.
    let stats = w.mock.stats();
    let counted = usage(&w, "laptop-a", &all);
    let mock_total: u64 = stats.keys.values().map(|s| s.requests).sum();
    assert_eq!(counted.values().sum::<u64>(), 6);
    assert_eq!(mock_total, 6, "the mock saw each ask once");
    for (id, n) in &counted {
        assert_eq!(stats.keys[id].requests, *n, "{id}");
    }
    assert_eq!(
        psql(&url, "SELECT count(*) FROM requests WHERE state = 'done'").trim(),
        "6"
    );
}

/// The real program behind `name` on PATH, if any.
fn which(name: &str) -> Option<String> {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .ok()?;
    let p = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !p.is_empty()).then_some(p)
}

/// A folder of stand-ins for the programs keywheel starts (poppler, tesseract, ImageMagick):
/// each appends its arguments and environment to `record`, then runs the real one.
fn recording_tools(dir: &Path, record: &Path) -> usize {
    std::fs::create_dir_all(dir).unwrap();
    let mut n = 0;
    for tool in [
        "pdfinfo",
        "pdftotext",
        "pdftoppm",
        "pdftocairo",
        "tesseract",
        "magick",
        "convert",
        "identify",
    ] {
        let Some(real) = which(tool) else { continue };
        let script = format!(
            "#!/bin/sh\n{{ echo \"ARGV {tool} $*\"; env; }} >> '{}'\nexec '{real}' \"$@\"\n",
            record.display()
        );
        let path = dir.join(tool);
        std::fs::write(&path, script).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        n += 1;
    }
    n
}

#[test]
fn the_canary_on_a_team_ledger_leaks_neither_the_key_nor_the_database_password() {
    let url = team_database();
    let (_, rest) = url.split_once("://").unwrap();
    let password = rest
        .split_once('@')
        .and_then(|(user, _)| user.split_once(':'))
        .map(|(_, pw)| pw.to_string())
        .expect("the test server's URL has a password");
    assert!(password.len() >= 16, "a password worth searching for");
    let tools = tempfile::tempdir().unwrap();
    let record = tools.path().join("record.txt");
    assert!(
        recording_tools(&tools.path().join("bin"), &record) > 0,
        "poppler or tesseract is installed"
    );
    let path = format!(
        "{}:{}",
        tools.path().join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let w = crate::monitoring::world(&[CANARY.to_string()])
        .with("KEYWHEEL_LEDGER_URL", &url)
        .with("PATH", &path);
    let outputs = canary_everywhere(&w);
    let has_password = |bytes: &[u8]| {
        bytes
            .windows(password.len())
            .any(|win| win == password.as_bytes())
    };
    for (name, o) in &outputs {
        assert!(
            !has_password(&o.stdout),
            "{name}: stdout showed the password"
        );
        assert!(
            !has_password(&o.stderr),
            "{name}: stderr showed the password"
        );
    }
    let on_disk = all_bytes_under(w.home());
    assert!(
        !has_password(&on_disk),
        "the password reached a file under the home"
    );
    assert!(
        !w.data_dir().join("keywheel.sqlite3").exists(),
        "no local ledger in team mode"
    );
    // The team database: every table's rows as text.
    let dump = Command::new("sh")
        .arg("-c")
        .arg("exec \"$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)/pg_dump\" --data-only \"$KW_URL\"")
        .env("KW_URL", &url)
        .output()
        .expect("pg_dump runs");
    assert!(
        dump.status.success(),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    assert!(
        String::from_utf8_lossy(&dump.stdout).contains("COPY public.requests"),
        "the dump holds the request log"
    );
    assert_eq!(
        key_material_in(&dump.stdout, CANARY),
        None,
        "the team database holds the key"
    );
    assert!(
        !has_password(&dump.stdout),
        "the team database holds the password"
    );
    // The programs keywheel started (the PDF tools at least) got neither, nor the ledger URL.
    let seen = std::fs::read(&record).expect("keywheel started a recorded program");
    assert!(
        String::from_utf8_lossy(&seen).contains("ARGV "),
        "a program was recorded"
    );
    assert_eq!(key_material_in(&seen, CANARY), None, "a child got the key");
    assert!(!has_password(&seen), "a child got the database password");
    assert!(
        !String::from_utf8_lossy(&seen).contains("KEYWHEEL_LEDGER_URL"),
        "a child got the ledger URL"
    );
}
