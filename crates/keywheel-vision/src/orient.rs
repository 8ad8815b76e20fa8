//! EXIF orientation: which way up the stored pixels are meant to be seen.
//!
//! Phones store portrait photos as landscape pixels plus an EXIF tag saying "rotate 90°".
//! A model shown the stored pixels reads sideways text badly, so every image is turned
//! upright before it is sent.

use image::DynamicImage;
use image::metadata::Orientation;

/// Whether applying `o` swaps width and height.
pub(crate) fn swaps_sides(o: Orientation) -> bool {
    matches!(
        o,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    )
}

/// The upright size of a `width`×`height` stored image with orientation `o`.
pub(crate) fn upright_size(width: u32, height: u32, o: Orientation) -> (u32, u32) {
    if swaps_sides(o) {
        (height, width)
    } else {
        (width, height)
    }
}

/// Turn `image` upright.
pub(crate) fn make_upright(image: &mut DynamicImage, o: Orientation) {
    image.apply_orientation(o);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotate_90_swaps_and_puts_the_left_column_on_top() {
        let mut img = image::GrayImage::new(3, 2);
        img.put_pixel(0, 1, image::Luma([200])); // bottom-left
        let mut d = DynamicImage::ImageLuma8(img);
        make_upright(&mut d, Orientation::Rotate90);
        assert_eq!((d.width(), d.height()), (2, 3));
        assert_eq!(upright_size(3, 2, Orientation::Rotate90), (2, 3));
        // Clockwise: the bottom-left pixel ends up top-left.
        assert_eq!(d.to_luma8().get_pixel(0, 0).0, [200]);
    }
}
