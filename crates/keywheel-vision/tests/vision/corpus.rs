//! Image fidelity on a public corpus: the test images Pillow 11.3.0 ships (Tests/images in
//! its PyPI source distribution, pinned by SHA-256, fetched in test setup by
//! `scripts/fetch-image-corpus.sh`, never committed).
//!
//! Pillow is the reference: of the files it decodes in the formats Keywheel supports (PNG,
//! JPEG and MPO, GIF, WebP, BMP, TIFF), Keywheel must accept at least 99 %, and every page it
//! accepts must come out the size Pillow gives after EXIF orientation and closer to Pillow's
//! upright picture than to any of the 7 other orientations (an 8×8 grey thumbnail each).
//! Files over Keywheel's stated limits (pixels, memory, file size) are counted apart: those
//! are refusals by policy, not fidelity gaps. The figures are printed (`--nocapture`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use image::DynamicImage;
use keywheel_vision::{PrepError, PrepOptions, prepare_pages};
use serde_json::Value;

const FORMATS: [&str; 7] = ["PNG", "JPEG", "MPO", "GIF", "WEBP", "BMP", "TIFF"];

fn corpus() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = match std::env::var_os("KEYWHEEL_IMAGE_CORPUS") {
        Some(d) => PathBuf::from(d),
        None => root.join("target/image-corpus/pillow-11.3.0"),
    };
    if !dir.join("manifest.jsonl").exists() {
        let status = Command::new("bash")
            .arg(root.join("scripts/fetch-image-corpus.sh"))
            .status()
            .expect("run scripts/fetch-image-corpus.sh");
        assert!(status.success(), "scripts/fetch-image-corpus.sh failed");
    }
    dir
}

/// 8×8 grey thumbnail, white behind transparency, box-averaged with fractional coverage at
/// the edges (as Pillow's `Image.resize(…, BOX)` does for the manifest).
fn thumb(img: &DynamicImage) -> Vec<f64> {
    let g = img.to_luma8();
    let (w, h) = (f64::from(g.width()), f64::from(g.height()));
    let weights = |lo: f64, hi: f64, n: u32| -> Vec<(u32, f64)> {
        (lo.floor() as u32..(hi.ceil() as u32).min(n))
            .map(|i| {
                let (a, b) = (f64::from(i).max(lo), f64::from(i + 1).min(hi));
                (i, (b - a).max(0.0))
            })
            .collect()
    };
    let mut out = vec![0.0; 64];
    for ty in 0..8 {
        let ys = weights(
            f64::from(ty) * h / 8.0,
            f64::from(ty + 1) * h / 8.0,
            g.height(),
        );
        for tx in 0..8 {
            let xs = weights(
                f64::from(tx) * w / 8.0,
                f64::from(tx + 1) * w / 8.0,
                g.width(),
            );
            let (mut sum, mut n) = (0.0, 0.0);
            for &(y, wy) in &ys {
                for &(x, wx) in &xs {
                    sum += f64::from(g.get_pixel(x, y).0[0]) * wx * wy;
                    n += wx * wy;
                }
            }
            out[(ty * 8 + tx) as usize] = if n > 0.0 { sum / n } else { 0.0 };
        }
    }
    out
}

/// Where the pixel (x, y) of an oriented thumbnail comes from.
type Flip = fn(usize, usize) -> (usize, usize);

/// The 8 orientations of an 8×8 thumbnail; the first is the identity.
fn orientations(t: &[f64]) -> Vec<Vec<f64>> {
    let at = |x: usize, y: usize| t[y * 8 + x];
    let maps: [Flip; 8] = [
        |x, y| (x, y),
        |x, y| (7 - x, y),
        |x, y| (x, 7 - y),
        |x, y| (7 - x, 7 - y),
        |x, y| (y, x),
        |x, y| (7 - y, x),
        |x, y| (y, 7 - x),
        |x, y| (7 - y, 7 - x),
    ];
    maps.iter()
        .map(|m| {
            let mut v = vec![0.0; 64];
            for y in 0..8 {
                for x in 0..8 {
                    let (sx, sy) = m(x, y);
                    v[y * 8 + x] = at(sx, sy);
                }
            }
            v
        })
        .collect()
}

fn distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f64>() / 64.0
}

/// A short class for a refusal, for the table.
fn reason(e: &PrepError) -> String {
    match e {
        PrepError::UnsupportedFeature { feature, .. } => {
            let f: String = feature.chars().take(70).collect();
            format!("unsupported variant: {f}")
        }
        PrepError::Damaged { reason, .. } => {
            let r: String = reason.chars().take(70).collect();
            format!("damaged: {r}")
        }
        PrepError::Truncated { .. } => "cut off".into(),
        PrepError::Unsupported { format, .. } => format!("unsupported format {format}"),
        PrepError::NotAnImage { .. } => "not an image".into(),
        other => format!("{other}"),
    }
}

fn over_limits(e: &PrepError) -> bool {
    matches!(
        e,
        PrepError::TooManyPixels { .. }
            | PrepError::TooMuchMemory { .. }
            | PrepError::TooLarge { .. }
    )
}

#[test]
fn pillow_corpus_is_read_and_sent_upright() {
    let dir = corpus();
    // Decoder panics on fuzzer files are caught and reported as damaged; keep the log short.
    std::panic::set_hook(Box::new(|_| {}));
    let manifest = std::fs::read_to_string(dir.join("manifest.jsonl")).expect("manifest");
    let opts = PrepOptions {
        tile: false,
        ..PrepOptions::default()
    };
    let (mut readable, mut accepted, mut upright, mut policy, mut pages) = (0, 0, 0, 0, 0);
    let mut rejected: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut sideways = Vec::new();
    let mut differ = Vec::new();
    let mut per_format: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for line in manifest.lines() {
        let row: Value = serde_json::from_str(line).expect("manifest line");
        let format = row["format"].as_str().unwrap_or("");
        if !row["ok"].as_bool().unwrap_or(false) || !FORMATS.contains(&format) {
            continue;
        }
        let file = row["file"].as_str().unwrap();
        let bytes = std::fs::read(dir.join("images").join(file)).expect("corpus file");
        let result = prepare_pages(file, &bytes, &opts);
        if let Err(e) = &result
            && over_limits(e)
        {
            policy += 1;
            continue;
        }
        readable += 1;
        let entry = per_format.entry(format.to_owned()).or_default();
        entry.0 += 1;
        let prepared = match result {
            Ok(p) => p,
            Err(e) => {
                rejected
                    .entry(reason(&e))
                    .or_default()
                    .push(file.to_owned());
                continue;
            }
        };
        accepted += 1;
        entry.1 += 1;
        pages += prepared.len();
        let first = &prepared[0];
        let want = (
            row["width"].as_u64().unwrap() as u32,
            row["height"].as_u64().unwrap() as u32,
        );
        let (_, img) = crate::common::decode_data_url(&first.tiles[0].data_url);
        let reference: Vec<f64> = row["thumb"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let ours = thumb(&img);
        let d: Vec<f64> = orientations(&reference)
            .iter()
            .map(|o| distance(&ours, o))
            .collect();
        let best_other = d[1..].iter().copied().fold(f64::INFINITY, f64::min);
        let same_size = (first.source_width, first.source_height) == want;
        // Near-symmetric pictures look alike in several orientations: a small distance is
        // upright whatever the others say.
        let line = format!(
            "{file}: ours {}×{} vs Pillow {}×{}, distance upright {:.1} vs best other {:.1}",
            first.source_width, first.source_height, want.0, want.1, d[0], best_other
        );
        if same_size && (d[0] <= best_other + 0.5 || d[0] < 4.0) {
            upright += 1;
        } else if !same_size || best_other < 12.0 {
            // Another orientation matches Pillow's upright picture: this one is turned.
            sideways.push(line);
        } else {
            // No orientation matches: the pixels themselves differ (a decoder reads a
            // malformed file differently), which is not a question of orientation.
            upright += 1;
            differ.push(line);
        }
    }
    let refused: usize = rejected.values().map(Vec::len).sum();
    println!(
        "image corpus: Pillow 11.3.0 Tests/images ({})",
        dir.display()
    );
    println!(
        "  Pillow reads {readable} files in Keywheel's formats (and {policy} more over Keywheel's size limits)"
    );
    println!(
        "  accepted {accepted} of {readable} ({:.1} %), {pages} pages; upright {upright} of {accepted}; rejected {refused}",
        100.0 * accepted as f64 / readable.max(1) as f64
    );
    for (f, (n, ok)) in &per_format {
        println!("    {f:5} {ok}/{n}");
    }
    for (why, files) in &rejected {
        println!("  rejected ({}): {why}: {}", files.len(), files.join(", "));
    }
    for s in &sideways {
        println!("  not upright: {s}");
    }
    for s in &differ {
        println!("  upright, but the pixels differ from Pillow's: {s}");
    }
    assert!(
        readable > 600,
        "the corpus looks incomplete ({readable} files)"
    );
    assert!(
        accepted * 100 >= readable * 99,
        "accepted {accepted} of {readable}, below 99 %"
    );
    assert!(sideways.is_empty(), "{} pages not upright", sideways.len());
    assert!(
        differ.len() * 100 <= accepted,
        "{} of {accepted} pages differ from Pillow's picture",
        differ.len()
    );
}
