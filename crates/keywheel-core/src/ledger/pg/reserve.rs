//! Reserving, releasing and completing on the team ledger: the statements of
//! ledger/reserve.rs on PostgreSQL, deciding with the same rules
//! ([`reserve::evaluate`], [`reserve::decide`]).
//!
//! A reservation is one transaction: it locks the rows of every key of the key's account
//! (`SELECT … FOR UPDATE`, in id order, so two reservations never deadlock), then reads the
//! day counts and the rings of the account's keys — under READ COMMITTED each statement sees
//! what committed before it, so after the locks nothing can change under it — and, only if
//! every cap allows it, increments the key's day row and appends the request row. Every
//! writer of those counts takes the same locks first.

use chrono::{DateTime, Utc};
use tokio_postgres::Transaction;

use super::{Fail, NOW_MS, PgLedger, PgResult, count, opt_count, pg_tx};
use crate::clock::{day_key, from_millis};
use crate::error::{Error, Result};
use crate::keys::KeyId;
use crate::ledger::reserve::KeyState;
use crate::ledger::reserve::{self, RawStanding, Windows};
use crate::ledger::rotation;
use crate::ledger::{Adoption, FailureScope};
use crate::ledger::{
    CapDefaults, Completion, RequestState, Reservation, ReserveOutcome, ReserveRequest,
};

/// Locks the rows of the keys of `id`'s account (in id order) and returns the account;
/// `None` for an unknown key. Retries when the key moved to another account meanwhile.
pub(crate) async fn lock_account(tx: &Transaction<'_>, id: &KeyId) -> PgResult<Option<String>> {
    for _ in 0..10 {
        let Some(row) = tx
            .query_opt(
                "SELECT COALESCE(account, id) FROM keys WHERE id = $1",
                &[&id.as_str()],
            )
            .await?
        else {
            return Ok(None);
        };
        let account: String = row.get(0);
        let locked = tx
            .query(
                "SELECT id FROM keys WHERE COALESCE(account, id) = $1 ORDER BY id FOR UPDATE",
                &[&account],
            )
            .await?;
        if locked.iter().any(|r| r.get::<_, &str>(0) == id.as_str()) {
            return Ok(Some(account));
        }
    }
    Err(Fail::Core(Error::Storage(format!(
        "the key {id} kept moving between accounts while a request was reserved; try again"
    ))))
}

/// The reservation's "now": the server's clock in team mode, else the caller's.
pub(crate) async fn now_in(
    tx: &Transaction<'_>,
    server: bool,
    given: DateTime<Utc>,
) -> PgResult<DateTime<Utc>> {
    if !server {
        return Ok(given);
    }
    Ok(from_millis(tx.query_one(NOW_MS, &[]).await?.get(0)))
}

/// One key's state and, if `windows`, its minute windows (the SQL of ledger/reserve.rs).
pub(crate) async fn standing(
    tx: &Transaction<'_>,
    id: &KeyId,
    now: DateTime<Utc>,
    caps: CapDefaults,
    windows: bool,
) -> PgResult<Option<(KeyState, Windows)>> {
    let day = day_key(now);
    let Some(r) = tx
        .query_opt(
            "SELECT COALESCE(k.account, k.id), k.enabled, k.status, k.status_until, k.daily_cap,
                    k.minute_cap, k.position, a.daily_cap, a.minute_cap, a.exhausted_until,
                    COALESCE(a.no_credit, FALSE), COALESCE(u.requests, 0), k.account IS NULL,
                    a.tier_cap, CASE WHEN a.remote_day = $2 THEN a.extra_requests ELSE 0 END, u.win
             FROM keys k LEFT JOIN accounts a ON a.name = COALESCE(k.account, k.id)
                         LEFT JOIN usage_daily u ON u.key_id = k.id AND u.day = $2
             WHERE k.id = $1",
            &[&id.as_str(), &day],
        )
        .await?
    else {
        return Ok(None);
    };
    let raw = RawStanding {
        account: r.get(0),
        enabled: r.get(1),
        status: r.get(2),
        status_until: r.get(3),
        key_daily: opt_count(r.get(4)),
        key_minute: opt_count(r.get(5)),
        position: r.get(6),
        account_daily: opt_count(r.get(7)),
        account_minute: opt_count(r.get(8)),
        exhausted_until: r.get(9),
        account_no_credit: r.get(10),
        today: count(r.get(11)),
        own_account: r.get(12),
        tier_cap: opt_count(r.get(13)),
    };
    let extra = count(r.get::<_, Option<i64>>(14).unwrap_or(0));
    let mut w = Windows::default();
    let account_today = if windows {
        w.ring_today = r
            .get::<_, Option<&[u8]>>(15)
            .map(reserve::ring_of_bytes)
            .unwrap_or_default();
        let yesterday = reserve::window_reaches_yesterday(now);
        let rows = tx
            .query(
                "SELECT u.key_id = $4, u.day = $2, u.requests, u.win FROM keys k
                 JOIN usage_daily u ON u.key_id = k.id AND (u.day = $2 OR u.day = $3::text)
                 WHERE COALESCE(k.account, k.id) = $1",
                &[&raw.account, &day, &yesterday, &id.as_str()],
            )
            .await?;
        let mut total = 0u32;
        for row in rows {
            let (mine, is_today): (bool, bool) = (row.get(0), row.get(1));
            if is_today {
                total += count(row.get(2));
            }
            let times = row
                .get::<_, Option<&[u8]>>(3)
                .map(reserve::ring_of_bytes)
                .unwrap_or_default();
            if mine {
                w.key.extend_from_slice(&times);
            }
            w.account.extend(times);
        }
        total
    } else {
        count(
            tx.query_one(
                "SELECT COALESCE(SUM(u.requests), 0)::bigint FROM keys k
                 JOIN usage_daily u ON u.key_id = k.id AND u.day = $2
                 WHERE COALESCE(k.account, k.id) = $1",
                &[&raw.account, &day],
            )
            .await?
            .get(0),
        )
    } + extra;
    Ok(Some((
        reserve::evaluate(id, raw, account_today, caps, now),
        w,
    )))
}

impl PgLedger {
    /// [`crate::ledger::Ledger::reserve`] on the team ledger.
    pub(crate) fn reserve(
        &self,
        caps: CapDefaults,
        req: &ReserveRequest<'_>,
    ) -> Result<ReserveOutcome> {
        let server = self.server_clock();
        pg_tx!(self, |tx| {
            if lock_account(tx, req.key_id).await?.is_none() {
                return Err(unknown(req.key_id));
            }
            let now = now_in(tx, server, req.now).await?;
            let (st, w) = standing(tx, req.key_id, now, caps, true)
                .await?
                .ok_or_else(|| unknown(req.key_id))?;
            if let Some(outcome) = reserve::decide(&st, &w, now) {
                return Ok(outcome);
            }
            let now_ms = now.timestamp_millis();
            let day = day_key(now);
            let ring = reserve::ring_blob(&reserve::granted_ring(w.ring_today, now_ms));
            tx.execute(
                    "INSERT INTO usage_daily (key_id, day, requests, win) VALUES ($1, $2, 1, $3)
                     ON CONFLICT (key_id, day) DO UPDATE SET requests = usage_daily.requests + 1, win = $3",
                    &[&req.key_id.as_str(), &day, &ring],
                )
                .await?;
            let id: i64 = tx
                    .query_one(
                        "INSERT INTO requests (instance_id, key_id, account, day, started_ms, kind, model_asked)
                         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                        &[&req.instance_id, &req.key_id.as_str(), &st.account, &day, &now_ms, &req.kind.as_str(), &req.model],
                    )
                    .await?
                    .get(0);
            Ok(ReserveOutcome::Granted(Reservation {
                id,
                key_id: req.key_id.clone(),
                account: st.account,
                day,
            }))
        })
    }

    /// [`crate::ledger::Ledger::release`] on the team ledger.
    pub(crate) fn release(&self, r: &Reservation) -> Result<()> {
        pg_tx!(self, |tx| {
            lock_account(tx, &r.key_id).await?;
            let Some(row) = tx
                    .query_opt(
                        "DELETE FROM requests WHERE id = $1 AND state = 'reserved' RETURNING started_ms",
                        &[&r.id],
                    )
                    .await?
                else {
                    return Ok(());
                };
            let started: i64 = row.get(0);
            let ring = tx
                .query_opt(
                    "SELECT win FROM usage_daily WHERE key_id = $1 AND day = $2",
                    &[&r.key_id.as_str(), &r.day],
                )
                .await?
                .and_then(|row| row.get::<_, Option<&[u8]>>(0).map(reserve::ring_of_bytes))
                .unwrap_or_default();
            let ring = reserve::ring_blob(&reserve::released_ring(ring, started));
            tx.execute(
                    "UPDATE usage_daily SET requests = requests - 1, win = $3 WHERE key_id = $1 AND day = $2",
                    &[&r.key_id.as_str(), &r.day, &ring],
                )
                .await?;
            Ok(())
        })
    }

    /// [`crate::ledger::Ledger::complete`] on the team ledger.
    pub(crate) fn complete(
        &self,
        r: &Reservation,
        c: &Completion,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let finished = now.timestamp_millis();
        let wide = |v: Option<u32>| v.map(i64::from);
        let (prompt, completion, reasoning) = (
            wide(c.prompt_tokens),
            wide(c.completion_tokens),
            wide(c.reasoning_tokens),
        );
        let http = c.http_status.map(i64::from);
        let attempts = i64::from(c.attempts);
        let latency = c.latency_ms.map(|v| i64::try_from(v).unwrap_or(i64::MAX));
        let bytes = c.bytes_sent.map(|v| i64::try_from(v).unwrap_or(i64::MAX));
        pg_tx!(self, |tx| {
            let changed = tx
                    .execute(
                        "UPDATE requests SET state = $2, finished_ms = $3, status_class = $4, http_status = $5,
                           model_answered = $6, attempts = $7, fallback = $8, rotation = $9, prompt_tokens = $10,
                           completion_tokens = $11, reasoning_tokens = $12, cost = $13, latency_ms = $14,
                           bytes_sent = $15, error = $16
                         WHERE id = $1 AND state IN ('reserved', 'abandoned')",
                        &[
                            &r.id,
                            &c.state.as_str(),
                            &finished,
                            &c.status_class.as_str(),
                            &http,
                            &c.model_answered,
                            &attempts,
                            &c.fallback,
                            &c.rotation,
                            &prompt,
                            &completion,
                            &reasoning,
                            &c.cost,
                            &latency,
                            &bytes,
                            &c.error,
                        ],
                    )
                    .await?;
            if changed == 1 {
                let ok = c.state == RequestState::Done;
                tx.execute(
                        "UPDATE usage_daily SET successes = successes + $3, errors = errors + $4,
                           prompt_tokens = prompt_tokens + $5, completion_tokens = completion_tokens + $6,
                           reasoning_tokens = reasoning_tokens + $7, cost = cost + $8
                         WHERE key_id = $1 AND day = $2",
                        &[
                            &r.key_id.as_str(),
                            &r.day,
                            &i64::from(ok),
                            &i64::from(!ok),
                            &prompt.unwrap_or(0),
                            &completion.unwrap_or(0),
                            &reasoning.unwrap_or(0),
                            &c.cost.unwrap_or(0.0),
                        ],
                    )
                    .await?;
            }
            Ok(())
        })
    }

    /// The states of `candidates` (unknown ids left out), for rotation and views.
    pub(crate) fn key_states(
        &self,
        caps: CapDefaults,
        candidates: &[KeyId],
        now: DateTime<Utc>,
    ) -> Result<Vec<KeyState>> {
        let server = self.server_clock();
        pg_tx!(self, |tx| {
            let now = now_in(tx, server, now).await?;
            let mut out = Vec::with_capacity(candidates.len());
            for id in candidates {
                if let Some((st, _)) = standing(tx, id, now, caps, false).await? {
                    out.push(st);
                }
            }
            Ok(out)
        })
    }
}

fn unknown(id: &KeyId) -> Fail {
    Fail::Core(Error::Usage(format!(
        "the key {id} is not registered in the ledger"
    )))
}

impl PgLedger {
    /// [`crate::ledger::Ledger::adopt_at_start`] on the team ledger. The pool's current key
    /// row is locked first (`FOR UPDATE`), so adoptions on every machine are one at a time.
    /// A machine that lacks the current key applies the rule among its own keys and does not
    /// move the team's current key while that key still serves the machines that hold it.
    pub(crate) fn adopt_at_start(
        &self,
        caps: CapDefaults,
        instance_id: &str,
        candidates: &[KeyId],
        rotate_after: u32,
        now: DateTime<Utc>,
    ) -> Result<Adoption> {
        let server = self.server_clock();
        pg_tx!(self, |tx| {
            let previous = lock_current(tx).await?;
            let now = now_in(tx, server, now).await?;
            let mut states = Vec::with_capacity(candidates.len());
            for id in candidates {
                if let Some((st, _)) = standing(tx, id, now, caps, false).await? {
                    states.push(st);
                }
            }
            let (key, mut rotated) = rotation::adoption(&states, previous.as_ref(), rotate_after);
            let held = previous.as_ref().is_none_or(|p| candidates.contains(p));
            let mut move_pool = rotated || previous.is_none();
            if !held && let Some(p) = &previous {
                // Not ours: move the team's key only if it no longer serves anyone.
                let serves = standing(tx, p, now, caps, false)
                    .await?
                    .is_some_and(|(st, _)| st.availability.is_usable() && st.today <= rotate_after);
                if serves {
                    move_pool = false;
                    rotated = false;
                    tracing::info!(
                        current = %p,
                        "this machine does not hold the pool's current key; using its own least-used key"
                    );
                }
            }
            if let Some(k) = &key {
                if move_pool {
                    tx.execute(
                        "UPDATE pool_state SET current_key = $1, changed_ms = $2 WHERE singleton = 1",
                        &[&k.as_str(), &now.timestamp_millis()],
                    )
                    .await?;
                }
                tx.execute(
                    "UPDATE instances SET key_id = $2 WHERE id = $1",
                    &[&instance_id, &k.as_str()],
                )
                .await?;
            }
            Ok(Adoption {
                key,
                rotated,
                previous,
            })
        })
    }

    /// [`crate::ledger::Ledger::fall_back`] on the team ledger.
    pub(crate) fn fall_back(
        &self,
        caps: CapDefaults,
        instance_id: &str,
        failed: &KeyId,
        scope: FailureScope,
        candidates: &[KeyId],
        now: DateTime<Utc>,
    ) -> Result<Option<KeyId>> {
        let server = self.server_clock();
        pg_tx!(self, |tx| {
            let current = lock_current(tx).await?;
            let now = now_in(tx, server, now).await?;
            let mut states = Vec::with_capacity(candidates.len());
            for id in candidates {
                if let Some((st, _)) = standing(tx, id, now, caps, false).await? {
                    states.push(st);
                }
            }
            let next = rotation::fallback(&states, failed, scope);
            if let Some(k) = &next {
                tx.execute(
                    "UPDATE instances SET key_id = $2 WHERE id = $1",
                    &[&instance_id, &k.as_str()],
                )
                .await?;
                if current.as_ref() == Some(failed) {
                    tx.execute(
                        "UPDATE pool_state SET current_key = $1, changed_ms = $2 WHERE singleton = 1",
                        &[&k.as_str(), &now.timestamp_millis()],
                    )
                    .await?;
                }
            }
            Ok(next)
        })
    }
}

/// Locks the pool's current-key row and reads it.
async fn lock_current(tx: &Transaction<'_>) -> PgResult<Option<KeyId>> {
    Ok(tx
        .query_opt(
            "SELECT current_key FROM pool_state WHERE singleton = 1 FOR UPDATE",
            &[],
        )
        .await?
        .and_then(|r| r.get::<_, Option<String>>(0))
        .map(KeyId::from_stored))
}
