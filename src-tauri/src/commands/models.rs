//! The Models panel of the Keys view: both chains as they resolve now for the current key's
//! account (every entry with the reason it is in or out, the account's credit state, the
//! sentences for the person), and the catalogue the pin picker searches. Nothing here spends
//! quota: `GET /key` and `GET /models` are free, and the catalogue is cached a day in the
//! ledger (docs/models.md).

use keywheel_core::catalogue;
use keywheel_core::chains::ModelChoice;
use keywheel_core::dispatch::Kind;
use keywheel_core::{Error, Result};
use tauri::State;

use crate::dto::{CatalogueModel, ChainView, ModelChains};
use crate::error::{IpcError, IpcResult};
use crate::state::AppState;

/// Said when the catalogue could not be read (the dispatcher says the same before a job).
const NO_CATALOGUE: &str =
    "OpenRouter's model list could not be read, so the configured chain is sent as it is";

/// The chat and vision chains as they resolve now (a chain that cannot be resolved, e.g. a
/// pinned model OpenRouter no longer lists, carries its error instead).
#[tauri::command]
pub async fn models_chains(state: State<'_, AppState>) -> IpcResult<ModelChains> {
    let chains = state.chains();
    Ok(ModelChains {
        chat: view(
            &state,
            Kind::Chat,
            chains.chat_choice(),
            chains.chat_pin.clone(),
        )
        .await,
        vision: view(&state, Kind::Ocr, chains.vision_choice(), chains.vision_pin).await,
    })
}

/// OpenRouter's models for the picker (from the day's cache unless `refresh`).
#[tauri::command]
pub async fn models_catalogue(
    state: State<'_, AppState>,
    refresh: bool,
) -> IpcResult<Vec<CatalogueModel>> {
    let list = catalogue::models(&state.pool, state.dispatcher.client(), refresh).await?;
    Ok(list.iter().map(CatalogueModel::from).collect())
}

async fn view(state: &AppState, kind: Kind, choice: ModelChoice, pin: Option<String>) -> ChainView {
    match catalogue::resolve_chain(&state.pool, state.dispatcher.client(), kind, &choice).await {
        Ok(chain) => {
            let mut sentences = chain.sentences();
            if !chain.checked {
                sentences.push(NO_CATALOGUE.to_string());
            }
            ChainView {
                pin,
                resolved: Some(chain),
                sentences,
                error: None,
            }
        }
        Err(e) => ChainView {
            pin,
            resolved: None,
            sentences: Vec::new(),
            error: Some(IpcError::from(e).into()),
        },
    }
}

/// Checks a model a person pins for `kind`: OpenRouter lists it (else the closest ids),
/// this account can use it, and a vision pin takes images. Without a catalogue the pin is
/// taken as given (it is checked again before every job).
pub(crate) async fn check_pin(state: &AppState, kind: Kind, id: &str) -> Result<()> {
    let client = state.dispatcher.client();
    let pinned = ModelChoice::Pinned(vec![id.to_string()]);
    catalogue::resolve_chain(&state.pool, client, kind, &pinned).await?;
    if kind == Kind::Ocr
        && let Ok(list) = catalogue::models(&state.pool, client, false).await
        && list.iter().any(|m| m.id == id && !m.takes_images())
    {
        return Err(Error::Usage(format!(
            "{id} does not take images, so it cannot read them; pin a model that takes images"
        )));
    }
    Ok(())
}
