//! The "Local gateway" switch of Keys → settings: start and stop `keywheel serve`'s server in
//! this process (loopback only, see `keywheel_gateway::embedded`), its status, and the local
//! token for the copy buttons. The token is a `kw-…` token that opens only this gateway, never
//! an OpenRouter key; it crosses to the web view only when a copy button asks for it.

use keywheel_gateway::embedded::GatewayStatus;
use tauri::State;

use crate::error::{IpcError, IpcResult};
use crate::state::AppState;

/// Whether it runs, its address, its masked token and its live sessions.
#[tauri::command]
pub async fn gateway_status(state: State<'_, AppState>) -> IpcResult<GatewayStatus> {
    Ok(state.gateway.status(&state.pool).await)
}

/// Turns it on (already on: unchanged).
#[tauri::command]
pub async fn gateway_start(state: State<'_, AppState>) -> IpcResult<GatewayStatus> {
    Ok(state.gateway.start(&state.pool).await?)
}

/// Turns it off; answers in flight finish first (bounded).
#[tauri::command]
pub async fn gateway_stop(state: State<'_, AppState>) -> IpcResult<GatewayStatus> {
    Ok(state.gateway.stop(&state.pool).await?)
}

/// The local token, for the clipboard (the copy buttons) only.
#[tauri::command]
pub async fn gateway_token(state: State<'_, AppState>) -> IpcResult<String> {
    match state.gateway.token().await {
        Some(t) => Ok(t.as_str().to_string()),
        None => Err(IpcError::usage(
            "the local gateway is off; turn it on to copy its token",
        )),
    }
}
