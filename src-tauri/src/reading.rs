//! Reading staged images: the quota plan first (spends nothing), then the batch with bounded
//! concurrency; each tile's progress goes to the web view, each image keeps its result so a
//! retry re-reads only what is not done (finished tiles come back from the ledger for free).

use keywheel_core::Result;
use keywheel_core::ocr::{Batch, Event, OcrOptions};

use crate::dto::{OcrEvent, OcrPlan, OcrResult};
use crate::state::AppState;

/// Requests in flight at once (well under the 20/min cap; keeps the window responsive).
const CONCURRENCY: usize = 4;

fn plan(state: &AppState, ids: &[u32]) -> Result<Batch> {
    let opts = OcrOptions {
        models: state.chains().vision_choice(),
        concurrency: CONCURRENCY,
        local_fallback: true,
        use_cache: state.pool.settings().cache_ocr,
    };
    Batch::plan(&state.pool, state.images.inputs(ids)?, opts)
}

/// The staged image a caller id names (the core hands back the id each input was given).
fn staged_id(caller_id: u64) -> u32 {
    u32::try_from(caller_id).unwrap_or_default()
}

/// What a batch of `ids` would do, in numbers and one sentence.
pub fn quota(state: &AppState, ids: &[u32]) -> Result<OcrPlan> {
    let batch = plan(state, ids)?;
    Ok(OcrPlan {
        plan: batch.quota().clone(),
        sentence: batch.quota().sentence(),
    })
}

/// Reads `ids`; `emit` hears each tile and each finished image.
pub fn run(
    state: &AppState,
    ids: &[u32],
    emit: impl Fn(OcrEvent) + Sync,
) -> Result<Vec<OcrResult>> {
    let batch = plan(state, ids)?;
    let cancel = state.images.begin()?;
    let on = |e: Event<'_>| match e {
        Event::Finished {
            caller_id,
            tile,
            of,
            status,
            local,
            free,
            ..
        } => emit(OcrEvent::Tile {
            id: staged_id(caller_id),
            tile: tile as u32,
            of: of as u32,
            status,
            local,
            free,
        }),
        Event::Note(note) => emit(OcrEvent::Progress(note)),
    };
    let dispatcher = batch.sends().then_some(&state.dispatcher);
    let results = tauri::async_runtime::block_on(batch.run(dispatcher, &on, &cancel));
    state.images.end();
    let out = results?
        .into_iter()
        .map(|result| {
            let id = staged_id(result.caller_id);
            state.images.set_result(id, result.clone());
            emit(OcrEvent::Image {
                id,
                result: result.clone(),
            });
            OcrResult { id, result }
        })
        .collect();
    Ok(out)
}
