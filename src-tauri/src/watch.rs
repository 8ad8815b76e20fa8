//! Live updates. A background thread watches the shared ledger with `PRAGMA data_version`
//! (which changes whenever another connection — a CLI run, another window, this app's own
//! pool — commits), and then tells the web view (`ledger-changed`), picks up keys added or
//! removed elsewhere, and turns new alerts into a desktop notification and an in-app banner
//! (`alert`). Cost when idle: one tiny query per tick.

use std::collections::HashSet;
use std::time::Duration;

use keywheel_core::ledger::alerts::AlertRow;
use rusqlite::{Connection, OpenFlags};
use tauri::{AppHandle, Emitter, Runtime};
use tauri_plugin_notification::NotificationExt;

use crate::state::AppState;

/// How often the ledger is looked at.
pub const TICK: Duration = Duration::from_millis(250);

/// Starts the watcher thread; it ends with the process.
pub fn spawn<R: Runtime>(app: AppHandle<R>, state: AppState) {
    let spawned = std::thread::Builder::new()
        .name("keywheel-watch".into())
        .spawn(move || {
            if let Err(e) = watch(&app, &state) {
                tracing::error!("the ledger watcher stopped: {e}");
            }
        });
    if let Err(e) = spawned {
        tracing::error!("could not start the ledger watcher: {e}");
    }
}

fn watch<R: Runtime>(app: &AppHandle<R>, state: &AppState) -> rusqlite::Result<()> {
    let conn = Connection::open_with_flags(
        state.pool.ledger().path(),
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(5))?;
    let version = |c: &Connection| c.query_row("PRAGMA data_version", [], |r| r.get::<_, i64>(0));
    let mut last = version(&conn)?;
    let mut seen: HashSet<(String, String, String)> = alerts(state).iter().map(key).collect();
    loop {
        std::thread::sleep(TICK);
        let now = version(&conn)?;
        if now == last {
            continue;
        }
        last = now;
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
