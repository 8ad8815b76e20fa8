//! The shapes that cross the IPC boundary and are not core types. Each derives `TS`; the
//! TypeScript file `ui/src/api/bindings.ts` is generated from them (see `bindings.rs`).

use keywheel_core::catalogue::KeyCheck;
use keywheel_core::pool::{KeyView, LedgerView};
use keywheel_core::progress::Note;
use keywheel_gateway::embedded::LoggedRequest;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// The OCR queue's shapes are core types (`keywheel_core::ocr::queue`).
pub use keywheel_core::ocr::queue::{OcrEvent, OcrPlan, OcrResult, StagedImage};

/// Chat threads are core types (`keywheel_core::chat`); an error record keeps its IPC name.
pub use keywheel_core::chat::{
    ChatMessage, ErrorRecord as IpcErrorRecord, Role, Thread, ThreadSummary,
};

/// The Models panel, the pin picker and the settings panel are core views
/// (`keywheel_core::catalogue`, `keywheel_core::config::live`); so are the forms a window
/// sends (`keywheel_core::pool::{KeyPatch, LogQuery}`).
pub use keywheel_core::catalogue::{CatalogueModel, ChainView, ModelChains};
pub use keywheel_core::config::SettingsView;
pub use keywheel_core::pool::{KeyPatch, LogQuery};

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
/// ledger and who is live on it), the team cache setting, and what this launch was told about
/// the team's current key.
#[derive(Debug, Clone, Serialize, TS)]
pub struct LedgerInfo {
    /// The ledger in use now (switching needs a restart).
    pub ledger: LedgerView,
    /// `team_cache` as saved in the config file (what the next start uses); the ledger's own
    /// `team_cache` is what is in force now.
    pub team_cache_saved: bool,
    /// On a team ledger, when this machine does not hold the pool's current key: the core's
    /// sentence saying it uses its own least-used key (`Adoption::sentence`, what the CLI
    /// prints at start).
    pub adoption: Option<String>,
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
