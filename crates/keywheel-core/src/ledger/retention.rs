//! Retention: what the ledger forgets, and when.
//!
//! Request rows, OCR jobs, alerts and model skips older than `retention_days` (a setting,
//! 90 by default) are deleted at start, in batches of [`BATCH`] rows per transaction so no
//! process waits long for the write lock; response-cache entries go once their TTL has passed.
//! Per-key per-day totals are never pruned: `usage_daily` keeps every day, and usage views read
//! days whose rows are gone from it. The cut is at a UTC midnight, so a day is either whole or
//! gone, and `pool_state.pruned_before_day` records where it is (the consistency check starts
//! there). A process prunes at most once an hour ([`PRUNE_EVERY_MS`]).

use chrono::{DateTime, Duration, Utc};
use rusqlite::{OptionalExtension, params};

use super::Ledger;
use crate::clock::{day_key, utc_day};
use crate::error::Result;

/// Rows deleted per transaction.
pub const BATCH: usize = 2_000;

/// Pruning runs at most this often across all processes (1 h).
pub const PRUNE_EVERY_MS: i64 = 3_600_000;

/// What one pruning pass deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Request rows.
    pub requests: usize,
    /// OCR job rows.
    pub jobs: usize,
    /// Alert rows.
    pub alerts: usize,
    /// Model skips.
    pub skips: usize,
    /// Expired response-cache entries.
    pub cache: usize,
    /// Transactions used.
    pub batches: usize,
}

impl Pruned {
    /// Rows deleted in all.
    pub fn total(&self) -> usize {
        self.requests + self.jobs + self.alerts + self.skips + self.cache
    }
}

/// One pruning step: the batched DELETE, its cut-off, and the counter it adds to.
type Step<'a> = (
    &'a str,
    &'a dyn rusqlite::ToSql,
    fn(&mut Pruned) -> &mut usize,
);

/// The first UTC midnight kept: `retention_days` days before today's.
pub fn cutoff(now: DateTime<Utc>, retention_days: u32) -> DateTime<Utc> {
    let day = utc_day(now) - Duration::days(i64::from(retention_days));
    day.and_hms_opt(0, 0, 0).expect("midnight").and_utc()
}

impl Ledger {
    /// Prunes at start unless some process did within the last hour. Returns what went
    /// (`None`: skipped).
    pub fn prune_at_start(
        &self,
        now: DateTime<Utc>,
        retention_days: u32,
    ) -> Result<Option<Pruned>> {
        if let Some(pg) = self.pg() {
            return pg.prune_at_start(now, retention_days);
        }
        let now_ms = now.timestamp_millis();
        let last: Option<i64> = self.read(|tx| {
            Ok(tx
                .query_row(
                    "SELECT pruned_ms FROM pool_state WHERE singleton = 1",
                    [],
                    |r| r.get(0),
                )
                .optional()?
                .flatten())
        })?;
        // A time from the future (the clock stepped back) does not hold pruning off.
        if last.is_some_and(|t| t <= now_ms && now_ms - t < PRUNE_EVERY_MS) {
            return Ok(None);
        }
        self.prune(now, retention_days).map(Some)
    }

    /// Deletes what is older than `retention_days` (and expired cache entries), in batches.
    pub fn prune(&self, now: DateTime<Utc>, retention_days: u32) -> Result<Pruned> {
        if let Some(pg) = self.pg() {
            return pg.prune(now, retention_days);
        }
        let cut = cutoff(now, retention_days);
        let cut_ms = cut.timestamp_millis();
        let cut_day = day_key(cut);
        let now_ms = now.timestamp_millis();
        let mut done = Pruned::default();
        self.write(|tx| {
            tx.execute(
                "UPDATE pool_state SET pruned_ms = ?1,
                   pruned_before_day = MAX(COALESCE(pruned_before_day, ''), ?2)
                 WHERE singleton = 1",
                params![now_ms, cut_day],
            )?;
            Ok(())
        })?;
        // Request rows: first every row below the first id that can have started after the
        // cut (a range of the primary key), then rows written since with an older time (a
        // clock that stepped back), which only a scan finds. The batch that finds the last of
        // them also forgets the pruned hours (`request_hours`): no row is left in them. Every
        // request row's hour is in `request_hours`, so when no hour before the cut is, no row
        // is old and neither step runs (the usual case: the scan runs when the cut moves on).
        let old_hours: bool = self.read(|tx| {
            Ok(tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM request_hours WHERE hour < ?1 / ?2)",
                params![cut_ms, super::request_log::HOUR_MS],
                |r| r.get(0),
            )?)
        })?;
        let older = format!(
            "DELETE FROM requests WHERE id IN
               (SELECT id FROM requests WHERE id < COALESCE({}, 9223372036854775807)
                  AND started_ms < ?1 LIMIT ?2)",
            super::request_log::since_id("?1")
        );
        let stragglers = "DELETE FROM requests WHERE id IN
               (SELECT id FROM requests WHERE started_ms < ?1 LIMIT ?2)";
        for sql in [older.as_str(), stragglers]
            .into_iter()
            .filter(|_| old_hours)
        {
            loop {
                let n = self.write(|tx| {
                    let n = tx.execute(sql, params![cut_ms, BATCH as i64])?;
                    if sql == stragglers && n < BATCH {
                        tx.execute(
                            "DELETE FROM request_hours WHERE hour < ?1 / ?2",
                            params![cut_ms, super::request_log::HOUR_MS],
                        )?;
                    }
                    Ok(n)
                })?;
                done.batches += 1;
                done.requests += n;
                if n < BATCH {
                    break;
                }
            }
        }
        let steps: [Step<'_>; 4] = [
            (
                "DELETE FROM ocr_jobs WHERE id IN
                   (SELECT id FROM ocr_jobs WHERE updated_ms < ?1 AND status != 'running' LIMIT ?2)",
                &cut_ms,
                |p| &mut p.jobs,
            ),
            (
                "DELETE FROM alerts WHERE id IN
                   (SELECT id FROM alerts WHERE created_ms < ?1 LIMIT ?2)",
                &cut_ms,
                |p| &mut p.alerts,
            ),
            (
                "DELETE FROM model_skips WHERE (model, day) IN
                   (SELECT model, day FROM model_skips WHERE day < ?1 LIMIT ?2)",
                &cut_day,
                |p| &mut p.skips,
            ),
            (
                "DELETE FROM response_cache WHERE hash IN
                   (SELECT hash FROM response_cache WHERE expires_ms <= ?1 LIMIT ?2)",
                &now_ms,
                |p| &mut p.cache,
            ),
        ];
        for (sql, arg, slot) in steps {
            loop {
                let n = self.write(|tx| Ok(tx.execute(sql, params![arg, BATCH as i64])?))?;
                done.batches += 1;
                *slot(&mut done) += n;
                if n < BATCH {
                    break;
                }
            }
        }
        if done.total() > 0 {
            tracing::info!(
                requests = done.requests,
                jobs = done.jobs,
                alerts = done.alerts,
                skips = done.skips,
                cache = done.cache,
                before = %cut_day,
                "pruned old ledger rows"
            );
        }
        Ok(done)
    }

    /// The first UTC day whose request rows are all still there (`None`: nothing pruned yet).
    pub fn pruned_before_day(&self) -> Result<Option<String>> {
        if let Some(pg) = self.pg() {
            return pg.pruned_before_day();
        }
        let conn = self.conn()?;
        Ok(conn
            .query_row(
                "SELECT pruned_before_day FROM pool_state WHERE singleton = 1",
                [],
                |r| r.get(0),
            )
            .optional()?
            .flatten())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use crate::clock::FakeClock;
    use crate::ledger::CapDefaults;
    use crate::ledger::request_log::GroupBy;

    fn ledger() -> (tempfile::TempDir, Ledger) {
        let dir = tempfile::tempdir().unwrap();
        let l = Ledger::open(&dir.path().join("l.sqlite3"), CapDefaults::default()).unwrap();
        (dir, l)
    }

    /// `n` answered requests of key `k` at `at`, counted in usage_daily as reserve() would.
    fn requests(l: &Ledger, k: &str, at: DateTime<Utc>, n: usize) {
        let conn = l.conn().unwrap();
        let day = day_key(at);
        for i in 0..n {
            conn.execute(
                "INSERT INTO requests (instance_id, key_id, account, day, started_ms, state, kind, latency_ms)
                 VALUES ('i', ?1, ?1, ?2, ?3, 'done', 'chat', 100)",
                params![k, day, at.timestamp_millis() + i as i64],
            )
            .unwrap();
        }
        conn.execute(
            "INSERT INTO usage_daily (key_id, day, requests, successes) VALUES (?1, ?2, ?3, ?3)
             ON CONFLICT(key_id, day) DO UPDATE SET requests = requests + ?3, successes = successes + ?3",
            params![k, day, n as i64],
        )
        .unwrap();
    }

    fn count(l: &Ledger, table: &str) -> i64 {
        l.conn()
            .unwrap()
            .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn old_rows_go_in_batches_and_day_totals_stay() {
        let (_d, l) = ledger();
        let clock = FakeClock::at(2026, 6, 1, 12, 0, 0);
        let now = clock.now();
        let old = now - Duration::days(100);
        requests(&l, "aaaaaaaaaaaa", old, BATCH * 2 + 7);
        requests(&l, "aaaaaaaaaaaa", now - Duration::days(3), 4);
        requests(&l, "bbbbbbbbbbbb", now, 2);
        let conn = l.conn().unwrap();
        for (sql, at) in [
            (
                "INSERT INTO alerts (day, rule, subject, created_ms, message) VALUES ('x', 'r', 's', ?1, 'm')",
                old,
            ),
            (
                "INSERT INTO alerts (day, rule, subject, created_ms, message) VALUES ('y', 'r', 's', ?1, 'm')",
                now,
            ),
            (
                "INSERT INTO response_cache (hash, kind, created_ms, expires_ms, body) VALUES ('h1', 'chat', 0, ?1, '{}')",
                now - Duration::hours(1),
            ),
            (
                "INSERT INTO response_cache (hash, kind, created_ms, expires_ms, body) VALUES ('h2', 'chat', 0, ?1, '{}')",
                now + Duration::hours(1),
            ),
            (
                "INSERT INTO ocr_jobs (content_hash, tile_index, tiles, chain, file, status, created_ms, updated_ms) VALUES ('c', 0, 1, 'm', 'f', 'done', ?1, ?1)",
                old,
            ),
            (
                "INSERT INTO ocr_jobs (content_hash, tile_index, tiles, chain, file, status, created_ms, updated_ms) VALUES ('d', 0, 1, 'm', 'f', 'done', ?1, ?1)",
                now,
            ),
        ] {
            conn.execute(sql, [at.timestamp_millis()]).unwrap();
        }
        conn.execute(
            "INSERT INTO model_skips (model, day) VALUES ('m', ?1), ('m', ?2)",
            [day_key(old), day_key(now)],
        )
        .unwrap();
        drop(conn);
        let before = l.aggregates(120, GroupBy::Key, now).unwrap();

        let p = l
            .prune_at_start(now, 90)
            .unwrap()
            .expect("first start prunes");
        assert_eq!(
            (p.requests, p.jobs, p.alerts, p.skips, p.cache),
            (BATCH * 2 + 7, 1, 1, 1, 1)
        );
        assert!(p.batches >= 3 + 4, "bounded batches: {p:?}");
        assert_eq!(count(&l, "requests"), 6);
        assert_eq!((count(&l, "alerts"), count(&l, "ocr_jobs")), (1, 1));
        assert_eq!(
            (count(&l, "model_skips"), count(&l, "response_cache")),
            (1, 1)
        );
        assert_eq!(
            l.pruned_before_day().unwrap().as_deref(),
            Some("2026-03-03")
        );

        // The day totals survive, the invariant still holds, the views still show the old day.
        assert!(l.inconsistencies().unwrap().is_empty());
        let usage = l.daily_usage(120, now).unwrap();
        assert_eq!(
            usage.iter().map(|u| u.requests).sum::<u32>(),
            (BATCH * 2 + 7 + 6) as u32
        );
        let after = l.aggregates(120, GroupBy::Key, now).unwrap();
        assert_eq!(after.len(), before.len());
        for (a, b) in after.iter().zip(&before) {
            assert_eq!(
                (&a.day, &a.subject, a.requests, a.successes),
                (&b.day, &b.subject, b.requests, b.successes)
            );
        }

        // Within the hour nobody prunes again; later only the cache entry that expired since goes.
        assert_eq!(
            l.prune_at_start(now + Duration::minutes(30), 90).unwrap(),
            None
        );
        let again = l
            .prune_at_start(now + Duration::hours(2), 90)
            .unwrap()
            .unwrap();
        assert_eq!((again.total(), again.cache), (1, 1));
    }

    #[test]
    fn today_is_read_by_time_not_by_day_label() {
        let (_d, l) = ledger();
        let now = FakeClock::at(2026, 6, 1, 12, 0, 0).now();
        requests(&l, "aaaaaaaaaaaa", now - Duration::hours(1), 1);
        // A row whose day label disagrees with its time: only a scan by day would miss it.
        l.conn()
            .unwrap()
            .execute("UPDATE requests SET day = '1999-01-01'", [])
            .unwrap();
        let firsts = l.first_requests_today(now).unwrap();
        assert_eq!(firsts.len(), 1);
        assert_eq!(firsts[0].2, now - Duration::hours(1));
        assert_eq!(l.aggregates(1, GroupBy::Key, now).unwrap().len(), 1);
    }
}
