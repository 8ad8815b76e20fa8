//! Fake keys: the real shape (`sk-or-v1-` + 64 lowercase hex) so that every parser accepts
//! them, made of a repeated pattern so that nobody mistakes one for a real key. They are fake
//! test keys, valid nowhere; keywheel-mock takes any well-shaped key as its own account.

use sha2::Digest as _;

/// The public prefix of every OpenRouter key.
pub const PREFIX: &str = "sk-or-v1-";

/// A fake test key whose 64 hex digits are `seed` repeated (`"e2e7"` → `sk-or-v1-e2e7e2e7…`).
///
/// # Panics
/// When `seed` is empty, does not divide 64, or is not lowercase hex.
pub fn fake_key_repeating(seed: &str) -> String {
    assert!(
        !seed.is_empty()
            && 64 % seed.len() == 0
            && seed
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "a fake key's seed is lowercase hex whose length divides 64: {seed:?}"
    );
    format!("{PREFIX}{}", seed.repeat(64 / seed.len())) // fake test key
}

/// Fake test key number `n`: `n` in two hex digits, 32 times (`fake_key(1)` masks as
/// `sk-or-v1-…0101`).
pub fn fake_key(n: u8) -> String {
    fake_key_repeating(&format!("{n:02x}"))
}

/// Fake test keys number 1 to `n`.
pub fn fake_keys(n: u8) -> Vec<String> {
    (1..=n).map(fake_key).collect()
}

/// A fake test key of random hex (for tests that must not meet the same key twice).
pub fn random_fake_key() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("{PREFIX}{}", hex::encode(bytes))
}

/// A key's id (the first 12 hex of its SHA-256), computed here, independently of the crates
/// under test.
pub fn key_id(key: &str) -> String {
    hex::encode(sha2::Sha256::digest(key.as_bytes()))[..12].to_string()
}

/// The secret part of a key (after the public prefix).
pub fn key_body(key: &str) -> &str {
    key.strip_prefix(PREFIX).unwrap_or(key)
}

/// The first 16-character run of `key`'s body found in `haystack`, if any.
pub fn key_material_in(haystack: &[u8], key: &str) -> Option<String> {
    let hay = String::from_utf8_lossy(haystack);
    let body = key_body(key);
    (0..=body.len().saturating_sub(16))
        .map(|i| &body[i..(i + 16).min(body.len())])
        .find(|s| hay.contains(s))
        .map(str::to_string)
}

/// Fails the test when any 16-character run of `key`'s body is in `haystack`; `what` names it.
pub fn assert_no_key_material(haystack: &[u8], key: &str, what: &str) {
    if let Some(slice) = key_material_in(haystack, key) {
        panic!("{what} contains key material ({slice})");
    }
}

/// Fake key number `n` as an [`keywheel_core::ApiKey`].
#[cfg(feature = "core")]
pub fn fake_api_key(n: u8) -> keywheel_core::ApiKey {
    keywheel_core::ApiKey::parse(&fake_key(n)).expect("a fake key is well-formed")
}

/// The id of fake key number `n`, as keywheel-core computes it.
#[cfg(feature = "core")]
pub fn fake_key_id(n: u8) -> keywheel_core::KeyId {
    fake_api_key(n).id()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_keys_have_the_real_shape() {
        for k in [fake_key(1), fake_key_repeating("e2e7"), random_fake_key()] {
            let body = key_body(&k);
            assert_eq!(body.len(), 64, "{k}");
            assert!(body.bytes().all(|b| b.is_ascii_hexdigit()), "{k}");
        }
        assert_eq!(fake_key(1), format!("sk-or-v1-{}", "01".repeat(32)));
        assert_eq!(key_id(&fake_key(1)).len(), 12);
    }

    #[test]
    fn key_material_is_found_in_any_16_character_run() {
        let k = random_fake_key();
        let hay = format!("before {} after", &key_body(&k)[20..36]);
        assert!(key_material_in(hay.as_bytes(), &k).is_some());
        assert!(key_material_in(b"sk-or-v1-...", &k).is_none());
    }
}
