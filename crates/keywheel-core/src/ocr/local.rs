//! The local OCR engine: the `tesseract` command, for when no key can serve (none configured,
//! all spent, OpenRouter unreachable). Its results are labelled [`LOCAL_LABEL`]; it spends no
//! quota and sends nothing over the network.

use std::process::Stdio;
use std::time::Duration;

use keywheel_vision::PreparedImage;
use tokio::io::AsyncWriteExt;

use crate::error::{Error, Result};

/// How results of the local engine are labelled.
pub const LOCAL_LABEL: &str = "local OCR (tesseract)";

/// What to install when `tesseract` is missing.
pub const INSTALL_HINT: &str = "tesseract is not installed, so images cannot be read locally; install it with `apt install tesseract-ocr tesseract-ocr-eng` (macOS: `brew install tesseract`)";

/// The longest one local OCR may take.
const TIMEOUT: Duration = Duration::from_secs(120);

/// Runs `tesseract stdin -` with the prepared image's bytes ([`PreparedImage::encoded`]; no
/// data URL is decoded back) on its standard input (no temporary file another user could read
/// or swap) and a cleaned environment (no keys; see [`crate::child`]), and returns its text,
/// trimmed. A missing `tesseract` gives [`Error::ToolMissing`] with the install command.
pub async fn tesseract_text(tile: &PreparedImage) -> Result<String> {
    if tile.encoded.is_empty() {
        return Err(Error::BadInput("the prepared image has no bytes".into()));
    }
    run(tile.encoded.clone()).await
}

async fn run(image: Vec<u8>) -> Result<String> {
    let mut cmd = tokio::process::Command::new("tesseract");
    crate::child::without_secrets(cmd.as_std_mut());
    let child = cmd
        .arg("stdin")
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::ToolMissing(INSTALL_HINT.into()));
        }
        Err(e) => return Err(Error::io("could not start tesseract", e)),
    };
    // Written while tesseract runs; it reads the whole image before it prints anything. A
    // write error (tesseract exited early) shows up as its exit status below.
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let feed = tokio::spawn(async move {
        let _ = stdin.write_all(&image).await;
        let _ = stdin.shutdown().await;
    });
    let out = match tokio::time::timeout(TIMEOUT, child.wait_with_output()).await {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => return Err(Error::io("tesseract failed", e)),
        Err(_) => {
            return Err(Error::Upstream(format!(
                "tesseract took longer than {} s and was stopped",
                TIMEOUT.as_secs()
            )));
        }
    };
    let _ = feed.await;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        let why = why
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no message")
            .trim();
        return Err(Error::Upstream(format!(
            "tesseract could not read the image ({}: {why})",
            out.status
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}
