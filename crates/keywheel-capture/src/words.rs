//! What a region capture is called and what it says: the queue name of a region read at a
//! moment, and the sentence after its text reached the clipboard.

use chrono::{DateTime, Utc};

/// The queue name of a region read at `now`: `screen-20261201-124305.png`.
pub fn region_name(now: DateTime<Utc>) -> String {
    format!("screen-{}.png", now.format("%Y%m%d-%H%M%S"))
}

/// The notification after a region's text reached the clipboard (`""`: nothing was copied).
pub fn copied_sentence(text: &str) -> String {
    let chars = text.chars().count();
    if chars == 0 {
        return "No text was found in the region; the clipboard is unchanged.".into();
    }
    let first: String = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default()
        .chars()
        .take(60)
        .collect();
    format!(
        "The region's text is on the clipboard ({chars} character{}): {first}",
        if chars == 1 { "" } else { "s" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_sentences_for_the_person() {
        let t = chrono::DateTime::parse_from_rfc3339("2026-12-01T12:43:05Z")
            .unwrap()
            .to_utc();
        assert_eq!(region_name(t), "screen-20261201-124305.png");
        let s = copied_sentence("\n  INVOICE 4711\nline two");
        assert!(s.contains("clipboard") && s.contains("INVOICE 4711"), "{s}");
        assert!(s.contains("24 characters"), "{s}");
        assert!(copied_sentence("").contains("No text"));
    }
}
