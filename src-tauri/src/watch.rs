//! Live updates. A background thread watches the shared ledger with `PRAGMA data_version`
//! (which changes whenever another connection — a CLI run, another window, this app's own
//! pool — commits), and then tells the web view (`ledger-changed`), picks up keys added or
//! removed elsewhere, and turns new alerts into a desktop notification and an in-app banner
//! (`alert`). Cost when idle: one tiny query per tick.
//!
//! The watcher never gives up: when the ledger cannot be read (moved away, a full disk, a
//! read-only remount), it logs why and tries again after 1 s, 2 s, 4 s … up to a minute, and
//! goes back to the short wait once it reads the ledger again.

use std::collections::HashSet;
use std::ops::ControlFlow;
use std::path::Path;
use std::time::Duration;

use keywheel_core::ledger::alerts::AlertRow;
use rusqlite::{Connection, OpenFlags};
use tauri::{AppHandle, Emitter, Runtime};
use tauri_plugin_notification::NotificationExt;

use crate::state::AppState;

/// How often the ledger is looked at.
pub const TICK: Duration = Duration::from_millis(250);

/// The first wait after the ledger could not be read; it doubles up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);

/// The longest wait between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Starts the watcher thread; it ends with the process.
pub fn spawn<R: Runtime>(app: AppHandle<R>, state: AppState) {
    let spawned = std::thread::Builder::new()
        .name("keywheel-watch".into())
        .spawn(move || {
            let mut seen: HashSet<(String, String, String)> =
                alerts(&state).iter().map(key).collect();
            let path = state.pool.ledger().path().to_path_buf();
            watch(&path, TICK, std::thread::sleep, || {
                changed(&app, &state, &mut seen);
                ControlFlow::Continue(())
            });
        });
    if let Err(e) = spawned {
        tracing::error!("could not start the ledger watcher: {e}");
    }
}

/// Calls `on_change` after every commit to the ledger at `path` until it breaks; a failure to
/// read the ledger is retried with backoff (`sleep` waits; tests pass their own).
fn watch(
    path: &Path,
    tick: Duration,
    mut sleep: impl FnMut(Duration),
    mut on_change: impl FnMut() -> ControlFlow<()>,
) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        match watch_once(path, tick, &mut sleep, &mut on_change, &mut backoff) {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(
                    "the ledger watcher cannot read {} ({e}); trying again in {} s",
                    path.display(),
                    backoff.as_secs()
                );
                sleep(backoff);
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

fn watch_once(
    path: &Path,
    tick: Duration,
    sleep: &mut impl FnMut(Duration),
    on_change: &mut impl FnMut() -> ControlFlow<()>,
    backoff: &mut Duration,
) -> rusqlite::Result<()> {
    // No CREATE flag: a ledger that went away is an error to retry, not a new empty file.
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(5))?;
    let version = |c: &Connection| c.query_row("PRAGMA data_version", [], |r| r.get::<_, i64>(0));
    let mut last = version(&conn)?;
    *backoff = FIRST_BACKOFF;
    loop {
        sleep(tick);
        let now = version(&conn)?;
        if now == last {
            continue;
        }
        last = now;
        if on_change().is_break() {
            return Ok(());
        }
    }
}

/// What a commit elsewhere means for the window.
fn changed<R: Runtime>(
    app: &AppHandle<R>,
    state: &AppState,
    seen: &mut HashSet<(String, String, String)>,
) {
    if let Err(e) = state.pool.refresh_keys() {
        tracing::warn!("could not reload the keys: {e}");
    }
    let _ = app.emit("ledger-changed", ());
    for alert in alerts(state) {
        if seen.insert(key(&alert)) {
            notify(app, &alert);
        }
    }
}

fn alerts(state: &AppState) -> Vec<AlertRow> {
    state
        .pool
        .ledger()
        .alerts(1, state.pool.now())
        .unwrap_or_default()
}

fn key(a: &AlertRow) -> (String, String, String) {
    (a.day.clone(), a.rule.clone(), a.subject.clone())
}

fn notify<R: Runtime>(app: &AppHandle<R>, alert: &AlertRow) {
    let _ = app.emit("alert", alert);
    let shown = app
        .notification()
        .builder()
        .title("Keywheel")
        .body(&alert.message)
        .show();
    if let Err(e) = shown {
        // No notification service (a bare X session): the in-app banner still shows it.
        tracing::info!("desktop notification not shown: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn the_watcher_retries_with_growing_waits_and_then_sees_commits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.sqlite3");
        let (waits_tx, waits) = mpsc::channel::<Duration>();
        let (changes_tx, changes) = mpsc::channel::<()>();
        let watched = path.clone();
        std::thread::spawn(move || {
            watch(
                &watched,
                Duration::from_millis(5),
                |d| {
                    if d >= FIRST_BACKOFF {
                        // A backoff wait: record it instead of sleeping for real.
                        let _ = waits_tx.send(d);
                    }
                    std::thread::sleep(Duration::from_millis(5));
                },
                || {
                    let _ = changes_tx.send(());
                    ControlFlow::Break(())
                },
            );
        });
        // The ledger is not there yet: the watcher keeps trying, waiting longer each time.
        let hang = Duration::from_secs(60);
        let got: Vec<Duration> = (0..3).map(|_| waits.recv_timeout(hang).unwrap()).collect();
        assert_eq!(
            got,
            [FIRST_BACKOFF, FIRST_BACKOFF * 2, FIRST_BACKOFF * 4],
            "growing backoff"
        );
        // Now it appears; commits from another connection reach the watcher.
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE t (x INTEGER)").unwrap();
        let deadline = std::time::Instant::now() + hang;
        loop {
            conn.execute("INSERT INTO t VALUES (1)", []).unwrap();
            if changes.recv_timeout(Duration::from_millis(20)).is_ok() {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the watcher never saw a commit"
            );
        }
    }
}
