//! The pool-wide current key: rotation at instance start (docs/pool.md §3) and fallback when the
//! instance's key cannot serve (docs/pool.md §4).
//!
//! Rotation: a starting instance adopts the current key unless that key has MORE than
//! `rotate_after` requests today or is unusable; then the current key advances to the usable
//! key with the fewest requests today (ties: the next one after the current key in the order
//! keys were added) and the instance adopts that. A running instance never rotates by itself.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::Ledger;
use super::reserve::{KeyState, key_state};
use crate::error::Result;
use crate::keys::KeyId;

/// What an instance got at start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Adoption {
    /// The key adopted; `None` when no candidate is usable.
    pub key: Option<KeyId>,
    /// Whether the pool's current key moved.
    pub rotated: bool,
    /// The previous current key.
    pub previous: Option<KeyId>,
    /// On a team ledger: the pool's current key, which this machine does not hold, so it
    /// applied the rule among its own keys (see [`Adoption::sentence`]).
    pub not_held: Option<KeyId>,
}

impl Adoption {
    /// What the person is told at start, if anything: that this machine lacks the team's
    /// current key and uses its own least-used key instead.
    pub fn sentence(&self) -> Option<String> {
        let current = self.not_held.as_ref()?;
        Some(match &self.key {
            Some(k) => format!(
                "this machine does not hold the pool's current key {current}; using its own \
                 least-used key {k}"
            ),
            None => format!(
                "this machine does not hold the pool's current key {current}, and none of its \
                 own keys can serve now"
            ),
        })
    }
}

/// How far a failure reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureScope {
    /// Only this key (daily cap, 401, 402 on the key, spend limit).
    Key,
    /// The whole account (429 `free-models-per-day`, account out of credit): skip its keys.
    Account,
}

/// Reads the states of the given candidate keys (unknown ids are skipped).
pub(crate) fn states(
    tx: &Connection,
    candidates: &[KeyId],
    now: DateTime<Utc>,
    caps: super::CapDefaults,
) -> Result<Vec<KeyState>> {
    let mut out = Vec::with_capacity(candidates.len());
    for id in candidates {
        if let Some(st) = key_state(tx, id, now, caps)? {
            out.push(st);
        }
    }
    out.sort_by_key(|s| (s.position, s.id.clone()));
    Ok(out)
}

/// The usable key with the fewest requests today; ties go to the first one after `after` in
/// the ring order, so the pool cycles instead of sticking to the first key.
fn pick(
    states: &[KeyState],
    after: Option<&KeyId>,
    exclude: impl Fn(&KeyState) -> bool,
) -> Option<KeyId> {
    let start = after
        .and_then(|a| states.iter().position(|s| &s.id == a))
        .map(|i| i + 1)
        .unwrap_or(0);
    let n = states.len();
    (0..n)
        .map(|k| &states[(start + k) % n.max(1)])
        .filter(|s| s.availability.is_usable() && !exclude(s))
        .enumerate()
        .min_by_key(|(order, s)| (s.today, s.account_today, *order))
        .map(|(_, s)| s.id.clone())
}

/// The rotation rule (docs/pool.md §3) over the states of the keys an instance holds: keep
/// the pool's current key while it is usable and has at most `rotate_after` requests today,
/// else the usable key with the fewest (another one first). Returns the key and whether the
/// pool moved. One function for both backends.
pub(crate) fn adoption(
    states: &[KeyState],
    previous: Option<&KeyId>,
    rotate_after: u32,
) -> (Option<KeyId>, bool) {
    let keep = previous
        .and_then(|cur| states.iter().find(|s| &s.id == cur))
        .filter(|s| s.availability.is_usable() && s.today <= rotate_after);
    match keep {
        Some(s) => (Some(s.id.clone()), false),
        None => {
            // Prefer another key; the current one only if nothing else is usable.
            let other = pick(states, previous, |s| Some(&s.id) == previous);
            let chosen = other.or_else(|| pick(states, previous, |_| false));
            let moved = chosen.is_some() && previous.is_some() && chosen.as_ref() != previous;
            (chosen, moved)
        }
    }
}

/// The fallback rule (docs/pool.md §4): the next usable key after `failed`, skipping its whole
/// account when the failure was account-wide. One function for both backends.
pub(crate) fn fallback(states: &[KeyState], failed: &KeyId, scope: FailureScope) -> Option<KeyId> {
    let failed_account = states
        .iter()
        .find(|s| &s.id == failed)
        .map(|s| s.account.clone());
    pick(states, Some(failed), |s| {
        &s.id == failed
            || (scope == FailureScope::Account && Some(&s.account) == failed_account.as_ref())
    })
}

fn current(tx: &Connection) -> Result<Option<KeyId>> {
    Ok(tx
        .query_row(
            "SELECT current_key FROM pool_state WHERE singleton = 1",
            [],
            |r| r.get::<_, Option<String>>(0),
        )
        .optional()?
        .flatten()
        .map(KeyId::from_stored))
}

fn set_current(tx: &Connection, key: &KeyId, now: DateTime<Utc>) -> Result<()> {
    tx.execute(
        "UPDATE pool_state SET current_key = ?1, changed_ms = ?2 WHERE singleton = 1",
        params![key.as_str(), now.timestamp_millis()],
    )?;
    Ok(())
}

impl Ledger {
    /// Applies the rotation rule for a starting instance. `candidates` are the keys this
    /// instance holds material for.
    pub fn adopt_at_start(
        &self,
        instance_id: &str,
        candidates: &[KeyId],
        rotate_after: u32,
        now: DateTime<Utc>,
    ) -> Result<Adoption> {
        if let Some(pg) = self.pg() {
            return pg.adopt_at_start(self.caps, instance_id, candidates, rotate_after, now);
        }
        let caps = self.caps;
        self.write(|tx| {
            let states = states(tx, candidates, now, caps)?;
            let previous = current(tx)?;
            let (key, rotated) = adoption(&states, previous.as_ref(), rotate_after);
            if let Some(k) = &key {
                if rotated || previous.is_none() {
                    set_current(tx, k, now)?;
                }
                tx.execute(
                    "UPDATE instances SET key_id = ?2 WHERE id = ?1",
                    params![instance_id, k.as_str()],
                )?;
            }
            Ok(Adoption {
                key,
                rotated,
                previous,
                not_held: None,
            })
        })
    }

    /// Picks the key to fall back to after `failed` could not serve, skipping the failed key's
    /// whole account when the failure was account-wide, and records it as the instance's key.
    /// The pool's current key moves too if it was the failed one, so new instances skip it.
    pub fn fall_back(
        &self,
        instance_id: &str,
        failed: &KeyId,
        scope: FailureScope,
        candidates: &[KeyId],
        now: DateTime<Utc>,
    ) -> Result<Option<KeyId>> {
        if let Some(pg) = self.pg() {
            return pg.fall_back(self.caps, instance_id, failed, scope, candidates, now);
        }
        let caps = self.caps;
        self.write(|tx| {
            let states = states(tx, candidates, now, caps)?;
            let next = fallback(&states, failed, scope);
            if let Some(k) = &next {
                tx.execute(
                    "UPDATE instances SET key_id = ?2 WHERE id = ?1",
                    params![instance_id, k.as_str()],
                )?;
                if current(tx)?.as_ref() == Some(failed) {
                    set_current(tx, k, now)?;
                }
            }
            Ok(next)
        })
    }

    /// The states of the candidate keys now (for error messages and status).
    pub fn key_states(&self, candidates: &[KeyId], now: DateTime<Utc>) -> Result<Vec<KeyState>> {
        if let Some(pg) = self.pg() {
            return pg.key_states(self.caps, candidates, now);
        }
        let caps = self.caps;
        self.read(|tx| states(tx, candidates, now, caps))
    }

    /// The pool's current key.
    pub fn current_key(&self) -> Result<Option<KeyId>> {
        if let Some(pg) = self.pg() {
            return pg.current_key();
        }
        self.read(current)
    }
}
