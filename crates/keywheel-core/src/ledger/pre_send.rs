//! What a job reads before each send, in one statement: when the stored catalogue was
//! fetched (whether this process's parsed copy is still the ledger's), whether the key's
//! account can buy paid models today, and the models skipped today. One statement is one
//! read snapshot: one WAL read mark taken and one page-cache check, where three reads took
//! three (BENCHMARKS.md, "The gateway vs direct calls").

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::{Credits, Ledger};
use crate::clock::{day_key, from_millis};
use crate::error::Result;
use crate::keys::KeyId;

/// The ledger's state a job's chain is resolved against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreSend {
    /// When the stored `/models` catalogue was fetched (`None`: none stored).
    pub models_fetched: Option<DateTime<Utc>>,
    /// Whether the account of the key in use can buy paid models today.
    pub credits: Credits,
    /// Models skipped for the rest of the UTC day.
    pub skipped: Vec<String>,
}

impl Ledger {
    /// [`PreSend`] for the key in use (`None`: no key, credits unknown), as of `now`.
    pub fn pre_send(&self, key: Option<&KeyId>, now: DateTime<Utc>) -> Result<PreSend> {
        if self.pg().is_some() {
            return Ok(PreSend {
                models_fetched: self.models_fetched()?,
                credits: match key {
                    Some(k) => self.account_credits(k, now)?,
                    None => Credits::Unknown,
                },
                skipped: self.skipped_models(now)?,
            });
        }
        let day = day_key(now);
        let conn = self.conn()?;
        let (fetched, credits, refused, skipped) = conn
            .prepare_cached(
                "SELECT (SELECT fetched_ms FROM models_cache WHERE singleton = 1),
                        a.credits, a.paid_refused_day,
                        (SELECT json_group_array(model) FROM model_skips WHERE day = ?2)
                 FROM (SELECT 1) LEFT JOIN accounts a
                      ON a.name = COALESCE((SELECT COALESCE(account, id) FROM keys WHERE id = ?1), ?1)",
            )?
            .query_row(params![key.map(KeyId::as_str), day], |r| {
                Ok((
                    r.get::<_, Option<i64>>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })?;
        let skipped = if skipped == "[]" {
            Vec::new()
        } else {
            serde_json::from_str(&skipped).map_err(|e| {
                crate::Error::Storage(format!("today's skipped models could not be read: {e}"))
            })?
        };
        Ok(PreSend {
            models_fetched: fetched.map(from_millis),
            credits: Credits::stored(credits.as_deref(), refused.as_deref(), &day),
            skipped,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{ApiKey, KeySource};
    use crate::ledger::{AccountObservation, CapDefaults};

    fn now() -> DateTime<Utc> {
        "2026-12-02T10:00:00Z".parse().unwrap()
    }

    /// The one statement reads what the three separate reads read, in every state.
    #[test]
    fn the_one_read_agrees_with_the_three() {
        let dir = tempfile::tempdir().unwrap();
        let l = Ledger::open(&dir.path().join("l.sqlite3"), CapDefaults::default()).unwrap();
        // A fake test key: the shape of an OpenRouter key, no real material.
        let k = ApiKey::parse(&format!("sk-or-v1-{}", "ab".repeat(32))).unwrap();
        let three = |key: Option<&KeyId>, at: DateTime<Utc>| PreSend {
            models_fetched: l.models_fetched().unwrap(),
            credits: key.map_or(Credits::Unknown, |k| l.account_credits(k, at).unwrap()),
            skipped: l.skipped_models(at).unwrap(),
        };
        let check = |key: Option<&KeyId>, at: DateTime<Utc>| {
            let one = l.pre_send(key, at).unwrap();
            assert_eq!(one, three(key, at));
            one
        };
        // Empty ledger, no key, and a key not registered.
        let empty = check(None, now());
        assert_eq!(
            (empty.models_fetched, empty.credits),
            (None, Credits::Unknown)
        );
        assert!(empty.skipped.is_empty());
        check(Some(&k.id()), now());

        l.upsert_key(&k, KeySource::Env, None, None, now()).unwrap();
        l.models_store("[]", now()).unwrap();
        l.skip_model_today("a/gone", "no endpoints", now()).unwrap();
        l.skip_model_today("b/\"quoted\"", "no endpoints", now())
            .unwrap();
        l.observe_account(
            &k.id(),
            &AccountObservation {
                credits: Some(Credits::Paid),
                ..AccountObservation::default()
            },
            now(),
        )
        .unwrap();
        let seen = check(Some(&k.id()), now());
        assert_eq!(seen.models_fetched, Some(now()));
        assert_eq!(seen.credits, Credits::Paid);
        assert_eq!(seen.skipped.len(), 2);
        // Refused today: free only; tomorrow the skips and the refusal are gone.
        l.refuse_paid_today(&k.id(), now()).unwrap();
        assert_eq!(check(Some(&k.id()), now()).credits, Credits::FreeOnly);
        let tomorrow = now() + chrono::Duration::days(1);
        let next = check(Some(&k.id()), tomorrow);
        assert_eq!(next.credits, Credits::Paid);
        assert!(next.skipped.is_empty());
    }
}
