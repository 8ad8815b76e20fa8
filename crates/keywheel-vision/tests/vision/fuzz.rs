//! No input makes `prepare` panic: random bytes, and valid files of every supported format
//! with bytes flipped, cut off or spliced in.

use crate::common::*;
use image::{DynamicImage, ImageFormat};
use keywheel_vision::{PrepError, PrepOptions, prepare};
use proptest::prelude::*;

fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let img = DynamicImage::ImageRgb8(screenshot(48, 40));
    let rgba = DynamicImage::ImageRgba8(img.to_rgba8());
    vec![
        ("seed.png", encode(&rgba, ImageFormat::Png)),
        (
            "seed.jpg",
            with_exif_orientation(&jpeg(&photo(48, 40), 80), 6),
        ),
        ("seed.gif", encode(&rgba, ImageFormat::Gif)),
        ("seed.bmp", encode(&img, ImageFormat::Bmp)),
        ("seed.tiff", encode(&img, ImageFormat::Tiff)),
        ("seed.webp", encode(&img, ImageFormat::WebP)),
        (
            "seed-palette.png",
            palette_png(
                4,
                4,
                &[[0, 0, 0], [255, 255, 255]],
                &[0, 1, 0, 1, 1, 0, 1, 0, 0, 1, 0, 1, 1, 0, 1, 0],
            ),
        ),
    ]
}

/// Small limits keep a mutated header from asking for a long decode.
fn opts() -> PrepOptions {
    PrepOptions {
        max_pixels: 4_000_000,
        max_decoded_bytes: 64_000_000,
        ..PrepOptions::default()
    }
}

fn check(name: &str, bytes: &[u8]) {
    match prepare(name, bytes, &opts()) {
        Ok(p) => {
            assert!(!p.tiles.is_empty());
            for t in &p.tiles {
                assert!(t.width <= 1120 && t.height <= 1120);
                assert!(t.data_url.len() <= opts().max_data_url_bytes);
            }
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains(name), "{msg}");
            assert!(
                !matches!(e, PrepError::Encode { .. }),
                "encoder failure on valid pixels: {msg}"
            );
        }
    }
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, xor: u8 },
    Cut { at: usize },
    Splice { at: usize, bytes: Vec<u8> },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(at, xor)| Mutation::Flip { at, xor }),
        any::<usize>().prop_map(|at| Mutation::Cut { at }),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(at, bytes)| Mutation::Splice { at, bytes }),
    ]
}

fn apply(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        if bytes.is_empty() {
            break;
        }
        match m {
            Mutation::Flip { at, xor } => {
                let i = at % bytes.len();
                bytes[i] ^= xor;
            }
            Mutation::Cut { at } => bytes.truncate(at % bytes.len()),
            Mutation::Splice { at, bytes: extra } => {
                let i = at % bytes.len();
                bytes.splice(i..i, extra.iter().copied());
            }
        }
    }
    bytes
}

proptest! {
    // 256 cases per property by default; PROPTEST_CASES=N fuzzes longer.
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        check("random.bin", &bytes);
    }

    #[test]
    fn random_bytes_behind_real_magic_never_panic(
        magic in 0usize..7,
        tail in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        let heads: [&[u8]; 7] = [b"\x89PNG\r\n\x1a\n", &[0xFF, 0xD8, 0xFF], b"GIF89a", b"RIFF\0\0\0\0WEBPVP8 ", b"II*\0", b"MM\0*", b"BM\0\0\0\0\0\0\0\0\x36\0\0\0\x28\0\0\0"];
        let mut bytes = heads[magic].to_vec();
        bytes.extend_from_slice(&tail);
        check("magic.bin", &bytes);
    }

    #[test]
    fn mutated_images_never_panic(
        seed in 0usize..7,
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let (name, bytes) = seeds().swap_remove(seed);
        check(name, &apply(bytes, &mutations));
    }
}

#[test]
fn seeds_are_valid() {
    for (name, bytes) in seeds() {
        prepare(name, &bytes, &opts()).unwrap_or_else(|e| panic!("{e}"));
    }
}
