//! The caches on the team ledger (the statements of ledger/cache.rs): the model catalogue
//! and the day's model skips are shared by the team; cache hits are logged (uncounted) in the
//! shared request log. The response cache is shared only when [`super::Options::team_cache`]
//! is on — it hands one person's OCR text and answers to another — and is off by default:
//! then nothing is cached on a team ledger (a miss every time, nothing stored), and nothing
//! goes to the local SQLite file either (docs/team.md).

use chrono::{DateTime, Duration, Utc};

use super::{PgLedger, pg_read, pg_tx};
use crate::clock::{day_key, from_millis};
use crate::error::Result;
use crate::keys::KeyId;

impl PgLedger {
    /// [`crate::ledger::Ledger::cache_get`] on the team ledger (`None` unless `team_cache`).
    pub(crate) fn cache_get(
        &self,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(String, Option<String>)>> {
        if !self.team_cache() {
            return Ok(None);
        }
        let now_ms = now.timestamp_millis();
        pg_read!(self, |c| {
            let row = c
                .query_opt(
                    "SELECT body, model FROM response_cache WHERE hash = $1 AND expires_ms > $2",
                    &[&hash, &now_ms],
                )
                .await?;
            Ok(row.map(|r| (r.get(0), r.get(1))))
        })
    }

    /// [`crate::ledger::Ledger::cache_put`] on the team ledger (nothing unless `team_cache`).
    pub(crate) fn cache_put(
        &self,
        hash: &str,
        kind: &str,
        model: Option<&str>,
        body: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<()> {
        if !self.team_cache() {
            return Ok(());
        }
        let now_ms = now.timestamp_millis();
        let expires = (now + ttl).timestamp_millis();
        pg_tx!(self, |tx| {
            tx.execute(
                "INSERT INTO response_cache (hash, kind, created_ms, expires_ms, model, body)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (hash) DO UPDATE SET created_ms = $3, expires_ms = $4, model = $5,
                   body = $6",
                &[&hash, &kind, &now_ms, &expires, &model, &body],
            )
            .await?;
            tx.execute(
                "DELETE FROM response_cache WHERE expires_ms <= $1",
                &[&now_ms],
            )
            .await?;
            Ok(())
        })
    }

    /// [`crate::ledger::Ledger::log_cached`] on the team ledger.
    pub(crate) fn log_cached(
        &self,
        instance_id: &str,
        key: Option<&KeyId>,
        kind: &str,
        model: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let key = key.map(KeyId::as_str).unwrap_or("");
        let day = day_key(now);
        let at = now.timestamp_millis();
        pg_tx!(self, |tx| {
            tx.execute(
                "INSERT INTO requests (instance_id, key_id, account, day, started_ms, finished_ms,
                                       state, kind, model_asked, model_answered, status_class,
                                       cached, latency_ms)
                 VALUES ($1, $2, '', $3, $4, $4, 'done', $5, $6, $6, 'cached', TRUE, 0)",
                &[&instance_id, &key, &day, &at, &kind, &model],
            )
            .await?;
            Ok(())
        })
    }

    /// [`crate::ledger::Ledger::models_snapshot`] on the team ledger.
    pub(crate) fn models_snapshot(&self) -> Result<Option<(DateTime<Utc>, String)>> {
        pg_read!(self, |c| {
            let row = c
                .query_opt(
                    "SELECT fetched_ms, body FROM models_cache WHERE singleton = 1",
                    &[],
                )
                .await?;
            Ok(row.map(|r| (from_millis(r.get(0)), r.get(1))))
        })
    }

    /// [`crate::ledger::Ledger::models_fetched`] on the team ledger.
    pub(crate) fn models_fetched(&self) -> Result<Option<DateTime<Utc>>> {
        pg_read!(self, |c| {
            let row = c
                .query_opt(
                    "SELECT fetched_ms FROM models_cache WHERE singleton = 1",
                    &[],
                )
                .await?;
            Ok(row.map(|r| from_millis(r.get(0))))
        })
    }

    /// [`crate::ledger::Ledger::models_store`] on the team ledger.
    pub(crate) fn models_store(&self, body: &str, now: DateTime<Utc>) -> Result<()> {
        let at = now.timestamp_millis();
        pg_tx!(self, |tx| {
            tx.execute(
                "INSERT INTO models_cache (singleton, fetched_ms, body) VALUES (1, $1, $2)
                 ON CONFLICT (singleton) DO UPDATE SET fetched_ms = $1, body = $2",
                &[&at, &body],
            )
            .await?;
            Ok(())
        })
    }

    /// [`crate::ledger::Ledger::skip_model_today`] on the team ledger.
    pub(crate) fn skip_model_today(
        &self,
        model: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let day = day_key(now);
        pg_tx!(self, |tx| {
            tx.execute(
                "INSERT INTO model_skips (model, day, reason) VALUES ($1, $2, $3)
                 ON CONFLICT (model, day) DO UPDATE SET reason = $3",
                &[&model, &day, &reason],
            )
            .await?;
            Ok(())
        })
    }

    /// [`crate::ledger::Ledger::skipped_models`] on the team ledger.
    pub(crate) fn skipped_models(&self, now: DateTime<Utc>) -> Result<Vec<String>> {
        let day = day_key(now);
        pg_read!(self, |c| {
            let rows = c
                .query("SELECT model FROM model_skips WHERE day = $1", &[&day])
                .await?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    }
}
