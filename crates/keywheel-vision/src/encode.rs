//! Encoding to PNG or JPEG and fitting the result into the data URL budget.
//!
//! Graphics start as PNG, photos as JPEG at [`PrepOptions::jpeg_quality`]. When a data URL
//! would exceed [`PrepOptions::max_data_url_bytes`], PNG gives way to JPEG, JPEG quality
//! steps down to 50, and after that the image is scaled down by a fifth at a time until it
//! fits (or reaches 64 px, which is reported as [`PrepError::CannotFit`]).

use base64::Engine;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{DynamicImage, ExtendedColorType, ImageEncoder};

use crate::classify::Content;
use crate::error::PrepError;
use crate::options::PrepOptions;
use crate::scale;

/// PNG media type.
pub(crate) const PNG: &str = "image/png";
/// JPEG media type.
pub(crate) const JPEG: &str = "image/jpeg";

/// An image encoded within budget.
pub(crate) struct Encoded {
    pub data_url: String,
    pub encoded: Vec<u8>,
    pub mime: &'static str,
    pub width: u32,
    pub height: u32,
    pub bytes: usize,
}

/// Length of `data:<mime>;base64,<payload>` for a payload of `n` bytes.
pub(crate) fn data_url_len(mime: &str, n: usize) -> usize {
    "data:;base64,".len() + mime.len() + n.div_ceil(3) * 4
}

/// `data:<mime>;base64,<payload>`.
pub(crate) fn data_url(mime: &str, bytes: &[u8]) -> String {
    let mut url = String::with_capacity(data_url_len(mime, bytes.len()));
    url.push_str("data:");
    url.push_str(mime);
    url.push_str(";base64,");
    base64::engine::general_purpose::STANDARD.encode_string(bytes, &mut url);
    url
}

fn color_type(image: &DynamicImage) -> ExtendedColorType {
    match image {
        DynamicImage::ImageLuma8(_) => ExtendedColorType::L8,
        _ => ExtendedColorType::Rgb8,
    }
}

/// Encode as PNG (8-bit grey or RGB).
pub(crate) fn png(image: &DynamicImage) -> Result<Vec<u8>, image::ImageError> {
    let mut out = Vec::new();
    PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Adaptive)
        .write_image(
            image.as_bytes(),
            image.width(),
            image.height(),
            color_type(image),
        )?;
    Ok(out)
}

/// Encode as baseline JPEG (8-bit grey or RGB) at `quality` 1–100, with 4:2:0 chroma
/// below quality 90 and 4:4:4 from 90 up.
pub(crate) fn jpeg(image: &DynamicImage, quality: u8) -> Result<Vec<u8>, String> {
    let color = match image {
        DynamicImage::ImageLuma8(_) => jpeg_encoder::ColorType::Luma,
        _ => jpeg_encoder::ColorType::Rgb,
    };
    let side = |v: u32| u16::try_from(v).map_err(|_| format!("{v} px is too large for JPEG"));
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, quality)
        .encode(
            image.as_bytes(),
            side(image.width())?,
            side(image.height())?,
            color,
        )
        .map_err(|e| e.to_string())?;
    Ok(out)
}

/// Encode `image` (8-bit grey or RGB) for `content`, within the data URL budget.
pub(crate) fn fit(
    name: &str,
    image: DynamicImage,
    content: Content,
    opts: &PrepOptions,
) -> Result<Encoded, PrepError> {
    let fail = |reason: String| PrepError::Encode {
        name: name.to_owned(),
        reason,
    };
    let fits = |mime: &str, n: usize| data_url_len(mime, n) <= opts.max_data_url_bytes;
    let done = |image: &DynamicImage, mime: &'static str, bytes: Vec<u8>| Encoded {
        data_url: data_url(mime, &bytes),
        mime,
        width: image.width(),
        height: image.height(),
        bytes: bytes.len(),
        encoded: bytes,
    };

    if content == Content::Graphic {
        let bytes = png(&image).map_err(|e| fail(e.to_string()))?;
        if fits(PNG, bytes.len()) {
            return Ok(done(&image, PNG, bytes));
        }
    }
    let start = opts.quality();
    let ladder: Vec<u8> = std::iter::once(start)
        .chain([80, 70, 60, 50].into_iter().filter(|&q| q < start))
        .collect();
    let mut image = image;
    loop {
        for &q in &ladder {
            let bytes = jpeg(&image, q).map_err(fail)?;
            if fits(JPEG, bytes.len()) {
                return Ok(done(&image, JPEG, bytes));
            }
        }
        if image.width().min(image.height()) <= 64 {
            return Err(PrepError::CannotFit {
                name: name.to_owned(),
                limit: opts.max_data_url_bytes,
            });
        }
        let (w, h) = scale::scaled_size(image.width(), image.height(), 0.8);
        image = scale::resize(&image, None, w, h, content).map_err(fail)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_url_length_is_predicted_exactly() {
        for n in 0..10 {
            let bytes = vec![7u8; n];
            assert_eq!(data_url(JPEG, &bytes).len(), data_url_len(JPEG, n));
        }
        assert!(data_url(PNG, b"abc").starts_with("data:image/png;base64,YWJj"));
    }
}
