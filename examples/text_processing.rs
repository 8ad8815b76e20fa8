//! Text processing with R1 through the key pool: a short text is sent for analysis (main claim,
//! tone, key terms, one weak point) as a streamed chat job; the model's reasoning is printed
//! as it arrives, dimmed and prefixed with `┊`, apart from the answer that follows it.
//!
//! Run offline (the default):
//!
//! ```text
//! cargo run -p keywheel-core --example text_processing              # the paragraph below
//! cargo run -p keywheel-core --example text_processing -- notes.txt # a file of your own
//! ```
//!
//! Without `OPENROUTER_API_KEYS` the example starts `keywheel-mock` in-process on 127.0.0.1,
//! uses two made-up keys and a temporary ledger, and says so on stderr; the "analysis" is then
//! the mock's canned echo. With `OPENROUTER_API_KEYS=sk-or-v1-…[,sk-or-v1-…]` set it asks
//! OpenRouter for real (one request from your free quota), counting it in your normal ledger
//! (or the one in `KEYWHEEL_DATA_DIR`); the OS keychain is not used either way.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;

use keywheel_core::dispatch::{Dispatcher, Job, Kind, Outcome, Progress};
use keywheel_core::keys::OsKeychain;
use keywheel_core::openrouter::{CancelToken, ChatRequest, StreamEvent};
use keywheel_core::pool::{Pool, PoolOptions};
use keywheel_core::{Error, Result, SystemClock};
use keywheel_testkit::backend::Backend;

/// Analysed when no file is given.
const SAMPLE: &str = "Remote work did not kill the office; it killed the commute as the organising \
fact of the working day. Teams that thrived after 2020 were not the ones with the best video \
software but the ones that wrote things down: decisions, reasons, and who owns what. Writing is \
slower than talking, yet it scales across time zones and survives people leaving. The open \
question is whether junior staff, who used to learn by overhearing, can learn as well from a \
well-kept document as from the desk next to a senior colleague.";

const DIM: &str = "\x1b[2m";
const RESET: &str = "\x1b[0m";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("text_processing: {e}");
            ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(1))
        }
    }
}

fn run() -> Result<()> {
    let text = match std::env::args_os().nth(1) {
        Some(path) => std::fs::read_to_string(&path)
            .map_err(|e| Error::io(format!("could not read {}", path.to_string_lossy()), e))?,
        None => SAMPLE.to_string(),
    };
    if text.trim().is_empty() {
        return Err(Error::BadInput(
            "the text is empty; give a file with something to analyse".into(),
        ));
    }

    // Real OpenRouter when keys are in the environment, keywheel-mock otherwise.
    let backend = Backend::choose(&["3f", "a7"])?;
    backend.announce(
        "asking",
        "one request from your quota",
        "the answer is the mock's canned text",
    );
    let pool = Pool::open(PoolOptions {
        settings: backend.settings.clone(),
        clock: Arc::new(SystemClock),
        store: Arc::new(OsKeychain::disabled()),
        env_keys: Some(backend.keys.clone()),
    })?;
    for w in pool.warnings() {
        eprintln!("{w}");
    }

    let chain = pool.settings().chat_models.clone();
    let prompt = format!(
        "Analyse the text below. Answer in four short labelled lines: Claim (its main claim in one \
         sentence), Tone, Key terms (three), Weak point (the one the author leaves open).\n\n---\n{}\n---",
        text.trim()
    );
    // No model named: the configured chain, resolved against the catalogue at run time.
    let request = ChatRequest::text("", prompt);
    let job = Job {
        kind: Kind::Chat,
        request,
        models: keywheel_core::chains::ModelChoice::Default,
        stream: true,
        use_cache: false,
    };

    let instance = Arc::new(pool.start_instance("example")?);
    eprintln!(
        "instance {} adopted key {} (rotated at start: {}); preferred models: {}",
        instance.id(),
        instance
            .key()
            .map_or("(none)".to_string(), |k| k.to_string()),
        if instance.adoption().rotated {
            "yes"
        } else {
            "no"
        },
        chain.join(" → ")
    );
    let dispatcher = Dispatcher::new(instance)?;

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("could not start the async runtime", e))?;
    let cancel = CancelToken::new();
    let mut printer = Printer::new();
    let outcome = rt.block_on(async {
        let stop = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                stop.cancel();
            }
        });
        dispatcher.run(job, |p| printer.on(p), &cancel).await
    });
    printer.end();
    let outcome = outcome?;
    eprintln!("{}", summary(&outcome));
    drop(backend); // stops the mock (if any) and removes the temporary ledger
    Ok(())
}

/// Prints the stream: reasoning dimmed and prefixed, then the answer under its own heading.
struct Printer {
    color: bool,
    section: Section,
    line_start: bool,
}

#[derive(PartialEq)]
enum Section {
    None,
    Reasoning,
    Answer,
}

impl Printer {
    fn new() -> Self {
        let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        Self {
            color,
            section: Section::None,
            line_start: true,
        }
    }

    fn on(&mut self, p: Progress<'_>) {
        match p {
            Progress::Stream(StreamEvent::Reasoning(t)) if !t.is_empty() => {
                if self.section != Section::Reasoning {
                    self.close();
                    println!("reasoning:");
                    self.section = Section::Reasoning;
                    self.line_start = true;
                }
                let mut out = String::new();
                for ch in t.chars() {
                    if self.line_start {
                        out.push_str("  ┊ ");
                        self.line_start = false;
                    }
                    out.push(ch);
                    self.line_start = ch == '\n';
                }
                let (on, off) = if self.color { (DIM, RESET) } else { ("", "") };
                print!("{on}{out}{off}");
                let _ = std::io::stdout().flush();
            }
            Progress::Stream(StreamEvent::Content(t)) if !t.is_empty() => {
                if self.section != Section::Answer {
                    self.close();
                    println!("answer:");
                    self.section = Section::Answer;
                }
                print!("{t}");
                let _ = std::io::stdout().flush();
            }
            Progress::Retry {
                attempt,
                reason,
                wait,
            } => {
                self.close();
                self.section = Section::None;
                eprintln!(
                    "(retrying: {reason}; attempt {attempt} in {:.1} s; the partial output above is discarded)",
                    wait.as_secs_f64()
                );
            }
            Progress::Fallback { from, to, reason } => {
                self.close();
                self.section = Section::None;
                eprintln!(
                    "(key {from} cannot serve: {}; falling back to key {to})",
                    reason.class
                );
            }
            Progress::Waiting { wait } => {
                eprintln!(
                    "(at the per-minute cap; waiting {:.1} s for a slot)",
                    wait.as_secs_f64()
                );
            }
            _ => {}
        }
    }

    /// Ends the current section with a newline (and a blank line between sections).
    fn close(&mut self) {
        if self.section != Section::None {
            println!("\n");
        }
    }

    fn end(&mut self) {
        if self.section != Section::None {
            println!();
        }
        self.section = Section::None;
    }
}

fn summary(o: &Outcome) -> String {
    let key = o
        .key_id
        .as_ref()
        .map_or("the cache".to_string(), |k| format!("key {k}"));
    let tokens = o.usage.as_ref().map_or(String::new(), |u| {
        let cost = u.cost.map_or(String::new(), |c| format!(", ${c:.6}"));
        format!(
            ", {} prompt + {} completion tokens ({} reasoning){cost}",
            u.prompt_tokens, u.completion_tokens, u.reasoning_tokens
        )
    });
    format!(
        "— answered by {} with {key}{tokens}; {} attempt(s), {} fallback(s), {} ms",
        o.model.as_deref().unwrap_or("?"),
        o.attempts,
        o.fallbacks,
        o.latency_ms
    )
}
