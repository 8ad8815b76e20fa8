//! The official OpenAI SDKs, unmodified, against `keywheel serve`: Python `openai` (plain,
//! streaming, an image as a data URL, 400 and 429 with Retry-After, its own retries costing
//! nothing) and npm `openai` (plain, streaming). Missing interpreters or packages fail the
//! test with the command that installs them.

use std::path::PathBuf;
use std::process::Command;

use keywheel_mock::MockConfig;
use keywheel_testkit::keys;

use crate::common::{World, repo};

pub fn python() -> PathBuf {
    let py = repo().join(".tools/venv/bin/python");
    assert!(
        py.is_file(),
        "{} is missing; create the venv with `bash scripts/setup-python.sh` (make setup runs it)",
        py.display()
    );
    py
}

fn node_dir() -> PathBuf {
    let dir = repo().join("crates/keywheel-gateway/tests/js");
    assert!(
        dir.join("node_modules/openai").is_dir(),
        "the npm `openai` package is missing; install it with `npm ci --prefix crates/keywheel-gateway/tests/js` (make setup runs it)"
    );
    dir
}

/// Key material must never appear in what the gateway printed, logged or stored.
pub fn assert_no_key_material(w: &World, texts: &[&str]) {
    let files = keywheel_testkit::files::contents_under(&w.data_dir());
    for k in &w.keys {
        for t in texts {
            keys::assert_no_key_material(t.as_bytes(), k, "output");
        }
        for (path, bytes) in &files {
            keys::assert_no_key_material(bytes, k, &path.display().to_string());
        }
    }
}

#[test]
fn the_python_openai_sdk_gets_answers_streams_images_and_openai_errors() {
    // 2 keys x 2 a day: exactly 4 requests of quota for the script.
    let w = World::new(2, 2, MockConfig::default());
    let served = w.serve();
    let out = Command::new(python())
        .arg(repo().join("crates/keywheel-gateway/tests/python/sdk_checks.py"))
        .env("OPENAI_BASE_URL", served.base())
        .env("OPENAI_API_KEY", &served.token)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    for check in [
        "bad_request_400",
        "plain",
        "streaming",
        "image_data_url",
        "rate_limit_429",
        "retries_refused_locally",
    ] {
        assert!(stdout.contains(&format!("ok {check}")), "{check}: {stdout}");
    }
    let stats = w.mock.stats();
    let served_upstream: u64 = stats.keys.values().map(|k| k.served).sum();
    assert_eq!(
        served_upstream, 4,
        "the 400 and the SDK's 429 retries cost nothing: {stats:?}"
    );
    assert!(stats.keys.values().all(|k| k.rate_limited_429 == 0));
    let (status, sout, serr) = served.terminate();
    assert!(status.success(), "{serr}");
    assert!(w.inconsistencies().is_empty());
    assert_no_key_material(&w, &[&stdout, &stderr, &sout, &serr]);
}

#[test]
fn the_npm_openai_package_gets_answers_and_streams() {
    let w = World::new(1, 50, MockConfig::default());
    let served = w.serve();
    let dir = node_dir();
    let out = Command::new("node")
        .arg(dir.join("sdk_checks.mjs"))
        .current_dir(&dir)
        .env("OPENAI_BASE_URL", served.base())
        .env("OPENAI_API_KEY", &served.token)
        .output()
        .expect("node runs (Node.js 20+ is needed; make setup checks it)");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("ok plain"), "{stdout}");
    assert!(stdout.contains("ok streaming"), "{stdout}");
    let (status, sout, serr) = served.terminate();
    assert!(status.success(), "{serr}");
    assert!(w.inconsistencies().is_empty());
    assert_no_key_material(&w, &[&stdout, &stderr, &sout, &serr]);
}
