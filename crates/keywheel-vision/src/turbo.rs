//! libjpeg-turbo, the JPEG decoder tried first (through the `turbojpeg` crate, which builds
//! the libjpeg-turbo 3 source it bundles, SIMD included).
//!
//! It decodes at any scale in eighths straight from the DCT coefficients (a 4000×3000 photo
//! headed for 1120 px is decoded at 3/8, 1500×1125), and its entropy decoder is about twice
//! as fast as the pure-Rust one. The scale asked for is the smallest eighth that still
//! gives at least the size the caller needs; the resizer finishes the job.
//!
//! Only 8-bit lossy grey and YCbCr/RGB files come here, after [`crate::decode`] has read the
//! header, checked the size and memory limits and found the orientation. Anything
//! libjpeg-turbo refuses *or warns about* (a file that ends early, corrupt entropy data,
//! extraneous bytes, too many progressive scans) answers `None`, and the pure-Rust decoders
//! read the file exactly as they did before it was added: the same pixels where they can,
//! the same refusal where they cannot.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use image::{DynamicImage, GrayImage, RgbImage};
use turbojpeg::{Decompressor, Image, PixelFormat, ScalingFactor};

/// Progressive scans accepted before the file is left to the other decoder (each scan
/// revisits every coefficient; a crafted file can have thousands). libjpeg-turbo's
/// documentation suggests 500.
const MAX_SCANS: u32 = 500;

static ENABLED: AtomicBool = AtomicBool::new(true);

/// Whether JPEGs go to libjpeg-turbo first (the default). Off, they take the pure-Rust
/// decoders only, as before libjpeg-turbo was added. For benchmarks that measure both in
/// one run; a process-wide switch, so not for tests that run in parallel.
#[doc(hidden)]
pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

pub(crate) fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

static SMALLEST_EIGHTHS: AtomicUsize = AtomicUsize::new(1);

/// Never decode below `eighths`/8 (default 1: the smallest eighth that covers the output).
/// For benchmarks that compare scales in one run; process-wide, like [`set_enabled`].
#[doc(hidden)]
pub fn set_smallest_eighths(eighths: usize) {
    SMALLEST_EIGHTHS.store(eighths.clamp(1, 8), Ordering::Relaxed);
}

/// The smallest scale in eighths (at most 1) that turns `width`×`height` into at least
/// `want_w`×`want_h`.
pub(crate) fn scale_for(width: u32, height: u32, want_w: u32, want_h: u32) -> ScalingFactor {
    Decompressor::supported_scaling_factors()
        .into_iter()
        .filter(|f| f.num() <= f.denom())
        .filter(|f| f.num() * 8 >= SMALLEST_EIGHTHS.load(Ordering::Relaxed) * f.denom())
        .filter(|f| {
            f.scale(width as usize) >= want_w as usize
                && f.scale(height as usize) >= want_h as usize
        })
        .min_by(|a, b| (a.num() * b.denom()).cmp(&(b.num() * a.denom())))
        .unwrap_or(ScalingFactor::ONE)
}

/// Decode `bytes`, a `width`×`height` JPEG, to at least `want_w`×`want_h` (grey when `grey`,
/// else RGB). `None` when libjpeg-turbo refuses the file or warns about it.
pub(crate) fn decode(
    bytes: &[u8],
    (width, height): (u32, u32),
    (want_w, want_h): (u32, u32),
    grey: bool,
) -> Option<DynamicImage> {
    let mut dec = Decompressor::new().ok()?;
    let header = dec.read_header(bytes).ok()?;
    if header.is_lossless || (header.width, header.height) != (width as usize, height as usize) {
        return None;
    }
    let factor = scale_for(width, height, want_w, want_h);
    dec.set_scaling_factor(factor).ok()?;
    dec.set_scan_limit(MAX_SCANS).ok()?;
    let (w, h) = (factor.scale(header.width), factor.scale(header.height));
    let format = if grey {
        PixelFormat::GRAY
    } else {
        PixelFormat::RGB
    };
    let pitch = w.checked_mul(format.size())?;
    let mut pixels = vec![0u8; pitch.checked_mul(h)?];
    let out = Image {
        pixels: pixels.as_mut_slice(),
        width: w,
        pitch,
        height: h,
        format,
    };
    dec.decompress(bytes, out).ok()?;
    let (w, h) = (u32::try_from(w).ok()?, u32::try_from(h).ok()?);
    if grey {
        GrayImage::from_raw(w, h, pixels).map(DynamicImage::ImageLuma8)
    } else {
        RgbImage::from_raw(w, h, pixels).map(DynamicImage::ImageRgb8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_smallest_eighth_that_is_big_enough() {
        let f = scale_for(4000, 3000, 1120, 840);
        assert_eq!((f.num(), f.denom()), (3, 8));
        assert_eq!(f.scale(4000), 1500);
        // Exactly half is enough for exactly half.
        let f = scale_for(4000, 3000, 2000, 1500);
        assert_eq!((f.num(), f.denom()), (1, 2));
        // One pixel more needs the next eighth.
        let f = scale_for(4000, 3000, 2001, 1500);
        assert_eq!((f.num(), f.denom()), (5, 8));
        assert_eq!(scale_for(100, 100, 100, 100), ScalingFactor::ONE);
        assert_eq!(scale_for(4000, 3000, 1, 1), ScalingFactor::ONE_EIGHTH);
    }

    #[test]
    fn refuses_what_is_not_a_whole_jpeg() {
        assert!(decode(b"\xFF\xD8\xFF", (10, 10), (10, 10), false).is_none());
        assert!(decode(b"", (10, 10), (10, 10), true).is_none());
    }
}
