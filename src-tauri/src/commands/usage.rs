//! Monitoring: status, per-key usage over days, the request log, alerts, the ledger in use.
//! Reads only.

use keywheel_core::input::check_days;
use keywheel_core::ledger::alerts::AlertRow;
use keywheel_core::pool::{StatusView, UsageView};
use tauri::State;

use crate::dto::{LedgerInfo, LogQuery, LogRow};
use crate::error::IpcResult;
use crate::state::AppState;

/// Today: keys, instances, current key, reset.
#[tauri::command]
pub async fn status(state: State<'_, AppState>) -> IpcResult<StatusView> {
    Ok(state.pool.status()?)
}

/// Requests per key per UTC day for the last `days` days, aggregates and forecasts.
#[tauri::command]
pub async fn usage(state: State<'_, AppState>, days: u32) -> IpcResult<UsageView> {
    Ok(state.pool.usage(check_days(days)?)?)
}

/// The request log, newest first; each row says what sent it when known (`via: gateway` and
/// the session for the local gateway's requests, see `keywheel_gateway::embedded`).
#[tauri::command]
pub async fn request_log(state: State<'_, AppState>, query: LogQuery) -> IpcResult<Vec<LogRow>> {
    let rows = state.pool.ledger().request_log(&query.into())?;
    let labelled = state.gateway.label(&state.pool, rows);
    Ok(labelled.into_iter().map(LogRow::from).collect())
}

/// Which ledger is in use (the file, or the team ledger with its live instances per machine),
/// the team cache setting as saved, and the sentence about the team's current key, if any.
#[tauri::command]
pub async fn ledger_view(state: State<'_, AppState>) -> IpcResult<LedgerInfo> {
    let saved = state.settings.saved();
    Ok(LedgerInfo {
        ledger: state.pool.ledger_view()?,
        team_cache_saved: saved.map_or(state.pool.settings().team_cache, |f| f.team_cache),
        adoption: state.adoption_notice(),
    })
}

/// Alerts of the last `days` UTC days.
#[tauri::command]
pub async fn alerts(state: State<'_, AppState>, days: u32) -> IpcResult<Vec<AlertRow>> {
    Ok(state
        .pool
        .ledger()
        .alerts(check_days(days)?, state.pool.now())?)
}
