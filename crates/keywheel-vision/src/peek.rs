//! Image dimensions read straight from the header bytes, before any decoder runs.
//!
//! This is the first line against decompression bombs: a PNG whose IHDR claims
//! 60000×60000 is refused from its first 24 bytes, whatever follows (or does not). The
//! decoders check again under [`image::Limits`]; JPEG and TIFF sizes come from their
//! decoders' header parsing, which allocates no pixel memory.

use crate::format::Format;

/// Width and height declared by the header, where the format keeps them at a fixed place.
pub(crate) fn dimensions(bytes: &[u8], format: Format) -> Option<(u32, u32)> {
    let be32 = |at: usize| Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?));
    let le16 = |at: usize| {
        Some(u32::from(u16::from_le_bytes(
            bytes.get(at..at + 2)?.try_into().ok()?,
        )))
    };
    let le24 = |at: usize| {
        let b = bytes.get(at..at + 3)?;
        Some(u32::from(b[0]) | u32::from(b[1]) << 8 | u32::from(b[2]) << 16)
    };
    let le32 = |at: usize| Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?));
    match format {
        Format::Png if bytes.get(12..16) == Some(b"IHDR") => Some((be32(16)?, be32(20)?)),
        Format::Gif => Some((le16(6)?, le16(8)?)),
        Format::Bmp => match le32(14)? {
            12 => Some((le16(18)?, le16(20)?)),
            _ => {
                Some((le32(18)? as i32).unsigned_abs()).zip(Some((le32(22)? as i32).unsigned_abs()))
            }
        },
        Format::WebP => match bytes.get(12..16)? {
            b"VP8X" => Some((le24(24)? + 1, le24(27)? + 1)),
            b"VP8L" if bytes.get(20) == Some(&0x2F) => {
                let bits = le32(21)?;
                Some(((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1))
            }
            b"VP8 " if bytes.get(23..26) == Some(&[0x9D, 0x01, 0x2A]) => {
                Some((le16(26)? & 0x3FFF, le16(28)? & 0x3FFF))
            }
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fixed_place_headers() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        png.extend_from_slice(&60000u32.to_be_bytes());
        png.extend_from_slice(&50000u32.to_be_bytes());
        assert_eq!(dimensions(&png, Format::Png), Some((60000, 50000)));
        assert_eq!(
            dimensions(b"GIF89a\x10\x00\x20\x00", Format::Gif),
            Some((16, 32))
        );
        let mut bmp = b"BM\0\0\0\0\0\0\0\0\x36\0\0\0".to_vec();
        bmp.extend_from_slice(&40u32.to_le_bytes());
        bmp.extend_from_slice(&300i32.to_le_bytes());
        bmp.extend_from_slice(&(-200i32).to_le_bytes());
        assert_eq!(dimensions(&bmp, Format::Bmp), Some((300, 200)));
        assert_eq!(dimensions(b"\x89PNG", Format::Png), None);
        assert_eq!(dimensions(b"", Format::WebP), None);
    }
}
