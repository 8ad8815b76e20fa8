//! Key metadata rows: label, account, enabled, caps, status. Never the key itself.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

use super::Ledger;
use crate::clock::from_millis;
use crate::error::{Error, Result};
use crate::keys::{ApiKey, KeyId, KeySource};

crate::vocab::stored_enum! {
    /// A key's health as last observed.
    pub enum KeyStatus (unknown reads as Ok) {
        /// Usable.
        Ok,
        /// OpenRouter answered 401: revoked or wrong.
        Invalid,
        /// OpenRouter answered 402: no credit.
        NoCredit,
        /// OpenRouter answered 403 "Key limit exceeded": spend cap until `status_until`.
        SpendLimited,
    }
}

/// One key's metadata.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct KeyRecord {
    /// Fingerprint id.
    pub id: KeyId,
    /// Person-given label.
    pub label: String,
    /// The account the key belongs to (its own id when not grouped).
    pub account: String,
    /// `sk-or-v1-…a1b2`.
    pub masked: String,
    /// Where the key was first registered from.
    pub source: KeySource,
    /// Whether the key may be used.
    pub enabled: bool,
    /// The key's own daily cap, if set.
    pub daily_cap: Option<u32>,
    /// The key's own per-minute cap, if set.
    pub minute_cap: Option<u32>,
    /// Last observed health.
    pub status: KeyStatus,
    /// When a temporary status ends.
    pub status_until: Option<DateTime<Utc>>,
    /// A short note on the status (e.g. the upstream message).
    pub status_note: Option<String>,
    /// When the key was added.
    pub created: DateTime<Utc>,
}

/// Changes to a key's metadata; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct KeyUpdate {
    /// New label.
    pub label: Option<String>,
    /// New account (`Some("")` puts the key back in its own account).
    pub account: Option<String>,
    /// New daily cap (`Some(None)` returns to the default).
    pub daily_cap: Option<Option<u32>>,
    /// New per-minute cap.
    pub minute_cap: Option<Option<u32>>,
    /// Enable or disable.
    pub enabled: Option<bool>,
}

const COLUMNS: &str = "id, label, COALESCE(account, id), masked, source, enabled, daily_cap, minute_cap, \
                       status, status_until, status_note, created_ms";

fn from_row(r: &Row<'_>) -> rusqlite::Result<KeyRecord> {
    Ok(KeyRecord {
        id: KeyId::from_stored(r.get::<_, String>(0)?),
        label: r.get(1)?,
        account: r.get(2)?,
        masked: r.get(3)?,
        source: KeySource::parse(&r.get::<_, String>(4)?),
        enabled: r.get(5)?,
        daily_cap: r.get(6)?,
        minute_cap: r.get(7)?,
        status: KeyStatus::parse(&r.get::<_, String>(8)?),
        status_until: r.get::<_, Option<i64>>(9)?.map(from_millis),
        status_note: r.get(10)?,
        created: from_millis(r.get(11)?),
    })
}

impl Ledger {
    /// Registers a key's metadata (insert or, for a known id, refresh source/label/account).
    /// A keychain registration wins over an env one.
    pub fn upsert_key(
        &self,
        key: &ApiKey,
        source: KeySource,
        label: Option<&str>,
        account: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        if let Some(pg) = self.pg() {
            return pg.upsert_key(key, source, label, account, now);
        }
        self.write(|tx| {
            tx.execute(
                "INSERT INTO keys (id, label, account, masked, source, created_ms, position)
                 VALUES (?1, COALESCE(?2, ''), NULLIF(?3, ''), ?4, ?5, ?6,
                         (SELECT COALESCE(MAX(position), 0) + 1 FROM keys))
                 ON CONFLICT(id) DO UPDATE SET
                   label = COALESCE(?2, label),
                   account = CASE WHEN ?3 IS NULL THEN account ELSE NULLIF(?3, '') END,
                   source = CASE WHEN ?5 = 'keychain' THEN 'keychain' ELSE source END",
                params![
                    key.id().as_str(),
                    label,
                    account,
                    key.masked(),
                    source.as_str(),
                    now.timestamp_millis()
                ],
            )?;
            Ok(())
        })
    }

    /// All key records in the order they were added.
    pub fn keys(&self) -> Result<Vec<KeyRecord>> {
        if let Some(pg) = self.pg() {
            return pg.keys();
        }
        let conn = self.conn()?;
        let mut stmt =
            conn.prepare_cached(&format!("SELECT {COLUMNS} FROM keys ORDER BY position, id"))?;
        let rows = stmt
            .query_map([], from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// One key record.
    pub fn key(&self, id: &KeyId) -> Result<Option<KeyRecord>> {
        if let Some(pg) = self.pg() {
            return pg.key(id);
        }
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM keys WHERE id = ?1"))?;
        Ok(stmt.query_row([id.as_str()], from_row).optional()?)
    }

    /// Resolves a person-typed id (full id or a unique prefix, at least 4 characters) to a key.
    pub fn resolve_key(&self, typed: &str) -> Result<KeyRecord> {
        let typed = typed.trim().to_ascii_lowercase();
        let matches: Vec<KeyRecord> = self
            .keys()?
            .into_iter()
            .filter(|k| typed.len() >= 4 && k.id.as_str().starts_with(&typed))
            .collect();
        match matches.len() {
            1 => Ok(matches.into_iter().next().expect("one match")),
            0 => Err(Error::Usage(format!(
                "no key has the id {typed:?}; `keywheel keys list` shows the ids"
            ))),
            n => Err(Error::Usage(format!(
                "{n} keys start with {typed:?}; type more of the id (see `keywheel keys list`)"
            ))),
        }
    }

    /// Applies a [`KeyUpdate`].
    pub fn update_key(&self, id: &KeyId, u: &KeyUpdate) -> Result<()> {
        if let Some(pg) = self.pg() {
            return pg.update_key(id, u);
        }
        self.write(|tx| {
            if let Some(label) = &u.label {
                tx.execute(
                    "UPDATE keys SET label = ?2 WHERE id = ?1",
                    params![id.as_str(), label],
                )?;
            }
            if let Some(account) = &u.account {
                tx.execute(
                    "UPDATE keys SET account = NULLIF(?2, '') WHERE id = ?1",
                    params![id.as_str(), account],
                )?;
            }
            if let Some(cap) = u.daily_cap {
                tx.execute(
                    "UPDATE keys SET daily_cap = ?2 WHERE id = ?1",
                    params![id.as_str(), cap],
                )?;
            }
            if let Some(cap) = u.minute_cap {
                tx.execute(
                    "UPDATE keys SET minute_cap = ?2 WHERE id = ?1",
                    params![id.as_str(), cap],
                )?;
            }
            if let Some(enabled) = u.enabled {
                tx.execute(
                    "UPDATE keys SET enabled = ?2 WHERE id = ?1",
                    params![id.as_str(), enabled],
                )?;
            }
            Ok(())
        })
    }

    /// Records a key's health (e.g. after a 401); `Ok` clears it.
    pub fn set_key_status(
        &self,
        id: &KeyId,
        status: KeyStatus,
        until: Option<DateTime<Utc>>,
        note: Option<&str>,
    ) -> Result<()> {
        if let Some(pg) = self.pg() {
            return pg.set_key_status(id, status, until, note);
        }
        self.write(|tx| {
            tx.execute(
                "UPDATE keys SET status = ?2, status_until = ?3, status_note = ?4 WHERE id = ?1",
                params![
                    id.as_str(),
                    status.as_str(),
                    until.map(|t| t.timestamp_millis()),
                    note
                ],
            )?;
            Ok(())
        })
    }

    /// Removes a key's metadata. Its past usage rows stay (history), keyed by id.
    pub fn remove_key(&self, id: &KeyId) -> Result<()> {
        if let Some(pg) = self.pg() {
            return pg.remove_key(id);
        }
        self.write(|tx| {
            tx.execute("DELETE FROM keys WHERE id = ?1", [id.as_str()])?;
            tx.execute(
                "UPDATE pool_state SET current_key = NULL WHERE current_key = ?1",
                [id.as_str()],
            )?;
            Ok(())
        })
    }

    /// Sets an account's own caps (`None` = default).
    pub fn set_account_caps(
        &self,
        account: &str,
        daily: Option<u32>,
        minute: Option<u32>,
    ) -> Result<()> {
        if let Some(pg) = self.pg() {
            return pg.set_account_caps(account, daily, minute);
        }
        self.write(|tx| {
            tx.execute(
                "INSERT INTO accounts (name, daily_cap, minute_cap) VALUES (?1, ?2, ?3)
                 ON CONFLICT(name) DO UPDATE SET daily_cap = ?2, minute_cap = ?3",
                params![account, daily, minute],
            )?;
            Ok(())
        })
    }

    /// Records that OpenRouter said an account's day is spent (429 `free-models-per-day`).
    pub fn mark_account_exhausted(
        &self,
        account: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        if let Some(pg) = self.pg() {
            return pg.mark_account_exhausted(account, until, now);
        }
        self.write(|tx| {
            tx.execute(
                "INSERT INTO accounts (name, exhausted_day, exhausted_until) VALUES (?1, ?2, ?3)
                 ON CONFLICT(name) DO UPDATE SET exhausted_day = ?2, exhausted_until = ?3",
                params![
                    account,
                    crate::clock::day_key(now),
                    until.timestamp_millis()
                ],
            )?;
            Ok(())
        })
    }
}
