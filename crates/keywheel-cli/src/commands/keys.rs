//! `keywheel keys add|list|rm|enable|disable|set`.

use std::io::{IsTerminal, Read};

use keywheel_core::ledger::KeyUpdate;
use keywheel_core::pool::{KeyView, Pool};
use keywheel_core::{Error, Result};
use zeroize::Zeroizing;

use crate::cli::{AddArgs, KeysCommand, SetArgs};
use crate::output;

pub fn run(pool: &Pool, cmd: KeysCommand, json: bool) -> Result<()> {
    match cmd {
        KeysCommand::Add(args) => add(pool, &args, json),
        KeysCommand::List => list(pool, json),
        KeysCommand::Rm(id) => {
            let rec = pool.remove_key(&id.id)?;
            done(
                json,
                &rec,
                format!("removed key {} ({})", rec.id, rec.masked),
            )
        }
        KeysCommand::Enable(id) => toggle(pool, &id.id, true, json),
        KeysCommand::Disable(id) => toggle(pool, &id.id, false, json),
        KeysCommand::Set(args) => set(pool, &args, json),
        KeysCommand::Check(args) => check(pool, args.id.as_deref(), json),
    }
}

fn add(pool: &Pool, args: &AddArgs, json: bool) -> Result<()> {
    let raw = read_key()?;
    let rec = pool.add_key(&raw, args.label.as_deref(), args.account.as_deref())?;
    done(
        json,
        &rec,
        format!("added key {} ({}) to the keychain", rec.id, rec.masked),
    )
}

/// Reads the key from stdin: hidden prompt on a terminal, otherwise the whole input.
fn read_key() -> Result<Zeroizing<String>> {
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password("Paste your OpenRouter key (input hidden): ")
            .map(Zeroizing::new)
            .map_err(|e| Error::io("could not read the key from the terminal", e));
    }
    let mut s = Zeroizing::new(String::new());
    std::io::stdin()
        .read_to_string(&mut s)
        .map_err(|e| Error::io("could not read the key from standard input", e))?;
    Ok(s)
}

fn toggle(pool: &Pool, id: &str, enabled: bool, json: bool) -> Result<()> {
    let rec = pool.update_key(
        id,
        &KeyUpdate {
            enabled: Some(enabled),
            ..KeyUpdate::default()
        },
    )?;
    let verb = if enabled { "enabled" } else { "disabled" };
    done(
        json,
        &rec,
        format!("{verb} key {} ({})", rec.id, rec.masked),
    )
}

fn set(pool: &Pool, a: &SetArgs, json: bool) -> Result<()> {
    if a.daily_cap.is_none() && a.minute_cap.is_none() && a.account.is_none() && a.label.is_none() {
        return Err(Error::Usage(
            "nothing to change; give --daily-cap, --minute-cap, --account or --label".into(),
        ));
    }
    let update = KeyUpdate {
        label: a.label.clone(),
        account: a.account.clone(),
        daily_cap: a.daily_cap.map(Some),
        minute_cap: a.minute_cap.map(Some),
        enabled: None,
    };
    let rec = pool.update_key(&a.id, &update)?;
    done(
        json,
        &rec,
        format!("updated key {} ({})", rec.id, rec.masked),
    )
}

fn done<T: serde::Serialize>(json: bool, value: &T, sentence: String) -> Result<()> {
    if json {
        output::json(value)
    } else {
        println!("{sentence}")
    }
    Ok(())
}

fn list(pool: &Pool, json: bool) -> Result<()> {
    let keys = pool.key_views()?;
    if json {
        output::json(&keys);
        return Ok(());
    }
    if keys.is_empty() {
        println!(
            "no keys yet; add one with `keywheel keys add` (paste the key on standard input) or set OPENROUTER_API_KEYS"
        );
        return Ok(());
    }
    println!("{}", keys_table(&keys));
    Ok(())
}

/// The key table shared by `keys list` and `status`.
pub fn keys_table(keys: &[KeyView]) -> String {
    let rows: Vec<Vec<String>> = keys
        .iter()
        .map(|k| {
            vec![
                k.id.to_string(),
                if k.label.is_empty() {
                    "-".into()
                } else {
                    k.label.clone()
                },
                k.account.clone().unwrap_or_else(|| "(own)".into()),
                k.masked.clone(),
                k.source.as_str().to_string(),
                if k.enabled { "yes".into() } else { "no".into() },
                format!("{}/{}", k.today, k.daily_cap),
                format!("{}/min", k.minute_cap),
                output::availability(k),
            ]
        })
        .collect();
    output::table(
        &[
            "ID", "LABEL", "ACCOUNT", "KEY", "SOURCE", "ENABLED", "TODAY", "RATE", "STATE",
        ],
        &rows,
    )
}

fn check(pool: &Pool, id: Option<&str>, json: bool) -> Result<()> {
    let only = id
        .map(|typed| pool.ledger().resolve_key(typed))
        .transpose()?
        .map(|r| r.id);
    let client = super::client(pool)?;
    let checks = super::runtime()?.block_on(keywheel_core::catalogue::check_keys(
        pool,
        &client,
        only.as_ref(),
    ))?;
    if json {
        output::json(&checks);
    } else if checks.is_empty() {
        println!("no keys to check; add one with `keywheel keys add` or set OPENROUTER_API_KEYS");
    }
    for c in checks.iter().filter(|_| !json) {
        let verdict = if c.ok { "ok" } else { "FAILED" };
        println!(
            "{} {}  {verdict} — {}",
            c.id,
            c.masked,
            output::sentence(&c.summary)
        );
        if let Some(note) = &c.note {
            println!("{note}");
        }
    }
    if !checks.is_empty() && checks.iter().all(|c| !c.ok) {
        return Err(Error::NoUsableKey(format!(
            "all {} keys failed the check; see above",
            checks.len()
        )));
    }
    Ok(())
}
