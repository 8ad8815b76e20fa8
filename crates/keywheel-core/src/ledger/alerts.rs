//! Alert rows: fired at most once per (UTC day, rule, subject) across every process.

use chrono::{DateTime, Utc};
use rusqlite::params;
use serde::{Deserialize, Serialize};

use super::Ledger;
use crate::clock::{day_key, from_millis};
use crate::error::Result;

/// A fired alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AlertRow {
    /// UTC day it fired on.
    pub day: String,
    /// Rule name.
    pub rule: String,
    /// Key id, account or `pool`.
    pub subject: String,
    /// When.
    pub at: DateTime<Utc>,
    /// The sentence.
    pub message: String,
}

impl Ledger {
    /// Records an alert unless the same (day, rule, subject) already fired. Returns `true`
    /// only for the one caller that fired it.
    pub fn fire_alert(
        &self,
        rule: &str,
        subject: &str,
        message: &str,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        if let Some(pg) = self.pg() {
            return pg.fire_alert(rule, subject, message, now);
        }
        self.write(|tx| {
            let n = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO alerts (day, rule, subject, created_ms, message) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![day_key(now), rule, subject, now.timestamp_millis(), message])?;
            Ok(n == 1)
        })
    }

    /// Alerts of the last `days` UTC days, newest first.
    pub fn alerts(&self, days: u32, now: DateTime<Utc>) -> Result<Vec<AlertRow>> {
        if let Some(pg) = self.pg() {
            return pg.alerts(days, now);
        }
        let first = day_key(now - chrono::Duration::days(i64::from(days.max(1)) - 1));
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT day, rule, subject, created_ms, message FROM alerts WHERE day >= ?1 ORDER BY created_ms DESC, id DESC",
        )?;
        let rows = stmt
            .query_map([first], |r| {
                Ok(AlertRow {
                    day: r.get(0)?,
                    rule: r.get(1)?,
                    subject: r.get(2)?,
                    at: from_millis(r.get(3)?),
                    message: r.get(4)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }
}
