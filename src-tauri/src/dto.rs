//! The shapes that cross the IPC boundary and are not core types. Each derives `TS`; the
//! TypeScript file `ui/src/api/bindings.ts` is generated from them (see `bindings.rs`).

use keywheel_core::pool::LedgerView;
use keywheel_gateway::embedded::LoggedRequest;
use serde::Serialize;
use ts_rs::TS;

/// The OCR queue's shapes are core types (`keywheel_core::ocr::queue`).
pub use keywheel_core::ocr::queue::{OcrEvent, OcrPlan, OcrResult, StagedImage};

/// Chat threads are core types (`keywheel_core::chat`); an error record keeps its IPC name.
pub use keywheel_core::chat::{
    ChatEvent, ChatMessage, ErrorRecord as IpcErrorRecord, Role, Thread, ThreadSummary,
};

/// The Models panel, the pin picker and the settings panel are core views
/// (`keywheel_core::catalogue`, `keywheel_core::config::live`); so are the forms a window
/// sends (`keywheel_core::pool::{KeyPatch, LogQuery}`).
pub use keywheel_core::catalogue::{CatalogueModel, ChainView, KeyAdded, ModelChains};
pub use keywheel_core::config::{SettingsPatch, SettingsView};
pub use keywheel_core::pool::{KeyPatch, LogQuery};

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
