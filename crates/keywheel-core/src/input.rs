//! Bounds on what a person hands us: a prompt is UTF-8 text of at most [`MAX_PROMPT_BYTES`];
//! a day count is 1 to [`MAX_DAYS`].
//! The CLI (`keywheel ask`, including `-` for standard input), the app's chat box and the
//! gateway check here, before any key is reserved, so a bad prompt spends nothing.

use std::io::Read;

use crate::error::{Error, Result};

/// The largest prompt accepted, in bytes (1 MiB: several times what any chat model's context
/// holds, so a real question never meets it).
pub const MAX_PROMPT_BYTES: usize = 1024 * 1024;

/// Refuses a prompt longer than [`MAX_PROMPT_BYTES`]; `source` names where it came from
/// ("standard input", "the message").
pub fn check_prompt(prompt: &str, source: &str) -> Result<()> {
    check_len(prompt.len(), source)
}

/// Bytes to a prompt: at most [`MAX_PROMPT_BYTES`], and valid UTF-8.
pub fn prompt_from_bytes(bytes: Vec<u8>, source: &str) -> Result<String> {
    check_len(bytes.len(), source)?;
    String::from_utf8(bytes).map_err(|e| {
        Error::BadInput(format!(
            "the prompt from {source} is not UTF-8 text (invalid bytes at offset {}); \
             convert it first, e.g. with `iconv -t UTF-8`",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// Reads a prompt from `reader` without holding more than one byte over the limit in memory.
pub fn read_prompt(reader: impl Read, source: &str) -> Result<String> {
    let mut bytes = Vec::new();
    reader
        .take(MAX_PROMPT_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(format!("could not read the prompt from {source}"), e))?;
    prompt_from_bytes(bytes, source)
}

fn check_len(len: usize, source: &str) -> Result<()> {
    if len > MAX_PROMPT_BYTES {
        return Err(Error::BadInput(format!(
            "the prompt from {source} is over {} MiB; the limit is {} MiB — shorten it, or \
             split it into several questions",
            len / (1024 * 1024),
            MAX_PROMPT_BYTES / (1024 * 1024)
        )));
    }
    Ok(())
}

/// The most days a usage or alerts view asks for (as on the command line).
pub const MAX_DAYS: u32 = 366;

/// A day count a person asked for: 1 to [`MAX_DAYS`] (a huge one would take the date
/// arithmetic out of range).
pub fn check_days(days: u32) -> Result<u32> {
    if (1..=MAX_DAYS).contains(&days) {
        Ok(days)
    } else {
        Err(Error::Usage(format!(
            "{days} days is out of range; ask for 1 to {MAX_DAYS} days"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_counts_out_of_range_are_sentences() {
        assert_eq!(check_days(7).unwrap(), 7);
        for bad in [0, 367, u32::MAX] {
            let e = check_days(bad).unwrap_err();
            assert!(e.to_string().contains("out of range"), "{e}");
            assert_eq!(e.code(), crate::ErrorCode::Usage);
        }
    }

    #[test]
    fn prompts_at_the_limit_pass_and_beyond_it_fail_with_a_sentence() {
        let ok = "a".repeat(MAX_PROMPT_BYTES);
        assert!(check_prompt(&ok, "the message").is_ok());
        let big = vec![b'a'; MAX_PROMPT_BYTES + 1];
        let e = prompt_from_bytes(big, "standard input").unwrap_err();
        assert_eq!(e.exit_code(), 6);
        assert!(e.to_string().contains("limit is 1 MiB"), "{e}");
    }

    #[test]
    fn invalid_utf8_is_bad_input_naming_the_offset() {
        let e = prompt_from_bytes(b"ok \xff\xfe".to_vec(), "standard input").unwrap_err();
        assert_eq!(e.exit_code(), 6);
        assert!(e.to_string().contains("offset 3"), "{e}");
    }

    #[test]
    fn reading_stops_one_byte_past_the_limit() {
        let endless = std::io::repeat(b'x');
        let e = read_prompt(endless, "standard input").unwrap_err();
        assert!(e.to_string().contains("limit"), "{e}");
    }
}
