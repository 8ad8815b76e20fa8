//! Logging: `tracing` to daily rolling JSON-lines files in `<data dir>/logs/` (kept for
//! `log_retention` days) and, when `KEYWHEEL_LOG` is set, human-readable lines on stderr.
//!
//! Redaction cannot be forgotten: every byte any layer writes passes through
//! [`RedactingWriter`], which masks anything shaped like an OpenRouter key (`sk-or-` followed by
//! key characters) whatever field or message it is in. The panic hook logs through the same
//! path, so a panic message never carries a key either.

use std::io::{self, Write};

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::prelude::*;
use tracing_subscriber::{EnvFilter, fmt};

use crate::clock::{SharedClock, day_key};
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::keys::redact;

/// What replaces a key's secret part.
pub use crate::keys::REDACTED;

/// A writer that redacts keys from everything written through it.
#[derive(Debug)]
pub struct RedactingWriter<W>(pub W);

impl<W: Write> Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.0.write_all(redact(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// Wraps a [`MakeWriter`] so every writer it makes redacts.
#[derive(Debug, Clone)]
pub struct Redacting<M>(pub M);

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Redacting<M> {
    type Writer = RedactingWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter(self.0.make_writer())
    }
}

/// Keeps the log writer alive; drop it at exit to flush.
#[derive(Debug)]
pub struct Telemetry {
    _guard: WorkerGuard,
    /// Where the log files are.
    pub log_dir: std::path::PathBuf,
}

/// Daily log files `keywheel.YYYY-MM-DD.jsonl`, switched by the injected clock's UTC day,
/// keeping the newest `retention` files. (Our own roller rather than
/// `tracing_appender::rolling`, because that one reads the system clock and so cannot be tested
/// across a day boundary; writes still go through `tracing_appender::non_blocking`.)
#[derive(Debug)]
pub struct DailyFiles {
    dir: PathBuf,
    clock: SharedClock,
    retention: usize,
    current: Mutex<Option<(String, File)>>,
}

impl DailyFiles {
    /// Log files in `dir`, dated by `clock`, keeping `retention` of them.
    pub fn new(dir: &Path, clock: SharedClock, retention: usize) -> Self {
        Self {
            dir: dir.to_path_buf(),
            clock,
            retention: retention.max(1),
            current: Mutex::new(None),
        }
    }

    /// The file name for a UTC day.
    pub fn file_name(day: &str) -> String {
        format!("keywheel.{day}.jsonl")
    }

    fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        let day = day_key(self.clock.now());
        let mut cur = self
            .current
            .lock()
            .map_err(|_| io::Error::other("log lock poisoned"))?;
        if cur.as_ref().is_none_or(|(d, _)| *d != day) {
            // 0600 whatever the umask: logs name files and models (crate::private).
            let file = crate::private::open_append(&self.dir.join(Self::file_name(&day)))?;
            *cur = Some((day, file));
            self.prune();
        }
        let (_, file) = cur.as_mut().expect("opened above");
        file.write_all(buf)
    }

    /// Removes the oldest log files beyond the retention.
    fn prune(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut logs: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("keywheel.") && n.ends_with(".jsonl"))
            })
            .collect();
        logs.sort();
        let excess = logs.len().saturating_sub(self.retention);
        for old in &logs[..excess] {
            let _ = std::fs::remove_file(old);
        }
    }
}

/// A `Write` handle on [`DailyFiles`].
#[derive(Debug, Clone)]
pub struct DailyWriter(pub Arc<DailyFiles>);

impl Write for DailyWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Starts logging for a process (`component` is `cli`, `app`, …). Call once.
pub fn init(settings: &Settings, clock: SharedClock, component: &str) -> Result<Telemetry> {
    let log_dir = settings.data_dir.join("logs");
    // The data dir and its logs/ are 0700 (this may run before the ledger creates the dir).
    crate::private::create_private_dir(&settings.data_dir)
        .and_then(|()| crate::private::create_private_dir(&log_dir))
        .map_err(|e| {
            Error::io(
                format!("could not create the log directory {}", log_dir.display()),
                e,
            )
        })?;
    let files = DailyWriter(Arc::new(DailyFiles::new(
        &log_dir,
        clock,
        settings.log_retention,
    )));
    let (file, guard) = tracing_appender::non_blocking(files);
    let file_filter = EnvFilter::try_new(&settings.log).unwrap_or_else(|_| EnvFilter::new("info"));
    let file_layer = fmt::layer()
        .json()
        .with_writer(Redacting(file))
        .with_filter(file_filter);
    let stderr_layer = std::env::var("KEYWHEEL_LOG")
        .ok()
        .filter(|v| !v.is_empty())
        .map(|v| {
            fmt::layer()
                .with_writer(Redacting(io::stderr))
                .with_target(false)
                .with_filter(EnvFilter::try_new(v).unwrap_or_else(|_| EnvFilter::new("info")))
        });
    let _ = tracing_subscriber::registry()
        .with(file_layer)
        .with(stderr_layer)
        .try_init();
    install_panic_hook(component.to_string());
    tracing::info!(component, version = env!("CARGO_PKG_VERSION"), "started");
    Ok(Telemetry {
        _guard: guard,
        log_dir,
    })
}

/// Logs panics (redacted) and prints a redacted sentence instead of the default message.
fn install_panic_hook(component: String) {
    std::panic::set_hook(Box::new(move |info| {
        let payload = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        let payload = redact(&payload).into_owned();
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!(component = %component, location = %location, "panic: {payload}");
        let _ = writeln!(
            io::stderr(),
            "keywheel: internal error ({payload}) at {location}; please report it"
        );
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: &str = "sk-or-v1-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd";

    /// What a line becomes through [`RedactingWriter`] (the redaction itself is
    /// [`crate::keys::redact`], tested by its own table).
    fn written(line: &str) -> String {
        let mut out = Vec::new();
        RedactingWriter(&mut out)
            .write_all(line.as_bytes())
            .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn keys_are_masked_anywhere_in_a_line() {
        let line = format!("{{\"msg\":\"Bearer {K}\",\"other\":\"x{K}y\"}}");
        let out = written(&line);
        assert!(!out.contains(&K[9..25]), "{out}");
        assert_eq!(out.matches(REDACTED).count(), 2);
    }

    #[test]
    fn masked_forms_and_plain_text_are_untouched() {
        for s in ["key sk-or-v1-…abcd", "nothing here", "sk-or-short"] {
            assert_eq!(written(s), s);
        }
    }

    #[test]
    fn files_roll_by_the_clock_day_and_old_ones_go() {
        use crate::clock::FakeClock;
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(FakeClock::at(2026, 11, 20, 23, 0, 0));
        let mut w = DailyWriter(Arc::new(DailyFiles::new(dir.path(), clock.clone(), 3)));
        for _ in 0..5 {
            writeln!(w, "a line").unwrap();
            clock.advance(chrono::Duration::hours(24));
        }
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "keywheel.2026-11-22.jsonl",
                "keywheel.2026-11-23.jsonl",
                "keywheel.2026-11-24.jsonl"
            ],
            "one file per UTC day, the 3 newest kept"
        );
    }

    #[test]
    fn the_writer_redacts_what_passes_through() {
        let mut w = RedactingWriter(Vec::new());
        writeln!(w, "token={K}").unwrap();
        let s = String::from_utf8(w.0).unwrap();
        assert_eq!(s, format!("token={REDACTED}\n"));
    }
}
