//! Read-side queries on the team ledger (the statements of ledger/usage.rs and the pool's
//! current key of ledger/rotation.rs).

use chrono::{DateTime, Duration, Utc};

use super::{PgLedger, count, pg_read};
use crate::clock::day_key;
use crate::error::Result;
use crate::keys::KeyId;
use crate::ledger::usage::DayUsage;

impl PgLedger {
    /// [`crate::ledger::Ledger::daily_usage`] on the team ledger.
    pub(crate) fn daily_usage(&self, days: u32, now: DateTime<Utc>) -> Result<Vec<DayUsage>> {
        let first = day_key(now - Duration::days(i64::from(days.max(1)) - 1));
        pg_read!(self, |c| {
            let rows = c
                .query(
                    "SELECT key_id, day, requests, successes, errors, prompt_tokens,
                                completion_tokens, reasoning_tokens, cost
                         FROM usage_daily WHERE day >= $1 ORDER BY day, key_id",
                    &[&first],
                )
                .await?;
            let wide = |v: i64| u64::try_from(v).unwrap_or(0);
            Ok(rows
                .iter()
                .map(|r| DayUsage {
                    key_id: KeyId::from_stored(r.get::<_, String>(0)),
                    day: r.get(1),
                    requests: count(r.get(2)),
                    successes: count(r.get(3)),
                    errors: count(r.get(4)),
                    prompt_tokens: wide(r.get(5)),
                    completion_tokens: wide(r.get(6)),
                    reasoning_tokens: wide(r.get(7)),
                    cost: r.get(8),
                })
                .collect())
        })
    }

    /// [`crate::ledger::Ledger::requests_today`] on the team ledger.
    pub(crate) fn requests_today(&self, key: &KeyId, now: DateTime<Utc>) -> Result<u32> {
        let day = day_key(now);
        pg_read!(self, |c| {
            let row = c
                .query_opt(
                    "SELECT requests FROM usage_daily WHERE key_id = $1 AND day = $2",
                    &[&key.as_str(), &day],
                )
                .await?;
            Ok(row.map_or(0, |r| count(r.get(0))))
        })
    }

    /// [`crate::ledger::Ledger::inconsistencies`] on the team ledger.
    pub(crate) fn inconsistencies(&self) -> Result<Vec<(String, String, i64, i64)>> {
        pg_read!(self, |c| {
            let rows = c
                    .query(
                        "WITH rows AS (SELECT key_id, day, COUNT(*) AS n FROM requests WHERE NOT cached GROUP BY key_id, day)
                         SELECT u.key_id, u.day, u.requests, COALESCE(r.n, 0) FROM usage_daily u
                           LEFT JOIN rows r ON r.key_id = u.key_id AND r.day = u.day
                           WHERE u.requests != COALESCE(r.n, 0)
                             AND u.day >= COALESCE((SELECT pruned_before_day FROM pool_state), '')
                         UNION ALL
                         SELECT r.key_id, r.day, 0, r.n FROM rows r
                           WHERE NOT EXISTS (SELECT 1 FROM usage_daily u WHERE u.key_id = r.key_id AND u.day = r.day)",
                        &[],
                    )
                    .await?;
            Ok(rows
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
                .collect())
        })
    }

    /// [`crate::ledger::Ledger::current_key`] on the team ledger.
    pub(crate) fn current_key(&self) -> Result<Option<KeyId>> {
        pg_read!(self, |c| {
            let row = c
                .query_opt(
                    "SELECT current_key FROM pool_state WHERE singleton = 1",
                    &[],
                )
                .await?;
            Ok(row
                .and_then(|r| r.get::<_, Option<String>>(0))
                .map(KeyId::from_stored))
        })
    }
}

impl PgLedger {
    /// [`crate::ledger::Ledger::first_requests_today`] on the team ledger.
    pub(crate) fn first_requests_today(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, String, DateTime<Utc>)>> {
        let (from, to) = crate::ledger::usage::day_range_ms(now);
        pg_read!(self, |c| {
            let rows = c
                .query(
                    "SELECT key_id, MIN(account), MIN(started_ms) FROM requests
                     WHERE started_ms >= $1 AND started_ms < $2 AND NOT cached GROUP BY key_id",
                    &[&from, &to],
                )
                .await?;
            Ok(rows
                .iter()
                .map(|r| (r.get(0), r.get(1), crate::clock::from_millis(r.get(2))))
                .collect())
        })
    }

    /// [`crate::ledger::Ledger::recent_failures`] on the team ledger.
    pub(crate) fn recent_failures(
        &self,
        key: &KeyId,
        n: u32,
        now: DateTime<Utc>,
    ) -> Result<(u32, u32)> {
        let (from, to) = crate::ledger::usage::day_range_ms(now);
        let n = i64::from(n);
        pg_read!(self, |c| {
            let r = c
                .query_one(
                    "SELECT COUNT(*), COUNT(*) FILTER (WHERE state = 'failed') FROM (
                       SELECT state FROM requests
                       WHERE key_id = $1 AND started_ms >= $2 AND started_ms < $4 AND NOT cached
                         AND state IN ('done', 'failed')
                       ORDER BY started_ms DESC LIMIT $3) recent",
                    &[&key.as_str(), &from, &n, &to],
                )
                .await?;
            Ok((count(r.get(0)), count(r.get(1))))
        })
    }
}
