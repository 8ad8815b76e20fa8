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
/// below quality 90 and 4:4:4 from 90 up, through libjpeg-turbo's SIMD compressor (colour
/// conversion, box-filtered chroma, DCT and Huffman coding; the standard tables).
pub(crate) fn jpeg(image: &DynamicImage, quality: u8) -> Result<Vec<u8>, String> {
    use turbojpeg::{Compressor, Image, PixelFormat, Subsamp};

    let (format, subsamp) = match image {
        DynamicImage::ImageLuma8(_) => (PixelFormat::GRAY, Subsamp::Gray),
        _ if quality < 90 => (PixelFormat::RGB, Subsamp::Sub2x2),
        _ => (PixelFormat::RGB, Subsamp::None),
    };
    let side = |v: u32| match u16::try_from(v) {
        Ok(_) => Ok(v as usize),
        Err(_) => Err(format!("{v} px is too large for JPEG")),
    };
    let (width, height) = (side(image.width())?, side(image.height())?);
    let pixels = image.as_bytes();
    if pixels.len() != width * height * format.size() {
        return Err("unexpected pixel type".to_owned());
    }
    let mut compressor = Compressor::new().map_err(|e| e.to_string())?;
    compressor
        .set_quality(i32::from(quality))
        .and_then(|()| compressor.set_subsamp(subsamp))
        .map_err(|e| e.to_string())?;
    compressor
        .compress_to_vec(Image {
            pixels,
            width,
            pitch: width * format.size(),
            height,
            format,
        })
        .map_err(|e| e.to_string())
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
        data_url: crate::stages::time("base64", || data_url(mime, &bytes)),
        mime,
        width: image.width(),
        height: image.height(),
        bytes: bytes.len(),
        encoded: bytes,
    };

    if content == Content::Graphic {
        let bytes =
            crate::stages::time("encode", || png(&image)).map_err(|e| fail(e.to_string()))?;
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
            let bytes = crate::stages::time("encode", || jpeg(&image, q)).map_err(fail)?;
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
    use image::RgbImage;

    /// Smooth gradients and blobs plus sensor-like noise, like the benchmark's photo.
    fn photo(w: u32, h: u32) -> RgbImage {
        let mut state = 0x9E37_79B9_u32;
        RgbImage::from_fn(w, h, |x, y| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let n = ((state >> 16) % 17) as i32 - 8;
            let (fx, fy) = (f64::from(x) / f64::from(w), f64::from(y) / f64::from(h));
            let blob = ((fx * 9.0).sin() * (fy * 7.0).cos() * 40.0) as i32;
            let c = [
                (fx * 200.0) as i32 + 30 + blob,
                (fy * 180.0) as i32 + 40 - blob / 2,
                ((1.0 - fx) * 150.0 + fy * 60.0) as i32 + blob / 3,
            ];
            image::Rgb(c.map(|v| (v + n).clamp(0, 255) as u8))
        })
    }

    fn psnr(a: &[u8], b: &[u8]) -> f64 {
        let mse = a
            .iter()
            .zip(b)
            .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
            .sum::<f64>()
            / a.len() as f64;
        10.0 * (255.0 * 255.0 / mse).log10()
    }

    /// The encoder changed from jpeg-encoder to libjpeg-turbo: at the same quality, on the
    /// same pixels, the output is as faithful (PSNR against the pixels encoded) and about
    /// the same size, with the same dimensions and chroma subsampling rule.
    #[test]
    fn libjpeg_turbo_encodes_as_faithfully_as_jpeg_encoder_did() {
        let img = photo(1120, 840);
        for quality in [88, 95] {
            let ours = jpeg(&DynamicImage::ImageRgb8(img.clone()), quality).unwrap();
            let mut before = Vec::new();
            jpeg_encoder::Encoder::new(&mut before, quality)
                .encode(img.as_raw(), 1120, 840, jpeg_encoder::ColorType::Rgb)
                .unwrap();
            let decode = |b: &[u8]| image::load_from_memory(b).unwrap().to_rgb8();
            let (ours_px, before_px) = (decode(&ours), decode(&before));
            assert_eq!(ours_px.dimensions(), (1120, 840));
            let (p_ours, p_before) = (
                psnr(ours_px.as_raw(), img.as_raw()),
                psnr(before_px.as_raw(), img.as_raw()),
            );
            assert!(
                p_ours >= p_before - 0.1,
                "q{quality}: PSNR {p_ours:.2} dB, jpeg-encoder {p_before:.2} dB"
            );
            println!(
                "q{quality}: libjpeg-turbo {p_ours:.2} dB {} bytes, jpeg-encoder {p_before:.2} dB {} bytes",
                ours.len(),
                before.len()
            );
            let ratio = ours.len() as f64 / before.len() as f64;
            assert!(
                (0.85..=1.15).contains(&ratio),
                "q{quality}: {} bytes vs {}",
                ours.len(),
                before.len()
            );
            let subsampled = turbojpeg::read_header(&ours).unwrap().subsamp;
            let want = if quality < 90 {
                turbojpeg::Subsamp::Sub2x2
            } else {
                turbojpeg::Subsamp::None
            };
            assert_eq!(subsampled, want, "q{quality}");
        }
        let grey = DynamicImage::ImageLuma8(DynamicImage::ImageRgb8(img).to_luma8());
        let out = jpeg(&grey, 88).unwrap();
        assert_eq!(
            turbojpeg::read_header(&out).unwrap().subsamp,
            turbojpeg::Subsamp::Gray
        );
    }

    #[test]
    fn data_url_length_is_predicted_exactly() {
        for n in 0..10 {
            let bytes = vec![7u8; n];
            assert_eq!(data_url(JPEG, &bytes).len(), data_url_len(JPEG, n));
        }
        assert!(data_url(PNG, b"abc").starts_with("data:image/png;base64,YWJj"));
    }
}
