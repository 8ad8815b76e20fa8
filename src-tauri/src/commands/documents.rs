//! PDFs picked in the Read images view (dropped ones arrive through the window's drop event):
//! the body is the PDF's bytes, its name URI-encoded in a header, as for images.

use keywheel_core::ocr::queue::PdfStaged;
use tauri::State;
use tauri::ipc::Request;

use crate::error::IpcResult;
use crate::state::AppState;

use super::blocking;

/// Stages a picked PDF page by page (text-layer pages come back already read).
#[tauri::command]
pub async fn pdf_stage(state: State<'_, AppState>, request: Request<'_>) -> IpcResult<PdfStaged> {
    let (name, bytes) = super::ocr::named_body(&request, "the PDF", "document.pdf")?;
    let state = state.inner().clone();
    blocking(move || {
        let staging = state.pool.settings().data_dir.join("staging");
        state.images.stage_pdf_bytes(&staging, &name, &bytes)
    })
    .await
}
