//! The settings panel: rotation threshold, model chains and pinned models, the team cache,
//! saved to the config file (`keywheel_core::config::LiveSettings`).

use keywheel_core::catalogue;
use tauri::State;

use crate::dto::{SettingsPatch, SettingsView};
use crate::error::IpcResult;
use crate::state::AppState;

/// The settings in force.
#[tauri::command]
pub async fn settings_get(state: State<'_, AppState>) -> IpcResult<SettingsView> {
    Ok(state.settings.view(&state.pool))
}

/// Saves an edit (checked before the file is replaced; a pinned model against the catalogue).
/// The capture shortcut is `capture_set_shortcut`'s (commands/capture.rs), which checks its
/// syntax and registers it first.
#[tauri::command]
pub async fn settings_set(
    state: State<'_, AppState>,
    patch: SettingsPatch,
) -> IpcResult<SettingsView> {
    let edit = catalogue::checked_edit(&state.pool, state.dispatcher.client(), patch).await?;
    state.settings.edit(&edit)?;
    Ok(state.settings.view(&state.pool))
}
