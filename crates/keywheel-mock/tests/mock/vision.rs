//! Vision requests: data URLs decoded and described, bad images refused, raw bytes kept.

use std::io::Cursor;

use base64::Engine as _;
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use keywheel_mock::MockConfig;
use serde_json::{Value, json};

use super::*;

fn encode(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
    let img = RgbImage::from_fn(width, height, |x, y| {
        Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    });
    let mut out = Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(img)
        .write_to(&mut out, format)
        .unwrap();
    out.into_inner()
}

fn data_url(mime: &str, bytes: &[u8]) -> String {
    format!(
        "data:{mime};base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

fn vision_body(model: &str, urls: &[String]) -> Value {
    let mut content = vec![json!({"type": "text", "text": "Transcribe all text in this image."})];
    for u in urls {
        content.push(json!({"type": "image_url", "image_url": {"url": u, "detail": "auto"}}));
    }
    json!({"model": model, "messages": [{"role": "user", "content": content}]})
}

#[tokio::test]
async fn data_url_image_is_decoded_and_reported() {
    let server = start(MockConfig::default()).await;
    let jpeg = encode(1120, 840, ImageFormat::Jpeg);
    let body = vision_body(
        "meta-llama/llama-3.2-90b-vision-instruct",
        &[data_url("image/jpeg", &jpeg)],
    );
    let resp = post_chat(&server, Some(&key(1)), &body).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v["choices"][0]["message"]["content"],
        format!("Received image 1120x840 image/jpeg ({} bytes).", jpeg.len())
    );
    assert!(
        v["usage"]["prompt_tokens"].as_u64().unwrap() > 1000,
        "images cost prompt tokens"
    );

    let rec = server.requests().pop().unwrap();
    assert_eq!(rec.text, "Transcribe all text in this image.");
    assert_eq!(rec.images.len(), 1);
    let img = &rec.images[0];
    assert_eq!((img.width, img.height), (1120, 840));
    assert_eq!(img.mime, "image/jpeg");
    assert_eq!(img.bytes, jpeg.len() as u64);

    // The raw bytes are served back as sent.
    let url = format!("{}/__mock/requests/{}/image/0", server.root_url(), rec.seq);
    let resp = client().get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "image/jpeg");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), jpeg.as_slice());
    assert_eq!(server.request_image(rec.seq, 0).unwrap(), jpeg);
    assert!(server.request_image(rec.seq, 1).is_none());
}

#[tokio::test]
async fn several_images_png_webp_gif_are_all_listed() {
    let server = start(MockConfig::default()).await;
    let png = encode(30, 20, ImageFormat::Png);
    let gif = encode(7, 9, ImageFormat::Gif);
    let body = vision_body(
        "qwen/qwen2.5-vl-72b-instruct",
        &[data_url("image/png", &png), data_url("image/gif", &gif)],
    );
    let v: Value = post_chat(&server, Some(&key(1)), &body)
        .await
        .json()
        .await
        .unwrap();
    let content = v["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(content.contains(&format!(
        "Received image 30x20 image/png ({} bytes).",
        png.len()
    )));
    assert!(content.contains(&format!(
        "Received image 7x9 image/gif ({} bytes).",
        gif.len()
    )));
}

#[tokio::test]
async fn bad_images_are_400_invalid_image_and_not_counted() {
    let server = start(MockConfig::default()).await;
    let model = "meta-llama/llama-3.2-90b-vision-instruct";
    let bmp = encode(4, 4, ImageFormat::Bmp);
    let cases = [
        "https://example.com/cat.png".to_string(),
        "data:image/png;base64,@@@not-base64@@@".to_string(),
        data_url("image/png", b"definitely not an image"),
        data_url("image/bmp", &bmp),
        data_url("image/png", &bmp),
    ];
    for url in &cases {
        let resp = post_chat(
            &server,
            Some(&key(1)),
            &vision_body(model, std::slice::from_ref(url)),
        )
        .await;
        assert_eq!(resp.status(), 400, "{url:.40}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["code"], 400);
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("invalid_image: "),
            "{v}"
        );
    }
    let ks = &server.stats().keys[&expected_key_id(&key(1))];
    assert_eq!(ks.served, 0);
    assert_eq!(ks.status["400"], cases.len() as u64);
}

#[tokio::test]
async fn text_only_model_refuses_images_and_falls_back_to_a_vision_model() {
    let server = start(MockConfig::default()).await;
    let png = encode(10, 10, ImageFormat::Png);
    let url = data_url("image/png", &png);
    let resp = post_chat(
        &server,
        Some(&key(1)),
        &vision_body("deepseek/deepseek-r1", std::slice::from_ref(&url)),
    )
    .await;
    assert_eq!(resp.status(), 404);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v["error"]["message"],
        "No endpoints found that support image input"
    );

    let mut body = vision_body("deepseek/deepseek-r1", &[url]);
    body["models"] = json!(["google/gemma-4-31b-it:free"]);
    let v: Value = post_chat(&server, Some(&key(1)), &body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["model"], "google/gemma-4-31b-it:free");
}

fn have(cmd: &str, arg: &str) -> bool {
    std::process::Command::new(cmd)
        .arg(arg)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[tokio::test]
async fn ocr_mode_answers_with_tesseract_text() {
    // Needs tesseract and ImageMagick to draw text; skipped (with a note) without them.
    if !have("tesseract", "--version") || !have("convert", "-version") {
        eprintln!("skipping: tesseract or ImageMagick convert not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let png_path = dir.path().join("text.png");
    // scripts/setup-system.sh installs fonts-dejavu-core; ImageMagick has no default font.
    let font = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf";
    if !std::path::Path::new(font).exists() {
        eprintln!("skipping: font {font} not installed");
        return;
    }
    let ok = std::process::Command::new("convert")
        .args([
            "-size",
            "520x120",
            "xc:white",
            "-font",
            font,
            "-fill",
            "black",
            "-pointsize",
            "56",
        ])
        .args(["-annotate", "+20+85", "KEYWHEEL 42"])
        .arg(&png_path)
        .status()
        .is_ok_and(|s| s.success());
    if !ok || !png_path.exists() {
        eprintln!("skipping: convert could not draw text");
        return;
    }
    let png = std::fs::read(&png_path).unwrap();
    let server = start(MockConfig {
        ocr_with_tesseract: true,
        ..MockConfig::default()
    })
    .await;
    let v: Value = post_chat(
        &server,
        Some(&key(1)),
        &vision_body(
            "meta-llama/llama-3.2-90b-vision-instruct",
            &[data_url("image/png", &png)],
        ),
    )
    .await
    .json()
    .await
    .unwrap();
    let content = v["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(content.contains("KEYWHEEL"), "OCR text: {content:?}");
    assert!(!content.starts_with("Received image"));
}
