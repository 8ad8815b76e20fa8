//! Monitoring end to end: a canary key never appears anywhere, aggregates agree with the
//! request log and with what keywheel-mock counted, alerts fire once per key per UTC day
//! across processes.

use std::process::{Command, Output, Stdio};

use keywheel_mock::{MockConfig, ScriptedResponse};
use keywheel_testkit::files::files_under;
use keywheel_testkit::keys::{fake_key as key, key_material_in};
use keywheel_testkit::output::json;
use keywheel_testkit::world::World;
use serde_json::Value;

/// A key that exists only in this test.
pub(crate) const CANARY: &str =
    "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"; // fake test key (a canary)

/// A world on these keys whose commands log at debug level (every log line is searched).
pub(crate) fn world(keys: &[String]) -> World {
    World::with_keys(keys.to_vec(), MockConfig::default()).with("KEYWHEEL_LOG", "debug")
}

/// One HTTP/1.1 POST over a plain socket; the whole answer (status line, headers, body).
fn http_post(addr: &str, path: &str, bearer: &str, body: &str) -> String {
    keywheel_testkit::http::raw(addr, "POST", path, Some(bearer), body).1
}

/// The first run of the canary's body in `haystack`.
fn leaks(haystack: &[u8]) -> Option<String> {
    key_material_in(haystack, CANARY)
}

#[test]
fn the_canary_key_never_appears_in_outputs_logs_or_the_ledger() {
    canary_everywhere(&world(&[CANARY.to_string()]));
}

/// Every CLI path of the canary test in `w` (a world on the canary key), checked for the key;
/// the outputs, for more checks (team.rs runs it on a team ledger).
pub(crate) fn canary_everywhere(w: &World) -> Vec<(String, Output)> {
    let mut outputs: Vec<(String, Output)> = Vec::new();
    let mut run =
        |name: &str, cmd: &mut Command| outputs.push((name.to_string(), cmd.output().unwrap()));

    run("ask ok", &mut w.cmd(&["ask", "--json", "hello"]));
    run("ask text", &mut w.cmd(&["ask", "hello again"]));
    // A server that accepts and never answers: the first-byte timeout fires.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("http://{}/api/v1", silent.local_addr().unwrap());
    let _hold = std::thread::spawn(move || {
        let held: Vec<_> = silent.incoming().take(16).collect();
        std::thread::sleep(std::time::Duration::from_secs(30));
        drop(held);
    });
    run(
        "ask timeout",
        w.cmd(&["ask", "--json", "x"])
            .env("OPENROUTER_BASE_URL", &silent_url)
            .env("KEYWHEEL_TIMEOUT_SECS", "1")
            .env("KEYWHEEL_MAX_WAIT_SECS", "1"),
    );

    w.mock.script(vec![ScriptedResponse::json(
        401,
        r#"{"error":{"message":"User not found.","code":401}}"#,
    )]);
    run("ask 401", &mut w.cmd(&["ask", "--json", "x"]));
    let _ = w.run(&["keys", "check"]); // clears the invalid mark
    w.mock.script(vec![ScriptedResponse::json(
        402,
        r#"{"error":{"message":"Insufficient credits","code":402}}"#,
    )]);
    run("ask 402", &mut w.cmd(&["ask", "--json", "x"]));
    run("keys check", &mut w.cmd(&["keys", "check", "--json"]));
    w.mock.script(vec![
        ScriptedResponse::json(
            429,
            r#"{"error":{"message":"Rate limit exceeded: free-models-per-day. ","code":429}}"#,
        )
        .with_header(
            "X-RateLimit-Reset",
            (keywheel_core::clock::system_now() + chrono::Duration::hours(1))
                .timestamp_millis()
                .to_string(),
        ),
    ]);
    run("ask 429", &mut w.cmd(&["ask", "--json", "x"]));
    run(
        "ask unreachable",
        w.cmd(&["ask", "--json", "x"])
            .env("OPENROUTER_BASE_URL", "http://127.0.0.1:9/api/v1")
            .env("KEYWHEEL_MAX_WAIT_SECS", "1"),
    );
    run("ask bad input", &mut w.cmd(&["ask", "--json", "   "]));
    // Today's OpenRouter (docs/models.md): a paid model refused for credit, an unknown id,
    // the in-flight budget, a pinned id the catalogue lacks, the resolved chains.
    w.mock.script(vec![ScriptedResponse::json(
        402,
        r#"{"error":{"message":"Insufficient credits. This account never purchased credits.","code":402},"user_id":"user_canary"}"#,
    )]);
    run("ask paid 402", &mut w.cmd(&["ask", "--json", "x"]));
    w.mock.script(vec![ScriptedResponse::json(
        400,
        r#"{"error":{"message":"acme/fake-1.0 is not a valid model ID","code":400},"user_id":"user_canary"}"#,
    )]);
    run("ask unknown id", &mut w.cmd(&["ask", "--json", "x"]));
    w.mock.script(vec![
        ScriptedResponse::json(
            402,
            r#"{"error":{"code":402,"message":"in flight","metadata":{"reason":"in_flight_budget_exhausted","limit_source":"openrouter_in_flight_budget"}}}"#,
        )
        .with_header("Retry-After", "1"),
    ]);
    run("ask in-flight 402", &mut w.cmd(&["ask", "--json", "x"]));
    run(
        "ask pinned unknown",
        &mut w.cmd(&["ask", "--json", "--model", "no/such-model", "x"]),
    );
    // OCR error paths: a damaged PDF and a file that is no image (both refused, nothing sent).
    let bad_pdf = w.dir.path().join("bad.pdf");
    std::fs::write(&bad_pdf, b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage").unwrap();
    let not_image = w.dir.path().join("note.png");
    std::fs::write(&not_image, format!("not an image; {CANARY}")).unwrap();
    run(
        "ocr bad pdf",
        &mut w.cmd(&["ocr", "--json", bad_pdf.to_str().unwrap()]),
    );
    run(
        "ocr not an image",
        &mut w.cmd(&["ocr", "--json", not_image.to_str().unwrap()]),
    );
    run("models chat", &mut w.cmd(&["models", "--chat", "--json"]));
    run("models vision", &mut w.cmd(&["models", "--vision"]));
    // The gateway: its token, one answer through it, a key sent as a bearer (refused).
    let token_out = w.run(&["serve", "--token"]);
    assert_eq!(
        leaks(&token_out.stdout),
        None,
        "serve --token leaked the key"
    );
    let token = String::from_utf8_lossy(&token_out.stdout)
        .trim()
        .to_string();
    let mut serve = w
        .cmd(&["serve", "--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(serve.stdout.as_mut().unwrap()),
        &mut first,
    )
    .unwrap();
    let addr = first
        .trim()
        .trim_start_matches("listening on http://")
        .to_string();
    let body = r#"{"model":"keywheel/chat","messages":[{"role":"user","content":"hi"}]}"#;
    let answered = http_post(&addr, "/v1/chat/completions", &token, body);
    let refused = http_post(&addr, "/v1/chat/completions", CANARY, body);
    let _ = Command::new("kill").arg(serve.id().to_string()).status();
    let served = serve.wait_with_output().unwrap();
    // The account is spent for the hour by now (the per-day 429 above): a 429 in OpenAI's shape.
    assert!(
        answered.starts_with("HTTP/1.1 200") || answered.starts_with("HTTP/1.1 429"),
        "the local token opened the gateway: {answered}"
    );
    assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");
    assert_eq!(
        leaks(answered.as_bytes()),
        None,
        "a gateway answer leaked the key"
    );
    assert_eq!(
        leaks(refused.as_bytes()),
        None,
        "the gateway's refusal echoed the key"
    );
    assert_eq!(leaks(&served.stdout), None, "serve's stdout leaked the key");
    assert_eq!(leaks(&served.stderr), None, "serve's stderr leaked the key");
    run(
        "keys add bad",
        w.cmd(&["keys", "add", "--json"]).stdin(Stdio::piped()),
    );
    run("keys list", &mut w.cmd(&["keys", "list", "--json"]));
    run("status", &mut w.cmd(&["status", "--json"]));
    run("usage", &mut w.cmd(&["usage", "--json"]));
    run("usage text", &mut w.cmd(&["usage"]));
    run("log", &mut w.cmd(&["log", "--json"]));
    run("alerts", &mut w.cmd(&["alerts"]));
    run(
        "panic",
        w.cmd(&["status"])
            .env("KEYWHEEL_DEBUG_PANIC", format!("key was {CANARY}")),
    );

    let timeout = &outputs.iter().find(|(n, _)| n == "ask timeout").unwrap().1;
    assert_eq!(
        timeout.status.code(),
        Some(5),
        "a timeout ends as an upstream error"
    );
    let panic = &outputs.last().unwrap().1;
    assert!(!panic.status.success(), "the forced panic happened");
    assert!(
        String::from_utf8_lossy(&panic.stderr).contains("internal error"),
        "{}",
        String::from_utf8_lossy(&panic.stderr)
    );
    for (name, o) in &outputs {
        assert_eq!(leaks(&o.stdout), None, "{name}: stdout leaked the key");
        assert_eq!(leaks(&o.stderr), None, "{name}: stderr leaked the key");
    }
    let files = files_under(&w.data_dir());
    assert!(
        files
            .iter()
            .any(|p| p.extension().is_some_and(|e| e == "jsonl")),
        "logs were written: {files:?}"
    );
    assert!(files.iter().any(|p| p.to_string_lossy().ends_with("-wal")) || files.len() > 1);
    for f in files {
        // A file can go between the listing and the read (a checkpoint's -shm): gone is clean.
        let bytes = match std::fs::read(&f) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => panic!("{}: {e}", f.display()),
        };
        assert_eq!(leaks(&bytes), None, "{} contains the key", f.display());
    }
    let logs: String = files_under(&w.data_dir().join("logs"))
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    assert!(
        logs.contains("forced panic for tests"),
        "the panic was logged (redacted)"
    );
    assert!(
        logs.contains("sk-or-[REDACTED]"),
        "the key in the panic message was masked"
    );
    outputs
}

#[test]
fn aggregates_agree_with_the_request_log_and_the_mock_across_processes() {
    let w = world(&[key(1), key(2)]);
    let children: Vec<_> = (0..4)
        .map(|i| {
            let mut c = Command::new("sh");
            let bin = env!("CARGO_BIN_EXE_keywheel");
            c.arg("-c").arg(format!(
                "for j in 1 2 3 4 5; do {bin} ask --json \"p{i} $j\" >/dev/null 2>&1; done"
            ));
            c.env_clear();
            for (k, v) in w.cmd(&[]).get_envs() {
                if let Some(v) = v {
                    c.env(k, v);
                }
            }
            c.spawn().unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let u = json(&w.run(&["usage", "--json", "--days", "1"]));
    let log = json(&w.run(&["log", "--json", "--tail", "1000"]));
    let stats = w.mock.stats();
    let mut total = 0;
    for k in [key(1), key(2)] {
        let id = keywheel_mock::key_id(&k);
        let from_log = log
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["key_id"] == id.as_str() && r["cached"] == false)
            .count();
        let agg = u["aggregates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["subject"] == id.as_str())
            .map_or(0, |a| a["requests"].as_u64().unwrap());
        let daily = u["usage"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["key_id"] == id.as_str())
            .map_or(0, |r| r["requests"].as_u64().unwrap());
        let mock = stats.keys.get(&id).map_or(0, |s| s.requests);
        assert_eq!(
            agg as usize, from_log,
            "aggregates equal the request log for {id}"
        );
        assert_eq!(daily, agg, "the day counter equals the aggregate for {id}");
        assert_eq!(
            daily, mock,
            "keywheel counted what the mock counted for {id}"
        );
        total += daily;
    }
    assert_eq!(total, 20);
    // Every row says which face sent it, in the JSON and in the table.
    for r in log.as_array().unwrap() {
        assert_eq!(
            (&r["via"], &r["session"]),
            (&"cli".into(), &Value::Null),
            "{r}"
        );
    }
    let table = String::from_utf8(w.run(&["log", "--tail", "3"]).stdout).unwrap();
    let mut lines = table.lines();
    assert!(lines.next().unwrap().contains(" VIA "), "{table}");
    assert!(lines.all(|l| l.contains(" cli ")), "{table}");
}

#[test]
fn an_alert_fires_once_per_key_per_day_even_when_eight_processes_cross_together() {
    let mut w = world(&[key(3)]);
    w.env.push(("KEYWHEEL_ROTATE_AFTER".into(), "0".into()));
    w.env
        .push(("KEYWHEEL_FAKE_NOW".into(), "2026-11-26T10:00:00Z".into()));
    w.env.push(("KEYWHEEL_MINUTE_CAP".into(), "100".into()));
    let outs: Vec<Output> = (0..8)
        .map(|i| {
            w.cmd(&["ask", &format!("q{i}")])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    assert!(outs.iter().all(|o| o.status.success()));
    let shown = outs
        .iter()
        .filter(|o| String::from_utf8_lossy(&o.stderr).contains("alert: key"))
        .count();
    assert_eq!(shown, 1, "exactly one process showed the threshold alert");
    let alerts = json(&w.run(&["alerts", "--json"]));
    let threshold: Vec<_> = alerts
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["rule"] == "rotation_threshold")
        .collect();
    assert_eq!(threshold.len(), 1, "{alerts}");

    // The next UTC day re-arms it.
    w.env.retain(|(k, _)| k != "KEYWHEEL_FAKE_NOW");
    w.env
        .push(("KEYWHEEL_FAKE_NOW".into(), "2026-11-27T00:00:05Z".into()));
    let o = w.run(&["ask", "next day"]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("alert: key"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let alerts = json(&w.run(&["alerts", "--json", "--days", "2"]));
    assert_eq!(
        alerts
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["rule"] == "rotation_threshold")
            .count(),
        2
    );
}
