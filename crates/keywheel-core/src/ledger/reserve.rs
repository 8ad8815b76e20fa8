//! Reserving a request before it is sent, and completing it with the outcome.
//!
//! A reservation is one `BEGIN IMMEDIATE` transaction that reads the key's and its account's
//! counts for the UTC day and the sliding 60 s window, and — only if every cap allows it —
//! increments the day counter and writes the request row. Two processes can never both take
//! request #50. Invariant: for every (key, day), `usage_daily.requests` equals the number of
//! uncached request rows.
//!
//! The window is kept in the key's day row: `usage_daily.win`, a ring of the request times of
//! the key's last 60 s (and of any times ahead of now, left by a clock that stepped back).
//! A reservation rewrites that one row and appends its request row; the account's window is
//! the union of its keys' rings (today's, and yesterday's in the first minute of a day). A
//! grant never lets a window exceed its cap, so a ring holds at most the key's minute cap of
//! times from the last minute. Abandoned reservations stay in the window (they may have been
//! sent); a release takes its time out.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::keys_table::KeyStatus;
use super::{CapDefaults, Ledger};
use crate::clock::{day_key, from_millis, next_utc_midnight};
use crate::dispatch::Kind;
use crate::error::{Error, Result};
use crate::keys::KeyId;

/// What to reserve.
#[derive(Debug, Clone)]
pub struct ReserveRequest<'a> {
    /// The instance sending.
    pub instance_id: &'a str,
    /// The key to spend.
    pub key_id: &'a KeyId,
    /// Chat or OCR (stored as its word, `chat` or `ocr`).
    pub kind: Kind,
    /// The model asked for.
    pub model: Option<&'a str>,
    /// Now.
    pub now: DateTime<Utc>,
}

/// A granted reservation: the request row to complete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reservation {
    /// Request row id.
    pub id: i64,
    /// The key it spends.
    pub key_id: KeyId,
    /// The key's account.
    pub account: String,
    /// The UTC day it counts on.
    pub day: String,
}

/// The answer to a reservation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReserveOutcome {
    /// Counted; send it.
    Granted(Reservation),
    /// The key or its account is at its per-minute cap: wait until then (same key).
    Wait {
        /// When a slot frees.
        until: DateTime<Utc>,
    },
    /// The key reached its own daily cap.
    KeySpent {
        /// Next UTC midnight.
        until: DateTime<Utc>,
    },
    /// The key's account reached its daily cap, or OpenRouter said it is spent.
    AccountSpent {
        /// The account.
        account: String,
        /// When it resets.
        until: DateTime<Utc>,
    },
    /// The key cannot be used (disabled, invalid, no credit, spend-limited).
    Unusable(Availability),
}

/// Why a key can or cannot take a request right now (ignoring the per-minute window).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum Availability {
    /// It can.
    Usable,
    /// Turned off by the person.
    Disabled,
    /// Broken until someone acts (invalid, no credit).
    Broken {
        /// Which.
        status: KeyStatus,
    },
    /// Unusable until a known time (spend limit).
    Until {
        /// Which.
        status: KeyStatus,
        /// Until when.
        until: DateTime<Utc>,
    },
    /// Its own daily cap is reached.
    KeySpent {
        /// Next UTC midnight.
        until: DateTime<Utc>,
    },
    /// Its account is spent for the day.
    AccountSpent {
        /// When it resets.
        until: DateTime<Utc>,
    },
}

impl Availability {
    /// Whether the key can take a request.
    pub fn is_usable(&self) -> bool {
        matches!(self, Availability::Usable)
    }

    /// When it frees by itself, if it does (spent, spend-limited).
    pub fn frees_at(&self) -> Option<DateTime<Utc>> {
        match self {
            Availability::Until { until, .. }
            | Availability::KeySpent { until }
            | Availability::AccountSpent { until } => Some(*until),
            _ => None,
        }
    }
}

/// A key's standing for one UTC day, read inside a transaction.
#[derive(Debug, Clone)]
pub struct KeyState {
    /// Key id.
    pub id: KeyId,
    /// Account.
    pub account: String,
    /// Requests today on this key.
    pub today: u32,
    /// Effective daily cap of the key.
    pub daily_cap: u32,
    /// Effective per-minute cap of the key.
    pub minute_cap: u32,
    /// Requests today on the whole account.
    pub account_today: u32,
    /// Effective daily cap of the account.
    pub account_daily_cap: u32,
    /// Effective per-minute cap of the account.
    pub account_minute_cap: u32,
    /// Availability ignoring the minute window.
    pub availability: Availability,
    /// Order of addition (ties).
    pub position: i64,
}

/// The sliding window's length.
pub(crate) const WINDOW_MS: i64 = 60_000;

/// A key's per-minute window, as read from the day rows of the key and its account's keys.
#[derive(Debug, Default)]
pub(crate) struct Windows {
    /// The key's ring in today's row, as stored (what a grant rewrites).
    pub(crate) ring_today: Vec<i64>,
    /// Request times of the key itself (today's and, in the first minute of a day,
    /// yesterday's ring).
    pub(crate) key: Vec<i64>,
    /// Request times of every key of its account (the key included).
    pub(crate) account: Vec<i64>,
}

/// Decodes a ring (8-byte big-endian request times; NULL is empty).
fn ring_of(blob: rusqlite::types::ValueRef<'_>) -> Vec<i64> {
    match blob {
        rusqlite::types::ValueRef::Blob(b) => ring_of_bytes(b),
        _ => Vec::new(),
    }
}

/// Decodes a ring's bytes (both backends store the same 8-byte big-endian times).
pub(crate) fn ring_of_bytes(b: &[u8]) -> Vec<i64> {
    b.chunks_exact(8)
        .map(|c| i64::from_be_bytes(c.try_into().expect("8 bytes")))
        .collect()
}

/// Encodes a ring.
pub(crate) fn ring_blob(times: &[i64]) -> Vec<u8> {
    times.iter().flat_map(|t| t.to_be_bytes()).collect()
}

/// The ring a grant at `now_ms` writes: what can still be in a window (the last minute, and
/// times ahead of now, left by a clock that stepped back; they count again once now passes
/// them), and now.
pub(crate) fn granted_ring(ring_today: Vec<i64>, now_ms: i64) -> Vec<i64> {
    let mut ring: Vec<i64> = ring_today
        .into_iter()
        .filter(|t| *t > now_ms - WINDOW_MS)
        .collect();
    ring.push(now_ms);
    ring
}

/// A ring with one request time taken out (a release).
pub(crate) fn released_ring(mut ring: Vec<i64>, started: i64) -> Vec<i64> {
    if let Some(i) = ring.iter().position(|t| *t == started) {
        ring.swap_remove(i);
    }
    ring
}

/// What a reservation decides from a key's standing and windows: the outcome to return, or
/// `None` when every cap allows the request (the caller then counts it).
pub(crate) fn decide(st: &KeyState, w: &Windows, now: DateTime<Utc>) -> Option<ReserveOutcome> {
    match &st.availability {
        Availability::Usable => {}
        Availability::KeySpent { until } => {
            return Some(ReserveOutcome::KeySpent { until: *until });
        }
        Availability::AccountSpent { until } => {
            return Some(ReserveOutcome::AccountSpent {
                account: st.account.clone(),
                until: *until,
            });
        }
        other => return Some(ReserveOutcome::Unusable(other.clone())),
    }
    minute_wait(st, w, now).map(|until| ReserveOutcome::Wait { until })
}

/// The day before `day` when `now` is within the window's length of `day`'s midnight (the
/// window then reaches into yesterday's rows), else `None`.
pub(crate) fn window_reaches_yesterday(now: DateTime<Utc>) -> Option<String> {
    let (midnight, _) = super::usage::day_range_ms(now);
    (now.timestamp_millis() - WINDOW_MS < midnight)
        .then(|| day_key(now - chrono::Duration::days(1)))
}

/// Reads one key's state; `None` for an unknown key.
pub(crate) fn key_state(
    tx: &Connection,
    id: &KeyId,
    now: DateTime<Utc>,
    caps: CapDefaults,
) -> Result<Option<KeyState>> {
    Ok(standing(tx, id, now, &day_key(now), caps, false)?.map(|(st, _)| st))
}

/// One key's state and, if `windows`, its per-minute windows.
fn standing(
    tx: &Connection,
    id: &KeyId,
    now: DateTime<Utc>,
    day: &str,
    caps: CapDefaults,
    windows: bool,
) -> Result<Option<(KeyState, Windows)>> {
    let row = tx
        .prepare_cached(
            "SELECT COALESCE(k.account, k.id), k.enabled, k.status, k.status_until, k.daily_cap, k.minute_cap,
                    k.position, a.daily_cap, a.minute_cap, a.exhausted_until, COALESCE(a.no_credit, 0),
                    COALESCE(u.requests, 0), k.account IS NULL, a.tier_cap,
                    CASE WHEN a.remote_day = ?2 THEN a.extra_requests ELSE 0 END, u.win,
                    EXISTS (SELECT 1 FROM keys o
                            WHERE o.id <> k.id AND COALESCE(o.account, o.id) = COALESCE(k.account, k.id))
             FROM keys k LEFT JOIN accounts a ON a.name = COALESCE(k.account, k.id)
                         LEFT JOIN usage_daily u ON u.key_id = k.id AND u.day = ?2
             WHERE k.id = ?1",
        )?
        .query_row(params![id.as_str(), day], |r| {
            Ok((
                (
                    r.get::<_, String>(0)?,
                    r.get::<_, bool>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                    r.get::<_, Option<u32>>(4)?,
                    r.get::<_, Option<u32>>(5)?,
                    r.get::<_, i64>(6)?,
                    r.get::<_, Option<u32>>(7)?,
                ),
                (
                    r.get::<_, Option<u32>>(8)?,
                    r.get::<_, Option<i64>>(9)?,
                    r.get::<_, bool>(10)?,
                    r.get::<_, u32>(11)?,
                    r.get::<_, bool>(12)?,
                    r.get::<_, Option<u32>>(13)?,
                    r.get::<_, Option<u32>>(14)?.unwrap_or(0),
                ),
                if windows { ring_of(r.get_ref(15)?) } else { Vec::new() },
                r.get::<_, bool>(16)?,
            ))
        })
        .optional()?;
    let Some((
        (account, enabled, status, status_until, kd, km, position, ad),
        (am, exhausted, acct_no_credit, today, own, tier_cap, extra),
        ring_today,
        shared,
    )) = row
    else {
        return Ok(None);
    };
    let mut w = Windows::default();
    let yesterday = window_reaches_yesterday(now);
    // Keys of the account joined to their day rows by primary key (no scan of the history).
    // Whether the account's other rows must be read: another key shares the account, or a
    // window reaches back into yesterday's rows.
    let others = shared || (windows && yesterday.is_some());
    let account_today = if !others {
        // The key is alone in its account (and a window is within today): the account's day
        // count and window are the key's own, already read (one statement fewer).
        if windows {
            w.key.clone_from(&ring_today);
            w.account.clone_from(&ring_today);
            w.ring_today = ring_today;
        }
        today
    } else if windows {
        // Today's rows (and yesterday's, when the window reaches back past midnight): the day
        // count and every ring of the account. The key's own today row is read again here;
        // its ring is taken from the first read.
        let mut total = 0u32;
        // (Two statements rather than `day IN (?, ?)`, which builds a temporary index.)
        let mut stmt = tx.prepare_cached(if yesterday.is_some() {
            "SELECT u.key_id = ?4, u.day = ?2, u.requests, u.win FROM keys k
             CROSS JOIN usage_daily u ON u.key_id = k.id AND (u.day = ?2 OR u.day = ?3)
             WHERE COALESCE(k.account, k.id) = ?1"
        } else {
            "SELECT u.key_id = ?4, ?3 IS NULL, u.requests, u.win FROM keys k
             CROSS JOIN usage_daily u ON u.key_id = k.id AND u.day = ?2
             WHERE COALESCE(k.account, k.id) = ?1"
        })?;
        let mut rows = stmt.query(params![account, day, yesterday, id.as_str()])?;
        while let Some(r) = rows.next()? {
            let (mine, is_today): (bool, bool) = (r.get(0)?, r.get(1)?);
            if is_today {
                total += r.get::<_, u32>(2)?;
            }
            let times = ring_of(r.get_ref(3)?);
            if mine {
                w.key.extend_from_slice(&times);
            }
            w.account.extend(times);
        }
        w.ring_today = ring_today;
        total
    } else {
        tx.prepare_cached(
            "SELECT COALESCE(SUM(u.requests), 0) FROM keys k
             CROSS JOIN usage_daily u ON u.key_id = k.id AND u.day = ?2
             WHERE COALESCE(k.account, k.id) = ?1",
        )?
        .query_row(params![account, day], |r| r.get::<_, u32>(0))?
    } + extra;
    let raw = RawStanding {
        account,
        enabled,
        status,
        status_until,
        key_daily: kd,
        key_minute: km,
        position,
        account_daily: ad,
        account_minute: am,
        exhausted_until: exhausted,
        account_no_credit: acct_no_credit,
        today,
        own_account: own,
        tier_cap,
    };
    Ok(Some((evaluate(id, raw, account_today, caps, now), w)))
}

/// A key's row, its account's row and its day count, as either backend reads them.
#[derive(Debug, Clone)]
pub(crate) struct RawStanding {
    /// The key's account (its own id when not grouped).
    pub(crate) account: String,
    pub(crate) enabled: bool,
    pub(crate) status: String,
    pub(crate) status_until: Option<i64>,
    pub(crate) key_daily: Option<u32>,
    pub(crate) key_minute: Option<u32>,
    pub(crate) position: i64,
    pub(crate) account_daily: Option<u32>,
    pub(crate) account_minute: Option<u32>,
    pub(crate) exhausted_until: Option<i64>,
    pub(crate) account_no_credit: bool,
    /// Requests today on the key.
    pub(crate) today: u32,
    /// The key is its own (implicit) account.
    pub(crate) own_account: bool,
    /// The daily ceiling `/key` reported for the account.
    pub(crate) tier_cap: Option<u32>,
}

/// The rules: effective caps and availability from what was read (`account_today` includes
/// the requests OpenRouter counted that the ledger had not). One function for both backends.
pub(crate) fn evaluate(
    id: &KeyId,
    raw: RawStanding,
    account_today: u32,
    caps: CapDefaults,
    now: DateTime<Utc>,
) -> KeyState {
    let now_ms = now.timestamp_millis();
    // The tier OpenRouter reported (50 or 1000) replaces the default daily cap, unless the
    // person set one (per key, per account, or in the settings).
    let default_daily = raw
        .tier_cap
        .filter(|_| caps.tier_applies)
        .unwrap_or(caps.daily);
    let daily_cap = raw.key_daily.unwrap_or(default_daily);
    let minute_cap = raw.key_minute.unwrap_or(caps.minute);
    // A key in its own (implicit) account: the account's caps are the key's caps.
    let own = raw.own_account;
    let account_daily_cap =
        raw.account_daily
            .unwrap_or(if own { daily_cap } else { default_daily });
    let account_minute_cap =
        raw.account_minute
            .unwrap_or(if own { minute_cap } else { caps.minute });
    let midnight = next_utc_midnight(now);
    let status = KeyStatus::parse(&raw.status);
    let today = raw.today;
    let availability = if !raw.enabled {
        Availability::Disabled
    } else if status != KeyStatus::Ok && raw.status_until.is_none_or(|u| u > now_ms) {
        match raw.status_until {
            Some(u) => Availability::Until {
                status,
                until: from_millis(u),
            },
            None => Availability::Broken { status },
        }
    } else if raw.account_no_credit {
        Availability::Broken {
            status: KeyStatus::NoCredit,
        }
    } else if today >= daily_cap {
        Availability::KeySpent { until: midnight }
    } else if account_today >= account_daily_cap {
        Availability::AccountSpent { until: midnight }
    } else if let Some(u) = raw.exhausted_until.filter(|u| *u > now_ms) {
        Availability::AccountSpent {
            until: from_millis(u),
        }
    } else {
        Availability::Usable
    };
    KeyState {
        id: id.clone(),
        account: raw.account,
        today,
        daily_cap,
        minute_cap,
        account_today,
        account_daily_cap,
        account_minute_cap,
        availability,
        position: raw.position,
    }
}

/// When a window of request `times` holding `cap` frees a slot, if it is full: 60 s after
/// the cap-th most recent time in `(now - 60 s, now]`. Times after now (the clock stepped
/// back) are not in the window.
fn window_wait(times: &[i64], now_ms: i64, cap: u32) -> Option<i64> {
    if cap == 0 {
        return Some(now_ms + WINDOW_MS);
    }
    let mut inside: Vec<i64> = times
        .iter()
        .copied()
        .filter(|t| *t > now_ms - WINDOW_MS && *t <= now_ms)
        .collect();
    if inside.len() < cap as usize {
        return None;
    }
    inside.sort_unstable_by(|a, b| b.cmp(a));
    Some(inside[cap as usize - 1] + WINDOW_MS)
}

/// When the per-minute window of the key or its account frees a slot, if it is full.
fn minute_wait(st: &KeyState, w: &Windows, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let now_ms = now.timestamp_millis();
    let key = window_wait(&w.key, now_ms, st.minute_cap);
    let account = window_wait(&w.account, now_ms, st.account_minute_cap);
    key.max(account).map(from_millis)
}

impl Ledger {
    /// Atomically checks every cap for the key and its account and, if all allow it, counts
    /// the request. Nothing in memory is consulted.
    ///
    /// The transaction writes the key's day row (the count and its ring of the last minute's
    /// request times) and appends the request row: the window is read from the day rows of
    /// the account's keys, not from an index over the request log. The request row names its
    /// `via` itself (so the migration-9 trigger has nothing to rewrite) and no index is kept
    /// on `requests` (migration 10), so the commit writes two pages of the file.
    pub fn reserve(&self, req: &ReserveRequest<'_>) -> Result<ReserveOutcome> {
        if let Some(pg) = self.pg() {
            return pg.reserve(self.caps, req);
        }
        let caps = self.caps;
        let day = day_key(req.now);
        let now_ms = req.now.timestamp_millis();
        self.write(|tx| {
            let (st, w) = standing(tx, req.key_id, req.now, &day, caps, true)?.ok_or_else(|| {
                Error::Usage(format!("the key {} is not registered in the ledger", req.key_id))
            })?;
            if let Some(outcome) = decide(&st, &w, req.now) {
                return Ok(outcome);
            }
            let ring = granted_ring(w.ring_today, now_ms);
            tx.prepare_cached(
                "INSERT INTO usage_daily (key_id, day, requests, win) VALUES (?1, ?2, 1, ?3)
                 ON CONFLICT(key_id, day) DO UPDATE SET requests = requests + 1, win = ?3",
            )?
            .execute(params![req.key_id.as_str(), day, ring_blob(&ring)])?;
            let id: i64 = tx
                .prepare_cached(
                    "INSERT INTO requests (instance_id, key_id, account, day, started_ms, kind, model_asked, via)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, (SELECT kind FROM instances WHERE id = ?1))
                     RETURNING id",
                )?
                .query_row(
                    params![req.instance_id, req.key_id.as_str(), st.account, day, now_ms, req.kind, req.model],
                    |r| r.get(0),
                )?;
            Ok(ReserveOutcome::Granted(Reservation { id, key_id: req.key_id.clone(), account: st.account, day: day.clone() }))
        })
    }

    /// Takes back a reservation for a request that certainly never left this machine (the
    /// connection could not be opened): the row is deleted, the day counter decremented and
    /// its time taken out of the key's ring, so no quota is counted for it.
    pub fn release(&self, r: &Reservation) -> Result<()> {
        if let Some(pg) = self.pg() {
            return pg.release(r);
        }
        self.write(|tx| {
            let started: Option<i64> = tx
                .prepare_cached(
                    "DELETE FROM requests WHERE id = ?1 AND state = 'reserved' RETURNING started_ms",
                )?
                .query_row([r.id], |row| row.get(0))
                .optional()?;
            let Some(started) = started else {
                return Ok(());
            };
            let ring: Option<Vec<i64>> = tx
                .prepare_cached("SELECT win FROM usage_daily WHERE key_id = ?1 AND day = ?2")?
                .query_row(params![r.key_id.as_str(), r.day], |row| Ok(ring_of(row.get_ref(0)?)))
                .optional()?;
            let ring = released_ring(ring.unwrap_or_default(), started);
            tx.prepare_cached(
                "UPDATE usage_daily SET requests = requests - 1, win = ?3 WHERE key_id = ?1 AND day = ?2",
            )?
            .execute(params![r.key_id.as_str(), r.day, ring_blob(&ring)])?;
            Ok(())
        })
    }

    /// Completes a reservation with what happened. Completing twice is a no-op.
    pub fn complete(&self, r: &Reservation, c: &Completion, now: DateTime<Utc>) -> Result<()> {
        if let Some(pg) = self.pg() {
            return pg.complete(r, c, now);
        }
        self.write(|tx| complete_in(tx, r, c, now).map(|_| ()))
    }

    /// [`complete`](Self::complete), then what the after-request alert rules read about the
    /// key (`crate::alerts::after_request`) in the same transaction: its standing now, and —
    /// only when the error-spike rule could fire — how many of its last `spike.last` completed
    /// requests today failed. One transaction instead of three on the request path.
    ///
    /// The error-spike read is skipped (`recent: None`) when fewer than `spike.failed` of the
    /// key's requests today failed at all (the day row's `errors`, which counts every failed
    /// completion, so it bounds the failures among the last few) or when the rule already
    /// fired for the key today (it fires once a day): in both cases the rule cannot fire.
    pub fn complete_and_check(
        &self,
        r: &Reservation,
        c: &Completion,
        now: DateTime<Utc>,
        spike: SpikeCheck<'_>,
    ) -> Result<AfterCompletion> {
        if let Some(pg) = self.pg() {
            pg.complete(r, c, now)?;
            let state = pg
                .key_states(self.caps, std::slice::from_ref(&r.key_id), now)?
                .pop();
            let recent = match state {
                Some(_) => Some(pg.recent_failures(&r.key_id, spike.last, now)?),
                None => None,
            };
            return Ok(AfterCompletion { state, recent });
        }
        let caps = self.caps;
        let today = day_key(now);
        self.write(|tx| {
            let errors = complete_in(tx, r, c, now)?.filter(|_| r.day == today);
            let Some(state) = key_state(tx, &r.key_id, now, caps)? else {
                return Ok(AfterCompletion {
                    state: None,
                    recent: None,
                });
            };
            let errors = match errors {
                Some(e) => e,
                None => tx
                    .prepare_cached(
                        "SELECT errors FROM usage_daily WHERE key_id = ?1 AND day = ?2",
                    )?
                    .query_row(params![r.key_id.as_str(), today], |row| row.get(0))
                    .optional()?
                    .unwrap_or(0),
            };
            let can_fire = errors >= spike.failed.max(1)
                && tx
                    .prepare_cached(
                        "SELECT 1 FROM alerts WHERE day = ?1 AND rule = ?2 AND subject = ?3",
                    )?
                    .query_row(params![today, spike.rule, r.key_id.as_str()], |_| Ok(()))
                    .optional()?
                    .is_none();
            let recent = if can_fire {
                Some(super::usage::recent_failures_in(
                    tx, &r.key_id, spike.last, now,
                )?)
            } else {
                None
            };
            Ok(AfterCompletion {
                state: Some(state),
                recent,
            })
        })
    }
}

/// The completion's two writes, in the caller's transaction: the request row, and — when this
/// call completed it — the counters of its day row. Returns that row's `errors` after the
/// update, or `None` when the row was already completed.
fn complete_in(
    tx: &Connection,
    r: &Reservation,
    c: &Completion,
    now: DateTime<Utc>,
) -> Result<Option<u32>> {
    let changed = tx
        .prepare_cached(
            "UPDATE requests SET state = ?2, finished_ms = ?3, status_class = ?4, http_status = ?5,
               model_answered = ?6, attempts = ?7, fallback = ?8, rotation = ?9, prompt_tokens = ?10,
               completion_tokens = ?11, reasoning_tokens = ?12, cost = ?13, latency_ms = ?14,
               bytes_sent = ?15, error = ?16
             WHERE id = ?1 AND state IN ('reserved', 'abandoned')",
        )?
        .execute(params![
            r.id,
            c.state,
            now.timestamp_millis(),
            c.status_class,
            c.http_status,
            c.model_answered,
            c.attempts,
            c.fallback,
            c.rotation,
            c.prompt_tokens,
            c.completion_tokens,
            c.reasoning_tokens,
            c.cost,
            c.latency_ms,
            c.bytes_sent,
            c.error,
        ])?;
    if changed != 1 {
        return Ok(None);
    }
    let ok = c.state == RequestState::Done;
    let errors = tx
        .prepare_cached(
            "UPDATE usage_daily SET successes = successes + ?3, errors = errors + ?4,
               prompt_tokens = prompt_tokens + ?5, completion_tokens = completion_tokens + ?6,
               reasoning_tokens = reasoning_tokens + ?7, cost = cost + ?8
             WHERE key_id = ?1 AND day = ?2
             RETURNING errors",
        )?
        .query_row(
            params![
                r.key_id.as_str(),
                r.day,
                ok as i64,
                (!ok) as i64,
                c.prompt_tokens.unwrap_or(0),
                c.completion_tokens.unwrap_or(0),
                c.reasoning_tokens.unwrap_or(0),
                c.cost.unwrap_or(0.0),
            ],
            |row| row.get(0),
        )
        .optional()?;
    Ok(errors)
}

/// What [`Ledger::complete_and_check`] reads for the error-spike rule.
#[derive(Debug, Clone, Copy)]
pub struct SpikeCheck<'a> {
    /// How many of the key's last completed requests today the rule looks at.
    pub last: u32,
    /// How many of those failing fires it.
    pub failed: u32,
    /// The rule's name in the alerts table (it fires once per key per UTC day).
    pub rule: &'a str,
}

/// What the after-request alert rules read about a key, taken in its completion's own
/// transaction by [`Ledger::complete_and_check`].
#[derive(Debug, Clone)]
pub struct AfterCompletion {
    /// The key's standing after the completion (`None`: the key is not in the ledger).
    pub state: Option<KeyState>,
    /// Of the key's last `SpikeCheck::last` completed requests today, how many there are and
    /// how many failed; `None` when the error-spike rule cannot fire (see
    /// [`Ledger::complete_and_check`]).
    pub recent: Option<(u32, u32)>,
}

crate::vocab::stored_enum! {
    /// The final state of a request row.
    pub enum RequestState {
        /// Reserved, not yet completed.
        Reserved,
        /// Answered.
        Done,
        /// Failed (the class says how).
        Failed,
        /// Its instance died before completing it. Still counted: it may have been sent.
        Abandoned,
    }
}

/// What happened to a reserved request.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// Done or failed.
    pub state: RequestState,
    /// How it ended (`ok`, or the failure's class).
    pub status_class: super::request_log::StatusClass,
    /// HTTP status seen, if any.
    pub http_status: Option<u16>,
    /// The model that answered.
    pub model_answered: Option<String>,
    /// Attempts made.
    pub attempts: u32,
    /// Whether this request fell back from another key.
    pub fallback: bool,
    /// Whether this instance rotated at its start.
    pub rotation: bool,
    /// Prompt tokens.
    pub prompt_tokens: Option<u32>,
    /// Completion tokens (including reasoning).
    pub completion_tokens: Option<u32>,
    /// Reasoning tokens.
    pub reasoning_tokens: Option<u32>,
    /// Cost in credits (USD).
    pub cost: Option<f64>,
    /// Latency in milliseconds.
    pub latency_ms: Option<u64>,
    /// Request body size.
    pub bytes_sent: Option<u64>,
    /// A short error description (never a key).
    pub error: Option<String>,
}

impl Completion {
    /// A successful completion with nothing else known.
    pub fn ok() -> Self {
        Self {
            state: RequestState::Done,
            status_class: super::request_log::StatusClass::Ok,
            http_status: Some(200),
            model_answered: None,
            attempts: 1,
            fallback: false,
            rotation: false,
            prompt_tokens: None,
            completion_tokens: None,
            reasoning_tokens: None,
            cost: None,
            latency_ms: None,
            bytes_sent: None,
            error: None,
        }
    }

    /// A failed completion of the given class.
    pub fn failed(
        class: impl Into<super::request_log::StatusClass>,
        http_status: Option<u16>,
        error: Option<String>,
    ) -> Self {
        Self {
            state: RequestState::Failed,
            status_class: class.into(),
            http_status,
            error,
            ..Self::ok()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::from_millis;
    use crate::keys::{ApiKey, KeySource};

    const T0: i64 = 1_800_000_000_000;

    fn key(n: u8) -> ApiKey {
        ApiKey::parse(&format!("sk-or-v1-{}", format!("{n:02x}").repeat(32))).unwrap() // fake test key
    }

    fn reserve(l: &Ledger, inst: &str, k: &KeyId, ms: i64) -> ReserveOutcome {
        l.reserve(&ReserveRequest {
            instance_id: inst,
            key_id: k,
            kind: Kind::Chat,
            model: None,
            now: from_millis(ms),
        })
        .unwrap()
    }

    fn minute_caps(minute: u32) -> CapDefaults {
        CapDefaults {
            daily: 100,
            minute,
            ..CapDefaults::default()
        }
    }

    #[test]
    fn a_released_request_leaves_the_window() {
        let dir = tempfile::tempdir().unwrap();
        let l = Ledger::open(&dir.path().join("l.sqlite3"), minute_caps(1)).unwrap();
        let k = key(1);
        l.upsert_key(&k, KeySource::Env, None, None, from_millis(T0))
            .unwrap();
        let inst = l.register_instance("cli", 1, from_millis(T0)).unwrap();
        let ReserveOutcome::Granted(r) = reserve(&l, &inst, &k.id(), T0) else {
            panic!("the first request is granted");
        };
        assert_eq!(
            reserve(&l, &inst, &k.id(), T0 + 1),
            ReserveOutcome::Wait {
                until: from_millis(T0 + 60_000)
            }
        );
        l.release(&r).unwrap();
        assert!(matches!(
            reserve(&l, &inst, &k.id(), T0 + 2),
            ReserveOutcome::Granted(_)
        ));
        assert_eq!(l.inconsistencies().unwrap(), vec![]);
    }

    #[test]
    fn the_account_window_is_the_union_of_its_keys_rings() {
        let dir = tempfile::tempdir().unwrap();
        let l = Ledger::open(&dir.path().join("l.sqlite3"), minute_caps(5)).unwrap();
        let (a, b) = (key(1), key(2));
        for k in [&a, &b] {
            l.upsert_key(k, KeySource::Env, None, Some("acct"), from_millis(T0))
                .unwrap();
        }
        l.set_account_caps("acct", None, Some(3)).unwrap();
        let inst = l.register_instance("cli", 1, from_millis(T0)).unwrap();
        for (i, k) in [&a, &b, &a].into_iter().enumerate() {
            assert!(matches!(
                reserve(&l, &inst, &k.id(), T0 + i as i64),
                ReserveOutcome::Granted(_)
            ));
        }
        // Three in the account's window: b waits for a's first request to leave it.
        assert_eq!(
            reserve(&l, &inst, &b.id(), T0 + 10),
            ReserveOutcome::Wait {
                until: from_millis(T0 + 60_000)
            }
        );
        assert!(matches!(
            reserve(&l, &inst, &b.id(), T0 + 60_000),
            ReserveOutcome::Granted(_)
        ));
    }

    /// A key alone in its account reads its own row for the account's count and window (one
    /// statement fewer); a key whose account another key also names — even one named after
    /// its id — still reads every ring of the account.
    #[test]
    fn a_key_alone_is_its_own_account_and_a_shared_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let l = Ledger::open(&dir.path().join("l.sqlite3"), minute_caps(5)).unwrap();
        let (a, b) = (key(1), key(2));
        l.upsert_key(&a, KeySource::Env, None, None, from_millis(T0))
            .unwrap();
        let inst = l.register_instance("cli", 1, from_millis(T0)).unwrap();
        for i in 0..5 {
            assert!(matches!(
                reserve(&l, &inst, &a.id(), T0 + i),
                ReserveOutcome::Granted(_)
            ));
        }
        assert_eq!(
            reserve(&l, &inst, &a.id(), T0 + 10),
            ReserveOutcome::Wait {
                until: from_millis(T0 + 60_000)
            },
            "alone: its own five fill the window"
        );
        assert_eq!(
            l.key_states(&[a.id()], from_millis(T0)).unwrap()[0].account_today,
            5
        );
        // b names a's id as its account: a's account now holds b's requests too.
        l.upsert_key(
            &b,
            KeySource::Env,
            None,
            Some(a.id().as_str()),
            from_millis(T0),
        )
        .unwrap();
        l.set_account_caps(a.id().as_str(), Some(6), None).unwrap();
        assert_eq!(
            reserve(&l, &inst, &b.id(), T0 + 20),
            ReserveOutcome::Wait {
                until: from_millis(T0 + 60_000)
            },
            "b's window is its account's: a's five are in it"
        );
        assert!(matches!(
            reserve(&l, &inst, &b.id(), T0 + 60_010),
            ReserveOutcome::Granted(_)
        ));
        let later = from_millis(T0 + 60_010);
        assert_eq!(l.key_states(&[a.id()], later).unwrap()[0].account_today, 6);
        assert!(
            matches!(
                reserve(&l, &inst, &a.id(), T0 + 60_020),
                ReserveOutcome::AccountSpent { .. }
            ),
            "the account's day cap of 6 counts b's request"
        );
    }

    #[test]
    fn the_upgrade_fills_the_rings_from_the_last_minute_of_request_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.sqlite3");
        let k = key(3);
        let id = k.id();
        {
            // A ledger written by the previous schema: two requests in the last minute.
            let mut conn = rusqlite::Connection::open(&path).unwrap();
            super::super::db::migrations()
                .to_version(&mut conn, 7)
                .unwrap();
            conn.execute(
                "INSERT INTO keys (id, masked, source, created_ms, minute_cap) VALUES (?1, 'm', 'env', 0, 2)",
                [id.as_str()],
            )
            .unwrap();
            let day = day_key(from_millis(T0));
            for ms in [T0 - 120_000, T0 - 30_000, T0 - 20_000] {
                conn.execute(
                    "INSERT INTO requests (instance_id, key_id, account, day, started_ms, kind)
                     VALUES ('i', ?1, ?1, ?2, ?3, 'chat')",
                    params![id.as_str(), day, ms],
                )
                .unwrap();
            }
            conn.execute(
                "INSERT INTO usage_daily (key_id, day, requests) VALUES (?1, ?2, 3)",
                params![id.as_str(), day],
            )
            .unwrap();
        }
        let l = Ledger::open(&path, minute_caps(20)).unwrap();
        assert_eq!(
            reserve(&l, "i", &id, T0),
            ReserveOutcome::Wait {
                until: from_millis(T0 - 30_000 + 60_000)
            },
            "the window of the old rows holds after the upgrade"
        );
        assert!(matches!(
            reserve(&l, "i", &id, T0 + 30_000),
            ReserveOutcome::Granted(_)
        ));
        assert_eq!(l.inconsistencies().unwrap(), vec![]);
    }
}
