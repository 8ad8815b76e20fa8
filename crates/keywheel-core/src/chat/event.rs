//! What a chat view hears while a model answers: reasoning and answer text as they stream, and
//! the core's notes (retries, fallbacks, waits, alerts, model sentences) — the same structured
//! [`Note`] the OCR stream carries.

use serde::Serialize;

use crate::dispatch::Progress;
use crate::openrouter::StreamEvent;
use crate::progress::Note;

/// One event of a streamed answer.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChatEvent {
    /// More reasoning ("thinking").
    Reasoning {
        /// The new text.
        text: String,
    },
    /// More of the answer.
    Content {
        /// The new text.
        text: String,
    },
    /// A retry (discard what streamed so far), a key fallback, a wait, an alert, a sentence
    /// about the models: the core's structured note with its sentence, as the OCR stream
    /// sends it too.
    #[serde(untagged)]
    Progress(Note),
}

impl ChatEvent {
    /// What the chat view hears of a progress event (nothing of the running request count, nor
    /// of stream events other than text).
    pub fn from_progress(p: Progress<'_>) -> Option<Self> {
        Some(match p {
            Progress::Stream(StreamEvent::Reasoning(t)) => Self::Reasoning { text: t.clone() },
            Progress::Stream(StreamEvent::Content(t)) => Self::Content { text: t.clone() },
            // Retries, fallbacks, waits, alerts, model notes: the core's note and its sentence.
            p => Self::Progress(Note::new(p.notice()?)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::Notice;

    #[test]
    fn a_note_streams_as_its_own_event() {
        let e = ChatEvent::Progress(Note::new(Notice::Note {
            message: "DeepSeek R1 is a paid model on OpenRouter".into(),
        }));
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({"type": "note", "message": "DeepSeek R1 is a paid model on OpenRouter",
                               "about": null, "sentence": "DeepSeek R1 is a paid model on OpenRouter"})
        );
    }

    #[test]
    fn text_streams_and_counts_do_not() {
        let t = StreamEvent::Content("Hel".into());
        assert!(matches!(
            ChatEvent::from_progress(Progress::Stream(&t)),
            Some(ChatEvent::Content { text }) if text == "Hel"
        ));
        let r = StreamEvent::Reasoning("hm".into());
        assert!(matches!(
            ChatEvent::from_progress(Progress::Stream(&r)),
            Some(ChatEvent::Reasoning { .. })
        ));
        let n = ChatEvent::from_progress(Progress::Note("the R1 story")).unwrap();
        assert_eq!(
            serde_json::to_value(&n).unwrap()["sentence"],
            "the R1 story"
        );
    }
}
