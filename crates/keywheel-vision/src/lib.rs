//! Safe image preparation for vision models: bytes in, data URLs out.
//!
//! Keywheel sends images to OpenRouter vision models (Llama 3.2 90B Vision first) to get
//! their text back as Markdown. Those models take one image per request, some hosts reject
//! images larger than 1120×1120, and a data URL should stay under about 4 MB. This crate
//! turns whatever file a person picks into images that meet those rules, keeps small text
//! legible, and refuses bad input with a sentence that names the file and says what to do.
//! It does no network or database I/O; [`prepare_path`] is the only function that touches
//! the file system.
//!
//! # Pipeline
//!
//! 1. **Check** size limits and [`sniff()`] the format from the magic bytes (never the name).
//!    Recognised but unsupported formats (HEIC, AVIF, PDF, SVG, PSD, …) and non-images
//!    (text, HTML, archives) are refused with [`PrepError`].
//! 2. **Decode** safely: the header's dimensions are checked against
//!    [`PrepOptions::max_pixels`] before any pixel memory is taken, and the decoder runs
//!    under [`PrepOptions::max_decoded_bytes`]. JPEGs are decoded by libjpeg-turbo at the
//!    smallest size in eighths (1/8 … 8/8) that still covers the output, straight from the
//!    DCT; files it refuses go to the pure-Rust decoders. Animated GIF and WebP
//!    give their first frame. CMYK JPEGs are converted to RGB.
//! 3. **Flatten** to 8-bit grey or RGB, compositing transparency onto white.
//! 4. **Turn upright** using the EXIF (or TIFF) orientation.
//! 5. **Scale** to fit [`PrepOptions::max_side`] (never up) with a SIMD resizer, Lanczos3
//!    for graphics and Catmull-Rom for photos, or **tile** a tall image into overlapping
//!    bands read top to bottom; see [`tile`] for the rule.
//! 6. **Encode** screenshots and other flat graphics as PNG and photos as JPEG, stepping
//!    down to JPEG, lower quality, then smaller size until each data URL fits
//!    [`PrepOptions::max_data_url_bytes`].
//!
//! Each [`PreparedImage`] in [`Prepared::tiles`] is one model request; join the answers
//! with [`join_markdown`].
//!
//! ```no_run
//! use keywheel_vision::{PrepOptions, prepare_path, join_markdown};
//!
//! let prepared = prepare_path("receipt.png".as_ref(), &PrepOptions::default())?;
//! let mut answers = Vec::new();
//! for tile in &prepared.tiles {
//!     // send tile.data_url in an `image_url` content part, collect the Markdown reply
//!     answers.push(format!("text of tile {} of {}", tile.index + 1, tile.of));
//! }
//! let markdown = join_markdown(&answers);
//! # Ok::<(), keywheel_vision::PrepError>(())
//! ```

#![warn(missing_docs)]

mod classify;
mod decode;
mod encode;
mod error;
mod fallback;
mod flatten;
mod format;
mod options;
mod orient;
mod pages;
mod peek;
mod prepare;
mod prepared;
mod read;
mod scale;
mod sniff;
#[doc(hidden)]
pub mod stages;
pub mod tile;
#[doc(hidden)]
pub mod turbo;

pub use error::PrepError;
pub use format::{Format, SUPPORTED};
pub use options::PrepOptions;
pub use pages::prepare_pages;
pub use prepare::prepare;
pub use prepared::{PageOf, Prepared, PreparedImage, Region, plan_requests};
pub use read::prepare_path;
pub use sniff::sniff;
pub use tile::join_markdown;
