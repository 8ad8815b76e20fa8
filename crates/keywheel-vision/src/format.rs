//! Image formats Keywheel recognises, the ones it can read, and how to name them to a person.

use serde::Serialize;

/// An image format recognised from a file's first bytes (see [`crate::sniff()`]).
///
/// Only the formats for which [`Format::is_supported`] is true can be prepared; the others are
/// recognised so that the error can say what the file is and how to convert it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Portable Network Graphics.
    Png,
    /// JPEG / JFIF / EXIF JPEG.
    Jpeg,
    /// Graphics Interchange Format (still or animated; the first frame is used).
    Gif,
    /// WebP (lossy, lossless or animated; the first frame is used).
    #[serde(rename = "webp")]
    WebP,
    /// Windows bitmap.
    Bmp,
    /// Tagged Image File Format (also BigTIFF).
    Tiff,
    /// HEIC: HEIF with HEVC pictures, the iPhone photo format.
    Heic,
    /// HEIF other than HEIC or AVIF.
    Heif,
    /// AV1 Image File Format.
    Avif,
    /// JPEG XL.
    JpegXl,
    /// JPEG 2000.
    Jpeg2000,
    /// A PDF document.
    Pdf,
    /// An SVG vector drawing.
    Svg,
    /// A Photoshop document.
    Psd,
    /// A Windows icon or cursor.
    Ico,
    /// A camera RAW file (Canon CR2/CR3, Fujifilm RAF, Olympus ORF, Panasonic RW2).
    CameraRaw,
    /// OpenEXR high dynamic range image.
    Exr,
    /// Radiance HDR image.
    Hdr,
    /// DirectDraw Surface texture.
    Dds,
    /// Quite OK Image.
    Qoi,
    /// Netpbm (PBM, PGM, PPM, PAM).
    Netpbm,
}

/// The formats that can be prepared, in the order they are named in error messages.
pub const SUPPORTED: [Format; 6] = [
    Format::Png,
    Format::Jpeg,
    Format::WebP,
    Format::Gif,
    Format::Bmp,
    Format::Tiff,
];

/// The supported formats as a person reads them: `PNG, JPEG, WebP, GIF, BMP, TIFF`.
pub(crate) const SUPPORTED_LIST: &str = "PNG, JPEG, WebP, GIF, BMP, TIFF";

impl Format {
    /// Whether Keywheel can decode this format.
    pub fn is_supported(self) -> bool {
        SUPPORTED.contains(&self)
    }

    /// The short name people know the format by, e.g. `"HEIC"`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Png => "PNG",
            Format::Jpeg => "JPEG",
            Format::Gif => "GIF",
            Format::WebP => "WebP",
            Format::Bmp => "BMP",
            Format::Tiff => "TIFF",
            Format::Heic => "HEIC",
            Format::Heif => "HEIF",
            Format::Avif => "AVIF",
            Format::JpegXl => "JPEG XL",
            Format::Jpeg2000 => "JPEG 2000",
            Format::Pdf => "PDF",
            Format::Svg => "SVG",
            Format::Psd => "Photoshop (PSD)",
            Format::Ico => "ICO",
            Format::CameraRaw => "camera RAW",
            Format::Exr => "OpenEXR",
            Format::Hdr => "Radiance HDR",
            Format::Dds => "DDS",
            Format::Qoi => "QOI",
            Format::Netpbm => "Netpbm",
        }
    }

    /// What the file is, as the middle of a sentence: "a HEIC image", "a PDF document".
    pub(crate) fn what(self) -> &'static str {
        match self {
            Format::Png => "a PNG image",
            Format::Jpeg => "a JPEG image",
            Format::Gif => "a GIF image",
            Format::WebP => "a WebP image",
            Format::Bmp => "a BMP image",
            Format::Tiff => "a TIFF image",
            Format::Heic => "a HEIC image",
            Format::Heif => "a HEIF image",
            Format::Avif => "an AVIF image",
            Format::JpegXl => "a JPEG XL image",
            Format::Jpeg2000 => "a JPEG 2000 image",
            Format::Pdf => "a PDF document",
            Format::Svg => "an SVG vector drawing",
            Format::Psd => "a Photoshop document",
            Format::Ico => "a Windows icon",
            Format::CameraRaw => "a camera RAW file",
            Format::Exr => "an OpenEXR image",
            Format::Hdr => "a Radiance HDR image",
            Format::Dds => "a DDS texture",
            Format::Qoi => "a QOI image",
            Format::Netpbm => "a Netpbm image",
        }
    }

    /// What a person should do with a file of this (unsupported) format.
    pub(crate) fn how_to_convert(self) -> &'static str {
        match self {
            Format::Pdf => "export its pages as PNG or JPEG images",
            Format::Svg => "export it as PNG",
            Format::Psd => "export it from your editor as PNG or JPEG",
            Format::CameraRaw => "develop or export it as JPEG",
            Format::Ico => "export it as PNG",
            _ => "export it as PNG or JPEG",
        }
    }

    /// The MIME type, for the formats that have a common one.
    pub fn mime(self) -> Option<&'static str> {
        Some(match self {
            Format::Png => "image/png",
            Format::Jpeg => "image/jpeg",
            Format::Gif => "image/gif",
            Format::WebP => "image/webp",
            Format::Bmp => "image/bmp",
            Format::Tiff => "image/tiff",
            Format::Heic => "image/heic",
            Format::Heif => "image/heif",
            Format::Avif => "image/avif",
            Format::JpegXl => "image/jxl",
            Format::Jpeg2000 => "image/jp2",
            Format::Pdf => "application/pdf",
            Format::Svg => "image/svg+xml",
            _ => return None,
        })
    }

    /// The matching `image` crate format, for the supported ones.
    pub(crate) fn image_format(self) -> Option<image::ImageFormat> {
        Some(match self {
            Format::Png => image::ImageFormat::Png,
            Format::Jpeg => image::ImageFormat::Jpeg,
            Format::Gif => image::ImageFormat::Gif,
            Format::WebP => image::ImageFormat::WebP,
            Format::Bmp => image::ImageFormat::Bmp,
            Format::Tiff => image::ImageFormat::Tiff,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supported_list_matches_the_constant() {
        let names: Vec<_> = SUPPORTED.iter().map(|f| f.name()).collect();
        assert_eq!(names.join(", "), SUPPORTED_LIST);
        assert!(SUPPORTED.iter().all(|f| f.image_format().is_some()));
        assert!(!Format::Heic.is_supported());
    }
}
