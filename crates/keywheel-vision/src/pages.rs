//! Files with several pages (multi-page TIFF): one [`Prepared`] per page.
//!
//! Each page is its own job for the caller, like a tile: it is sent, resumed and paid for
//! alone. A page's [`Prepared::content_hash`] is the file's SHA-256 followed by `:p<N>` for
//! page N (1-based) of a multi-page file, so that job and cache keys differ per page.
//!
//! The first page goes through the usual decoders; the pages after it are decoded by the
//! fallback decoder ([`crate::fallback`], ImageMagick), which can seek to a page. Pages are
//! counted by walking the TIFF directory chain with the `tiff` crate (a loop in the chain ends
//! the count, it does not hang); more than [`PrepOptions::max_pages`] is refused.

use std::io::Cursor;

use image::metadata::Orientation;

use crate::decode::{Decoded, Header};
use crate::error::PrepError;
use crate::format::Format;
use crate::options::PrepOptions;
use crate::prepare::{finish, prepare};
use crate::prepared::{PageOf, Prepared};

/// Prepare every page of the image in `bytes`: one [`Prepared`] for a single image, one per
/// page, in order, for a multi-page TIFF (each with [`Prepared::page`] set).
pub fn prepare_pages(
    name: &str,
    bytes: &[u8],
    opts: &PrepOptions,
) -> Result<Vec<Prepared>, PrepError> {
    let mut first = prepare(name, bytes, opts)?;
    let pages = if first.source_format == Format::Tiff {
        tiff_pages(bytes, opts.max_pages.saturating_add(1))
    } else {
        1
    };
    if pages <= 1 {
        return Ok(vec![first]);
    }
    if pages > opts.max_pages {
        return Err(PrepError::TooManyPages {
            name: name.to_owned(),
            max_pages: opts.max_pages,
        });
    }
    let hash = first.content_hash.clone();
    first.content_hash = format!("{hash}:p1");
    first.page = Some(PageOf {
        number: 1,
        of: pages,
    });
    let mut out = Vec::with_capacity(pages);
    out.push(first);
    for index in 1..pages {
        let number = index + 1;
        let image =
            crate::fallback::decode(bytes, Format::Tiff, index, opts).ok_or_else(|| {
                PrepError::UnsupportedFeature {
                    name: name.to_owned(),
                    format: Format::Tiff,
                    feature: if crate::fallback::available() {
                        format!("page {number} of {pages} could not be decoded")
                    } else {
                        format!(
                            "page {number} of {pages}: pages after the first need ImageMagick, which is not installed"
                        )
                    },
                }
            })?;
        let decoded = Decoded {
            header: Header {
                width: image.width(),
                height: image.height(),
                orientation: Orientation::NoTransforms,
            },
            image,
        };
        let mut page = finish(
            name,
            Format::Tiff,
            decoded,
            format!("{hash}:p{number}"),
            opts,
        )?;
        page.page = Some(PageOf { number, of: pages });
        out.push(page);
    }
    Ok(out)
}

/// How many images (IFDs) the TIFF chain holds, counting at most `cap`. A chain that cannot
/// be walked further (a loop, a bad offset) ends the count there.
fn tiff_pages(bytes: &[u8], cap: usize) -> usize {
    let Ok(mut dec) = tiff::decoder::Decoder::new(Cursor::new(bytes)) else {
        return 1;
    };
    let mut n = 1;
    while n < cap && dec.more_images() {
        if dec.next_image().is_err() {
            break;
        }
        n += 1;
    }
    n
}
