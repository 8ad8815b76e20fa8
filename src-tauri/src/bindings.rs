//! The TypeScript types of everything that crosses the IPC boundary, generated from the Rust
//! types with ts-rs into `ui/src/api/bindings.ts` (committed). The test below fails when the
//! file is out of date; `make bindings` (or `UPDATE_BINDINGS=1 cargo test -p keywheel-app
//! bindings`) rewrites it.

use keywheel_core::alerts::Rule;
use keywheel_core::catalogue::KeyCheck;
use keywheel_core::chains::{ChainEntry, EntryReason, ResolvedChain};
use keywheel_core::dispatch::{Kind, Outcome};
use keywheel_core::forecast::{Forecast, SubjectKind, Summary};
use keywheel_core::keys::{KeySource, KeychainStatus};
use keywheel_core::ledger::RequestState;
use keywheel_core::ledger::alerts::AlertRow;
use keywheel_core::ledger::instances::InstanceInfo;
use keywheel_core::ledger::jobs::JobStatus;
use keywheel_core::ledger::pg::summary::{MachineLive, TeamSummary};
use keywheel_core::ledger::request_log::{DayAggregate, RequestRow, StatusClass};
use keywheel_core::ledger::reserve::Availability;
use keywheel_core::ledger::usage::DayUsage;
use keywheel_core::ledger::{Adoption, Credits, KeyRecord, KeyStatus};
use keywheel_core::ocr::queue::PdfStaged;
use keywheel_core::ocr::{ErrorClass, ImageResult, QuotaPlan};
use keywheel_core::openrouter::types::{
    FreeModelDailyRequests, KeyInfo, ModelInfo, Pricing, Usage,
};
use keywheel_core::pool::{KeyView, KeychainView, LedgerView, StatusView, UsageView};
use keywheel_core::progress::{Note, Notice};
use keywheel_core::{ErrorCode, KeyId};
use keywheel_gateway::embedded::{GatewaySession, GatewayStatus, LoggedRequest};
use ts_rs::TS;

use crate::capture::{CaptureRegion, CaptureStatus};
use crate::dto::*;
use crate::error::IpcError;

/// Where the generated file lives, relative to this crate.
pub const PATH: &str = "../ui/src/api/bindings.ts";

macro_rules! decls {
    ($($t:ty),* $(,)?) => {
        vec![$(<$t as TS>::decl()),*]
    };
}

/// The whole generated file.
pub fn typescript() -> String {
    let decls = decls![
        // core
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
        // app
        IpcError,
        IpcErrorRecord,
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
        GatewayStatus,
        GatewaySession,
        LoggedRequest,
        LogRow,
        TeamSummary,
        MachineLive,
        LedgerView,
        LedgerInfo,
        CaptureRegion,
        CaptureStatus,
        PdfStaged,
    ];
    let mut out = String::from(
        "// Generated from the Rust types by ts-rs (src-tauri/src/bindings.rs). Do not edit:\n\
         // run `make bindings` after changing a type that crosses the IPC boundary.\n\
         // 64-bit integers are `number`: serde_json sends them as JSON numbers, and every\n\
         // count, size and id here stays far below 2^53.\n\n",
    );
    for d in decls {
        out.push_str("export ");
        out.push_str(&d.replace("bigint", "number"));
        out.push_str("\n\n");
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindings_are_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(PATH);
        let want = typescript();
        if std::env::var_os("UPDATE_BINDINGS").is_some() {
            std::fs::write(&path, &want).unwrap();
            return;
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "{} is out of date with the Rust types: run `make bindings` and commit it",
            path.display()
        );
    }
}
