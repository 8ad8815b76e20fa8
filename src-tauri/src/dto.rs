//! The shapes that cross the IPC boundary and are not core types. Each derives `TS`; the
//! TypeScript file `ui/src/api/bindings.ts` is generated from them (see `bindings.rs`).

use keywheel_core::catalogue::KeyCheck;
use keywheel_core::chains::ResolvedChain;
use keywheel_core::dispatch::Kind;
use keywheel_core::ledger::request_log::StatusClass;
use keywheel_core::openrouter::types::ModelInfo;
use keywheel_core::pool::{KeyView, LedgerView};
use keywheel_core::progress::Note;
use keywheel_gateway::embedded::LoggedRequest;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::IpcError;

/// The OCR queue's shapes are core types (`keywheel_core::ocr::queue`).
pub use keywheel_core::ocr::queue::{OcrEvent, OcrPlan, OcrResult, StagedImage};

/// Chat threads are core types (`keywheel_core::chat`); an error record keeps its IPC name.
pub use keywheel_core::chat::{
    ChatMessage, ErrorRecord as IpcErrorRecord, Role, Thread, ThreadSummary,
};

/// `keys_add`'s answer.
#[derive(Debug, Clone, Serialize, TS)]
pub struct KeyAdded {
    /// The key as listed (masked).
    pub key: KeyView,
    /// What `GET /key` said (no quota spent); absent if the check could not run.
    pub check: Option<KeyCheck>,
    /// Why the key was stored without a check, if so.
    pub warning: Option<String>,
}

/// A change to one key (`null` = unchanged).
#[derive(Debug, Clone, Default, Deserialize, TS)]
pub struct KeyPatch {
    /// New label.
    pub label: Option<String>,
    /// New account (`""` = its own account).
    pub account: Option<String>,
    /// New daily cap.
    pub daily_cap: Option<u32>,
    /// New per-minute cap.
    pub minute_cap: Option<u32>,
    /// Enable or disable.
    pub enabled: Option<bool>,
    /// Return both caps to the defaults.
    #[serde(default)]
    pub reset_caps: bool,
}

/// Filters for the request log.
#[derive(Debug, Clone, Default, Deserialize, TS)]
pub struct LogQuery {
    /// Only this key id.
    pub key_id: Option<String>,
    /// Chat or OCR.
    pub kind: Option<Kind>,
    /// Only this outcome class (`ok`, `rate_limited`, …).
    pub status_class: Option<StatusClass>,
    /// Only requests that fell back or rotated.
    #[serde(default)]
    pub only_fallbacks: bool,
    /// At most this many rows, newest first (0 = 100).
    #[serde(default)]
    pub limit: u32,
}

/// The settings panel.
#[derive(Debug, Clone, Serialize, TS)]
pub struct SettingsView {
    /// Rotate at start once the current key passed this many requests today.
    pub rotate_after: u32,
    /// Default daily cap per key.
    pub daily_cap: u32,
    /// Default per-minute cap per key.
    pub minute_cap: u32,
    /// Chat model chain.
    pub chat_models: Vec<String>,
    /// Vision model chain.
    pub vision_models: Vec<String>,
    /// The config file edits are written to.
    pub config_path: String,
    /// The shared ledger file.
    pub ledger_path: String,
    /// Whether the keychain can be used, and the core's sentence saying so.
    pub keychain: keywheel_core::pool::KeychainView,
    /// The OpenRouter API base URL.
    pub base_url: String,
    /// The pinned chat model (used alone instead of the resolved chain), if any.
    pub chat_pin: Option<String>,
    /// The pinned vision model, if any.
    pub vision_pin: Option<String>,
}

/// A settings edit (`null` = unchanged).
#[derive(Debug, Clone, Default, Deserialize, TS)]
pub struct SettingsPatch {
    /// Rotation threshold.
    pub rotate_after: Option<u32>,
    /// Chat model chain.
    pub chat_models: Option<Vec<String>>,
    /// Vision model chain.
    pub vision_models: Option<Vec<String>>,
    /// Pin this chat model (`""` unpins).
    #[serde(default)]
    #[ts(optional = nullable)]
    pub chat_pin: Option<String>,
    /// Pin this vision model (`""` unpins).
    #[serde(default)]
    #[ts(optional = nullable)]
    pub vision_pin: Option<String>,
    /// Share the response cache on a team ledger (saved; applies from the next start).
    #[serde(default)]
    #[ts(optional = nullable)]
    pub team_cache: Option<bool>,
}

/// One row of the request log as the Usage view shows it.
#[derive(Debug, Clone, Serialize, TS)]
pub struct LogRow {
    /// The row, with what sent it and its outcome word.
    #[serde(flatten)]
    #[ts(flatten)]
    pub logged: LoggedRequest,
    /// The outcome in the core's words (`RequestRow::outcome_label`: `answered`,
    /// `rate limited`, `in flight`, …): what the badge shows.
    pub outcome_label: String,
}

impl From<LoggedRequest> for LogRow {
    fn from(logged: LoggedRequest) -> Self {
        Self {
            outcome_label: logged.row.outcome_label(),
            logged,
        }
    }
}

/// `ledger_view`'s answer: which ledger is in use (the core's view: the file, or the team
/// ledger and who is live on it) and the team cache setting.
#[derive(Debug, Clone, Serialize, TS)]
pub struct LedgerInfo {
    /// The ledger in use now (switching needs a restart).
    pub ledger: LedgerView,
    /// `team_cache` as saved in the config file (what the next start uses); the ledger's own
    /// `team_cache` is what is in force now.
    pub team_cache_saved: bool,
}

/// What streams to the chat view while R1 answers.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChatEvent {
    /// More reasoning ("thinking").
    Reasoning {
        /// The new text.
        text: String,
    },
    /// More of the answer.
    Content {
        /// The new text.
        text: String,
    },
    /// A retry (discard what streamed so far), a key fallback, a wait, an alert, a sentence
    /// about the models: the core's structured note with its sentence, as the OCR stream
    /// sends it too.
    #[serde(untagged)]
    Progress(Note),
}

impl From<IpcError> for IpcErrorRecord {
    fn from(e: IpcError) -> Self {
        let code = serde_json::to_value(e.code)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        Self {
            code,
            message: e.message,
        }
    }
}

/// One chain in the Keys view's Models panel.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ChainView {
    /// The pinned model, if any (the chain is then that model alone).
    pub pin: Option<String>,
    /// The chain as it resolves now; absent when it cannot be resolved (see `error`).
    pub resolved: Option<ResolvedChain>,
    /// Sentences for the person (models no longer offered, the R1 story, no catalogue).
    pub sentences: Vec<String>,
    /// Why the chain cannot be resolved (e.g. the pinned model is no longer offered).
    pub error: Option<IpcErrorRecord>,
}

/// `models_chains`' answer: both chains, resolved for the current key's account.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ModelChains {
    /// The chat chain.
    pub chat: ChainView,
    /// The vision chain (reading images).
    pub vision: ChainView,
}

/// A catalogue model as the picker lists it.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
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

#[cfg(test)]
mod tests {
    use super::*;
    use keywheel_core::progress::Notice;

    #[test]
    fn a_settings_patch_without_pins_leaves_them_and_an_empty_pin_unpins() {
        let p: SettingsPatch = serde_json::from_str(
            r#"{"rotate_after":null,"chat_models":null,"vision_models":null}"#,
        )
        .unwrap();
        assert_eq!((p.chat_pin, p.vision_pin), (None, None));
        let p: SettingsPatch = serde_json::from_str(
            r#"{"rotate_after":null,"chat_models":null,"vision_models":null,"vision_pin":"","chat_pin":"x/y:free"}"#,
        )
        .unwrap();
        assert_eq!(p.vision_pin.as_deref(), Some(""));
        assert_eq!(p.chat_pin.as_deref(), Some("x/y:free"));
    }

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
    fn a_note_streams_as_its_own_event() {
        let e = ChatEvent::Progress(Note::new(Notice::Note {
            message: "DeepSeek R1 is a paid model on OpenRouter".into(),
        }));
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({"type": "note", "message": "DeepSeek R1 is a paid model on OpenRouter",
                               "about": null, "sentence": "DeepSeek R1 is a paid model on OpenRouter"})
        );
    }
}
