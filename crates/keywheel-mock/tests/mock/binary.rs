//! The `keywheel-mock` binary: first stdout line, keys from env or file, loopback only.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use keywheel_testkit::http::raw as http;

use crate::key;

const BIN: &str = env!("CARGO_BIN_EXE_keywheel-mock");

/// Kills the child when the test ends, whatever happens.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the binary and returns it with the address from its first line.
fn spawn(cmd: &mut Command) -> (Running, SocketAddr) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .stdin(Stdio::null())
        .spawn()
        .expect("binary starts");
    let stdout = child.stdout.take().unwrap();
    let running = Running(child);
    let mut first = String::new();
    BufReader::new(stdout).read_line(&mut first).unwrap();
    let first = first.trim_end_matches('\n');
    let port = first
        .strip_prefix("listening on http://127.0.0.1:")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"));
    let port: u16 = port.parse().expect("port is a number");
    assert_ne!(port, 0);
    (running, SocketAddr::from(([127, 0, 0, 1], port)))
}

const CHAT: &str =
    r#"{"model":"deepseek/deepseek-r1","messages":[{"role":"user","content":"hi"}]}"#;

#[test]
fn prints_listening_line_first_and_serves_keys_from_env() {
    let (_child, addr) = spawn(
        Command::new(BIN)
            .args([
                "--addr",
                "127.0.0.1:0",
                "--key-env",
                "KW_MOCK_TEST_KEYS",
                "--daily-limit",
                "1",
            ])
            .env("KW_MOCK_TEST_KEYS", format!("{},\n{}", key(1), key(2))),
    );
    let (status, body) = http(addr, "GET", "/api/v1/models", None, "");
    assert_eq!(status, 200);
    assert!(body.contains("meta-llama/llama-3.2-90b-vision-instruct"));

    assert_eq!(
        http(
            addr,
            "POST",
            "/api/v1/chat/completions",
            Some(&key(1)),
            CHAT
        )
        .0,
        200
    );
    let (status, body) = http(
        addr,
        "POST",
        "/api/v1/chat/completions",
        Some(&key(1)),
        CHAT,
    );
    assert_eq!(status, 429);
    assert!(body.contains("free-models-per-day"));
    // key 2 is its own account; key 3 is unknown.
    assert_eq!(
        http(
            addr,
            "POST",
            "/api/v1/chat/completions",
            Some(&key(2)),
            CHAT
        )
        .0,
        200
    );
    assert_eq!(
        http(
            addr,
            "POST",
            "/api/v1/chat/completions",
            Some(&key(3)),
            CHAT
        )
        .0,
        401
    );
}

#[test]
fn keys_file_accounts_flags_and_fault_flags() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keys.txt");
    std::fs::write(
        &file,
        format!(
            "# test keys\n{},shared\n{},shared\n{},other,no-credit\n",
            key(1),
            key(2),
            key(3)
        ),
    )
    .unwrap();
    let (_child, addr) = spawn(Command::new(BIN).args([
        "--addr",
        "127.0.0.1:0",
        "--keys-file",
        file.to_str().unwrap(),
        "--daily-limit",
        "1",
        "--unavailable-model",
        "deepseek/deepseek-r1",
    ]));
    let fallback = r#"{"model":"deepseek/deepseek-r1","models":["deepseek/deepseek-r1-0528"],"messages":[{"role":"user","content":"hi"}]}"#;
    let (status, body) = http(
        addr,
        "POST",
        "/api/v1/chat/completions",
        Some(&key(1)),
        fallback,
    );
    assert_eq!(status, 200);
    assert!(body.contains("\"model\":\"deepseek/deepseek-r1-0528\""));
    // Same account: quota shared.
    assert_eq!(
        http(
            addr,
            "POST",
            "/api/v1/chat/completions",
            Some(&key(2)),
            fallback
        )
        .0,
        429
    );
    assert_eq!(
        http(
            addr,
            "POST",
            "/api/v1/chat/completions",
            Some(&key(3)),
            fallback
        )
        .0,
        402
    );
    let (status, stats) = http(addr, "GET", "/__mock/stats", None, "");
    assert_eq!(status, 200);
    assert!(!stats.contains(&key(1)));

    let (_child2, addr2) = spawn(Command::new(BIN).args(["--addr", "127.0.0.1:0", "--html-body"]));
    let (status, body) = http(
        addr2,
        "POST",
        "/api/v1/chat/completions",
        Some(&key(1)),
        CHAT,
    );
    assert_eq!(status, 524);
    assert!(body.contains("<html"));
}

#[test]
fn refuses_non_loopback_addresses() {
    let out = Command::new(BIN)
        .args(["--addr", "0.0.0.0:0"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "no listening line");
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback"));
}

#[test]
fn catalogue_no_credits_and_402_flags() {
    let catalog = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/openrouter/models-2026-08.json"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keys.txt");
    std::fs::write(&file, format!("{},poor\n{},rich\n", key(1), key(2))).unwrap();
    let (_child, addr) = spawn(Command::new(BIN).args([
        "--addr",
        "127.0.0.1:0",
        "--keys-file",
        file.to_str().unwrap(),
        "--catalog",
        catalog,
        "--no-credits",
        "--tier2-account",
        "rich",
        "--account-used",
        "poor=5",
        "--in-flight-402",
        "1",
        "--unknown-model-shape",
        "availability",
    ]));
    let (status, body) = http(addr, "GET", "/api/v1/models", None, "");
    assert_eq!(status, 200);
    assert!(body.ends_with(&std::fs::read_to_string(catalog).unwrap()));
    let chat = |model: &str| {
        format!(r#"{{"model":"{model}","messages":[{{"role":"user","content":"hi"}}]}}"#)
    };
    let post = |k: &str, model: &str| {
        http(
            addr,
            "POST",
            "/api/v1/chat/completions",
            Some(k),
            &chat(model),
        )
    };
    let (status, body) = post(&key(1), "meta-llama/llama-3.2-90b-vision-instruct");
    assert_eq!(status, 400);
    assert!(body.contains("model_not_found"));
    let (status, body) = post(&key(1), "deepseek/deepseek-r1-0528");
    assert_eq!(status, 402);
    assert!(body.contains("never purchased credits"));
    assert_eq!(post(&key(1), "google/gemma-4-31b-it:free").0, 200);
    // The tier-2 account has credits; its first paid request meets the in-flight 402.
    let (status, body) = post(&key(2), "deepseek/deepseek-r1-0528");
    assert_eq!(status, 402);
    assert!(body.to_ascii_lowercase().contains("retry-after: 1"));
    assert_eq!(post(&key(2), "deepseek/deepseek-r1-0528").0, 200);
    let (_, body) = http(addr, "GET", "/api/v1/key", Some(&key(1)), "");
    assert!(
        body.contains(r#""free_model_daily_requests":{"limit":50,"remaining":44,"used":6}"#),
        "{body}"
    );
    let (_, body) = http(addr, "GET", "/api/v1/key", Some(&key(2)), "");
    assert!(body.contains(r#""limit":1000"#) && body.contains(r#""is_free_tier":false"#));
}

#[test]
fn help_documents_the_2026_flags() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--catalog",
        "--strict-models",
        "--unknown-model-shape",
        "--no-credits",
        "--tier2-account",
        "--account-used",
        "--error-in-200-model",
        "--in-flight-402",
        "--weight-402",
        "--key-limit-402",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help");
    }
}

#[test]
fn a_missing_catalogue_is_a_clear_error() {
    let out = Command::new(BIN)
        .args(["--catalog", "/nonexistent/models.json"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read catalogue"));
}
