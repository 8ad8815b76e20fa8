//! The four Python examples (`examples/python/*.py`), run as a person would: the official
//! `openai` package against `keywheel serve` over keywheel-mock, with small caps.

use std::process::{Command, Output};

use keywheel_mock::MockConfig;

use crate::common::{Served, World, repo};
use crate::sdk::python;

fn run(served: &Served, example: &str, args: &[&str]) -> (String, String) {
    let out: Output = Command::new(python())
        .arg(repo().join("examples/python").join(example))
        .args(args)
        .env("OPENAI_BASE_URL", served.base())
        .env("OPENAI_API_KEY", &served.token)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        out.status.success(),
        "{example}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    (stdout, stderr)
}

#[test]
fn the_basic_text_and_image_examples_run() {
    let w = World::new(2, 50, MockConfig::default());
    let served = w.serve();
    let (out, _) = run(&served, "basic_usage.py", &[]);
    assert!(out.contains("answer: You asked:"), "{out}");
    assert!(out.contains("served by key "), "{out}");
    assert!(out.contains("1/50 today"), "{out}");

    let (out, _) = run(&served, "text_processing.py", &[]);
    assert!(out.contains("┊ "), "reasoning is shown apart: {out}");
    assert!(out.contains("You asked:"), "{out}");
    assert!(out.contains("reasoning) · cost"), "{out}");

    let (out, err) = run(&served, "image_processing.py", &[]);
    assert!(err.contains("two images made here"), "{err}");
    assert!(out.contains("## made-here-1.png (key "), "{out}");
    assert!(out.contains("## made-here-2.png (key "), "{out}");
    assert!(out.contains("from the cache, no quota spent"), "{out}");
    assert!(
        out.contains("second reading came from the cache: True"),
        "{out}"
    );
    let (status, _, serr) = served.terminate();
    assert!(status.success(), "{serr}");
    // 1 + 1 + 2 requests were sent; the cache hit was not.
    let served_upstream: u64 = w.mock.stats().keys.values().map(|k| k.served).sum();
    assert_eq!(served_upstream, 4);
    assert!(w.inconsistencies().is_empty());
}

#[test]
fn the_concurrent_example_shows_keys_rotation_and_caps_holding() {
    let mut w = World::new(3, 8, MockConfig::default());
    w.rotate_after = 3;
    let served = w.serve();
    let (out, _) = run(&served, "concurrent_usage.py", &["4", "8"]);
    assert!(
        out.contains("4 workers x 8 requests = 32 asked; 24 left"),
        "{out}"
    );
    assert!(out.contains("answered 24, refused 8 (asked 32)"), "{out}");
    assert!(out.contains("rotated the pool"), "{out}");
    assert!(out.contains("adopted the current key"), "{out}");
    assert!(
        out.contains("caps held: 24 answered <= 24 allowed"),
        "{out}"
    );
    assert!(out.contains("spent for today"), "{out}");
    let (status, _, serr) = served.terminate();
    assert!(status.success(), "{serr}");
    for k in &w.keys {
        let s = &w.mock.stats().keys[&keywheel_mock::key_id(k)];
        assert_eq!((s.served, s.rate_limited_429), (8, 0), "{s:?}");
    }
    assert!(w.inconsistencies().is_empty());
}
