//! Instances on the team ledger (the statements of ledger/instances.rs), each with the name
//! of its machine. In team mode heartbeats and expiry use the server's clock, so one machine's
//! wrong clock cannot expire another's live instances.

use chrono::{DateTime, Duration, Utc};

use super::{NOW_MS, PgLedger, count, pg_read, pg_tx};
use crate::clock::from_millis;
use crate::error::Result;
use crate::keys::KeyId;
use crate::ledger::instances::InstanceInfo;

/// Live instances of one machine.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MachineInstances {
    /// The machine's name (`KEYWHEEL_MACHINE` or its host name).
    pub host: String,
    /// Its live instances.
    pub instances: u32,
}

/// A stored heartbeat further ahead of a new beat than this came from before a clock step.
const FUTURE_SLACK_MS: i64 = 1_000;

impl PgLedger {
    /// `now` as this ledger counts it: the server's clock in team mode, else `given`.
    pub(crate) fn now_ms(&self, given: DateTime<Utc>) -> Result<i64> {
        if !self.server_clock() {
            return Ok(given.timestamp_millis());
        }
        pg_read!(self, |c| {
            Ok(c.query_one(NOW_MS, &[]).await?.get::<_, i64>(0))
        })
    }

    /// [`crate::ledger::Ledger::register_instance`] on the team ledger (with this machine's name).
    pub(crate) fn register_instance(
        &self,
        id: &str,
        kind: &str,
        pid: u32,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let (pid, now, host) = (i64::from(pid), self.now_ms(now)?, self.host().to_string());
        pg_tx!(self, |tx| {
            tx.execute(
                "INSERT INTO instances (id, pid, kind, started_ms, heartbeat_ms, host)
                     VALUES ($1, $2, $3, $4, $4, $5)",
                &[&id, &pid, &kind, &now, &host],
            )
            .await?;
            Ok(())
        })
    }

    /// [`crate::ledger::Ledger::heartbeat`] on the team ledger.
    pub(crate) fn heartbeat(&self, id: &str, now: DateTime<Utc>) -> Result<bool> {
        let now = self.now_ms(now)?;
        pg_tx!(self, |tx| {
            let n = tx
                    .execute(
                        "UPDATE instances SET heartbeat_ms =
                           CASE WHEN heartbeat_ms > $2::bigint + $3::bigint THEN $2 ELSE GREATEST(heartbeat_ms, $2) END
                         WHERE id = $1",
                        &[&id, &now, &FUTURE_SLACK_MS],
                    )
                    .await?;
            Ok(n == 1)
        })
    }

    /// [`crate::ledger::Ledger::reregister_instance`] on the team ledger.
    pub(crate) fn reregister_instance(
        &self,
        id: &str,
        kind: &str,
        pid: u32,
        key: Option<&KeyId>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let (pid, now, host) = (i64::from(pid), self.now_ms(now)?, self.host().to_string());
        let key = key.map(|k| k.as_str().to_string());
        pg_tx!(self, |tx| {
            tx.execute(
                "INSERT INTO instances (id, pid, kind, key_id, started_ms, heartbeat_ms, host)
                     VALUES ($1, $2, $3, $4, $5, $5, $6) ON CONFLICT (id) DO NOTHING",
                &[&id, &pid, &kind, &key, &now, &host],
            )
            .await?;
            Ok(())
        })
    }

    /// [`crate::ledger::Ledger::set_instance_key`] on the team ledger.
    pub(crate) fn set_instance_key(&self, id: &str, key: &KeyId) -> Result<()> {
        pg_tx!(self, |tx| {
            tx.execute(
                "UPDATE instances SET key_id = $2 WHERE id = $1",
                &[&id, &key.as_str()],
            )
            .await?;
            Ok(())
        })
    }

    /// [`crate::ledger::Ledger::deregister_instance`] on the team ledger.
    pub(crate) fn deregister_instance(&self, id: &str) -> Result<()> {
        pg_tx!(self, |tx| {
            tx.execute(
                    "UPDATE requests SET state = 'abandoned' WHERE instance_id = $1 AND state = 'reserved'",
                    &[&id],
                )
                .await?;
            tx.execute("DELETE FROM instances WHERE id = $1", &[&id])
                .await?;
            Ok(())
        })
    }

    /// [`crate::ledger::Ledger::expire_instances`] on the team ledger.
    pub(crate) fn expire_instances(&self, now: DateTime<Utc>, ttl: Duration) -> Result<usize> {
        let now = self.now_ms(now)?;
        let ttl = ttl.num_milliseconds();
        let (cutoff, ahead) = (now - ttl, now + ttl);
        pg_tx!(self, |tx| {
            let moved = tx
                .execute(
                    "UPDATE instances SET heartbeat_ms = $1::bigint - 1 WHERE heartbeat_ms > $2",
                    &[&cutoff, &ahead],
                )
                .await?;
            if moved > 0 {
                tracing::warn!(
                    moved,
                    "instance heartbeats in the future: a clock stepped back; expiring them"
                );
            }
            tx.execute(
                    "UPDATE requests SET state = 'abandoned'
                     WHERE state = 'reserved' AND instance_id IN (SELECT id FROM instances WHERE heartbeat_ms < $1)",
                    &[&cutoff],
                )
                .await?;
            tx.execute(
                    "UPDATE requests SET state = 'abandoned'
                     WHERE state = 'reserved' AND started_ms < $1
                       AND NOT EXISTS (SELECT 1 FROM instances i WHERE i.id = requests.instance_id)",
                    &[&cutoff],
                )
                .await?;
            let n = tx
                .execute("DELETE FROM instances WHERE heartbeat_ms < $1", &[&cutoff])
                .await?;
            Ok(usize::try_from(n).unwrap_or(usize::MAX))
        })
    }

    /// [`crate::ledger::Ledger::live_instances`] on the team ledger.
    pub(crate) fn live_instances(
        &self,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<Vec<InstanceInfo>> {
        let cutoff = self.now_ms(now)? - ttl.num_milliseconds();
        pg_read!(self, |c| {
            let rows = c
                .query(
                    "SELECT id, pid, kind, key_id, started_ms, heartbeat_ms FROM instances
                         WHERE heartbeat_ms >= $1 ORDER BY started_ms",
                    &[&cutoff],
                )
                .await?;
            Ok(rows
                .iter()
                .map(|r| InstanceInfo {
                    id: r.get(0),
                    pid: count(r.get(1)),
                    kind: r.get(2),
                    key_id: r.get::<_, Option<String>>(3).map(KeyId::from_stored),
                    started: from_millis(r.get(4)),
                    heartbeat: from_millis(r.get(5)),
                })
                .collect())
        })
    }

    /// Live instances per machine (heartbeat within `ttl`), by machine name.
    pub fn machines(&self, now: DateTime<Utc>, ttl: Duration) -> Result<Vec<MachineInstances>> {
        let cutoff = self.now_ms(now)? - ttl.num_milliseconds();
        pg_read!(self, |c| {
            let rows = c
                .query(
                    "SELECT host, COUNT(*) FROM instances WHERE heartbeat_ms >= $1
                         GROUP BY host ORDER BY host",
                    &[&cutoff],
                )
                .await?;
            Ok(rows
                .iter()
                .map(|r| MachineInstances {
                    host: r.get(0),
                    instances: count(r.get(1)),
                })
                .collect())
        })
    }
}
