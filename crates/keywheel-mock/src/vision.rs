//! Image handling for vision requests: data-URL parsing, decoding with the `image` crate, and the
//! optional OCR through the `tesseract` command.

use std::io::Cursor;
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use image::{DynamicImage, ImageFormat, ImageReader};

/// MIME types OpenRouter accepts in data URLs.
pub(crate) const ALLOWED_MIMES: &[&str] = &["image/png", "image/jpeg", "image/webp", "image/gif"];

/// An image that decoded.
pub(crate) struct DecodedImage {
    /// MIME type named by the data URL.
    pub mime: String,
    pub width: u32,
    pub height: u32,
    /// The base64-decoded bytes, as sent.
    pub bytes: Bytes,
    /// The decoded pixels (kept for OCR).
    pub image: DynamicImage,
}

/// Parses and decodes a `data:image/…;base64,…` URL. The error is the text after
/// `invalid_image: `.
pub(crate) fn decode_data_url(url: &str) -> Result<DecodedImage, String> {
    let rest = url.strip_prefix("data:").ok_or_else(|| {
        let shown: String = url.chars().take(40).collect();
        format!("only data URLs (data:image/...;base64,...) are accepted, got \"{shown}\"")
    })?;
    let (meta, payload) = rest
        .split_once(',')
        .ok_or_else(|| "data URL has no ',' before its payload".to_string())?;
    let mut parts = meta.split(';');
    let mime = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    if !parts.any(|p| p.trim().eq_ignore_ascii_case("base64")) {
        return Err("data URL is not base64-encoded".to_string());
    }
    if !ALLOWED_MIMES.contains(&mime.as_str()) {
        return Err(format!(
            "unsupported image type \"{mime}\" (allowed: image/png, image/jpeg, image/webp, image/gif)"
        ));
    }
    let cleaned: String = payload
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(cleaned.as_bytes())
        .map_err(|e| format!("base64 payload does not decode: {e}"))?;
    if bytes.is_empty() {
        return Err("image payload is empty".to_string());
    }
    let reader = ImageReader::new(Cursor::new(&bytes))
        .with_guessed_format()
        .map_err(|e| format!("cannot read image: {e}"))?;
    match reader.format() {
        Some(ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP | ImageFormat::Gif) => {}
        Some(other) => {
            return Err(format!(
                "image content is {other:?}, which is not an accepted format"
            ));
        }
        None => return Err("bytes are not a recognisable image".to_string()),
    }
    let image = reader
        .decode()
        .map_err(|e| format!("image does not decode: {e}"))?;
    Ok(DecodedImage {
        mime,
        width: image.width(),
        height: image.height(),
        bytes: Bytes::from(bytes),
        image,
    })
}

/// Whether a `tesseract` executable is on `PATH`.
pub(crate) fn tesseract_available() -> bool {
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| is_executable(&dir.join("tesseract")))
    })
}

fn is_executable(p: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        p.is_file() || p.with_extension("exe").is_file()
    }
}

/// Runs `tesseract FILE -` on the image (written as PNG to a temporary file) and returns its
/// trimmed text, or `None` when anything fails.
pub(crate) async fn ocr(image: &DynamicImage) -> Option<String> {
    let file = tempfile::Builder::new()
        .prefix("keywheel-mock-ocr-")
        .suffix(".png")
        .tempfile()
        .ok()?;
    let path = file.path().to_path_buf();
    let img = image.clone();
    let p = path.clone();
    tokio::task::spawn_blocking(move || img.save_with_format(&p, ImageFormat::Png))
        .await
        .ok()?
        .ok()?;
    let child = tokio::process::Command::new("tesseract")
        .arg(&path)
        .arg("-")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .ok()?;
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .ok()?
        .ok()?;
    drop(file);
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE_PX_PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

    #[test]
    fn decodes_reference_png() {
        let img = decode_data_url(&format!("data:image/png;base64,{ONE_PX_PNG}")).unwrap();
        assert_eq!((img.width, img.height), (1, 1));
        assert_eq!(img.mime, "image/png");
        assert!(img.bytes.starts_with(b"\x89PNG"));
    }

    #[test]
    fn rejects_bad_urls() {
        assert!(decode_data_url("https://example.com/a.png").is_err());
        assert!(decode_data_url("data:image/bmp;base64,Qk0=").is_err());
        assert!(decode_data_url("data:image/png;base64,!!!!").is_err());
        assert!(decode_data_url("data:image/png;base64,aGVsbG8gd29ybGQ=").is_err());
        assert!(decode_data_url(&format!("data:image/png,{ONE_PX_PNG}")).is_err());
    }
}
