//! keywheel-core integration tests, one binary (linking is the slow part on 2 cores).
//! Each module is one area; see ARCHITECTURE.md "Tests". The helpers below are the ones
//! several modules use; fake keys come from keywheel-testkit.
mod changes_stamp;
mod dispatch_actions;
#[cfg(unix)]
mod ledger_kill9;
mod ledger_multiprocess;
mod ledger_proptest;
mod ocr_queue;
mod openrouter_client;
mod pg_fast;
mod pg_faults;
mod pg_machines;
mod pg_prune;
mod pg_rules;
mod pg_security;
mod pg_support;
mod pool_rules;

use std::path::Path;
use std::process::{Command, Stdio};

use chrono::{DateTime, TimeZone, Utc};
use keywheel_core::ApiKey;
use keywheel_core::ledger::Ledger;
pub use keywheel_testkit::keys::{fake_key as key, fake_key_id as id};

/// What a worker process's steps return.
pub type AnyResult<T> = Result<T, Box<dyn std::error::Error>>;

/// The worker mode of a re-executed test binary (unset in a normal test run).
pub const ENV_MODE: &str = "KW_WORKER_MODE";
/// The ledger file a worker process opens.
pub const ENV_DB: &str = "KW_WORKER_DB";
/// The folder of a multi-process test's start barrier (`ready-<id>` files, then `go`).
pub const ENV_DIR: &str = "KW_WORKER_DIR";
/// A worker's number within its test.
pub const ENV_ID: &str = "KW_WORKER_ID";

/// Ends a worker process: its one `KW_RESULT …` line on stdout (after a newline, since the
/// harness has printed `test …worker_entry ... ` without one) and exit 0, or the error and exit 3.
pub fn finish_worker(result: AnyResult<String>) -> ! {
    match result {
        Ok(line) => {
            println!("\nKW_RESULT {line}");
            std::process::exit(0);
        }
        Err(e) => {
            eprintln!("KW_ERROR worker failed: {e}");
            std::process::exit(3);
        }
    }
}

/// Fake key number `n` (at most 255) as an [`ApiKey`].
pub fn api_key(n: u64) -> ApiKey {
    keywheel_testkit::keys::fake_api_key(u8::try_from(n).expect("fake key numbers fit a byte"))
}

/// The fixed start of the ledger tests' clocks.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap()
}

/// One integer from `sql` on `ledger`.
pub fn scalar(ledger: &Ledger, sql: &str) -> i64 {
    ledger
        .conn()
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

/// This test binary again, running only `<module>::worker_entry` as a worker process in
/// `mode` on the ledger `db` (stdin closed; the caller sets the rest).
pub fn worker_command(module: &str, mode: &str, db: &Path) -> Command {
    let mut cmd = Command::new(std::env::current_exe().expect("the test binary's path"));
    cmd.args([
        "--exact",
        &format!("{module}::worker_entry"),
        "--nocapture",
        "--test-threads=1",
    ])
    .env(ENV_MODE, mode)
    .env(ENV_DB, db)
    .stdin(Stdio::null());
    cmd
}
