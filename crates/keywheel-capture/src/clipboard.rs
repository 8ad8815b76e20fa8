//! The clipboard, through `arboard`: an image in (as PNG bytes), text out.
//!
//! On X11 (and Wayland) a clipboard's content lives in the program that set it: when that
//! program exits, the content is gone. [`write_text`] keeps it for as long as the calling
//! process runs (enough for the desktop app). A short-lived program (the `keywheel` CLI's
//! `--copy`) uses [`write_text_detached`] instead: it starts `program` again as a small holder
//! process ([`HOLD_ARG`]), hands it the text on standard input, and returns once the holder
//! owns the clipboard. The holder serves the text until another program takes the clipboard
//! over, then exits, as `xclip` does. The program's `main` must call [`hold_if_asked`] first.
//!
//! The holder starts with an empty environment plus the few variables a display connection
//! needs ([`HOLDER_ENV`]); its command line is `program __keywheel-clipboard-hold`, so no key
//! or secret can reach it.

use std::io::{BufRead, BufReader, Cursor, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use crate::screen::Captured;

/// The first argument that turns a program into the clipboard holder (see [`hold_if_asked`]).
pub const HOLD_ARG: &str = "__keywheel-clipboard-hold";

/// The only environment variables the holder process gets: what connecting to the display
/// needs (`HOME` for the default `~/.Xauthority`).
pub const HOLDER_ENV: &[&str] = &[
    "DISPLAY",
    "XAUTHORITY",
    "WAYLAND_DISPLAY",
    "XDG_RUNTIME_DIR",
    "XDG_SESSION_TYPE",
    "HOME",
];

/// The most text the holder takes (the longest answer a model can give is smaller).
pub const MAX_TEXT_BYTES: u64 = 64 << 20;

/// How long [`write_text_detached`] waits for the holder to own the clipboard.
const READY_WAIT: Duration = Duration::from_secs(10);

/// Why the clipboard could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ClipboardError {
    /// The clipboard holds no image (it is empty, or holds text or files).
    #[error(
        "the clipboard holds no image; copy an image first (e.g. a screenshot, or \"Copy image\" in a browser)"
    )]
    NoImage,
    /// No clipboard can be reached (no display, or the clipboard service refused).
    #[error("the clipboard cannot be reached: {0}")]
    Unavailable(String),
    /// Reading or writing failed once the clipboard was reached.
    #[error("the clipboard operation failed: {0}")]
    Failed(String),
}

fn unavailable(e: arboard::Error) -> ClipboardError {
    let hint =
        if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
            " (neither DISPLAY nor WAYLAND_DISPLAY is set: run this inside a desktop session)"
        } else {
            ""
        };
    ClipboardError::Unavailable(format!("{e}{hint}"))
}

/// Reads the image on the clipboard as PNG bytes (RGBA); [`ClipboardError::NoImage`] when it
/// holds none.
pub fn read_image() -> Result<Captured, ClipboardError> {
    let mut cb = arboard::Clipboard::new().map_err(unavailable)?;
    let img = match cb.get_image() {
        Ok(img) => img,
        Err(arboard::Error::ContentNotAvailable) => return Err(ClipboardError::NoImage),
        Err(arboard::Error::ConversionFailure) => {
            return Err(ClipboardError::Failed(
                "the image on the clipboard could not be decoded".into(),
            ));
        }
        Err(e) => return Err(ClipboardError::Failed(e.to_string())),
    };
    let (width, height) = (img.width as u32, img.height as u32);
    let rgba =
        image::RgbaImage::from_raw(width, height, img.bytes.into_owned()).ok_or_else(|| {
            ClipboardError::Failed(format!(
                "the clipboard's {width}×{height} image is incomplete"
            ))
        })?;
    let mut png = Vec::new();
    rgba.write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| ClipboardError::Failed(format!("could not encode it as PNG ({e})")))?;
    Ok(Captured { png, width, height })
}

/// The clipboard this process keeps, so that what it wrote stays served while it runs.
static KEPT: Mutex<Option<arboard::Clipboard>> = Mutex::new(None);

/// Puts `text` on the clipboard; it stays there while this process runs (or until another
/// program takes the clipboard over). A program about to exit wants [`write_text_detached`].
pub fn write_text(text: &str) -> Result<(), ClipboardError> {
    let mut kept = KEPT.lock().unwrap_or_else(|p| p.into_inner());
    if kept.is_none() {
        *kept = Some(arboard::Clipboard::new().map_err(unavailable)?);
    }
    let cb = kept.as_mut().expect("set above");
    cb.set_text(text)
        .map_err(|e| ClipboardError::Failed(e.to_string()))
}

/// Puts `text` on the clipboard and keeps it there after this process exits: `program`
/// (normally `std::env::current_exe()`, whose `main` calls [`hold_if_asked`]) is started as a
/// holder with [`HOLD_ARG`], a minimal environment ([`HOLDER_ENV`]) and the text on its
/// standard input. Returns once the holder owns the clipboard.
pub fn write_text_detached(text: &str, program: &Path) -> Result<(), ClipboardError> {
    if text.len() as u64 > MAX_TEXT_BYTES {
        return Err(ClipboardError::Failed(format!(
            "the text is {} bytes, more than the {} MiB the clipboard holder takes",
            text.len(),
            MAX_TEXT_BYTES >> 20
        )));
    }
    let mut cmd = Command::new(program);
    cmd.arg(HOLD_ARG)
        .env_clear()
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for name in HOLDER_ENV {
        if let Some(v) = std::env::var_os(name) {
            cmd.env(name, v);
        }
    }
    // Its own process group: a Ctrl+C meant for the caller's terminal does not reach it.
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd.spawn().map_err(|e| {
        ClipboardError::Failed(format!(
            "could not start the clipboard holder {} ({e})",
            program.display()
        ))
    })?;
    let mut stdin = child.stdin.take().expect("piped");
    let stdout = child.stdout.take().expect("piped");
    let write = stdin.write_all(text.as_bytes());
    drop(stdin);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = match rx.recv_timeout(READY_WAIT) {
        Ok(line) => line,
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(ClipboardError::Failed(format!(
                "the clipboard holder did not take the clipboard within {} s",
                READY_WAIT.as_secs()
            )));
        }
    };
    match line.trim_end() {
        "ready" => {
            // Reap it when it ends, so that it does not linger as a zombie while we run.
            std::thread::spawn(move || child.wait());
            Ok(())
        }
        other => {
            let _ = child.wait();
            if let Err(e) = write {
                return Err(ClipboardError::Failed(format!(
                    "could not hand the text to the clipboard holder ({e})"
                )));
            }
            Err(match other.strip_prefix("error: ") {
                Some(why) => ClipboardError::Unavailable(why.to_string()),
                None => ClipboardError::Failed(
                    "the clipboard holder stopped before it took the clipboard".into(),
                ),
            })
        }
    }
}

/// Call first in `main`: when this process was started as the clipboard holder (its first
/// argument is [`HOLD_ARG`]), serves the text from standard input on the clipboard until
/// another program takes it over and returns the exit code; otherwise returns `None` at once.
pub fn hold_if_asked() -> Option<i32> {
    if std::env::args_os().nth(1).as_deref() != Some(std::ffi::OsStr::new(HOLD_ARG)) {
        return None;
    }
    let mut out = std::io::stdout();
    let mut say = |line: &str| {
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    };
    let mut text = String::new();
    if let Err(e) = std::io::stdin()
        .take(MAX_TEXT_BYTES)
        .read_to_string(&mut text)
    {
        say(&format!("error: the text to copy could not be read ({e})"));
        return Some(1);
    }
    let mut cb = match arboard::Clipboard::new() {
        Ok(cb) => cb,
        Err(e) => {
            say(&format!("error: {}", unavailable(e)));
            return Some(1);
        }
    };
    if let Err(e) = cb.set_text(text.as_str()) {
        say(&format!("error: {e}"));
        return Some(1);
    }
    say("ready");
    Some(serve(&mut cb, &text))
}

/// Keeps serving `text` until another program owns the clipboard.
#[cfg(target_os = "linux")]
fn serve(cb: &mut arboard::Clipboard, text: &str) -> i32 {
    use arboard::SetExtLinux;
    // When the X server goes away, nothing will ever take the clipboard over: a connection
    // of our own sees the server go, and ends this process.
    if let Ok((conn, _)) = x11rb::connect(None) {
        std::thread::spawn(move || {
            use x11rb::connection::Connection;
            while conn.wait_for_event().is_ok() {}
            std::process::exit(0);
        });
    }
    // Setting the same text again re-asserts ownership and blocks until it is taken over.
    match cb.set().wait().text(text) {
        Ok(()) => 0,
        Err(_) => 1,
    }
}

/// Elsewhere the system keeps the clipboard's content after its writer exits.
#[cfg(not(target_os = "linux"))]
fn serve(_cb: &mut arboard::Clipboard, _text: &str) -> i32 {
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_holder_environment_names_display_variables_only() {
        for name in HOLDER_ENV {
            assert!(
                !name.starts_with("OPENROUTER_") && !name.starts_with("KEYWHEEL_"),
                "{name}"
            );
        }
    }

    #[test]
    fn a_process_not_started_as_holder_goes_on() {
        assert_eq!(hold_if_asked(), None);
    }
}
