//! Retention on the team ledger (the statements of ledger/retention.rs): at start at most one
//! machine an hour prunes, claimed with one conditional `UPDATE`; an explicit
//! [`crate::ledger::Ledger::prune`] always does. Old rows go in batches; day totals stay.

use chrono::{DateTime, Utc};

use super::{PgLedger, pg_tx};
use crate::clock::day_key;
use crate::error::Result;
use crate::ledger::retention::{BATCH, PRUNE_EVERY_MS, Pruned, cutoff};

/// One pruning step: the batched DELETE, its cut-off, and the counter it adds to.
type Step = (
    &'static str,
    Box<dyn tokio_postgres::types::ToSql + Sync + Send>,
    fn(&mut Pruned) -> &mut usize,
);

impl PgLedger {
    /// [`crate::ledger::Ledger::prune_at_start`] on the team ledger.
    pub(crate) fn prune_at_start(
        &self,
        now: DateTime<Utc>,
        retention_days: u32,
    ) -> Result<Option<Pruned>> {
        let now_ms = self.now_ms(now)?;
        let cut = cutoff(crate::clock::from_millis(now_ms), retention_days);
        let (cut_ms, cut_day) = (cut.timestamp_millis(), day_key(cut));
        // A time from the future (a clock stepped back) does not hold pruning off.
        let claimed = pg_tx!(self, |tx| {
            Ok(tx
                .execute(
                    "UPDATE pool_state SET pruned_ms = $1,
                       pruned_before_day = GREATEST(COALESCE(pruned_before_day, ''), $2)
                     WHERE singleton = 1
                       AND (pruned_ms IS NULL OR pruned_ms > $1 OR $1 - pruned_ms >= $3)",
                    &[&now_ms, &cut_day, &PRUNE_EVERY_MS],
                )
                .await?
                == 1)
        })?;
        if !claimed {
            return Ok(None);
        }
        self.prune_rows(now_ms, cut_ms, cut_day).map(Some)
    }

    /// [`crate::ledger::Ledger::prune`] on the team ledger: now, whoever pruned last.
    pub(crate) fn prune(&self, now: DateTime<Utc>, retention_days: u32) -> Result<Pruned> {
        let now_ms = self.now_ms(now)?;
        let cut = cutoff(crate::clock::from_millis(now_ms), retention_days);
        let (cut_ms, cut_day) = (cut.timestamp_millis(), day_key(cut));
        pg_tx!(self, idempotent, |tx| {
            tx.execute(
                "UPDATE pool_state SET pruned_ms = $1,
                   pruned_before_day = GREATEST(COALESCE(pruned_before_day, ''), $2)
                 WHERE singleton = 1",
                &[&now_ms, &cut_day],
            )
            .await?;
            Ok(())
        })?;
        self.prune_rows(now_ms, cut_ms, cut_day)
    }

    /// Deletes the rows before the cut (and expired cache entries), in batches.
    fn prune_rows(&self, now_ms: i64, cut_ms: i64, cut_day: String) -> Result<Pruned> {
        let mut done = Pruned::default();
        let steps: [Step; 5] = [
            (
                "DELETE FROM requests WHERE id IN (SELECT id FROM requests WHERE started_ms < $1 LIMIT $2)",
                Box::new(cut_ms),
                |p| &mut p.requests,
            ),
            (
                "DELETE FROM ocr_jobs WHERE id IN
                   (SELECT id FROM ocr_jobs WHERE updated_ms < $1 AND status != 'running' LIMIT $2)",
                Box::new(cut_ms),
                |p| &mut p.jobs,
            ),
            (
                "DELETE FROM alerts WHERE id IN (SELECT id FROM alerts WHERE created_ms < $1 LIMIT $2)",
                Box::new(cut_ms),
                |p| &mut p.alerts,
            ),
            (
                "DELETE FROM model_skips WHERE (model, day) IN
                   (SELECT model, day FROM model_skips WHERE day < $1 LIMIT $2)",
                Box::new(cut_day.clone()),
                |p| &mut p.skips,
            ),
            (
                "DELETE FROM response_cache WHERE hash IN
                   (SELECT hash FROM response_cache WHERE expires_ms <= $1 LIMIT $2)",
                Box::new(now_ms),
                |p| &mut p.cache,
            ),
        ];
        let batch = BATCH as i64;
        for (sql, arg, slot) in &steps {
            loop {
                // Idempotent: a batch run twice deletes what is left.
                let n = pg_tx!(self, idempotent, |tx| {
                    Ok(tx.execute(*sql, &[arg.as_ref(), &batch]).await?)
                })?;
                done.batches += 1;
                let n = usize::try_from(n).unwrap_or(usize::MAX);
                *slot(&mut done) += n;
                if n < BATCH {
                    break;
                }
            }
        }
        if done.total() > 0 {
            tracing::info!(requests = done.requests, before = %cut_day, "pruned old team-ledger rows");
        }
        Ok(done)
    }
}
