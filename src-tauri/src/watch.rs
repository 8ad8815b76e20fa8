//! Live updates. A background thread follows the shared ledger's commits
//! (`Ledger::changes`: any connection — a CLI run, another window, this app's own pool — with
//! backoff while the file cannot be read), and then tells the web view (`ledger-changed`),
//! picks up keys added or removed elsewhere, and turns new alerts into a desktop notification
//! and an in-app banner (`alert`).

use std::collections::HashSet;
use std::time::Duration;

use keywheel_core::ledger::alerts::AlertRow;
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
            let mut seen: HashSet<(String, String, String)> =
                alerts(&state).iter().map(key).collect();
            for () in state.pool.ledger().changes(TICK) {
                changed(&app, &state, &mut seen);
            }
        });
    if let Err(e) = spawned {
        tracing::error!("could not start the ledger watcher: {e}");
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
