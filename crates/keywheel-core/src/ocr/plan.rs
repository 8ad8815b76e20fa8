//! The quota plan: requests a batch needs against requests left today, said plainly before
//! anything is spent (`23 images need 23 requests; 17 left today; 6 will wait for 00:00 UTC
//! (in 5 h 40 min)`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::clock::{describe_reset, next_utc_midnight};
use crate::error::Result;
use crate::ledger::reserve::KeyState;
use crate::pool::{Pool, explain_unavailable};

use super::local::LOCAL_LABEL;

/// What a batch will do, decided before it spends anything.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct QuotaPlan {
    /// Images in the batch.
    pub images: usize,
    /// Tiles (one request each) in the batch.
    pub tiles: usize,
    /// Tiles done in an earlier run (read back, not sent).
    pub done: usize,
    /// Tiles the shared response cache answers (no quota).
    pub cached: usize,
    /// Requests needed: tiles neither done nor cached.
    pub needed: usize,
    /// Requests left today across usable keys and accounts.
    pub left: u32,
    /// Requests this run will send.
    pub send: usize,
    /// Tiles beyond the quota: they wait, or go to the local engine.
    pub over: usize,
    /// Whether the tiles beyond the quota go to the local engine.
    pub over_to_local: bool,
    /// When quota frees again (for the tiles that wait).
    pub reset_at: Option<DateTime<Utc>>,
    /// Why no key can serve at all (none configured, all invalid or disabled), if so.
    pub no_key: Option<String>,
    /// When the plan was made.
    pub now: DateTime<Utc>,
}

impl QuotaPlan {
    /// The plan in one sentence.
    pub fn sentence(&self) -> String {
        let images = plural(self.images, "image");
        let tiles = if self.tiles > self.images {
            format!(" ({} tiles)", self.tiles)
        } else {
            String::new()
        };
        let verb = if self.images == 1 { "needs" } else { "need" };
        let mut s = format!("{images}{tiles} {verb} {}", plural(self.needed, "request"));
        let free: Vec<String> = [(self.done, "already done"), (self.cached, "in the cache")]
            .iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, what)| format!("{n} {what}"))
            .collect();
        if !free.is_empty() {
            s.push_str(&format!(" ({}, free)", free.join(", ")));
        }
        match &self.no_key {
            Some(why) if self.needed > 0 => {
                s.push_str(&format!("; no key can serve them ({why})"));
                if self.over_to_local {
                    s.push_str(&format!("; {} will go to {LOCAL_LABEL}", self.over));
                }
            }
            _ => {
                s.push_str(&format!("; {} left today", self.left));
                if self.over > 0 {
                    if self.over_to_local {
                        s.push_str(&format!("; {} will go to {LOCAL_LABEL}", self.over));
                    } else if let Some(at) = self.reset_at {
                        s.push_str(&format!(
                            "; {} will wait for {}",
                            self.over,
                            describe_reset(at, self.now)
                        ));
                    }
                }
            }
        }
        s
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// What the pool can still spend today, and when it frees if it cannot.
#[derive(Debug, Clone)]
pub(crate) struct Budget {
    pub left: u32,
    pub reset_at: DateTime<Utc>,
    pub no_key: Option<String>,
}

/// Requests left today across the usable keys this process holds, each account counted once
/// (keys of one account share its daily cap).
pub(crate) fn budget(pool: &Pool) -> Result<Budget> {
    let now = pool.now();
    let ring = pool.ring();
    let states = pool.ledger().key_states(&ring.ids(), now)?;
    Ok(budget_of(&states, ring.len(), now))
}

pub(crate) fn budget_of(states: &[KeyState], ring_len: usize, now: DateTime<Utc>) -> Budget {
    let mut accounts: BTreeMap<&str, (u32, u32)> = BTreeMap::new();
    for s in states.iter().filter(|s| s.availability.is_usable()) {
        let entry = accounts
            .entry(s.account.as_str())
            .or_insert((0, s.account_daily_cap.saturating_sub(s.account_today)));
        entry.0 += s.daily_cap.saturating_sub(s.today);
    }
    let left = accounts
        .values()
        .map(|(keys, account)| (*keys).min(*account))
        .sum();
    let midnight = next_utc_midnight(now);
    let reset_at = states
        .iter()
        .filter_map(|s| s.availability.frees_at())
        .min()
        .map_or(midnight, |t| t.min(midnight));
    let any_recovers = states
        .iter()
        .any(|s| s.availability.is_usable() || s.availability.frees_at().is_some());
    let no_key = (ring_len == 0 || !any_recovers)
        .then(|| explain_unavailable(states, ring_len, now).to_string());
    Budget {
        left,
        reset_at,
        no_key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyId;
    use crate::ledger::reserve::Availability;
    use chrono::TimeZone;

    fn state(
        id: &str,
        account: &str,
        today: u32,
        cap: u32,
        account_today: u32,
        availability: Availability,
    ) -> KeyState {
        KeyState {
            id: KeyId::from_stored(id),
            account: account.into(),
            today,
            daily_cap: cap,
            minute_cap: 20,
            account_today,
            account_daily_cap: cap,
            account_minute_cap: 20,
            availability,
            position: 0,
        }
    }

    #[test]
    fn keys_of_one_account_share_its_cap_and_spent_keys_count_nothing() {
        let now = Utc.with_ymd_and_hms(2026, 3, 1, 18, 20, 0).unwrap();
        let midnight = next_utc_midnight(now);
        let states = [
            state("a", "me", 30, 50, 45, Availability::Usable),
            state("b", "me", 15, 50, 45, Availability::Usable),
            state("c", "c", 44, 50, 44, Availability::Usable),
            state(
                "d",
                "d",
                50,
                50,
                50,
                Availability::KeySpent { until: midnight },
            ),
        ];
        let b = budget_of(&states, 4, now);
        assert_eq!(
            b.left,
            5 + 6,
            "account `me` has 5 left although its keys have 55; c has 6; d none"
        );
        assert_eq!(b.reset_at, midnight);
        assert!(b.no_key.is_none());
        let none = budget_of(&[], 0, now);
        assert_eq!(none.left, 0);
        assert!(
            none.no_key
                .unwrap()
                .contains("no OpenRouter key is configured")
        );
    }

    #[test]
    fn the_sentence_reads_like_the_issue() {
        let now = Utc.with_ymd_and_hms(2026, 3, 1, 18, 20, 0).unwrap();
        let plan = QuotaPlan {
            images: 23,
            tiles: 23,
            done: 0,
            cached: 0,
            needed: 23,
            left: 17,
            send: 17,
            over: 6,
            over_to_local: false,
            reset_at: Some(next_utc_midnight(now)),
            no_key: None,
            now,
        };
        let s = plan.sentence();
        assert!(
            s.starts_with("23 images need 23 requests; 17 left today; 6 will wait for 00:00 UTC ("),
            "{s}"
        );
        assert!(s.ends_with("in 5 h 40 min)"), "{s}");
        let local = QuotaPlan {
            over_to_local: true,
            done: 2,
            ..plan
        };
        assert!(
            local.sentence().contains(
                "(2 already done, free); 17 left today; 6 will go to local OCR (tesseract)"
            ),
            "{}",
            local.sentence()
        );
    }
}
