//! `keywheel`: the command-line front end. Parses arguments, runs one subcommand, prints
//! its result, and maps errors to the exit codes of DESIGN §6. No business logic lives here.

mod cli;
mod commands;
mod output;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let json = cli.json;
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            output::print_error(&e, json);
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
