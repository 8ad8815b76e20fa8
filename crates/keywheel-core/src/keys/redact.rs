//! The one redactor: every sentence shown to a person, the web view or a log file passes
//! through [`redact`], which masks anything shaped like an OpenRouter key.
//!
//! A key is `sk-or-` followed by key characters (`[A-Za-z0-9_-]`); any such run with at least
//! 8 key characters after `sk-or-` (case-insensitive) becomes [`REDACTED`]. The masked display
//! form `sk-or-v1-…a1b2` and short mentions (`sk-or-v1-`) are left alone, so sentences can still
//! say which key they mean. [`check_label`] refuses key-shaped labels and account names, which
//! would otherwise be shown unmasked everywhere a key's name is.

use std::borrow::Cow;

use crate::error::{Error, Result};

/// What replaces a key.
pub const REDACTED: &str = "sk-or-[REDACTED]";

const MARK: &[u8] = b"sk-or-";

/// Key characters after the `sk-or-` mark from which a run counts as a key.
const MIN_SECRET_CHARS: usize = 8;

fn is_key_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// Masks every key-shaped run in `s` (see the module docs). Borrowed when nothing changed.
pub fn redact(s: &str) -> Cow<'_, str> {
    let bytes = s.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0; // bytes of `s` already accounted for in `out`
    let mut i = 0;
    while i + MARK.len() <= bytes.len() {
        if !bytes[i..i + MARK.len()].eq_ignore_ascii_case(MARK) {
            i += 1;
            continue;
        }
        let after = i + MARK.len();
        let n = bytes[after..]
            .iter()
            .take_while(|b| is_key_char(**b))
            .count();
        if n >= MIN_SECRET_CHARS {
            let o = out.get_or_insert_with(|| String::with_capacity(s.len()));
            // `i` and `after + n` sit on ASCII bytes, so both are char boundaries.
            o.push_str(&s[copied..i]);
            o.push_str(REDACTED);
            copied = after + n;
        }
        i = after + n;
    }
    match out {
        None => Cow::Borrowed(s),
        Some(mut o) => {
            o.push_str(&s[copied..]);
            Cow::Owned(o)
        }
    }
}

/// Whether `s` holds key material: a key-shaped run, or a 64-hex run (a key body pasted
/// without its prefix).
pub fn is_key_shaped(s: &str) -> bool {
    if matches!(redact(s), Cow::Owned(_)) {
        return true;
    }
    let mut run = 0;
    for b in s.bytes() {
        if b.is_ascii_hexdigit() {
            run += 1;
            if run >= 64 {
                return true;
            }
        } else {
            run = 0;
        }
    }
    false
}

/// Refuses a label or account name that holds a key: it would be stored and shown unmasked.
/// `what` names the field in the sentence (`label`, `account`).
pub fn check_label(what: &str, value: &str) -> Result<()> {
    if is_key_shaped(value) {
        return Err(Error::Usage(format!(
            "that {what} looks like an API key; labels and account names are shown everywhere \
             unmasked, so give a plain name (the key itself is read from standard input)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A made-up key of the real shape (64 hex after the prefix).
    const K: &str = "sk-or-v1-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"; // fake test key

    /// One table: input → what a person sees.
    #[test]
    fn the_table() {
        let body = &K["sk-or-v1-".len()..];
        let upper = K.to_ascii_uppercase();
        let cases: Vec<(String, String)> = vec![
            (K.into(), REDACTED.into()),
            (format!("Bearer {K}"), format!("Bearer {REDACTED}")),
            (
                format!("no key has the id {K:?}; see keys list"),
                format!("no key has the id \"{REDACTED}\"; see keys list"),
            ),
            (format!("x{K}y{K}"), format!("x{REDACTED}")),
            (
                format!("{K} and {K}."),
                format!("{REDACTED} and {REDACTED}."),
            ),
            (format!("«{K}»"), format!("«{REDACTED}»")),
            (upper.clone(), REDACTED.into()),
            ("sk-or-abcdefgh".into(), REDACTED.into()),
            ("sk-or-v1-".into(), "sk-or-v1-".into()),
            ("key sk-or-v1-…abcd".into(), "key sk-or-v1-…abcd".into()),
            ("sk-or-short".into(), "sk-or-short".into()),
            (
                "label sk-or-v1-4f2...9ab ok".into(),
                "label sk-or-v1-4f2...9ab ok".into(),
            ),
            ("nothing here".into(), "nothing here".into()),
            ("".into(), "".into()),
            ("sk-or".into(), "sk-or".into()),
            ("ünïcödé sk-or-".into(), "ünïcödé sk-or-".into()),
            (format!("hex {body}"), format!("hex {body}")),
        ];
        for (input, want) in cases {
            assert_eq!(redact(&input), want, "input {input:?}");
        }
    }

    #[test]
    fn unchanged_text_is_borrowed() {
        assert!(matches!(redact("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn key_shaped_labels_are_refused() {
        for bad in [K, &K[9..], "my sk-or-v1-abcdef123456 key"] {
            let err = check_label("label", bad).unwrap_err();
            assert_eq!(err.exit_code(), 2);
            assert!(!err.to_string().contains(&K[12..20]), "{err}");
        }
        for ok in ["work", "sk-or-v1-…abcd", "team a", "0123456789abcdef"] {
            check_label("label", ok).unwrap();
        }
    }
}
