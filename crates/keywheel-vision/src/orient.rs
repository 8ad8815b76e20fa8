//! EXIF orientation: which way up the stored pixels are meant to be seen.
//!
//! Phones store portrait photos as landscape pixels plus an EXIF tag saying "rotate 90°".
//! A model shown the stored pixels reads sideways text badly, so every image is turned
//! upright before it is sent.

use image::DynamicImage;
use image::metadata::Orientation;

use crate::format::Format;

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

/// The orientation a WebP or PNG container states where the decoder does not report it: a
/// WebP `EXIF` chunk, a PNG `eXIf` chunk, or the XMP `tiff:Orientation` of a PNG `iTXt`
/// chunk (as Pillow and exiftool write it). Only the chunk headers are walked; pixel data
/// is skipped.
pub(crate) fn from_container(format: Format, bytes: &[u8]) -> Option<Orientation> {
    match format {
        Format::WebP => {
            let mut at = 12;
            while at + 8 <= bytes.len() {
                let id = &bytes[at..at + 4];
                let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().ok()?) as usize;
                let body = bytes.get(at + 8..(at + 8).checked_add(len)?)?;
                if id == b"EXIF" {
                    let exif = body.strip_prefix(b"Exif\0\0").unwrap_or(body);
                    return Orientation::from_exif_chunk(exif);
                }
                at = at + 8 + len + (len & 1);
            }
            None
        }
        Format::Png => {
            let mut at = 8;
            while at + 8 <= bytes.len() {
                let len = u32::from_be_bytes(bytes[at..at + 4].try_into().ok()?) as usize;
                let id = &bytes[at + 4..at + 8];
                if id == b"IDAT" || id == b"IEND" {
                    return None;
                }
                let body = bytes.get(at + 8..(at + 8).checked_add(len)?)?;
                if id == b"eXIf" {
                    return Orientation::from_exif_chunk(body);
                }
                if id == b"iTXt" && body.starts_with(b"XML:com.adobe.xmp\0") {
                    return xmp_orientation(body);
                }
                at = at + 12 + len;
            }
            None
        }
        _ => None,
    }
}

/// `tiff:Orientation="6"` or `<tiff:Orientation>6</tiff:Orientation>` in an XMP packet.
fn xmp_orientation(xmp: &[u8]) -> Option<Orientation> {
    let key = b"tiff:Orientation";
    let at = xmp.windows(key.len()).position(|w| w == key)? + key.len();
    let digit = xmp[at..]
        .iter()
        .take(4)
        .find(|c| c.is_ascii_digit())
        .copied()?;
    Orientation::from_exif(digit - b'0')
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
