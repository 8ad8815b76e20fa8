//! Storage for the response cache, the model catalogue and per-day model skips. The rules
//! (what is cacheable, the hash) live in `crate::cache`; this is only the shared table.

use chrono::{DateTime, Duration, Utc};
use rusqlite::{OptionalExtension, params};

use super::Ledger;
use crate::clock::{day_key, from_millis};
use crate::error::Result;
use crate::keys::KeyId;

impl Ledger {
    /// A live cache entry's JSON body and the model that answered.
    pub fn cache_get(
        &self,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(String, Option<String>)>> {
        if let Some(pg) = self.pg() {
            return pg.cache_get(hash, now);
        }
        let conn = self.conn()?;
        let row = conn
            .prepare_cached(
                "SELECT body, model FROM response_cache WHERE hash = ?1 AND expires_ms > ?2",
            )?
            .query_row(params![hash, now.timestamp_millis()], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        Ok(row)
    }

    /// Stores (or replaces) a cache entry for `ttl`, and drops expired ones.
    pub fn cache_put(
        &self,
        hash: &str,
        kind: &str,
        model: Option<&str>,
        body: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<()> {
        if let Some(pg) = self.pg() {
            return pg.cache_put(hash, kind, model, body, ttl, now);
        }
        let now_ms = now.timestamp_millis();
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO response_cache (hash, kind, created_ms, expires_ms, model, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(hash) DO UPDATE SET created_ms = ?3, expires_ms = ?4, model = ?5, body = ?6",
            )?
            .execute(params![hash, kind, now_ms, (now + ttl).timestamp_millis(), model, body])?;
            tx.prepare_cached("DELETE FROM response_cache WHERE expires_ms <= ?1")?.execute([now_ms])?;
            Ok(())
        })
    }

    /// Logs a request answered from the cache: a request row marked `cached`, not counted
    /// against any key's quota.
    pub fn log_cached(
        &self,
        instance_id: &str,
        key: Option<&KeyId>,
        kind: &str,
        model: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        if let Some(pg) = self.pg() {
            return pg.log_cached(instance_id, key, kind, model, now);
        }
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO requests (instance_id, key_id, account, day, started_ms, finished_ms, state, kind,
                                       model_asked, model_answered, status_class, cached, latency_ms)
                 VALUES (?1, ?2, '', ?3, ?4, ?4, 'done', ?5, ?6, ?6, 'cached', 1, 0)",
            )?
            .execute(params![
                instance_id,
                key.map(KeyId::as_str).unwrap_or(""),
                day_key(now),
                now.timestamp_millis(),
                kind,
                model
            ])?;
            Ok(())
        })
    }

    /// The cached `/models` body if fetched within `max_age`.
    pub fn models_cached(&self, max_age: Duration, now: DateTime<Utc>) -> Result<Option<String>> {
        Ok(self
            .models_snapshot()?
            .filter(|(at, _)| now - *at < max_age)
            .map(|(_, body)| body))
    }

    /// When the cached `/models` body was fetched, whatever its age (one small read).
    pub fn models_fetched(&self) -> Result<Option<DateTime<Utc>>> {
        if let Some(pg) = self.pg() {
            return pg.models_fetched();
        }
        let conn = self.conn()?;
        let at: Option<i64> = conn
            .prepare_cached("SELECT fetched_ms FROM models_cache WHERE singleton = 1")?
            .query_row([], |r| r.get(0))
            .optional()?;
        Ok(at.map(from_millis))
    }

    /// The cached `/models` body with when it was fetched, whatever its age.
    pub fn models_snapshot(&self) -> Result<Option<(DateTime<Utc>, String)>> {
        if let Some(pg) = self.pg() {
            return pg.models_snapshot();
        }
        let conn = self.conn()?;
        let row: Option<(i64, String)> = conn
            .query_row(
                "SELECT fetched_ms, body FROM models_cache WHERE singleton = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(row.map(|(at, b)| (from_millis(at), b)))
    }

    /// Stores the `/models` body.
    pub fn models_store(&self, body: &str, now: DateTime<Utc>) -> Result<()> {
        if let Some(pg) = self.pg() {
            return pg.models_store(body, now);
        }
        self.write(|tx| {
            tx.execute(
                "INSERT INTO models_cache (singleton, fetched_ms, body) VALUES (1, ?1, ?2)
                 ON CONFLICT(singleton) DO UPDATE SET fetched_ms = ?1, body = ?2",
                params![now.timestamp_millis(), body],
            )?;
            Ok(())
        })
    }

    /// Marks a model as unavailable for the rest of the UTC day.
    pub fn skip_model_today(&self, model: &str, reason: &str, now: DateTime<Utc>) -> Result<()> {
        if let Some(pg) = self.pg() {
            return pg.skip_model_today(model, reason, now);
        }
        self.write(|tx| {
            tx.execute(
                "INSERT OR REPLACE INTO model_skips (model, day, reason) VALUES (?1, ?2, ?3)",
                params![model, day_key(now), reason],
            )?;
            Ok(())
        })
    }

    /// Models skipped today.
    pub fn skipped_models(&self, now: DateTime<Utc>) -> Result<Vec<String>> {
        if let Some(pg) = self.pg() {
            return pg.skipped_models(now);
        }
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached("SELECT model FROM model_skips WHERE day = ?1")?;
        let rows = stmt
            .query_map([day_key(now)], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }
}
