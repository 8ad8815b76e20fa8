//! The settings panel: rotation threshold, model chains and pinned models, the team cache,
//! saved to the config file.

use keywheel_core::config::SettingsEdit;
use keywheel_core::dispatch::Kind;
use tauri::State;

use crate::commands::models::check_pin;
use crate::dto::{SettingsPatch, SettingsView};
use crate::error::IpcResult;
use crate::state::AppState;

/// The settings in force.
#[tauri::command]
pub async fn settings_get(state: State<'_, AppState>) -> IpcResult<SettingsView> {
    Ok(state.settings_view())
}

/// Saves an edit (checked before the file is replaced; a pinned model against the catalogue).
#[tauri::command]
pub async fn settings_set(
    state: State<'_, AppState>,
    patch: SettingsPatch,
) -> IpcResult<SettingsView> {
    let edit = SettingsEdit {
        rotate_after: patch.rotate_after,
        chat_models: patch.chat_models,
        vision_models: patch.vision_models,
        chat_pin: pin(&state, Kind::Chat, patch.chat_pin).await?,
        vision_pin: pin(&state, Kind::Ocr, patch.vision_pin).await?,
        // edited by `capture_set_shortcut` (commands/capture.rs), which checks its syntax
        capture_shortcut: None,
        // read when the ledger opens: from the next start
        team_cache: patch.team_cache,
    };
    Ok(state.edit_settings(&edit)?)
}

/// `None` leaves the pin as it is, `""` unpins, an id is checked first.
async fn pin(
    state: &AppState,
    kind: Kind,
    given: Option<String>,
) -> IpcResult<Option<Option<String>>> {
    let Some(id) = given.map(|s| s.trim().to_string()) else {
        return Ok(None);
    };
    if id.is_empty() {
        return Ok(Some(None));
    }
    check_pin(state, kind, &id).await?;
    Ok(Some(Some(id)))
}
