//! `keywheel`: the command-line front end. Parses arguments, runs one subcommand, prints
//! its result, and maps errors to their exit codes (`keywheel_core::Error::exit_code`). No
//! business logic lives here.

mod cli;
mod commands;
mod output;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // `--copy` re-runs this program as the clipboard holder that outlives it (keywheel-capture).
    if let Some(code) = keywheel_capture::clipboard::hold_if_asked() {
        return ExitCode::from(code as u8);
    }
    let cli = cli::Cli::parse();
    let json = cli.json;
    output::init(cli.raw);
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            output::print_error(&e, json);
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
