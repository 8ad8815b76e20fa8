//! Basic usage of `keywheel-core`, offline: open a pool on a temporary data dir, add two keys,
//! list them (masked), start an instance (the rotation rule picks its key), reserve and
//! complete a request, and print today's usage.
//!
//! Run: `cargo run -p keywheel-core --example basic_usage`
//!
//! The keys here are made up and kept in an in-memory store so the example never touches your
//! keychain; the CLI and the app use the OS keychain.

use std::sync::Arc;

use keywheel_core::dispatch::Kind;
use keywheel_core::keys::MemoryStore;
use keywheel_core::ledger::Completion;
use keywheel_core::pool::{Pool, PoolOptions, Reserve};
use keywheel_core::{Settings, SystemClock};
use zeroize::Zeroizing;

fn main() -> keywheel_core::Result<()> {
    let dir = tempfile::tempdir().map_err(|e| keywheel_core::Error::io("temp dir", e))?;
    let settings = Settings {
        data_dir: dir.path().to_path_buf(),
        ..Settings::default()
    };
    println!("ledger: {}", settings.db_path().display());

    let pool = Pool::open(PoolOptions {
        settings,
        clock: Arc::new(SystemClock),
        store: Arc::new(MemoryStore::default()),
        env_keys: None,
    })?;

    for (n, label) in [(1u8, "work"), (2, "spare")] {
        let raw = Zeroizing::new(keywheel_testkit::keys::fake_key(n));
        let rec = pool.add_key(&raw, Some(label), None)?;
        println!("added {} {} ({label})", rec.id, rec.masked);
    }

    let instance = pool.start_instance("example")?;
    println!(
        "this instance adopted key {:?} (rotated: {})",
        instance.key(),
        instance.adoption().rotated
    );

    match instance.try_reserve(Kind::Chat, Some("deepseek/deepseek-r1"))? {
        Reserve::Granted(grant) => {
            println!(
                "reserved request #{} on {} — now send it with {}",
                grant.reservation.id,
                grant.key.id(),
                grant.key
            );
            let outcome = Completion {
                prompt_tokens: Some(14),
                completion_tokens: Some(61),
                cost: Some(0.00016),
                latency_ms: Some(2410),
                ..Completion::ok()
            };
            instance.complete(&grant, &outcome)?;
        }
        Reserve::Wait(until) => println!("per-minute cap reached; next slot at {until}"),
    }

    for k in pool.key_views()? {
        println!(
            "{}  {:<6} {}  today {}/{}  ({:?})",
            k.id, k.label, k.masked, k.today, k.daily_cap, k.availability
        );
    }
    let usage = pool.usage(1)?;
    for row in usage.usage {
        println!(
            "usage {} {}: {} request(s), {} ok, cost ${:.5}",
            row.day, row.key_id, row.requests, row.successes, row.cost
        );
    }
    Ok(())
}
