//! Running instances: registered at start, kept alive by a heartbeat, expired when dead.
//!
//! A process killed with `kill -9` stops heartbeating; the next instance to start (or
//! `keywheel status`) expires it, marks its open reservations `abandoned` (still counted — they
//! may have been sent) and deletes the row, so a dead instance holds nothing.
//!
//! When the wall clock steps back, heartbeats written before the step lie in the future. They
//! are not trusted: a heartbeat more than a TTL ahead of now expires like a stale one (a live
//! instance re-registers at its next beat), and a beat more than a second behind the stored
//! one replaces it instead of being ignored.

use chrono::{DateTime, Duration, Utc};
use rusqlite::params;
use serde::Serialize;

use super::Ledger;
use crate::clock::from_millis;
use crate::error::Result;
use crate::keys::KeyId;

/// A live instance as listed by `keywheel status`.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct InstanceInfo {
    /// Instance id.
    pub id: String,
    /// OS process id.
    pub pid: u32,
    /// `cli`, `app`, `example`, …
    pub kind: String,
    /// The key it has adopted.
    pub key_id: Option<KeyId>,
    /// When it started.
    pub started: DateTime<Utc>,
    /// Its last heartbeat.
    pub heartbeat: DateTime<Utc>,
}

/// A stored heartbeat further ahead of a new beat than this came from before a clock step.
const FUTURE_SLACK_MS: i64 = 1_000;

impl Ledger {
    /// Registers a new instance and returns its id.
    pub fn register_instance(&self, kind: &str, pid: u32, now: DateTime<Utc>) -> Result<String> {
        let id = format!("{:016x}", rand::random::<u64>());
        if let Some(pg) = self.pg() {
            pg.register_instance(&id, kind, pid, now)?;
            return Ok(id);
        }
        self.write(|tx| {
            tx.execute(
                "INSERT INTO instances (id, pid, kind, started_ms, heartbeat_ms) VALUES (?1, ?2, ?3, ?4, ?4)",
                params![id, pid, kind, now.timestamp_millis()],
            )?;
            Ok(())
        })?;
        Ok(id)
    }

    /// Records a heartbeat. Returns `false` if the instance had been expired (it should re-register).
    pub fn heartbeat(&self, id: &str, now: DateTime<Utc>) -> Result<bool> {
        if let Some(pg) = self.pg() {
            return pg.heartbeat(id, now);
        }
        self.write(|tx| {
            // MAX absorbs jitter between threads; a stored beat from the future (the clock
            // stepped back) is replaced by now.
            let n = tx.execute(
                "UPDATE instances SET heartbeat_ms =
                   CASE WHEN heartbeat_ms > ?2 + ?3 THEN ?2 ELSE MAX(heartbeat_ms, ?2) END
                 WHERE id = ?1",
                params![id, now.timestamp_millis(), FUTURE_SLACK_MS],
            )?;
            Ok(n == 1)
        })
    }

    /// Puts back an instance that others expired while it was still alive (e.g. it was
    /// suspended longer than the TTL), with the same id, so its reservations stay attributed.
    pub fn reregister_instance(
        &self,
        id: &str,
        kind: &str,
        pid: u32,
        key: Option<&KeyId>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        if let Some(pg) = self.pg() {
            return pg.reregister_instance(id, kind, pid, key, now);
        }
        self.write(|tx| {
            tx.execute(
                "INSERT OR IGNORE INTO instances (id, pid, kind, key_id, started_ms, heartbeat_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                params![id, pid, kind, key.map(KeyId::as_str), now.timestamp_millis()],
            )?;
            Ok(())
        })
    }

    /// Records which key an instance uses.
    pub fn set_instance_key(&self, id: &str, key: &KeyId) -> Result<()> {
        if let Some(pg) = self.pg() {
            return pg.set_instance_key(id, key);
        }
        self.write(|tx| {
            tx.execute(
                "UPDATE instances SET key_id = ?2 WHERE id = ?1",
                params![id, key.as_str()],
            )?;
            Ok(())
        })
    }

    /// Removes an instance at a clean exit; its open reservations become abandoned.
    pub fn deregister_instance(&self, id: &str) -> Result<()> {
        if let Some(pg) = self.pg() {
            return pg.deregister_instance(id);
        }
        self.write(|tx| {
            tx.execute("UPDATE requests SET state = 'abandoned' WHERE instance_id = ?1 AND state = 'reserved'", [id])?;
            tx.execute("DELETE FROM instances WHERE id = ?1", [id])?;
            Ok(())
        })
    }

    /// Expires instances whose last heartbeat is older than `ttl`, or more than `ttl` in the
    /// future (written before the clock stepped back; the jump is logged). Returns how many.
    pub fn expire_instances(&self, now: DateTime<Utc>, ttl: Duration) -> Result<usize> {
        if let Some(pg) = self.pg() {
            return pg.expire_instances(now, ttl);
        }
        let cutoff = (now - ttl).timestamp_millis();
        let ahead = (now + ttl).timestamp_millis();
        self.write(|tx| {
            let future: Option<i64> = tx
                .prepare_cached("SELECT MAX(heartbeat_ms) FROM instances WHERE heartbeat_ms > ?1")?
                .query_row([ahead], |r| r.get(0))?;
            if let Some(t) = future {
                tracing::warn!(
                    ahead_ms = t - now.timestamp_millis(),
                    "an instance heartbeat is {} s in the future: the clock stepped back; expiring it",
                    (t - now.timestamp_millis()) / 1000
                );
                tx.execute(
                    "UPDATE instances SET heartbeat_ms = ?1 - 1 WHERE heartbeat_ms > ?2",
                    params![cutoff, ahead],
                )?;
            }
            tx.execute(
                "UPDATE requests SET state = 'abandoned'
                 WHERE state = 'reserved' AND instance_id IN (SELECT id FROM instances WHERE heartbeat_ms < ?1)",
                [cutoff],
            )?;
            // Open reservations whose instance is gone altogether (it was expired, then kept
            // sending before it noticed) are abandoned once they are older than the TTL.
            tx.execute(
                "UPDATE requests SET state = 'abandoned'
                 WHERE state = 'reserved' AND started_ms < ?1 AND instance_id NOT IN (SELECT id FROM instances)",
                [cutoff],
            )?;
            Ok(tx.execute("DELETE FROM instances WHERE heartbeat_ms < ?1", [cutoff])?)
        })
    }

    /// Instances with a heartbeat within `ttl` (those not expired yet; one from the future
    /// counts until [`expire_instances`](Self::expire_instances) removes it).
    pub fn live_instances(&self, now: DateTime<Utc>, ttl: Duration) -> Result<Vec<InstanceInfo>> {
        if let Some(pg) = self.pg() {
            return pg.live_instances(now, ttl);
        }
        let cutoff = (now - ttl).timestamp_millis();
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT id, pid, kind, key_id, started_ms, heartbeat_ms FROM instances
             WHERE heartbeat_ms >= ?1 ORDER BY started_ms",
        )?;
        let rows = stmt
            .query_map([cutoff], |r| {
                Ok(InstanceInfo {
                    id: r.get(0)?,
                    pid: r.get(1)?,
                    kind: r.get(2)?,
                    key_id: r.get::<_, Option<String>>(3)?.map(KeyId::from_stored),
                    started: from_millis(r.get(4)?),
                    heartbeat: from_millis(r.get(5)?),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::CapDefaults;

    fn ledger() -> (tempfile::TempDir, Ledger) {
        let dir = tempfile::tempdir().unwrap();
        let l = Ledger::open(&dir.path().join("l.sqlite3"), CapDefaults::default()).unwrap();
        (dir, l)
    }

    fn at(ms: i64) -> DateTime<Utc> {
        from_millis(ms)
    }

    #[test]
    fn heartbeats_from_the_future_expire_and_are_replaced() {
        let (_d, l) = ledger();
        let ttl = Duration::seconds(20);
        let t0 = 1_800_000_000_000;
        let dead = l.register_instance("cli", 1, at(t0)).unwrap();
        let live = l.register_instance("cli", 2, at(t0)).unwrap();
        // The clock steps back an hour. The dead instance never beats again; the live one does.
        let back = t0 - 3_600_000;
        assert!(l.heartbeat(&live, at(back)).unwrap());
        assert_eq!(l.expire_instances(at(back), ttl).unwrap(), 1);
        let alive = l.live_instances(at(back), ttl).unwrap();
        assert_eq!(
            alive.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(),
            [live.as_str()]
        );
        assert_eq!(
            alive[0].heartbeat,
            at(back),
            "the future beat was replaced by now"
        );
        assert!(
            !l.heartbeat(&dead, at(back)).unwrap(),
            "the dead one is gone"
        );
        assert!(l.heartbeat(&live, at(back + 5_000)).unwrap());
        // Jitter between threads still never moves a beat back.
        assert!(l.heartbeat(&live, at(back + 4_500)).unwrap());
        assert_eq!(
            l.live_instances(at(back + 5_000), ttl).unwrap()[0].heartbeat,
            at(back + 5_000)
        );
    }

    #[test]
    fn the_minute_window_ignores_rows_from_the_future() {
        use crate::keys::{ApiKey, KeySource};
        use crate::ledger::reserve::{ReserveOutcome, ReserveRequest};
        let dir = tempfile::tempdir().unwrap();
        let caps = CapDefaults {
            daily: 100,
            minute: 2,
            ..CapDefaults::default()
        };
        let l = Ledger::open(&dir.path().join("l.sqlite3"), caps).unwrap();
        let key = ApiKey::parse(&format!("sk-or-v1-{}", "5a".repeat(32))).unwrap(); // fake test key
        let t0 = 1_800_000_000_000;
        l.upsert_key(&key, KeySource::Env, None, None, at(t0))
            .unwrap();
        let inst = l.register_instance("cli", 1, at(t0)).unwrap();
        let id = key.id();
        let reserve = |ms: i64| {
            l.reserve(&ReserveRequest {
                instance_id: &inst,
                key_id: &id,
                kind: crate::dispatch::Kind::Chat,
                model: None,
                now: at(ms),
            })
            .unwrap()
        };
        assert!(matches!(reserve(t0), ReserveOutcome::Granted(_)));
        assert!(matches!(reserve(t0 + 1), ReserveOutcome::Granted(_)));
        assert!(
            matches!(reserve(t0 + 2), ReserveOutcome::Wait { .. }),
            "the window is full"
        );
        // The clock steps back ten minutes: the two rows lie in the future, not in the window
        // (which would otherwise stay full for ten minutes).
        let back = t0 - 600_000;
        assert!(matches!(reserve(back), ReserveOutcome::Granted(_)));
    }
}
