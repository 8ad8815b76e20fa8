//! Chat threads and R1 answers streamed over a Channel. The threads and the turn are the
//! core's (`keywheel_core::chat`), and so is each [`ChatEvent`] a progress event becomes.

use keywheel_core::chat::Ask;
use keywheel_core::dispatch::{Kind, Progress};
use tauri::State;
use tauri::ipc::Channel;

use crate::dto::{ChatEvent, ChatMessage, Thread, ThreadSummary};
use crate::error::IpcResult;
use crate::state::AppState;

use super::blocking;

/// Threads, newest first.
#[tauri::command]
pub async fn threads_list(state: State<'_, AppState>) -> IpcResult<Vec<ThreadSummary>> {
    Ok(state.threads.list()?)
}

/// A new, empty thread.
#[tauri::command]
pub async fn thread_create(state: State<'_, AppState>) -> IpcResult<Thread> {
    Ok(state.threads.create()?)
}

/// One thread with its messages.
#[tauri::command]
pub async fn thread_get(state: State<'_, AppState>, id: String) -> IpcResult<Thread> {
    Ok(state.threads.get(&id)?)
}

/// Deletes a thread.
#[tauri::command]
pub async fn thread_delete(state: State<'_, AppState>, id: String) -> IpcResult<()> {
    Ok(state.threads.delete(&id)?)
}

/// Asks R1; reasoning and answer stream over `on_event`; returns the saved answer.
#[tauri::command]
pub async fn chat_send(
    state: State<'_, AppState>,
    thread_id: String,
    prompt: String,
    on_event: Channel<ChatEvent>,
) -> IpcResult<ChatMessage> {
    let state = state.inner().clone();
    blocking(move || {
        let chains = state.chains();
        let ask = Ask {
            thread_id: &thread_id,
            prompt,
            chain: &chains.chat,
            models: chains.choice(Kind::Chat),
            use_cache: state.pool.settings().cache_chat,
        };
        let on = |p: Progress<'_>| {
            if let Some(e) = ChatEvent::from_progress(p) {
                let _ = on_event.send(e);
            }
        };
        let send = keywheel_core::chat::send(&state.threads, &state.dispatcher, ask, on);
        Ok(tauri::async_runtime::block_on(send)?.message)
    })
    .await
}

/// Stops the answer streaming in a thread (what arrived is kept).
#[tauri::command]
pub async fn chat_stop(state: State<'_, AppState>, thread_id: String) -> IpcResult<()> {
    state.threads.stop(&thread_id);
    Ok(())
}
