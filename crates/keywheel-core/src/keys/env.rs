//! Keys from `OPENROUTER_API_KEYS`: separated by commas or newlines, used alongside keychain
//! keys, never persisted.

use super::secret::ApiKey;

/// The variable name.
pub const VAR: &str = "OPENROUTER_API_KEYS";

/// Parses the variable's value. Entries of the wrong shape are skipped and described (by
/// position, never by content) in the returned warnings.
pub fn parse(value: &str) -> (Vec<ApiKey>, Vec<String>) {
    let mut keys = Vec::new();
    let mut warnings = Vec::new();
    let entries = value
        .split([',', '\n', '\r'])
        .map(str::trim)
        .filter(|s| !s.is_empty());
    for (i, entry) in entries.enumerate() {
        match ApiKey::parse(entry) {
            Ok(k) => keys.push(k),
            Err(e) => warnings.push(format!("{VAR} entry {} was skipped: {e}", i + 1)),
        }
    }
    (keys, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> String {
        format!("sk-or-v1-{}", format!("{n:02x}").repeat(32))
    }

    #[test]
    fn commas_and_newlines_both_separate() {
        let v = format!("{}, {}\n{}\n\n", key(1), key(2), key(3));
        let (keys, warnings) = parse(&v);
        assert_eq!(keys.len(), 3);
        assert!(warnings.is_empty());
    }

    #[test]
    fn bad_entries_are_skipped_by_position() {
        let v = format!("{},sk-or-v1-short", key(1));
        let (keys, warnings) = parse(&v);
        assert_eq!(keys.len(), 1);
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("entry 2"), "{}", warnings[0]);
        assert!(
            !warnings[0].contains("short"),
            "the warning echoed the entry: {}",
            warnings[0]
        );
    }
}
