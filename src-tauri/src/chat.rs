//! One R1 answer in a thread: the thread's history becomes the request, the dispatcher runs
//! it (cache → reserve → send → complete, fallbacks and retries in the core), every stream
//! event goes to the web view over a Channel, and both messages are saved in the thread.

use keywheel_core::dispatch::{Job, Kind, Outcome, Progress};
use keywheel_core::openrouter::{ChatRequest, Message, StreamEvent, failure_sentence};
use keywheel_core::{Error, Result};

use crate::dto::{ChatEvent, ChatMessage, Role, Thread};
use crate::error::IpcError;
use crate::state::AppState;

/// Sends `prompt` in thread `thread_id`; `emit` hears the stream. The answer (or the error,
/// or what arrived before Stop) is saved in the thread and returned.
pub async fn send(
    state: &AppState,
    thread_id: &str,
    prompt: String,
    emit: impl Fn(ChatEvent),
) -> Result<ChatMessage> {
    if prompt.trim().is_empty() {
        return Err(Error::BadInput(
            "the message is empty; type a question first".into(),
        ));
    }
    keywheel_core::input::check_prompt(&prompt, "the message")?;
    let mut thread = state.threads.get(thread_id)?;
    // Unlocks the thread however this ends: an error below (`?`) or a panic included.
    let answering = state.threads.begin(thread_id)?;
    if thread.messages.is_empty() {
        thread.title = title(&prompt);
    }
    thread.messages.push(message(Role::User, prompt));
    save(state, &mut thread)?;

    let chain = state.chains().chat;
    let job = Job {
        kind: Kind::Chat,
        request: request(&thread, &chain),
        models: state.chains().chat_choice(),
        stream: true,
        use_cache: state.pool.settings().cache_chat,
    };
    let mut partial = Partial::default();
    let result = state
        .dispatcher
        .run(job, |p| partial.on(&p, &emit), answering.token())
        .await;
    drop(answering);

    let reply = match result {
        Ok(outcome) => answer(outcome),
        Err(Error::Cancelled) => ChatMessage {
            stopped: true,
            ..partial.into_message()
        },
        Err(e) => ChatMessage {
            error: Some(IpcError::from(e).into()),
            ..partial.into_message()
        },
    };
    thread.messages.push(reply.clone());
    save(state, &mut thread)?;
    Ok(reply)
}

fn save(state: &AppState, thread: &mut Thread) -> Result<()> {
    thread.updated_at = state.pool.now().to_rfc3339();
    state.threads.save(thread)
}

/// The whole conversation so far (answers without their reasoning, as R1 expects).
fn request(thread: &Thread, chain: &[String]) -> ChatRequest {
    let mut req = ChatRequest::text(chain[0].clone(), "");
    req.models = chain[1..].to_vec();
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

fn title(prompt: &str) -> String {
    let line = prompt.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let mut t: String = line.trim().chars().take(60).collect();
    if line.trim().chars().count() > 60 {
        t.push('…');
    }
    t
}

fn message(role: Role, content: String) -> ChatMessage {
    ChatMessage {
        role,
        content,
        reasoning: None,
        model: None,
        key_id: None,
        cached: false,
        stopped: false,
        error: None,
        at: keywheel_core::clock::system_now().to_rfc3339(),
        notes: Vec::new(),
    }
}

fn answer(o: Outcome) -> ChatMessage {
    ChatMessage {
        reasoning: (!o.reasoning.is_empty()).then_some(o.reasoning),
        model: o.model,
        key_id: o.key_id.map(|k| k.to_string()),
        cached: o.cached,
        notes: o.notes,
        ..message(Role::Assistant, o.content)
    }
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
    fn on(&mut self, p: &Progress<'_>, emit: &impl Fn(ChatEvent)) {
        let event = match p {
            Progress::Stream(StreamEvent::Reasoning(t)) => {
                self.reasoning.push_str(t);
                ChatEvent::Reasoning { text: t.clone() }
            }
            Progress::Stream(StreamEvent::Content(t)) => {
                self.content.push_str(t);
                ChatEvent::Content { text: t.clone() }
            }
            Progress::Stream(StreamEvent::Meta { model, .. }) => {
                self.model = model.clone().or(self.model.take());
                return;
            }
            Progress::Stream(_) => return,
            Progress::Note(n) => {
                self.notes.push(n.to_string());
                ChatEvent::Note {
                    message: n.to_string(),
                }
            }
            // Not shown in the chat: the running request count.
            Progress::Sent { .. } => return,
            Progress::Retry {
                attempt,
                reason,
                wait,
            } => {
                self.content.clear();
                self.reasoning.clear();
                ChatEvent::Retry {
                    attempt: *attempt,
                    wait_ms: wait.as_millis() as u64,
                    reason: failure_sentence(reason),
                }
            }
            Progress::Fallback { from, to, reason } => ChatEvent::Fallback {
                from: from.to_string(),
                to: to.to_string(),
                reason: failure_sentence(reason),
            },
            Progress::Waiting { wait } => ChatEvent::Waiting {
                wait_ms: wait.as_millis() as u64,
            },
            Progress::Alert(a) => ChatEvent::Alert {
                message: a.message.clone(),
            },
        };
        emit(event);
    }

    fn into_message(self) -> ChatMessage {
        ChatMessage {
            reasoning: (!self.reasoning.is_empty()).then_some(self.reasoning),
            model: self.model,
            notes: self.notes,
            ..message(Role::Assistant, self.content)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            messages: vec![message(Role::User, "a".into())],
        };
        t.messages.push(ChatMessage {
            error: Some(crate::dto::IpcErrorRecord {
                code: "upstream".into(),
                message: "down".into(),
            }),
            ..message(Role::Assistant, String::new())
        });
        t.messages.push(message(Role::User, "b".into()));
        let req = request(&t, &["deepseek/deepseek-r1:free".into(), "x/y".into()]);
        assert_eq!(req.model, "deepseek/deepseek-r1:free");
        assert_eq!(req.models, vec!["x/y".to_string()]);
        assert_eq!(req.messages.len(), 2);
    }
}
