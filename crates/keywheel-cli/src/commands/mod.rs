//! One file per subcommand; each opens the pool, calls the core, prints.

mod keys;
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
    }
}
