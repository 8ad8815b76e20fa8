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
//!
//! The fast path does the same on the server in one call (`keywheel_reserve`, migration 12):
//! one statement in its own transaction, one round trip, granting only when every rule
//! certainly allows it and the key's day row exists. Everything else — every refusal, the
//! first request of a key's day — falls back to the locked transaction, which stays the one
//! place refusals are decided and worded.

use chrono::{DateTime, Utc};
use tokio_postgres::Transaction;
use tokio_postgres::types::ToSql;

use super::{Fail, NOW_MS, PgLedger, PgResult, Retry, count, opt_count, pg_tx};
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
    /// [`crate::ledger::Ledger::reserve`] on the team ledger. First the fast path: one
    /// statement in its own transaction, one round trip ([`Self::reserve_fast`]), which grants
    /// only when every rule certainly allows it; anything else (a refusal, the first request
    /// of the day, a key set that changed) falls back to the locked transaction
    /// ([`Self::reserve_once`], two round trips), which decides and words every refusal. A try
    /// the server rolled back (a conflict, a lost connection, an account that changed its keys
    /// meanwhile) is tried again; a call whose answer was lost is resolved by asking the server
    /// what became of it ([`Self::resolve_fast`], [`Self::resolve_commit`]): counted once,
    /// granted once, never lost.
    pub(crate) fn reserve(
        &self,
        caps: CapDefaults,
        req: &ReserveRequest<'_>,
    ) -> Result<ReserveOutcome> {
        self.block(async {
            let mut retry = Retry::default();
            let mut fast = true;
            loop {
                let attempt = if fast {
                    match self.reserve_fast(caps, req).await {
                        Ok(Fast::Granted(out)) => Ok(out),
                        Ok(Fast::Fallback) => {
                            fast = false;
                            continue;
                        }
                        Ok(Fast::Again) if retry.tries < 20 => {
                            retry.tries += 1;
                            continue;
                        }
                        // Lost again and again: the locked transaction decides.
                        Ok(Fast::Again) => {
                            fast = false;
                            continue;
                        }
                        Err(e) => Err(e),
                    }
                } else {
                    match self.reserve_once(caps, req).await {
                        Ok(Try::Done(out)) => Ok(out),
                        Ok(Try::Again) if retry.tries < 20 => {
                            retry.tries += 1;
                            retry.pause().await;
                            continue;
                        }
                        Ok(Try::Again) => Err(Fail::Core(Error::Storage(format!(
                            "the key {} kept moving between accounts while a request was \
                             reserved; try again",
                            req.key_id
                        )))),
                        Ok(Try::Unsure { xid, granted }) => {
                            match self.resolve_commit(xid).await {
                                Ok(true) => Ok(granted),
                                // Rolled back: nothing was counted; reserve again.
                                Ok(false) => {
                                    retry.tries += 1;
                                    continue;
                                }
                                Err(e) => Err(e),
                            }
                        }
                        Err(e) => Err(e),
                    }
                };
                match self.settle(attempt, &mut retry, true) {
                    Some(done) => break done,
                    None => retry.pause().await,
                }
            }
        })
    }

    /// The fast path: `keywheel_reserve` (migration 12), one prepared statement (cached per
    /// connection) in its own implicit transaction. On the server it takes the locked
    /// transaction's locks (the account's keys' rows, in id order), reads after them, and —
    /// only when every cap certainly allows it and the key's day row exists — increments that
    /// row, rewrites its ring and appends the request row, carrying a random token; otherwise
    /// it changes nothing and says so ([`Fast::Fallback`]). When the call's answer is lost its
    /// token says, once the server process that ran it is gone, whether it was granted.
    async fn reserve_fast(&self, caps: CapDefaults, req: &ReserveRequest<'_>) -> PgResult<Fast> {
        let client = self.client().await?;
        let backend = self.backend_of(&client).await?;
        let stmt = client.prepare_cached(FAST_RESERVE).await?;
        let given = (!self.server_clock()).then(|| req.now.timestamp_millis());
        let token: i64 = rand::random();
        let id = req.key_id.as_str();
        let kind = req.kind.as_str();
        let (daily, minute) = (i64::from(caps.daily), i64::from(caps.minute));
        let args: [&(dyn ToSql + Sync); 9] = [
            &id,
            &given,
            &req.instance_id,
            &kind,
            &req.model,
            &daily,
            &minute,
            &caps.tier_applies,
            &token,
        ];
        match client.query_opt(&stmt, &args).await {
            Ok(Some(row)) => Ok(Fast::Granted(ReserveOutcome::Granted(Reservation {
                id: row.get(0),
                key_id: req.key_id.clone(),
                account: row.get(1),
                day: row.get(2),
            }))),
            Ok(None) => Ok(Fast::Fallback),
            Err(e) if is_lost(&e) => {
                drop(client);
                match self
                    .resolve_fast(&backend, req.key_id, token, given)
                    .await?
                {
                    Some(r) => Ok(Fast::Granted(ReserveOutcome::Granted(r))),
                    None => Ok(Fast::Again),
                }
            }
            Err(e) => Err(Fail::Pg(e)),
        }
    }

    /// The server process behind `client` (asked once per pooled connection).
    async fn backend_of(&self, client: &deadpool_postgres::Object) -> PgResult<Backend> {
        let id = deadpool_postgres::Object::id(client);
        let known = self
            .inner
            .backends
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .cloned();
        if let Some(b) = known {
            return Ok(b);
        }
        let row = client
            .query_one(
                "SELECT pid, backend_start::text FROM pg_stat_activity WHERE pid = pg_backend_pid()",
                &[],
            )
            .await?;
        let b = Backend {
            pid: row.get(0),
            start: row.get(1),
        };
        let mut map = self
            .inner
            .backends
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        // Connections replaced over a long run: forget the old ones now and then (a live
        // one is asked again).
        if map.len() > 64 {
            map.clear();
        }
        map.insert(id, b.clone());
        Ok(b)
    }

    /// What became of a fast-path call whose answer was lost: on a fresh connection, ends the
    /// server process that ran it (if it is still there) and waits until it is gone — its
    /// transaction has then committed or rolled back, and nothing of it can still run — then
    /// looks for the request row carrying `token`. Retried while the server is away, for up to
    /// the connect timeout.
    async fn resolve_fast(
        &self,
        backend: &Backend,
        key: &KeyId,
        token: i64,
        given: Option<i64>,
    ) -> PgResult<Option<Reservation>> {
        let mut retry = Retry::default();
        loop {
            let asked: PgResult<Option<Option<Reservation>>> = async {
                let client = self.client().await?;
                let alive = "SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND backend_start::text = $2";
                let there: i64 = client
                    .query_one(alive, &[&backend.pid, &backend.start])
                    .await?
                    .get(0);
                if there > 0 {
                    // A role may end its own sessions; if it may not, wait for the process.
                    let _ = client
                        .execute(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                             WHERE pid = $1 AND backend_start::text = $2",
                            &[&backend.pid, &backend.start],
                        )
                        .await;
                    return Ok(None);
                }
                let row = client
                    .query_opt(
                        "SELECT id, account, day FROM requests
                         WHERE key_id = $1 AND token = $2
                           AND started_ms >= COALESCE($3::bigint,
                                 (extract(epoch FROM clock_timestamp()) * 1000)::bigint - 3600000)
                           AND started_ms <= COALESCE($3::bigint, 9223372036854775807)",
                        &[&key.as_str(), &token, &given],
                    )
                    .await?;
                Ok(Some(row.map(|r| Reservation {
                    id: r.get(0),
                    key_id: key.clone(),
                    account: r.get(1),
                    day: r.get(2),
                })))
            }
            .await;
            match asked {
                Ok(Some(found)) => return Ok(found),
                // Still running: asked again after a pause.
                Ok(None) => {}
                Err(f) if f.is_lost() && self.may_reconnect(&mut retry) => {}
                Err(f) => return Err(f),
            }
            retry.tries += 1;
            retry.pause().await;
        }
    }

    /// One try of a reservation, pipelined in two round trips:
    /// 1. `BEGIN`; lock the rows of the key's account's keys (in id order); read, in one
    ///    statement that starts after the locks are held, the server's clock, the transaction's
    ///    id, a request id, and every key of the account with its day rows (today's and
    ///    yesterday's rings) — the state [`reserve::evaluate`] and [`reserve::decide`] need;
    /// 2. if granted: the day row's increment and the request row, in one statement, and
    ///    `COMMIT`; else `ROLLBACK`.
    async fn reserve_once(&self, caps: CapDefaults, req: &ReserveRequest<'_>) -> PgResult<Try> {
        let client = self.client().await?;
        let (lock, read, write) = tokio::join!(
            client.prepare_cached(LOCK_ACCOUNT),
            client.prepare_cached(READ_ACCOUNT),
            client.prepare_cached(WRITE_GRANT),
        );
        let (lock, read, write) = (lock?, read?, write?);
        let given = (!self.server_clock()).then(|| req.now.timestamp_millis());
        let id = req.key_id.as_str();
        let (lock_args, read_args): ([&(dyn ToSql + Sync); 1], [&(dyn ToSql + Sync); 2]) =
            ([&id], [&id, &given]);
        let (begun, locked, rows) = tokio::join!(
            client.batch_execute("BEGIN"),
            client.query(&lock, &lock_args),
            client.query(&read, &read_args),
        );
        let first = begun.and(locked).and_then(|l| rows.map(|r| (l, r)));
        let (locked, rows) = match first {
            Ok(v) => v,
            Err(e) => return Err(abort(&client, e).await),
        };
        let same = locked.len() == rows.len()
            && locked
                .iter()
                .zip(&rows)
                .all(|(l, r)| l.get::<_, &str>(0) == r.get::<_, &str>(COL_ID));
        if !same {
            // The account's keys changed between the lock and the read: not all are locked.
            rollback(&client).await?;
            return Ok(Try::Again);
        }
        let Some(mine) = rows.iter().find(|r| r.get::<_, &str>(COL_ID) == id) else {
            rollback(&client).await?;
            return Err(unknown(req.key_id));
        };
        let now = from_millis(mine.get(COL_NOW));
        let (xid, request_id): (i64, i64) = (mine.get(COL_XID), mine.get(COL_NEXT_ID));
        let raw = RawStanding {
            account: mine.get(COL_ID + 1),
            enabled: mine.get(COL_ID + 2),
            status: mine.get(COL_ID + 3),
            status_until: mine.get(COL_ID + 4),
            key_daily: opt_count(mine.get(COL_ID + 5)),
            key_minute: opt_count(mine.get(COL_ID + 6)),
            position: mine.get(COL_ID + 7),
            account_daily: opt_count(mine.get(COL_ID + 8)),
            account_minute: opt_count(mine.get(COL_ID + 9)),
            exhausted_until: mine.get(COL_ID + 10),
            account_no_credit: mine.get(COL_ID + 11),
            today: count(mine.get(COL_ID + 12)),
            own_account: mine.get(COL_ID + 13),
            tier_cap: opt_count(mine.get(COL_ID + 14)),
        };
        let extra = count(mine.get::<_, Option<i64>>(COL_ID + 15).unwrap_or(0));
        let ring = |r: &tokio_postgres::Row, col: usize| {
            r.get::<_, Option<&[u8]>>(col)
                .map(reserve::ring_of_bytes)
                .unwrap_or_default()
        };
        let yesterday = reserve::window_reaches_yesterday(now).is_some();
        let mut w = Windows {
            ring_today: ring(mine, COL_WIN),
            ..Windows::default()
        };
        let mut total = 0u32;
        for r in &rows {
            total += count(r.get(COL_ID + 12));
            let mut times = ring(r, COL_WIN);
            if yesterday {
                times.extend(ring(r, COL_WIN + 1));
            }
            if r.get::<_, &str>(COL_ID) == id {
                w.key.extend_from_slice(&times);
            }
            w.account.extend(times);
        }
        let st = reserve::evaluate(req.key_id, raw, total + extra, caps, now);
        if let Some(outcome) = reserve::decide(&st, &w, now) {
            rollback(&client).await?;
            return Ok(Try::Done(outcome));
        }
        let now_ms = now.timestamp_millis();
        let day = day_key(now);
        let blob = reserve::ring_blob(&reserve::granted_ring(w.ring_today, now_ms));
        let kind = req.kind.as_str();
        let write_args: [&(dyn ToSql + Sync); 9] = [
            &id,
            &day,
            &blob,
            &request_id,
            &req.instance_id,
            &st.account,
            &now_ms,
            &kind,
            &req.model,
        ];
        let (wrote, committed) = tokio::join!(
            client.execute(&write, &write_args),
            client.batch_execute("COMMIT"),
        );
        let granted = ReserveOutcome::Granted(Reservation {
            id: request_id,
            key_id: req.key_id.clone(),
            account: st.account,
            day,
        });
        match (wrote, committed) {
            (Ok(_), Ok(())) => Ok(Try::Done(granted)),
            // A lost connection: the COMMIT may or may not have been applied.
            (Err(e), _) | (_, Err(e)) if is_lost(&e) => Ok(Try::Unsure { xid, granted }),
            // The statement failed: the COMMIT rolled the transaction back.
            (Err(e), _) | (_, Err(e)) => Err(Fail::Pg(e)),
        }
    }

    /// Whether the transaction `xid`, whose COMMIT's answer was lost, committed: asked on a
    /// fresh connection (retried while the server is away, for up to the connect timeout);
    /// "in progress" (the old backend has not finished yet) is asked again.
    async fn resolve_commit(&self, xid: i64) -> PgResult<bool> {
        let mut retry = Retry::default();
        loop {
            let asked: PgResult<Option<String>> = async {
                let client = self.client().await?;
                Ok(client
                    .query_one("SELECT pg_xact_status($1::text::xid8)", &[&xid.to_string()])
                    .await?
                    .get(0))
            }
            .await;
            match asked {
                Ok(Some(s)) if s == "committed" => return Ok(true),
                Ok(Some(s)) if s == "aborted" => return Ok(false),
                Ok(Some(_)) => {}
                Ok(None) => {
                    return Err(Fail::Core(Error::Storage(format!(
                        "the team ledger {} no longer knows whether a reservation committed",
                        self.target().display()
                    ))));
                }
                Err(f) if f.is_lost() && self.may_reconnect(&mut retry) => {}
                Err(f) => return Err(f),
            }
            retry.tries += 1;
            retry.pause().await;
        }
    }

    /// [`crate::ledger::Ledger::release`] on the team ledger.
    pub(crate) fn release(&self, r: &Reservation) -> Result<()> {
        // Idempotent: a second run finds the row gone and does nothing.
        pg_tx!(self, idempotent, |tx| {
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
        // Idempotent: a second run finds the row no longer open and does nothing.
        pg_tx!(self, idempotent, |tx| {
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
            let mut not_held = None;
            if !held && let Some(p) = &previous {
                // Not ours: move the team's key only if it no longer serves anyone.
                let serves = standing(tx, p, now, caps, false)
                    .await?
                    .is_some_and(|(st, _)| st.availability.is_usable() && st.today <= rotate_after);
                if serves {
                    move_pool = false;
                    rotated = false;
                    not_held = Some(p.clone());
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
                not_held,
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

/// What one call of the fast path came to.
enum Fast {
    /// Granted and committed.
    Granted(ReserveOutcome),
    /// Not granted and nothing changed: the locked transaction decides.
    Fallback,
    /// The answer was lost and the call was not counted: try again.
    Again,
}

/// The server process behind a pooled connection: its pid and start time (a pid alone may be
/// reused once the process is gone).
#[derive(Debug, Clone)]
pub(crate) struct Backend {
    pid: i32,
    start: String,
}

/// The fast path's call (migration 12's function): a row (the request id, the account, the
/// day) when granted, none when the locked transaction must decide.
const FAST_RESERVE: &str =
    "SELECT r_id, r_account, r_day FROM keywheel_reserve($1, $2, $3, $4, $5, $6, $7, $8, $9)";

/// What one try of a reservation came to.
enum Try {
    /// An answer (granted and committed, or refused).
    Done(ReserveOutcome),
    /// Rolled back before deciding (the account's keys changed under it): try again.
    Again,
    /// Granted, but the COMMIT's answer was lost: `xid` says whether it counted.
    Unsure { xid: i64, granted: ReserveOutcome },
}

fn is_lost(e: &tokio_postgres::Error) -> bool {
    super::is_connection_error(e)
}

/// Ends a failed try's transaction (unless the connection is gone) and passes the error on.
async fn abort(client: &tokio_postgres::Client, e: tokio_postgres::Error) -> Fail {
    if !client.is_closed() {
        let _ = client.batch_execute("ROLLBACK").await;
    }
    Fail::Pg(e)
}

async fn rollback(client: &tokio_postgres::Client) -> PgResult<()> {
    Ok(client.batch_execute("ROLLBACK").await?)
}

/// Locks the rows of the keys of `$1`'s account, in id order (so two reservations never
/// deadlock).
const LOCK_ACCOUNT: &str = "SELECT id FROM keys
     WHERE COALESCE(account, id) = (SELECT COALESCE(account, id) FROM keys WHERE id = $1)
     ORDER BY id FOR UPDATE";

/// Everything a reservation decides on, read after the locks (READ COMMITTED: a new
/// statement sees every commit before it): "now" (`$2`, or the server's clock), the
/// transaction's id, the request row's id (from the sequence `requests.id` was created with,
/// named as a constant: `pg_get_serial_sequence` would look it up in the catalogue on every
/// reservation), and per key of `$1`'s account (in id order) its
/// row, its account's row, today's count and ring and yesterday's ring. The day is computed
/// from the ms as `clock::day_key` does (whole days since the epoch).
const READ_ACCOUNT: &str = "WITH t AS (
       SELECT COALESCE($2::bigint, (extract(epoch FROM clock_timestamp()) * 1000)::bigint) AS ms,
              pg_current_xact_id()::text::bigint AS xid,
              nextval('requests_id_seq') AS next_id),
     d AS (
       SELECT ms, xid, next_id,
              to_char(date '1970-01-01' + (ms / 86400000)::int, 'YYYY-MM-DD') AS day,
              to_char(date '1970-01-01' + (ms / 86400000)::int - 1, 'YYYY-MM-DD') AS yesterday
       FROM t)
     SELECT d.ms, d.xid, d.next_id, k.id,
            COALESCE(k.account, k.id), k.enabled, k.status, k.status_until, k.daily_cap,
            k.minute_cap, k.position, a.daily_cap, a.minute_cap, a.exhausted_until,
            COALESCE(a.no_credit, FALSE), COALESCE(u.requests, 0), k.account IS NULL,
            a.tier_cap, CASE WHEN a.remote_day = d.day THEN a.extra_requests ELSE 0 END,
            u.win, y.win
     FROM d CROSS JOIN keys k
          LEFT JOIN accounts a ON a.name = COALESCE(k.account, k.id)
          LEFT JOIN usage_daily u ON u.key_id = k.id AND u.day = d.day
          LEFT JOIN usage_daily y ON y.key_id = k.id AND y.day = d.yesterday
     WHERE COALESCE(k.account, k.id) = (SELECT COALESCE(account, id) FROM keys WHERE id = $1)
     ORDER BY k.id";

/// Columns of [`READ_ACCOUNT`].
const COL_NOW: usize = 0;
const COL_XID: usize = 1;
const COL_NEXT_ID: usize = 2;
/// The key's id; its row's columns follow in [`RawStanding`]'s order, then the extra count.
const COL_ID: usize = 3;
/// Today's ring; yesterday's is the next column.
const COL_WIN: usize = 19;

/// A grant: the key's day row incremented (its ring rewritten) and the request row, one
/// statement. The row names its `via` (its instance's kind) itself, so the migration-9
/// trigger has nothing to look up (since migration 11 it does not even run).
const WRITE_GRANT: &str = "WITH u AS (
       INSERT INTO usage_daily (key_id, day, requests, win) VALUES ($1, $2, 1, $3)
       ON CONFLICT (key_id, day) DO UPDATE SET requests = usage_daily.requests + 1, win = $3
       RETURNING 1)
     INSERT INTO requests (id, instance_id, key_id, account, day, started_ms, kind, model_asked,
                           via)
     SELECT $4, $5, $1, $6, $2, $7, $8, $9, (SELECT kind FROM instances WHERE id = $5) FROM u";
