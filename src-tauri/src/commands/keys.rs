//! Keys: list, add (checked with `GET /key`, stored in the keychain), edit, remove, check.
//! The full key arrives once, in `keys_add`, and never goes back: everything returned is
//! masked or an id.

use keywheel_core::catalogue;
use keywheel_core::pool::KeyView;
use tauri::State;
use zeroize::Zeroizing;

use crate::dto::{KeyAdded, KeyPatch};
use crate::error::IpcResult;
use crate::state::AppState;

/// Every key with today's counts.
#[tauri::command]
pub async fn keys_list(state: State<'_, AppState>) -> IpcResult<Vec<KeyView>> {
    Ok(state.pool.key_views()?)
}

/// Adds a key pasted in the Keys view.
#[tauri::command]
pub async fn keys_add(
    state: State<'_, AppState>,
    secret: String,
    label: Option<String>,
    account: Option<String>,
) -> IpcResult<KeyAdded> {
    let secret = Zeroizing::new(secret);
    let client = state.dispatcher.client();
    Ok(catalogue::add_key(&state.pool, client, &secret, label, account).await?)
}

/// Changes a key's label, account, caps or enabled flag.
#[tauri::command]
pub async fn keys_update(
    state: State<'_, AppState>,
    id: String,
    patch: KeyPatch,
) -> IpcResult<KeyView> {
    Ok(state.pool.patch_key(&id, patch)?)
}

/// Removes a key from the keychain and the list (its history stays).
#[tauri::command]
pub async fn keys_remove(state: State<'_, AppState>, id: String) -> IpcResult<()> {
    state.pool.remove_key(&id)?;
    Ok(())
}

/// Checks one key (or all) with `GET /key`; no quota spent.
#[tauri::command]
pub async fn keys_check(
    state: State<'_, AppState>,
    id: Option<String>,
) -> IpcResult<Vec<catalogue::KeyCheck>> {
    let only = match id {
        Some(id) => Some(state.pool.ledger().resolve_key(&id)?.id),
        None => None,
    };
    let client = state.dispatcher.client();
    Ok(catalogue::check_keys(&state.pool, client, only.as_ref()).await?)
}
