//! Images waiting to be read. Their bytes reach the backend in exactly two ways: the native
//! drag-drop event (paths the OS handed us, read here) and the raw bytes of a pasted or picked
//! file. The web view never names a path; it refers to an image by the id it got back. Each
//! image is prepared once, when it is staged (a file that cannot be used is kept with its
//! reason, and named when a batch is planned); its id goes into the core as the input's
//! caller id and comes back on every event and result.

use std::path::Path;
use std::sync::Mutex;

use keywheel_core::ocr::{self, ImageResult, Input, PrepOptions};
use keywheel_core::openrouter::CancelToken;
use keywheel_core::{Error, Result};

use crate::dto::StagedImage;

/// The largest file accepted (a phone photo is ~5 MB; a scanned page ~20 MB).
pub const MAX_BYTES: usize = 40 * 1024 * 1024;

#[derive(Debug)]
struct Staged {
    name: String,
    /// Size of the staged file.
    bytes: u64,
    /// The image made ready for the model, or why it cannot be used.
    prepared: std::result::Result<Input, String>,
    result: Option<ImageResult>,
}

/// The queue shown in the OCR view.
#[derive(Debug, Default)]
pub struct Images {
    inner: Mutex<Queue>,
    running: Mutex<Option<CancelToken>>,
}

#[derive(Debug, Default)]
struct Queue {
    next: u32,
    items: Vec<(u32, Staged)>,
}

impl Images {
    /// Adds an image's bytes under `name` (made unique in the queue).
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
            let mut q = self.inner.lock().expect("images lock");
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
        let prepared = ocr::prepare_bytes(&name, &bytes, &PrepOptions::default())
            .map(|input| input.with_caller_id(u64::from(id)))
            .map_err(|e| e.to_string());
        let mut q = self.inner.lock().expect("images lock");
        if let Some((_, s)) = q.items.iter_mut().find(|(i, _)| *i == id) {
            s.prepared = prepared;
        }
        Ok(StagedImage {
            id,
            name,
            bytes: bytes.len() as u64,
        })
    }

    /// Stages a page the core already made ready (a rendered PDF page, `input`), or already
    /// read (`result`: a page read from its text layer, with nothing to send); `bytes` is the
    /// size shown. See `documents.rs`.
    pub fn stage_page(
        &self,
        name: &str,
        input: Option<Input>,
        result: Option<ImageResult>,
        bytes: u64,
    ) -> StagedImage {
        let mut q = self.inner.lock().expect("images lock");
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

    /// Reads a dropped file (a path from the OS drag-drop event, never from the web view).
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

    /// The queue.
    pub fn list(&self) -> Vec<StagedImage> {
        let q = self.inner.lock().expect("images lock");
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
        let mut q = self.inner.lock().expect("images lock");
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
        let q = self.inner.lock().expect("images lock");
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
        let mut q = self.inner.lock().expect("images lock");
        if let Some((_, s)) = q.items.iter_mut().find(|(i, _)| *i == id) {
            s.result = Some(result);
        }
    }

    /// An image's name and its Markdown, if it was read.
    pub fn text(&self, id: u32) -> Result<(String, String)> {
        let q = self.inner.lock().expect("images lock");
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

    /// Marks a batch as running; fails if one already is (one batch at a time per window).
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
}

/// `body` (the raw IPC body of a pasted or picked file), if it is at most [`MAX_BYTES`] long:
/// checked before the bytes are copied out of the request.
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

fn unique(q: &Queue, name: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cleaned_and_made_unique() {
        let images = Images::default();
        let a = images.stage("../../etc/shot.png", vec![1]).unwrap();
        let b = images.stage("shot.png", vec![1]).unwrap();
        let c = images.stage("", vec![1]).unwrap();
        assert_eq!(a.name, "shot.png");
        assert_eq!(b.name, "shot (2).png");
        assert_eq!(c.name, "pasted image");
        assert_ne!(a.id, b.id);
    }

    #[test]
    fn empty_and_oversized_files_are_refused_with_their_name() {
        let images = Images::default();
        let e = images.stage("x.png", vec![]).unwrap_err().to_string();
        assert!(e.contains("x.png") && e.contains("empty"), "{e}");
        let e = images
            .stage("big.jpg", vec![0; MAX_BYTES + 1])
            .unwrap_err()
            .to_string();
        assert!(e.contains("big.jpg") && e.contains("limit"), "{e}");
        assert!(images.list().is_empty(), "nothing staged");
    }

    #[test]
    fn a_bad_image_fails_the_plan_naming_it() {
        let images = Images::default();
        let id = images
            .stage("notes.png", b"not an image".to_vec())
            .unwrap()
            .id;
        let e = images.inputs(&[id]).unwrap_err();
        assert_eq!(e.code(), keywheel_core::ErrorCode::BadInput);
        assert!(e.to_string().contains("notes.png"), "{e}");
        assert!(
            images
                .inputs(&[999])
                .unwrap_err()
                .to_string()
                .contains("#999")
        );
    }

    #[test]
    fn devices_pipes_and_folders_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe.png");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success(), "mkfifo");
        let folder = dir.path().join("photos");
        std::fs::create_dir(&folder).unwrap();
        // The pipe first: the old code blocked for ever opening it (and read /dev/zero until
        // memory ran out).
        let cases = [
            (fifo.clone(), "pipe.png"),
            ("/dev/zero".into(), "zero"),
            (folder.clone(), "photos"),
        ];
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let images = Images::default();
            for (path, _) in &cases {
                let _ = tx.send(
                    images
                        .stage_path(path)
                        .map(|_| ())
                        .map_err(|e| e.to_string()),
                );
            }
            assert!(images.list().is_empty());
        });
        for name in ["pipe.png", "zero", "photos"] {
            // A hang detector, not a time limit: the answer comes at once.
            let got = rx
                .recv_timeout(std::time::Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("staging `{name}` never returned"));
            let e = got.expect_err(name);
            assert!(e.contains(name), "{e}");
            assert!(
                e.contains("folder") || e.contains("not a regular file"),
                "{e}"
            );
        }
    }

    #[test]
    fn an_oversized_raw_body_is_refused_before_it_is_copied() {
        let images = Images::default();
        let body = vec![0u8; MAX_BYTES + 1];
        let e = within_limit("big.png", &body).unwrap_err().to_string();
        assert!(e.contains("big.png") && e.contains("limit"), "{e}");
        let ok = within_limit("ok.png", &body[..10]).unwrap().to_vec();
        assert!(images.stage("ok.png", ok).is_ok());
    }
}
