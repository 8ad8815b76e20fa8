//! `keywheel ask` as a user runs it: many concurrent processes against keywheel-mock on
//! 127.0.0.1, rotation across runs, per-minute waits, the shared cache.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use keywheel_mock::{MockConfig, MockServer};
use serde_json::Value;

fn key(n: u8) -> String {
    format!("sk-or-v1-{}", format!("{n:02x}").repeat(32))
}

fn key_id(k: &str) -> String {
    keywheel_mock::key_id(k)
}

struct World {
    dir: tempfile::TempDir,
    mock: MockServer,
    keys: Vec<String>,
    env: Vec<(String, String)>,
}

impl World {
    fn new(n_keys: u8, cfg: MockConfig) -> Self {
        let mock = keywheel_mock::start_blocking(cfg).expect("mock starts");
        Self {
            dir: tempfile::tempdir().unwrap(),
            mock,
            keys: (1..=n_keys).map(key).collect(),
            env: Vec::new(),
        }
    }

    fn with(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("KEYWHEEL_DATA_DIR", self.dir.path().join("data"))
            .env("KEYWHEEL_CONFIG", self.dir.path().join("none.toml"))
            .env("KEYWHEEL_KEYCHAIN", "off")
            .env("OPENROUTER_BASE_URL", self.mock.base_url())
            .env("OPENROUTER_API_KEYS", self.keys.join(","))
            .stdin(Stdio::null());
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }
}

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_keywheel"))
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn eight_concurrent_shell_loops_spend_exactly_the_caps_and_never_see_a_429() {
    let w = World::new(3, MockConfig::default()).with("KEYWHEEL_DAILY_CAP", "10");
    // 8 loops × 6 asks = 48 attempts for 30 requests of quota.
    let script = format!(
        "for i in 1 2 3 4 5 6; do {} ask --json \"question $i\" >> \"$OUT\" 2>>\"$ERR\"; echo $? >> \"$CODES\"; done",
        bin().display()
    );
    let children: Vec<_> = (0..8)
        .map(|n| {
            let d = w.dir.path();
            w.cmd(&[])
                .env("OUT", d.join(format!("out{n}")))
                .env("ERR", d.join(format!("err{n}")))
                .env("CODES", d.join(format!("codes{n}")))
                .arg0_shell(&script)
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let mut codes = Vec::new();
    let mut answers = 0;
    let mut stderr = String::new();
    for n in 0..8 {
        let d = w.dir.path();
        codes.extend(
            std::fs::read_to_string(d.join(format!("codes{n}")))
                .unwrap()
                .lines()
                .map(|l| l.trim().to_string()),
        );
        let out = std::fs::read_to_string(d.join(format!("out{n}"))).unwrap();
        answers += out.matches("\"text\": \"You asked:").count();
        stderr.push_str(&std::fs::read_to_string(d.join(format!("err{n}"))).unwrap());
    }
    assert_eq!(codes.len(), 48);
    assert_eq!(
        codes.iter().filter(|c| *c == "0").count(),
        30,
        "exactly 3 keys × 10 answers; stderr:\n{stderr}"
    );
    assert_eq!(answers, 30);
    assert_eq!(
        codes.iter().filter(|c| *c == "3").count(),
        18,
        "the rest exit 3 (quota); stderr:\n{stderr}"
    );
    assert!(
        stderr.contains("all 3 keys are spent for today; the next one frees at 00:00 UTC"),
        "{stderr}"
    );
    assert!(!stderr.contains("database is locked"));

    let stats = w.mock.stats();
    for k in &w.keys {
        let s = &stats.keys[&key_id(k)];
        assert_eq!(
            s.requests, 10,
            "the mock saw exactly 10 requests on each key"
        );
        assert_eq!(s.rate_limited_429, 0, "the client never provoked a 429");
    }
    let usage = json(&w.run(&["usage", "--json", "--days", "1"]));
    for k in &w.keys {
        let row = usage["usage"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["key_id"] == key_id(k))
            .unwrap();
        assert_eq!(row["requests"], 10, "keywheel usage agrees with the mock");
        assert_eq!(row["successes"], 10);
    }
}

trait ShellArg {
    fn arg0_shell(&mut self, script: &str) -> &mut Self;
}

impl ShellArg for Command {
    /// Turns the command into `sh -c SCRIPT` keeping its environment.
    fn arg0_shell(&mut self, script: &str) -> &mut Self {
        let mut sh = Command::new("sh");
        sh.arg("-c").arg(script);
        sh.env_clear();
        for (k, v) in self.get_envs() {
            if let Some(v) = v {
                sh.env(k, v);
            }
        }
        *self = sh;
        self
    }
}

#[test]
fn sequential_runs_stay_on_one_key_until_it_passes_the_threshold() {
    let w = World::new(3, MockConfig::default()).with("KEYWHEEL_ROTATE_AFTER", "3");
    let mut used = Vec::new();
    for i in 0..9 {
        let out = w.run(&["ask", "--json", &format!("q{i}")]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        used.push(json(&out)["key_id"].as_str().unwrap().to_string());
    }
    let (a, b, c) = (key_id(&w.keys[0]), key_id(&w.keys[1]), key_id(&w.keys[2]));
    // Runs 1–4 start with ≤ 3 on key a; run 5 starts when a has 4 (> 3) and moves to b.
    assert_eq!(
        used[..4],
        [a.clone(), a.clone(), a.clone(), a.clone()],
        "{used:?}"
    );
    assert_eq!(
        used[4..8],
        [b.clone(), b.clone(), b.clone(), b.clone()],
        "{used:?}"
    );
    assert_eq!(used[8], c, "{used:?}");
}

#[test]
fn a_burst_over_the_per_minute_cap_waits_instead_of_failing() {
    let w = World::new(1, MockConfig::default()).with("KEYWHEEL_MINUTE_CAP", "5");
    let children: Vec<_> = (0..12)
        .map(|i| {
            w.cmd(&["ask", "--json", &format!("burst {i}")])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outs: Vec<Output> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    for o in &outs {
        assert!(
            o.status.success(),
            "every ask succeeds by waiting: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    assert!(
        outs.iter()
            .any(|o| String::from_utf8_lossy(&o.stderr).contains("waiting")),
        "some waited for a slot"
    );
    let s = &w.mock.stats().keys[&key_id(&w.keys[0])];
    assert_eq!(s.requests, 12);
    assert_eq!(s.rate_limited_429, 0, "the mock sent no 429");
}

#[test]
fn a_repeated_request_is_served_from_the_shared_cache_by_another_process() {
    let w = World::new(1, MockConfig::default()).with("KEYWHEEL_CACHE_CHAT", "on");
    let first = json(&w.run(&["ask", "--json", "What does OCR stand for?"]));
    assert_eq!(first["cached"], false);
    let second = w.run(&["ask", "--json", "What does OCR stand for?"]);
    let second = json(&second);
    assert_eq!(
        second["cached"], true,
        "the second process got the cached answer"
    );
    assert_eq!(second["text"], first["text"]);
    assert_eq!(
        w.mock.stats().total_requests,
        1,
        "only one request reached the mock"
    );
    let usage = json(&w.run(&["usage", "--json", "--days", "1"]));
    assert_eq!(
        usage["usage"][0]["requests"], 1,
        "the cache hit reserved no quota"
    );
}

#[test]
fn an_invalid_key_falls_back_and_is_marked_invalid() {
    let good = key(2);
    let cfg = MockConfig::default().with_key(good.clone(), "a");
    let w = World::new(2, cfg);
    let out = w.run(&["ask", "--json", "hello"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        json(&out)["key_id"],
        key_id(&good),
        "the 401 on key 1 fell back to key 2"
    );
    assert_eq!(json(&out)["fallbacks"], 1);
    let list = json(&w.run(&["keys", "list", "--json"]));
    let bad = list
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == key_id(&w.keys[0]))
        .unwrap();
    assert_eq!(bad["status"], "invalid");
    // Every key invalid → exit 4.
    let w = World::new(1, MockConfig::default().with_key(key(9), "z"));
    let out = w.run(&["ask", "--json", "hello"]);
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json(&out)["error"]["code"], "no_usable_key");
}

#[test]
fn an_empty_prompt_is_bad_input_and_spends_nothing() {
    let w = World::new(1, MockConfig::default());
    let out = w.run(&["ask", "--json", "  "]);
    assert_eq!(out.status.code(), Some(6));
    assert_eq!(w.mock.stats().total_requests, 0);
}
