//! Image to text: vision OCR to Markdown, run as resumable batch jobs with a quota plan, a
//! content-addressed cache and a local `tesseract` fallback (docs/pool.md §7).
//!
//! The steps, in order:
//!
//! 1. [`prepare_files`] reads and checks every file with `keywheel-vision` (format from the
//!    magic bytes, safe decoding, EXIF orientation, scaling to the model's 1120 px, tiling of
//!    tall images). One bad file stops the batch before anything is sent or reserved.
//! 2. [`Batch::plan`] turns each tile into a persisted job row (`ledger::jobs`), finds what is
//!    already done (an earlier run, or the shared response cache: free), and compares the
//!    requests still needed with the requests left today across usable keys and accounts
//!    ([`QuotaPlan`]). Tiles beyond the quota wait for the reset, or go to the local engine.
//! 3. [`Batch::run`] sends the tiles with bounded concurrency through the
//!    [`Dispatcher`](crate::dispatch::Dispatcher) (reserve → send → complete, key and model
//!    fallback, backoff). A tile that fails for good is marked failed; the others go on. The
//!    answers of an image's tiles are joined with [`keywheel_vision::join_markdown`].
//!
//! Running the same files again resumes: done tiles are read back from the job table, never
//! sent again; waiting, queued, failed and abandoned (`kill -9`) tiles are tried again.

mod batch;
mod local;
pub mod pdf;
mod plan;
pub mod queue;

use std::path::PathBuf;

pub use keywheel_vision::PrepOptions;
use keywheel_vision::{Prepared, PreparedImage};

use crate::error::{Error, Result};
use crate::openrouter::{ChatRequest, Message};

pub use batch::{Batch, ErrorClass, Event, ImageResult};
pub use local::{LOCAL_LABEL, tesseract_text};
pub use plan::QuotaPlan;

/// The instruction sent before each image.
pub const PROMPT: &str = "Transcribe all the text in this image as Markdown, faithfully and in reading order. \
Keep the structure: headings as Markdown headings, lists as lists, tables as Markdown tables, code and \
terminal output in fenced code blocks. Copy every word, number and symbol exactly as written; do not \
translate, correct, summarise or explain anything. Write [illegible] for text that cannot be read. \
Reply with the transcription only: no introduction, no comments, no description of the image. \
If the image has no text, reply with nothing.";

/// How a batch runs.
#[derive(Debug, Clone)]
pub struct OcrOptions {
    /// How the vision models are chosen (default: the configured chain, resolved against
    /// the catalogue).
    pub models: crate::chains::ModelChoice,
    /// How many requests may be in flight at once (at least 1).
    pub concurrency: usize,
    /// Hand tiles that no key can serve (none configured, all spent, upstream down) to the
    /// local engine (`tesseract`) instead of leaving them queued.
    pub local_fallback: bool,
    /// Look in and fill the shared response cache.
    pub use_cache: bool,
}

/// One file, read and made ready.
#[derive(Debug, Clone)]
pub struct Input {
    /// The file's name as given.
    pub file: String,
    /// The prepared image: one or more tiles.
    pub prepared: Prepared,
    /// The caller's own id for this input, opaque to the core: every [`Event::Finished`] and
    /// [`ImageResult`] of it carries it back (0 unless set with [`Input::with_caller_id`]).
    pub caller_id: u64,
}

impl Input {
    /// A prepared image named `file` (what the person sees).
    pub fn new(file: impl Into<String>, prepared: Prepared) -> Self {
        Self {
            file: file.into(),
            prepared,
            caller_id: 0,
        }
    }

    /// The same input tagged with the caller's own id.
    pub fn with_caller_id(self, caller_id: u64) -> Self {
        Self { caller_id, ..self }
    }
}

/// Reads and prepares every file; if any cannot be used, fails with [`Error::BadInput`] naming
/// each bad file (nothing is sent, nothing reserved).
pub fn prepare_files(paths: &[PathBuf], opts: &PrepOptions) -> Result<Vec<Input>> {
    if paths.is_empty() {
        return Err(Error::Usage(
            "name at least one image file, e.g. `keywheel ocr receipt.png`".into(),
        ));
    }
    let mut inputs = Vec::with_capacity(paths.len());
    let mut bad = Vec::new();
    for path in paths {
        // A multi-page TIFF gives one input per page, each its own job (keyed by page).
        let read = keywheel_vision::prepare_path(path, opts).and_then(|first| {
            if first.source_format != keywheel_vision::Format::Tiff {
                return Ok(vec![first]);
            }
            match std::fs::read(path) {
                Ok(bytes) => {
                    keywheel_vision::prepare_pages(&path.display().to_string(), &bytes, opts)
                }
                Err(_) => Ok(vec![first]),
            }
        });
        match read {
            Ok(pages) => inputs.extend(
                pages
                    .into_iter()
                    .map(|prepared| Input::new(path.display().to_string(), prepared)),
            ),
            Err(e) => bad.push(e.to_string()),
        }
    }
    match bad.len() {
        0 => Ok(inputs),
        1 => Err(Error::BadInput(format!("{} Nothing was sent.", bad[0]))),
        n => Err(Error::BadInput(format!(
            "{n} of {} files cannot be used, so nothing was sent:\n  {}",
            paths.len(),
            bad.join("\n  ")
        ))),
    }
}

/// Prepares one image from its bytes (pasted, picked or dropped in the app); `name` is what
/// the person sees. A file that cannot be used fails with [`Error::BadInput`] naming it.
pub fn prepare_bytes(name: &str, bytes: &[u8], opts: &PrepOptions) -> Result<Input> {
    keywheel_vision::prepare(name, bytes, opts)
        .map(|prepared| Input::new(name, prepared))
        .map_err(|e| Error::BadInput(format!("{e} Nothing was sent.")))
}

/// The request for one tile: the prompt first, then the image; `chain` as `model` + `models`.
pub fn request(tile: &PreparedImage, chain: &[String]) -> ChatRequest {
    let mut text = PROMPT.to_string();
    if tile.of > 1 {
        text.push_str(&format!(
            " This image is part {} of {} of a taller page, cut into overlapping horizontal bands; \
             transcribe only what this part shows.",
            tile.index + 1,
            tile.of
        ));
    }
    let model = chain.first().cloned().unwrap_or_default();
    ChatRequest::new(
        model,
        vec![Message::user_with_image(text, tile.data_url.clone())],
    )
    .with_fallbacks(chain.iter().skip(1).cloned())
    .with_temperature(0.0)
    .with_reasoning(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_puts_the_text_first_and_carries_the_chain() {
        let tile = PreparedImage {
            data_url: "data:image/png;base64,AAAA".into(),
            encoded: vec![0, 0, 0],
            mime: "image/png",
            width: 1,
            height: 1,
            bytes: 3,
            index: 1,
            of: 3,
            region: keywheel_vision::Region {
                x: 0,
                y: 0,
                width: 1,
                height: 1,
            },
        };
        let req = request(&tile, &["a".into(), "b".into()]);
        let v = serde_json::to_value(&req).unwrap();
        assert_eq!(v["model"], "a");
        assert_eq!(v["models"], serde_json::json!(["b"]));
        let parts = &v["messages"][0]["content"];
        assert_eq!(parts[0]["type"], "text");
        assert!(parts[0]["text"].as_str().unwrap().contains("part 2 of 3"));
        assert_eq!(parts[1]["image_url"]["url"], "data:image/png;base64,AAAA");
    }
}
