//! Every kind of bad input is refused with the right error, whose message names the file.

use crate::common::*;
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use keywheel_vision::{Format, PrepError, PrepOptions, prepare, prepare_path};

fn opts() -> PrepOptions {
    PrepOptions::default()
}

/// Prepare `bytes` as `name`, expect an error, check that its message names the file and
/// ends a sentence, and return it.
fn fails(name: &str, bytes: &[u8], opts: &PrepOptions) -> PrepError {
    let err = prepare(name, bytes, opts).expect_err("should be refused");
    let msg = err.to_string();
    assert!(
        msg.starts_with(name) || msg.contains(name),
        "message does not name {name}: {msg}"
    );
    assert!(msg.ends_with('.'), "not a sentence: {msg}");
    assert_eq!(err.name(), name);
    err
}

fn small_png() -> Vec<u8> {
    png_rgb(&photo(64, 48))
}

fn small_jpeg() -> Vec<u8> {
    jpeg(&photo(64, 48), 90)
}

#[test]
fn empty_file() {
    let e = fails("empty.png", b"", &opts());
    assert!(matches!(e, PrepError::Empty { .. }), "{e:?}");
    assert!(e.to_string().contains("empty"));
}

#[test]
fn text_named_png_is_not_an_image() {
    let e = fails(
        "notes.png",
        b"Meeting notes\n- buy milk\n- call Bob\n",
        &opts(),
    );
    assert!(
        matches!(
            e,
            PrepError::NotAnImage {
                looks_like: "a plain text file",
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        "notes.png is not an image: it contains a plain text file, whatever its name says; \
         choose a picture file (supported: PNG, JPEG, WebP, GIF, BMP, TIFF)."
    );
}

#[test]
fn html_saved_as_jpg_is_not_an_image() {
    let e = fails(
        "cat.jpg",
        b"<!DOCTYPE html><html><head><title>Cat</title>",
        &opts(),
    );
    assert!(e.to_string().contains("HTML web page"), "{e}");
}

#[test]
fn random_bytes_are_not_an_image() {
    let mut rng = Rng(7);
    let bytes: Vec<u8> = (0..4096).map(|_| (rng.next() >> 5) as u8).collect();
    let e = fails("random.bin", &bytes, &opts());
    assert!(matches!(e, PrepError::NotAnImage { .. }), "{e:?}");
}

#[test]
fn truncated_png() {
    let png = small_png();
    let e = fails("cut.png", &png[..png.len() / 2], &opts());
    assert!(
        matches!(
            e,
            PrepError::Truncated {
                format: Format::Png,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("cut off"));
}

#[test]
fn png_with_only_a_header_is_truncated() {
    let e = fails("header-only.png", &png_header(100, 100, 8, 2), &opts());
    assert!(
        matches!(e, PrepError::Truncated { .. } | PrepError::Damaged { .. }),
        "{e:?}"
    );
}

#[test]
fn corrupt_png() {
    let mut png = small_png();
    // Scribble over the compressed image data (IDAT starts after the 33-byte header).
    let n = png.len();
    for b in &mut png[60..n - 20] {
        *b ^= 0x5A;
    }
    let e = fails("scribbled.png", &png, &opts());
    assert!(
        matches!(
            e,
            PrepError::Damaged {
                format: Format::Png,
                ..
            } | PrepError::Truncated { .. }
        ),
        "{e:?}"
    );
}

#[test]
fn truncated_jpeg() {
    let jpg = small_jpeg();
    let e = fails("cut.jpg", &jpg[..jpg.len() * 2 / 3], &opts());
    assert!(
        matches!(
            e,
            PrepError::Truncated {
                format: Format::Jpeg,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn jpeg_with_only_markers_is_refused() {
    let jpg = small_jpeg();
    // Everything up to the first scan, then nothing.
    let sos = jpg.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
    let e = fails("no-scan.jpg", &jpg[..sos], &opts());
    assert!(
        matches!(e, PrepError::Truncated { .. } | PrepError::Damaged { .. }),
        "{e:?}"
    );
}

#[test]
fn corrupt_jpeg_header() {
    let mut jpg = small_jpeg();
    // Zero the component count in the frame header.
    let sof = jpg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    jpg[sof + 9] = 0;
    let e = fails("broken.jpg", &jpg, &opts());
    assert!(
        matches!(
            e,
            PrepError::Damaged {
                format: Format::Jpeg,
                ..
            } | PrepError::UnsupportedFeature { .. }
        ),
        "{e:?}"
    );
}

#[test]
fn unsupported_formats_are_named_with_what_to_do() {
    let cases: [(&str, &[u8], Format, &str); 6] = [
        (
            "photo.heic",
            b"\0\0\0\x18ftypheic\0\0\0\0mif1heic\0\0\0\0",
            Format::Heic,
            "export it as PNG or JPEG",
        ),
        (
            "photo.avif",
            b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf\0\0",
            Format::Avif,
            "export it as PNG or JPEG",
        ),
        (
            "scan.pdf",
            b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n",
            Format::Pdf,
            "export its pages as PNG or JPEG images",
        ),
        (
            "logo.svg",
            b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
            Format::Svg,
            "export it as PNG",
        ),
        (
            "art.psd",
            b"8BPS\0\x01\0\0\0\0\0\0\0\x03",
            Format::Psd,
            "export it from your editor",
        ),
        (
            "pic.jxl",
            &[0xFF, 0x0A, 0x00, 0x10],
            Format::JpegXl,
            "export it as PNG or JPEG",
        ),
    ];
    for (name, bytes, format, advice) in cases {
        let e = fails(name, bytes, &opts());
        match &e {
            PrepError::Unsupported { format: f, .. } => assert_eq!(*f, format, "{name}"),
            other => panic!("{name}: {other:?}"),
        }
        assert!(e.to_string().contains(advice), "{e}");
        assert!(
            e.to_string()
                .contains("(supported: PNG, JPEG, WebP, GIF, BMP, TIFF)"),
            "{e}"
        );
    }
    assert_eq!(
        fails("photo.heic", cases[0].1, &opts()).to_string(),
        "photo.heic is a HEIC image, which Keywheel cannot read; export it as PNG or JPEG \
         (supported: PNG, JPEG, WebP, GIF, BMP, TIFF)."
    );
}

#[test]
fn huge_png_header_is_refused_before_decoding() {
    let e = fails("huge.png", &png_header(60000, 60000, 8, 6), &opts());
    assert!(
        matches!(
            e,
            PrepError::TooManyPixels {
                width: 60000,
                height: 60000,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("60000×60000"), "{e}");
}

#[test]
fn huge_jpeg_header_is_refused_before_decoding() {
    let mut jpg = small_jpeg();
    let sof = jpg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    // SOF0: marker(2) length(2) precision(1) height(2) width(2)
    jpg[sof + 5..sof + 7].copy_from_slice(&60000u16.to_be_bytes());
    jpg[sof + 7..sof + 9].copy_from_slice(&60000u16.to_be_bytes());
    let e = fails("huge.jpg", &jpg, &opts());
    assert!(
        matches!(
            e,
            PrepError::TooManyPixels {
                width: 60000,
                height: 60000,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn decompression_bomb_is_refused() {
    // 8000×8000 grey zeros: about 64 KB on disk, 64 MB decoded; allow 32 MB.
    let zeros = DynamicImage::ImageLuma8(image::GrayImage::new(8000, 8000));
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new_with_quality(
        &mut png,
        image::codecs::png::CompressionType::Fast,
        image::codecs::png::FilterType::NoFilter,
    )
    .write_image(zeros.as_bytes(), 8000, 8000, image::ExtendedColorType::L8)
    .unwrap();
    assert!(png.len() < 1_000_000, "bomb is {} bytes", png.len());
    let o = PrepOptions {
        max_decoded_bytes: 32_000_000,
        ..opts()
    };
    let e = fails("bomb.png", &png, &o);
    assert!(
        matches!(
            e,
            PrepError::TooMuchMemory {
                needed: 64_000_000,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("decompression bomb"), "{e}");
}

use image::ImageEncoder;

#[test]
fn wide_sixteen_bit_image_over_the_memory_limit() {
    let img = DynamicImage::ImageRgba16(image::ImageBuffer::new(1000, 1000)); // 8 MB decoded
    let png = encode(&img, ImageFormat::Png);
    let o = PrepOptions {
        max_decoded_bytes: 4_000_000,
        ..opts()
    };
    let e = fails("deep.png", &png, &o);
    assert!(matches!(e, PrepError::TooMuchMemory { .. }), "{e:?}");
}

#[test]
fn file_too_large() {
    let png = small_png();
    let o = PrepOptions {
        max_input_bytes: 100,
        ..opts()
    };
    let e = fails("big.png", &png, &o);
    assert!(matches!(e, PrepError::TooLarge { limit: 100, .. }), "{e:?}");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.png");
    std::fs::write(&path, &png).unwrap();
    let e = prepare_path(&path, &o).unwrap_err();
    assert!(matches!(e, PrepError::TooLarge { .. }), "{e:?}");
    assert!(e.to_string().contains("big.png"));
}

#[test]
fn directory_missing_and_special_paths() {
    let dir = tempfile::tempdir().unwrap();
    let e = prepare_path(dir.path(), &opts()).unwrap_err();
    assert!(matches!(e, PrepError::IsDirectory { .. }), "{e:?}");
    assert!(e.to_string().contains(&dir.path().display().to_string()));
    assert!(e.to_string().contains("is a folder"));

    let missing = dir.path().join("nope.png");
    let e = prepare_path(&missing, &opts()).unwrap_err();
    assert!(matches!(e, PrepError::NotFound { .. }), "{e:?}");
    assert!(e.to_string().contains("nope.png does not exist"), "{e}");

    #[cfg(unix)]
    {
        let e = prepare_path(std::path::Path::new("/dev/null"), &opts()).unwrap_err();
        assert!(matches!(e, PrepError::Unreadable { .. }), "{e:?}");
        assert!(
            e.to_string().starts_with("/dev/null could not be read"),
            "{e}"
        );
    }
}

#[cfg(unix)]
#[test]
fn unreadable_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secret.png");
    std::fs::write(&path, small_png()).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::read(&path).is_ok() {
        // Root (and some CI containers) can read anything: permissions prove nothing here.
        println!("skipped: running with privileges that ignore file permissions");
        return;
    }
    let e = prepare_path(&path, &opts()).unwrap_err();
    assert!(matches!(e, PrepError::Unreadable { .. }), "{e:?}");
    assert!(
        e.to_string().contains("secret.png could not be read"),
        "{e}"
    );
}

#[test]
fn bad_input_is_told_apart_from_path_problems() {
    assert!(fails("empty.png", b"", &opts()).is_bad_input());
    let e = prepare_path(std::path::Path::new("/definitely/not/here.png"), &opts()).unwrap_err();
    assert!(!e.is_bad_input());
}

#[test]
fn a_good_file_from_disk_prepares() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ok.png");
    std::fs::write(
        &path,
        png_rgb(&RgbImage::from_pixel(10, 10, Rgb([1, 2, 3]))),
    )
    .unwrap();
    let p = prepare_path(&path, &opts()).unwrap();
    assert_eq!(p.tiles.len(), 1);
    assert_eq!(p.source_format, Format::Png);
}
