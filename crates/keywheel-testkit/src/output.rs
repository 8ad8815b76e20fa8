//! What a child process printed: as text, as one JSON document, as JSON lines. A parse
//! failure panics with both streams, so the test says what the program said.

use std::process::Output;

use serde_json::Value;

/// Standard output as text (lossy UTF-8).
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Standard error as text (lossy UTF-8).
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The output of a run that must have succeeded.
///
/// # Panics
/// When it exited non-zero; the message holds its stderr.
#[track_caller]
pub fn succeeded(out: Output) -> Output {
    assert!(out.status.success(), "{}", stderr(&out));
    out
}

/// Standard output as one JSON document.
///
/// # Panics
/// When it is not JSON; the message holds stdout and stderr.
pub fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            stdout(out),
            stderr(out)
        )
    })
}

/// Each non-empty line of standard output as JSON (`--json` streams one document a line).
///
/// # Panics
/// When a line is not JSON; the message holds the line and stderr.
pub fn json_lines(out: &Output) -> Vec<Value> {
    stdout(out)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {l}\nstderr: {}", stderr(out)))
        })
        .collect()
}
