//! One file per subcommand; each opens the pool, calls the core, prints.

mod alerts;
mod ask;
mod keys;
mod ledger;
mod log;
mod models;
mod ocr;
mod serve;
mod status;
mod usage;

use keywheel_core::Result;
use keywheel_core::pool::Pool;

use crate::cli::{Cli, Command};
use crate::output;

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    // The ledger commands open only the ledger (no keys, no keychain): they are how a team
    // ledger is checked and migrated.
    if let Command::Ledger(cmd) = &cli.command {
        return ledger::run(cmd, cli.json);
    }
    let pool = Pool::from_env()?;
    let _telemetry = keywheel_core::telemetry::init(pool.settings(), pool.clock(), "cli")?;
    // Test builds only: prove that a panic message carrying a secret is redacted everywhere.
    #[cfg(debug_assertions)]
    if let Ok(v) = std::env::var("KEYWHEEL_DEBUG_PANIC") {
        panic!("forced panic for tests: {v}");
    }
    if matches!(cli.command, Command::Keys(_)) {
        pool.expect_keychain();
    }
    output::warnings(&pool.warnings());
    match cli.command {
        Command::Keys(cmd) => keys::run(&pool, cmd, cli.json),
        Command::Status => status::run(&pool, cli.json),
        Command::Usage(args) => usage::run(&pool, &args, cli.json),
        Command::Log(args) => log::run(&pool, &args, cli.json),
        Command::Alerts(args) => alerts::run(&pool, &args, cli.json),
        Command::Ask(args) => ask::run(&pool, &args, cli.json),
        Command::Models(args) => models::run(&pool, &args, cli.json),
        Command::Ocr(args) => ocr::run(&pool, &args, cli.json),
        Command::Serve(args) => serve::run(&pool, &args),
        Command::Ledger(_) => unreachable!("handled above"),
    }
}

/// A runtime for the subcommands that talk to OpenRouter.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| keywheel_core::Error::io("could not start the async runtime", e))
}

/// An HTTP client configured from the pool's settings.
pub(crate) fn client(pool: &Pool) -> Result<keywheel_core::openrouter::OpenRouter> {
    let cfg = keywheel_core::dispatch::client_config(pool.settings());
    keywheel_core::openrouter::OpenRouter::new(cfg)
        .map_err(|e| keywheel_core::Error::Upstream(e.to_string()))
}

/// Tells the person on stderr what the instance's start decided, when there is something to
/// say (a team-ledger machine without the pool's current key).
pub(crate) fn tell_adoption(instance: &keywheel_core::pool::Instance) {
    if let Some(s) = instance.adoption().sentence() {
        eprintln!("keywheel: {s}");
    }
}
