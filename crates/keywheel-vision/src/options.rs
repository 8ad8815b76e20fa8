//! The knobs of image preparation and their defaults.

/// How to prepare images. `PrepOptions::default()` suits Llama 3.2 Vision on OpenRouter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrepOptions {
    /// Longest side of every produced image, in pixels (default 1120, the largest some hosts
    /// accept for Llama 3.2 Vision). Clamped to 32–16384.
    pub max_side: u32,
    /// Budget for each data URL, in bytes, including the `data:image/…;base64,` prefix
    /// (default 4,000,000).
    pub max_data_url_bytes: usize,
    /// Largest input file accepted, in bytes (default 50,000,000).
    pub max_input_bytes: u64,
    /// Largest image accepted, in pixels, checked from the header before decoding
    /// (default 100,000,000).
    pub max_pixels: u64,
    /// Most memory the decoder may allocate, in bytes (default 500,000,000). Guards against
    /// decompression bombs whose header alone looks harmless.
    pub max_decoded_bytes: u64,
    /// Split tall images into overlapping bands so that small text stays legible
    /// (default true). See the crate documentation for the rule.
    pub tile: bool,
    /// Upper bound on the number of tiles (default 12). A taller image gets taller bands,
    /// scaled down further, rather than more requests.
    pub max_tiles: usize,
    /// Most pages read from one multi-page file (default 500); a file with more is refused
    /// before any page is decoded.
    pub max_pages: usize,
    /// Starting JPEG quality, 1–100 (default 88). Lowered automatically when a data URL
    /// would exceed [`PrepOptions::max_data_url_bytes`].
    pub jpeg_quality: u8,
}

impl Default for PrepOptions {
    fn default() -> Self {
        PrepOptions {
            max_side: 1120,
            max_data_url_bytes: 4_000_000,
            max_input_bytes: 50_000_000,
            max_pixels: 100_000_000,
            max_decoded_bytes: 500_000_000,
            tile: true,
            max_tiles: 12,
            max_pages: 500,
            jpeg_quality: 88,
        }
    }
}

impl PrepOptions {
    /// `max_side` with its floor applied.
    pub(crate) fn side(&self) -> u32 {
        self.max_side.clamp(32, 16384)
    }

    /// `max_tiles` with its floor applied.
    pub(crate) fn tiles(&self) -> usize {
        self.max_tiles.max(1)
    }

    /// `jpeg_quality` clamped to 1–100.
    pub(crate) fn quality(&self) -> u8 {
        self.jpeg_quality.clamp(1, 100)
    }
}
