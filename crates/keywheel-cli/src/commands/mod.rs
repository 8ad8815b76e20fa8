//! One file per subcommand; each opens the pool, calls the core, prints.

mod ask;
mod keys;
mod models;
mod status;
mod usage;

use keywheel_core::pool::Pool;
use keywheel_core::Result;

use crate::cli::{Cli, Command};
use crate::output;

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    let pool = Pool::from_env()?;
    output::warnings(&pool.warnings());
    match cli.command {
        Command::Keys(cmd) => keys::run(&pool, cmd, cli.json),
        Command::Status => status::run(&pool, cli.json),
        Command::Usage(args) => usage::run(&pool, &args, cli.json),
        Command::Ask(args) => ask::run(&pool, &args, cli.json),
        Command::Models(args) => models::run(&pool, &args, cli.json),
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
    let s = pool.settings();
    let cfg = keywheel_core::openrouter::ClientConfig {
        base_url: s.base_url.clone(),
        referer: s.referer.clone(),
        title: s.title.clone(),
        ..Default::default()
    };
    keywheel_core::openrouter::OpenRouter::new(cfg).map_err(|e| keywheel_core::Error::Upstream(e.to_string()))
}
