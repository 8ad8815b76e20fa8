//! Running instances: registered at start, kept alive by a heartbeat, expired when dead.
//!
//! A process killed with `kill -9` stops heartbeating; the next instance to start (or
//! `keywheel status`) expires it, marks its open reservations `abandoned` (still counted — they
//! may have been sent) and deletes the row, so a dead instance holds nothing.

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

impl Ledger {
    /// Registers a new instance and returns its id.
    pub fn register_instance(&self, kind: &str, pid: u32, now: DateTime<Utc>) -> Result<String> {
        let id = format!("{:016x}", rand::random::<u64>());
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
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE instances SET heartbeat_ms = MAX(heartbeat_ms, ?2) WHERE id = ?1",
                params![id, now.timestamp_millis()],
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
        self.write(|tx| {
            tx.execute("UPDATE requests SET state = 'abandoned' WHERE instance_id = ?1 AND state = 'reserved'", [id])?;
            tx.execute("DELETE FROM instances WHERE id = ?1", [id])?;
            Ok(())
        })
    }

    /// Expires instances whose last heartbeat is older than `ttl`. Returns how many.
    pub fn expire_instances(&self, now: DateTime<Utc>, ttl: Duration) -> Result<usize> {
        let cutoff = (now - ttl).timestamp_millis();
        self.write(|tx| {
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

    /// Instances with a heartbeat within `ttl`.
    pub fn live_instances(&self, now: DateTime<Utc>, ttl: Duration) -> Result<Vec<InstanceInfo>> {
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
