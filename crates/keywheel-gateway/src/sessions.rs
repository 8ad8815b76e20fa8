//! Sessions: `X-Keywheel-Session: <id>` gives a client an instance of its own.
//!
//! The first request of a new session id starts an instance, so the seed's rotation rule
//! applies at that moment (adopt the pool's current key unless it has more than
//! `rotate_after` requests today, else rotate); the session then keeps its key, and falls back
//! exactly like any instance when that key cannot serve. A session idle for longer than the
//! idle limit is ended like a dead instance: its instance is deregistered, and the same id
//! later starts a new one. Requests without the header share the server's own instance.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keywheel_core::dispatch::Dispatcher;
use keywheel_core::keys::KeyId;
use keywheel_core::pool::Pool;
use keywheel_core::{Error, Result};
use serde::Serialize;
use tokio::sync::OnceCell;

/// The instance kind sessions register with (`gateway-session:<id>` in `keywheel status`);
/// request rows read it back as `via: gateway` with the session.
pub use keywheel_core::ledger::request_log::SESSION_KIND_PREFIX;

/// The longest session id accepted.
pub const MAX_ID_LEN: usize = 64;

/// Whether `id` is an acceptable session id: 1–64 of `A–Z a–z 0–9 . _ - : @`.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':' | b'@'))
}

struct Slot {
    dispatcher: OnceCell<Arc<Dispatcher>>,
    last_used: Mutex<Instant>,
    in_use: AtomicUsize,
}

/// A session in use by one request; marks it used again when dropped.
pub struct Lease {
    slot: Arc<Slot>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        *self.slot.last_used.lock().expect("session lock") = Instant::now();
        self.slot.in_use.fetch_sub(1, Ordering::AcqRel);
    }
}

/// One live session as `GET /v1/keywheel/status` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct SessionInfo {
    /// The client's session id.
    pub id: String,
    /// Its instance id in the ledger.
    pub instance: Option<String>,
    /// The key it holds.
    pub key_id: Option<KeyId>,
    /// Whether its start rotated the pool to another key.
    pub rotated: bool,
    /// Seconds since its last request ended (0 while one runs).
    pub idle_secs: u64,
    /// What its start told the person, if anything: on a team ledger, that this machine
    /// does not hold the pool's current key ([`keywheel_core::ledger::Adoption::sentence`]).
    pub note: Option<String>,
}

/// The live sessions of one gateway.
pub struct Sessions {
    pool: Pool,
    idle: Duration,
    max: usize,
    map: Mutex<HashMap<String, Arc<Slot>>>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("live", &self.len())
            .finish_non_exhaustive()
    }
}

impl Sessions {
    /// No sessions yet.
    pub fn new(pool: Pool, idle: Duration, max: usize) -> Self {
        Self {
            pool,
            idle,
            max,
            map: Mutex::new(HashMap::new()),
        }
    }

    /// How many sessions are live.
    pub fn len(&self) -> usize {
        self.map.lock().expect("sessions lock").len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The session's dispatcher, starting its instance on first use (concurrent first
    /// requests of one id start exactly one instance).
    pub async fn get(&self, id: &str) -> Result<(Arc<Dispatcher>, Lease)> {
        if !valid_id(id) {
            return Err(Error::BadInput(format!(
                "the X-Keywheel-Session header must be 1 to {MAX_ID_LEN} letters, digits or . _ - : @"
            )));
        }
        let slot = {
            let mut map = self.map.lock().expect("sessions lock");
            if !map.contains_key(id) && map.len() >= self.max {
                return Err(Error::NoUsableKey(format!(
                    "the gateway already has {} live sessions, its limit; reuse a session id or wait for idle ones to expire",
                    self.max
                )));
            }
            let slot = map
                .entry(id.to_string())
                .or_insert_with(|| {
                    Arc::new(Slot {
                        dispatcher: OnceCell::new(),
                        last_used: Mutex::new(Instant::now()),
                        in_use: AtomicUsize::new(0),
                    })
                })
                .clone();
            slot.in_use.fetch_add(1, Ordering::AcqRel);
            slot
        };
        let lease = Lease { slot: slot.clone() };
        let pool = self.pool.clone();
        let kind = format!("{SESSION_KIND_PREFIX}{id}");
        let started = slot
            .dispatcher
            .get_or_try_init(|| async move {
                crate::blocking(move || {
                    let instance = pool.start_instance(&kind)?;
                    tracing::info!(
                        instance = instance.id(),
                        key = ?instance.key(),
                        rotated = instance.adoption().rotated,
                        "gateway session started"
                    );
                    if let Some(s) = instance.adoption().sentence() {
                        tracing::warn!(instance = instance.id(), "gateway session: {s}");
                    }
                    Ok(Arc::new(Dispatcher::new(Arc::new(instance))?))
                })
                .await
            })
            .await;
        match started {
            Ok(d) => Ok((d.clone(), lease)),
            Err(e) => {
                drop(lease);
                // Leave no half-made slot behind: the next request tries again.
                let mut map = self.map.lock().expect("sessions lock");
                if map.get(id).is_some_and(|s| s.dispatcher.get().is_none()) {
                    map.remove(id);
                }
                Err(e)
            }
        }
    }

    /// The live sessions, by id.
    pub fn list(&self) -> Vec<SessionInfo> {
        let map = self.map.lock().expect("sessions lock");
        let mut out: Vec<SessionInfo> = map
            .iter()
            .map(|(id, slot)| {
                let d = slot.dispatcher.get();
                let busy = slot.in_use.load(Ordering::Acquire) > 0;
                SessionInfo {
                    id: id.clone(),
                    instance: d.map(|d| d.instance().id().to_string()),
                    key_id: d.and_then(|d| d.instance().key()),
                    rotated: d.is_some_and(|d| d.instance().adoption().rotated),
                    note: d.and_then(|d| d.instance().adoption().sentence()),
                    idle_secs: if busy {
                        0
                    } else {
                        slot.last_used
                            .lock()
                            .expect("session lock")
                            .elapsed()
                            .as_secs()
                    },
                }
            })
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }

    /// Removes sessions idle longer than the limit (or all of them with `all`) and returns
    /// their dispatchers; dropping one deregisters its instance (blocking ledger work, so the
    /// caller drops them off the async workers).
    pub fn take_expired(&self, all: bool) -> Vec<Arc<Dispatcher>> {
        let mut map = self.map.lock().expect("sessions lock");
        let expired: Vec<String> = map
            .iter()
            .filter(|(_, s)| {
                all || (s.in_use.load(Ordering::Acquire) == 0
                    && s.last_used.lock().expect("session lock").elapsed() >= self.idle)
            })
            .map(|(id, _)| id.clone())
            .collect();
        expired
            .into_iter()
            .filter_map(|id| {
                let slot = map.remove(&id)?;
                tracing::info!(session_instance = ?slot.dispatcher.get().map(|d| d.instance().id().to_string()), "gateway session ended");
                slot.dispatcher.get().cloned()
            })
            .collect()
    }

    /// How often the sweeper looks for idle sessions.
    pub fn sweep_every(&self) -> Duration {
        (self.idle / 4).clamp(Duration::from_millis(50), Duration::from_secs(30))
    }
}

#[cfg(test)]
mod tests {
    use super::valid_id;

    #[test]
    fn session_ids_are_short_and_plain() {
        assert!(valid_id("worker-1"));
        assert!(valid_id("a.b_c:d@e"));
        assert!(!valid_id(""));
        assert!(!valid_id("has space"));
        assert!(!valid_id("new\nline"));
        assert!(!valid_id(&"x".repeat(65)));
    }
}
