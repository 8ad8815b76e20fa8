//! Chat threads: a conversation with a model kept as one JSON file, shared by every face (the
//! app's chat view, `keywheel ask --thread ID`).
//!
//! - [`Threads`] (store.rs): the thread folder, atomic whole-file saves, timestamps from the
//!   injected clock, and one answer at a time per thread ([`Answering`]).
//! - [`send`]: one turn — the question is saved, the thread's history becomes the request
//!   ([`request`]), the dispatcher runs it (cache → reserve → send → complete, fallbacks and
//!   retries), and the answer (or what arrived before Stop, or the error) is saved.
//! - [`ChatEvent`] (event.rs): what a chat view hears meanwhile.

mod event;
mod store;

use serde::{Deserialize, Serialize};

use crate::chains::ModelChoice;
use crate::dispatch::{Dispatcher, Job, Kind, Outcome, Progress};
use crate::error::{Error, Result};
use crate::openrouter::{ChatRequest, Message, StreamEvent};

pub use event::ChatEvent;
pub use store::{Answering, Threads};

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The person.
    User,
    /// The model.
    Assistant,
}

/// One message of a thread.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ChatMessage {
    /// Author.
    pub role: Role,
    /// The text (Markdown for answers).
    pub content: String,
    /// R1's reasoning.
    pub reasoning: Option<String>,
    /// The model that answered.
    pub model: Option<String>,
    /// The key that paid.
    pub key_id: Option<String>,
    /// Served from the cache (no quota).
    #[serde(default)]
    pub cached: bool,
    /// Stopped by the person; `content` is what arrived.
    #[serde(default)]
    pub stopped: bool,
    /// Why there is no answer.
    pub error: Option<ErrorRecord>,
    /// When (RFC 3339).
    pub at: String,
    /// Sentences for the person about the models (which one answered and why).
    #[serde(default)]
    pub notes: Vec<String>,
}

impl ChatMessage {
    /// A plain message written at `at` (RFC 3339): no reasoning, model, key or notes yet.
    pub fn new(role: Role, content: String, at: String) -> Self {
        Self {
            role,
            content,
            reasoning: None,
            model: None,
            key_id: None,
            cached: false,
            stopped: false,
            error: None,
            at,
            notes: Vec::new(),
        }
    }
}

/// An error kept in a saved thread: its stable code and its sentence (redacted).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "IpcErrorRecord"))]
pub struct ErrorRecord {
    /// The code.
    pub code: String,
    /// The sentence.
    pub message: String,
}

impl From<&Error> for ErrorRecord {
    fn from(e: &Error) -> Self {
        let code = serde_json::to_value(e.code())
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        Self {
            code,
            // The one redactor: a sentence that quotes what a person typed never carries a key.
            message: crate::keys::redact(&e.to_string()).into_owned(),
        }
    }
}

/// A chat thread.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Thread {
    /// Id (file name).
    pub id: String,
    /// From the first question.
    pub title: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
    /// Oldest first.
    pub messages: Vec<ChatMessage>,
}

/// A thread as listed.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ThreadSummary {
    /// Id.
    pub id: String,
    /// Title.
    pub title: String,
    /// RFC 3339.
    pub updated_at: String,
    /// How many messages.
    pub messages: u32,
}

/// One question in a thread.
#[derive(Debug, Clone)]
pub struct Ask<'a> {
    /// The thread (it must exist: [`Threads::create`] or [`Threads::get_or_create`]).
    pub thread_id: &'a str,
    /// The question.
    pub prompt: String,
    /// The chain the request names (`model`, then `models`), first choice first; may be empty
    /// when `models` resolves it.
    pub chain: &'a [String],
    /// How the models are chosen.
    pub models: ModelChoice,
    /// Look in and fill the shared response cache.
    pub use_cache: bool,
}

/// A finished turn: the answer as saved in the thread, and how the request ended.
#[derive(Debug)]
pub struct Reply {
    /// The saved answer (or what arrived before Stop, or the error's record).
    pub message: ChatMessage,
    /// The outcome, or the error that ended the request (already saved in `message`).
    pub result: Result<Outcome>,
}

/// Asks `ask.prompt` in its thread; `on` hears every progress event. The question is saved
/// before anything is sent; the answer (or what arrived before Stop, or the error) is saved
/// after. Fails before saving anything for an empty or oversized question, an unknown thread
/// or a thread that is still answering.
pub async fn send(
    threads: &Threads,
    dispatcher: &Dispatcher,
    ask: Ask<'_>,
    mut on: impl FnMut(Progress<'_>),
) -> Result<Reply> {
    let Ask {
        thread_id,
        prompt,
        chain,
        models,
        use_cache,
    } = ask;
    if prompt.trim().is_empty() {
        return Err(Error::BadInput(
            "the message is empty; type a question first".into(),
        ));
    }
    crate::input::check_prompt(&prompt, "the message")?;
    let mut thread = threads.get(thread_id)?;
    // Unlocks the thread however this ends: an error below (`?`) or a panic included.
    let answering = threads.begin(thread_id)?;
    if thread.messages.is_empty() {
        thread.title = title(&prompt);
    }
    thread.messages.push(threads.message(Role::User, prompt));
    threads.touch(&mut thread)?;

    let job = Job {
        kind: Kind::Chat,
        request: request(&thread, chain),
        models,
        stream: true,
        use_cache,
    };
    let mut partial = Partial::default();
    let result = dispatcher
        .run(
            job,
            |p| {
                partial.on(&p);
                on(p);
            },
            answering.token(),
        )
        .await;
    drop(answering);

    let message = match &result {
        Ok(outcome) => ChatMessage {
            reasoning: (!outcome.reasoning.is_empty()).then(|| outcome.reasoning.clone()),
            model: outcome.model.clone(),
            key_id: outcome.key_id.as_ref().map(|k| k.to_string()),
            cached: outcome.cached,
            notes: outcome.notes.clone(),
            ..threads.message(Role::Assistant, outcome.content.clone())
        },
        Err(Error::Cancelled) => ChatMessage {
            stopped: true,
            ..partial.into_message(threads)
        },
        Err(e) => ChatMessage {
            error: Some(e.into()),
            ..partial.into_message(threads)
        },
    };
    thread.messages.push(message.clone());
    threads.touch(&mut thread)?;
    Ok(Reply { message, result })
}

/// The whole conversation so far as one request (answers without their reasoning, as R1
/// expects; failed answers left out), naming `chain` as `model` + `models`.
pub fn request(thread: &Thread, chain: &[String]) -> ChatRequest {
    let mut req = ChatRequest::text(chain.first().cloned().unwrap_or_default(), "");
    req.models = chain.iter().skip(1).cloned().collect();
    req.messages = thread
        .messages
        .iter()
        .filter(|m| m.error.is_none() && !m.content.is_empty())
        .map(|m| match m.role {
            Role::User => Message::user(m.content.clone()),
            Role::Assistant => Message::assistant(m.content.clone()),
        })
        .collect();
    req
}

/// A thread's title: the first non-blank line of its first question, at most 60 characters.
pub fn title(prompt: &str) -> String {
    let line = prompt.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let mut t: String = line.trim().chars().take(60).collect();
    if line.trim().chars().count() > 60 {
        t.push('…');
    }
    t
}

/// What streamed so far (kept if the person stops, or the request fails).
#[derive(Default)]
struct Partial {
    content: String,
    reasoning: String,
    model: Option<String>,
    notes: Vec<String>,
}

impl Partial {
    fn on(&mut self, p: &Progress<'_>) {
        match p {
            Progress::Stream(StreamEvent::Reasoning(t)) => self.reasoning.push_str(t),
            Progress::Stream(StreamEvent::Content(t)) => self.content.push_str(t),
            Progress::Stream(StreamEvent::Meta { model, .. }) => {
                self.model = model.clone().or(self.model.take());
            }
            Progress::Note(n) => self.notes.push(n.to_string()),
            // A retry starts the answer again.
            Progress::Retry { .. } => {
                self.content.clear();
                self.reasoning.clear();
            }
            _ => {}
        }
    }

    fn into_message(self, threads: &Threads) -> ChatMessage {
        ChatMessage {
            reasoning: (!self.reasoning.is_empty()).then_some(self.reasoning),
            model: self.model,
            notes: self.notes,
            ..threads.message(Role::Assistant, self.content)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(role: Role, content: &str) -> ChatMessage {
        ChatMessage::new(role, content.into(), String::new())
    }

    #[test]
    fn titles_come_from_the_first_line_and_are_short() {
        assert_eq!(title("\n  What is 2+2?\nmore"), "What is 2+2?");
        let long = "x".repeat(80);
        assert_eq!(title(&long).chars().count(), 61);
    }

    #[test]
    fn history_skips_failed_answers_and_keeps_order() {
        let mut t = Thread {
            id: "t".into(),
            title: String::new(),
            created_at: String::new(),
            updated_at: String::new(),
            messages: vec![message(Role::User, "a")],
        };
        t.messages.push(ChatMessage {
            error: Some(ErrorRecord {
                code: "upstream".into(),
                message: "down".into(),
            }),
            ..message(Role::Assistant, "")
        });
        t.messages.push(message(Role::User, "b"));
        let req = request(&t, &["deepseek/deepseek-r1:free".into(), "x/y".into()]);
        assert_eq!(req.model, "deepseek/deepseek-r1:free");
        assert_eq!(req.models, vec!["x/y".to_string()]);
        assert_eq!(req.messages.len(), 2);
        let unnamed = request(&t, &[]);
        assert!(unnamed.model.is_empty() && unnamed.models.is_empty());
    }

    #[test]
    fn a_retry_discards_what_streamed_and_notes_stay() {
        let dir = tempfile::tempdir().unwrap();
        let threads = Threads::open(
            dir.path().join("chats"),
            std::sync::Arc::new(crate::FakeClock::at(2026, 3, 1, 12, 0, 0)),
        )
        .unwrap();
        let mut p = Partial::default();
        p.on(&Progress::Stream(&StreamEvent::Content("half".into())));
        p.on(&Progress::Note("R1 is paid"));
        let failure = crate::openrouter::ApiFailure::new(
            crate::openrouter::FailureClass::BadRequest,
            "reset",
        );
        p.on(&Progress::Retry {
            attempt: 2,
            reason: &failure,
            wait: std::time::Duration::ZERO,
        });
        p.on(&Progress::Stream(&StreamEvent::Content("whole".into())));
        let m = p.into_message(&threads);
        assert_eq!(m.content, "whole");
        assert_eq!(m.notes, ["R1 is paid"]);
        assert_eq!(m.at, "2026-03-01T12:00:00+00:00", "the injected clock");
    }

    #[test]
    fn an_error_record_keeps_the_code_and_loses_any_key() {
        let key = format!("sk-or-v1-{}", "0f".repeat(32));
        let r = ErrorRecord::from(&Error::Usage(format!("no key has the id {key:?}")));
        assert_eq!(r.code, "usage");
        assert!(!r.message.contains(&key[12..]), "{}", r.message);
    }
}
