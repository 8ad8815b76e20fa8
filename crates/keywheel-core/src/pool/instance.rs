//! One running instance: registered in the ledger, heartbeating, holding one adopted key.
//!
//! The key is chosen once, at start, by the rotation rule. It changes later only by fallback,
//! when it cannot serve (daily cap, invalid, out of credit, account spent) — never because the
//! count passed the rotation threshold.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use chrono::{DateTime, Duration, Utc};

use super::Pool;
use super::explain::explain_unavailable;
use crate::dispatch::Kind;
use crate::error::{Error, Result};
use crate::keys::{ApiKey, KeyId};
use crate::ledger::{
    Adoption, Completion, FailureScope, Reservation, ReserveOutcome, ReserveRequest,
};

/// A granted, counted request: send it with `key`, then [`Instance::complete`] it.
#[derive(Debug, Clone)]
pub struct Grant {
    /// The ledger row.
    pub reservation: Reservation,
    /// The key to send with.
    pub key: ApiKey,
    /// Whether getting it involved a fallback from the instance's previous key.
    pub fell_back: bool,
}

/// The answer to [`Instance::try_reserve`].
#[derive(Debug, Clone)]
pub enum Reserve {
    /// Counted: send now.
    Granted(Grant),
    /// The per-minute window is full: try again at `until` (same key).
    Wait(DateTime<Utc>),
}

struct Heartbeat {
    stop: mpsc::Sender<()>,
    thread: Option<JoinHandle<()>>,
}

/// A registered instance. Deregisters on drop.
pub struct Instance {
    pool: Pool,
    id: String,
    key: Arc<Mutex<Option<KeyId>>>,
    adoption: Adoption,
    heartbeat: Mutex<Option<Heartbeat>>,
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance")
            .field("id", &self.id)
            .field("key", &self.key())
            .finish()
    }
}

impl Instance {
    pub(super) fn start(pool: Pool, kind: &str) -> Result<Self> {
        let now = pool.now();
        pool.expire_instances()?;
        let ledger = pool.ledger();
        let id = ledger.register_instance(kind, std::process::id(), now)?;
        let candidates = pool.ring().ids();
        let adoption =
            ledger.adopt_at_start(&id, &candidates, pool.settings().rotate_after, now)?;
        tracing::info!(instance = %id, key = ?adoption.key, rotated = adoption.rotated, "instance started");
        let key = Arc::new(Mutex::new(adoption.key.clone()));
        let heartbeat = spawn_heartbeat(&pool, &id, kind, key.clone());
        Ok(Self {
            key,
            pool,
            id,
            adoption,
            heartbeat: Mutex::new(heartbeat),
        })
    }

    /// This instance's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The key in use.
    pub fn key(&self) -> Option<KeyId> {
        self.key.lock().expect("key lock").clone()
    }

    /// What happened at start (the rotation decision).
    pub fn adoption(&self) -> &Adoption {
        &self.adoption
    }

    /// The pool.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Reserves one request on the instance's key, falling back to another key when this one
    /// cannot serve. Returns [`Reserve::Wait`] when the per-minute window is full.
    pub fn try_reserve(&self, kind: Kind, model: Option<&str>) -> Result<Reserve> {
        let mut fell_back = false;
        for _ in 0..=self.pool.ring().len() {
            // An instance that found nothing usable (e.g. all spent) picks up a key once one frees.
            let key_id = match self.key() {
                Some(k) => k,
                None => match self.fall_back(&KeyId::from_stored(""), FailureScope::Key)? {
                    Some(k) => k,
                    None => break,
                },
            };
            let now = self.pool.now();
            let outcome = self.pool.ledger().reserve(&ReserveRequest {
                instance_id: &self.id,
                key_id: &key_id,
                kind,
                model,
                now,
            })?;
            let scope = match outcome {
                ReserveOutcome::Granted(reservation) => {
                    let key = self.pool.ring().get(&key_id).cloned().ok_or_else(|| {
                        Error::Usage(format!("the key {key_id} is not available to this process"))
                    })?;
                    return Ok(Reserve::Granted(Grant {
                        reservation,
                        key,
                        fell_back,
                    }));
                }
                ReserveOutcome::Wait { until } => return Ok(Reserve::Wait(until)),
                ReserveOutcome::AccountSpent { .. } => FailureScope::Account,
                ReserveOutcome::KeySpent { .. } | ReserveOutcome::Unusable(_) => FailureScope::Key,
            };
            fell_back = true;
            if self.fall_back(&key_id, scope)?.is_none() {
                break;
            }
        }
        Err(self.explain())
    }

    /// Like [`Instance::try_reserve`] but sleeps through per-minute waits, up to `max_wait` in total.
    pub fn reserve_waiting(
        &self,
        kind: Kind,
        model: Option<&str>,
        max_wait: Duration,
    ) -> Result<Grant> {
        let deadline = self.pool.now() + max_wait;
        loop {
            match self.try_reserve(kind, model)? {
                Reserve::Granted(g) => return Ok(g),
                Reserve::Wait(until) => {
                    if until > deadline {
                        return Err(Error::QuotaExhausted {
                            message: format!(
                                "every usable key is at its per-minute cap; the next slot frees at {}",
                                until.format("%H:%M:%S UTC")
                            ),
                            reset_at: until,
                        });
                    }
                    let d = (until - self.pool.now()).max(Duration::milliseconds(10));
                    std::thread::sleep(d.to_std().unwrap_or_default());
                }
            }
        }
    }

    /// Completes a granted request with its outcome.
    pub fn complete(&self, grant: &Grant, completion: &Completion) -> Result<()> {
        self.pool
            .ledger()
            .complete(&grant.reservation, completion, self.pool.now())
    }

    /// Moves this instance to the next usable key after `failed` could not serve (skipping
    /// its account if `scope` says so). Returns the new key, or `None` if none is left (the
    /// instance then keeps its key, which serves again once it frees, e.g. after 00:00 UTC).
    pub fn fall_back(&self, failed: &KeyId, scope: FailureScope) -> Result<Option<KeyId>> {
        let next = self.pool.ledger().fall_back(
            &self.id,
            failed,
            scope,
            &self.pool.ring().ids(),
            self.pool.now(),
        )?;
        if let Some(k) = &next {
            tracing::warn!(instance = %self.id, from = %failed, to = %k, ?scope, "fallback to another key");
        }
        if next.is_some() {
            *self.key.lock().expect("key lock") = next.clone();
        }
        Ok(next)
    }

    /// The error to show when no key can serve, with the reset time.
    pub fn explain(&self) -> Error {
        let ring = self.pool.ring();
        match self.pool.ledger().key_states(&ring.ids(), self.pool.now()) {
            Ok(states) => explain_unavailable(&states, ring.len(), self.pool.now()),
            Err(e) => e,
        }
    }
}

fn spawn_heartbeat(
    pool: &Pool,
    id: &str,
    kind: &str,
    key: Arc<Mutex<Option<KeyId>>>,
) -> Option<Heartbeat> {
    let (stop, rx) = mpsc::channel::<()>();
    let ledger = pool.ledger().clone();
    let clock = pool.clock();
    let kind = kind.to_string();
    let every = std::time::Duration::from_secs(pool.settings().heartbeat_secs.max(1));
    let id = Arc::<str>::from(id);
    let thread = std::thread::Builder::new()
        .name("keywheel-heartbeat".into())
        .spawn(move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(every) {
                match ledger.heartbeat(&id, clock.now()) {
                    Ok(true) => {}
                    Ok(false) => {
                        // Someone expired us while we were alive (suspended?): come back.
                        let key = key.lock().ok().and_then(|k| k.clone());
                        tracing::warn!(instance = %id, "instance was expired while alive; registering again");
                        if let Err(e) = ledger.reregister_instance(&id, &kind, std::process::id(), key.as_ref(), clock.now()) {
                            tracing::warn!(error = %e, "could not register the instance again");
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "heartbeat failed"),
                }
            }
        })
        .ok()?;
    Some(Heartbeat {
        stop,
        thread: Some(thread),
    })
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(mut hb) = self.heartbeat.lock().ok().and_then(|mut h| h.take()) {
            let _ = hb.stop.send(());
            if let Some(t) = hb.thread.take() {
                let _ = t.join();
            }
        }
        if let Err(e) = self.pool.ledger().deregister_instance(&self.id) {
            tracing::warn!(error = %e, "could not deregister the instance");
        }
    }
}
