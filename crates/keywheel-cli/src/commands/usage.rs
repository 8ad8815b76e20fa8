//! `keywheel usage`: requests per key per UTC day.

use keywheel_core::pool::Pool;
use keywheel_core::Result;

use crate::cli::UsageArgs;
use crate::output;

pub fn run(pool: &Pool, args: &UsageArgs, json: bool) -> Result<()> {
    let u = pool.usage(args.days)?;
    if json {
        output::json(&u);
        return Ok(());
    }
    let mut ids: Vec<_> = u.keys.iter().map(|k| k.id.clone()).collect();
    for row in &u.usage {
        if !ids.contains(&row.key_id) {
            ids.push(row.key_id.clone());
        }
    }
    let rows: Vec<Vec<String>> = ids
        .iter()
        .map(|id| {
            let per_day: Vec<u32> = u
                .day_list
                .iter()
                .map(|d| u.usage.iter().find(|r| &r.key_id == id && &r.day == d).map_or(0, |r| r.requests))
                .collect();
            let view = u.keys.iter().find(|k| &k.id == id);
            vec![
                id.to_string(),
                view.map_or("(removed)".into(), |k| k.masked.clone()),
                view.map_or_else(|| per_day.last().copied().unwrap_or(0).to_string(), |k| format!("{}/{}", k.today, k.daily_cap)),
                per_day.iter().sum::<u32>().to_string(),
                output::sparkline(&per_day),
            ]
        })
        .collect();
    let first = u.day_list.first().cloned().unwrap_or_default();
    println!("requests per key, {} UTC days from {first} to today", u.days);
    println!("{}", output::table(&["ID", "KEY", "TODAY", "TOTAL", "PER DAY"], &rows));
    Ok(())
}
