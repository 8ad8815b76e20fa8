//! `keywheel status`: current key, live instances, today vs caps, time to the UTC reset; on a
//! team ledger, the team line ("team ledger: host:port/db — N machines, M instances live",
//! `ledger::pg::summary::TeamSummary`) and one line per machine.

use keywheel_core::Result;
use keywheel_core::ledger::pg::summary::TeamSummary;
use keywheel_core::pool::Pool;

use crate::output;

pub fn run(pool: &Pool, json: bool) -> Result<()> {
    let s = pool.status()?;
    let ttl = chrono::Duration::seconds(
        i64::try_from(pool.settings().instance_ttl_secs).unwrap_or(i64::MAX),
    );
    let team = TeamSummary::read(pool.ledger(), pool.clock().now(), ttl)?;
    if json {
        let mut v = serde_json::to_value(&s).unwrap_or_default();
        if let (Some(t), Some(obj)) = (&team, v.as_object_mut()) {
            obj.insert(
                "team_ledger".into(),
                serde_json::to_value(t).unwrap_or_default(),
            );
        }
        output::json(&v);
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
    if let Some(t) = &team {
        println!("{}", t.sentence());
        for m in &t.machines {
            println!("  {}", m.line());
        }
    }
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
