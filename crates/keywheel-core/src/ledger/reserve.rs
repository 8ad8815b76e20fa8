//! Reserving a request before it is sent, and completing it with the outcome.
//!
//! A reservation is one `BEGIN IMMEDIATE` transaction that reads the key's and its account's
//! counts for the UTC day and the sliding 60 s window, and — only if every cap allows it —
//! increments the day counter and writes the request row. Two processes can never both take
//! request #50. Invariant: for every (key, day), `usage_daily.requests` equals the number of
//! uncached request rows.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Transaction, params};
use serde::Serialize;

use super::keys_table::KeyStatus;
use super::{CapDefaults, Ledger};
use crate::clock::{day_key, from_millis, next_utc_midnight};
use crate::error::{Error, Result};
use crate::keys::KeyId;

/// What to reserve.
#[derive(Debug, Clone)]
pub struct ReserveRequest<'a> {
    /// The instance sending.
    pub instance_id: &'a str,
    /// The key to spend.
    pub key_id: &'a KeyId,
    /// `chat`, `ocr`, `check`, …
    pub kind: &'a str,
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

/// Reads one key's state; `None` for an unknown key.
pub(crate) fn key_state(
    tx: &Transaction<'_>,
    id: &KeyId,
    now: DateTime<Utc>,
    caps: CapDefaults,
) -> Result<Option<KeyState>> {
    let day = day_key(now);
    let now_ms = now.timestamp_millis();
    let row = tx
        .prepare_cached(
            "SELECT COALESCE(k.account, k.id), k.enabled, k.status, k.status_until, k.daily_cap, k.minute_cap,
                    k.position, a.daily_cap, a.minute_cap, a.exhausted_until, COALESCE(a.no_credit, 0),
                    COALESCE((SELECT requests FROM usage_daily WHERE key_id = k.id AND day = ?2), 0),
                    k.account IS NULL, a.tier_cap, CASE WHEN a.remote_day = ?2 THEN a.extra_requests ELSE 0 END
             FROM keys k LEFT JOIN accounts a ON a.name = COALESCE(k.account, k.id)
             WHERE k.id = ?1",
        )?
        .query_row(params![id.as_str(), day], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, bool>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<i64>>(3)?,
                r.get::<_, Option<u32>>(4)?,
                r.get::<_, Option<u32>>(5)?,
                r.get::<_, i64>(6)?,
                r.get::<_, Option<u32>>(7)?,
                r.get::<_, Option<u32>>(8)?,
                r.get::<_, Option<i64>>(9)?,
                r.get::<_, bool>(10)?,
                r.get::<_, u32>(11)?,
                r.get::<_, bool>(12)?,
                r.get::<_, Option<u32>>(13)?,
                r.get::<_, Option<u32>>(14)?.unwrap_or(0),
            ))
        })
        .optional()?;
    let Some((
        account,
        enabled,
        status,
        status_until,
        kd,
        km,
        position,
        ad,
        am,
        exhausted,
        acct_no_credit,
        today,
        own,
        tier_cap,
        extra,
    )) = row
    else {
        return Ok(None);
    };
    // Keys of the account joined to their day rows by primary key (no scan of the history).
    let account_today: u32 = tx
        .prepare_cached(
            "SELECT COALESCE(SUM(u.requests), 0) FROM keys k
             CROSS JOIN usage_daily u ON u.key_id = k.id AND u.day = ?2
             WHERE COALESCE(k.account, k.id) = ?1",
        )?
        .query_row(params![account, day], |r| r.get::<_, u32>(0))?
        + extra;
    // The tier OpenRouter reported (50 or 1000) replaces the default daily cap, unless the
    // person set one (per key, per account, or in the settings).
    let default_daily = tier_cap
        .filter(|_| caps.tier_applies)
        .unwrap_or(caps.daily);
    let daily_cap = kd.unwrap_or(default_daily);
    let minute_cap = km.unwrap_or(caps.minute);
    // A key in its own (implicit) account: the account's caps are the key's caps.
    let account_daily_cap = ad.unwrap_or(if own { daily_cap } else { default_daily });
    let account_minute_cap = am.unwrap_or(if own { minute_cap } else { caps.minute });
    let midnight = next_utc_midnight(now);
    let status = KeyStatus::parse(&status);
    let availability = if !enabled {
        Availability::Disabled
    } else if status != KeyStatus::Ok && status_until.is_none_or(|u| u > now_ms) {
        match status_until {
            Some(u) => Availability::Until {
                status,
                until: from_millis(u),
            },
            None => Availability::Broken { status },
        }
    } else if acct_no_credit {
        Availability::Broken {
            status: KeyStatus::NoCredit,
        }
    } else if today >= daily_cap {
        Availability::KeySpent { until: midnight }
    } else if account_today >= account_daily_cap {
        Availability::AccountSpent { until: midnight }
    } else if let Some(u) = exhausted.filter(|u| *u > now_ms) {
        Availability::AccountSpent {
            until: from_millis(u),
        }
    } else {
        Availability::Usable
    };
    Ok(Some(KeyState {
        id: id.clone(),
        account,
        today,
        daily_cap,
        minute_cap,
        account_today,
        account_daily_cap,
        account_minute_cap,
        availability,
        position,
    }))
}

/// When the per-minute window of the key or its account frees a slot, if it is full.
fn minute_wait(
    tx: &Transaction<'_>,
    st: &KeyState,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>> {
    let since = now.timestamp_millis() - 60_000;
    let mut wait: Option<i64> = None;
    let windows = [
        (
            "SELECT started_ms FROM requests WHERE key_id = ?1 AND started_ms > ?2 AND started_ms <= ?4 AND cached = 0 ORDER BY started_ms DESC LIMIT 1 OFFSET ?3",
            st.id.as_str(),
            st.minute_cap,
        ),
        (
            "SELECT started_ms FROM requests WHERE account = ?1 AND started_ms > ?2 AND started_ms <= ?4 AND cached = 0 ORDER BY started_ms DESC LIMIT 1 OFFSET ?3",
            st.account.as_str(),
            st.account_minute_cap,
        ),
    ];
    for (sql, who, cap) in windows {
        if cap == 0 {
            wait = Some(wait.unwrap_or(0).max(now.timestamp_millis() + 60_000));
            continue;
        }
        // The cap-th most recent request in the window: if it exists the window is full, and a
        // slot frees 60 s after it.
        let nth: Option<i64> = tx
            .prepare_cached(sql)?
            // Rows from the future (the clock stepped back) are not in the window.
            .query_row(params![who, since, cap - 1, now.timestamp_millis()], |r| r.get(0))
            .optional()?;
        if let Some(t) = nth {
            wait = Some(wait.unwrap_or(0).max(t + 60_000));
        }
    }
    Ok(wait.map(from_millis))
}

impl Ledger {
    /// Atomically checks every cap for the key and its account and, if all allow it, counts
    /// the request. Nothing in memory is consulted.
    pub fn reserve(&self, req: &ReserveRequest<'_>) -> Result<ReserveOutcome> {
        let caps = self.caps;
        self.write(|tx| {
            let st = key_state(tx, req.key_id, req.now, caps)?.ok_or_else(|| {
                Error::Usage(format!("the key {} is not registered in the ledger", req.key_id))
            })?;
            match st.availability {
                Availability::Usable => {}
                Availability::KeySpent { until } => return Ok(ReserveOutcome::KeySpent { until }),
                Availability::AccountSpent { until } => {
                    return Ok(ReserveOutcome::AccountSpent { account: st.account, until });
                }
                other => return Ok(ReserveOutcome::Unusable(other)),
            }
            if let Some(until) = minute_wait(tx, &st, req.now)? {
                return Ok(ReserveOutcome::Wait { until });
            }
            let day = day_key(req.now);
            tx.prepare_cached(
                "INSERT INTO usage_daily (key_id, day, requests) VALUES (?1, ?2, 1)
                 ON CONFLICT(key_id, day) DO UPDATE SET requests = requests + 1",
            )?
            .execute(params![req.key_id.as_str(), day])?;
            let id: i64 = tx
                .prepare_cached(
                    "INSERT INTO requests (instance_id, key_id, account, day, started_ms, kind, model_asked)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
                )?
                .query_row(
                    params![req.instance_id, req.key_id.as_str(), st.account, day, req.now.timestamp_millis(), req.kind, req.model],
                    |r| r.get(0),
                )?;
            Ok(ReserveOutcome::Granted(Reservation { id, key_id: req.key_id.clone(), account: st.account, day }))
        })
    }

    /// Takes back a reservation for a request that certainly never left this machine (the
    /// connection could not be opened): the row is deleted and the day counter decremented,
    /// so no quota is counted for it.
    pub fn release(&self, r: &Reservation) -> Result<()> {
        self.write(|tx| {
            let n = tx.execute(
                "DELETE FROM requests WHERE id = ?1 AND state = 'reserved'",
                [r.id],
            )?;
            if n == 1 {
                tx.execute(
                    "UPDATE usage_daily SET requests = requests - 1 WHERE key_id = ?1 AND day = ?2",
                    params![r.key_id.as_str(), r.day],
                )?;
            }
            Ok(())
        })
    }

    /// Completes a reservation with what happened. Completing twice is a no-op.
    pub fn complete(&self, r: &Reservation, c: &Completion, now: DateTime<Utc>) -> Result<()> {
        self.write(|tx| {
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
                    c.state.as_str(),
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
            if changed == 1 {
                let ok = c.state == RequestState::Done;
                tx.prepare_cached(
                    "UPDATE usage_daily SET successes = successes + ?3, errors = errors + ?4,
                       prompt_tokens = prompt_tokens + ?5, completion_tokens = completion_tokens + ?6,
                       reasoning_tokens = reasoning_tokens + ?7, cost = cost + ?8
                     WHERE key_id = ?1 AND day = ?2",
                )?
                .execute(params![
                    r.key_id.as_str(),
                    r.day,
                    ok as i64,
                    (!ok) as i64,
                    c.prompt_tokens.unwrap_or(0),
                    c.completion_tokens.unwrap_or(0),
                    c.reasoning_tokens.unwrap_or(0),
                    c.cost.unwrap_or(0.0),
                ])?;
            }
            Ok(())
        })
    }
}

/// The final state of a request row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
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

impl RequestState {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Reserved => "reserved",
            RequestState::Done => "done",
            RequestState::Failed => "failed",
            RequestState::Abandoned => "abandoned",
        }
    }
}

/// What happened to a reserved request.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// Done or failed.
    pub state: RequestState,
    /// Outcome class (`ok`, `rate_limited`, `invalid_key`, `upstream`, …).
    pub status_class: String,
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
            status_class: "ok".into(),
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
    pub fn failed(class: &str, http_status: Option<u16>, error: Option<String>) -> Self {
        Self {
            state: RequestState::Failed,
            status_class: class.into(),
            http_status,
            error,
            ..Self::ok()
        }
    }
}
