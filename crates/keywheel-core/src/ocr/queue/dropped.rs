//! Files dropped on the app's window: the OS hands their paths to the Rust side (the web view
//! never names a file path), and each becomes staged pages of a PDF, a staged image, or a
//! refusal naming it.

use std::path::PathBuf;

use super::{PdfStaged, Queue, StagedImage, is_pdf_file};
use crate::error::Error;

/// What became of one dropped file.
#[derive(Debug)]
pub enum Dropped {
    /// An image, staged and prepared.
    Image(StagedImage),
    /// A PDF, staged page by page (text-layer pages already read).
    Pdf(PdfStaged),
    /// Refused, with the sentence saying why.
    Refused(Error),
}

impl Queue {
    /// Stages dropped files in the order given: a PDF page by page, anything else as an
    /// image. `on` hears each file as soon as it is staged or refused.
    pub fn stage_dropped(&self, paths: &[PathBuf], mut on: impl FnMut(Dropped)) {
        for path in paths {
            let staged = if is_pdf_file(path) {
                let name = path.file_name().map_or_else(
                    || "document.pdf".into(),
                    |n| n.to_string_lossy().into_owned(),
                );
                self.stage_pdf(path, &name).map(Dropped::Pdf)
            } else {
                self.stage_path(path).map(Dropped::Image)
            };
            on(staged.unwrap_or_else(Dropped::Refused));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_files_are_staged_in_order_and_refusals_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let (good, empty) = (dir.path().join("receipt.png"), dir.path().join("blank.png"));
        let img = image::RgbImage::from_fn(12, 9, |x, y| image::Rgb([x as u8, y as u8, 90]));
        img.save(&good).unwrap();
        std::fs::write(&empty, b"").unwrap();
        let q = Queue::default();
        let mut heard = Vec::new();
        q.stage_dropped(&[empty, good], |d| heard.push(d));
        match &heard[..] {
            [Dropped::Refused(e), Dropped::Image(s)] => {
                assert!(e.to_string().contains("blank.png"), "{e}");
                assert_eq!(s.name, "receipt.png");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(q.list().len(), 1);
    }
}
