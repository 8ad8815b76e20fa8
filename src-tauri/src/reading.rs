//! Reading staged images: the quota plan first (spends nothing), then the batch with bounded
//! concurrency; each tile's progress goes to the web view, each image keeps its result so a
//! retry re-reads only what is not done (finished tiles come back from the ledger for free).

use keywheel_core::Result;
use keywheel_core::ocr::{Batch, Event, OcrOptions};

use crate::dto::{OcrEvent, OcrPlan, OcrResult};
use crate::images::Images;
use crate::state::AppState;

/// Requests in flight at once (well under the 20/min cap; keeps the window responsive).
const CONCURRENCY: usize = 4;

fn plan(
    state: &AppState,
    ids: &[u32],
) -> Result<(Vec<u32>, std::collections::HashMap<String, u32>, Batch)> {
    let inputs = state.images.inputs(ids)?;
    let names = Images::ids_by_name(&inputs);
    let order = inputs.iter().map(|(id, _)| *id).collect();
    let opts = OcrOptions {
        models: state.chains().vision_choice(),
        concurrency: CONCURRENCY,
        local_fallback: true,
        use_cache: state.pool.settings().cache_ocr,
    };
    let batch = Batch::plan(
        &state.pool,
        inputs.into_iter().map(|(_, i)| i).collect(),
        opts,
    )?;
    Ok((order, names, batch))
}

/// What a batch of `ids` would do, in numbers and one sentence.
pub fn quota(state: &AppState, ids: &[u32]) -> Result<OcrPlan> {
    let (_, _, batch) = plan(state, ids)?;
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
    let (order, names, batch) = plan(state, ids)?;
    let cancel = state.images.begin()?;
    let on = |e: Event<'_>| match e {
        Event::Finished {
            file,
            tile,
            of,
            status,
            local,
            free,
        } => emit(OcrEvent::Tile {
            id: names.get(file).copied().unwrap_or_default(),
            tile: tile as u32,
            of: of as u32,
            status,
            local,
            free,
        }),
        Event::Note(message) => emit(OcrEvent::Note { message }),
    };
    let dispatcher = batch.sends().then_some(&state.dispatcher);
    let results = tauri::async_runtime::block_on(batch.run(dispatcher, &on, &cancel));
    state.images.end();
    let out = order
        .into_iter()
        .zip(results?)
        .map(|(id, result)| {
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
