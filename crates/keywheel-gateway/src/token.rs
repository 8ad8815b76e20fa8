//! The local token clients present to the gateway (`Authorization: Bearer kw-…`).
//!
//! It is made on first start (`kw-` + 64 hex characters from the OS random source) and kept in
//! the OS keychain (service `keywheel`, entry `gateway-token`) when the pool uses the keychain,
//! or else in `<data dir>/gateway-token`, created with mode 0600. It is not an OpenRouter key
//! and opens nothing but this gateway; it never reaches a log.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use keywheel_core::keys::KeychainStatus;
use keywheel_core::pool::Pool;
use keywheel_core::{Error, Result};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// The keychain entry name the token is filed under.
pub const KEYCHAIN_ENTRY: &str = "gateway-token";

/// The file name used when no keychain is reachable.
pub const FILE_NAME: &str = "gateway-token";

/// Where the token lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenStore {
    /// The OS keychain.
    Keychain,
    /// A 0600 file.
    File(PathBuf),
}

impl std::fmt::Display for TokenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenStore::Keychain => write!(f, "the OS keychain"),
            TokenStore::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// The local token. `Debug` never shows it.
#[derive(Clone)]
pub struct LocalToken {
    secret: Zeroizing<String>,
    store: TokenStore,
}

impl std::fmt::Debug for LocalToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalToken")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl LocalToken {
    /// Loads the pool's token, making and storing one on first use.
    pub fn load_or_create(pool: &Pool) -> Result<Self> {
        if pool.settings().keychain && pool.keychain_status() == KeychainStatus::Available {
            return Self::in_keychain();
        }
        Self::in_file(&pool.settings().data_dir.join(FILE_NAME))
    }

    /// A token given directly (tests, the app holding one already).
    pub fn from_secret(secret: &str, store: TokenStore) -> Result<Self> {
        let secret = secret.trim();
        if !is_token_shaped(secret) {
            return Err(Error::BadInput(
                "the stored gateway token is damaged; delete it (the keychain entry `gateway-token` or the file `gateway-token` in the data dir) and start `keywheel serve` again".into(),
            ));
        }
        Ok(Self {
            secret: Zeroizing::new(secret.to_string()),
            store,
        })
    }

    fn in_keychain() -> Result<Self> {
        let entry = keyring::Entry::new(keywheel_core::keys::keychain::SERVICE, KEYCHAIN_ENTRY)
            .map_err(|e| {
                Error::Keychain(format!(
                    "the gateway token cannot be kept in the OS keychain: {e}"
                ))
            })?;
        match entry.get_password() {
            Ok(s) => Self::from_secret(&Zeroizing::new(s), TokenStore::Keychain),
            Err(keyring::Error::NoEntry) => {
                let fresh = generate();
                entry.set_password(&fresh).map_err(|e| {
                    Error::Keychain(format!(
                        "the gateway token could not be stored in the OS keychain: {e}"
                    ))
                })?;
                Self::from_secret(&fresh, TokenStore::Keychain)
            }
            Err(e) => Err(Error::Keychain(format!(
                "the gateway token could not be read from the OS keychain: {e}"
            ))),
        }
    }

    fn in_file(path: &Path) -> Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(s) => return Self::from_secret(&Zeroizing::new(s), TokenStore::File(path.into())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(Error::io(
                    format!("could not read the gateway token {}", path.display()),
                    e,
                ));
            }
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                Error::io(
                    format!("could not create the data dir {}", dir.display()),
                    e,
                )
            })?;
        }
        let fresh = generate();
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        match opts.open(path) {
            Ok(mut f) => {
                f.write_all(fresh.as_bytes())
                    .and_then(|()| f.sync_all())
                    .map_err(|e| {
                        Error::io(
                            format!("could not write the gateway token {}", path.display()),
                            e,
                        )
                    })?;
                Self::from_secret(&fresh, TokenStore::File(path.into()))
            }
            // Another process made it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Self::in_file(path),
            Err(e) => Err(Error::io(
                format!("could not create the gateway token {}", path.display()),
                e,
            )),
        }
    }

    /// The token itself, for `keywheel serve --token` and the app's copy button only.
    pub fn expose(&self) -> &str {
        &self.secret
    }

    /// Where it is kept.
    pub fn store(&self) -> &TokenStore {
        &self.store
    }

    /// Whether `presented` is this token, compared in constant time (`subtle`): the time taken
    /// does not depend on how much of it matched (only on its length, which every token
    /// shares: `kw-` and 64 hex characters).
    pub fn matches(&self, presented: &str) -> bool {
        presented.as_bytes().ct_eq(self.secret.as_bytes()).into()
    }
}

fn generate() -> Zeroizing<String> {
    let bytes: [u8; 32] = rand::random();
    Zeroizing::new(format!("kw-{}", hex::encode(bytes)))
}

/// `kw-` followed by 64 lowercase hex characters.
pub fn is_token_shaped(s: &str) -> bool {
    s.strip_prefix("kw-")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_token_is_made_once_with_mode_0600_and_matches_only_itself() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join(FILE_NAME);
        let a = LocalToken::in_file(&path).unwrap();
        let b = LocalToken::in_file(&path).unwrap();
        assert_eq!(
            a.expose(),
            b.expose(),
            "the second start reads the first token"
        );
        assert!(is_token_shaped(a.expose()));
        assert!(a.matches(a.expose()));
        assert!(!a.matches("kw-0000"));
        assert!(!a.matches(""));
        assert!(!format!("{a:?}").contains(a.expose()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "garbage").unwrap();
        assert!(LocalToken::in_file(&path).is_err());
    }
}
