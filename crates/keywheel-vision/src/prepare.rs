//! The pipeline: check, sniff, decode, flatten, turn upright, scale or tile, encode.

use sha2::{Digest, Sha256};

use crate::classify::{Content, classify};
use crate::decode::{Header, decode};
use crate::encode;
use crate::error::PrepError;
use crate::flatten::flatten;
use crate::options::PrepOptions;
use crate::orient::{make_upright, swaps_sides, upright_size};
use crate::prepared::{Prepared, PreparedImage};
use crate::scale::{self, Crop};
use crate::sniff::{describe_non_image, sniff};
use crate::tile::{self, Plan};

/// Prepare the image in `bytes` for a vision model.
///
/// `name` is only used in error messages (pass the file name or path the person chose).
/// The format is found from the bytes, never from the name.
pub fn prepare(name: &str, bytes: &[u8], opts: &PrepOptions) -> Result<Prepared, PrepError> {
    if bytes.is_empty() {
        return Err(PrepError::Empty {
            name: name.to_owned(),
        });
    }
    if bytes.len() as u64 > opts.max_input_bytes {
        return Err(PrepError::TooLarge {
            name: name.to_owned(),
            size: bytes.len() as u64,
            limit: opts.max_input_bytes,
        });
    }
    let format = sniff(bytes).ok_or_else(|| PrepError::NotAnImage {
        name: name.to_owned(),
        looks_like: describe_non_image(bytes),
    })?;
    if !format.is_supported() {
        return Err(PrepError::Unsupported {
            name: name.to_owned(),
            format,
        });
    }

    let plan_for = |h: &Header| {
        let (w, h) = upright_size(h.width, h.height, h.orientation);
        tile::plan(w, h, opts)
    };
    // Hash on a second core while the first decodes (about 1 ms per MB otherwise).
    let hash = || crate::stages::time("hash", || hex::encode(Sha256::digest(bytes)));
    let (content_hash, decoded) = std::thread::scope(|s| {
        let hasher = std::thread::Builder::new().spawn_scoped(s, hash);
        let decoded = crate::stages::time("decode", || {
            decode(name, bytes, format, opts, &|h| plan_for(h).scale)
        });
        let content_hash = match hasher {
            Ok(handle) => handle.join().unwrap_or_else(|_| hash()),
            Err(_) => hash(), // no thread to be had: hash here
        };
        (content_hash, decoded)
    });
    finish(name, format, decoded?, content_hash, opts)
}

/// Everything after decoding: flatten, classify, turn upright, scale or tile, encode.
pub(crate) fn finish(
    name: &str,
    format: crate::Format,
    decoded: crate::decode::Decoded,
    content_hash: String,
    opts: &PrepOptions,
) -> Result<Prepared, PrepError> {
    let plan_for = |h: &Header| {
        let (w, h) = upright_size(h.width, h.height, h.orientation);
        tile::plan(w, h, opts)
    };
    let header = decoded.header;
    let plan = plan_for(&header);
    let (source_width, source_height) =
        upright_size(header.width, header.height, header.orientation);

    let image = flatten(decoded.image);
    let content = crate::stages::time("classify", || classify(&image));
    let images = render(name, image, &header, &plan, content)?;

    let of = images.len();
    let mut tiles = Vec::with_capacity(of);
    for (index, (image, region)) in images.into_iter().enumerate() {
        let e = encode::fit(name, image, content, opts)?;
        tiles.push(PreparedImage {
            data_url: e.data_url,
            encoded: e.encoded,
            mime: e.mime,
            width: e.width,
            height: e.height,
            bytes: e.bytes,
            index,
            of,
            region,
        });
    }
    Ok(Prepared {
        tiles,
        source_format: format,
        source_width,
        source_height,
        content_hash,
        page: None,
    })
}

/// Produce the upright, scaled image for each tile of `plan`.
///
/// `image` is in stored orientation and may be smaller than the header says (JPEG DCT
/// scaling). One tile is resized first and turned upright after, which is cheaper; several
/// tiles are cut from the upright image.
fn render(
    name: &str,
    mut image: image::DynamicImage,
    header: &Header,
    plan: &Plan,
    content: Content,
) -> Result<Vec<(image::DynamicImage, crate::prepared::Region)>, PrepError> {
    let fail = |reason| PrepError::Encode {
        name: name.to_owned(),
        reason,
    };
    if let [only] = plan.tiles.as_slice() {
        let (w, h) = if swaps_sides(header.orientation) {
            (only.out_height, only.out_width)
        } else {
            (only.out_width, only.out_height)
        };
        let mut out = if (image.width(), image.height()) == (w, h) {
            image
        } else {
            scale::resize(&image, None, w, h, content).map_err(fail)?
        };
        crate::stages::time("orient", || make_upright(&mut out, header.orientation));
        return Ok(vec![(out, only.region)]);
    }

    make_upright(&mut image, header.orientation);
    let (uw, uh) = upright_size(header.width, header.height, header.orientation);
    let fx = f64::from(image.width()) / f64::from(uw);
    let fy = f64::from(image.height()) / f64::from(uh);
    plan.tiles
        .iter()
        .map(|t| {
            let crop = Crop {
                left: f64::from(t.region.x) * fx,
                top: f64::from(t.region.y) * fy,
                width: f64::from(t.region.width) * fx,
                height: f64::from(t.region.height) * fy,
            };
            let out = scale::resize(&image, Some(crop), t.out_width, t.out_height, content)
                .map_err(fail)?;
            Ok((out, t.region))
        })
        .collect()
}
