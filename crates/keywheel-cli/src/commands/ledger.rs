//! `keywheel ledger status | migrate | export | import | password`: which ledger this machine
//! uses (its SQLite file or a team's PostgreSQL, docs/team.md), its schema version, the live
//! instances per machine; moving this machine's history into a team ledger; the team ledger's
//! password in the keychain. Opens only the ledger: an unreachable team ledger is exit 7,
//! never a fall-back.

use std::io::{IsTerminal, Read};

use keywheel_core::config::{Settings, clock_from_env};
use keywheel_core::ledger::pg::password::{self, LedgerPassword};
use keywheel_core::ledger::pg::summary::TeamSummary;
use keywheel_core::ledger::pg::{Options, Target, transfer};
use keywheel_core::ledger::{CapDefaults, Ledger};
use keywheel_core::{Error, Result};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::cli::{LedgerCommand, LedgerImportArgs, LedgerPasswordArgs};
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
    /// The team line ("team ledger: host:port/db — N machines, M instances live").
    #[serde(skip_serializing_if = "Option::is_none")]
    team: Option<TeamSummary>,
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
            let team = TeamSummary::read(&ledger, now, ttl)?;
            let machines = match &team {
                Some(t) => t
                    .machines
                    .iter()
                    .map(|m| Machine {
                        host: m.host.clone(),
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
                team,
            };
            if json {
                output::json(&status);
            } else {
                print_status(&status);
            }
            Ok(())
        }
        LedgerCommand::Export => export(&settings, caps, json),
        LedgerCommand::Import(args) => import(&settings, caps, args, json),
        LedgerCommand::Password(args) => store_password(&settings, args, json),
    }
}

fn print_status(s: &Status) {
    if let Some(team) = &s.team {
        println!("{}", team.sentence());
        for m in &team.machines {
            println!("  {}", m.line());
        }
        println!(
            "schema: {} (this Keywheel knows {})",
            s.schema_version, s.known_schema_version
        );
        return;
    }
    let live: u32 = s.machines.iter().map(|m| m.instances).sum();
    println!("local ledger (sqlite): {}", s.ledger);
    println!(
        "schema: {} (this Keywheel knows {})",
        s.schema_version, s.known_schema_version
    );
    println!("{} machine(s), {live} instance(s) live", s.machines.len());
    for m in &s.machines {
        println!("  {:<24} {} live", m.host, m.instances);
    }
}

/// `ledger export`: this machine's own file, whatever `ledger_url` says (it is what moves).
fn export(settings: &Settings, caps: CapDefaults, json: bool) -> Result<()> {
    let path = settings.db_path();
    if !path.exists() {
        return Err(Error::Usage(format!(
            "there is no ledger file at {} on this machine, so there is nothing to export",
            path.display()
        )));
    }
    let ledger = Ledger::open(&path, caps)?;
    let machine = keywheel_core::ledger::pg::machine_name();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let done = transfer::export(&ledger, &machine, &mut out)?;
    drop(out);
    if !json {
        eprintln!(
            "exported {} key(s) (metadata only), {} account(s), {} day total(s) and {} request(s) \
             from {}",
            done.keys,
            done.accounts,
            done.usage,
            done.requests,
            path.display()
        );
    }
    Ok(())
}

/// The team ledger a command is about: `--to`/`--url`, else `ledger_url`.
fn team_target(settings: &Settings, given: Option<&str>, flag: &str) -> Result<Target> {
    match given.or(settings.ledger_url.as_deref()) {
        Some(url) => Target::parse(url),
        None => Err(Error::Usage(format!(
            "which team ledger? give {flag} postgres://user@host:5432/db, or set ledger_url \
             (KEYWHEEL_LEDGER_URL)"
        ))),
    }
}

/// `ledger import`: one transaction; a bad stream writes nothing (exit 6).
fn import(
    settings: &Settings,
    caps: CapDefaults,
    args: &LedgerImportArgs,
    json: bool,
) -> Result<()> {
    let target = team_target(settings, args.to.as_deref(), "--to")?;
    let ledger = Ledger::open_postgres(&target, &Options::from_settings(settings), caps)?;
    let pg = ledger.pg().expect("a team ledger");
    let done = match &args.file {
        Some(path) => {
            let file = std::fs::File::open(path).map_err(|e| {
                Error::Usage(format!("the export {} cannot be read: {e}", path.display()))
            })?;
            transfer::import(pg, std::io::BufReader::new(file))?
        }
        None => transfer::import(pg, std::io::stdin().lock())?,
    };
    if json {
        output::json(&serde_json::json!({
            "ledger": target.display(),
            "imported": done,
        }));
    } else {
        println!(
            "imported into the team ledger {}: {} key(s), {} account(s), {} day total(s), {} \
             request(s) added, from {} row(s) ({})",
            target.display(),
            done.keys,
            done.accounts,
            done.usage,
            done.requests,
            done.rows,
            if done.keys + done.accounts + done.usage + done.requests == 0 {
                "all of it was there already"
            } else {
                "rows already there were left as they were"
            }
        );
    }
    Ok(())
}

/// `ledger password`: into the keychain, never onto the command line or the screen.
fn store_password(settings: &Settings, args: &LedgerPasswordArgs, json: bool) -> Result<()> {
    let target = team_target(settings, args.url.as_deref(), "--url")?;
    if !settings.keychain {
        return Err(Error::Keychain(
            "the keychain is turned off (keychain = false or KEYWHEEL_KEYCHAIN=off); turn it on, \
             or keep the password in a password file (PGPASSFILE, mode 0600)"
                .into(),
        ));
    }
    let account = password::keychain_account(&target);
    if args.delete {
        password::delete_from_keychain(&target)?;
        let said = format!("deleted the keychain's password for {account}");
        return done(json, &account, "deleted", said);
    }
    let raw = read_password(&target)?;
    let pw = LedgerPassword::new(&raw)?;
    password::store_in_keychain(&target, &pw)?;
    done(
        json,
        &account,
        "stored",
        format!("stored the password for {account} in the keychain"),
    )
}

fn done(json: bool, account: &str, what: &str, said: String) -> Result<()> {
    if json {
        output::json(&serde_json::json!({ "account": account, "password": what }));
    } else {
        println!("{said}");
    }
    Ok(())
}

/// Reads the password from stdin: a hidden prompt on a terminal, otherwise the whole input.
fn read_password(target: &Target) -> Result<Zeroizing<String>> {
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password(format!(
            "Password for the team ledger {} (input hidden): ",
            target.display()
        ))
        .map(Zeroizing::new)
        .map_err(|e| Error::io("could not read the password from the terminal", e));
    }
    let mut s = Zeroizing::new(String::new());
    std::io::stdin()
        .read_to_string(&mut s)
        .map_err(|e| Error::io("could not read the password from standard input", e))?;
    Ok(s)
}
