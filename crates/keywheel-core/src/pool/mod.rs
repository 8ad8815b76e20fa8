//! The key pool: the ledger plus the keys this process can use, and the views the CLI and the
//! app show (keys, status, usage).
//!
//! [`Pool::open`] reads settings-derived state; [`Pool::start_instance`] registers an
//! [`Instance`], which applies the rotation rule once, at its start.

mod explain;
mod forms;
mod instance;
mod views;
pub mod words;

use std::sync::{Arc, RwLock};

use chrono::{DateTime, Duration, Utc};
use zeroize::Zeroizing;

pub use explain::explain_unavailable;
pub use forms::{KeyPatch, LogQuery, MAX_LOG_ROWS};
pub use instance::{Grant, Instance, Reserve};
pub use views::{KeyView, KeychainView, LedgerView, StatusView, UsageDay, UsageView};

use crate::clock::SharedClock;
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::keys::{
    ApiKey, KeyId, KeyRing, KeySource, KeychainStatus, OsKeychain, SecretStore, env,
};
use crate::ledger::{CapDefaults, KeyRecord, KeyUpdate, Ledger};

/// What a pool is opened with.
pub struct PoolOptions {
    /// Resolved settings.
    pub settings: Settings,
    /// The clock.
    pub clock: SharedClock,
    /// Where keychain keys live.
    pub store: Arc<dyn SecretStore>,
    /// The value of `OPENROUTER_API_KEYS`, if set.
    pub env_keys: Option<String>,
}

struct Inner {
    settings: Settings,
    clock: SharedClock,
    ledger: Ledger,
    store: Arc<dyn SecretStore>,
    env_keys: Vec<ApiKey>,
    ring: RwLock<Option<Arc<KeyRing>>>,
    warnings: std::sync::Mutex<Vec<String>>,
}

/// The key pool of this process. Cheap to clone.
#[derive(Clone)]
pub struct Pool {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("ledger", &self.inner.ledger)
            .finish_non_exhaustive()
    }
}

impl Pool {
    /// Opens the pool from the process environment: settings, clock, the OS keychain (unless
    /// turned off) and `OPENROUTER_API_KEYS`.
    pub fn from_env() -> Result<Self> {
        Self::from_env_with_keys(std::env::var(env::VAR).ok())
    }

    /// [`Pool::from_env`] with the value of `OPENROUTER_API_KEYS` given: the desktop app takes
    /// it out of its environment before anything starts (its child processes never see it).
    pub fn from_env_with_keys(env_keys: Option<String>) -> Result<Self> {
        let var = |k: &str| std::env::var(k).ok();
        let settings = Settings::load_with(&var)?;
        let clock = crate::config::clock_from_env(&var)?;
        let store: Arc<dyn SecretStore> = Arc::new(if settings.keychain {
            OsKeychain::open()
        } else {
            OsKeychain::disabled()
        });
        Self::open(PoolOptions {
            settings,
            clock,
            store,
            env_keys,
        })
    }

    /// Opens the pool.
    pub fn open(opts: PoolOptions) -> Result<Self> {
        let caps = CapDefaults {
            daily: opts.settings.daily_cap,
            minute: opts.settings.minute_cap,
            tier_applies: !opts.settings.daily_cap_set,
        };
        let ledger = Ledger::open_for(&opts.settings, caps)?;
        let mut warnings = Vec::new();
        let (env_keys, env_warnings) = opts.env_keys.as_deref().map(env::parse).unwrap_or_default();
        warnings.extend(env_warnings);
        let now = opts.clock.now();
        for k in &env_keys {
            ledger.upsert_key(k, KeySource::Env, None, None, now)?;
        }
        // The keychain is probed (D-Bus) only when this run may need it: no keys came from
        // the environment, or the ledger lists keys kept in the keychain.
        let keychain_needed = env_keys.is_empty()
            || ledger
                .keys()?
                .iter()
                .any(|r| r.source == KeySource::Keychain);
        if keychain_needed && let KeychainStatus::Unavailable(why) = opts.store.status() {
            warnings.push(format!("warning: {why}"));
        }
        // Retention (ledger/retention.rs): old rows go at start, in small batches.
        if let Err(e) = ledger.prune_at_start(now, opts.settings.retention_days) {
            warnings.push(format!("warning: old ledger rows could not be pruned: {e}"));
        }
        Ok(Self {
            inner: Arc::new(Inner {
                settings: opts.settings,
                clock: opts.clock,
                ledger,
                store: opts.store,
                env_keys,
                ring: RwLock::new(None),
                warnings: std::sync::Mutex::new(warnings),
            }),
        })
    }

    /// Warnings gathered while opening (keychain unavailable, skipped env entries); never keys.
    pub fn warnings(&self) -> Vec<String> {
        self.inner.warnings.lock().expect("warnings lock").clone()
    }

    /// Probes the keychain now, for a command about to use it (`keys …`), and adds its
    /// warning when it cannot be reached. Opening the pool skips the probe (a D-Bus round
    /// trip) when every key comes from the environment and the ledger lists no keychain key.
    pub fn expect_keychain(&self) {
        if let KeychainStatus::Unavailable(why) = self.inner.store.status() {
            let warning = format!("warning: {why}");
            let mut warnings = self.inner.warnings.lock().expect("warnings lock");
            if !warnings.contains(&warning) {
                warnings.push(warning);
            }
        }
    }

    /// The ledger.
    pub fn ledger(&self) -> &Ledger {
        &self.inner.ledger
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// Now, from the injected clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    /// The clock.
    pub fn clock(&self) -> SharedClock {
        self.inner.clock.clone()
    }

    /// Whether the keychain can be used.
    pub fn keychain_status(&self) -> KeychainStatus {
        self.inner.store.status()
    }

    /// The keys this process can send with: keychain keys with metadata, then env keys.
    /// Loaded from the keychain on first use and again after [`Pool::refresh_keys`] saw the
    /// key list change (a long-running app picks up keys added or removed elsewhere).
    pub fn ring(&self) -> Arc<KeyRing> {
        if let Some(ring) = self.inner.ring.read().expect("ring lock").as_ref() {
            return ring.clone();
        }
        let ring = Arc::new(self.load_ring());
        *self.inner.ring.write().expect("ring lock") = Some(ring.clone());
        ring
    }

    fn load_ring(&self) -> KeyRing {
        let mut ring = KeyRing::default();
        let listed: Vec<_> = (self.inner.ledger.keys().unwrap_or_default().into_iter())
            .filter(|r| r.source == KeySource::Keychain)
            .collect();
        if !listed.is_empty() && self.inner.store.status() == KeychainStatus::Available {
            for rec in listed {
                match self.inner.store.get(&rec.id) {
                    Ok(Some(k)) => ring.insert(k, KeySource::Keychain),
                    Ok(None) => self.warn(format!(
                        "warning: key {} ({}) is listed but not in the keychain; remove it with `keywheel keys rm {}` and add it again",
                        rec.id, rec.masked, rec.id
                    )),
                    Err(e) => self.warn(format!("warning: {e}")),
                }
            }
        }
        for k in &self.inner.env_keys {
            ring.insert(k.clone(), KeySource::Env);
        }
        ring
    }

    /// Reloads the key ring if the ledger's key list no longer matches it (a key was added
    /// or removed by this or another process). Cheap when nothing changed: one indexed read.
    /// Returns whether it reloaded.
    pub fn refresh_keys(&self) -> Result<bool> {
        let listed: Vec<KeyId> = self
            .inner
            .ledger
            .keys()?
            .into_iter()
            .filter(|r| r.source == KeySource::Keychain)
            .map(|r| r.id)
            .collect();
        let ring = self.ring();
        let held: Vec<KeyId> = ring
            .iter()
            .filter(|(_, src)| *src == KeySource::Keychain)
            .map(|(k, _)| k.id())
            .collect();
        let same = listed.len() == held.len() && listed.iter().all(|id| held.contains(id));
        if !same {
            self.forget_ring();
        }
        Ok(!same)
    }

    fn forget_ring(&self) {
        *self.inner.ring.write().expect("ring lock") = None;
    }

    fn warn(&self, w: String) {
        self.inner.warnings.lock().expect("warnings lock").push(w);
    }

    /// Adds a key: checks its shape, stores it in the keychain, records its metadata.
    /// `raw` is zeroized by the caller's `Zeroizing` wrapper.
    pub fn add_key(
        &self,
        raw: &Zeroizing<String>,
        label: Option<&str>,
        account: Option<&str>,
    ) -> Result<KeyRecord> {
        crate::keys::check_label("label", label.unwrap_or(""))?;
        crate::keys::check_label("account", account.unwrap_or(""))?;
        let key = ApiKey::parse(raw)?;
        self.inner.store.set(&key)?;
        self.inner
            .ledger
            .upsert_key(&key, KeySource::Keychain, label, account, self.now())?;
        self.forget_ring();
        self.record(&key.id())
    }

    /// Removes a key from the keychain and the ledger's key list (its history stays).
    pub fn remove_key(&self, typed_id: &str) -> Result<KeyRecord> {
        let rec = self.inner.ledger.resolve_key(typed_id)?;
        if rec.source == KeySource::Keychain {
            self.inner.store.delete(&rec.id)?;
        }
        self.inner.ledger.remove_key(&rec.id)?;
        self.forget_ring();
        Ok(rec)
    }

    /// Changes a key's label, account, caps or enabled flag.
    pub fn update_key(&self, typed_id: &str, update: &KeyUpdate) -> Result<KeyRecord> {
        crate::keys::check_label("label", update.label.as_deref().unwrap_or(""))?;
        crate::keys::check_label("account", update.account.as_deref().unwrap_or(""))?;
        if matches!(update.daily_cap, Some(Some(0))) || matches!(update.minute_cap, Some(Some(0))) {
            return Err(Error::Usage(
                "a cap of 0 would block the key; disable it instead with `keywheel keys disable`"
                    .into(),
            ));
        }
        let rec = self.inner.ledger.resolve_key(typed_id)?;
        self.inner.ledger.update_key(&rec.id, update)?;
        self.record(&rec.id)
    }

    fn record(&self, id: &KeyId) -> Result<KeyRecord> {
        self.inner
            .ledger
            .key(id)?
            .ok_or_else(|| Error::Usage(format!("no key has the id {id}")))
    }

    /// Registers a new instance (an app window, a CLI run) and applies the rotation rule.
    pub fn start_instance(&self, kind: &str) -> Result<Instance> {
        Instance::start(self.clone(), kind)
    }

    /// Expires dead instances (no heartbeat within the TTL).
    pub fn expire_instances(&self) -> Result<usize> {
        self.inner
            .ledger
            .expire_instances(self.now(), self.instance_ttl())
    }

    fn instance_ttl(&self) -> Duration {
        Duration::seconds(self.inner.settings.instance_ttl_secs as i64)
    }
}
