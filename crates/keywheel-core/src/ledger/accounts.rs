//! What OpenRouter says about each account, kept in the ledger so every process agrees:
//! the free-model tier (the daily ceiling, 50 or 1000), today's count as OpenRouter sees it
//! (a key also used elsewhere), whether the account can buy paid models, and the grouping of
//! keys by the account identifier OpenRouter puts in its error bodies (docs/models.md).
//!
//! Observations only ever raise the local count: `extra_requests` is what OpenRouter counted
//! beyond this ledger's own rows, never negative, so the ledger's invariant (the day counter
//! equals the counted request rows) is untouched.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::Ledger;
use crate::clock::day_key;
use crate::error::Result;
use crate::keys::KeyId;

/// Whether an account can buy paid models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Credits {
    /// Credits were bought: paid models are in its chains.
    Paid,
    /// Never bought credits, or a paid model answered 402 "insufficient credits" today.
    FreeOnly,
    /// Not known yet (no `/key` answer): the configured preferences are used as they are.
    Unknown,
}

impl Credits {
    /// Whether paid models may be put in this account's chains.
    pub fn allows_paid(self) -> bool {
        self != Credits::FreeOnly
    }

    /// An account row's `credits` and `paid_refused_day` as of UTC day `day`.
    pub(crate) fn stored(credits: Option<&str>, refused_day: Option<&str>, day: &str) -> Credits {
        match (credits, refused_day) {
            (_, Some(refused)) if refused == day => Credits::FreeOnly,
            (Some("paid"), _) => Credits::Paid,
            (Some("free_only"), _) => Credits::FreeOnly,
            _ => Credits::Unknown,
        }
    }

    fn as_stored(self) -> Option<&'static str> {
        match self {
            Credits::Paid => Some("paid"),
            Credits::FreeOnly => Some("free_only"),
            Credits::Unknown => None,
        }
    }
}

/// One `GET /key` answer, as it bears on the key's account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AccountObservation {
    /// `free_model_daily_requests.limit`.
    pub tier_cap: Option<u32>,
    /// `free_model_daily_requests.used`.
    pub used: Option<u32>,
    /// What the credit fields say.
    pub credits: Option<Credits>,
}

/// What recording an observation changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Observed {
    /// The key's account.
    pub account: String,
    /// Requests OpenRouter counted today that this ledger had not (0 when none).
    pub extra: u32,
    /// The daily ceiling seen, if any.
    pub tier_cap: Option<u32>,
    /// A sentence for the person when this answer showed keys sharing an account.
    pub note: Option<String>,
}

/// Keys found to share one OpenRouter account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grouping {
    /// The account they now share.
    pub account: String,
    /// Every key in it.
    pub keys: Vec<KeyId>,
}

/// The account a key belongs to (its own id when it has none).
pub(crate) fn account_of(tx: &Connection, key: &KeyId) -> Result<String> {
    Ok(tx
        .prepare_cached("SELECT COALESCE(account, id) FROM keys WHERE id = ?1")?
        .query_row([key.as_str()], |r| r.get(0))
        .optional()?
        .unwrap_or_else(|| key.as_str().to_string()))
}

fn local_account_today(tx: &Connection, account: &str, day: &str) -> Result<u32> {
    Ok(tx
        .prepare_cached(
            "SELECT COALESCE(SUM(u.requests), 0) FROM keys k
             CROSS JOIN usage_daily u ON u.key_id = k.id AND u.day = ?2
             WHERE COALESCE(k.account, k.id) = ?1",
        )?
        .query_row(params![account, day], |r| r.get(0))?)
}

impl Ledger {
    /// Records what `GET /key` said for `key`'s account: the tier's daily ceiling, today's
    /// count (raising the local one when OpenRouter counted more), and the credit state.
    pub fn observe_account(
        &self,
        key: &KeyId,
        obs: &AccountObservation,
        now: DateTime<Utc>,
    ) -> Result<Observed> {
        if let Some(pg) = self.pg() {
            return pg.observe_account(key, obs, now);
        }
        let day = day_key(now);
        self.write(|tx| {
            let account = account_of(tx, key)?;
            let local = local_account_today(tx, &account, &day)?;
            let extra = obs.used.map_or(0, |u| u.saturating_sub(local));
            tx.prepare_cached(
                "INSERT INTO accounts (name, tier_cap, remote_day, remote_used, extra_requests, credits, observed_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT(name) DO UPDATE SET
                   tier_cap = COALESCE(?2, tier_cap),
                   remote_day = CASE WHEN ?4 IS NULL THEN remote_day ELSE ?3 END,
                   remote_used = COALESCE(?4, remote_used),
                   extra_requests = CASE WHEN ?4 IS NULL THEN extra_requests ELSE ?5 END,
                   credits = COALESCE(?6, credits),
                   observed_ms = ?7",
            )?
            .execute(params![
                account,
                obs.tier_cap,
                day,
                obs.used,
                extra,
                obs.credits.and_then(Credits::as_stored),
                now.timestamp_millis(),
            ])?;
            Ok(Observed {
                account,
                extra,
                tier_cap: obs.tier_cap,
                note: None,
            })
        })
    }

    /// Whether `key`'s account can buy paid models today.
    pub fn account_credits(&self, key: &KeyId, now: DateTime<Utc>) -> Result<Credits> {
        if let Some(pg) = self.pg() {
            return pg.account_credits(key, now);
        }
        let day = day_key(now);
        // One statement (its own snapshot): the key's account (its id when it has none, or is
        // not registered) and that account's row.
        let conn = self.conn()?;
        let row: Option<(Option<String>, Option<String>)> = conn
            .prepare_cached(
                "SELECT credits, paid_refused_day FROM accounts
                 WHERE name = COALESCE((SELECT COALESCE(account, id) FROM keys WHERE id = ?1), ?1)",
            )?
            .query_row([key.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        Ok(match row {
            Some((credits, refused)) => {
                Credits::stored(credits.as_deref(), refused.as_deref(), &day)
            }
            None => Credits::Unknown,
        })
    }

    /// Records that a paid model answered 402 "insufficient credits" for `key`'s account:
    /// paid models are out of its chains for the rest of the UTC day. Returns the account and
    /// whether this is news (the first such answer today).
    pub fn refuse_paid_today(&self, key: &KeyId, now: DateTime<Utc>) -> Result<(String, bool)> {
        if let Some(pg) = self.pg() {
            return pg.refuse_paid_today(key, now);
        }
        let day = day_key(now);
        self.write(|tx| {
            let account = account_of(tx, key)?;
            let before: Option<String> = tx
                .prepare_cached("SELECT paid_refused_day FROM accounts WHERE name = ?1")?
                .query_row([&account], |r| r.get(0))
                .optional()?
                .flatten();
            tx.prepare_cached(
                "INSERT INTO accounts (name, paid_refused_day) VALUES (?1, ?2)
                 ON CONFLICT(name) DO UPDATE SET paid_refused_day = ?2",
            )?
            .execute(params![account, day])?;
            Ok((account, before.as_deref() != Some(day.as_str())))
        })
    }

    /// Takes the pool-wide reconciliation slot if the last reconciliation by any process is
    /// older than `every` (or `force`). Returns whether this caller should reconcile now.
    pub fn claim_reconcile(
        &self,
        now: DateTime<Utc>,
        every: chrono::Duration,
        force: bool,
    ) -> Result<bool> {
        if let Some(pg) = self.pg() {
            return pg.claim_reconcile(now, every, force);
        }
        let now_ms = now.timestamp_millis();
        let before = now_ms - every.num_milliseconds();
        self.write(|tx| {
            let n = tx
                .prepare_cached(
                    "UPDATE pool_state SET reconciled_ms = ?1
                     WHERE singleton = 1 AND (?3 OR reconciled_ms IS NULL OR reconciled_ms <= ?2 OR reconciled_ms > ?1)",
                )?
                .execute(params![now_ms, before, force])?;
            Ok(n == 1)
        })
    }

    /// Records `message` under `subject` for today unless it was already said today by any
    /// process. Returns whether it is new (so the caller says it).
    pub fn notice_once(&self, subject: &str, message: &str, now: DateTime<Utc>) -> Result<bool> {
        if let Some(pg) = self.pg() {
            return pg.notice_once(subject, message, now);
        }
        self.write(|tx| {
            let n = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO notices (day, subject, message) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![day_key(now), subject, message])?;
            Ok(n == 1)
        })
    }

    /// Records the account identifier OpenRouter sent with an answer for `key` (only its
    /// hash is kept). Keys without an account of their own that turn out to share one are
    /// grouped into one account (`or-<hash>`); a key the person put in an account keeps it.
    /// Returns the grouping when it changed.
    pub fn observe_owner(&self, key: &KeyId, user_id: &str) -> Result<Option<Grouping>> {
        if let Some(pg) = self.pg() {
            return pg.observe_owner(key, user_id);
        }
        let hash = hex::encode(Sha256::digest(user_id.as_bytes()));
        let hash = &hash[..16];
        self.write(|tx| {
            tx.prepare_cached("UPDATE keys SET owner_hash = ?2 WHERE id = ?1")?
                .execute(params![key.as_str(), hash])?;
            let mates: Vec<(String, Option<String>)> = tx
                .prepare_cached(
                    "SELECT id, account FROM keys WHERE owner_hash = ?1 ORDER BY position, id",
                )?
                .query_map([hash], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            let loose: Vec<&String> = mates
                .iter()
                .filter(|(_, a)| a.is_none())
                .map(|(id, _)| id)
                .collect();
            if mates.len() < 2 || loose.is_empty() {
                return Ok(None);
            }
            // Join the account the person already chose for one of them, else a new one.
            let account = mates
                .iter()
                .find_map(|(_, a)| a.clone())
                .unwrap_or_else(|| format!("or-{}", &hash[..8]));
            for id in &loose {
                tx.prepare_cached("UPDATE keys SET account = ?2 WHERE id = ?1")?
                    .execute(params![id, account])?;
            }
            let keys = tx
                .prepare_cached("SELECT id FROM keys WHERE account = ?1 ORDER BY position, id")?
                .query_map([&account], |r| r.get::<_, String>(0))?
                .map(|r| r.map(|s| KeyId::from_stored(&s)))
                .collect::<rusqlite::Result<_>>()?;
            Ok(Some(Grouping { account, keys }))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{ApiKey, KeySource};
    use crate::ledger::CapDefaults;
    use crate::ledger::reserve::ReserveRequest;

    fn key(n: u8) -> ApiKey {
        // Fake test keys: the shape of an OpenRouter key, no real material.
        ApiKey::parse(&format!("sk-or-v1-{}", format!("{n:02x}").repeat(32))).unwrap()
    }

    fn ledger() -> (tempfile::TempDir, Ledger) {
        let dir = tempfile::tempdir().unwrap();
        let l = Ledger::open(&dir.path().join("l.sqlite3"), CapDefaults::default()).unwrap();
        (dir, l)
    }

    fn now() -> DateTime<Utc> {
        "2026-12-01T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn observations_raise_the_count_but_never_lower_it() {
        let (_d, l) = ledger();
        let k = key(1);
        l.upsert_key(&k, KeySource::Env, None, None, now()).unwrap();
        for _ in 0..3 {
            let r = l
                .reserve(&ReserveRequest {
                    instance_id: "i",
                    key_id: &k.id(),
                    kind: crate::dispatch::Kind::Chat,
                    model: None,
                    now: now(),
                })
                .unwrap();
            assert!(matches!(r, crate::ledger::ReserveOutcome::Granted(_)));
        }
        let up = AccountObservation {
            tier_cap: Some(1000),
            used: Some(10),
            credits: Some(Credits::Paid),
        };
        let o = l.observe_account(&k.id(), &up, now()).unwrap();
        assert_eq!(o.extra, 7, "OpenRouter counted 10, we had 3");
        let st = &l.key_states(&[k.id()], now()).unwrap()[0];
        assert_eq!(st.account_today, 10);
        assert_eq!(st.account_daily_cap, 1000, "the tier's ceiling");
        assert_eq!(
            st.daily_cap, 1000,
            "an own-account key follows its account's tier"
        );
        let down = AccountObservation {
            used: Some(1),
            ..up
        };
        assert_eq!(l.observe_account(&k.id(), &down, now()).unwrap().extra, 0);
        let st = &l.key_states(&[k.id()], now()).unwrap()[0];
        assert_eq!(st.account_today, 3, "never below what this ledger reserved");
        let tomorrow = now() + chrono::Duration::days(1);
        l.observe_account(&k.id(), &up, now()).unwrap();
        assert_eq!(
            l.key_states(&[k.id()], tomorrow).unwrap()[0].account_today,
            0,
            "yesterday's extra does not carry over"
        );
        assert_eq!(l.account_credits(&k.id(), now()).unwrap(), Credits::Paid);
    }

    #[test]
    fn a_person_set_cap_wins_over_the_tier() {
        let (_d, l) = ledger();
        let k = key(2);
        l.upsert_key(&k, KeySource::Env, None, Some("team"), now())
            .unwrap();
        l.set_account_caps("team", Some(30), None).unwrap();
        let obs = AccountObservation {
            tier_cap: Some(1000),
            ..Default::default()
        };
        l.observe_account(&k.id(), &obs, now()).unwrap();
        let st = &l.key_states(&[k.id()], now()).unwrap()[0];
        assert_eq!(st.account_daily_cap, 30);
    }

    #[test]
    fn a_paid_refusal_lasts_the_day() {
        let (_d, l) = ledger();
        let k = key(3);
        l.upsert_key(&k, KeySource::Env, None, None, now()).unwrap();
        assert_eq!(l.account_credits(&k.id(), now()).unwrap(), Credits::Unknown);
        assert!(l.refuse_paid_today(&k.id(), now()).unwrap().1);
        assert!(!l.refuse_paid_today(&k.id(), now()).unwrap().1, "said once");
        assert_eq!(
            l.account_credits(&k.id(), now()).unwrap(),
            Credits::FreeOnly
        );
        let tomorrow = now() + chrono::Duration::days(1);
        assert_eq!(
            l.account_credits(&k.id(), tomorrow).unwrap(),
            Credits::Unknown
        );
    }

    #[test]
    fn reconciliation_is_claimed_once_per_interval_and_notices_once_per_day() {
        let (_d, l) = ledger();
        let every = chrono::Duration::minutes(10);
        assert!(l.claim_reconcile(now(), every, false).unwrap());
        assert!(
            !l.claim_reconcile(now() + chrono::Duration::minutes(9), every, false)
                .unwrap()
        );
        assert!(
            l.claim_reconcile(now() + chrono::Duration::minutes(9), every, true)
                .unwrap()
        );
        assert!(
            l.claim_reconcile(now() + chrono::Duration::minutes(20), every, false)
                .unwrap()
        );
        assert!(l.notice_once("gone:x", "x is gone", now()).unwrap());
        assert!(!l.notice_once("gone:x", "x is gone", now()).unwrap());
        assert!(
            l.notice_once("gone:x", "x is gone", now() + chrono::Duration::days(1))
                .unwrap()
        );
    }

    #[test]
    fn keys_of_one_owner_are_grouped_unless_the_person_chose() {
        let (_d, l) = ledger();
        let (a, b, c) = (key(4), key(5), key(6));
        l.upsert_key(&a, KeySource::Env, None, None, now()).unwrap();
        l.upsert_key(&b, KeySource::Env, None, None, now()).unwrap();
        l.upsert_key(&c, KeySource::Env, None, Some("mine"), now())
            .unwrap();
        assert_eq!(l.observe_owner(&a.id(), "user_1").unwrap(), None);
        let g = l.observe_owner(&b.id(), "user_1").unwrap().unwrap();
        assert!(g.account.starts_with("or-"), "{g:?}");
        assert_eq!(g.keys.len(), 2);
        assert_eq!(l.observe_owner(&b.id(), "user_1").unwrap(), None, "once");
        // A key the person put in an account keeps it; the others join it only if loose.
        assert_eq!(l.observe_owner(&c.id(), "user_2").unwrap(), None);
        let st = l.key_states(&[a.id(), b.id()], now()).unwrap();
        assert_eq!(st[0].account, st[1].account);
    }
}
