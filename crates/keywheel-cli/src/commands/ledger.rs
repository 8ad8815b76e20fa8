//! `keywheel ledger status | migrate`: which ledger this machine uses (its SQLite file or a
//! team's PostgreSQL, docs/team.md), its schema version, and the live instances per machine.
//! Opens only the ledger: an unreachable team ledger is exit 7, never a fall-back.

use keywheel_core::Result;
use keywheel_core::config::{Settings, clock_from_env};
use keywheel_core::ledger::{CapDefaults, Ledger};
use serde::Serialize;

use crate::cli::LedgerCommand;
use crate::output;

/// The status as `--json` prints it.
#[derive(Debug, Serialize)]
struct Status {
    /// `sqlite` or `postgresql`.
    backend: &'static str,
    /// The file, or `host:port/db` (never a password).
    ledger: String,
    /// The schema version the ledger is at.
    schema_version: i64,
    /// The schema version this Keywheel knows.
    known_schema_version: i64,
    /// Live instances per machine.
    machines: Vec<Machine>,
}

#[derive(Debug, Serialize)]
struct Machine {
    host: String,
    instances: u32,
}

pub fn run(cmd: &LedgerCommand, json: bool) -> Result<()> {
    let var = |k: &str| std::env::var(k).ok();
    let settings = Settings::load_with(&var)?;
    let clock = clock_from_env(&var)?;
    let _telemetry = keywheel_core::telemetry::init(&settings, clock.clone(), "cli")?;
    let caps = CapDefaults {
        daily: settings.daily_cap,
        minute: settings.minute_cap,
        tier_applies: !settings.daily_cap_set,
    };
    match cmd {
        LedgerCommand::Migrate => {
            let ledger = Ledger::open_for(&settings, caps)?;
            let version = ledger.schema_version()?;
            if json {
                output::json(&serde_json::json!({
                    "backend": ledger.backend_name(),
                    "ledger": ledger.describe(),
                    "schema_version": version,
                }));
            } else {
                println!("{}: schema {version}, up to date", ledger.describe());
            }
            Ok(())
        }
        LedgerCommand::Status => {
            let ledger = Ledger::open_for(&settings, caps)?;
            let now = clock.now();
            let ttl = chrono::Duration::seconds(
                i64::try_from(settings.instance_ttl_secs).unwrap_or(i64::MAX),
            );
            let machines = match ledger.pg() {
                Some(pg) => pg
                    .machines(now, ttl)?
                    .into_iter()
                    .map(|m| Machine {
                        host: m.host,
                        instances: m.instances,
                    })
                    .collect(),
                None => vec![Machine {
                    host: keywheel_core::ledger::pg::machine_name(),
                    instances: u32::try_from(ledger.live_instances(now, ttl)?.len())
                        .unwrap_or(u32::MAX),
                }],
            };
            let status = Status {
                backend: ledger.backend_name(),
                ledger: ledger.describe(),
                schema_version: ledger.schema_version()?,
                known_schema_version: keywheel_core::ledger::pg::SCHEMA_VERSION,
                machines,
            };
            if json {
                output::json(&status);
            } else {
                print_status(&status);
            }
            Ok(())
        }
    }
}

fn print_status(s: &Status) {
    let live: u32 = s.machines.iter().map(|m| m.instances).sum();
    let team = if s.backend == "postgresql" {
        "team ledger"
    } else {
        "local ledger (sqlite)"
    };
    println!("{team}: {}", s.ledger);
    println!(
        "schema: {} (this Keywheel knows {})",
        s.schema_version, s.known_schema_version
    );
    println!("{} machine(s), {live} instance(s) live", s.machines.len());
    for m in &s.machines {
        println!("  {:<24} {} live", m.host, m.instances);
    }
}
