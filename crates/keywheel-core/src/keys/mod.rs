//! API keys: the redacting secret type, key ids, and where key material comes from.
//!
//! Key material lives only in the OS keychain ([`keychain`]) or in `OPENROUTER_API_KEYS`
//! ([`mod@env`]); SQLite holds metadata keyed by [`KeyId`], never the key.

pub mod env;
pub mod keychain;
mod redact;
pub mod secret;

pub use keychain::{KeychainStatus, MemoryStore, OsKeychain, SecretStore};
pub use redact::{REDACTED, check_label, is_key_shaped, redact};
pub use secret::{ApiKey, KeyId};

crate::vocab::stored_enum! {
    /// Where an instance found a key's material.
    pub enum KeySource (unknown reads as Env) {
        /// The OS keychain (added with `keywheel keys add` or the app).
        Keychain,
        /// The `OPENROUTER_API_KEYS` environment variable; never persisted.
        Env,
    }
}

/// The keys one instance can actually send with, in a stable order.
#[derive(Debug, Default)]
pub struct KeyRing {
    keys: Vec<(ApiKey, KeySource)>,
}

impl KeyRing {
    /// Adds a key; a key already present (same id) keeps its first source.
    pub fn insert(&mut self, key: ApiKey, source: KeySource) {
        if !self.keys.iter().any(|(k, _)| k.id() == key.id()) {
            self.keys.push((key, source));
        }
    }

    /// Looks a key up by id.
    pub fn get(&self, id: &KeyId) -> Option<&ApiKey> {
        self.keys
            .iter()
            .find(|(k, _)| k.id() == *id)
            .map(|(k, _)| k)
    }

    /// The ids, in ring order.
    pub fn ids(&self) -> Vec<KeyId> {
        self.keys.iter().map(|(k, _)| k.id()).collect()
    }

    /// Keys with their sources.
    pub fn iter(&self) -> impl Iterator<Item = (&ApiKey, KeySource)> {
        self.keys.iter().map(|(k, s)| (k, *s))
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}
