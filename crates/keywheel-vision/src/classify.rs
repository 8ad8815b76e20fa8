//! Telling screenshots and text from photos, to choose between PNG and JPEG.
//!
//! Screens, rendered documents and diagrams are dominated by flat areas: long runs of
//! exactly equal neighbouring pixels, and few distinct colours. PNG keeps their text edges
//! exact and is small for them. Photos and scans have sensor or paper noise, hardly any two
//! neighbours are equal, and JPEG is many times smaller at no visible cost.
//!
//! The rule: sample up to 256 evenly spaced rows; the image is a *graphic* when at least
//! 45 % of horizontally adjacent pixel pairs are exactly equal, or when the sample holds at
//! most 256 distinct colours. Everything else is a *photo*.

use std::collections::HashSet;

use image::DynamicImage;

/// What kind of picture an image is, for choosing its encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Content {
    /// Screenshot, rendered text, diagram: encode as PNG.
    Graphic,
    /// Photo or scan: encode as JPEG.
    Photo,
}

const SAMPLE_ROWS: usize = 256;
const FLAT_SHARE: f64 = 0.45;
const FEW_COLOURS: usize = 256;

/// Classify an 8-bit grey or RGB image (other types are treated as photos).
pub(crate) fn classify(image: &DynamicImage) -> Content {
    let (w, h) = (image.width() as usize, image.height() as usize);
    if w < 2 || h == 0 {
        return Content::Graphic;
    }
    let step = (h / SAMPLE_ROWS).max(1);
    let (pairs, equal, colours) = match image {
        DynamicImage::ImageLuma8(g) => scan::<1>(g.as_raw(), w, h, step),
        DynamicImage::ImageRgb8(c) => scan::<3>(c.as_raw(), w, h, step),
        _ => return Content::Photo,
    };
    let flat = equal as f64 / pairs.max(1) as f64;
    if flat >= FLAT_SHARE || colours <= FEW_COLOURS {
        Content::Graphic
    } else {
        Content::Photo
    }
}

/// Count adjacent pairs, equal adjacent pairs and (up to `FEW_COLOURS + 1`) distinct colours
/// in every `step`-th row.
fn scan<const N: usize>(raw: &[u8], w: usize, h: usize, step: usize) -> (u64, u64, usize) {
    let mut pairs = 0u64;
    let mut equal = 0u64;
    let mut colours: HashSet<[u8; N]> = HashSet::with_capacity(FEW_COLOURS + 1);
    let pixel = |c: &[u8]| -> [u8; N] { c.try_into().unwrap_or([0; N]) };
    for row in raw.chunks_exact(w * N).take(h).step_by(step) {
        let mut prev = pixel(&row[..N]);
        for c in row.chunks_exact(N).skip(1) {
            let px = pixel(c);
            pairs += 1;
            if px == prev {
                equal += 1;
            } else if colours.len() <= FEW_COLOURS {
                colours.insert(px);
            }
            prev = px;
        }
    }
    (pairs, equal, colours.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage};

    #[test]
    fn flat_ui_is_graphic_and_noise_is_photo() {
        let mut ui = RgbImage::from_pixel(300, 200, Rgb([250, 250, 250]));
        for x in 20..280 {
            ui.put_pixel(x, 50, Rgb([20, 20, 20]));
        }
        assert_eq!(classify(&DynamicImage::ImageRgb8(ui)), Content::Graphic);

        let mut state = 12345u32;
        let photo = RgbImage::from_fn(300, 200, |x, y| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let n = (state >> 16) as u8 % 24;
            Rgb([(x / 2) as u8 + n, (y / 2) as u8 + n, 90 + n])
        });
        assert_eq!(classify(&DynamicImage::ImageRgb8(photo)), Content::Photo);
    }
}
