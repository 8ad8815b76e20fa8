//! `keywheel ask` as a user runs it: many concurrent processes against keywheel-mock on
//! 127.0.0.1, rotation across runs, per-minute waits, the shared cache.

use std::process::{Command, Output, Stdio};

use keywheel_mock::MockConfig;
use keywheel_testkit::keys::{fake_key as key, key_id};
use keywheel_testkit::output::{json, stderr};
use keywheel_testkit::world::{World, catalogue_snapshot as snapshot, keywheel_bin as bin};

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

/// The window's earlier half is injected: five requests counted in the ledger 45 s ago (the
/// ledger takes its "now" from the caller), so the burst waits about 15 s instead of the two
/// minutes twelve real requests at 5 a minute would take.
fn fill_the_window(w: &World, cap: u32, ago: chrono::Duration) {
    use keywheel_core::keys::{ApiKey, KeySource};
    use keywheel_core::ledger::{CapDefaults, Completion, Ledger, ReserveOutcome, ReserveRequest};
    let caps = CapDefaults {
        minute: cap,
        ..CapDefaults::default()
    };
    let ledger = Ledger::open(&w.dir.path().join("data").join("keywheel.sqlite3"), caps).unwrap();
    let then = keywheel_core::clock::system_now() - ago;
    let key = ApiKey::parse(&w.keys[0]).unwrap();
    ledger
        .upsert_key(&key, KeySource::Env, None, None, then)
        .unwrap();
    let me = ledger
        .register_instance("test", std::process::id(), then)
        .unwrap();
    for i in 0..cap {
        let now = then + chrono::Duration::milliseconds(i64::from(i));
        let ReserveOutcome::Granted(r) = ledger
            .reserve(&ReserveRequest {
                instance_id: &me,
                key_id: &key.id(),
                kind: keywheel_core::dispatch::Kind::Chat,
                model: None,
                now,
            })
            .unwrap()
        else {
            panic!("the seeded requests are granted");
        };
        ledger.complete(&r, &Completion::ok(), now).unwrap();
    }
    ledger.deregister_instance(&me).unwrap();
}

#[test]
fn a_burst_over_the_per_minute_cap_waits_instead_of_failing() {
    let w = World::new(1, MockConfig::default()).with("KEYWHEEL_MINUTE_CAP", "5");
    fill_the_window(&w, 5, chrono::Duration::seconds(45));
    let children: Vec<_> = (0..5)
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
    assert_eq!(s.requests, 5);
    assert_eq!(s.rate_limited_429, 0, "the mock sent no 429");
    // (Two days: the seeded five may fall on yesterday when this runs just after 00:00 UTC.)
    let usage = json(&w.run(&["usage", "--json", "--days", "2"]));
    let counted: u64 = usage["usage"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(
        counted, 10,
        "ten requests within a minute at a cap of 5: the second five waited for the first"
    );
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

/// Issue 15 §5: a base URL without a scheme, or `http://` off loopback, is a usage error (exit 2)
/// before anything is counted or sent.
#[test]
fn a_bad_base_url_exits_2_and_counts_nothing() {
    let w = World::new(1, MockConfig::default());
    for (url, says) in [
        ("openrouter.ai/api/v1", "no scheme"),
        ("127.0.0.1:9/api/v1", "no scheme"),
        ("http://openrouter.ai/api/v1", "https is needed"),
    ] {
        let out = w
            .cmd(&["ask", "--model", "deepseek/deepseek-r1", "hello"])
            .env("OPENROUTER_BASE_URL", url)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{url}: {err}");
        assert!(err.contains(says), "{url}: {err}");
    }
    let log = json(&w.run(&["log", "--json"]));
    assert_eq!(
        log.as_array().map(Vec::len),
        Some(0),
        "no request counted: {log}"
    );
    assert_eq!(w.mock.stats().total_requests, 0);
}

/// A plain HTTP/1.1 server on 127.0.0.1 for answers the mock cannot give: each of at most
/// `conns` connections has its request read, then `answer` writes the response.
fn raw_server(conns: usize, answer: impl Fn(&mut std::net::TcpStream) + Send + 'static) -> String {
    use std::io::Read;
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for sock in listener.incoming().take(conns) {
            let Ok(mut sock) = sock else { return };
            let mut req = Vec::new();
            let mut buf = [0u8; 8192];
            // Headers, then the body its Content-Length announces.
            while let Ok(n) = sock.read(&mut buf) {
                if n == 0 {
                    break;
                }
                req.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&req).to_ascii_lowercase();
                if let Some(end) = text.find("\r\n\r\n") {
                    let len = text
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if req.len() >= end + 4 + len {
                        break;
                    }
                }
            }
            if req.starts_with(b"POST") {
                answer(&mut sock);
            } else {
                // The catalogue (GET /models) and the like: not here.
                let _ = sock.write_all(
                    b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                );
            }
        }
    });
    format!("http://{addr}/api/v1")
}

/// Peak resident memory of a running process, in KiB (`VmHWM`), if it can be read.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Issue 15 §9: `data: ` and then bytes without a newline, forever: the line cap (1 MiB) stops
/// the answer with exit 5, and the process never holds the stream in memory.
#[test]
fn an_endless_sse_line_hits_the_cap_exits_5_and_memory_stays_bounded() {
    use std::io::Write;
    let base = raw_server(8, |sock| {
        let _ = sock.write_all(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\ndata: ",
        );
        // Bounded: at most 512 MiB, or until the client hangs up.
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..8192 {
            if sock.write_all(&chunk).is_err() {
                return;
            }
        }
    });
    let w = World::new(1, MockConfig::default())
        .with("OPENROUTER_BASE_URL", &base)
        .with("KEYWHEEL_MAX_WAIT_SECS", "0");
    let mut child = w
        .cmd(&["ask", "--model", "deepseek/deepseek-r1", "hello"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut peak = 0;
    while child.try_wait().unwrap().is_none() {
        if let Some(kib) = peak_rss_kib(pid) {
            peak = peak.max(kib);
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{err}");
    assert!(err.contains("stream line longer than 1024 KiB"), "{err}");
    eprintln!("peak RSS of keywheel ask: {peak} KiB");
    assert!(peak > 0, "the child's memory was read");
    assert!(peak < 100 * 1024, "peak RSS {peak} KiB is not below 100 MB");
}

/// An SSE answer whose reasoning and content carry terminal control sequences.
fn hostile_answer(sock: &mut std::net::TcpStream) {
    use std::io::Write;
    let chunk = |delta: serde_json::Value| {
        let v = serde_json::json!({"id": "gen-1", "model": "deepseek/deepseek-r1",
            "choices": [{"index": 0, "delta": delta, "finish_reason": null}]});
        format!("data: {v}\n\n")
    };
    let mut body = String::new();
    body.push_str(&chunk(
        serde_json::json!({"reasoning": "think\u{1b}]0;pwned\u{7}ing"}),
    ));
    // An OSC 52 clipboard write split across two chunks, a screen clear, a C1 CSI, a CR.
    body.push_str(&chunk(serde_json::json!({"content": "safe\u{1b}]52;c;"})));
    body.push_str(&chunk(
        serde_json::json!({"content": "ZWNobyBvd25lZA==\u{7} text\u{1b}[2J\u{9b}31m\r\tend\n"}),
    ));
    body.push_str(&format!(
        "data: {}\n\ndata: [DONE]\n\n",
        serde_json::json!({"id": "gen-1", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    ));
    let _ = sock.write_all(
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
}

/// Issue 15 §6: model output loses its control sequences (kept: `\n`, `\t`), unless `--raw`,
/// or `--json` into a pipe (a program reads it; JSON escapes them).
#[test]
fn model_output_is_terminal_safe_unless_raw() {
    let base = raw_server(32, hostile_answer);
    let w = World::new(1, MockConfig::default()).with("OPENROUTER_BASE_URL", &base);
    let ask = |extra: &[&str]| {
        let mut args = vec!["ask", "--model", "deepseek/deepseek-r1"];
        args.extend_from_slice(extra);
        args.push("hello");
        let out = w.run(&args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    let plain = ask(&[]);
    let stdout = String::from_utf8(plain.stdout).unwrap();
    let stderr = String::from_utf8(plain.stderr).unwrap();
    // The C1 CSI (U+009B) goes; what followed it is plain text then.
    assert!(stdout.starts_with("safe text31m\tend\n"), "{stdout:?}");
    assert!(
        !stdout.contains(['\u{1b}', '\u{9b}', '\r', '\u{7}']),
        "{stdout:?}"
    );
    assert!(stderr.contains("thinking"), "{stderr:?}");
    assert!(
        !stderr.contains("pwned") && !stderr.contains('\u{7}'),
        "{stderr:?}"
    );

    let raw = ask(&["--raw"]);
    let stdout = String::from_utf8(raw.stdout).unwrap();
    assert!(
        stdout.contains("\u{1b}]52;c;ZWNobyBvd25lZA==\u{7}"),
        "{stdout:?}"
    );

    let piped_json = json(&ask(&["--json"]));
    assert!(
        piped_json["text"].as_str().unwrap().contains("\u{1b}[2J"),
        "a program reading --json gets the answer as sent: {piped_json}"
    );

    // On a terminal (a pty from util-linux `script`), --json is filtered too.
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipping the pty half: `script` (util-linux) is not installed");
        return;
    }
    let line = format!(
        "{} ask --json --model deepseek/deepseek-r1 hello",
        bin().display()
    );
    let out = w
        .cmd(&[])
        .arg0_shell(&format!("script -qec '{line}' /dev/null"))
        .output()
        .unwrap();
    let tty = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{tty}");
    assert!(tty.contains("safe text"), "{tty:?}");
    assert!(
        !tty.contains('\u{9b}') && !tty.contains("\\u001b]52"),
        "{tty:?}"
    );
}

// --- Today's OpenRouter (docs/models.md): chains resolved from a catalogue snapshot, free-tier
// accounts, 402 by its source, /key reconciliation, retries priced in quota.

/// The catalogue snapshot the mock serves (its provenance is in the fixture folder's README).
fn today_2026() -> MockConfig {
    MockConfig::default()
        .with_catalog_file(snapshot())
        .expect("the snapshot loads")
}

/// Requests the mock answered with anything but 200, for every key.
fn refused(w: &World) -> u64 {
    w.mock
        .stats()
        .keys
        .values()
        .flat_map(|k| k.status.iter())
        .filter(|(code, _)| code.as_str() != "200")
        .map(|(_, n)| *n)
        .sum()
}

#[test]
fn a_free_tier_account_chats_with_a_free_reasoning_model_and_is_told_why() {
    let w = World::new(1, today_2026().with_no_credits());
    for run in 0..2 {
        let out = w.run(&["ask", "--json", "hi"]);
        assert!(out.status.success(), "run {run}: {}", stderr(&out));
        let doc = json(&out);
        let model = doc["model"].as_str().unwrap();
        assert!(model.ends_with(":free"), "a free model answered: {model}");
        assert!(
            !doc["reasoning"].as_str().unwrap().is_empty(),
            "reasoning apart"
        );
        assert_eq!(doc["requests"], 1);
        let notes = doc["notes"].to_string();
        assert!(
            notes.contains(
                "DeepSeek R1 is a paid model on OpenRouter and this account has no credits"
            ),
            "{notes}"
        );
    }
    assert_eq!(refused(&w), 0, "not a single refused request");
    let log = json(&w.run(&["log", "--json"]));
    assert_eq!(
        log.as_array().unwrap().len(),
        2,
        "the request log agrees: {log}"
    );
}

#[test]
fn a_paid_models_402_leaves_the_key_usable_for_free_models() {
    let w = World::new(1, today_2026());
    // The account bought credits once (so paid models are tried) but has none left now.
    w.mock.script(vec![keywheel_mock::ScriptedResponse::json(
        402,
        include_str!(
            "../../../keywheel-mock/fixtures/openrouter/errors/402-never-purchased-credits.json"
        ),
    )]);
    let out = w.run(&["ask", "--json", "hi"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc = json(&out);
    assert!(doc["model"].as_str().unwrap().ends_with(":free"), "{doc}");
    assert_eq!(
        doc["requests"], 2,
        "the refused paid request and the free answer"
    );
    let list = json(&w.run(&["keys", "list", "--json"]));
    assert_eq!(
        list[0]["status"], "ok",
        "the key is not marked out of credit"
    );
    let alerts = json(&w.run(&["alerts", "--json"]));
    assert!(alerts.to_string().contains("paid_refused"), "{alerts}");
    // The next run of the day does not try a paid model again.
    let before = refused(&w);
    let out = w.run(&["ask", "--json", "again"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out)["requests"], 1);
    assert_eq!(refused(&w), before, "0 refused requests after the first");
}

#[test]
fn the_in_flight_402_waits_for_retry_after_and_succeeds() {
    let faults = keywheel_mock::Faults {
        in_flight_402: 1,
        ..Default::default()
    };
    let w = World::new(1, today_2026().with_faults(faults));
    let out = w.run(&["ask", "--json", "hi"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc = json(&out);
    assert_eq!(
        doc["model"], "deepseek/deepseek-r1-0528",
        "R1 for an account with credits"
    );
    assert_eq!(doc["requests"], 2, "the paced request and the answer");
    assert!(stderr(&out).contains("retrying"), "{}", stderr(&out));
    let list = json(&w.run(&["keys", "list", "--json"]));
    assert_eq!(list[0]["status"], "ok");
}

#[test]
fn key_reconciliation_raises_the_count_and_sets_a_tier_two_cap() {
    let k = key(1);
    let account = key_id(&k);
    let w = World::new(1, today_2026().with_account_used(account.clone(), 30));
    let out = w.run(&["ask", "--json", "hi"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let list = json(&w.run(&["keys", "list", "--json"]));
    assert_eq!(list[0]["today"], 1, "this ledger's own count");
    assert_eq!(
        list[0]["account_today"], 31,
        "OpenRouter counted 30 before this run: the local count is raised"
    );
    assert_eq!(list[0]["daily_cap"], 50);

    let w = World::new(1, today_2026().with_tier2_account(account));
    let out = w.run(&["keys", "check", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let list = json(&w.run(&["keys", "list", "--json"]));
    assert_eq!(list[0]["daily_cap"], 1000, "a tier-2 account: {list}");
    assert_eq!(list[0]["account_daily_cap"], 1000);
    assert_eq!(
        w.mock.stats().total_requests,
        0,
        "reconciling spends no quota"
    );
}

#[test]
fn a_pinned_unknown_model_exits_2_with_suggestions_and_spends_nothing() {
    let w = World::new(1, today_2026());
    // R1 has no free variant any more: the id people remember from 2025 is refused locally.
    let out = w.run(&["ask", "--model", "deepseek/deepseek-r1:free", "hi"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("deepseek/deepseek-r1:free is not a model OpenRouter offers"),
        "{err}"
    );
    assert!(
        err.contains("the closest are deepseek/deepseek-r1,"),
        "the closest ids are suggested: {err}"
    );
    assert_eq!(w.mock.stats().total_requests, 0);
    let usage = json(&w.run(&["usage", "--json", "--days", "1"]));
    assert!(
        usage["usage"].as_array().unwrap().is_empty(),
        "nothing counted: {usage}"
    );
}

#[test]
fn a_persistent_stream_error_costs_at_most_two_requests_per_model() {
    let first = "nvidia/nemotron-3-super-120b-a12b:free";
    let faults = keywheel_mock::Faults {
        error_in_200_models: vec![first.into()],
        ..Default::default()
    };
    let w = World::new(1, today_2026().with_no_credits().with_faults(faults));
    let chain = json(&w.run(&["models", "--chat", "--json"]));
    assert_eq!(
        chain["models"][0], first,
        "the chain this test relies on: {chain}"
    );
    let out = w.run(&["ask", "--json", "hi"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc = json(&out);
    assert_ne!(doc["model"], first, "the next model answered");
    assert_eq!(doc["requests"], 3, "2 on the failing model, 1 on the next");
    let sent_to_first = w
        .mock
        .requests()
        .iter()
        .filter(|r| r.model.as_deref() == Some(first))
        .count();
    assert_eq!(sent_to_first, 2);
}

#[test]
fn keys_of_one_openrouter_account_are_grouped_and_the_person_is_told() {
    let (a, b) = (key(1), key(2));
    let cfg = today_2026()
        .with_key(a.clone(), "team")
        .with_key(b.clone(), "team");
    let w = World::new(2, cfg);
    let out = w.run(&["keys", "check"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("belong to one OpenRouter account"), "{text}");
    let list = json(&w.run(&["keys", "list", "--json"]));
    let accounts: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["account"].as_str().unwrap())
        .collect();
    assert_eq!(accounts.len(), 2);
    assert_eq!(accounts[0], accounts[1], "one account now: {list}");
    assert_eq!(
        w.mock.stats().total_requests,
        0,
        "found without spending anything"
    );
}

#[test]
fn a_thread_sends_its_first_turn_as_history_in_the_second_request() {
    let w = World::new(1, MockConfig::default());
    let first = w.run(&["ask", "--json", "--thread", "work", "What is a monad?"]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(
        stderr(&first).contains("a new thread `work`"),
        "{}",
        stderr(&first)
    );
    let one = json(&first);
    assert_eq!(one["thread"], "work");
    let second = w.run(&["ask", "--json", "--thread", "work", "Show one in Rust"]);
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(!stderr(&second).contains("a new thread"), "continued");

    let sent = w.mock.requests();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(!sent[0].text.contains("Show one in Rust"));
    let answer = one["text"].as_str().unwrap().trim();
    assert!(!answer.is_empty());
    for part in ["What is a monad?", answer, "Show one in Rust"] {
        assert!(
            sent[1].text.contains(part),
            "the second request carries {part:?}: {}",
            sent[1].text
        );
    }
    let reasoning = one["reasoning"].as_str().unwrap_or_default().trim();
    if !reasoning.is_empty() {
        assert!(!sent[1].text.contains(reasoning), "no reasoning in history");
    }

    // The app's thread file: both turns, titled by the first question.
    let file = w.data_dir().join("chats").join("work.json");
    let thread: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    assert_eq!(thread["title"], "What is a monad?");
    let roles: Vec<&str> = thread["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "assistant", "user", "assistant"]);
}

#[test]
fn a_bad_thread_id_is_a_clear_error_with_exit_2_and_no_request() {
    let w = World::new(1, MockConfig::default());
    let out = w.run(&["ask", "--thread", "../etc/passwd", "hi"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("`../etc/passwd` is not a chat id"),
        "{}",
        stderr(&out)
    );
    let chats = w.data_dir().join("chats");
    std::fs::create_dir_all(&chats).unwrap();
    std::fs::write(chats.join("broken.json"), "{").unwrap();
    let out = w.run(&["ask", "--thread", "broken", "hi"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("is damaged"), "{}", stderr(&out));
    assert!(w.mock.requests().is_empty(), "nothing was sent");
    assert_eq!(w.mock.stats().total_requests, 0);
}
