//! `keywheel log`: the request log, newest first.

use keywheel_core::Result;
use keywheel_core::ledger::request_log::{LogFilter, RequestRow};
use keywheel_core::pool::Pool;

use crate::cli::LogArgs;
use crate::output;

/// Who sent a row: `cli`, `app`, `gateway`, `gateway:<session>`, … (`-` when not recorded).
fn via(r: &RequestRow) -> String {
    match (&r.via, &r.session) {
        (Some(via), Some(session)) => format!("{via}:{session}"),
        (Some(via), None) => via.clone(),
        (None, _) => "-".into(),
    }
}

pub fn run(pool: &Pool, args: &LogArgs, json: bool) -> Result<()> {
    let key_id = args
        .key
        .as_deref()
        .map(|k| pool.ledger().resolve_key(k))
        .transpose()?
        .map(|r| r.id.to_string());
    let filter = LogFilter {
        key_id,
        only_fallbacks: args.fallbacks,
        limit: args.tail.max(1),
        ..LogFilter::default()
    };
    let rows = pool.ledger().request_log(&filter)?;
    if json {
        output::json(&rows);
        return Ok(());
    }
    if rows.is_empty() {
        println!("no requests logged yet");
        return Ok(());
    }
    let table: Vec<Vec<String>> = rows
        .iter()
        .rev()
        .map(|r| {
            let class = r.outcome().to_string();
            let flags = [(r.fallback, "fallback"), (r.rotation, "rotated")]
                .iter()
                .filter(|(on, _)| *on)
                .map(|(_, n)| *n)
                .collect::<Vec<_>>()
                .join(",");
            let tokens = match (r.prompt_tokens, r.completion_tokens) {
                (Some(p), Some(c)) => format!("{p}+{c}"),
                _ => "-".into(),
            };
            vec![
                r.at.format("%m-%d %H:%M:%S").to_string(),
                if r.key_id.is_empty() {
                    "-".into()
                } else {
                    r.key_id.clone()
                },
                r.kind.as_str().to_string(),
                via(r),
                r.model_answered
                    .clone()
                    .or_else(|| r.model_asked.clone())
                    .unwrap_or_else(|| "-".into()),
                class,
                r.http_status.map_or("-".into(), |s| s.to_string()),
                r.latency_ms.map_or("-".into(), |l| format!("{l} ms")),
                tokens,
                r.cost.map_or("-".into(), |c| format!("${c:.5}")),
                if flags.is_empty() { "-".into() } else { flags },
            ]
        })
        .collect();
    println!(
        "{}",
        output::table(
            &[
                "TIME (UTC)",
                "KEY",
                "KIND",
                "VIA",
                "MODEL",
                "OUTCOME",
                "HTTP",
                "LATENCY",
                "TOKENS",
                "COST",
                "FLAGS"
            ],
            &table
        )
    );
    Ok(())
}
