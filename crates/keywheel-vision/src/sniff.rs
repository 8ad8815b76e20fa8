//! Recognising a file's format from its first bytes ("magic numbers"), never from its name.
//!
//! [`sniff`] answers with a [`Format`] for anything that is recognisably an image or a
//! document a person might mistake for one (HEIC, PDF, SVG, PSD, …), supported or not.
//! For everything else, [`describe_non_image`] says what the bytes look like instead
//! (text, an HTML page, a ZIP archive, a video, or unknown binary data) so that the error
//! message can tell the person something useful.

use crate::format::Format;

/// Recognise an image format from the first bytes of a file.
///
/// Only the content is looked at; a text file named `photo.png` is `None`. Returns `None`
/// for empty input and for anything that is not a recognised image or document format.
pub fn sniff(bytes: &[u8]) -> Option<Format> {
    let b = bytes;
    if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some(Format::Png);
    }
    if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Some(Format::Jpeg);
    }
    if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        return Some(Format::Gif);
    }
    if b.len() >= 12 && &b[0..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        return Some(Format::WebP);
    }
    if is_bmp(b) {
        return Some(Format::Bmp);
    }
    if b.starts_with(b"II*\0") && b.len() >= 11 && &b[8..11] == b"CR\x02" {
        return Some(Format::CameraRaw); // Canon CR2 is TIFF-shaped; decoding it as TIFF misleads.
    }
    if b.starts_with(b"II*\0")
        || b.starts_with(b"MM\0*")
        || b.starts_with(b"II+\0")
        || b.starts_with(b"MM\0+")
    {
        return Some(Format::Tiff);
    }
    if let Some(f) = iso_bmff(b) {
        return Some(f);
    }
    if b.starts_with(&[0xFF, 0x0A]) {
        return Some(Format::JpegXl);
    }
    if b.starts_with(&[0xFF, 0x4F, 0xFF, 0x51]) {
        return Some(Format::Jpeg2000);
    }
    if b.starts_with(b"8BPS") {
        return Some(Format::Psd);
    }
    if b.starts_with(b"FUJIFILMCCD-RAW")
        || b.starts_with(b"IIRO")
        || b.starts_with(b"IIRS")
        || b.starts_with(b"IIU\0")
    {
        return Some(Format::CameraRaw);
    }
    if b.starts_with(&[0x76, 0x2F, 0x31, 0x01]) {
        return Some(Format::Exr);
    }
    if b.starts_with(b"#?RADIANCE") || b.starts_with(b"#?RGBE") {
        return Some(Format::Hdr);
    }
    if b.starts_with(b"DDS ") {
        return Some(Format::Dds);
    }
    if b.starts_with(b"qoif") {
        return Some(Format::Qoi);
    }
    if is_ico(b) {
        return Some(Format::Ico);
    }
    if b.len() >= 3 && b[0] == b'P' && (b'1'..=b'7').contains(&b[1]) && b[2].is_ascii_whitespace() {
        return Some(Format::Netpbm);
    }
    let text = skip_bom_and_space(b);
    if text.starts_with(b"%PDF-") || find(&b[..b.len().min(1024)], b"%PDF-").is_some() {
        return Some(Format::Pdf);
    }
    if is_svg(text) {
        return Some(Format::Svg);
    }
    None
}

/// What bytes that [`sniff`] did not recognise look like, as the middle of a sentence.
pub(crate) fn describe_non_image(bytes: &[u8]) -> &'static str {
    let b = bytes;
    let text = skip_bom_and_space(b);
    let head = lower_ascii(&text[..text.len().min(512)]);
    if head.starts_with(b"<!doctype html") || find(&head, b"<html").is_some() {
        return "an HTML web page (perhaps a download that saved the page instead of the picture)";
    }
    if head.starts_with(b"<?xml") || head.starts_with(b"<") && looks_like_text(b) {
        return "an XML or markup text file";
    }
    if b.starts_with(b"PK\x03\x04") {
        return "a ZIP archive or Office document";
    }
    if b.len() >= 8 && &b[4..8] == b"ftyp" {
        return "a video or other media file";
    }
    if b.starts_with(b"ID3") || b.starts_with(b"OggS") || b.starts_with(b"fLaC") {
        return "an audio file";
    }
    if b.starts_with(&[0x1F, 0x8B]) || b.starts_with(b"7z\xBC\xAF") || b.starts_with(b"Rar!") {
        return "a compressed archive";
    }
    if b.starts_with(b"\x7FELF") || b.starts_with(b"MZ") {
        return "a program file";
    }
    if looks_like_text(b) {
        return "a plain text file";
    }
    "data in no image format Keywheel knows"
}

fn is_bmp(b: &[u8]) -> bool {
    // "BM" alone is too weak (a text file may start with it); the DIB header size must be one
    // of the sizes the BMP versions define.
    if b.len() < 18 || !b.starts_with(b"BM") {
        return false;
    }
    let dib = u32::from_le_bytes([b[14], b[15], b[16], b[17]]);
    matches!(dib, 12 | 16 | 40 | 52 | 56 | 64 | 108 | 124)
}

fn is_ico(b: &[u8]) -> bool {
    // Reserved 0, type 1 (icon) or 2 (cursor), 1..=255 images, first entry's reserved byte 0.
    b.len() >= 22
        && b[0] == 0
        && b[1] == 0
        && (b[2] == 1 || b[2] == 2)
        && b[3] == 0
        && b[4] != 0
        && b[5] == 0
        && b[9] == 0
}

/// ISO base media file format (`....ftyp<brand>`) and the JPEG 2000 / JPEG XL box signatures.
fn iso_bmff(b: &[u8]) -> Option<Format> {
    if b.starts_with(&[
        0, 0, 0, 0x0C, b'j', b'P', b' ', b' ', 0x0D, 0x0A, 0x87, 0x0A,
    ]) {
        return Some(Format::Jpeg2000);
    }
    if b.starts_with(&[
        0, 0, 0, 0x0C, b'J', b'X', b'L', b' ', 0x0D, 0x0A, 0x87, 0x0A,
    ]) {
        return Some(Format::JpegXl);
    }
    if b.len() < 12 || &b[4..8] != b"ftyp" {
        return None;
    }
    let box_len = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
    let end = box_len.clamp(12, 256).min(b.len());
    // Major brand at 8..12, minor version at 12..16, then compatible brands.
    let mut brands: Vec<&[u8]> = vec![&b[8..12]];
    let mut i = 16;
    while i + 4 <= end {
        brands.push(&b[i..i + 4]);
        i += 4;
    }
    let has = |names: &[&[u8]]| brands.iter().any(|br| names.contains(br));
    if has(&[b"avif", b"avis"]) {
        return Some(Format::Avif);
    }
    if has(&[
        b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs",
    ]) {
        return Some(Format::Heic);
    }
    if has(&[b"mif1", b"msf1", b"mif2"]) {
        return Some(Format::Heif);
    }
    if has(&[b"crx "]) {
        return Some(Format::CameraRaw);
    }
    if has(&[b"jp2 ", b"jpx ", b"jpm "]) {
        return Some(Format::Jpeg2000);
    }
    if has(&[b"jxl "]) {
        return Some(Format::JpegXl);
    }
    None
}

fn is_svg(text: &[u8]) -> bool {
    let head = lower_ascii(&text[..text.len().min(4096)]);
    if head.starts_with(b"<svg") || head.starts_with(b"<!doctype svg") {
        return true;
    }
    (head.starts_with(b"<?xml") || head.starts_with(b"<!--")) && find(&head, b"<svg").is_some()
}

fn skip_bom_and_space(b: &[u8]) -> &[u8] {
    let b = b.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(b);
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    &b[start..]
}

fn lower_ascii(b: &[u8]) -> Vec<u8> {
    b.iter().map(u8::to_ascii_lowercase).collect()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Mostly printable UTF-8 with no NUL bytes in the first 4 KiB.
fn looks_like_text(b: &[u8]) -> bool {
    let head = &b[..b.len().min(4096)];
    if head.is_empty() || head.contains(&0) {
        return false;
    }
    let s = match std::str::from_utf8(head) {
        Ok(s) => s,
        // A multi-byte character cut at the 4 KiB boundary is still text.
        Err(e) if e.error_len().is_none() => match std::str::from_utf8(&head[..e.valid_up_to()]) {
            Ok(s) => s,
            Err(_) => return false,
        },
        Err(_) => return false,
    };
    let total = s.chars().count().max(1);
    let control = s
        .chars()
        .filter(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\x0C'))
        .count();
    control * 20 < total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_supported_magic() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Some(Format::Png));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 16]), Some(Format::Jpeg));
        assert_eq!(sniff(b"GIF89a\x01\0\x01\0"), Some(Format::Gif));
        assert_eq!(sniff(b"RIFF\x10\0\0\0WEBPVP8 "), Some(Format::WebP));
        assert_eq!(sniff(b"II*\0\x08\0\0\0"), Some(Format::Tiff));
        assert_eq!(sniff(b"MM\0*\0\0\0\x08"), Some(Format::Tiff));
        let mut bmp = b"BM\0\0\0\0\0\0\0\0\x36\0\0\0".to_vec();
        bmp.extend_from_slice(&40u32.to_le_bytes());
        assert_eq!(sniff(&bmp), Some(Format::Bmp));
    }

    #[test]
    fn recognises_unsupported_magic() {
        assert_eq!(
            sniff(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic"),
            Some(Format::Heic)
        );
        assert_eq!(
            sniff(b"\0\0\0\x18ftypmif1\0\0\0\0mif1heic"),
            Some(Format::Heic)
        );
        assert_eq!(sniff(b"\0\0\0\x14ftypmif1\0\0\0\0mif1"), Some(Format::Heif));
        assert_eq!(
            sniff(b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf"),
            Some(Format::Avif)
        );
        assert_eq!(sniff(b"%PDF-1.7\n%\xe2\xe3"), Some(Format::Pdf));
        assert_eq!(
            sniff(b"\xEF\xBB\xBF  <?xml version=\"1.0\"?>\n<svg xmlns=\"x\"/>"),
            Some(Format::Svg)
        );
        assert_eq!(sniff(b"<svg width=\"10\"></svg>"), Some(Format::Svg));
        assert_eq!(sniff(b"8BPS\0\x01"), Some(Format::Psd));
        assert_eq!(sniff(&[0xFF, 0x0A, 0xFA]), Some(Format::JpegXl));
    }

    #[test]
    fn text_and_noise_are_not_images() {
        assert_eq!(sniff(b""), None);
        assert_eq!(sniff(b"hello, this is text named photo.png\n"), None);
        assert_eq!(sniff(b"BMW is a car maker and this is text"), None);
        assert_eq!(sniff(b"<?xml version=\"1.0\"?><note/>"), None);
        assert_eq!(describe_non_image(b"hello\nworld\n"), "a plain text file");
        assert!(describe_non_image(b"<!DOCTYPE html><html>").contains("HTML"));
        assert_eq!(
            describe_non_image(b"PK\x03\x04rest"),
            "a ZIP archive or Office document"
        );
        assert_eq!(
            describe_non_image(&[0x00, 0x9F, 0x13, 0xFE]),
            "data in no image format Keywheel knows"
        );
    }
}
