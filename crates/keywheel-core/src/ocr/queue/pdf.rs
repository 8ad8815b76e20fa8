//! PDFs in the queue, read page by page through the core's PDF path ([`crate::ocr::pdf`],
//! the same as `keywheel ocr scan.pdf`): a page with a real text layer is read from it at
//! once, for free, and shows as done ("text layer"); every other page is rendered and staged
//! as its own item, a job keyed by the PDF's hash and the page, so each page has its own
//! progress, is resumable, and is never paid twice (the CLI and the app share those jobs).
//! The person sees the page plan before anything is sent.

use std::path::Path;

use serde::Serialize;

use super::{OcrResult, Queue, StagedImage};
use crate::error::{Error, Result};
use crate::ledger::jobs::JobStatus;
use crate::ocr::pdf::{self, PdfPage};
use crate::ocr::{ImageResult, PrepOptions};

/// What a PDF became in the queue.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PdfStaged {
    /// The PDF's name (no folder).
    pub file: String,
    /// Pages in the queue.
    pub pages: u32,
    /// Of which read from their text layer (no request).
    pub text_layer: u32,
    /// Of which rendered, to send to the vision model.
    pub vision: u32,
    /// The page plan in one sentence.
    pub sentence: String,
    /// Every page, in order.
    pub staged: Vec<StagedImage>,
    /// The pages already read (from their text layer).
    pub read: Vec<OcrResult>,
}

/// The label of a page read from its text layer.
pub const TEXT_LAYER_LABEL: &str = "text layer";

/// Whether the dropped `path` is a PDF (a regular file whose first bytes say so; nothing else
/// is opened, so a pipe never blocks here).
pub fn is_pdf_file(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file()) && pdf::is_pdf(path)
}

impl Queue {
    /// Reads the PDF at `path` (shown as `name`; refusals name it, never the path) and
    /// stages its pages.
    pub fn stage_pdf(&self, path: &Path, name: &str) -> Result<PdfStaged> {
        let pages = pdf::prepare_pdf(path, None, false, &PrepOptions::default())
            .map_err(|e| renamed(e, path, name))?;
        let mut out = PdfStaged {
            file: name.to_string(),
            pages: pages.len() as u32,
            text_layer: 0,
            vision: 0,
            sentence: String::new(),
            staged: Vec::with_capacity(pages.len()),
            read: Vec::new(),
        };
        for page in pages {
            match page {
                PdfPage::TextLayer { page, text, .. } => {
                    let title = page_name(name, page);
                    let result = text_layer_result(&title, text);
                    let s = self.stage_page(&title, None, Some(result.clone()), 0);
                    out.text_layer += 1;
                    out.read.push(OcrResult { id: s.id, result });
                    out.staged.push(s);
                }
                PdfPage::Vision(input) => {
                    let page = input.prepared.page.map_or(0, |p| p.number);
                    let bytes = input.prepared.tiles.iter().map(|t| t.bytes as u64).sum();
                    out.vision += 1;
                    out.staged.push(self.stage_page(
                        &page_name(name, page),
                        Some(input),
                        None,
                        bytes,
                    ));
                }
            }
        }
        out.sentence = page_plan_sentence(name, out.pages, out.text_layer, out.vision);
        Ok(out)
    }

    /// Stages a picked PDF's bytes: written to a private file under `staging_dir` for
    /// poppler, read, and removed.
    pub fn stage_pdf_bytes(
        &self,
        staging_dir: &Path,
        name: &str,
        bytes: &[u8],
    ) -> Result<PdfStaged> {
        crate::private::create_dir(staging_dir)
            .map_err(|e| Error::io("could not create the staging folder", e))?;
        let path = staging_dir.join(format!("{:016x}.pdf", rand::random::<u64>()));
        crate::private::write_atomic(&path, bytes)
            .map_err(|e| Error::io(format!("could not stage `{name}`"), e))?;
        let staged = self.stage_pdf(&path, name);
        let _ = std::fs::remove_file(&path);
        staged
    }
}

/// `scan.pdf (page 3)`.
fn page_name(file: &str, page: usize) -> String {
    format!("{file} (page {page})")
}

/// `scan.pdf: 23 pages; 6 read from the text layer (0 requests); 17 to read with the vision model`.
pub fn page_plan_sentence(file: &str, pages: u32, text_layer: u32, vision: u32) -> String {
    let n = |k: u32| format!("{k} page{}", if k == 1 { "" } else { "s" });
    let mut s = format!("{file}: {}", n(pages));
    if text_layer > 0 {
        s.push_str(&format!(
            "; {} read from the text layer (0 requests)",
            n(text_layer)
        ));
    }
    if vision > 0 {
        s.push_str(&format!(
            "; {} to read with the vision model, one request each",
            n(vision)
        ));
    }
    s
}

fn text_layer_result(title: &str, text: String) -> ImageResult {
    ImageResult {
        caller_id: 0,
        file: title.to_string(),
        status: JobStatus::Done,
        text: Some(text),
        model: None,
        key_id: None,
        cached: false,
        local: false,
        label: Some(TEXT_LAYER_LABEL),
        resumed: false,
        width: 0,
        height: 0,
        tiles: 0,
        requests: 0,
        error_class: None,
        error: None,
        wait_until: None,
    }
}

/// The core names the file by its path; the person is told its name only.
fn renamed(e: Error, path: &Path, name: &str) -> Error {
    let shown = path.display().to_string();
    match e {
        Error::BadInput(m) => Error::BadInput(m.replace(&shown, name)),
        Error::Usage(m) => Error::Usage(m.replace(&shown, name)),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_plan_counts_free_and_sent_pages() {
        assert_eq!(
            page_plan_sentence("scan.pdf", 23, 6, 17),
            "scan.pdf: 23 pages; 6 pages read from the text layer (0 requests); 17 pages to read with the vision model, one request each"
        );
        assert_eq!(
            page_plan_sentence("a.pdf", 1, 0, 1),
            "a.pdf: 1 page; 1 page to read with the vision model, one request each"
        );
    }

    #[test]
    fn refusals_name_the_file_not_its_path() {
        let e = renamed(
            Error::BadInput("/tmp/x/1f.pdf is an empty PDF. Nothing was sent.".into()),
            Path::new("/tmp/x/1f.pdf"),
            "scan.pdf",
        );
        assert_eq!(e.to_string(), "scan.pdf is an empty PDF. Nothing was sent.");
        assert_eq!(e.code(), crate::ErrorCode::BadInput);
    }

    /// A real two-page scanned PDF (made by tesseract from two images, as a scanner's OCR
    /// would: the page is an image): each page is staged as its own item, ready to send, and
    /// the bytes path leaves no file behind.
    #[test]
    fn a_pdf_becomes_one_item_per_page() {
        let have = |p: &str| std::process::Command::new(p).arg("-v").output().is_ok();
        if !have("pdfinfo") || !have("tesseract") {
            eprintln!("skipped: poppler-utils or tesseract missing (scripts/setup-system.sh)");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let mut list = String::new();
        for (i, shade) in [255u8, 200].iter().enumerate() {
            let png = dir.path().join(format!("p{i}.png"));
            image::RgbImage::from_pixel(300, 200, image::Rgb([*shade; 3]))
                .save(&png)
                .unwrap();
            list.push_str(&format!("{}\n", png.display()));
        }
        std::fs::write(dir.path().join("list.txt"), list).unwrap();
        let made = std::process::Command::new("tesseract")
            .arg(dir.path().join("list.txt"))
            .arg(dir.path().join("two"))
            .arg("pdf")
            .output()
            .unwrap();
        assert!(made.status.success(), "tesseract made the PDF");
        let path = dir.path().join("two.pdf");
        let queue = Queue::default();
        let bytes = std::fs::read(&path).unwrap();
        let staging = dir.path().join("staging");
        let p = queue.stage_pdf_bytes(&staging, "two.pdf", &bytes).unwrap();
        assert_eq!((p.pages, p.text_layer, p.vision), (2, 0, 2));
        let names: Vec<_> = p.staged.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["two.pdf (page 1)", "two.pdf (page 2)"]);
        assert!(p.sentence.starts_with("two.pdf: 2 pages"), "{}", p.sentence);
        let ids: Vec<u32> = p.staged.iter().map(|s| s.id).collect();
        let inputs = queue.inputs(&ids).unwrap();
        assert_eq!(inputs.len(), 2, "both pages are ready to send");
        let callers: Vec<u64> = inputs.iter().map(|i| i.caller_id).collect();
        assert_eq!(
            callers,
            ids.iter().map(|&i| u64::from(i)).collect::<Vec<_>>(),
            "each page goes to the batch under its staged id"
        );
        assert_eq!(inputs[1].file, "two.pdf (page 2)", "the page's queue name");
        assert_eq!(
            std::fs::read_dir(&staging).unwrap().count(),
            0,
            "no file left"
        );
        let e = queue
            .stage_pdf_bytes(&staging, "empty.pdf", b"%PDF-1.4\n")
            .unwrap_err();
        assert!(e.to_string().contains("empty.pdf"), "{e}");
        assert!(!e.to_string().contains("staging"), "no path shown: {e}");
    }

    /// A page read from its text layer is staged done, with its result kept (its text can be
    /// saved or copied at once) and nothing to send.
    #[test]
    fn a_text_layer_page_is_done_and_has_nothing_to_send() {
        let queue = Queue::default();
        let title = page_name("notes.pdf", 4);
        let result = text_layer_result(&title, "# Minutes".into());
        let s = queue.stage_page(&title, None, Some(result), 0);
        assert_eq!(s.name, "notes.pdf (page 4)");
        assert_eq!(
            queue.text(s.id).unwrap(),
            ("notes.pdf (page 4)".to_string(), "# Minutes".to_string())
        );
        let e = queue.inputs(&[s.id]).unwrap_err().to_string();
        assert!(
            e.contains("text layer") && e.contains("notes.pdf (page 4)"),
            "{e}"
        );
    }
}
