//! Reading a region of the screen (see `capture.rs`): freeze the screen, cover it, take the
//! region the person dragged (staged like any image), put a read image's text on the
//! clipboard, and the shortcut setting.

use tauri::ipc::Response;
use tauri::{AppHandle, State, WebviewWindow};
use tauri_plugin_notification::NotificationExt;

use crate::capture::{self, Capture, CaptureRegion, CaptureStatus};
use crate::dto::StagedImage;
use crate::error::{IpcError, IpcResult};
use crate::state::AppState;

/// The shortcut as saved and whether it is registered.
#[tauri::command]
pub async fn capture_status(
    state: State<'_, AppState>,
    capture: State<'_, Capture>,
) -> IpcResult<CaptureStatus> {
    Ok(capture.status(&state.pool.settings().capture_shortcut))
}

/// Hides the window and grabs the whole screen; the answer is the grab's PNG bytes (an
/// `ArrayBuffer` in the web view). The window stays hidden until `capture_show` or
/// `capture_cancel`.
#[tauri::command]
pub async fn capture_start(app: AppHandle, window: WebviewWindow) -> IpcResult<Response> {
    let png = capture::freeze(&app, &window).await?;
    Ok(Response::new(png))
}

/// Shows the window over the whole screen (the web view shows the frozen grab by now).
#[tauri::command]
pub async fn capture_show(app: AppHandle, window: WebviewWindow) -> IpcResult<()> {
    capture::cover(&app, &window);
    Ok(())
}

/// `Esc`: the window goes back, nothing is read.
#[tauri::command]
pub async fn capture_cancel(
    app: AppHandle,
    window: WebviewWindow,
    capture: State<'_, Capture>,
) -> IpcResult<()> {
    capture.thaw();
    capture::restore(&app, &window);
    Ok(())
}

/// The dragged region (in the grab's pixels) is cropped and staged; the window goes back.
#[tauri::command]
pub async fn capture_region(
    app: AppHandle,
    window: WebviewWindow,
    state: State<'_, AppState>,
    capture: State<'_, Capture>,
    region: CaptureRegion,
) -> IpcResult<StagedImage> {
    capture::restore(&app, &window);
    let png = capture.take_region(region)?;
    let name = capture::region_name(state.pool.now());
    Ok(state.images.stage(&name, png)?)
}

/// Puts image `id`'s text on the clipboard (kept while the app runs) and says so in a desktop
/// notification; returns the sentence.
#[tauri::command]
pub async fn capture_copy(
    app: AppHandle,
    state: State<'_, AppState>,
    id: u32,
) -> IpcResult<String> {
    let (_, text) = state.images.text(id)?;
    let text = text.trim().to_string();
    if !text.is_empty() {
        copy(text.clone()).await?;
    }
    let sentence = capture::copied_sentence(&text);
    if let Err(e) = app
        .notification()
        .builder()
        .title("Keywheel")
        .body(&sentence)
        .show()
    {
        tracing::info!("desktop notification not shown: {e}");
    }
    Ok(sentence)
}

/// Sets the shortcut (`""`: none); registered before it is saved to `config.toml`.
#[tauri::command]
pub async fn capture_set_shortcut(
    app: AppHandle,
    state: State<'_, AppState>,
    shortcut: String,
) -> IpcResult<CaptureStatus> {
    Ok(capture::set_shortcut(&app, &state, &shortcut)?)
}

/// Puts `text` on the clipboard through the same clipboard the region's text goes to ("Copy
/// all" in Read images); it stays there while the app runs.
#[tauri::command]
pub async fn clipboard_write(text: String) -> IpcResult<()> {
    if text.len() > keywheel_core::input::MAX_PROMPT_BYTES * 16 {
        return Err(IpcError::bad_input(
            "that text is too long for the clipboard",
        ));
    }
    copy(text).await
}

/// Writes the clipboard off the async workers (an X11 clipboard call can wait on the server).
async fn copy(text: String) -> IpcResult<()> {
    tauri::async_runtime::spawn_blocking(move || keywheel_capture::clipboard::write_text(&text))
        .await
        .map_err(|e| IpcError::usage(format!("the copy stopped unexpectedly ({e})")))?
        .map_err(|e| IpcError::usage(format!("{e}")))
}
