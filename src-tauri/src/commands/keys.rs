//! Keys: list, add (checked with `GET /key`, stored in the keychain), edit, remove, check.
//! The full key arrives once, in `keys_add`, and never goes back: everything returned is
//! masked or an id.

use keywheel_core::catalogue;
use keywheel_core::pool::KeyView;
use tauri::State;
use zeroize::Zeroizing;

use crate::dto::{KeyAdded, KeyPatch};
use crate::error::{IpcError, IpcResult};
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
    let (label, account) = (non_empty(label), non_empty(account));
    let client = state.dispatcher.client();
    let (rec, check, warning) = catalogue::add_checked_key(
        &state.pool,
        client,
        &secret,
        label.as_deref(),
        account.as_deref(),
    )
    .await?;
    Ok(KeyAdded {
        key: view(&state, rec.id.as_str())?,
        check,
        warning,
    })
}

/// Changes a key's label, account, caps or enabled flag.
#[tauri::command]
pub async fn keys_update(
    state: State<'_, AppState>,
    id: String,
    patch: KeyPatch,
) -> IpcResult<KeyView> {
    let rec = state.pool.update_key(&id, &patch.into())?;
    view(&state, rec.id.as_str())
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

fn view(state: &AppState, id: &str) -> IpcResult<KeyView> {
    state
        .pool
        .key_views()?
        .into_iter()
        .find(|k| k.id.as_str() == id)
        .ok_or_else(|| IpcError::usage(format!("the key {id} is no longer listed; reload")))
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}
