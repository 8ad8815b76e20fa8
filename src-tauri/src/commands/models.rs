//! The Models panel of the Keys view: both chains as they resolve now for the current key's
//! account, and the catalogue the pin picker searches (`keywheel_core::catalogue`'s views;
//! nothing here spends quota).

use keywheel_core::catalogue;
use tauri::State;

use crate::dto::{CatalogueModel, ModelChains};
use crate::error::IpcResult;
use crate::state::AppState;

/// The chat and vision chains as they resolve now (a chain that cannot be resolved, e.g. a
/// pinned model OpenRouter no longer lists, carries its error instead).
#[tauri::command]
pub async fn models_chains(state: State<'_, AppState>) -> IpcResult<ModelChains> {
    let client = state.dispatcher.client();
    Ok(catalogue::model_chains(&state.pool, client, &state.chains()).await)
}

/// OpenRouter's models for the picker (from the day's cache unless `refresh`).
#[tauri::command]
pub async fn models_catalogue(
    state: State<'_, AppState>,
    refresh: bool,
) -> IpcResult<Vec<CatalogueModel>> {
    Ok(catalogue::picker(&state.pool, state.dispatcher.client(), refresh).await?)
}
