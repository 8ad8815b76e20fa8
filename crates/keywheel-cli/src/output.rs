//! Printing: JSON documents, plain tables, warnings and errors. Keys appear only masked —
//! nothing here ever receives key material.

use keywheel_core::Error;
use serde::Serialize;

/// Prints one JSON document on stdout.
pub fn json<T: Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("keywheel: could not print JSON: {e}"),
    }
}

/// Prints an error: the sentence on stderr, and with `--json` also
/// `{"error":{"code":…,"message":…}}` on stdout.
pub fn print_error(e: &Error, as_json: bool) {
    eprintln!("keywheel: {e}");
    if as_json {
        let doc = serde_json::json!({ "error": { "code": e.code(), "message": e.to_string() } });
        println!("{doc}");
    }
}

/// Prints warnings (one line each) on stderr.
pub fn warnings(ws: &[String]) {
    for w in ws {
        eprintln!("keywheel: {w}");
    }
}

/// A plain text table with left-aligned columns.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            let pad = widths[i] - c.chars().count();
            s.push_str(c);
            if i + 1 < cells.len() {
                s.push_str(&" ".repeat(pad + 2));
            }
        }
        s.trim_end().to_string()
    };
    let mut out = line(headers.to_vec());
    for row in rows {
        out.push('\n');
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// A one-line bar chart of values: `▁▂▅█`.
pub fn sparkline(values: &[u32]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = values.iter().copied().max().unwrap_or(0);
    values
        .iter()
        .map(|&v| {
            if v == 0 {
                '·'
            } else {
                BARS[((v as usize * 7) / max.max(1) as usize).min(7)]
            }
        })
        .collect()
}

/// A short state label for a key.
pub fn availability(a: &keywheel_core::ledger::reserve::Availability, available: bool) -> String {
    use keywheel_core::ledger::reserve::Availability as A;
    let s = match a {
        A::Usable => "usable".to_string(),
        A::Disabled => "disabled".to_string(),
        A::Broken { status } => status.as_str().replace('_', " "),
        A::Until { status, until } => format!(
            "{} until {}",
            status.as_str().replace('_', " "),
            until.format("%H:%M UTC")
        ),
        A::KeySpent { .. } => "spent today".to_string(),
        A::AccountSpent { .. } => "account spent today".to_string(),
    };
    if available {
        s
    } else {
        format!("{s} (not in this process)")
    }
}
