//! Alert rows on the team ledger: fired at most once per (UTC day, rule, subject) team-wide,
//! by the table's UNIQUE constraint (`INSERT … ON CONFLICT DO NOTHING`), as ledger/alerts.rs.

use chrono::{DateTime, Utc};

use super::{PgLedger, pg_read, pg_tx};
use crate::clock::{day_key, from_millis};
use crate::error::Result;
use crate::ledger::alerts::AlertRow;

impl PgLedger {
    /// [`crate::ledger::Ledger::fire_alert`] on the team ledger.
    pub(crate) fn fire_alert(
        &self,
        rule: &str,
        subject: &str,
        message: &str,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let day = day_key(now);
        let at = now.timestamp_millis();
        pg_tx!(self, |tx| {
            let n = tx
                .execute(
                    "INSERT INTO alerts (day, rule, subject, created_ms, message)
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (day, rule, subject) DO NOTHING",
                    &[&day, &rule, &subject, &at, &message],
                )
                .await?;
            Ok(n == 1)
        })
    }

    /// [`crate::ledger::Ledger::alerts`] on the team ledger.
    pub(crate) fn alerts(&self, days: u32, now: DateTime<Utc>) -> Result<Vec<AlertRow>> {
        let first = day_key(now - chrono::Duration::days(i64::from(days.max(1)) - 1));
        pg_read!(self, |c| {
            let rows = c
                .query(
                    "SELECT day, rule, subject, created_ms, message FROM alerts WHERE day >= $1
                     ORDER BY created_ms DESC, id DESC",
                    &[&first],
                )
                .await?;
            Ok(rows
                .iter()
                .map(|r| AlertRow {
                    day: r.get(0),
                    rule: r.get(1),
                    subject: r.get(2),
                    at: from_millis(r.get(3)),
                    message: r.get(4),
                })
                .collect())
        })
    }
}
