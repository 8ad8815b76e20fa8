//! The IPC surface: one file per domain, each command a few lines that call the core (or the
//! app's own state) and map errors to [`IpcError`](crate::error::IpcError).

pub mod capture;
pub mod chat;
pub mod documents;
pub mod gateway;
pub mod keys;
pub mod models;
pub mod ocr;
pub mod settings;
pub mod usage;
pub mod window;

use keywheel_core::Result;

use crate::error::{IpcError, IpcResult};

/// Runs core work that blocks (SQLite, image decoding, a whole batch) on the blocking pool,
/// so the async workers and the window's event loop stay free.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> IpcResult<T> {
    tauri::async_runtime::spawn_blocking(f)
        .await
        .map_err(|e| IpcError::usage(format!("the task stopped unexpectedly ({e}); try again")))?
        .map_err(IpcError::from)
}
