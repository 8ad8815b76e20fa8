//! What preparation produces: one or more images ready to be sent, plus facts about the source.

use serde::Serialize;

use crate::format::Format;

/// A source image made ready for a vision model.
#[derive(Debug, Clone, Serialize)]
pub struct Prepared {
    /// The images to send, in reading order (top to bottom); one request each. Usually one;
    /// more when a tall image was tiled.
    pub tiles: Vec<PreparedImage>,
    /// The format of the original bytes.
    pub source_format: Format,
    /// Width of the original image, upright (after EXIF orientation).
    pub source_width: u32,
    /// Height of the original image, upright (after EXIF orientation).
    pub source_height: u32,
    /// Lower-case hex SHA-256 of the original bytes, for exact-content caching; for a page
    /// of a multi-page file, followed by `:p<N>` (see [`crate::prepare_pages`]).
    pub content_hash: String,
    /// For a page of a multi-page file: which page (from 1) of how many. `None` for a
    /// single image.
    pub page: Option<PageOf>,
}

/// Page `number` (from 1) of a file with `of` pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PageOf {
    /// The page, from 1.
    pub number: usize,
    /// How many pages the file has.
    pub of: usize,
}

/// One image ready to be put in an `image_url` content part.
#[derive(Debug, Clone, Serialize)]
pub struct PreparedImage {
    /// `data:<mime>;base64,<payload>`.
    pub data_url: String,
    /// The encoded image itself (the data URL's payload before base64), for a reader that
    /// takes the file rather than the URL (the local OCR engine).
    #[serde(skip)]
    pub encoded: Vec<u8>,
    /// `image/png` or `image/jpeg`.
    pub mime: &'static str,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Size of the encoded image in bytes (before base64).
    pub bytes: usize,
    /// Position in reading order, from 0.
    pub index: usize,
    /// How many tiles the source produced.
    pub of: usize,
    /// The part of the upright source this image shows, in source pixels.
    pub region: Region,
}

/// A rectangle in source pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Region {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
}

impl Prepared {
    /// How many model requests this image needs: one per tile.
    pub fn requests(&self) -> usize {
        self.tiles.len()
    }
}

/// How many model requests a prepared image needs (one per tile; Llama 3.2 Vision takes a
/// single image per request).
pub fn plan_requests(prepared: &Prepared) -> usize {
    prepared.requests()
}
