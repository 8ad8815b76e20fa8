//! `keywheel ocr` as a user runs it, against keywheel-mock on 127.0.0.1: bad input spends
//! nothing, good input arrives upright and scaled, a batch beyond the quota waits for the UTC
//! reset and then finishes only what is left, a killed batch resumes without paying twice, and
//! the local tesseract fallback is labelled and sends nothing.
//!
//! Images are made in the test (the `image` crate; ImageMagick's `convert` with DejaVu Sans
//! for drawn words, as `make setup` installs it).

use std::process::{Command, Output, Stdio};

use image::{DynamicImage, ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};
use keywheel_mock::MockConfig;
use keywheel_testkit::images::{
    drawn, encode, png_header, seeded_photo as photo, with_exif_orientation,
};
use keywheel_testkit::output::{json_lines as lines, stderr};
use keywheel_testkit::world::{World, catalogue_snapshot as snapshot};
use serde_json::Value;

/// What the ledger counted over the last two days, as `keywheel usage` says.
trait UsageRequests {
    fn usage_requests(&self) -> u64;
}

impl UsageRequests for World {
    fn usage_requests(&self) -> u64 {
        let out = self.run(&["usage", "--json", "--days", "2"]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["usage"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["requests"].as_u64().unwrap())
            .sum()
    }
}

/// The per-image documents of an `ocr --json` run.
fn images(o: &Output) -> Vec<Value> {
    lines(o)
        .into_iter()
        .filter(|v| v.get("file").is_some())
        .collect()
}

#[test]
fn bad_input_exits_6_naming_the_file_and_spends_nothing() {
    let w = World::new(1, MockConfig::default());
    let jpeg = encode(
        &DynamicImage::ImageRgb8(photo(300, 200, 1)),
        ImageFormat::Jpeg,
    );
    let png = encode(
        &DynamicImage::ImageRgb8(photo(300, 200, 2)),
        ImageFormat::Png,
    );
    let mut noise = Vec::new();
    let mut s = 0x1234_5678_u64;
    for _ in 0..4096 {
        s = s
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        noise.push((s >> 56) as u8);
    }
    let mut corpus = vec![
        w.write("empty.png", b""),
        w.write(
            "notes.png",
            b"Meeting notes\nTuesday: ship the OCR batch.\n",
        ),
        w.write("cut.jpg", &jpeg[..jpeg.len() / 2]),
        w.write("cut.png", &png[..png.len() / 2]),
        w.write("noise.jpg", &noise),
        w.write("huge.png", &png_header(60_000, 60_000, 8, 2)),
        w.write(
            "scan.pdf",
            b"%PDF-1.7\n\x93\x8c\x8b\x9e garbage that is no document at all \x00\x01\x02",
        ),
        w.path("missing.png").display().to_string(),
    ];
    std::fs::create_dir(w.path("folder.png")).unwrap();
    corpus.push(w.path("folder.png").display().to_string());
    let big = std::fs::File::create(w.path("big.png")).unwrap();
    big.set_len(60_000_000).unwrap();
    corpus.push(w.path("big.png").display().to_string());

    for file in &corpus {
        let out = w.run(&["ocr", "--json", file]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(6), "{file}: {err}");
        assert!(
            err.contains(file.as_str()),
            "the sentence names {file}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
        let doc = lines(&out);
        assert_eq!(doc.last().unwrap()["error"]["code"], "bad_input", "{file}");
    }
    // A good file next to a bad one: still nothing is sent.
    let good = w.write("good.png", &png);
    let out = w.run(&["ocr", &good, &corpus[1]]);
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    assert!(stderr(&out).contains("notes.png"), "{}", stderr(&out));

    assert_eq!(
        w.mock.stats().total_requests,
        0,
        "no request reached the mock"
    );
    assert_eq!(w.usage_requests(), 0, "no quota was reserved");
}

#[test]
fn good_input_arrives_upright_scaled_legible_and_flattened() {
    let w = World::new(
        1,
        MockConfig {
            ocr_with_tesseract: true,
            ..MockConfig::default()
        },
    );
    // Stored 400×200: left half red, right half blue; EXIF 6 turns it 90° clockwise, so the
    // upright picture is 200×400 with red on top.
    let stored = RgbImage::from_fn(400, 200, |x, _| {
        if x < 200 {
            Rgb([220, 20, 20])
        } else {
            Rgb([20, 20, 220])
        }
    });
    let rotated = with_exif_orientation(
        &encode(&DynamicImage::ImageRgb8(stored), ImageFormat::Jpeg),
        6,
    );
    let rotated = w.write("rotated.jpg", &rotated);
    let big = w.write(
        "photo.jpg",
        &encode(
            &DynamicImage::ImageRgb8(photo(4000, 3000, 3)),
            ImageFormat::Jpeg,
        ),
    );
    let screenshot = drawn(
        w.dir.path(),
        "screenshot.png",
        1920,
        1080,
        &[
            "Quarterly revenue report",
            "Keywheel reads screenshots",
            "Invoice number 4711",
        ],
    );
    let clear = RgbaImage::from_fn(300, 200, |x, y| {
        if (100..200).contains(&x) && (50..150).contains(&y) {
            Rgba([0, 0, 0, 255])
        } else {
            Rgba([0, 0, 0, 0])
        }
    });
    let clear = w.write(
        "transparent.png",
        &encode(&DynamicImage::ImageRgba8(clear), ImageFormat::Png),
    );

    let out = w.run(&[
        "ocr",
        "--json",
        "--concurrency",
        "1",
        &rotated,
        &big,
        &screenshot,
        &clear,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let docs = images(&out);
    assert_eq!(docs.len(), 4);
    for d in &docs {
        assert_eq!(d["status"], "done", "{d}");
        assert_eq!(d["local"], false);
        assert_eq!(d["cached"], false);
        assert_eq!(d["tiles"], 1);
        assert!(d["key_id"].is_string() && d["model"].is_string(), "{d}");
    }
    let reqs = w.mock.requests();
    assert_eq!(reqs.len(), 4, "one request per image");
    for r in &reqs {
        assert_eq!(r.images.len(), 1, "one image per request");
        assert!(
            r.text.contains("Markdown"),
            "the prompt comes with the image: {}",
            r.text
        );
    }

    // Upright: 200×400, red on top, blue below.
    let (r0, img0) = (&reqs[0], &reqs[0].images[0]);
    assert_eq!(
        (img0.width, img0.height),
        (200, 400),
        "the EXIF-rotated JPEG arrives upright"
    );
    assert_eq!(
        (docs[0]["width"].as_u64(), docs[0]["height"].as_u64()),
        (Some(200), Some(400))
    );
    let sent = image::load_from_memory(&w.mock.request_image(r0.seq, 0).unwrap())
        .unwrap()
        .to_rgb8();
    let (top, bottom) = (sent.get_pixel(100, 60), sent.get_pixel(100, 340));
    assert!(top[0] > 150 && top[2] < 100, "red on top: {top:?}");
    assert!(bottom[2] > 150 && bottom[0] < 100, "blue below: {bottom:?}");

    // The 4000×3000 photo: at most 1120 px, aspect kept.
    let p = &reqs[1].images[0];
    assert!(
        p.width <= 1120 && p.height <= 1120,
        "{}×{}",
        p.width,
        p.height
    );
    assert_eq!(p.width, 1120, "scaled to the limit, not below it");
    let aspect = f64::from(p.width) / f64::from(p.height);
    assert!((aspect - 4.0 / 3.0).abs() < 0.01, "aspect {aspect}");

    // The screenshot stays legible: the mock read it with tesseract.
    let s = &reqs[2].images[0];
    assert!(s.width <= 1120, "{}", s.width);
    let text = docs[2]["text"].as_str().unwrap();
    for word in ["Quarterly", "revenue", "screenshots", "4711"] {
        assert!(text.contains(word), "`{word}` survives scaling: {text:?}");
    }

    // Transparency is flattened onto white.
    let t = image::load_from_memory(&w.mock.request_image(reqs[3].seq, 0).unwrap())
        .unwrap()
        .to_rgba8();
    assert_eq!(
        t.get_pixel(5, 5).0,
        [255, 255, 255, 255],
        "transparent corners become white"
    );
    assert!(
        t.get_pixel(150, 100)[0] < 60,
        "the opaque square stays dark"
    );
}

fn ten_images(w: &World) -> Vec<String> {
    (0..10u64)
        .map(|i| {
            w.write(
                &format!("page-{i}.png"),
                &encode(
                    &DynamicImage::ImageRgb8(photo(160, 120, 100 + i)),
                    ImageFormat::Png,
                ),
            )
        })
        .collect()
}

#[test]
fn a_batch_beyond_the_quota_waits_for_the_utc_reset_then_finishes_only_the_rest() {
    let w = World::new(1, MockConfig::default()).with("KEYWHEEL_DAILY_CAP", "6");
    let files = ten_images(&w);
    let mut args = vec!["ocr", "--json"];
    args.extend(files.iter().map(String::as_str));

    let day1 = w
        .cmd(&args)
        .env("KEYWHEEL_FAKE_NOW", "2026-03-01T18:20:00Z")
        .output()
        .unwrap();
    let err = stderr(&day1);
    assert_eq!(
        day1.status.code(),
        Some(3),
        "exit 3 while images are queued: {err}"
    );
    assert!(
        err.contains("10 images need 10 requests; 6 left today; 4 will wait for 00:00 UTC (")
            && err.contains("in 5 h 40 min)"),
        "the plan is said before spending: {err}"
    );
    assert!(
        err.contains("4 of 10 images are queued until 00:00 UTC"),
        "{err}"
    );
    let docs = images(&day1);
    assert_eq!(docs.len(), 10);
    let done: Vec<&Value> = docs.iter().filter(|d| d["status"] == "done").collect();
    let waiting: Vec<&Value> = docs.iter().filter(|d| d["status"] == "waiting").collect();
    assert_eq!((done.len(), waiting.len()), (6, 4));
    for d in &waiting {
        assert_eq!(d["wait_until"], "2026-03-02T00:00:00Z", "{d}");
        assert!(d["text"].is_null());
    }
    assert_eq!(
        lines(&day1).last().unwrap()["error"]["code"],
        "quota_exhausted"
    );
    assert_eq!(w.mock.stats().total_requests, 6);

    // OpenRouter's own day rolls over too (its /key count starts again at 0).
    w.mock.reset_day();
    let day2 = w
        .cmd(&args)
        .env("KEYWHEEL_FAKE_NOW", "2026-03-02T00:05:00Z")
        .output()
        .unwrap();
    let err = stderr(&day2);
    assert!(day2.status.success(), "{err}");
    assert!(
        err.contains("10 images need 4 requests (6 already done, free); 6 left today"),
        "{err}"
    );
    let docs = images(&day2);
    assert!(
        docs.iter()
            .all(|d| d["status"] == "done" && d["text"].is_string()),
        "{docs:?}"
    );
    assert_eq!(
        docs.iter().filter(|d| d["resumed"] == true).count(),
        6,
        "the 6 from yesterday are read back"
    );
    assert_eq!(
        w.mock.stats().total_requests,
        10,
        "10 requests in all, not 16"
    );

    // A third run pays nothing at all.
    let again = w
        .cmd(&args)
        .env("KEYWHEEL_FAKE_NOW", "2026-03-02T00:10:00Z")
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(w.mock.stats().total_requests, 10);
}

#[test]
fn a_killed_batch_resumes_without_paying_twice() {
    let w = World::new(1, MockConfig::default().with_latency_ms(300));
    let files: Vec<String> = ten_images(&w).into_iter().take(8).collect();
    let mut args = vec!["ocr", "--json", "--concurrency", "1"];
    args.extend(files.iter().map(String::as_str));

    let mut child = w
        .cmd(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it (SIGKILL) once three requests have reached the mock.
    loop {
        if w.mock.stats().total_requests >= 3 {
            break;
        }
        if child.try_wait().unwrap().is_some() {
            panic!("the batch ended before it could be killed");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = w.mock.stats().total_requests;
    assert!(before < 8, "killed mid-way ({before} requests)");

    let out = w.run(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let docs = images(&out);
    assert!(docs.iter().all(|d| d["status"] == "done"), "{docs:?}");
    let resumed = docs.iter().filter(|d| d["resumed"] == true).count() as u64;
    let total = w.mock.stats().total_requests;
    assert!(
        resumed + 1 >= before,
        "every answer received before the kill is kept ({resumed} resumed, {before} sent)"
    );
    assert_eq!(
        total - before,
        8 - resumed,
        "the rerun sends only the unfinished images"
    );
    assert!(
        total <= 8 + 1,
        "at most the one request in flight at the kill is sent again ({total})"
    );
}

#[test]
fn local_fallback_is_labelled_and_the_mock_sees_nothing() {
    // No key at all.
    let mut w = World::new(0, MockConfig::default());
    let page = drawn(
        w.dir.path(),
        "page.png",
        1000,
        400,
        &["Local engine reads this", "Second line here"],
    );
    let out = w.run(&["ocr", &page, "--local-fallback"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Local engine reads this"), "{text}");
    assert!(
        stderr(&out).contains("local OCR (tesseract)"),
        "labelled: {}",
        stderr(&out)
    );
    let out = w.run(&["ocr", "--json", &page, "--local-fallback"]);
    let doc = &images(&out)[0];
    assert_eq!(doc["local"], true);
    assert_eq!(doc["label"], "local OCR (tesseract)");
    assert!(doc["key_id"].is_null());
    assert_eq!(w.mock.stats().total_requests, 0, "the mock saw no request");

    // Without the flag: exit 4, and the sentence says how to add a key.
    let fresh = drawn(w.dir.path(), "other.png", 800, 300, &["Another page"]);
    let out = w.run(&["ocr", &fresh]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("keywheel keys add"),
        "{}",
        stderr(&out)
    );

    // No tesseract: the sentence says how to install it.
    w.env.push(("PATH".into(), "/nonexistent".into()));
    let out = w.run(&["ocr", &fresh, "--local-fallback"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("apt install tesseract-ocr tesseract-ocr-eng"),
        "{}",
        stderr(&out)
    );
    assert_eq!(w.mock.stats().total_requests, 0);

    // Keys spent: the quota's share goes to the model, the rest is read locally.
    let w = World::new(1, MockConfig::default()).with("KEYWHEEL_DAILY_CAP", "1");
    let a = drawn(w.dir.path(), "a.png", 800, 300, &["First page"]);
    let b = drawn(w.dir.path(), "b.png", 800, 300, &["Second page"]);
    let out = w.run(&["ocr", "--json", &a, &b, "--local-fallback", "--out", "md"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("1 will go to local OCR (tesseract)"),
        "{}",
        stderr(&out)
    );
    let docs = images(&out);
    assert_eq!(
        (docs[0]["local"].as_bool(), docs[1]["local"].as_bool()),
        (Some(false), Some(true))
    );
    assert_eq!(
        w.mock.stats().total_requests,
        1,
        "only the image within the quota was sent"
    );
}

#[test]
fn out_writes_one_markdown_file_per_image() {
    let w = World::new(1, MockConfig::default());
    let a = w.write(
        "a.png",
        &encode(
            &DynamicImage::ImageRgb8(photo(100, 80, 7)),
            ImageFormat::Png,
        ),
    );
    let b = w.write(
        "b.jpg",
        &encode(
            &DynamicImage::ImageRgb8(photo(100, 80, 8)),
            ImageFormat::Jpeg,
        ),
    );
    let out = w.run(&["ocr", &a, &b, "--out", "notes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    for name in ["a.md", "b.md"] {
        let text = std::fs::read_to_string(w.path("notes").join(name)).unwrap();
        assert!(text.starts_with("Received image 100x80"), "{name}: {text}");
    }
    // Several images to stdout: a header per image.
    let out = w.run(&["ocr", &a, &b]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("## {a}")) && text.contains(&format!("## {b}")),
        "{text}"
    );
    assert_eq!(
        w.mock.stats().total_requests,
        2,
        "the second run came from the jobs table"
    );
}

#[test]
fn local_ocr_gets_the_image_on_stdin_and_an_environment_without_keys() {
    // A fake `tesseract` first on PATH records its environment, its arguments and the image.
    let base = World::new(1, MockConfig::default());
    let bin = base.path("fakebin");
    let rec = base.path("record");
    let tmp = base.path("tmp");
    for d in [&bin, &rec, &tmp] {
        std::fs::create_dir(d).unwrap();
    }
    let script = format!(
        "#!/bin/sh\nenv > '{r}/env.txt'\nprintf '%s\\n' \"$@\" > '{r}/args.txt'\n\
         if [ \"$1\" = stdin ]; then cat > '{r}/image.bin'; else cp \"$1\" '{r}/image.bin'; fi\n\
         echo 'fake tesseract text'\n",
        r = rec.display()
    );
    let fake = bin.join("tesseract");
    std::fs::write(&fake, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let w = base
        .with("PATH", &path)
        .with("TMPDIR", &tmp.display().to_string())
        .with("KEYWHEEL_DAILY_CAP", "1");
    let a = w.write(
        "a.png",
        &encode(
            &DynamicImage::ImageRgb8(photo(400, 300, 3)),
            ImageFormat::Png,
        ),
    );
    let b = w.write(
        "b.png",
        &encode(
            &DynamicImage::ImageRgb8(photo(400, 300, 4)),
            ImageFormat::Png,
        ),
    );
    let out = w.run(&["ocr", "--json", &a, &b, "--local-fallback"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let docs = images(&out);
    assert_eq!(docs[1]["local"], true, "the second image was read locally");
    assert!(
        docs[1]["text"]
            .as_str()
            .unwrap_or("")
            .contains("fake tesseract")
    );

    let env = std::fs::read_to_string(rec.join("env.txt")).unwrap();
    assert!(!env.contains("sk-or-"), "a key reached tesseract:\n{env}");
    for var in env
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k))
    {
        assert!(
            !var.starts_with("OPENROUTER_") && !var.starts_with("KEYWHEEL_"),
            "tesseract saw {var}"
        );
    }
    assert!(env.contains("PATH="), "the rest of the environment is kept");
    let args = std::fs::read_to_string(rec.join("args.txt")).unwrap();
    assert_eq!(
        args.lines().next(),
        Some("stdin"),
        "the image goes on stdin: {args}"
    );
    let image = std::fs::read(rec.join("image.bin")).unwrap();
    assert!(
        image.starts_with(b"\x89PNG") || image.starts_with(b"\xff\xd8"),
        "an image arrived"
    );
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
    assert!(left.is_empty(), "no temporary file: {left:?}");
}

/// The catalogue snapshot the mock serves (its provenance is in the fixture folder's README).
/// docs/models.md: a new user on the free tier, default settings, today's catalogue. The first
/// choice of the original design is gone and the paid one cannot be bought, so a free vision
/// model reads the card; nothing is refused, and the second run pays nothing.
#[test]
fn a_free_tier_account_reads_an_image_with_a_free_vision_model_from_default_settings() {
    let cfg = MockConfig::default()
        .with_catalog_file(snapshot())
        .unwrap()
        .with_no_credits();
    let w = World::new(1, cfg);
    let card = w.write(
        "card.png",
        &encode(
            &DynamicImage::ImageRgb8(photo(300, 200, 7)),
            ImageFormat::Png,
        ),
    );
    let first = w.run(&["ocr", "--json", &card]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let doc = &images(&first)[0];
    assert_eq!(doc["status"], "done");
    assert_eq!(doc["model"], "google/gemma-4-31b-it:free", "{doc}");
    assert_eq!(doc["requests"], 1);
    let err = stderr(&first);
    assert!(
        err.contains("meta-llama/llama-3.2-90b-vision-instruct is no longer offered by OpenRouter; reading with google/gemma-4-31b-it:free"),
        "{err}"
    );
    // A new image the same day: no notice again (once per UTC day), no refused request.
    let other = w.write(
        "other.png",
        &encode(
            &DynamicImage::ImageRgb8(photo(300, 200, 8)),
            ImageFormat::Png,
        ),
    );
    let second = w.run(&["ocr", "--json", &card, &other]);
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    let docs = images(&second);
    assert_eq!(
        docs[0]["requests"], 0,
        "the card was read before: never paid twice"
    );
    assert_eq!(docs[1]["requests"], 1);
    assert!(
        !stderr(&second).contains("no longer offered"),
        "{}",
        stderr(&second)
    );
    let stats = w.mock.stats();
    let refused: u64 = stats
        .keys
        .values()
        .flat_map(|k| k.status.iter())
        .filter(|(code, _)| code.as_str() != "200")
        .map(|(_, n)| *n)
        .sum();
    assert_eq!(refused, 0, "not a single refused request: {stats:?}");
    assert_eq!(stats.total_requests, 2);
}

#[test]
fn a_pinned_unknown_vision_model_exits_2_before_anything_is_planned() {
    let cfg = MockConfig::default().with_catalog_file(snapshot()).unwrap();
    let w = World::new(1, cfg);
    let card = w.write(
        "card.png",
        &encode(
            &DynamicImage::ImageRgb8(photo(120, 80, 3)),
            ImageFormat::Png,
        ),
    );
    let out = w.run(&[
        "ocr",
        "--model",
        "meta-llama/llama-3.2-90b-vision-instruct",
        &card,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is not a model OpenRouter offers"),
        "{}",
        stderr(&out)
    );
    assert_eq!(w.mock.stats().total_requests, 0);
}

/// A minimal PDF whose pages are each either a line of text in Helvetica (a real text layer)
/// or a full-page RGB image (a scan), with a correct cross-reference table.
fn pdf(pages: &[Result<&str, &RgbImage>]) -> Vec<u8> {
    let mut objects: Vec<Vec<u8>> = Vec::new(); // object n is objects[n - 1]
    let font = 3;
    objects.push(Vec::new()); // 1: catalog, filled in below
    objects.push(Vec::new()); // 2: pages
    objects.push(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_vec());
    let mut kids = Vec::new();
    for page in pages {
        let (content, resources) = match page {
            Ok(text) => (
                format!("BT /F1 14 Tf 72 720 Td ({text}) Tj ET").into_bytes(),
                format!("<< /Font << /F1 {font} 0 R >> >>"),
            ),
            Err(img) => {
                let mut x = format!(
                    "<< /Type /XObject /Subtype /Image /Width {} /Height {} /ColorSpace /DeviceRGB /BitsPerComponent 8 /Length {} >>\nstream\n",
                    img.width(),
                    img.height(),
                    img.as_raw().len()
                )
                .into_bytes();
                x.extend_from_slice(img.as_raw());
                x.extend_from_slice(b"\nendstream");
                objects.push(x);
                let im = objects.len();
                (
                    b"q 612 0 0 792 0 0 cm /Im0 Do Q".to_vec(),
                    format!("<< /XObject << /Im0 {im} 0 R >> >>"),
                )
            }
        };
        let mut c = format!("<< /Length {} >>\nstream\n", content.len()).into_bytes();
        c.extend_from_slice(&content);
        c.extend_from_slice(b"\nendstream");
        objects.push(c);
        let c = objects.len();
        objects.push(
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {c} 0 R /Resources {resources} >>"
            )
            .into_bytes(),
        );
        kids.push(format!("{} 0 R", objects.len()));
    }
    objects[0] = b"<< /Type /Catalog /Pages 2 0 R >>".to_vec();
    objects[1] = format!(
        "<< /Type /Pages /Kids [{}] /Count {} >>",
        kids.join(" "),
        kids.len()
    )
    .into_bytes();
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(o);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for off in offsets {
        out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

fn has(program: &str) -> bool {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .any(|d| d.join(program).is_file())
}

#[test]
fn pdf_pages_text_layer_free_scans_sent_ranges_and_resume() {
    if !has("pdftoppm") {
        eprintln!("skipped: poppler-utils is not installed (scripts/setup-system.sh installs it)");
        return;
    }
    let w = World::new(1, MockConfig::default());
    let scan = photo(300, 388, 7);
    let scan2 = photo(300, 388, 8);
    let text = "Invoice 2026-0042 for the repair of the north gate, paid in full on 3 March";
    let doc = w.write(
        "scan.pdf",
        &pdf(&[Ok(text), Err(&scan), Ok(text), Err(&scan2)]),
    );

    // Pages 1-2: one from its text layer (0 requests), one scanned page sent.
    let out = w.run(&["ocr", "--json", "--pages", "1-2", &doc]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "scan.pdf: 1 page needs 1 request; 1 page read from the text layer, 0 requests"
        ),
        "{}",
        stderr(&out)
    );
    let pages = images(&out);
    assert_eq!(pages.len(), 2, "{pages:?}");
    assert_eq!(pages[0]["page"], 1);
    assert_eq!(pages[0]["source"], "text-layer");
    assert_eq!(pages[0]["requests"], 0);
    assert!(
        pages[0]["text"]
            .as_str()
            .unwrap()
            .contains("Invoice 2026-0042")
    );
    assert_eq!(pages[1]["page"], 2);
    assert_eq!(pages[1]["source"], "vision");
    assert_eq!(pages[1]["requests"], 1);
    assert_eq!(w.mock.stats().total_requests, 1);

    // All pages: page 2 is not paid again (its job is done), page 4 is; pages 1 and 3 are
    // free.
    let out = w.run(&["ocr", "--json", &doc]);
    assert!(out.status.success(), "{}", stderr(&out));
    let pages = images(&out);
    let sources: Vec<_> = pages
        .iter()
        .map(|p| p["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources, ["text-layer", "vision", "text-layer", "vision"]);
    assert_eq!(pages[1]["requests"], 0, "page 2 was paid in the first run");
    assert_eq!(pages[3]["requests"], 1);
    assert_eq!(w.mock.stats().total_requests, 2);

    // Markdown: `## Page N`; --vision sends the text-layer pages too.
    let out = w.run(&["ocr", "--vision", "--pages", "3", &doc]);
    assert!(out.status.success(), "{}", stderr(&out));
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.contains("## Page 3"), "{md}");
    assert_eq!(w.mock.stats().total_requests, 3);
    let out = w.run(&["ocr", "--pages", "1", &doc]);
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.contains("## Page 1\n\n_(text layer)_"), "{md}");
    assert!(md.contains("Invoice 2026-0042"), "{md}");

    // A page past the end is a usage error; nothing is sent.
    let out = w.run(&["ocr", "--pages", "9", &doc]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(w.mock.stats().total_requests, 3);
}

#[test]
fn damaged_empty_and_password_pdfs_exit_6_and_spend_nothing() {
    if !has("pdfinfo") {
        eprintln!("skipped: poppler-utils is not installed (scripts/setup-system.sh installs it)");
        return;
    }
    let w = World::new(1, MockConfig::default());
    let good = pdf(&[Ok(
        "Hello from a page with enough words to count as a text layer",
    )]);
    let damaged = w.write("broken.pdf", &good[..good.len() / 3]);
    let empty = w.write("empty.pdf", &pdf(&[]));
    let mut cases = vec![(damaged, "damaged"), (empty, "empty")];
    if has("qpdf") {
        let plain = w.write("plain.pdf", &good);
        let locked = w.path("locked.pdf").display().to_string();
        let open = w.path("open.pdf").display().to_string();
        let qpdf = |args: &[&str]| {
            let s = Command::new("qpdf").args(args).status().unwrap();
            assert!(s.success());
        };
        qpdf(&["--encrypt", "user", "owner", "256", "--", &plain, &locked]);
        qpdf(&["--encrypt", "", "owner", "256", "--", &plain, &open]);
        cases.push((locked, "needs a password"));
        // Encrypted, but it opens without a password: read like any other.
        let out = w.run(&["ocr", "--json", &open]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(images(&out)[0]["source"], "text-layer");
    }
    for (file, what) in cases {
        let out = w.run(&["ocr", &file]);
        assert_eq!(out.status.code(), Some(6), "{file}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(&file) && err.contains(what), "{err}");
    }
    assert_eq!(w.mock.stats().total_requests, 0);
}
