//! `keywheel status`: current key, live instances, today vs caps, time to the UTC reset.

use keywheel_core::Result;
use keywheel_core::pool::Pool;

use crate::output;

pub fn run(pool: &Pool, json: bool) -> Result<()> {
    let s = pool.status()?;
    if json {
        output::json(&s);
        return Ok(());
    }
    println!(
        "UTC day {} — counts reset at 00:00 UTC (in {})",
        s.day, s.resets_in
    );
    let current = s.current_key.as_ref().map(|id| {
        let masked = s
            .keys
            .iter()
            .find(|k| &k.id == id)
            .map(|k| k.masked.as_str())
            .unwrap_or("not in this process");
        format!("{id} ({masked})")
    });
    println!(
        "current key: {}",
        current.unwrap_or_else(|| "none yet".into())
    );
    println!(
        "rotation: a new instance moves on when the current key has more than {} requests today",
        s.rotate_after
    );
    println!("{}", s.keychain.sentence);
    println!("ledger: {}", s.ledger);
    println!("live instances: {}", s.instances.len());
    for i in &s.instances {
        let key = i
            .key_id
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_else(|| "-".into());
        println!(
            "  {} {} pid {} key {} since {}",
            i.id,
            i.kind,
            i.pid,
            key,
            i.started.format("%H:%M:%S UTC")
        );
    }
    if s.keys.is_empty() {
        println!("no keys yet; add one with `keywheel keys add` or set OPENROUTER_API_KEYS");
    } else {
        println!("{}", super::keys::keys_table(&s.keys));
    }
    Ok(())
}
