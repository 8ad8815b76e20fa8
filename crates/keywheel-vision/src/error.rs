//! Why an image could not be prepared, in sentences that name the file and say what to do.
//!
//! Every variant carries the file's name as the caller gave it, and its `Display` is one
//! complete sentence meant to be shown to a person as is (CLI stderr, desktop toast).

use crate::format::{Format, SUPPORTED_LIST};

/// An image that could not be prepared.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PrepError {
    /// The file has no bytes at all.
    #[error(
        "{name} is empty (0 bytes); choose the image again, or re-export it if it was saved by another program."
    )]
    Empty {
        /// The file's name.
        name: String,
    },

    /// The bytes are not in any image format (text, HTML, an archive, random data…).
    #[error(
        "{name} is not an image: it contains {looks_like}, whatever its name says; choose a picture file (supported: {SUPPORTED_LIST})."
    )]
    NotAnImage {
        /// The file's name.
        name: String,
        /// What the bytes look like instead, e.g. "a plain text file".
        looks_like: &'static str,
    },

    /// A recognised format that Keywheel cannot decode (HEIC, PDF, SVG, …).
    #[error("{name} is {what}, which Keywheel cannot read; {how} (supported: {SUPPORTED_LIST}).", what = format.what(), how = format.how_to_convert())]
    Unsupported {
        /// The file's name.
        name: String,
        /// The format found from the file's magic bytes.
        format: Format,
    },

    /// A supported format that uses a feature the decoder lacks (e.g. arithmetic-coded JPEG).
    #[error("{name} is an unsupported {format} variant ({feature}); open it in an image editor and save it again as a plain PNG or JPEG.", format = format.name())]
    UnsupportedFeature {
        /// The file's name.
        name: String,
        /// The file's format.
        format: Format,
        /// The feature, as the decoder names it.
        feature: String,
    },

    /// The file ends before the image data does.
    #[error("{name} is {what} that is cut off (the file ends before the picture does); download or export it again.", what = format.what())]
    Truncated {
        /// The file's name.
        name: String,
        /// The file's format.
        format: Format,
    },

    /// The image data is damaged.
    #[error("{name} is {what} that is damaged and cannot be decoded ({reason}); download or export it again.", what = format.what())]
    Damaged {
        /// The file's name.
        name: String,
        /// The file's format.
        format: Format,
        /// What the decoder reported.
        reason: String,
    },

    /// The header declares more pixels than allowed; rejected before any pixel memory is taken.
    #[error("{name} is {width}×{height} pixels ({mp:.1} megapixels), more than the {max_mp:.0}-megapixel limit; scale it down or crop it first.", mp = megapixels(*width, *height), max_mp = *max_pixels as f64 / 1e6)]
    TooManyPixels {
        /// The file's name.
        name: String,
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// The limit in pixels ([`crate::PrepOptions::max_pixels`]).
        max_pixels: u64,
    },

    /// Decoding would need more memory than allowed (for example a decompression bomb, or a
    /// 16-bit image with many channels).
    #[error("{name} would need {need} (it may be a decompression bomb); re-export it smaller or as an 8-bit PNG or JPEG.", need = memory_phrase(*needed, *limit))]
    TooMuchMemory {
        /// The file's name.
        name: String,
        /// Bytes the decoder asked for (0 when the decoder did not say).
        needed: u64,
        /// The limit in bytes ([`crate::PrepOptions::max_decoded_bytes`]).
        limit: u64,
    },

    /// A multi-page file has more pages than allowed.
    #[error("{name} has more than {max_pages} pages; split it into smaller files first.")]
    TooManyPages {
        /// The file's name.
        name: String,
        /// The limit ([`crate::PrepOptions::max_pages`]).
        max_pages: usize,
    },

    /// The file is larger than allowed.
    #[error("{name} is {size_mb} MB, larger than the {limit_mb} MB limit; compress it or scale it down first.", size_mb = mb_or_more(*size), limit_mb = mb(*limit))]
    TooLarge {
        /// The file's name.
        name: String,
        /// The file's size in bytes.
        size: u64,
        /// The limit in bytes ([`crate::PrepOptions::max_input_bytes`]).
        limit: u64,
    },

    /// The path is a directory.
    #[error("{name} is a folder, not an image file; choose an image inside it.")]
    IsDirectory {
        /// The path as given.
        name: String,
    },

    /// The path does not exist.
    #[error("{name} does not exist; check the path and the spelling.")]
    NotFound {
        /// The path as given.
        name: String,
    },

    /// The file exists but could not be read.
    #[error(
        "{name} could not be read ({source}); check that you may read it and that it is a regular file."
    )]
    Unreadable {
        /// The path as given.
        name: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// Even at the smallest size and quality the result would not fit the data URL budget.
    #[error("{name} cannot be made to fit in {limit_kb} KB as a data URL even at low quality; crop it or raise the size limit.", limit_kb = *limit / 1000)]
    CannotFit {
        /// The file's name.
        name: String,
        /// The data URL budget in bytes.
        limit: usize,
    },

    /// Re-encoding failed; this is a bug in Keywheel, not a problem with the file.
    #[error(
        "Keywheel could not re-encode {name} ({reason}); this is a bug, please report it, and try exporting the image as PNG meanwhile."
    )]
    Encode {
        /// The file's name.
        name: String,
        /// What the encoder reported.
        reason: String,
    },
}

impl PrepError {
    /// The file name (or path) the error is about.
    pub fn name(&self) -> &str {
        match self {
            PrepError::Empty { name }
            | PrepError::NotAnImage { name, .. }
            | PrepError::Unsupported { name, .. }
            | PrepError::UnsupportedFeature { name, .. }
            | PrepError::Truncated { name, .. }
            | PrepError::Damaged { name, .. }
            | PrepError::TooManyPixels { name, .. }
            | PrepError::TooMuchMemory { name, .. }
            | PrepError::TooManyPages { name, .. }
            | PrepError::TooLarge { name, .. }
            | PrepError::IsDirectory { name }
            | PrepError::NotFound { name }
            | PrepError::Unreadable { name, .. }
            | PrepError::CannotFit { name, .. }
            | PrepError::Encode { name, .. } => name,
        }
    }

    /// Whether the problem is with the file itself (as opposed to a path or a Keywheel bug).
    /// A caller processing a batch can skip such a file and carry on.
    pub fn is_bad_input(&self) -> bool {
        !matches!(
            self,
            PrepError::NotFound { .. }
                | PrepError::IsDirectory { .. }
                | PrepError::Unreadable { .. }
                | PrepError::Encode { .. }
        )
    }
}

fn megapixels(w: u32, h: u32) -> f64 {
    f64::from(w) * f64::from(h) / 1e6
}

fn mb(bytes: u64) -> String {
    let v = bytes as f64 / 1e6;
    if v >= 10.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// Like [`mb`], but never rounds a non-zero size down to "0".
fn mb_or_more(bytes: u64) -> String {
    if bytes < 100_000 {
        "0.1".to_owned()
    } else {
        mb(bytes)
    }
}

fn memory_phrase(needed: u64, limit: u64) -> String {
    if needed == 0 {
        format!("more than the {} MB memory limit to decode", mb(limit))
    } else {
        format!(
            "{} MB of memory to decode, more than the {} MB limit",
            mb_or_more(needed),
            mb(limit)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_name_the_file_and_say_what_to_do() {
        let e = PrepError::Unsupported {
            name: "photo.heic".into(),
            format: Format::Heic,
        };
        assert_eq!(
            e.to_string(),
            "photo.heic is a HEIC image, which Keywheel cannot read; export it as PNG or JPEG \
             (supported: PNG, JPEG, WebP, GIF, BMP, TIFF)."
        );
        let e = PrepError::TooManyPixels {
            name: "huge.png".into(),
            width: 60000,
            height: 60000,
            max_pixels: 100_000_000,
        };
        assert_eq!(
            e.to_string(),
            "huge.png is 60000×60000 pixels (3600.0 megapixels), more than the 100-megapixel \
             limit; scale it down or crop it first."
        );
        let e = PrepError::TooLarge {
            name: "big.tif".into(),
            size: 75_200_000,
            limit: 50_000_000,
        };
        assert!(
            e.to_string()
                .starts_with("big.tif is 75 MB, larger than the 50 MB limit")
        );
        let e = PrepError::TooMuchMemory {
            name: "bomb.png".into(),
            needed: 0,
            limit: 500_000_000,
        };
        assert_eq!(
            e.to_string(),
            "bomb.png would need more than the 500 MB memory limit to decode (it may be a \
             decompression bomb); re-export it smaller or as an 8-bit PNG or JPEG."
        );
        assert_eq!(e.name(), "bomb.png");
    }
}
