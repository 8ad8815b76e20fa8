//! `keywheel ask PROMPT|-`: one instance, one R1 question; the answer streams to stdout, the
//! reasoning dimmed to stderr; `--json` prints one document at the end. `--thread ID` asks in
//! a chat thread (the app's thread store, `keywheel_core::chat`): its history goes with the
//! question, and both are saved in it.

use std::io::{IsTerminal, Write};
use std::sync::Arc;

use keywheel_core::chains::ModelChoice;
use keywheel_core::chat::{self, Ask, Threads};
use keywheel_core::dispatch::{Dispatcher, Job, Kind, Outcome, Progress};
use keywheel_core::openrouter::{CancelToken, ChatRequest, StreamEvent};
use keywheel_core::pool::Pool;
use keywheel_core::{Error, Result};

use crate::cli::AskArgs;
use crate::output;

pub fn run(pool: &Pool, args: &AskArgs, json: bool) -> Result<()> {
    let prompt = read_prompt(&args.prompt)?;
    let models = if args.models.is_empty() {
        ModelChoice::Default
    } else {
        ModelChoice::Pinned(args.models.clone())
    };
    // The thread is found (or made) before anything is reserved: a bad id spends nothing.
    let thread = match &args.thread {
        Some(id) => {
            let threads = Threads::in_data_dir(&pool.settings().data_dir, pool.clock())?;
            let (_, created) = threads.get_or_create(id)?;
            if created {
                eprintln!("keywheel: a new thread `{id}`; continue it with `--thread {id}`");
            }
            Some((Arc::new(threads), id.clone()))
        }
        None => None,
    };

    let instance = Arc::new(pool.start_instance("cli")?);
    super::tell_adoption(&instance);
    let dispatcher = Dispatcher::new(instance)?;
    let mut printer = Printer {
        show_text: !json,
        show_reasoning: !json && !args.no_reasoning,
        ..Printer::default()
    };
    let cancel = CancelToken::new();
    let rt = super::runtime()?;
    let use_cache = pool.settings().cache_chat;
    let outcome = rt.block_on(async {
        let stop = cancel.clone();
        let stop_thread = thread.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                stop.cancel();
                if let Some((threads, id)) = stop_thread {
                    threads.stop(&id);
                }
            }
        });
        match &thread {
            // The thread's history goes with the question; both turns are saved in it.
            Some((threads, id)) => {
                let ask = Ask {
                    thread_id: id,
                    prompt,
                    chain: &args.models,
                    models,
                    use_cache,
                };
                let on = |p: Progress<'_>| printer.on(p);
                chat::send(threads, &dispatcher, ask, on).await?.result
            }
            None => {
                let mut request =
                    ChatRequest::text(args.models.first().cloned().unwrap_or_default(), prompt);
                request.models = args.models.iter().skip(1).cloned().collect();
                let job = Job {
                    kind: Kind::Chat,
                    request,
                    models,
                    stream: true,
                    use_cache,
                };
                dispatcher.run(job, |p| printer.on(p), &cancel).await
            }
        }
    })?;
    printer.end();
    if json {
        let mut doc = document(&outcome);
        if let Some((_, id)) = &thread {
            doc["thread"] = id.as_str().into();
        }
        output::json(&doc);
    } else {
        eprintln!("{}", summary(&outcome));
    }
    Ok(())
}

fn read_prompt(arg: &str) -> Result<String> {
    // Bounded and UTF-8 before anything is reserved (keywheel_core::input).
    let prompt = if arg == "-" {
        keywheel_core::input::read_prompt(std::io::stdin().lock(), "standard input")?
    } else {
        keywheel_core::input::check_prompt(arg, "the command line")?;
        arg.to_string()
    };
    if prompt.trim().is_empty() {
        return Err(Error::BadInput(
            "the prompt is empty; give a question, or `-` and pipe it in".into(),
        ));
    }
    Ok(prompt)
}

#[derive(Default)]
struct Printer {
    show_text: bool,
    show_reasoning: bool,
    in_reasoning: bool,
    wrote_content: bool,
    /// Model text loses terminal control sequences (unless `--raw`); one state per stream.
    content_filter: output::TerminalFilter,
    reasoning_filter: output::TerminalFilter,
}

const DIM: &str = "\x1b[2m";
const RESET: &str = "\x1b[0m";

impl Printer {
    fn on(&mut self, p: Progress<'_>) {
        let color = std::io::stderr().is_terminal();
        match p {
            Progress::Stream(StreamEvent::Reasoning(t)) if self.show_reasoning => {
                if !self.in_reasoning && color {
                    eprint!("{DIM}");
                }
                self.in_reasoning = true;
                eprint!("{}", self.reasoning_filter.push(t));
            }
            Progress::Stream(StreamEvent::Content(t)) if self.show_text => {
                self.close_reasoning(color);
                print!("{}", self.content_filter.push(t));
                let _ = std::io::stdout().flush();
                self.wrote_content |= !t.is_empty();
            }
            // Retries, fallbacks, waits, alerts, model notes: the core's sentence.
            p => {
                if let Some(note) = p.notice() {
                    self.close_reasoning(color);
                    eprintln!("keywheel: {note}");
                }
            }
        }
    }

    fn close_reasoning(&mut self, color: bool) {
        if self.in_reasoning {
            eprintln!("{}", if color { RESET } else { "" });
            self.in_reasoning = false;
        }
    }

    fn end(&mut self) {
        self.close_reasoning(std::io::stderr().is_terminal());
        if self.wrote_content {
            println!();
        }
    }
}

fn document(o: &Outcome) -> serde_json::Value {
    serde_json::json!({
        "key_id": o.key_id,
        "model": o.model,
        "text": o.content,
        "reasoning": o.reasoning,
        "usage": o.usage,
        "requests": o.requests(),
        "attempts": o.attempts,
        "notes": o.notes,
        "fallbacks": o.fallbacks,
        "cached": o.cached,
        "rotated": o.rotated,
        "latency_ms": o.latency_ms,
        "generation_id": o.generation_id,
    })
}

fn summary(o: &Outcome) -> String {
    let key = o
        .key_id
        .as_ref()
        .map_or("cache".to_string(), |k| format!("key {k}"));
    let model = o.model.as_deref().unwrap_or("?");
    let tokens = o.usage.as_ref().map_or(String::new(), |u| {
        let cost = u.cost.map_or(String::new(), |c| format!(" · ${c:.5}"));
        format!(
            " · {}+{} tokens ({} reasoning){cost}",
            u.prompt_tokens, u.completion_tokens, u.reasoning_tokens
        )
    });
    let cached = if o.cached {
        " · from cache, no quota spent"
    } else {
        ""
    };
    format!("— {model} · {key}{tokens} · {} ms{cached}", o.latency_ms)
}
