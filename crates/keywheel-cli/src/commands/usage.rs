//! `keywheel usage`: requests per key per UTC day, today's gauges against the caps, forecasts
//! and the time to the reset. `--json` and `--csv` print the same numbers for scripts.

use keywheel_core::Result;
use keywheel_core::pool::{Pool, UsageView};

use crate::cli::UsageArgs;
use crate::output;

pub fn run(pool: &Pool, args: &UsageArgs, json: bool) -> Result<()> {
    let mut u = pool.usage(args.days)?;
    if let Some(typed) = &args.key {
        let id = pool.ledger().resolve_key(typed)?.id;
        u.keys.retain(|k| k.id == id);
        u.usage.retain(|r| r.key_id == id);
        u.aggregates.retain(|a| a.subject == id.as_str());
        u.forecasts.retain(|f| f.subject == id.as_str());
    }
    if json {
        output::json(&u);
    } else if args.csv {
        print!("{}", csv(&u));
    } else {
        print!("{}", text(&u));
    }
    Ok(())
}

fn csv(u: &UsageView) -> String {
    let mut out = String::from(
        "key_id,day,requests,successes,errors,prompt_tokens,completion_tokens,reasoning_tokens,cost\n",
    );
    for r in &u.usage {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{:.6}\n",
            r.key_id,
            r.day,
            r.requests,
            r.successes,
            r.errors,
            r.prompt_tokens,
            r.completion_tokens,
            r.reasoning_tokens,
            r.cost
        ));
    }
    out
}

fn text(u: &UsageView) -> String {
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
                .map(|d| {
                    u.usage
                        .iter()
                        .find(|r| &r.key_id == id && &r.day == d)
                        .map_or(0, |r| r.requests)
                })
                .collect();
            let view = u.keys.iter().find(|k| &k.id == id);
            let forecast = u
                .forecasts
                .iter()
                .find(|f| f.subject == id.as_str())
                .map_or("-".into(), |f| f.summary.to_string());
            let gauge = view.map_or(String::new(), |k| gauge(k.today, k.daily_cap));
            vec![
                id.to_string(),
                view.map_or("(removed)".into(), |k| k.masked.clone()),
                view.map_or_else(
                    || per_day.last().copied().unwrap_or(0).to_string(),
                    |k| format!("{}/{}", k.today, k.daily_cap),
                ),
                gauge,
                per_day.iter().sum::<u32>().to_string(),
                output::sparkline(&per_day),
                forecast,
            ]
        })
        .collect();
    let first = u.day_list.first().cloned().unwrap_or_default();
    let mut out = format!(
        "requests per key, {} UTC day(s) from {first} to today; counts reset at 00:00 UTC (in {})\n",
        u.days, u.resets_in
    );
    out.push_str(&output::table(
        &[
            "ID", "KEY", "TODAY", "GAUGE", "TOTAL", "PER DAY", "HITS CAP",
        ],
        &rows,
    ));
    out.push('\n');
    let accounts: Vec<_> = u
        .forecasts
        .iter()
        .filter(|f| !u.keys.iter().any(|k| k.id.as_str() == f.subject))
        .collect();
    for f in accounts {
        out.push_str(&format!(
            "account {}: {}/{} today {}, hits cap {}\n",
            f.subject,
            f.today,
            f.cap,
            gauge(f.today, f.cap),
            f.summary
        ));
    }
    out
}

/// `[######------]` against the cap.
fn gauge(today: u32, cap: u32) -> String {
    const WIDTH: u32 = 12;
    let filled = if cap == 0 {
        WIDTH
    } else {
        (today.min(cap) * WIDTH).div_ceil(cap).min(WIDTH)
    };
    format!(
        "[{}{}]",
        "#".repeat(filled as usize),
        "-".repeat((WIDTH - filled) as usize)
    )
}
