//! Decoding bytes into pixels without trusting them.
//!
//! The header is read first and its dimensions are checked against
//! [`PrepOptions::max_pixels`](crate::PrepOptions::max_pixels) before any pixel memory is
//! taken; the decoder then runs under a memory limit
//! ([`PrepOptions::max_decoded_bytes`](crate::PrepOptions::max_decoded_bytes)). A decoder
//! panic is caught and reported as a damaged file.
//!
//! JPEG headers are read by `jpeg-decoder` (size, orientation, limits); the pixels come from
//! libjpeg-turbo ([`crate::turbo`]), which decodes at any scale in eighths straight from the
//! DCT coefficients: a 4000×3000 photo headed for 1120 px is decoded at 3/8, 1500×1125,
//! skipping most of the inverse-DCT and colour work and memory. What libjpeg-turbo refuses
//! or warns about (CMYK, lossless or 12-bit files, damaged or truncated data) is decoded by
//! `jpeg-decoder` as before (at 1/2, 1/4 or 1/8 size), then zune-jpeg and ImageMagick. Every
//! other format goes through the `image` crate.

use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

use image::metadata::Orientation;
use image::{DynamicImage, GrayImage, ImageDecoder, ImageError, ImageReader, Limits, RgbImage};

use crate::error::PrepError;
use crate::format::Format;
use crate::options::PrepOptions;

/// What the header says, before the pixels are decoded.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Header {
    /// Stored width (before orientation).
    pub width: u32,
    /// Stored height (before orientation).
    pub height: u32,
    /// The EXIF (or TIFF) orientation.
    pub orientation: Orientation,
}

/// Decoded pixels, in stored orientation, possibly smaller than the header says (JPEG
/// DCT scaling). Any colour type; see [`crate::flatten`].
pub(crate) struct Decoded {
    pub header: Header,
    pub image: DynamicImage,
}

/// Decode `bytes` (already sniffed as the supported `format`).
///
/// `scale_for` is told the header and answers the smallest scale (relative to the stored
/// size, in (0, 1]) the caller will need; decoders that can decode smaller for free do so,
/// never below that scale.
pub(crate) fn decode(
    name: &str,
    bytes: &[u8],
    format: Format,
    opts: &PrepOptions,
    scale_for: &dyn Fn(&Header) -> f64,
) -> Result<Decoded, PrepError> {
    if let Some((width, height)) = crate::peek::dimensions(bytes, format) {
        check_pixels(name, format, width, height, opts)?;
    }
    let run = || match format {
        Format::Jpeg => decode_jpeg(name, bytes, opts, scale_for, crate::turbo::enabled()),
        _ => decode_with_image(name, bytes, format, opts),
    };
    let first = match catch_unwind(AssertUnwindSafe(run)) {
        Ok(result) => result,
        Err(_) => Err(PrepError::Damaged {
            name: name.to_owned(),
            format,
            reason: "the decoder gave up on malformed data".to_owned(),
        }),
    };
    match first {
        Err(e) if may_fall_back(&e, format) => fall_back(name, bytes, format, opts).ok_or(e),
        other => other,
    }
}

/// Whether another decoder may do better than the refusal `e`: a variant our decoder lacks,
/// or data it calls damaged that a more lenient reader may still read. A file that ends
/// early stays refused (lenient readers fill the rest with grey), except a TIFF, whose
/// strip sizes our decoder takes more literally than libtiff does. Limits are never
/// second-guessed.
fn may_fall_back(e: &PrepError, format: Format) -> bool {
    match e {
        PrepError::UnsupportedFeature { .. } | PrepError::Damaged { .. } => true,
        PrepError::Truncated { .. } => format == Format::Tiff,
        _ => false,
    }
}

/// The other decoders, in order: for JPEG the `image` crate's (zune-jpeg, lenient about
/// misplaced restart markers and broken EXIF blocks), then ImageMagick
/// ([`crate::fallback`]) for every format. Its output is already upright.
fn fall_back(name: &str, bytes: &[u8], format: Format, opts: &PrepOptions) -> Option<Decoded> {
    if format == Format::Jpeg {
        let lenient = catch_unwind(AssertUnwindSafe(|| {
            decode_with_image(name, bytes, format, opts)
        }));
        if let Ok(Ok(decoded)) = lenient {
            return Some(decoded);
        }
    }
    let image = crate::fallback::decode(bytes, format, 0, opts)?;
    Some(Decoded {
        header: Header {
            width: image.width(),
            height: image.height(),
            orientation: Orientation::NoTransforms,
        },
        image,
    })
}

fn check_pixels(
    name: &str,
    format: Format,
    width: u32,
    height: u32,
    opts: &PrepOptions,
) -> Result<(), PrepError> {
    if u64::from(width) * u64::from(height) > opts.max_pixels {
        return Err(PrepError::TooManyPixels {
            name: name.to_owned(),
            width,
            height,
            max_pixels: opts.max_pixels,
        });
    }
    if width == 0 || height == 0 {
        return Err(damaged(
            name,
            format,
            &format!("it declares a size of {width}×{height} pixels"),
        ));
    }
    Ok(())
}

/// `turbo`: try libjpeg-turbo first (see the module documentation).
fn decode_jpeg(
    name: &str,
    bytes: &[u8],
    opts: &PrepOptions,
    scale_for: &dyn Fn(&Header) -> f64,
    turbo: bool,
) -> Result<Decoded, PrepError> {
    use jpeg_decoder::PixelFormat;

    let err = |e| jpeg_error(name, opts, e);
    let mut dec = jpeg_decoder::Decoder::new(bytes);
    dec.read_info().map_err(err)?;
    let info = dec
        .info()
        .ok_or_else(|| damaged(name, Format::Jpeg, "it has no frame header"))?;
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    check_pixels(name, Format::Jpeg, width, height, opts)?;
    let orientation = dec
        .exif_data()
        .and_then(Orientation::from_exif_chunk)
        .unwrap_or(Orientation::NoTransforms);
    let header = Header {
        width,
        height,
        orientation,
    };

    let scale = scale_for(&header).clamp(f64::MIN_POSITIVE, 1.0);
    let want = |side: u32| (f64::from(side) * scale).ceil().clamp(1.0, 65535.0) as u16;
    let (out_w, out_h) = if scale < 1.0 {
        let (w, h) = dec.scale(want(width), want(height)).map_err(err)?;
        (u32::from(w), u32::from(h))
    } else {
        (width, height)
    };

    // Output buffer plus component planes, and for progressive files the coefficient
    // store at full size (2 bytes per coefficient).
    let bpp = info.pixel_format.pixel_bytes() as u64;
    let channels = if info.pixel_format == PixelFormat::CMYK32 {
        4
    } else {
        bpp.min(3)
    };
    let progressive = info.coding_process == jpeg_decoder::CodingProcess::DctProgressive;
    let needed = u64::from(out_w) * u64::from(out_h) * (bpp + channels)
        + if progressive {
            u64::from(width) * u64::from(height) * channels * 2
        } else {
            0
        };
    if needed > opts.max_decoded_bytes {
        return Err(PrepError::TooMuchMemory {
            name: name.to_owned(),
            needed,
            limit: opts.max_decoded_bytes,
        });
    }
    // libjpeg-turbo's scale is never larger than jpeg-decoder's (eighths include halves and
    // quarters), so the memory check above holds for it too.
    let lossy_8bit = matches!(
        info.coding_process,
        jpeg_decoder::CodingProcess::DctSequential | jpeg_decoder::CodingProcess::DctProgressive
    );
    let grey = match info.pixel_format {
        PixelFormat::L8 => Some(true),
        PixelFormat::RGB24 => Some(false),
        _ => None,
    };
    if let Some(grey) = grey.filter(|_| lossy_8bit && turbo) {
        let want = if scale < 1.0 {
            (u32::from(want(width)), u32::from(want(height)))
        } else {
            (width, height)
        };
        if let Some(image) = crate::turbo::decode(bytes, (width, height), want, grey) {
            return Ok(Decoded { header, image });
        }
    }
    dec.set_max_decoding_buffer_size(usize::try_from(opts.max_decoded_bytes).unwrap_or(usize::MAX));
    let data = dec.decode().map_err(err)?;

    let pixels = out_w as usize * out_h as usize;
    let image = match info.pixel_format {
        PixelFormat::L8 if data.len() == pixels => {
            GrayImage::from_raw(out_w, out_h, data).map(DynamicImage::ImageLuma8)
        }
        PixelFormat::RGB24 if data.len() == pixels * 3 => {
            RgbImage::from_raw(out_w, out_h, data).map(DynamicImage::ImageRgb8)
        }
        PixelFormat::CMYK32 if data.len() == pixels * 4 => {
            RgbImage::from_raw(out_w, out_h, cmyk_to_rgb(&data)).map(DynamicImage::ImageRgb8)
        }
        // Lossless JPEG with more than 8 bits per sample comes out as native-endian u16.
        PixelFormat::L16 | PixelFormat::L8 if data.len() == pixels * 2 => {
            GrayImage::from_raw(out_w, out_h, wide_to_u8(&data)).map(DynamicImage::ImageLuma8)
        }
        PixelFormat::RGB24 if data.len() == pixels * 6 => {
            RgbImage::from_raw(out_w, out_h, wide_to_u8(&data)).map(DynamicImage::ImageRgb8)
        }
        _ => None,
    }
    .ok_or_else(|| {
        damaged(
            name,
            Format::Jpeg,
            "the decoded pixel data has the wrong size",
        )
    })?;
    Ok(Decoded { header, image })
}

/// Adobe-style CMYK (as `jpeg-decoder` hands it out, ink amounts 0–255) to RGB.
fn cmyk_to_rgb(cmyk: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(cmyk.len() / 4 * 3);
    for px in cmyk.chunks_exact(4) {
        let k = 255 - u32::from(px[3]);
        for &ink in &px[..3] {
            out.push(((255 - u32::from(ink)) * k / 255) as u8);
        }
    }
    out
}

/// Native-endian u16 samples of unknown precision to u8, shifting by the bits in use.
fn wide_to_u8(data: &[u8]) -> Vec<u8> {
    let samples = data
        .chunks_exact(2)
        .map(|c| u16::from_ne_bytes([c[0], c[1]]));
    let max = samples.clone().max().unwrap_or(0);
    let shift = (16 - max.leading_zeros()).saturating_sub(8);
    samples.map(|v| (v >> shift) as u8).collect()
}

fn jpeg_error(name: &str, opts: &PrepOptions, e: jpeg_decoder::Error) -> PrepError {
    match e {
        jpeg_decoder::Error::Unsupported(feature) => PrepError::UnsupportedFeature {
            name: name.to_owned(),
            format: Format::Jpeg,
            feature: jpeg_feature(&feature),
        },
        jpeg_decoder::Error::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            truncated(name, Format::Jpeg)
        }
        jpeg_decoder::Error::Format(msg) if is_eof_message(&msg) => truncated(name, Format::Jpeg),
        jpeg_decoder::Error::Format(msg) if msg.contains("maximum") && msg.contains("buffer") => {
            PrepError::TooMuchMemory {
                name: name.to_owned(),
                needed: 0,
                limit: opts.max_decoded_bytes,
            }
        }
        other => damaged(name, Format::Jpeg, &other.to_string()),
    }
}

fn jpeg_feature(f: &jpeg_decoder::UnsupportedFeature) -> String {
    use jpeg_decoder::UnsupportedFeature as U;
    match f {
        U::Hierarchical => "hierarchical coding".to_owned(),
        U::ArithmeticEntropyCoding => "arithmetic coding".to_owned(),
        U::SamplePrecision(p) => format!("{p}-bit samples"),
        U::ComponentCount(n) => format!("{n} colour components"),
        U::DNL => "a DNL marker".to_owned(),
        U::SubsamplingRatio => "an unusual chroma subsampling".to_owned(),
        U::NonIntegerSubsamplingRatio => "a non-integer chroma subsampling".to_owned(),
        U::ColorTransform(t) => format!("the {t:?} colour transform"),
    }
}

fn decode_with_image(
    name: &str,
    bytes: &[u8],
    format: Format,
    opts: &PrepOptions,
) -> Result<Decoded, PrepError> {
    let image_format = format
        .image_format()
        .ok_or_else(|| PrepError::Unsupported {
            name: name.to_owned(),
            format,
        })?;
    let err = |e| image_error(name, format, opts, e);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), image_format);
    let mut limits = Limits::default();
    limits.max_alloc = Some(opts.max_decoded_bytes);
    // Strict per-side limits make decoders that read dimensions early refuse at once.
    let side_limit = u32::try_from(opts.max_pixels).unwrap_or(u32::MAX).max(1);
    limits.max_image_width = Some(side_limit);
    limits.max_image_height = Some(side_limit);
    reader.limits(limits);
    let mut dec = reader.into_decoder().map_err(err)?;
    let (width, height) = dec.dimensions();
    check_pixels(name, format, width, height, opts)?;
    let needed = dec.total_bytes();
    if needed > opts.max_decoded_bytes {
        return Err(PrepError::TooMuchMemory {
            name: name.to_owned(),
            needed,
            limit: opts.max_decoded_bytes,
        });
    }
    let mut orientation = dec.orientation().unwrap_or(Orientation::NoTransforms);
    if orientation == Orientation::NoTransforms
        && let Some(stated) = crate::orient::from_container(format, bytes)
    {
        orientation = stated;
    }
    let image = DynamicImage::from_decoder(dec).map_err(err)?;
    Ok(Decoded {
        header: Header {
            width,
            height,
            orientation,
        },
        image,
    })
}

fn image_error(name: &str, format: Format, opts: &PrepOptions, e: ImageError) -> PrepError {
    match e {
        ImageError::Limits(_) => PrepError::TooMuchMemory {
            name: name.to_owned(),
            needed: 0,
            limit: opts.max_decoded_bytes,
        },
        ImageError::Unsupported(u) => PrepError::UnsupportedFeature {
            name: name.to_owned(),
            format,
            feature: u.to_string(),
        },
        ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            truncated(name, format)
        }
        other => {
            if chain_has_eof(&other) {
                truncated(name, format)
            } else {
                damaged(name, format, &other.to_string())
            }
        }
    }
}

/// Whether an error (or anything in its source chain) says the data ended early.
fn chain_has_eof(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::UnexpectedEof
        {
            return true;
        }
        if is_eof_message(&err.to_string()) {
            return true;
        }
        cur = err.source();
    }
    false
}

fn is_eof_message(msg: &str) -> bool {
    let m = msg.to_ascii_lowercase();
    [
        "eof",
        "end of file",
        "end of stream",
        "unexpected end",
        "truncated",
        "no more data",
        "ended early",
    ]
    .iter()
    .any(|needle| m.contains(needle))
}

fn truncated(name: &str, format: Format) -> PrepError {
    PrepError::Truncated {
        name: name.to_owned(),
        format,
    }
}

fn damaged(name: &str, format: Format, reason: &str) -> PrepError {
    PrepError::Damaged {
        name: name.to_owned(),
        format,
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A photo-like `w`×`h` JPEG (gradients plus noise) at quality 90.
    fn photo_jpeg(w: u16, h: u16, sampling: jpeg_encoder::SamplingFactor) -> Vec<u8> {
        let mut state = 99u32;
        let rgb: Vec<u8> = (0..u32::from(h))
            .flat_map(|y| (0..u32::from(w)).map(move |x| (x, y)))
            .flat_map(|(x, y)| {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
                let n = (state >> 16) % 13;
                [
                    (x / 3 + n) as u8,
                    (y / 2 + n) as u8,
                    (200 - x / 4 + n) as u8,
                ]
            })
            .collect();
        let mut out = Vec::new();
        let mut enc = jpeg_encoder::Encoder::new(&mut out, 90);
        enc.set_sampling_factor(sampling);
        enc.encode(&rgb, w, h, jpeg_encoder::ColorType::Rgb)
            .unwrap();
        out
    }

    fn both(bytes: &[u8], scale: f64) -> (DynamicImage, DynamicImage) {
        let opts = PrepOptions::default();
        let run = |turbo| {
            decode_jpeg("t.jpg", bytes, &opts, &|_| scale, turbo)
                .unwrap()
                .image
        };
        (run(true), run(false))
    }

    #[test]
    fn libjpeg_turbo_gives_the_pixels_jpeg_decoder_gives() {
        use jpeg_encoder::SamplingFactor as S;
        for sampling in [S::R_4_2_0, S::R_4_4_4] {
            // Scale 1/2 is one both decoders make, so the sizes match.
            for scale in [1.0, 0.5] {
                let (c, rust) = both(&photo_jpeg(320, 240, sampling), scale);
                assert_eq!((c.width(), c.height()), (rust.width(), rust.height()));
                let (c, rust) = (c.to_rgb8(), rust.to_rgb8());
                let diffs: Vec<u8> = c
                    .as_raw()
                    .iter()
                    .zip(rust.as_raw())
                    .map(|(a, b)| a.abs_diff(*b))
                    .collect();
                let mean = diffs.iter().map(|&d| f64::from(d)).sum::<f64>() / diffs.len() as f64;
                assert!(
                    mean < 1.5,
                    "{sampling:?} at {scale}: mean difference {mean}"
                );
            }
        }
    }

    #[test]
    fn libjpeg_turbo_decodes_at_the_smallest_eighth_that_covers_the_output() {
        let jpeg = photo_jpeg(320, 240, jpeg_encoder::SamplingFactor::R_4_2_0);
        // 0.28 of 320 is 90 px: 3/8 (120 px), where jpeg-decoder can only do 1/2 (160 px).
        let (c, rust) = both(&jpeg, 0.28);
        assert_eq!((c.width(), c.height()), (120, 90));
        assert_eq!((rust.width(), rust.height()), (160, 120));
    }

    #[test]
    fn grey_stays_grey_and_damage_goes_to_jpeg_decoder() {
        let grey: Vec<u8> = (0..64u32 * 48).map(|i| (i % 251) as u8).collect();
        let mut jpeg = Vec::new();
        jpeg_encoder::Encoder::new(&mut jpeg, 90)
            .encode(&grey, 64, 48, jpeg_encoder::ColorType::Luma)
            .unwrap();
        assert!(matches!(both(&jpeg, 1.0).0, DynamicImage::ImageLuma8(_)));
        // Cut inside the entropy-coded data: libjpeg-turbo only warns (and would fill the
        // rest with grey), so the file goes to jpeg-decoder, which calls it truncated.
        let photo = photo_jpeg(320, 240, jpeg_encoder::SamplingFactor::R_4_2_0);
        let cut = &photo[..photo.len() * 2 / 3];
        assert!(crate::turbo::decode(cut, (320, 240), (320, 240), false).is_none());
        let opts = PrepOptions::default();
        let err = decode_jpeg("cut.jpg", cut, &opts, &|_| 1.0, true).err();
        assert!(matches!(err, Some(PrepError::Truncated { .. })), "{err:?}");
    }

    #[test]
    fn cmyk_white_and_black() {
        assert_eq!(cmyk_to_rgb(&[0, 0, 0, 0]), vec![255, 255, 255]);
        assert_eq!(cmyk_to_rgb(&[0, 0, 0, 255]), vec![0, 0, 0]);
        assert_eq!(cmyk_to_rgb(&[0, 255, 255, 0]), vec![255, 0, 0]);
    }

    #[test]
    fn wide_samples_keep_their_top_bits() {
        let data: Vec<u8> = [4095u16, 0, 2048]
            .iter()
            .flat_map(|v| v.to_ne_bytes())
            .collect();
        assert_eq!(wide_to_u8(&data), vec![255, 0, 128]);
    }
}
