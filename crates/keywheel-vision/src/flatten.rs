//! Reducing any decoded colour type to 8-bit grey or 8-bit RGB, with transparency composited
//! onto white (the colour of paper, which is what a transparent screenshot or logo is meant
//! to be read against; black, which some pipelines produce by dropping alpha, hides dark text).

use image::{DynamicImage, GrayImage, RgbImage};

/// Convert to `ImageLuma8` (grey sources) or `ImageRgb8` (everything else), flattening any
/// alpha onto white. 16-bit and float samples are reduced to 8 bits.
pub(crate) fn flatten(image: DynamicImage) -> DynamicImage {
    match image {
        DynamicImage::ImageLuma8(_) | DynamicImage::ImageRgb8(_) => image,
        DynamicImage::ImageLumaA8(la) => gray_over_white(&la),
        DynamicImage::ImageRgba8(rgba) => rgb_over_white(&rgba),
        DynamicImage::ImageLuma16(_) => DynamicImage::ImageLuma8(image.to_luma8()),
        DynamicImage::ImageLumaA16(_) => gray_over_white(&image.to_luma_alpha8()),
        DynamicImage::ImageRgb16(_) | DynamicImage::ImageRgb32F(_) => {
            DynamicImage::ImageRgb8(image.to_rgb8())
        }
        other => rgb_over_white(&other.to_rgba8()),
    }
}

#[inline]
fn over_white(v: u8, a: u8) -> u8 {
    let (v, a) = (u32::from(v), u32::from(a));
    ((v * a + 255 * (255 - a) + 127) / 255) as u8
}

fn gray_over_white(la: &image::GrayAlphaImage) -> DynamicImage {
    let (w, h) = la.dimensions();
    let data = la
        .as_raw()
        .chunks_exact(2)
        .map(|p| over_white(p[0], p[1]))
        .collect();
    DynamicImage::ImageLuma8(GrayImage::from_raw(w, h, data).unwrap_or_default())
}

fn rgb_over_white(rgba: &image::RgbaImage) -> DynamicImage {
    let (w, h) = rgba.dimensions();
    let mut data = Vec::with_capacity(w as usize * h as usize * 3);
    for p in rgba.as_raw().chunks_exact(4) {
        let a = p[3];
        data.extend_from_slice(&[
            over_white(p[0], a),
            over_white(p[1], a),
            over_white(p[2], a),
        ]);
    }
    DynamicImage::ImageRgb8(RgbImage::from_raw(w, h, data).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{LumaA, Rgba};

    #[test]
    fn transparent_becomes_white_and_opaque_stays() {
        let mut img = image::RgbaImage::new(2, 1);
        img.put_pixel(0, 0, Rgba([10, 20, 30, 0]));
        img.put_pixel(1, 0, Rgba([10, 20, 30, 255]));
        let out = flatten(DynamicImage::ImageRgba8(img)).to_rgb8();
        assert_eq!(out.get_pixel(0, 0).0, [255, 255, 255]);
        assert_eq!(out.get_pixel(1, 0).0, [10, 20, 30]);
    }

    #[test]
    fn half_transparent_black_is_mid_grey() {
        let mut img = image::GrayAlphaImage::new(1, 1);
        img.put_pixel(0, 0, LumaA([0, 128]));
        let out = flatten(DynamicImage::ImageLumaA8(img));
        assert!(matches!(out, DynamicImage::ImageLuma8(_)));
        assert_eq!(out.to_luma8().get_pixel(0, 0).0, [127]);
    }
}
