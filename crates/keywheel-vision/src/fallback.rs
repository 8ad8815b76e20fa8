//! The fallback decoder: ImageMagick (with libtiff, libjpeg and its own BMP and GIF readers)
//! for the variants our Rust decoders lack.
//!
//! The `image` crate and `jpeg-decoder` read almost every PNG, JPEG, GIF, WebP and BMP, but
//! not several TIFF variants (palette, 2- and 4-bit grey, CIE L\*a\*b\*, old-style and
//! YCbCr JPEG-in-TIFF, LZMA, tiled planar), a few BMP (RLE top-down, OS/2 v2) and GIF (no
//! palette) files, nor JPEGs whose restart markers are misplaced. Writing those decoders
//! ourselves would be a large, rarely exercised attack surface; ImageMagick is
//! packaged by every distribution (Debian: `imagemagick`), maintained, fuzzed (OSS-Fuzz) and
//! reads all of them through libtiff and libjpeg. It runs only after our decoder has refused
//! a file, as a separate process (a crash there cannot take Keywheel with it), with:
//!
//! - the coder named explicitly (`tiff:-`), so the bytes are never handed to another reader
//!   (no PostScript, no SVG, no delegates);
//! - ImageMagick's own resource limits: area (the pixel limit), memory, map, disk, one
//!   thread and a time limit;
//! - the output read back as PNG through the `image` crate under the same limits.
//!
//! When ImageMagick is missing the original refusal stands. `KEYWHEEL_IMAGEMAGICK` names the
//! `convert` (or `magick`) program to use; an empty value turns the fallback off.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use image::{DynamicImage, ImageFormat, ImageReader, Limits};

use crate::format::Format;
use crate::options::PrepOptions;

/// Seconds ImageMagick may spend on one image.
const TIME_LIMIT_S: u32 = 30;

/// The ImageMagick program, if there is one.
fn program() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("KEYWHEEL_IMAGEMAGICK") {
        return (!p.is_empty()).then(|| PathBuf::from(p));
    }
    for name in ["/usr/bin/magick", "/usr/bin/convert"] {
        let p = PathBuf::from(name);
        if p.is_file() {
            return Some(p);
        }
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|d| [d.join("magick"), d.join("convert")])
        .find(|p| p.is_file())
}

/// Whether the fallback decoder can be used at all.
pub(crate) fn available() -> bool {
    program().is_some()
}

/// ImageMagick's name for the coder of `format`.
fn coder(format: Format) -> Option<&'static str> {
    Some(match format {
        Format::Tiff => "tiff",
        Format::Bmp => "bmp",
        Format::Gif => "gif",
        Format::Jpeg => "jpeg",
        Format::WebP => "webp",
        Format::Png => "png",
        _ => return None,
    })
}

/// Decode page `page` (from 0) of `bytes` with ImageMagick, turned upright (`-auto-orient`).
/// `None` when ImageMagick is missing, refuses the file, or breaks a limit.
pub(crate) fn decode(
    bytes: &[u8],
    format: Format,
    page: usize,
    opts: &PrepOptions,
) -> Option<DynamicImage> {
    let program = program()?;
    let coder = coder(format)?;
    let mb = |b: u64| format!("{}MiB", (b / (1024 * 1024)).max(16));
    let mut cmd = Command::new(&program);
    // `magick` wants no `convert` subcommand; `convert` takes the same arguments.
    cmd.args(["-limit", "area", &opts.max_pixels.to_string()])
        .args(["-limit", "memory", &mb(opts.max_decoded_bytes)])
        .args(["-limit", "map", &mb(opts.max_decoded_bytes)])
        .args(["-limit", "disk", &mb(opts.max_decoded_bytes)])
        .args(["-limit", "thread", "1"])
        .args(["-limit", "time", &TIME_LIMIT_S.to_string()])
        .arg(format!("{coder}:-[{page}]"))
        .args(["-auto-orient", "-depth", "8"])
        .args(["-define", "png:compression-level=1"])
        .arg("png:-")
        .env_remove("MAGICK_CONFIGURE_PATH");
    // Children start without our secrets (as in keywheel-core's child.rs).
    for (var, _) in std::env::vars_os() {
        let v = var.to_string_lossy();
        if v.starts_with("OPENROUTER_") || v.starts_with("KEYWHEEL_") {
            cmd.env_remove(&var);
        }
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().ok()?;
    let mut stdin = child.stdin.take()?;
    let output = std::thread::scope(|s| {
        s.spawn(move || {
            // ImageMagick may stop reading early (a bad header); that is its answer, not ours.
            let _ = stdin.write_all(bytes);
        });
        let mut out = Vec::new();
        let stdout = child.stdout.take()?;
        let cap = opts.max_decoded_bytes.saturating_add(1);
        stdout.take(cap).read_to_end(&mut out).ok()?;
        Some(out)
    });
    let status = child.wait().ok()?;
    let output = output?;
    if !status.success() || output.is_empty() {
        return None;
    }
    let mut reader = ImageReader::with_format(std::io::Cursor::new(output), ImageFormat::Png);
    let mut limits = Limits::default();
    limits.max_alloc = Some(opts.max_decoded_bytes);
    reader.limits(limits);
    let mut image = reader.decode().ok()?;
    if format == Format::Tiff && white_is_zero_below_8_bits(bytes, page) {
        image.invert();
    }
    let pixels = u64::from(image.width()) * u64::from(image.height());
    (pixels > 0 && pixels <= opts.max_pixels).then_some(image)
}

/// ImageMagick 6 reads 2- and 4-bit WhiteIsZero TIFF grey as if black were zero (the
/// picture comes out as its negative); 1-bit fax pages are right. Whether page `page` is such
/// a file, from its tags.
fn white_is_zero_below_8_bits(bytes: &[u8], page: usize) -> bool {
    use tiff::tags::Tag;
    let Ok(mut dec) = tiff::decoder::Decoder::new(std::io::Cursor::new(bytes)) else {
        return false;
    };
    if page > 0 && dec.seek_to_image(page).is_err() {
        return false;
    }
    let photometric = dec.find_tag_unsigned::<u16>(Tag::PhotometricInterpretation);
    let bits = dec.find_tag_unsigned_vec::<u16>(Tag::BitsPerSample);
    matches!(photometric, Ok(Some(0)))
        && matches!(bits, Ok(Some(b)) if b.len() == 1 && (b[0] == 2 || b[0] == 4))
}
