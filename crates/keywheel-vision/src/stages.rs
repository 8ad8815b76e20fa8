//! Optional figures for each stage of the pipeline (decode, classify, resize, turn upright,
//! encode, base64, and the hash on its own thread), for the `prep` benchmark's breakdown:
//! wall time and the running thread's CPU time (from `/proc/thread-self/schedstat`, in
//! nanoseconds, but it moves only at scheduler ticks: average it over runs). Off by default:
//! then each stage costs one relaxed atomic load.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

static ON: AtomicBool = AtomicBool::new(false);
static TIMES: Mutex<Vec<Stage>> = Mutex::new(Vec::new());

/// One stage as it ran once.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct Stage {
    /// Which stage.
    pub name: &'static str,
    /// Wall time.
    pub wall: Duration,
    /// CPU time of the thread that ran it (zero where there is no `/proc`).
    pub cpu: Duration,
}

/// Start (`true`) or stop recording stage times, process-wide. For benchmarks.
#[doc(hidden)]
pub fn record(on: bool) {
    ON.store(on, Ordering::Relaxed);
}

/// The stage times recorded since the last call, in the order the stages ended.
#[doc(hidden)]
pub fn take() -> Vec<Stage> {
    TIMES
        .lock()
        .map(|mut t| std::mem::take(&mut *t))
        .unwrap_or_default()
}

/// Run `f` as the stage `name`, recording its wall time when recording is on.
pub(crate) fn time<T>(name: &'static str, f: impl FnOnce() -> T) -> T {
    if !ON.load(Ordering::Relaxed) {
        return f();
    }
    let (start, cpu) = (Instant::now(), thread_cpu());
    let out = f();
    let stage = Stage {
        name,
        wall: start.elapsed(),
        cpu: thread_cpu().saturating_sub(cpu),
    };
    if let Ok(mut times) = TIMES.lock() {
        times.push(stage);
    }
    out
}

/// Time this thread has spent on a CPU (the first field of its schedstat).
fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .map(Duration::from_nanos)
        .unwrap_or_default()
}
