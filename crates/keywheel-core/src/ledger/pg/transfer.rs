//! Moving one machine's history into the team ledger: `keywheel ledger export` writes the
//! SQLite ledger's keys metadata (never a key), accounts, day totals and request log as JSON
//! lines; `keywheel ledger import` adds them to a team ledger in one transaction, so that
//! importing the same history twice changes nothing (docs/team.md, "Moving over").
//!
//! The stream: a header line (`{"type":"header","format":"keywheel-ledger-export",
//! "version":1,…}`), one line per row (`"type"` is `key`, `account`, `usage` or `request`, the
//! other fields are the row's columns), and an end line with the number of rows
//! (`{"type":"end","rows":N}`). A stream that does not parse, lacks its end line or holds
//! what looks like an OpenRouter key is refused before anything is written (exit 6).
//!
//! Idempotence: keys and accounts already on the team ledger are kept as they are (the team's
//! settings win); a request row is added unless the team already holds as many rows with its
//! (instance, key, start, kind); a day total adds only what this source (the machine and
//! its ledger file, hashed) did not bring before, remembered in `keywheel_imports` (migration
//! 11, so an import needs only the privileges every machine's role has). A request still
//! `reserved` in the export is imported as `abandoned`: its instance does not live on the team
//! ledger, and it stays counted.

use std::collections::HashMap;
use std::io::{BufRead, Write};

use serde::Serialize;
use serde_json::{Map, Value};
use tokio_postgres::types::ToSql;

use super::{PgLedger, pg_tx};
use crate::error::{Error, Result};
use crate::ledger::Ledger;

/// The stream's format name (the header's `format`).
pub const FORMAT: &str = "keywheel-ledger-export";

/// The stream's format version (the header's `version`).
pub const FORMAT_VERSION: i64 = 1;

/// The advisory lock imports take, so two at once cannot both add a source's day totals.
const IMPORT_LOCK: i64 = 0x6b77_696d_706f_7274;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    Text,
    Int,
    Bool,
    Real,
}

struct Table {
    kind: &'static str,
    name: &'static str,
    order: &'static str,
    cols: &'static [(&'static str, Ty)],
}

use Ty::{Bool, Int, Real, Text};

const KEYS: Table = Table {
    kind: "key",
    name: "keys",
    order: "id",
    cols: &[
        ("id", Text),
        ("label", Text),
        ("account", Text),
        ("masked", Text),
        ("source", Text),
        ("enabled", Bool),
        ("daily_cap", Int),
        ("minute_cap", Int),
        ("status", Text),
        ("status_until", Int),
        ("status_note", Text),
        ("created_ms", Int),
        ("position", Int),
        ("owner_hash", Text),
    ],
};

const ACCOUNTS: Table = Table {
    kind: "account",
    name: "accounts",
    order: "name",
    cols: &[
        ("name", Text),
        ("daily_cap", Int),
        ("minute_cap", Int),
        ("exhausted_day", Text),
        ("exhausted_until", Int),
        ("no_credit", Bool),
        ("tier_cap", Int),
        ("remote_day", Text),
        ("remote_used", Int),
        ("extra_requests", Int),
        ("credits", Text),
        ("paid_refused_day", Text),
        ("observed_ms", Int),
    ],
};

const USAGE: Table = Table {
    kind: "usage",
    name: "usage_daily",
    order: "day, key_id",
    cols: &[
        ("key_id", Text),
        ("day", Text),
        ("requests", Int),
        ("successes", Int),
        ("errors", Int),
        ("prompt_tokens", Int),
        ("completion_tokens", Int),
        ("reasoning_tokens", Int),
        ("cost", Real),
    ],
};

const REQUESTS: Table = Table {
    kind: "request",
    name: "requests",
    order: "id",
    cols: &[
        ("instance_id", Text),
        ("key_id", Text),
        ("account", Text),
        ("day", Text),
        ("started_ms", Int),
        ("finished_ms", Int),
        ("state", Text),
        ("kind", Text),
        ("model_asked", Text),
        ("model_answered", Text),
        ("status_class", Text),
        ("http_status", Int),
        ("attempts", Int),
        ("fallback", Bool),
        ("rotation", Bool),
        ("cached", Bool),
        ("prompt_tokens", Int),
        ("completion_tokens", Int),
        ("reasoning_tokens", Int),
        ("cost", Real),
        ("latency_ms", Int),
        ("bytes_sent", Int),
        ("error", Text),
        ("via", Text),
    ],
};

const TABLES: [&Table; 4] = [&KEYS, &ACCOUNTS, &USAGE, &REQUESTS];

/// Request rows sent before their answers are awaited (tokio-postgres pipelines them).
const PIPELINE: usize = 256;

/// The usage columns that are added up (all but `key_id`, `day`).
const SUMS: usize = 2;

/// What an export wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Exported {
    /// Key metadata rows.
    pub keys: u64,
    /// Account rows.
    pub accounts: u64,
    /// Day totals (key × day).
    pub usage: u64,
    /// Request-log rows.
    pub requests: u64,
}

/// What an import added to the team ledger (all zero for a history already there).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Imported {
    /// Rows the stream held.
    pub rows: u64,
    /// Keys added (keys already on the team ledger keep their settings).
    pub keys: u64,
    /// Accounts added.
    pub accounts: u64,
    /// Day totals that changed.
    pub usage: u64,
    /// Request rows added.
    pub requests: u64,
}

/// Writes `ledger`'s history (a SQLite ledger: this machine's file) to `out` as the stream
/// described in the module header, from one read snapshot.
pub fn export(ledger: &Ledger, machine: &str, out: &mut dyn Write) -> Result<Exported> {
    if ledger.pg().is_some() {
        return Err(Error::Usage(
            "export reads this machine's own ledger file, not a team ledger".into(),
        ));
    }
    let path = ledger.path().to_path_buf();
    let schema = ledger.schema_version()?;
    let write_err = |e: std::io::Error| Error::io("could not write the export", e);
    ledger.read(|tx| {
        let pruned: Option<String> = tx
            .query_row(
                "SELECT pruned_before_day FROM pool_state WHERE singleton = 1",
                [],
                |r| r.get(0),
            )
            .unwrap_or(None);
        let header = serde_json::json!({
            "type": "header",
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "schema": schema,
            "source": source_id(machine, &path),
            "machine": machine,
            "exported_ms": crate::clock::system_now().timestamp_millis(),
            "pruned_before_day": pruned,
        });
        writeln!(out, "{header}").map_err(write_err)?;
        let mut counts = [0u64; 4];
        for (t, count) in TABLES.iter().zip(counts.iter_mut()) {
            let cols: Vec<&str> = t.cols.iter().map(|(c, _)| *c).collect();
            let sql = format!(
                "SELECT {} FROM {} ORDER BY {}",
                cols.join(", "),
                t.name,
                t.order
            );
            let mut stmt = tx.prepare(&sql)?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let mut line = Map::new();
                line.insert("type".into(), Value::from(t.kind));
                for (i, (name, ty)) in t.cols.iter().enumerate() {
                    line.insert((*name).into(), sqlite_value(r.get_ref(i)?, *ty, t, name)?);
                }
                writeln!(out, "{}", Value::Object(line)).map_err(write_err)?;
                *count += 1;
            }
        }
        let total: u64 = counts.iter().sum();
        writeln!(out, "{}", serde_json::json!({"type": "end", "rows": total}))
            .map_err(write_err)?;
        out.flush().map_err(write_err)?;
        Ok(Exported {
            keys: counts[0],
            accounts: counts[1],
            usage: counts[2],
            requests: counts[3],
        })
    })
}

/// The source id of a history: this machine's name and its ledger file, hashed (16 hex).
fn source_id(machine: &str, path: &std::path::Path) -> String {
    use sha2::{Digest, Sha256};
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mut h = Sha256::new();
    h.update(machine.as_bytes());
    h.update([0]);
    h.update(path.to_string_lossy().as_bytes());
    hex::encode(&h.finalize()[..8])
}

fn sqlite_value(v: rusqlite::types::ValueRef<'_>, ty: Ty, t: &Table, col: &str) -> Result<Value> {
    use rusqlite::types::ValueRef as V;
    Ok(match (v, ty) {
        (V::Null, _) => Value::Null,
        (V::Integer(i), Int) => Value::from(i),
        (V::Integer(i), Bool) => Value::from(i != 0),
        (V::Integer(i), Real) => Value::from(i as f64),
        (V::Real(f), Real) => Value::from(f),
        (V::Text(s), Text) => Value::from(String::from_utf8_lossy(s).into_owned()),
        _ => {
            return Err(Error::Storage(format!(
                "the ledger's {}.{col} holds a value of an unexpected type; run `keywheel ledger \
                 status` to check the file",
                t.name
            )));
        }
    })
}

/// A column's value from the stream, typed.
#[derive(Debug, Clone, PartialEq)]
enum Val {
    Null,
    Text(String),
    Int(i64),
    Bool(bool),
    Real(f64),
}

impl Val {
    fn param(&self, ty: Ty) -> Box<dyn ToSql + Sync + Send> {
        match (self, ty) {
            (Val::Text(s), _) => Box::new(Some(s.clone())),
            (Val::Int(i), _) => Box::new(Some(*i)),
            (Val::Bool(b), _) => Box::new(Some(*b)),
            (Val::Real(f), _) => Box::new(Some(*f)),
            (Val::Null, Text) => Box::new(None::<String>),
            (Val::Null, Int) => Box::new(None::<i64>),
            (Val::Null, Bool) => Box::new(None::<bool>),
            (Val::Null, Real) => Box::new(None::<f64>),
        }
    }

    fn text(&self) -> &str {
        match self {
            Val::Text(s) => s,
            _ => "",
        }
    }

    fn int(&self) -> i64 {
        match self {
            Val::Int(i) => *i,
            _ => 0,
        }
    }

    fn real(&self) -> f64 {
        match self {
            Val::Real(f) => *f,
            Val::Int(i) => *i as f64,
            _ => 0.0,
        }
    }
}

/// A whole stream, checked.
#[derive(Debug, Default)]
struct Stream {
    source: String,
    pruned_before_day: Option<String>,
    /// Rows per table, in [`TABLES`] order.
    rows: [Vec<Vec<Val>>; 4],
}

fn bad(line: usize, why: impl std::fmt::Display) -> Error {
    Error::BadInput(format!(
        "the ledger export is not valid at line {line}: {why}; nothing was imported (make a new \
         one with `keywheel ledger export > history.jsonl`)"
    ))
}

/// Reads and checks a whole stream (nothing is written before it is all read).
fn parse(input: impl BufRead) -> Result<Stream> {
    let mut stream = Stream::default();
    let mut header = false;
    let mut ended: Option<usize> = None;
    let mut n = 0usize;
    for (i, line) in input.lines().enumerate() {
        let at = i + 1;
        n = at;
        let line = line.map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData => bad(at, "it is not UTF-8 text"),
            _ => Error::io("could not read the ledger export", e),
        })?;
        if line.trim().is_empty() {
            continue;
        }
        if let Some(end) = ended {
            return Err(bad(
                at,
                format!("there is more after the end line (line {end})"),
            ));
        }
        let value: Value =
            serde_json::from_str(&line).map_err(|e| bad(at, format!("not JSON ({e})")))?;
        let Value::Object(obj) = value else {
            return Err(bad(at, "a line must be a JSON object"));
        };
        let kind = obj.get("type").and_then(Value::as_str).unwrap_or("");
        if !header {
            if kind != "header" || obj.get("format").and_then(Value::as_str) != Some(FORMAT) {
                return Err(bad(
                    at,
                    "it does not start with a Keywheel export header (is it the output of \
                     `keywheel ledger export`?)",
                ));
            }
            let version = obj.get("version").and_then(Value::as_i64).unwrap_or(0);
            if version != FORMAT_VERSION {
                return Err(bad(
                    at,
                    format!(
                        "it is format version {version}, this Keywheel reads {FORMAT_VERSION}; use \
                         the same Keywheel version on both machines"
                    ),
                ));
            }
            stream.source = obj
                .get("source")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| bad(at, "the header has no source"))?
                .to_string();
            stream.pruned_before_day = obj
                .get("pruned_before_day")
                .and_then(Value::as_str)
                .map(str::to_string);
            header = true;
            continue;
        }
        if kind == "end" {
            let said = obj.get("rows").and_then(Value::as_u64);
            let got = stream.rows.iter().map(Vec::len).sum::<usize>() as u64;
            if said != Some(got) {
                return Err(bad(
                    at,
                    format!(
                        "the end line says {} rows, the stream holds {got}",
                        said.map_or("no number of".into(), |s| s.to_string())
                    ),
                ));
            }
            ended = Some(at);
            continue;
        }
        let Some(t) = TABLES.iter().position(|t| t.kind == kind) else {
            return Err(bad(at, format!("unknown line type {kind:?}")));
        };
        let table = TABLES[t];
        let mut row = Vec::with_capacity(table.cols.len());
        for (name, ty) in table.cols {
            let v = obj.get(*name).unwrap_or(&Value::Null);
            let val = match (v, ty) {
                (Value::Null, _) => Val::Null,
                (Value::String(s), Text) => {
                    if crate::keys::redact(s) != s.as_str() {
                        return Err(bad(
                            at,
                            format!(
                                "{kind} field {name:?} holds what looks like an OpenRouter key; \
                                 an export never carries keys"
                            ),
                        ));
                    }
                    Val::Text(s.clone())
                }
                (Value::Number(x), Int) if x.is_i64() => Val::Int(x.as_i64().unwrap_or(0)),
                (Value::Number(x), Real) => Val::Real(x.as_f64().unwrap_or(0.0)),
                (Value::Bool(b), Bool) => Val::Bool(*b),
                _ => {
                    return Err(bad(
                        at,
                        format!("{kind} field {name:?} should be {}", describe(*ty)),
                    ));
                }
            };
            row.push(val);
        }
        stream.rows[t].push(row);
    }
    if !header {
        return Err(bad(n.max(1), "the stream is empty"));
    }
    if ended.is_none() {
        return Err(bad(
            n,
            "it has no end line, so it was cut short (a truncated file or an interrupted export)",
        ));
    }
    Ok(stream)
}

fn describe(ty: Ty) -> &'static str {
    match ty {
        Text => "text",
        Int => "an integer",
        Bool => "true or false",
        Real => "a number",
    }
}

fn insert_sql(t: &Table, conflict: &str) -> String {
    let cols: Vec<&str> = t.cols.iter().map(|(c, _)| *c).collect();
    let params: Vec<String> = (1..=cols.len()).map(|i| format!("${i}")).collect();
    format!(
        "INSERT INTO {} ({}) VALUES ({}){conflict}",
        t.name,
        cols.join(", "),
        params.join(", ")
    )
}

fn params(row: &[Val], t: &Table) -> Vec<Box<dyn ToSql + Sync + Send>> {
    row.iter()
        .zip(t.cols)
        .map(|(v, (_, ty))| v.param(*ty))
        .collect()
}

fn refs(p: &[Box<dyn ToSql + Sync + Send>]) -> Vec<&(dyn ToSql + Sync)> {
    p.iter()
        .map(|b| b.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

/// Reads a whole stream from `input` and adds it to the team ledger in one transaction (see
/// the module header for what "adds" means). A stream that is not valid writes nothing.
pub fn import(pg: &PgLedger, input: impl BufRead) -> Result<Imported> {
    let stream = parse(input)?;
    let rows = stream.rows.iter().map(Vec::len).sum::<usize>() as u64;
    let col = |t: &Table, name: &str| {
        t.cols
            .iter()
            .position(|(c, _)| *c == name)
            .expect("a known column")
    };
    let (u_key, u_day) = (col(&USAGE, "key_id"), col(&USAGE, "day"));
    let (r_inst, r_key, r_start, r_kind, r_state) = (
        col(&REQUESTS, "instance_id"),
        col(&REQUESTS, "key_id"),
        col(&REQUESTS, "started_ms"),
        col(&REQUESTS, "kind"),
        col(&REQUESTS, "state"),
    );
    let mut touched: Vec<String> = stream.rows[2]
        .iter()
        .map(|r| r[u_key].text().to_string())
        .chain(stream.rows[3].iter().map(|r| r[r_key].text().to_string()))
        .collect();
    touched.sort();
    touched.dedup();
    let mut instances: Vec<String> = stream.rows[3]
        .iter()
        .map(|r| r[r_inst].text().to_string())
        .collect();
    instances.sort();
    instances.dedup();

    pg_tx!(pg, |tx| {
        let mut done = Imported {
            rows,
            ..Imported::default()
        };
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&IMPORT_LOCK])
            .await?;
        // `keywheel_imports` is part of the schema (migration 11): an import creates nothing,
        // so the role every machine runs as imports too.

        // Keys and accounts: the team's rows win.
        for (t, added) in [(&KEYS, &mut done.keys), (&ACCOUNTS, &mut done.accounts)] {
            let pk = t.cols[0].0;
            let stmt = tx
                .prepare(&insert_sql(t, &format!(" ON CONFLICT ({pk}) DO NOTHING")))
                .await?;
            let i = if t.kind == "key" { 0 } else { 1 };
            for row in &stream.rows[i] {
                let p = params(row, t);
                *added += tx.execute(&stmt, &refs(&p)).await?;
            }
        }

        // Day totals bear on caps: lock the keys' rows first, in id order, as a reservation does.
        tx.query(
            "SELECT id FROM keys WHERE id = ANY($1) ORDER BY id FOR UPDATE",
            &[&touched],
        )
        .await?;
        let names: Vec<&str> = USAGE.cols[SUMS..].iter().map(|(c, _)| *c).collect();
        let before = tx
            .prepare(&format!(
                "SELECT {} FROM keywheel_imports WHERE source = $1 AND key_id = $2 AND day = $3",
                names.join(", ")
            ))
            .await?;
        let add = tx
            .prepare(&format!(
                "{} ON CONFLICT (key_id, day) DO UPDATE SET {}",
                insert_sql(&USAGE, ""),
                names
                    .iter()
                    .map(|c| format!("{c} = usage_daily.{c} + EXCLUDED.{c}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .await?;
        let remember = tx
            .prepare(&format!(
                "INSERT INTO keywheel_imports (source, key_id, day, {cols})
                 VALUES ($1, $2, $3, {vals})
                 ON CONFLICT (source, key_id, day) DO UPDATE SET {set}",
                cols = names.join(", "),
                vals = (4..4 + names.len())
                    .map(|i| format!("${i}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                set = names
                    .iter()
                    .map(|c| format!("{c} = EXCLUDED.{c}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .await?;
        for row in &stream.rows[2] {
            let (key, day) = (row[u_key].text(), row[u_day].text());
            let prev = tx.query_opt(&before, &[&stream.source, &key, &day]).await?;
            // What this source did not bring before; never negative.
            let mut delta = row.clone();
            let mut changed = false;
            for (j, (_, ty)) in USAGE.cols.iter().enumerate().skip(SUMS) {
                let k = j - SUMS;
                if *ty == Real {
                    let was: f64 = prev.as_ref().map_or(0.0, |p| p.get(k));
                    let d = (row[j].real() - was).max(0.0);
                    changed |= d > 0.0;
                    delta[j] = Val::Real(d);
                } else {
                    let was: i64 = prev.as_ref().map_or(0, |p| p.get(k));
                    let d = (row[j].int() - was).max(0);
                    changed |= d > 0;
                    delta[j] = Val::Int(d);
                }
            }
            if changed {
                let p = params(&delta, &USAGE);
                tx.execute(&add, &refs(&p)).await?;
                done.usage += 1;
            }
            let mut p: Vec<Box<dyn ToSql + Sync + Send>> = vec![
                Box::new(stream.source.clone()),
                Box::new(key.to_string()),
                Box::new(day.to_string()),
            ];
            for (j, (_, ty)) in USAGE.cols.iter().enumerate().skip(SUMS) {
                p.push(match ty {
                    Real => Box::new(row[j].real()),
                    _ => Box::new(row[j].int()),
                });
            }
            tx.execute(&remember, &refs(&p)).await?;
        }

        // Request rows: as many per (instance, key, start, kind) as the stream has.
        let held = tx
            .query(
                "SELECT instance_id, key_id, started_ms, kind, COUNT(*) FROM requests
                 WHERE instance_id = ANY($1) GROUP BY 1, 2, 3, 4",
                &[&instances],
            )
            .await?;
        let mut have: HashMap<(String, String, i64, String), i64> = held
            .iter()
            .map(|r| ((r.get(0), r.get(1), r.get(2), r.get(3)), r.get(4)))
            .collect();
        let insert = tx.prepare(&insert_sql(&REQUESTS, "")).await?;
        let mut new_rows = Vec::new();
        for row in &stream.rows[3] {
            let id = (
                row[r_inst].text().to_string(),
                row[r_key].text().to_string(),
                row[r_start].int(),
                row[r_kind].text().to_string(),
            );
            let left = have.entry(id).or_insert(0);
            if *left > 0 {
                *left -= 1;
                continue;
            }
            let mut row = row.clone();
            if row[r_state].text() == "reserved" {
                row[r_state] = Val::Text("abandoned".into());
            }
            new_rows.push(params(&row, &REQUESTS));
        }
        // Pipelined: a batch of inserts goes out before their answers come back.
        for batch in new_rows.chunks(PIPELINE) {
            let sent = batch.iter().map(|p| {
                let (insert, values) = (&insert, refs(p));
                async move { tx.execute(insert, &values).await }
            });
            futures_util::future::try_join_all(sent).await?;
        }
        done.requests = new_rows.len() as u64;

        // Days whose rows that machine pruned come from the day totals, as on its own ledger.
        if let Some(day) = &stream.pruned_before_day {
            tx.execute(
                "UPDATE pool_state SET pruned_before_day = $1
                 WHERE singleton = 1 AND (pruned_before_day IS NULL OR pruned_before_day < $1)",
                &[day],
            )
            .await?;
        }
        Ok(done)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> String {
        format!(r#"{{"type":"header","format":"{FORMAT}","version":1,"source":"abc"}}"#)
    }

    #[test]
    fn a_stream_without_its_end_line_is_refused_as_cut_short() {
        let text = format!(
            "{}\n{}\n",
            header(),
            r#"{"type":"account","name":"team","no_credit":false,"extra_requests":0}"#
        );
        let e = parse(text.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("cut short"), "{e}");
        assert_eq!(e.exit_code(), 6);
    }

    #[test]
    fn wrong_types_unknown_lines_and_other_files_are_named() {
        let e = parse("hello\n".as_bytes()).unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
        let text = format!(
            "{}\n{}\n",
            header(),
            r#"{"type":"usage","key_id":"k","day":"2026-01-01","requests":"3"}"#
        );
        let e = parse(text.as_bytes()).unwrap_err();
        assert!(
            e.to_string().contains("\"requests\" should be an integer"),
            "{e}"
        );
        let text = format!("{}\n{}\n", header(), r#"{"type":"secret"}"#);
        let e = parse(text.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("unknown line type"), "{e}");
        let text = format!("{}\n{}\n", header(), r#"{"type":"end","rows":3}"#);
        let e = parse(text.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("says 3 rows"), "{e}");
    }

    #[test]
    fn a_stream_holding_a_key_is_refused() {
        let key = format!("sk-or-v1-{}", "ab".repeat(32));
        let text = format!(
            "{}\n{{\"type\":\"key\",\"id\":\"x\",\"masked\":\"{key}\"}}\n{}\n",
            header(),
            r#"{"type":"end","rows":1}"#
        );
        let e = parse(text.as_bytes()).unwrap_err();
        assert!(
            e.to_string().contains("looks like an OpenRouter key"),
            "{e}"
        );
        assert!(!e.to_string().contains(&key), "{e}");
    }
}
