//! The window's life: the UI reports its first paint (logged; printed for `make bench-app`).
//!
//! With `KEYWHEEL_BENCH_READY` set, the first paint is printed on stdout for
//! `scripts/bench-app.py`: `KEYWHEEL_READY <unix ms>`, after one `KEYWHEEL_MARKS` line with
//! where the time went — the main process's own marks ([`mark`]: `main`, `window`, `state`,
//! `setup`) and the page's (`page.*`: what `performance` saw, relative to the page's time
//! origin, plus `page.origin` itself), all as unix ms so the script can place them against the
//! spawn time. The empty-window baseline reports through the same function.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

static STARTED: OnceLock<Instant> = OnceLock::new();
static MARKS: Mutex<Vec<(&'static str, i64)>> = Mutex::new(Vec::new());

/// Marks the process start (called first thing in `run`).
pub fn mark_start() {
    STARTED.get_or_init(Instant::now);
    mark("main");
}

/// Notes when the main process reached `name` (wall clock, unix ms), for the bench's timeline.
pub fn mark(name: &'static str) {
    if bench() {
        let now = keywheel_core::clock::system_now().timestamp_millis();
        if let Ok(mut marks) = MARKS.lock() {
            marks.push((name, now));
        }
    }
}

fn bench() -> bool {
    std::env::var_os("KEYWHEEL_BENCH_READY").is_some()
}

/// Called by the UI after its first frame, with the page's own timings (`performance`, ms
/// since its time origin; `origin` is that origin as unix ms). With `KEYWHEEL_BENCH_READY`
/// set it prints `KEYWHEEL_READY <unix ms>` and the marks for the benchmark script.
#[tauri::command]
pub fn app_ready(marks: Option<BTreeMap<String, f64>>) {
    let since_start = STARTED.get().map(|t| t.elapsed().as_millis()).unwrap_or(0);
    tracing::info!(first_paint_ms = since_start as u64, "first paint");
    report_ready(marks.unwrap_or_default());
}

/// Prints the first paint and the marks (only with `KEYWHEEL_BENCH_READY`); shared with the
/// empty-window baseline.
pub fn report_ready(page: BTreeMap<String, f64>) {
    if !bench() {
        return;
    }
    let now = keywheel_core::clock::system_now().timestamp_millis();
    let origin = page.get("origin").copied();
    let mut line = String::from("KEYWHEEL_MARKS");
    if let Ok(marks) = MARKS.lock() {
        for (name, at) in marks.iter() {
            line.push_str(&format!(" {name}={at}"));
        }
    }
    for (name, at) in &page {
        let unix = match (name.as_str(), origin) {
            ("origin", _) => *at,
            (_, Some(o)) => o + at,
            (_, None) => continue,
        };
        // Only plain names reach stdout (the page is ours, but stay strict).
        if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            line.push_str(&format!(" page.{name}={unix:.0}"));
        }
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = writeln!(out, "KEYWHEEL_READY {now}");
    let _ = out.flush();
}
