//! What OpenRouter says about each account, on the team ledger (the statements of
//! ledger/accounts.rs): the tier, today's count as OpenRouter sees it, credits, grouping by
//! the hashed owner, notices said once a day team-wide, and the team-wide reconciliation slot.
//!
//! Writes that bear on an account's caps (`extra_requests`, a key moving into an account)
//! first lock the rows of the account's keys in id order, as a reservation does
//! ([`super::reserve::lock_account`]), so they never interleave with one.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use tokio_postgres::Transaction;

use super::reserve::{lock_account, now_in};
use super::{PgLedger, PgResult, count, pg_read, pg_tx};
use crate::clock::day_key;
use crate::error::Result;
use crate::keys::KeyId;
use crate::ledger::accounts::{AccountObservation, Credits, Grouping, Observed};

fn stored(c: Credits) -> Option<&'static str> {
    match c {
        Credits::Paid => Some("paid"),
        Credits::FreeOnly => Some("free_only"),
        Credits::Unknown => None,
    }
}

/// The account of `key` (its own id when it has none or is unknown), without locks.
async fn account_of(c: &impl tokio_postgres::GenericClient, key: &KeyId) -> PgResult<String> {
    Ok(c.query_opt(
        "SELECT COALESCE(account, id) FROM keys WHERE id = $1",
        &[&key.as_str()],
    )
    .await?
    .map_or_else(|| key.as_str().to_string(), |r| r.get(0)))
}

async fn local_account_today(tx: &Transaction<'_>, account: &str, day: &str) -> PgResult<u32> {
    let n: i64 = tx
        .query_one(
            "SELECT COALESCE(SUM(u.requests), 0)::bigint FROM keys k
             JOIN usage_daily u ON u.key_id = k.id AND u.day = $2
             WHERE COALESCE(k.account, k.id) = $1",
            &[&account, &day],
        )
        .await?
        .get(0);
    Ok(count(n))
}

impl PgLedger {
    /// [`crate::ledger::Ledger::observe_account`] on the team ledger.
    pub(crate) fn observe_account(
        &self,
        key: &KeyId,
        obs: &AccountObservation,
        now: DateTime<Utc>,
    ) -> Result<Observed> {
        let server = self.server_clock();
        let tier = obs.tier_cap.map(i64::from);
        let used = obs.used.map(i64::from);
        let credits = obs.credits.and_then(stored);
        pg_tx!(self, |tx| {
            let now = now_in(tx, server, now).await?;
            let day = day_key(now);
            let account = match lock_account(tx, key).await? {
                Some(a) => a,
                None => key.as_str().to_string(),
            };
            let local = local_account_today(tx, &account, &day).await?;
            let extra = obs.used.map_or(0, |u| u.saturating_sub(local));
            tx.execute(
                "INSERT INTO accounts (name, tier_cap, remote_day, remote_used, extra_requests,
                                       credits, observed_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (name) DO UPDATE SET
                   tier_cap = COALESCE($2, accounts.tier_cap),
                   remote_day = CASE WHEN $4::bigint IS NULL THEN accounts.remote_day ELSE $3 END,
                   remote_used = COALESCE($4, accounts.remote_used),
                   extra_requests = CASE WHEN $4::bigint IS NULL THEN accounts.extra_requests
                                         ELSE $5 END,
                   credits = COALESCE($6, accounts.credits),
                   observed_ms = $7",
                &[
                    &account,
                    &tier,
                    &day,
                    &used,
                    &i64::from(extra),
                    &credits,
                    &now.timestamp_millis(),
                ],
            )
            .await?;
            Ok(Observed {
                account,
                extra,
                tier_cap: obs.tier_cap,
                note: None,
            })
        })
    }

    /// [`crate::ledger::Ledger::account_credits`] on the team ledger.
    pub(crate) fn account_credits(&self, key: &KeyId, now: DateTime<Utc>) -> Result<Credits> {
        let day = day_key(now);
        pg_read!(self, |c| {
            let account = account_of(c, key).await?;
            let row = c
                .query_opt(
                    "SELECT credits, paid_refused_day FROM accounts WHERE name = $1",
                    &[&account],
                )
                .await?;
            let row: Option<(Option<String>, Option<String>)> = row.map(|r| (r.get(0), r.get(1)));
            Ok(match row {
                Some((_, Some(refused))) if refused == day => Credits::FreeOnly,
                Some((Some(c), _)) if c == "paid" => Credits::Paid,
                Some((Some(c), _)) if c == "free_only" => Credits::FreeOnly,
                _ => Credits::Unknown,
            })
        })
    }

    /// [`crate::ledger::Ledger::refuse_paid_today`] on the team ledger.
    pub(crate) fn refuse_paid_today(
        &self,
        key: &KeyId,
        now: DateTime<Utc>,
    ) -> Result<(String, bool)> {
        let day = day_key(now);
        pg_tx!(self, |tx| {
            // The account's key rows locked: one machine of the team sees the news.
            let account = match lock_account(tx, key).await? {
                Some(a) => a,
                None => key.as_str().to_string(),
            };
            let before: Option<String> = tx
                .query_opt(
                    "SELECT paid_refused_day FROM accounts WHERE name = $1",
                    &[&account],
                )
                .await?
                .and_then(|r| r.get(0));
            tx.execute(
                "INSERT INTO accounts (name, paid_refused_day) VALUES ($1, $2)
                 ON CONFLICT (name) DO UPDATE SET paid_refused_day = $2",
                &[&account, &day],
            )
            .await?;
            Ok((account, before.as_deref() != Some(day.as_str())))
        })
    }

    /// [`crate::ledger::Ledger::claim_reconcile`] on the team ledger: one conditional UPDATE,
    /// so one machine of the team reconciles per period.
    pub(crate) fn claim_reconcile(
        &self,
        now: DateTime<Utc>,
        every: chrono::Duration,
        force: bool,
    ) -> Result<bool> {
        let server = self.server_clock();
        pg_tx!(self, |tx| {
            let now_ms = now_in(tx, server, now).await?.timestamp_millis();
            let before = now_ms - every.num_milliseconds();
            let n = tx
                .execute(
                    "UPDATE pool_state SET reconciled_ms = $1
                     WHERE singleton = 1 AND ($3 OR reconciled_ms IS NULL OR reconciled_ms <= $2
                                              OR reconciled_ms > $1)",
                    &[&now_ms, &before, &force],
                )
                .await?;
            Ok(n == 1)
        })
    }

    /// [`crate::ledger::Ledger::notice_once`] on the team ledger (once a day team-wide).
    pub(crate) fn notice_once(
        &self,
        subject: &str,
        message: &str,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let day = day_key(now);
        pg_tx!(self, |tx| {
            let n = tx
                .execute(
                    "INSERT INTO notices (day, subject, message) VALUES ($1, $2, $3)
                     ON CONFLICT (day, subject) DO NOTHING",
                    &[&day, &subject, &message],
                )
                .await?;
            Ok(n == 1)
        })
    }

    /// [`crate::ledger::Ledger::observe_owner`] on the team ledger.
    pub(crate) fn observe_owner(&self, key: &KeyId, user_id: &str) -> Result<Option<Grouping>> {
        let hash = hex::encode(Sha256::digest(user_id.as_bytes()));
        let hash = hash[..16].to_string();
        pg_tx!(self, |tx| {
            tx.execute(
                "UPDATE keys SET owner_hash = $2 WHERE id = $1",
                &[&key.as_str(), &hash],
            )
            .await?;
            // Lock the mates (id order, as reservations lock) before moving any of them.
            tx.execute(
                "SELECT id FROM keys WHERE owner_hash = $1 ORDER BY id FOR UPDATE",
                &[&hash],
            )
            .await?;
            let mates: Vec<(String, Option<String>)> = tx
                .query(
                    "SELECT id, account FROM keys WHERE owner_hash = $1 ORDER BY position, id",
                    &[&hash],
                )
                .await?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            let loose: Vec<&String> = mates
                .iter()
                .filter(|(_, a)| a.is_none())
                .map(|(id, _)| id)
                .collect();
            if mates.len() < 2 || loose.is_empty() {
                return Ok(None);
            }
            let account = mates
                .iter()
                .find_map(|(_, a)| a.clone())
                .unwrap_or_else(|| format!("or-{}", &hash[..8]));
            for id in &loose {
                tx.execute(
                    "UPDATE keys SET account = $2 WHERE id = $1",
                    &[id, &account],
                )
                .await?;
            }
            let keys = tx
                .query(
                    "SELECT id FROM keys WHERE account = $1 ORDER BY position, id",
                    &[&account],
                )
                .await?
                .iter()
                .map(|r| KeyId::from_stored(r.get::<_, String>(0)))
                .collect();
            Ok(Some(Grouping { account, keys }))
        })
    }
}
