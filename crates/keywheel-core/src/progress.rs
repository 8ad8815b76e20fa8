//! Progress notes: what a person hears while a job runs (a retry, a key fallback, a wait for
//! a per-minute slot, an alert, a sentence about the models, a tile read locally instead).
//!
//! One rule for every face and every stream: a note is a structured [`Notice`] that carries
//! its sentence ([`Note`]). The core writes the sentence once (`Display` for [`Notice`]); the
//! CLI prints it, the app sends the [`Note`] over its Channel (chat and OCR alike) and the web
//! view shows `sentence` as it is.

use std::fmt;

use serde::Serialize;

use crate::dispatch::Progress;
use crate::openrouter::FailureClass;

/// What happened, structured.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Notice {
    /// The request is sent again after a failure; partial streamed output is discarded.
    Retry {
        /// The attempt about to start.
        attempt: u32,
        /// How long it waits first, in milliseconds.
        wait_ms: u64,
        /// The failure's class.
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        class: FailureClass,
        /// The failure (class, HTTP status, OpenRouter's words).
        reason: String,
    },
    /// The instance moved to another key.
    Fallback {
        /// From this key id.
        from: String,
        /// To this key id.
        to: String,
        /// Why the first key cannot serve.
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        class: FailureClass,
    },
    /// Waiting for a per-minute slot (no request, no charge).
    Waiting {
        /// How long, in milliseconds.
        wait_ms: u64,
    },
    /// An alert fired.
    Alert {
        /// Its sentence.
        message: String,
    },
    /// A sentence about the models (which one answers and why, one no longer offered).
    Note {
        /// The sentence.
        message: String,
    },
    /// No model can read it now; the local engine reads it instead.
    Local {
        /// Why no model reads it.
        reason: String,
    },
}

/// Seconds with one decimal, as the notes show waits: `1.5 s`.
fn secs(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

impl fmt::Display for Notice {
    /// The sentence (what `keywheel` prints after `keywheel: `).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Notice::Retry {
                attempt,
                wait_ms,
                reason,
                ..
            } => write!(
                f,
                "{reason}; retrying (attempt {attempt}) in {:.1} s",
                secs(*wait_ms)
            ),
            Notice::Fallback { from, to, class } => write!(
                f,
                "key {from} cannot serve ({class}); falling back to key {to}"
            ),
            Notice::Waiting { wait_ms } => write!(
                f,
                "at the per-minute cap; waiting {:.1} s for a slot",
                secs(*wait_ms)
            ),
            Notice::Alert { message } => write!(f, "alert: {message}"),
            Notice::Note { message } => f.write_str(message),
            Notice::Local { reason } => {
                write!(f, "{reason}; reading it with {}", crate::ocr::LOCAL_LABEL)
            }
        }
    }
}

impl Progress<'_> {
    /// The note a person hears for this event; `None` for stream pieces and request counts.
    pub fn notice(&self) -> Option<Notice> {
        Some(match self {
            Progress::Retry {
                attempt,
                reason,
                wait,
            } => Notice::Retry {
                attempt: *attempt,
                wait_ms: u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                class: reason.class,
                reason: reason.to_string(),
            },
            Progress::Fallback { from, to, reason } => Notice::Fallback {
                from: from.to_string(),
                to: to.to_string(),
                class: reason.class,
            },
            Progress::Waiting { wait } => Notice::Waiting {
                wait_ms: u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            },
            Progress::Alert(a) => Notice::Alert {
                message: a.message.clone(),
            },
            Progress::Note(n) => Notice::Note {
                message: n.to_string(),
            },
            Progress::Stream(_) | Progress::Sent { .. } | Progress::Answered(_) => return None,
        })
    }
}

impl fmt::Display for Progress<'_> {
    /// The note's sentence ([`Progress::notice`]); nothing for stream pieces and counts.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.notice() {
            Some(n) => n.fmt(f),
            None => Ok(()),
        }
    }
}

/// A notice with its sentence: what a stream sends to a face.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Note {
    /// What happened.
    #[serde(flatten)]
    pub notice: Notice,
    /// The image (and part) it is about, in an OCR batch (`scan.png (part 2 of 3)`).
    pub about: Option<String>,
    /// The sentence to show: the notice, after `about: ` when there is one.
    pub sentence: String,
}

impl Note {
    /// A note about the whole job.
    pub fn new(notice: Notice) -> Self {
        Note {
            sentence: notice.to_string(),
            notice,
            about: None,
        }
    }

    /// A note about one image or tile.
    pub fn about(notice: Notice, about: String) -> Self {
        Note {
            sentence: format!("{about}: {notice}"),
            notice,
            about: Some(about),
        }
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.sentence)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_read_as_the_cli_printed_them() {
        let retry = Notice::Retry {
            attempt: 2,
            wait_ms: 1500,
            class: FailureClass::RateLimited,
            reason: "rate_limited (HTTP 429): slow down".into(),
        };
        assert_eq!(
            retry.to_string(),
            "rate_limited (HTTP 429): slow down; retrying (attempt 2) in 1.5 s"
        );
        let fallback = Notice::Fallback {
            from: "k1".into(),
            to: "k2".into(),
            class: FailureClass::KeyInvalid,
        };
        assert_eq!(
            fallback.to_string(),
            "key k1 cannot serve (key_invalid); falling back to key k2"
        );
        assert_eq!(
            Notice::Waiting { wait_ms: 20_000 }.to_string(),
            "at the per-minute cap; waiting 20.0 s for a slot"
        );
        assert_eq!(
            Notice::Alert {
                message: "Key Work has 5 requests left.".into()
            }
            .to_string(),
            "alert: Key Work has 5 requests left."
        );
    }

    #[test]
    fn a_note_carries_its_sentence_next_to_its_fields() {
        let n = Note::about(
            Notice::Waiting { wait_ms: 2000 },
            "scan.png (part 1 of 2)".into(),
        );
        assert_eq!(
            serde_json::to_value(&n).unwrap(),
            serde_json::json!({
                "type": "waiting", "wait_ms": 2000, "about": "scan.png (part 1 of 2)",
                "sentence": "scan.png (part 1 of 2): at the per-minute cap; waiting 2.0 s for a slot"
            })
        );
        let plain = Note::new(Notice::Note {
            message: "DeepSeek R1 is a paid model on OpenRouter".into(),
        });
        assert_eq!(plain.sentence, "DeepSeek R1 is a paid model on OpenRouter");
    }
}
