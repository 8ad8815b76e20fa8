//! The TypeScript declarations (ts-rs, feature `ts`) of every core type that crosses the
//! desktop app's IPC edge, in one list the core keeps: a core type that derives `TS` is added
//! here. The app writes them, with its own and the gateway's, into `ui/src/api/bindings.ts`
//! (`src-tauri/src/bindings.rs`), and its test fails when that file drifts.

use ts_rs::TS;

use crate::alerts::Rule;
use crate::catalogue::{CatalogueModel, ChainView, KeyAdded, KeyCheck, ModelChains};
use crate::chains::{ChainEntry, EntryReason, ResolvedChain};
use crate::chat::{ChatEvent, ChatMessage, ErrorRecord, Role, Thread, ThreadSummary};
use crate::config::{SettingsPatch, SettingsView};
use crate::dispatch::{Kind, Outcome};
use crate::forecast::{Forecast, SubjectKind, Summary};
use crate::keys::{KeySource, KeychainStatus};
use crate::ledger::RequestState;
use crate::ledger::alerts::AlertRow;
use crate::ledger::instances::InstanceInfo;
use crate::ledger::jobs::JobStatus;
use crate::ledger::pg::summary::{MachineLive, TeamSummary};
use crate::ledger::request_log::{DayAggregate, RequestRow, StatusClass};
use crate::ledger::reserve::Availability;
use crate::ledger::usage::DayUsage;
use crate::ledger::{Adoption, Credits, KeyRecord, KeyStatus};
use crate::ocr::queue::{OcrEvent, OcrPlan, OcrResult, PdfStaged, StagedImage};
use crate::ocr::{ErrorClass, ImageResult, QuotaPlan};
use crate::openrouter::types::{FreeModelDailyRequests, KeyInfo, ModelInfo, Pricing, Usage};
use crate::pool::{KeyPatch, KeyView, KeychainView, LedgerView, LogQuery, StatusView, UsageView};
use crate::progress::{Note, Notice};
use crate::{ErrorCode, KeyId};

/// `decls![A, B]`: the declarations of these types, in this order.
macro_rules! decls {
    ($($t:ty),* $(,)?) => {
        vec![$(<$t as TS>::decl()),*]
    };
}

/// Every core type the app's web view sees, as TypeScript declarations (`type X = …`).
pub fn declarations() -> Vec<String> {
    decls![
        KeyId,
        KeySource,
        KeyStatus,
        Availability,
        KeyView,
        KeychainStatus,
        KeychainView,
        KeyRecord,
        InstanceInfo,
        Adoption,
        StatusView,
        DayUsage,
        DayAggregate,
        Forecast,
        SubjectKind,
        UsageView,
        RequestRow,
        AlertRow,
        Rule,
        KeyInfo,
        FreeModelDailyRequests,
        KeyCheck,
        ModelInfo,
        Pricing,
        JobStatus,
        QuotaPlan,
        ImageResult,
        Usage,
        Kind,
        RequestState,
        StatusClass,
        Summary,
        ErrorClass,
        Notice,
        Note,
        Outcome,
        ErrorCode,
        Credits,
        EntryReason,
        ChainEntry,
        ResolvedChain,
        ErrorRecord,
        KeyAdded,
        KeyPatch,
        LogQuery,
        SettingsView,
        SettingsPatch,
        ChatEvent,
        Role,
        ChatMessage,
        Thread,
        ThreadSummary,
        StagedImage,
        OcrPlan,
        OcrEvent,
        OcrResult,
        ChainView,
        ModelChains,
        CatalogueModel,
        TeamSummary,
        MachineLive,
        LedgerView,
        PdfStaged,
    ]
}
