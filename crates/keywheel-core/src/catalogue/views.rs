//! What the app's Keys view shows and sends: a key added (with its check), both chains as
//! they resolve now for the current key's account (each with its sentences, or the error that
//! stops it), the catalogue as the pin picker lists it, and settings edits whose pins are
//! checked before they are saved. Nothing here spends quota: `GET /key` and `GET /models` are
//! free, and the catalogue is cached a day in the ledger (docs/models.md).

use serde::Serialize;

use super::{KeyCheck, add_checked_key, models, resolve_chain};
use crate::chains::{ModelChoice, ResolvedChain};
use crate::chat::ErrorRecord;
use crate::config::{Chains, SettingsEdit, SettingsPatch};
use crate::dispatch::Kind;
use crate::error::{Error, Result};
use crate::openrouter::OpenRouter;
use crate::openrouter::types::ModelInfo;
use crate::pool::{KeyView, Pool};

/// Said when the catalogue could not be read (the dispatcher says the same before a job).
pub const NO_CATALOGUE: &str =
    "OpenRouter's model list could not be read, so the configured chain is sent as it is";

/// A catalogue model as the picker lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CatalogueModel {
    /// Routable id.
    pub id: String,
    /// Display name (the id when OpenRouter gives none).
    pub name: String,
    /// Free to use (`:free`, or zero-priced).
    pub free: bool,
    /// Takes image input.
    pub takes_images: bool,
    /// Answers in text only.
    pub text_only: bool,
    /// Can return its reasoning.
    pub reasons: bool,
    /// Context window in tokens.
    pub context_length: Option<u64>,
}

impl From<&ModelInfo> for CatalogueModel {
    fn from(m: &ModelInfo) -> Self {
        Self {
            id: m.id.clone(),
            name: m.name.clone().unwrap_or_else(|| m.id.clone()),
            free: m.is_free(),
            takes_images: m.takes_images(),
            text_only: m.outputs_text_only(),
            reasons: m.reasons(),
            context_length: m.context_length,
        }
    }
}

/// One chain in the Models panel.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ChainView {
    /// The pinned model, if any (the chain is then that model alone).
    pub pin: Option<String>,
    /// The chain as it resolves now; absent when it cannot be resolved (see `error`).
    pub resolved: Option<ResolvedChain>,
    /// Sentences for the person (models no longer offered, the R1 story, no catalogue).
    pub sentences: Vec<String>,
    /// Why the chain cannot be resolved (e.g. the pinned model is no longer offered).
    pub error: Option<ErrorRecord>,
}

impl ChainView {
    /// The view of a chain resolved (or not) with `pin` in force.
    pub fn new(pin: Option<String>, resolved: Result<ResolvedChain>) -> Self {
        match resolved {
            Ok(chain) => {
                let mut sentences = chain.sentences();
                if !chain.checked {
                    sentences.push(NO_CATALOGUE.to_string());
                }
                Self {
                    pin,
                    resolved: Some(chain),
                    sentences,
                    error: None,
                }
            }
            Err(e) => Self {
                pin,
                resolved: None,
                sentences: Vec::new(),
                error: Some(ErrorRecord::from(&e)),
            },
        }
    }
}

/// Both chains, resolved for the current key's account.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ModelChains {
    /// The chat chain.
    pub chat: ChainView,
    /// The vision chain (reading images).
    pub vision: ChainView,
}

/// The chat and vision chains in force as they resolve now (a chain that cannot be resolved,
/// e.g. a pinned model OpenRouter no longer lists, carries its error instead).
pub async fn model_chains(pool: &Pool, client: &OpenRouter, chains: &Chains) -> ModelChains {
    let view = async |kind| {
        let resolved = resolve_chain(pool, client, kind, &chains.choice(kind)).await;
        ChainView::new(chains.pin(kind).map(str::to_string), resolved)
    };
    ModelChains {
        chat: view(Kind::Chat).await,
        vision: view(Kind::Ocr).await,
    }
}

/// A key added from the Keys view.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct KeyAdded {
    /// The key as listed (masked).
    pub key: KeyView,
    /// What `GET /key` said (no quota spent); absent if the check could not run.
    pub check: Option<KeyCheck>,
    /// Why the key was stored without a check, if so.
    pub warning: Option<String>,
}

/// [`add_checked_key`] for a window: a blank label or account is none; the answer carries
/// the key as listed.
pub async fn add_key(
    pool: &Pool,
    client: &OpenRouter,
    raw: &zeroize::Zeroizing<String>,
    label: Option<String>,
    account: Option<String>,
) -> Result<KeyAdded> {
    let given = |s: Option<String>| s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let (label, account) = (given(label), given(account));
    let (rec, check, warning) =
        add_checked_key(pool, client, raw, label.as_deref(), account.as_deref()).await?;
    Ok(KeyAdded {
        key: pool.key_view(&rec.id)?,
        check,
        warning,
    })
}

/// OpenRouter's models for the picker (from the day's cache unless `refresh`).
pub async fn picker(
    pool: &Pool,
    client: &OpenRouter,
    refresh: bool,
) -> Result<Vec<CatalogueModel>> {
    let list = models(pool, client, refresh).await?;
    Ok(list.iter().map(CatalogueModel::from).collect())
}

/// Checks a model a person pins for `kind`: OpenRouter lists it (else the closest ids), this
/// account can use it, and a vision pin takes images. Without a catalogue the pin is taken as
/// given (it is checked again before every job).
pub async fn check_pin(pool: &Pool, client: &OpenRouter, kind: Kind, id: &str) -> Result<()> {
    let pinned = ModelChoice::Pinned(vec![id.to_string()]);
    resolve_chain(pool, client, kind, &pinned).await?;
    if kind == Kind::Ocr
        && let Ok(list) = models(pool, client, false).await
        && list.iter().any(|m| m.id == id && !m.takes_images())
    {
        return Err(Error::Usage(format!(
            "{id} does not take images, so it cannot read them; pin a model that takes images"
        )));
    }
    Ok(())
}

/// A settings edit as a window sends it, its pins checked ([`check_pin`]) before anything is
/// saved. The capture shortcut is not in it (the app checks its syntax and saves it itself).
pub async fn checked_edit(
    pool: &Pool,
    client: &OpenRouter,
    patch: SettingsPatch,
) -> Result<SettingsEdit> {
    Ok(SettingsEdit {
        rotate_after: patch.rotate_after,
        chat_models: patch.chat_models,
        vision_models: patch.vision_models,
        chat_pin: checked_pin(pool, client, Kind::Chat, patch.chat_pin).await?,
        vision_pin: checked_pin(pool, client, Kind::Ocr, patch.vision_pin).await?,
        capture_shortcut: None,
        // read when the ledger opens: from the next start
        team_cache: patch.team_cache,
    })
}

/// A pin as a person edits it: `None` leaves it as it is, `""` unpins, an id is checked
/// ([`check_pin`]) first. The answer is the edit's field ([`SettingsEdit`]).
async fn checked_pin(
    pool: &Pool,
    client: &OpenRouter,
    kind: Kind,
    given: Option<String>,
) -> Result<Option<Option<String>>> {
    let Some(id) = given.map(|s| s.trim().to_string()) else {
        return Ok(None);
    };
    if id.is_empty() {
        return Ok(Some(None));
    }
    check_pin(pool, client, kind, &id).await?;
    Ok(Some(Some(id)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chains::{ChainInputs, resolve};
    use crate::ledger::Credits;

    #[test]
    fn a_catalogue_model_carries_what_the_picker_filters_on() {
        let m: ModelInfo = serde_json::from_value(serde_json::json!({
            "id": "google/gemma-4-31b-it:free",
            "architecture": {"input_modalities": ["image", "text"], "output_modalities": ["text"]},
            "pricing": {"prompt": "0", "completion": "0"},
            "supported_parameters": ["reasoning"],
        }))
        .unwrap();
        let c = CatalogueModel::from(&m);
        assert_eq!(
            c.name, "google/gemma-4-31b-it:free",
            "the id when there is no name"
        );
        assert!(c.free && c.takes_images && c.text_only && c.reasons);
        let paid: ModelInfo = serde_json::from_value(serde_json::json!({
            "id": "deepseek/deepseek-r1", "name": "DeepSeek: R1",
            "architecture": {"input_modalities": ["text"], "output_modalities": ["text"]},
            "pricing": {"prompt": "0.0000007", "completion": "0.0000025"},
        }))
        .unwrap();
        let c = CatalogueModel::from(&paid);
        assert_eq!(c.name, "DeepSeek: R1");
        assert!(!c.free && !c.takes_images);
    }

    #[test]
    fn a_chain_view_says_when_there_was_no_catalogue_or_carries_the_error() {
        let chain = vec!["a/b".to_string()];
        let resolved = resolve(&ChainInputs {
            kind: Kind::Ocr,
            preferences: &chain,
            pinned: None,
            catalogue: None,
            credits: Credits::Unknown,
            skipped: &[],
            today: "2026-12-01",
        });
        let v = ChainView::new(None, resolved);
        assert!(v.resolved.is_some() && v.error.is_none());
        assert_eq!(v.sentences.last().map(String::as_str), Some(NO_CATALOGUE));
        let v = ChainView::new(
            Some("x/y".into()),
            Err(Error::Usage("x/y is no longer offered".into())),
        );
        assert!(v.resolved.is_none() && v.sentences.is_empty());
        let e = v.error.unwrap();
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            ("usage", "x/y is no longer offered")
        );
        assert_eq!(v.pin.as_deref(), Some("x/y"));
    }
}
