//! The settings panel: rotation threshold, model chains and pinned models, the team cache,
//! saved to the config file (`keywheel_core::config::LiveSettings`).

use keywheel_core::catalogue::checked_pin;
use keywheel_core::config::SettingsEdit;
use keywheel_core::dispatch::Kind;
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
#[tauri::command]
pub async fn settings_set(
    state: State<'_, AppState>,
    patch: SettingsPatch,
) -> IpcResult<SettingsView> {
    let (pool, client) = (&state.pool, state.dispatcher.client());
    let edit = SettingsEdit {
        rotate_after: patch.rotate_after,
        chat_models: patch.chat_models,
        vision_models: patch.vision_models,
        chat_pin: checked_pin(pool, client, Kind::Chat, patch.chat_pin).await?,
        vision_pin: checked_pin(pool, client, Kind::Ocr, patch.vision_pin).await?,
        // edited by `capture_set_shortcut` (commands/capture.rs), which checks its syntax
        capture_shortcut: None,
        // read when the ledger opens: from the next start
        team_cache: patch.team_cache,
    };
    state.settings.edit(&edit)?;
    Ok(state.settings.view(&state.pool))
}
