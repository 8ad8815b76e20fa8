//! Images made in code: encoders, photo- and screenshot-like pictures, hand-built files (EXIF
//! orientation, PNG headers claiming any size, palette PNGs), words drawn by ImageMagick, and
//! a data URL decoder.

use std::io::Cursor;
use std::path::Path;
use std::process::Command;

use base64::Engine;
use image::{DynamicImage, ExtendedColorType, ImageEncoder, ImageFormat, Rgb, RgbImage};
/// Encode with the `image` crate.
pub fn encode(img: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).expect("encode test image");
    out.into_inner()
}

/// Encode 8-bit RGB as JPEG (4:2:0 below quality 90) with `jpeg-encoder`.
pub fn jpeg(img: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, quality)
        .encode(
            img.as_raw(),
            img.width() as u16,
            img.height() as u16,
            jpeg_encoder::ColorType::Rgb,
        )
        .expect("encode jpeg");
    out
}

/// PNG from raw 8-bit RGB.
pub fn png_rgb(img: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            ExtendedColorType::Rgb8,
        )
        .expect("encode png");
    out
}

/// A deterministic pseudo-random generator.
pub struct Rng(pub u64);
impl Rng {
    /// The next 32 bits (xorshift64).
    #[allow(clippy::should_implement_trait)] // an endless generator, not an iterator
    pub fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 32) as u32
    }
}

/// Smooth gradients plus noise, like a photo.
pub fn photo(w: u32, h: u32) -> RgbImage {
    let mut rng = Rng(0x1234_5678_9ABC_DEF1);
    RgbImage::from_fn(w, h, |x, y| {
        let n = (rng.next() % 17) as i32 - 8;
        let r = (x * 200 / w) as i32 + 30 + n;
        let g = (y * 180 / h) as i32 + 40 + n;
        let b = 120 + ((x + y) % 64) as i32 + n;
        Rgb([r, g, b].map(|v| v.clamp(0, 255) as u8))
    })
}

/// White page with lines of dark glyph-like marks and a header bar, like a screenshot.
pub fn screenshot(w: u32, h: u32) -> RgbImage {
    let mut rng = Rng(99);
    let mut img = RgbImage::from_pixel(w, h, Rgb([255, 255, 255]));
    for y in 0..40.min(h) {
        for x in 0..w {
            img.put_pixel(x, y, Rgb([40, 44, 52]));
        }
    }
    let mut line = 60;
    while line + 14 < h {
        let mut x = 30;
        let end = w.saturating_sub(30 + rng.next() % (w / 3).max(1));
        while x + 12 < end {
            let glyph = 4 + rng.next() % 8;
            for gy in line + 3..line + 14 {
                for gx in x..x + glyph {
                    img.put_pixel(gx, gy, Rgb([25, 25, 25]));
                }
            }
            x += glyph + 3;
        }
        line += 26;
    }
    img
}

/// Decode a data URL's payload with the `image` crate, checking its media type.
pub fn decode_data_url(url: &str) -> (String, DynamicImage) {
    let rest = url.strip_prefix("data:").expect("data: prefix");
    let (mime, payload) = rest.split_once(";base64,").expect("base64 marker");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(payload)
        .expect("base64");
    let img = image::load_from_memory(&bytes).expect("data URL holds an image");
    let expected = match mime {
        "image/png" => ImageFormat::Png,
        "image/jpeg" => ImageFormat::Jpeg,
        other => panic!("unexpected mime {other}"),
    };
    assert_eq!(image::guess_format(&bytes).unwrap(), expected);
    (mime.to_owned(), img)
}

/// Insert an EXIF APP1 segment holding only an Orientation tag right after SOI.
pub fn with_exif_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
    let mut tiff = Vec::new();
    tiff.extend_from_slice(b"MM\0*"); // big-endian TIFF header
    tiff.extend_from_slice(&8u32.to_be_bytes()); // IFD0 at offset 8
    tiff.extend_from_slice(&1u16.to_be_bytes()); // one entry
    tiff.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
    tiff.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_be_bytes()); // count 1
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0]); // value padding
    tiff.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// CRC-32 (ISO-HDLC), as PNG chunks use.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A PNG chunk with length and CRC.
pub fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32(&body).to_be_bytes());
    out
}

/// zlib stream of stored (uncompressed) deflate blocks.
pub fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let chunks: Vec<&[u8]> = if data.is_empty() {
        vec![&[][..]]
    } else {
        data.chunks(65535).collect()
    };
    for (i, c) in chunks.iter().enumerate() {
        out.push(u8::from(i + 1 == chunks.len()));
        out.extend_from_slice(&(c.len() as u16).to_le_bytes());
        out.extend_from_slice(&(!(c.len() as u16)).to_le_bytes());
        out.extend_from_slice(c);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &x in data {
        a = (a + u32::from(x)) % 65521;
        b = (b + a) % 65521;
    }
    out.extend_from_slice(&((b << 16) | a).to_be_bytes());
    out
}

/// A PNG header (signature + IHDR) declaring any size, with nothing after it.
pub fn png_header(width: u32, height: u32, bit_depth: u8, color_type: u8) -> Vec<u8> {
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[bit_depth, color_type, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend_from_slice(&png_chunk(b"IHDR", &ihdr));
    out
}

/// An 8-bit palette PNG: `indices` row-major, `palette` RGB triples.
pub fn palette_png(width: u32, height: u32, palette: &[[u8; 3]], indices: &[u8]) -> Vec<u8> {
    let mut out = png_header(width, height, 8, 3);
    out.extend_from_slice(&png_chunk(b"PLTE", &palette.concat()));
    let mut raw = Vec::new();
    for row in indices.chunks(width as usize) {
        raw.push(0); // filter: none
        raw.extend_from_slice(row);
    }
    out.extend_from_slice(&png_chunk(b"IDAT", &zlib_stored(&raw)));
    out.extend_from_slice(&png_chunk(b"IEND", &[]));
    out
}

/// Smooth gradients plus noise, like a photo; `seed` makes each one different (its own noise
/// and a blue shift).
pub fn seeded_photo(w: u32, h: u32, seed: u64) -> RgbImage {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    RgbImage::from_fn(w, h, |x, y| {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        let n = (s % 17) as i32 - 8;
        let r = (x * 200 / w) as i32 + 30 + n;
        let g = (y * 180 / h) as i32 + 40 + n;
        let b = 120 + ((x + y) % 64) as i32 + n + (seed % 50) as i32;
        Rgb([r, g, b].map(|v| v.clamp(0, 255) as u8))
    })
}

/// Lines of words drawn in black on a white `w`×`h` canvas by ImageMagick's `convert`
/// (DejaVu Sans 30 pt, as `make setup` installs them), written to `dir/name`; returns the path
/// as text.
///
/// # Panics
/// When `convert` is missing or fails.
pub fn drawn(dir: &Path, name: &str, w: u32, h: u32, lines: &[&str]) -> String {
    let out = dir.join(name);
    let mut cmd = Command::new("convert");
    cmd.arg("-size").arg(format!("{w}x{h}")).arg("xc:white");
    cmd.args(["-font", "DejaVu-Sans", "-pointsize", "30", "-fill", "black"]);
    for (i, text) in lines.iter().enumerate() {
        cmd.arg("-draw")
            .arg(format!("text 60,{} '{text}'", 120 + 70 * i));
    }
    let r = cmd
        .arg(&out)
        .output()
        .expect("ImageMagick `convert` is installed (make setup installs imagemagick)");
    assert!(
        r.status.success(),
        "convert failed: {}",
        String::from_utf8_lossy(&r.stderr)
    );
    out.display().to_string()
}
