//! Where key material is stored: the OS keychain (Secret Service on Linux) through `keyring`.
//!
//! [`OsKeychain`] always uses the persistent platform store — never keyring's in-memory mock,
//! which it would silently fall back to without the right features. [`OsKeychain::open`]
//! probes the store once so a missing or locked keychain is reported with a sentence instead
//! of keys quietly vanishing. [`MemoryStore`] exists for unit tests only.

use std::collections::HashMap;
use std::sync::Mutex;

use zeroize::Zeroizing;

use super::secret::{ApiKey, KeyId};
use crate::error::{Error, Result};

/// The keychain service name entries are filed under (the account is the key id).
pub const SERVICE: &str = "keywheel";

/// Whether the keychain can be used. On the wire: `{"state": "available"}`,
/// `{"state": "unavailable", "reason": "…"}` or `{"state": "disabled"}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "state", content = "reason", rename_all = "snake_case")]
pub enum KeychainStatus {
    /// A persistent store answered.
    Available,
    /// It cannot be used; the sentence says why and what to do.
    Unavailable(String),
    /// Turned off in settings (`keychain = false` / `KEYWHEEL_KEYCHAIN=off`).
    Disabled,
}

impl KeychainStatus {
    /// The status line the CLI and the app show: what the state means for added keys.
    pub fn sentence(&self) -> String {
        match self {
            Self::Available => "OS keychain: available. Added keys are stored there.".into(),
            Self::Disabled => {
                "OS keychain: disabled. Only keys from OPENROUTER_API_KEYS are used.".into()
            }
            Self::Unavailable(why) => format!("OS keychain unavailable: {why}"),
        }
    }
}

/// Somewhere key material can be kept, by key id.
pub trait SecretStore: Send + Sync {
    /// Stores a key under its id.
    fn set(&self, key: &ApiKey) -> Result<()>;
    /// Reads a key back; `None` when there is no entry.
    fn get(&self, id: &KeyId) -> Result<Option<ApiKey>>;
    /// Deletes an entry; deleting a missing one is not an error.
    fn delete(&self, id: &KeyId) -> Result<()>;
    /// Whether the store can be used right now.
    fn status(&self) -> KeychainStatus;
}

/// The OS keychain. It is probed (a D-Bus round trip on Linux) the first time its status is
/// needed, not when it is opened: a run whose keys all come from `OPENROUTER_API_KEYS` and
/// whose ledger lists no keychain key never talks to it.
#[derive(Debug)]
pub struct OsKeychain {
    status: std::sync::OnceLock<KeychainStatus>,
}

impl OsKeychain {
    /// Selects the platform's persistent store; it is probed once, on first use.
    pub fn open() -> Self {
        #[cfg(target_os = "linux")]
        keyring::set_default_credential_builder(
            keyring::secret_service::default_credential_builder(),
        );
        Self {
            status: std::sync::OnceLock::new(),
        }
    }

    /// A keychain that is switched off by settings.
    pub fn disabled() -> Self {
        Self {
            status: std::sync::OnceLock::from(KeychainStatus::Disabled),
        }
    }

    /// The probed status (probing on the first call).
    fn probed(&self) -> &KeychainStatus {
        self.status.get_or_init(|| match probe() {
            Ok(()) => KeychainStatus::Available,
            Err(why) => KeychainStatus::Unavailable(why),
        })
    }

    fn ensure(&self) -> Result<()> {
        match self.probed() {
            KeychainStatus::Available => Ok(()),
            KeychainStatus::Unavailable(why) => Err(Error::Keychain(why.clone())),
            KeychainStatus::Disabled => Err(Error::Keychain(
                "the keychain is turned off (keychain = false or KEYWHEEL_KEYCHAIN=off); turn it on to store keys, or pass keys in OPENROUTER_API_KEYS".into(),
            )),
        }
    }

    fn entry(id: &KeyId) -> Result<keyring::Entry> {
        keyring::Entry::new(SERVICE, id.as_str()).map_err(|e| Error::Keychain(describe(&e)))
    }
}

fn probe() -> std::result::Result<(), String> {
    let entry = keyring::Entry::new(SERVICE, "__keywheel_probe__").map_err(|e| describe(&e))?;
    match entry.get_password() {
        Ok(_) | Err(keyring::Error::NoEntry) => Ok(()),
        Err(e) => Err(describe(&e)),
    }
}

/// A sentence for a keyring failure that says what to install or start. Never includes a key.
fn describe(e: &keyring::Error) -> String {
    let detail = e.to_string();
    let hint = if detail.contains("locked") || detail.contains("IsLocked") {
        "the keychain is locked; unlock it (log in to the desktop session, or run `gnome-keyring-daemon --unlock`)"
    } else {
        "no Secret Service keychain is reachable; install and start one (on Debian: `apt install gnome-keyring dbus-x11`, then run inside a desktop session or `dbus-run-session` with `gnome-keyring-daemon --unlock`), or pass keys in OPENROUTER_API_KEYS"
    };
    format!("the OS keychain cannot be used: {hint} ({detail})")
}

impl SecretStore for OsKeychain {
    fn set(&self, key: &ApiKey) -> Result<()> {
        self.ensure()?;
        Self::entry(&key.id())?
            .set_password(key.expose())
            .map_err(|e| Error::Keychain(describe(&e)))
    }

    fn get(&self, id: &KeyId) -> Result<Option<ApiKey>> {
        self.ensure()?;
        match Self::entry(id)?.get_password() {
            Ok(s) => {
                let s = Zeroizing::new(s);
                ApiKey::parse(&s).map(Some)
            }
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(Error::Keychain(describe(&e))),
        }
    }

    fn delete(&self, id: &KeyId) -> Result<()> {
        self.ensure()?;
        match Self::entry(id)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(Error::Keychain(describe(&e))),
        }
    }

    fn status(&self) -> KeychainStatus {
        self.probed().clone()
    }
}

/// An in-memory store for unit tests. Never used by the CLI or the app.
#[derive(Debug, Default)]
pub struct MemoryStore {
    keys: Mutex<HashMap<KeyId, ApiKey>>,
}

impl SecretStore for MemoryStore {
    fn set(&self, key: &ApiKey) -> Result<()> {
        self.keys
            .lock()
            .expect("store lock")
            .insert(key.id(), key.clone());
        Ok(())
    }

    fn get(&self, id: &KeyId) -> Result<Option<ApiKey>> {
        Ok(self.keys.lock().expect("store lock").get(id).cloned())
    }

    fn delete(&self, id: &KeyId) -> Result<()> {
        self.keys.lock().expect("store lock").remove(id);
        Ok(())
    }

    fn status(&self) -> KeychainStatus {
        KeychainStatus::Available
    }
}

#[cfg(test)]
mod status_tests {
    use super::KeychainStatus;

    /// The status lines the Keys view shows (they were `keychainSentence` in the UI), and the
    /// state on the wire.
    #[test]
    fn keychain_states_become_sentences() {
        assert!(
            KeychainStatus::Available
                .sentence()
                .starts_with("OS keychain: available")
        );
        assert!(
            KeychainStatus::Disabled
                .sentence()
                .contains("Only keys from OPENROUTER_API_KEYS")
        );
        let why = KeychainStatus::Unavailable("no Secret Service: start gnome-keyring".into());
        assert_eq!(
            why.sentence(),
            "OS keychain unavailable: no Secret Service: start gnome-keyring"
        );
        assert_eq!(
            serde_json::to_value(&why).unwrap(),
            serde_json::json!({"state": "unavailable", "reason": "no Secret Service: start gnome-keyring"})
        );
        assert_eq!(
            serde_json::to_value(KeychainStatus::Available).unwrap(),
            serde_json::json!({"state": "available"})
        );
    }
}
