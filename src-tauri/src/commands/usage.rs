//! Monitoring: status, per-key usage over days, the request log, alerts. Reads only.

use keywheel_core::ledger::alerts::AlertRow;
use keywheel_core::ledger::request_log::{LogFilter, RequestRow};
use keywheel_core::pool::{StatusView, UsageView};
use tauri::State;

use crate::dto::LogQuery;
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
    Ok(state.pool.usage(days)?)
}

/// The request log, newest first.
#[tauri::command]
pub async fn request_log(
    state: State<'_, AppState>,
    query: LogQuery,
) -> IpcResult<Vec<RequestRow>> {
    let filter = LogFilter {
        key_id: query.key_id.filter(|s| !s.is_empty()),
        kind: query.kind.filter(|s| !s.is_empty()),
        status_class: query.status_class.filter(|s| !s.is_empty()),
        only_fallbacks: query.only_fallbacks,
        since: None,
        limit: query.limit.min(1000) as usize,
    };
    Ok(state.pool.ledger().request_log(&filter)?)
}

/// Alerts of the last `days` UTC days.
#[tauri::command]
pub async fn alerts(state: State<'_, AppState>, days: u32) -> IpcResult<Vec<AlertRow>> {
    Ok(state.pool.ledger().alerts(days, state.pool.now())?)
}
