//! The window's life: the UI reports its first paint (logged; printed for `make bench-app`).

use std::sync::OnceLock;
use std::time::Instant;

static STARTED: OnceLock<Instant> = OnceLock::new();

/// Marks the process start (called first thing in `run`).
pub fn mark_start() {
    STARTED.get_or_init(Instant::now);
}

/// Called by the UI after its first frame. With `KEYWHEEL_BENCH_READY=1` it also prints the
/// wall-clock time (`KEYWHEEL_READY <unix ms>`) for the benchmark script.
#[tauri::command]
pub fn app_ready() {
    let since_start = STARTED.get().map(|t| t.elapsed().as_millis()).unwrap_or(0);
    tracing::info!(first_paint_ms = since_start as u64, "first paint");
    if std::env::var_os("KEYWHEEL_BENCH_READY").is_some() {
        let now = keywheel_core::clock::system_now().timestamp_millis();
        println!("KEYWHEEL_READY {now}");
    }
}
