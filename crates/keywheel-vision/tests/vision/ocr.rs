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
