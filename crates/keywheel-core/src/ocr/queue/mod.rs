//! The queue of images waiting to be read, as the desktop app keeps it (one per window):
//! staging, each image prepared once, names unique in the queue, the results by image, one
//! batch at a time.
//!
//! Bytes reach the queue in two ways: a file the operating system handed over (a dropped
//! path, [`Queue::stage_path`], regular files only) and the bytes of a pasted or picked file
//! ([`Queue::stage`]). A caller refers to an image only by the id it got back; that id goes
//! into the batch as the input's caller id ([`Input::caller_id`]) and comes back on every
//! event and result ([`OcrEvent`], [`OcrResult`]), so no file name is ever mapped back to an
//! image. A file that cannot be used is kept with its reason, named when a batch is planned.
//! PDFs become one item per page ([`Queue::stage_pdf`], `pdf.rs`).

mod dropped;
mod pdf;
#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::Mutex;

use serde::Serialize;

use super::{Batch, Event, ImageResult, Input, OcrOptions, PrepOptions, QuotaPlan};
use crate::cancel::CancelToken;
use crate::dispatch::Dispatcher;
use crate::error::{Error, Result};
use crate::ledger::jobs::JobStatus;
use crate::pool::Pool;
use crate::progress::Note;

pub use dropped::Dropped;
pub use pdf::{PdfStaged, TEXT_LAYER_LABEL, is_pdf_file, page_plan_sentence};

/// The largest file accepted (a phone photo is ~5 MB; a scanned page ~20 MB).
pub const MAX_BYTES: usize = 40 * 1024 * 1024;

/// An image waiting to be read (its bytes stay in the queue).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StagedImage {
    /// Handle for the other OCR commands.
    pub id: u32,
    /// The name shown (unique in the queue).
    pub name: String,
    /// Size in bytes.
    pub bytes: u64,
}

/// The quota plan before a batch.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct OcrPlan {
    /// The numbers.
    pub plan: QuotaPlan,
    /// The plan in one sentence.
    pub sentence: String,
}

/// What streams while a batch of queued images runs.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OcrEvent {
    /// A tile reached its state for this run.
    Tile {
        /// The staged image.
        id: u32,
        /// The tile, from 0.
        tile: u32,
        /// Tiles in the image.
        of: u32,
        /// Its status.
        status: JobStatus,
        /// Read by the local engine.
        local: bool,
        /// No quota spent for it.
        free: bool,
    },
    /// An image finished (its result).
    Image {
        /// The staged image.
        id: u32,
        /// Its result.
        result: ImageResult,
    },
    /// A retry, a fallback, a wait, a tile read locally: the core's note with its sentence.
    #[serde(untagged)]
    Progress(Note),
}

/// One image's result.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct OcrResult {
    /// The staged image.
    pub id: u32,
    /// Its result.
    pub result: ImageResult,
}

#[derive(Debug)]
struct Staged {
    name: String,
    /// Size of the staged file.
    bytes: u64,
    /// The image made ready for the model, or why it cannot be used.
    prepared: std::result::Result<Input, String>,
    result: Option<ImageResult>,
}

/// The queue: images in staging order, each under an id that is never reused.
#[derive(Debug, Default)]
pub struct Queue {
    inner: Mutex<Items>,
    running: Mutex<Option<CancelToken>>,
}

#[derive(Debug, Default)]
struct Items {
    next: u32,
    items: Vec<(u32, Staged)>,
}

impl Queue {
    /// Adds an image's bytes under `name` (made unique in the queue) and prepares it.
    pub fn stage(&self, name: &str, bytes: Vec<u8>) -> Result<StagedImage> {
        let name = clean_name(name);
        if bytes.is_empty() {
            return Err(Error::BadInput(format!(
                "`{name}` is empty; pick the image file itself"
            )));
        }
        if bytes.len() > MAX_BYTES {
            return Err(too_big(&name, bytes.len() as u64));
        }
        let (id, name) = {
            let mut q = self.inner.lock().expect("queue lock");
            let name = unique(&q, &name);
            q.next += 1;
            let id = q.next;
            // Held by its name until prepared, so a second image of that name gets another.
            let held = Staged {
                name: name.clone(),
                bytes: bytes.len() as u64,
                prepared: Err(format!(
                    "`{name}` is still being prepared; try again in a moment."
                )),
                result: None,
            };
            q.items.push((id, held));
            (id, name)
        };
        // Prepared outside the lock: decoding and scaling take a while.
        let prepared = super::prepare_bytes(&name, &bytes, &PrepOptions::default())
            .map(|input| input.with_caller_id(u64::from(id)))
            .map_err(|e| e.to_string());
        let mut q = self.inner.lock().expect("queue lock");
        if let Some((_, s)) = q.items.iter_mut().find(|(i, _)| *i == id) {
            s.prepared = prepared;
        }
        Ok(StagedImage {
            id,
            name,
            bytes: bytes.len() as u64,
        })
    }

    /// Stages a page already made ready (a rendered PDF page, `input`), or already read
    /// (`result`: a page read from its text layer, with nothing to send); `bytes` is the size
    /// shown.
    pub fn stage_page(
        &self,
        name: &str,
        input: Option<Input>,
        result: Option<ImageResult>,
        bytes: u64,
    ) -> StagedImage {
        let mut q = self.inner.lock().expect("queue lock");
        let name = unique(&q, &clean_name(name));
        q.next += 1;
        let id = q.next;
        let prepared = match input {
            Some(i) => Ok(Input {
                file: name.clone(),
                ..i
            }
            .with_caller_id(u64::from(id))),
            None => Err(format!(
                "`{name}` was read from its text layer; there is nothing to send"
            )),
        };
        q.items.push((
            id,
            Staged {
                name: name.clone(),
                bytes,
                prepared,
                result,
            },
        ));
        StagedImage { id, name, bytes }
    }

    /// Reads a dropped file (a path from the OS drag-drop event, never from a web view).
    /// Only regular files are read: a folder, a device (`/dev/zero`), a pipe or a socket is
    /// refused at once, without being opened for a blocking read; at most [`MAX_BYTES`] + 1
    /// bytes are ever read. Call it off the UI thread (a slow disk still takes time).
    pub fn stage_path(&self, path: &Path) -> Result<StagedImage> {
        use std::io::Read;
        use std::os::unix::fs::OpenOptionsExt;

        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "image".into());
        let name = clean_name(&name);
        let cant = |e| Error::io(format!("could not read the dropped file `{name}`"), e);
        let regular = |meta: &std::fs::Metadata| -> Result<()> {
            if meta.is_dir() {
                return Err(Error::BadInput(format!(
                    "`{name}` is a folder; drop the image files themselves"
                )));
            }
            if !meta.is_file() {
                return Err(Error::BadInput(format!(
                    "`{name}` is not a regular file (a device, a pipe or a socket); drop image \
                     files only"
                )));
            }
            if meta.len() > MAX_BYTES as u64 {
                return Err(too_big(&name, meta.len()));
            }
            Ok(())
        };
        // stat first: it opens nothing, so a FIFO cannot block us here.
        regular(&std::fs::metadata(path).map_err(cant)?)?;
        // Non-blocking open, then check the file we actually opened (the path may have been
        // swapped for a pipe in between).
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .map_err(cant)?;
        regular(&file.metadata().map_err(cant)?)?;
        let mut bytes = Vec::new();
        file.take(MAX_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(cant)?;
        if bytes.len() > MAX_BYTES {
            return Err(too_big(&name, bytes.len() as u64));
        }
        self.stage(&name, bytes)
    }

    /// The queue, in staging order.
    pub fn list(&self) -> Vec<StagedImage> {
        let q = self.inner.lock().expect("queue lock");
        q.items
            .iter()
            .map(|(id, s)| StagedImage {
                id: *id,
                name: s.name.clone(),
                bytes: s.bytes,
            })
            .collect()
    }

    /// Removes an image from the queue.
    pub fn remove(&self, id: u32) -> Result<()> {
        let mut q = self.inner.lock().expect("queue lock");
        let before = q.items.len();
        q.items.retain(|(i, _)| *i != id);
        if q.items.len() == before {
            return Err(unknown(id));
        }
        Ok(())
    }

    /// The prepared images `ids`, for a batch (nothing is sent; a bad file fails the call
    /// naming it, and nothing is reserved).
    pub fn inputs(&self, ids: &[u32]) -> Result<Vec<Input>> {
        if ids.is_empty() {
            return Err(Error::Usage(
                "no images to read; drop, paste or choose some first".into(),
            ));
        }
        let q = self.inner.lock().expect("queue lock");
        let mut out = Vec::with_capacity(ids.len());
        let mut bad = Vec::new();
        for id in ids {
            let (_, s) = q
                .items
                .iter()
                .find(|(i, _)| i == id)
                .ok_or_else(|| unknown(*id))?;
            match &s.prepared {
                Ok(input) => out.push(input.clone()),
                Err(e) => bad.push(e.clone()),
            }
        }
        drop(q);
        match bad.len() {
            0 => Ok(out),
            1 => Err(Error::BadInput(format!(
                "{} Remove it from the queue and try again.",
                bad[0]
            ))),
            n => Err(Error::BadInput(format!(
                "{n} images cannot be used, so nothing was sent: {} Remove them and try again.",
                bad.join(" ")
            ))),
        }
    }

    /// Keeps an image's latest result.
    pub fn set_result(&self, id: u32, result: ImageResult) {
        let mut q = self.inner.lock().expect("queue lock");
        if let Some((_, s)) = q.items.iter_mut().find(|(i, _)| *i == id) {
            s.result = Some(result);
        }
    }

    /// An image's name and its Markdown, if it was read.
    pub fn text(&self, id: u32) -> Result<(String, String)> {
        let q = self.inner.lock().expect("queue lock");
        let (_, s) = q
            .items
            .iter()
            .find(|(i, _)| *i == id)
            .ok_or_else(|| unknown(id))?;
        let text = s
            .result
            .as_ref()
            .and_then(|r| r.text.clone())
            .ok_or_else(|| Error::Usage(format!("`{}` has no text yet; read it first", s.name)))?;
        Ok((s.name.clone(), text))
    }

    /// Marks a batch as running; fails if one already is (one batch at a time per queue).
    pub fn begin(&self) -> Result<CancelToken> {
        let mut running = self.running.lock().expect("running lock");
        if running.is_some() {
            return Err(Error::Usage(
                "a batch is already running; wait for it or cancel it first".into(),
            ));
        }
        let token = CancelToken::new();
        *running = Some(token.clone());
        Ok(token)
    }

    /// Marks the batch as finished.
    pub fn end(&self) {
        *self.running.lock().expect("running lock") = None;
    }

    /// Cancels the running batch (tiles already read stay read).
    pub fn cancel(&self) {
        if let Some(t) = self.running.lock().expect("running lock").as_ref() {
            t.cancel();
        }
    }

    /// The batch that would read `ids` (spends nothing).
    pub fn plan(&self, pool: &Pool, ids: &[u32], opts: OcrOptions) -> Result<Batch> {
        Batch::plan(pool, self.inputs(ids)?, opts)
    }

    /// What a batch of `ids` would do, in numbers and one sentence (spends nothing).
    pub fn quota(&self, pool: &Pool, ids: &[u32], opts: OcrOptions) -> Result<OcrPlan> {
        let batch = self.plan(pool, ids, opts)?;
        Ok(OcrPlan {
            plan: batch.quota().clone(),
            sentence: batch.quota().sentence(),
        })
    }

    /// Reads `ids` (one batch at a time: [`Queue::begin`] refuses a second, [`Queue::cancel`]
    /// stops it); `emit` hears each tile and each finished image, under its staged id. Each
    /// image keeps its result, so a retry re-reads only what is not done (finished tiles come
    /// back from the ledger for free). The dispatcher is used only if a tile is to be sent.
    pub async fn read(
        &self,
        pool: &Pool,
        dispatcher: &Dispatcher,
        ids: &[u32],
        opts: OcrOptions,
        emit: impl Fn(OcrEvent) + Sync,
    ) -> Result<Vec<OcrResult>> {
        let batch = self.plan(pool, ids, opts)?;
        let cancel = self.begin()?;
        let on = |e: Event<'_>| match e {
            Event::Finished {
                caller_id,
                tile,
                of,
                status,
                local,
                free,
                ..
            } => emit(OcrEvent::Tile {
                id: staged_id(caller_id),
                tile: tile as u32,
                of: of as u32,
                status,
                local,
                free,
            }),
            Event::Note(note) => emit(OcrEvent::Progress(note)),
        };
        let dispatcher = batch.sends().then_some(dispatcher);
        let results = batch.run(dispatcher, &on, &cancel).await;
        self.end();
        let out = results?
            .into_iter()
            .map(|result| {
                let id = staged_id(result.caller_id);
                self.set_result(id, result.clone());
                emit(OcrEvent::Image {
                    id,
                    result: result.clone(),
                });
                OcrResult { id, result }
            })
            .collect();
        Ok(out)
    }
}

/// The staged image a caller id names (the core hands back the id each input was given).
fn staged_id(caller_id: u64) -> u32 {
    u32::try_from(caller_id).unwrap_or_default()
}

/// `body` (the raw bytes of a pasted or picked file), if it is at most [`MAX_BYTES`] long:
/// checked before the bytes are copied anywhere.
pub fn within_limit<'a>(name: &str, body: &'a [u8]) -> Result<&'a [u8]> {
    if body.len() > MAX_BYTES {
        return Err(too_big(&clean_name(name), body.len() as u64));
    }
    Ok(body)
}

fn too_big(name: &str, len: u64) -> Error {
    Error::BadInput(format!(
        "`{name}` is {:.1} MB; the limit is {} MB — scale it down or crop it first",
        len as f64 / 1_048_576.0,
        MAX_BYTES / 1_048_576
    ))
}

fn unknown(id: u32) -> Error {
    Error::Usage(format!(
        "image #{id} is no longer in the queue; add it again"
    ))
}

/// A name safe to show and to use in a file name: no directories, no control characters.
fn clean_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let cleaned: String = base.chars().filter(|c| !c.is_control()).take(120).collect();
    let cleaned = cleaned.trim().to_string();
    if cleaned.is_empty() {
        "pasted image".into()
    } else {
        cleaned
    }
}

fn unique(q: &Items, name: &str) -> String {
    let taken = |n: &str| q.items.iter().any(|(_, s)| s.name == n);
    if !taken(name) {
        return name.to_string();
    }
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s.to_string(), format!(".{e}")),
        _ => (name.to_string(), String::new()),
    };
    (2..)
        .map(|n| format!("{stem} ({n}){ext}"))
        .find(|n| !taken(n))
        .expect("some suffix is free")
}
