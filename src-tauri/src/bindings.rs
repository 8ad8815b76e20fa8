//! The TypeScript types of everything that crosses the IPC boundary, generated from the Rust
//! types with ts-rs into `ui/src/api/bindings.ts` (committed): the core's
//! (`keywheel_core::ts::declarations`), then the gateway's, capture's and the app's own. The
//! test below fails when the file is out of date; `make bindings` (or `UPDATE_BINDINGS=1 cargo
//! test -p keywheel-app bindings`) rewrites it.

use keywheel_gateway::embedded::{GatewaySession, GatewayStatus, LoggedRequest};
use ts_rs::TS;

use crate::capture::{CaptureRegion, CaptureStatus};
use crate::dto::{LedgerInfo, LogRow};
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
    let mut decls = keywheel_core::ts::declarations();
    decls.extend(decls![
        IpcError,
        GatewayStatus,
        GatewaySession,
        LoggedRequest,
        LogRow,
        LedgerInfo,
        CaptureRegion,
        CaptureStatus,
    ]);
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
