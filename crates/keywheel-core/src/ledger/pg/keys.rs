//! Key metadata on the team ledger (the statements of ledger/keys_table.rs). Only ids,
//! masked forms and metadata: a key itself stays on each machine, in its keychain or
//! environment.

use chrono::{DateTime, Utc};
use tokio_postgres::Row;

use super::{PgLedger, opt_count, pg_read, pg_tx};
use crate::clock::from_millis;
use crate::error::Result;
use crate::keys::{ApiKey, KeyId, KeySource};
use crate::ledger::{KeyRecord, KeyStatus, KeyUpdate};

const COLUMNS: &str = "id, label, COALESCE(account, id), masked, source, enabled, daily_cap, minute_cap, \
                       status, status_until, status_note, created_ms";

fn from_row(r: &Row) -> KeyRecord {
    KeyRecord {
        id: KeyId::from_stored(r.get::<_, String>(0)),
        label: r.get(1),
        account: r.get(2),
        masked: r.get(3),
        source: KeySource::parse(r.get(4)),
        enabled: r.get(5),
        daily_cap: opt_count(r.get(6)),
        minute_cap: opt_count(r.get(7)),
        status: KeyStatus::parse(r.get(8)),
        status_until: r.get::<_, Option<i64>>(9).map(from_millis),
        status_note: r.get(10),
        created: from_millis(r.get(11)),
    }
}

impl PgLedger {
    /// [`crate::ledger::Ledger::upsert_key`] on the team ledger.
    pub(crate) fn upsert_key(
        &self,
        key: &ApiKey,
        source: KeySource,
        label: Option<&str>,
        account: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let (id, masked, created) = (key.id(), key.masked(), now.timestamp_millis());
        pg_tx!(self, |tx| {
            tx.execute(
                    "INSERT INTO keys (id, label, account, masked, source, created_ms, position)
                     VALUES ($1, COALESCE($2, ''), NULLIF($3, ''), $4, $5, $6,
                             (SELECT COALESCE(MAX(position), 0) + 1 FROM keys))
                     ON CONFLICT (id) DO UPDATE SET
                       label = COALESCE($2, keys.label),
                       account = CASE WHEN $3::text IS NULL THEN keys.account ELSE NULLIF($3, '') END,
                       source = CASE WHEN $5 = 'keychain' THEN 'keychain' ELSE keys.source END",
                    &[&id.as_str(), &label, &account, &masked, &source.as_str(), &created],
                )
                .await?;
            Ok(())
        })
    }

    /// [`crate::ledger::Ledger::keys`] on the team ledger.
    pub(crate) fn keys(&self) -> Result<Vec<KeyRecord>> {
        pg_read!(self, |c| {
            let rows = c
                .query(
                    &format!("SELECT {COLUMNS} FROM keys ORDER BY position, id"),
                    &[],
                )
                .await?;
            Ok(rows.iter().map(from_row).collect())
        })
    }

    /// [`crate::ledger::Ledger::key`] on the team ledger.
    pub(crate) fn key(&self, id: &KeyId) -> Result<Option<KeyRecord>> {
        pg_read!(self, |c| {
            let row = c
                .query_opt(
                    &format!("SELECT {COLUMNS} FROM keys WHERE id = $1"),
                    &[&id.as_str()],
                )
                .await?;
            Ok(row.as_ref().map(from_row))
        })
    }

    /// [`crate::ledger::Ledger::update_key`] on the team ledger (under the account's locks,
    /// since caps and accounts decide reservations).
    pub(crate) fn update_key(&self, id: &KeyId, u: &KeyUpdate) -> Result<()> {
        pg_tx!(self, |tx| {
            super::reserve::lock_account(tx, id).await?;
            let id = id.as_str();
            if let Some(label) = &u.label {
                tx.execute("UPDATE keys SET label = $2 WHERE id = $1", &[&id, label])
                    .await?;
            }
            if let Some(account) = &u.account {
                tx.execute(
                    "UPDATE keys SET account = NULLIF($2, '') WHERE id = $1",
                    &[&id, account],
                )
                .await?;
            }
            if let Some(cap) = u.daily_cap {
                let cap = cap.map(i64::from);
                tx.execute("UPDATE keys SET daily_cap = $2 WHERE id = $1", &[&id, &cap])
                    .await?;
            }
            if let Some(cap) = u.minute_cap {
                let cap = cap.map(i64::from);
                tx.execute(
                    "UPDATE keys SET minute_cap = $2 WHERE id = $1",
                    &[&id, &cap],
                )
                .await?;
            }
            if let Some(enabled) = u.enabled {
                tx.execute(
                    "UPDATE keys SET enabled = $2 WHERE id = $1",
                    &[&id, &enabled],
                )
                .await?;
            }
            Ok(())
        })
    }

    /// [`crate::ledger::Ledger::set_key_status`] on the team ledger.
    pub(crate) fn set_key_status(
        &self,
        id: &KeyId,
        status: KeyStatus,
        until: Option<DateTime<Utc>>,
        note: Option<&str>,
    ) -> Result<()> {
        let until = until.map(|t| t.timestamp_millis());
        pg_tx!(self, |tx| {
            tx.execute(
                "UPDATE keys SET status = $2, status_until = $3, status_note = $4 WHERE id = $1",
                &[&id.as_str(), &status.as_str(), &until, &note],
            )
            .await?;
            Ok(())
        })
    }

    /// [`crate::ledger::Ledger::remove_key`] on the team ledger.
    pub(crate) fn remove_key(&self, id: &KeyId) -> Result<()> {
        pg_tx!(self, |tx| {
            tx.execute("DELETE FROM keys WHERE id = $1", &[&id.as_str()])
                .await?;
            tx.execute(
                "UPDATE pool_state SET current_key = NULL WHERE current_key = $1",
                &[&id.as_str()],
            )
            .await?;
            Ok(())
        })
    }

    /// [`crate::ledger::Ledger::set_account_caps`] on the team ledger.
    pub(crate) fn set_account_caps(
        &self,
        account: &str,
        daily: Option<u32>,
        minute: Option<u32>,
    ) -> Result<()> {
        let (daily, minute) = (daily.map(i64::from), minute.map(i64::from));
        pg_tx!(self, |tx| {
            tx.execute(
                "INSERT INTO accounts (name, daily_cap, minute_cap) VALUES ($1, $2, $3)
                     ON CONFLICT (name) DO UPDATE SET daily_cap = $2, minute_cap = $3",
                &[&account, &daily, &minute],
            )
            .await?;
            Ok(())
        })
    }

    /// [`crate::ledger::Ledger::mark_account_exhausted`] on the team ledger.
    pub(crate) fn mark_account_exhausted(
        &self,
        account: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let (day, until) = (crate::clock::day_key(now), until.timestamp_millis());
        pg_tx!(self, |tx| {
            tx.execute(
                "INSERT INTO accounts (name, exhausted_day, exhausted_until) VALUES ($1, $2, $3)
                     ON CONFLICT (name) DO UPDATE SET exhausted_day = $2, exhausted_until = $3",
                &[&account, &day, &until],
            )
            .await?;
            Ok(())
        })
    }
}
