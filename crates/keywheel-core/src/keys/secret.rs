//! [`ApiKey`]: an OpenRouter key that redacts itself, refuses to serialize and is zeroized on
//! drop; [`KeyId`]: its public fingerprint.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The prefix every OpenRouter API key starts with.
pub const KEY_PREFIX: &str = "sk-or-v1-";

/// An OpenRouter API key. `Debug` and `Display` print only the masked form; it has no
/// `Serialize`; its memory is zeroized on drop (via `secrecy`).
#[derive(Clone)]
pub struct ApiKey {
    secret: SecretString,
    id: KeyId,
    masked: String,
}

impl ApiKey {
    /// Checks the shape (`sk-or-v1-` + 64 hex) and wraps the key. Surrounding whitespace is
    /// ignored. The error says what is wrong without echoing the key.
    pub fn parse(raw: &str) -> Result<Self> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(Error::BadInput(
                "no key was given; paste an OpenRouter key (sk-or-v1-…) on standard input".into(),
            ));
        }
        let Some(rest) = s.strip_prefix(KEY_PREFIX) else {
            return Err(Error::BadInput(format!(
                "that is not an OpenRouter key: it should start with {KEY_PREFIX}; copy it again from https://openrouter.ai/settings/keys"
            )));
        };
        if rest.len() != 64 {
            return Err(Error::BadInput(format!(
                "that key has {} characters after {KEY_PREFIX} but OpenRouter keys have 64; it may be cut off — copy it again",
                rest.chars().count()
            )));
        }
        if let Some(bad) = rest.chars().find(|c| !c.is_ascii_hexdigit()) {
            let what = if bad.is_whitespace() {
                "a space".to_string()
            } else {
                "a character".to_string()
            };
            return Err(Error::BadInput(format!(
                "that key contains {what} that is not a hex digit (0-9, a-f) after {KEY_PREFIX}; copy it again"
            )));
        }
        Ok(Self::new_unchecked(s.to_ascii_lowercase()))
    }

    fn new_unchecked(s: String) -> Self {
        let id = KeyId::of(&s);
        let masked = mask(&s);
        Self {
            secret: SecretString::from(s),
            id,
            masked,
        }
    }

    /// The key's id (first 12 hex of its SHA-256).
    pub fn id(&self) -> KeyId {
        self.id.clone()
    }

    /// The masked form, `sk-or-v1-…a1b2`.
    pub fn masked(&self) -> &str {
        &self.masked
    }

    /// The key itself, for the `Authorization` header and the keychain only.
    pub fn expose(&self) -> &str {
        self.secret.expose_secret()
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey({} {})", self.id, self.masked)
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked)
    }
}

impl PartialEq for ApiKey {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

/// `sk-or-v1-…a1b2`: the prefix and the last four characters.
pub fn mask(key: &str) -> String {
    let tail: String = key
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("{KEY_PREFIX}…{tail}")
}

/// A key's public id: the first 12 hex characters of the SHA-256 of the key. The same key
/// has the same id wherever it comes from, so its usage follows it.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(transparent)]
pub struct KeyId(String);

impl KeyId {
    /// The id of some key material.
    pub fn of(key: &str) -> Self {
        let digest = Sha256::digest(key.as_bytes());
        Self(hex::encode(digest)[..12].to_string())
    }

    /// Wraps an id read back from the ledger or typed by a person (not validated as existing).
    pub fn from_stored(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: &str = "sk-or-v1-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"; // fake test key

    #[test]
    fn debug_and_display_never_show_the_key() {
        let k = ApiKey::parse(K).unwrap();
        for shown in [format!("{k:?}"), format!("{k}")] {
            assert!(!shown.contains(&K[9..25]), "key material leaked: {shown}");
        }
        assert_eq!(k.masked(), "sk-or-v1-…cdef");
        assert_eq!(k.expose(), K);
    }

    #[test]
    fn id_is_a_stable_sha256_prefix() {
        let k = ApiKey::parse(&format!("  {K}\n")).unwrap();
        assert_eq!(k.id().as_str().len(), 12);
        assert_eq!(
            k.id(),
            KeyId::of(K),
            "whitespace around a key does not change its id"
        );
        let expected = hex::encode(Sha256::digest(K.as_bytes()));
        assert_eq!(k.id().as_str(), &expected[..12]);
    }

    #[test]
    fn shape_errors_say_what_is_wrong_without_echoing() {
        let cases = [
            ("", "no key"),
            ("sk-ant-123", "should start with"),
            (&K[..40], "64"),
            (&format!("{}g", &K[..K.len() - 1]), "hex"),
        ];
        for (input, needle) in cases {
            let e = ApiKey::parse(input).unwrap_err().to_string();
            assert!(e.contains(needle), "{input:?}: {e}");
            if input.len() > 12 {
                assert!(!e.contains(&input[9..]), "the error echoed the key: {e}");
            }
        }
    }
}
