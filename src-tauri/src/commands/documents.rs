//! PDFs picked in the Read images view (dropped ones arrive through the window's drop event):
//! the body is the PDF's bytes, its name URI-encoded in a header, as for images.

use tauri::State;
use tauri::ipc::{InvokeBody, Request};

use keywheel_core::ocr::queue::{PdfStaged, within_limit};

use crate::error::{IpcError, IpcResult};
use crate::state::AppState;

use super::blocking;

/// Stages a picked PDF page by page (text-layer pages come back already read).
#[tauri::command]
pub async fn pdf_stage(state: State<'_, AppState>, request: Request<'_>) -> IpcResult<PdfStaged> {
    let InvokeBody::Raw(bytes) = request.body() else {
        return Err(IpcError::bad_input("send the PDF as raw bytes, not JSON"));
    };
    let name = request
        .headers()
        .get("x-keywheel-name")
        .and_then(|v| v.to_str().ok())
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .unwrap_or_else(|| "document.pdf".into());
    let bytes = within_limit(&name, bytes)?.to_vec();
    let state = state.inner().clone();
    blocking(move || {
        let staging = state.pool.settings().data_dir.join("staging");
        state.images.stage_pdf_bytes(&staging, &name, &bytes)
    })
    .await
}
