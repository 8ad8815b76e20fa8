//! Images to text: stage bytes (raw IPC body, size-limited), plan, run with progress over a
//! Channel, cancel, save a result through the native save dialog.

use keywheel_core::ocr::queue::{OcrEvent, OcrPlan, OcrResult, StagedImage, within_limit};
use tauri::ipc::{Channel, InvokeBody, Request};
use tauri::{AppHandle, State};
use tauri_plugin_dialog::DialogExt;

use crate::error::{IpcError, IpcResult};
use crate::state::AppState;

use super::blocking;

/// Header carrying the file's name (URI-encoded) with the raw bytes.
const NAME_HEADER: &str = "x-keywheel-name";

/// Stages a pasted or picked image (the body is its bytes) and prepares it for the model.
#[tauri::command]
pub async fn ocr_stage(state: State<'_, AppState>, request: Request<'_>) -> IpcResult<StagedImage> {
    let (name, bytes) = named_body(&request, "the image", "pasted image")?;
    let state = state.inner().clone();
    blocking(move || state.images.stage(&name, bytes)).await
}

/// The queue.
#[tauri::command]
pub async fn ocr_staged(state: State<'_, AppState>) -> IpcResult<Vec<StagedImage>> {
    Ok(state.images.list())
}

/// Removes an image from the queue.
#[tauri::command]
pub async fn ocr_unstage(state: State<'_, AppState>, id: u32) -> IpcResult<()> {
    Ok(state.images.remove(id)?)
}

/// The quota plan for reading `ids` (spends nothing).
#[tauri::command]
pub async fn ocr_plan(state: State<'_, AppState>, ids: Vec<u32>) -> IpcResult<OcrPlan> {
    let state = state.inner().clone();
    blocking(move || state.images.quota(&state.pool, &ids, state.ocr_options())).await
}

/// Reads `ids` (one batch at a time); each tile's progress and each image over `on_event`.
#[tauri::command]
pub async fn ocr_run(
    state: State<'_, AppState>,
    ids: Vec<u32>,
    on_event: Channel<OcrEvent>,
) -> IpcResult<Vec<OcrResult>> {
    let state = state.inner().clone();
    blocking(move || {
        let emit = |e| {
            let _ = on_event.send(e);
        };
        let opts = state.ocr_options();
        let read = state
            .images
            .read(&state.pool, &state.dispatcher, &ids, opts, emit);
        tauri::async_runtime::block_on(read)
    })
    .await
}

/// Cancels the running batch.
#[tauri::command]
pub async fn ocr_cancel(state: State<'_, AppState>) -> IpcResult<()> {
    state.images.cancel();
    Ok(())
}

/// Saves an image's Markdown where the person picks (native dialog); `None` if cancelled.
#[tauri::command]
pub async fn ocr_save(
    app: AppHandle,
    state: State<'_, AppState>,
    id: u32,
) -> IpcResult<Option<String>> {
    let (name, text) = state.images.text(id)?;
    let stem = name
        .rsplit_once('.')
        .map_or(name.as_str(), |(s, _)| s)
        .to_string();
    blocking(move || {
        let Some(picked) = app
            .dialog()
            .file()
            .set_file_name(format!("{stem}.md"))
            .add_filter("Markdown", &["md"])
            .blocking_save_file()
        else {
            return Ok(None);
        };
        let path = picked.into_path().map_err(|e| {
            keywheel_core::Error::Usage(format!(
                "that location cannot be written ({e}); pick a folder on this computer"
            ))
        })?;
        std::fs::write(&path, text).map_err(|e| {
            keywheel_core::Error::io(format!("could not save {}", path.display()), e)
        })?;
        Ok(Some(path.display().to_string()))
    })
    .await
}

/// A pasted or picked file sent as the raw IPC body, with its name URI-encoded in the
/// [`NAME_HEADER`] (`default` without one). The length is checked before the bytes are copied.
pub(super) fn named_body(
    request: &Request<'_>,
    what: &str,
    default: &str,
) -> IpcResult<(String, Vec<u8>)> {
    let InvokeBody::Raw(bytes) = request.body() else {
        return Err(IpcError::bad_input(format!(
            "send {what} as raw bytes, not JSON"
        )));
    };
    let name = request
        .headers()
        .get(NAME_HEADER)
        .and_then(|v| v.to_str().ok())
        .map_or_else(|| default.to_string(), decode_uri);
    let bytes = within_limit(&name, bytes)?.to_vec();
    Ok((name, bytes))
}

/// `r%C3%A9sum%C3%A9.png` → `résumé.png` (names come URI-encoded so any character fits in a
/// header).
fn decode_uri(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_decode_from_uri_encoding() {
        assert_eq!(
            super::decode_uri("r%C3%A9sum%C3%A9%201.png"),
            "résumé 1.png"
        );
        assert_eq!(super::decode_uri("100%.png"), "100%.png");
    }
}
