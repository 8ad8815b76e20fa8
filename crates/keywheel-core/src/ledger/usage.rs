//! Read-side queries over the ledger: per-key per-UTC-day usage and consistency checks.
//!
//! Queries over request rows read a `started_ms` range (from the first id that can be in it,
//! `request_log::since_id`), never a scan by `day`.
//! Days before the retention cut (ledger/retention.rs) live only in `usage_daily`.

use chrono::{DateTime, Duration, Utc};
use rusqlite::{Connection, params};
use serde::Serialize;

use super::Ledger;
use super::request_log::since_id;
use crate::clock::day_key;
use crate::error::Result;
use crate::keys::KeyId;

/// One key's usage on one UTC day.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DayUsage {
    /// Key id.
    pub key_id: KeyId,
    /// UTC day, `YYYY-MM-DD`.
    pub day: String,
    /// Requests counted (reserved) that day.
    pub requests: u32,
    /// Of which answered.
    pub successes: u32,
    /// Of which failed.
    pub errors: u32,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens (including reasoning).
    pub completion_tokens: u64,
    /// Reasoning tokens.
    pub reasoning_tokens: u64,
    /// Cost in credits (USD).
    pub cost: f64,
}

impl Ledger {
    /// Usage per key per day for the last `days` UTC days (today included), oldest first.
    pub fn daily_usage(&self, days: u32, now: DateTime<Utc>) -> Result<Vec<DayUsage>> {
        if let Some(pg) = self.pg() {
            return pg.daily_usage(days, now);
        }
        let first = day_key(now - Duration::days(i64::from(days.max(1)) - 1));
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT key_id, day, requests, successes, errors, prompt_tokens, completion_tokens,
                    reasoning_tokens, cost
             FROM usage_daily WHERE day >= ?1 ORDER BY day, key_id",
        )?;
        let rows = stmt
            .query_map([first], |r| {
                Ok(DayUsage {
                    key_id: KeyId::from_stored(r.get::<_, String>(0)?),
                    day: r.get(1)?,
                    requests: r.get(2)?,
                    successes: r.get(3)?,
                    errors: r.get(4)?,
                    prompt_tokens: r.get(5)?,
                    completion_tokens: r.get(6)?,
                    reasoning_tokens: r.get(7)?,
                    cost: r.get(8)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Requests counted today for one key.
    pub fn requests_today(&self, key: &KeyId, now: DateTime<Utc>) -> Result<u32> {
        if let Some(pg) = self.pg() {
            return pg.requests_today(key, now);
        }
        let conn = self.conn()?;
        let n = conn
            .prepare_cached("SELECT COALESCE((SELECT requests FROM usage_daily WHERE key_id = ?1 AND day = ?2), 0)")?
            .query_row(params![key.as_str(), day_key(now)], |r| r.get(0))?;
        Ok(n)
    }

    /// Checks the ledger's invariant: every day counter equals its uncached request rows
    /// (from the retention cut on: older days have no rows left). Returns the (key, day,
    /// counter, rows) that disagree — empty when consistent.
    pub fn inconsistencies(&self) -> Result<Vec<(String, String, i64, i64)>> {
        if let Some(pg) = self.pg() {
            return pg.inconsistencies();
        }
        let conn = self.conn()?;
        let mut stmt = conn.prepare(
            "WITH rows AS (SELECT key_id, day, COUNT(*) AS n FROM requests WHERE cached = 0 GROUP BY key_id, day)
             SELECT u.key_id, u.day, u.requests, COALESCE(r.n, 0) FROM usage_daily u
               LEFT JOIN rows r ON r.key_id = u.key_id AND r.day = u.day
               WHERE u.requests != COALESCE(r.n, 0)
                 AND u.day >= COALESCE((SELECT pruned_before_day FROM pool_state), '')
             UNION ALL
             SELECT r.key_id, r.day, 0, r.n FROM rows r
               WHERE NOT EXISTS (SELECT 1 FROM usage_daily u WHERE u.key_id = r.key_id AND u.day = r.day)",
        )?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }
}

impl Ledger {
    /// When each key made its first request today (for forecasts). Reads today's
    /// `started_ms` range, from the first request id that can be in it.
    pub fn first_requests_today(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, String, DateTime<Utc>)>> {
        if let Some(pg) = self.pg() {
            return pg.first_requests_today(now);
        }
        let (from, to) = day_range_ms(now);
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT key_id, account, MIN(started_ms) FROM requests
             WHERE id >= {} AND started_ms >= ?1 AND started_ms < ?2 AND cached = 0 GROUP BY key_id",
            since_id("?1")
        ))?;
        let rows = stmt
            .query_map([from, to], |r| {
                Ok((r.get(0)?, r.get(1)?, crate::clock::from_millis(r.get(2)?)))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }
}

/// Today's UTC day as a `[midnight, next midnight)` range in ms.
pub(crate) fn day_range_ms(now: DateTime<Utc>) -> (i64, i64) {
    let midnight = crate::clock::utc_day(now)
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc();
    (
        midnight.timestamp_millis(),
        crate::clock::next_utc_midnight(now).timestamp_millis(),
    )
}

impl Ledger {
    /// Of a key's last `n` completed (uncached) requests today: how many there are and how
    /// many failed. What the error-spike alert reads after every request: the last minutes'
    /// rows first (a range of the primary key), widening to the whole day only when the key
    /// was quiet.
    pub fn recent_failures(&self, key: &KeyId, n: u32, now: DateTime<Utc>) -> Result<(u32, u32)> {
        if let Some(pg) = self.pg() {
            return pg.recent_failures(key, n, now);
        }
        self.read(|tx| recent_failures_in(tx, key, n, now))
    }
}

/// [`Ledger::recent_failures`] inside a transaction already open on `tx`.
pub(crate) fn recent_failures_in(
    tx: &Connection,
    key: &KeyId,
    n: u32,
    now: DateTime<Utc>,
) -> Result<(u32, u32)> {
    let (day_from, to) = day_range_ms(now);
    let now_ms = now.timestamp_millis();
    // `n` is a literal, not a bound parameter: SQLite expires a cached statement whose LIMIT
    // parameter is rebound, so `LIMIT ?` re-prepared this read after every request.
    let sql = format!(
        "SELECT COUNT(*), COALESCE(SUM(state = 'failed'), 0) FROM (
           SELECT state FROM requests
           WHERE id >= {} AND started_ms >= ?2 AND started_ms < ?3 AND key_id = ?1
             AND cached = 0 AND state IN ('done', 'failed')
           ORDER BY started_ms DESC LIMIT {n})",
        since_id("?2")
    );
    let mut stmt = tx.prepare_cached(&sql)?;
    // Each try that finds `n` is exact: the rows before its start rank after them.
    for span in RECENT_SPANS {
        let from = (now_ms - span).max(day_from);
        let (total, failed): (u32, u32) = stmt.query_row(params![key.as_str(), from, to], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
        if total >= n || from == day_from {
            return Ok((total, failed));
        }
    }
    let row = stmt.query_row(params![key.as_str(), day_from, to], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })?;
    Ok(row)
}

/// How far back (ms) [`Ledger::recent_failures`] looks before the whole day.
const RECENT_SPANS: [i64; 3] = [10 * 60_000, 3_600_000, 6 * 3_600_000];
