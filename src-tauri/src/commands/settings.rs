//! The settings panel: rotation threshold and model chains, saved to the config file.

use keywheel_core::config::SettingsEdit;
use tauri::State;

use crate::dto::{SettingsPatch, SettingsView};
use crate::error::IpcResult;
use crate::state::AppState;

/// The settings in force.
#[tauri::command]
pub async fn settings_get(state: State<'_, AppState>) -> IpcResult<SettingsView> {
    Ok(state.settings_view())
}

/// Saves an edit (checked before the file is replaced).
#[tauri::command]
pub async fn settings_set(
    state: State<'_, AppState>,
    patch: SettingsPatch,
) -> IpcResult<SettingsView> {
    let edit = SettingsEdit {
        rotate_after: patch.rotate_after,
        chat_models: patch.chat_models,
        vision_models: patch.vision_models,
    };
    Ok(state.edit_settings(&edit)?)
}
