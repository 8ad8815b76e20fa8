//! Text drawn by ImageMagick still OCRs with tesseract after `prepare`, whole and tiled.
//!
//! Needs `tesseract` and ImageMagick's `convert` with the DejaVu Sans font; without them the
//! tests say that they were skipped and pass.

use std::path::Path;
use std::process::Command;

use keywheel_vision::{PrepOptions, join_markdown, prepare};

/// Why the OCR tools are unusable, or `None` when they are ready.
fn missing_tools() -> Option<String> {
    for tool in ["tesseract", "convert"] {
        let found = Command::new("which")
            .arg(tool)
            .output()
            .map(|o| o.status.success());
        if !matches!(found, Ok(true)) {
            return Some(format!("`{tool}` is not installed"));
        }
    }
    let version = match Command::new("convert").arg("-version").output() {
        Ok(v) => v,
        Err(e) => return Some(format!("`convert -version` failed: {e}")),
    };
    if !String::from_utf8_lossy(&version.stdout).contains("ImageMagick") {
        return Some("`convert` is not ImageMagick".to_owned());
    }
    None
}

/// Render `lines` (y, text) on a white `w`×`h` canvas with ImageMagick.
fn render(dir: &Path, w: u32, h: u32, lines: &[(u32, &str)]) -> Result<Vec<u8>, String> {
    let out = dir.join(format!("canvas-{w}x{h}.png"));
    let mut cmd = Command::new("convert");
    cmd.arg("-size").arg(format!("{w}x{h}")).arg("xc:white");
    cmd.args(["-font", "DejaVu-Sans", "-pointsize", "28", "-fill", "black"]);
    for (y, text) in lines {
        cmd.arg("-draw").arg(format!("text 40,{y} '{text}'"));
    }
    let result = cmd.arg(&out).output().map_err(|e| e.to_string())?;
    if !result.status.success() {
        return Err(String::from_utf8_lossy(&result.stderr).into_owned());
    }
    std::fs::read(&out).map_err(|e| e.to_string())
}

/// OCR the image in a data URL.
fn ocr(dir: &Path, data_url: &str, tag: &str) -> String {
    use base64::Engine;
    let (mime, payload) = data_url
        .strip_prefix("data:")
        .unwrap()
        .split_once(";base64,")
        .unwrap();
    let ext = if mime == "image/png" { "png" } else { "jpg" };
    let file = dir.join(format!("{tag}.{ext}"));
    std::fs::write(
        &file,
        base64::engine::general_purpose::STANDARD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    let out = Command::new("tesseract")
        .arg(&file)
        .arg("-")
        .output()
        .expect("run tesseract");
    assert!(
        out.status.success(),
        "tesseract failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn screenshot_text_survives_preparation() {
    if let Some(why) = missing_tools() {
        println!("skipped screenshot_text_survives_preparation: {why}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let lines = [
        (80, "Invoice number 4711 total 12.50"),
        (540, "Delivery address Hauptstrasse 17 Berlin"),
        (1040, "Thank you for your order"),
    ];
    let png = match render(dir.path(), 1920, 1080, &lines) {
        Ok(png) => png,
        Err(e) => {
            println!(
                "skipped screenshot_text_survives_preparation: convert could not draw text ({e})"
            );
            return;
        }
    };
    let p = prepare("shot.png", &png, &PrepOptions::default()).unwrap();
    assert_eq!(p.tiles.len(), 1);
    let t = &p.tiles[0];
    assert_eq!((t.width, t.height), (1120, 630));
    let text = ocr(dir.path(), &t.data_url, "shot");
    for word in [
        "Invoice",
        "4711",
        "12.50",
        "Hauptstrasse",
        "Berlin",
        "order",
    ] {
        assert!(
            text.contains(word),
            "{word:?} not found in OCR output:\n{text}"
        );
    }
}

#[test]
fn tall_screenshot_text_survives_tiling() {
    if let Some(why) = missing_tools() {
        println!("skipped tall_screenshot_text_survives_tiling: {why}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Lines all the way down a 1080×6000 scrolling capture, some right at band seams.
    let words = [
        "Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot", "Golf", "Hotel", "India",
        "Juliet", "Kilo",
    ];
    let lines: Vec<(u32, String)> = words
        .iter()
        .enumerate()
        .map(|(i, w)| (100 + i as u32 * 560, format!("Line {w} {}", 1000 + i)))
        .collect();
    let borrowed: Vec<(u32, &str)> = lines.iter().map(|(y, s)| (*y, s.as_str())).collect();
    let png = match render(dir.path(), 1080, 6000, &borrowed) {
        Ok(png) => png,
        Err(e) => {
            println!(
                "skipped tall_screenshot_text_survives_tiling: convert could not draw text ({e})"
            );
            return;
        }
    };
    let p = prepare("scroll.png", &png, &PrepOptions::default()).unwrap();
    assert!(p.tiles.len() >= 3);
    let parts: Vec<String> = p
        .tiles
        .iter()
        .map(|t| ocr(dir.path(), &t.data_url, &format!("tile{}", t.index)))
        .collect();
    let joined = join_markdown(&parts);
    let mut last = 0;
    for (i, w) in words.iter().enumerate() {
        let needle = format!("{w} {}", 1000 + i);
        let at = joined
            .find(&needle)
            .unwrap_or_else(|| panic!("{needle:?} missing from:\n{joined}"));
        assert!(at >= last, "{needle:?} out of order");
        last = at;
    }
}

/// A real long screenshot's shape, 1080×12000 (a scrolled chat or feed captured whole): a
/// line of text every 100 px, top to bottom, so that some fall on band seams and appear in
/// two bands.
#[test]
fn a_1080_by_12000_page_is_tiled_with_overlap_in_order_and_its_text_joined_once() {
    if let Some(why) = missing_tools() {
        println!("skipped a_1080_by_12000_page_…: {why}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Lines of varied length, as in a real chat: identical lines at even spacing make
    // tesseract read them as columns.
    let said = [
        "sent the invoice for the quarter",
        "asked when the delivery arrives",
        "replied that the build is green",
        "shared a screenshot of the report",
        "wrote a longer note about the plan for next week",
        "said thanks",
    ];
    let texts: Vec<String> = (0..119)
        .map(|i| format!("Message {:03} {}", i + 1, said[i % said.len()]))
        .collect();
    let lines: Vec<(u32, &str)> = texts
        .iter()
        .enumerate()
        .map(|(i, s)| (60 + i as u32 * 100, s.as_str()))
        .collect();
    let png = match render(dir.path(), 1080, 12000, &lines) {
        Ok(png) => png,
        Err(e) => {
            println!("skipped a_1080_by_12000_page_…: convert could not draw text ({e})");
            return;
        }
    };
    let opts = PrepOptions::default();
    let p = prepare("long.png", &png, &opts).unwrap();
    let n = p.tiles.len();
    // Order, coverage, overlap and size: full-width bands from the top to the bottom, each
    // overlapping the next by at least 10 % of its height, each within the model's size.
    assert!(n >= 8 && n <= opts.max_tiles, "{n} tiles");
    assert_eq!(p.tiles[0].region.y, 0);
    let last = &p.tiles[n - 1];
    assert_eq!(last.region.y + last.region.height, 12000);
    for (i, t) in p.tiles.iter().enumerate() {
        assert_eq!((t.index, t.of), (i, n));
        assert_eq!((t.region.x, t.region.width), (0, 1080));
        assert!(
            t.width.max(t.height) <= opts.max_side,
            "{}×{}",
            t.width,
            t.height
        );
    }
    for pair in p.tiles.windows(2) {
        let (a, b) = (&pair[0].region, &pair[1].region);
        assert!(b.y > a.y, "top to bottom");
        let overlap = f64::from(a.y + a.height) - f64::from(b.y);
        assert!(
            overlap >= 0.1 * f64::from(a.height) - 1.0,
            "bands at {} and {} overlap by {overlap} px",
            a.y,
            b.y
        );
    }
    // The joined text has every line, in order, and the overlaps do not repeat lines.
    let parts: Vec<String> = p
        .tiles
        .iter()
        .map(|t| ocr(dir.path(), &t.data_url, &format!("long{}", t.index)))
        .collect();
    let joined = join_markdown(&parts);
    let mut last_at = 0;
    let mut repeated = Vec::new();
    for t in &texts {
        let number = &t[..11]; // "Message 001"
        let at = joined
            .find(number)
            .unwrap_or_else(|| panic!("{number:?} missing from:\n{joined}"));
        assert!(at >= last_at, "{number:?} out of order in:\n{joined}");
        last_at = at;
        if joined.matches(number).count() > 1 {
            repeated.push(number);
        }
    }
    assert!(
        repeated.is_empty(),
        "repeated at seams: {repeated:?}\n{joined}"
    );
}
