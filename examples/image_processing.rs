//! Image to text through the key pool: one image, then a small batch that is run twice to show
//! that finished images are never paid for again.
//!
//! Run offline (the default):
//!
//! ```text
//! cargo run -p keywheel-core --example image_processing                  # images made here
//! cargo run -p keywheel-core --example image_processing -- a.png b.jpg   # your own images
//! ```
//!
//! Without `OPENROUTER_API_KEYS` the example starts `keywheel-mock` in-process on 127.0.0.1,
//! uses a made-up key and a temporary ledger, and says so on stderr; the "transcriptions" are
//! then the mock's canned text. With `OPENROUTER_API_KEYS=sk-or-v1-…` set it asks OpenRouter's
//! vision models for real (one request per image or tile, from your free quota), counting them
//! in your normal ledger (or the one in `KEYWHEEL_DATA_DIR`); the OS keychain is not used.

use std::io::Cursor;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use keywheel_core::dispatch::Dispatcher;
use keywheel_core::keys::OsKeychain;
use keywheel_core::ocr::{self, Batch, Event, ImageResult, OcrOptions};
use keywheel_core::openrouter::CancelToken;
use keywheel_core::pool::{Pool, PoolOptions};
use keywheel_core::{Error, Result, SystemClock};
use keywheel_testkit::backend::Backend;
use keywheel_vision::PrepOptions;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("image_processing: {e}");
            ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(1))
        }
    }
}

fn run() -> Result<()> {
    let backend = Backend::choose(&["5e"])?;
    backend.announce(
        "reading the images with",
        "one request per image or tile from your quota",
        "the transcriptions are the mock's canned text",
    );
    let pool = Pool::open(PoolOptions {
        settings: backend.settings.clone(),
        clock: Arc::new(SystemClock),
        store: Arc::new(OsKeychain::disabled()),
        env_keys: Some(backend.keys.clone()),
    })?;
    for w in pool.warnings() {
        eprintln!("{w}");
    }

    let scratch =
        tempfile::tempdir().map_err(|e| Error::io("could not create a temporary directory", e))?;
    let mut files: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if files.is_empty() {
        files = make_images(scratch.path())?;
    }
    let dispatcher = Dispatcher::new(Arc::new(pool.start_instance("example")?))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("could not start the async runtime", e))?;

    // 1. One image: check and prepare it (nothing is sent for a bad file), then read it.
    println!("# One image\n");
    let one = ocr::prepare_files(&files[..1], &PrepOptions::default())?;
    let p = &one[0].prepared;
    println!(
        "{}: {:?} {}×{} → {} request(s), first sent as {} {}×{} ({} bytes)",
        one[0].file,
        p.source_format,
        p.source_width,
        p.source_height,
        p.tiles.len(),
        p.tiles[0].mime,
        p.tiles[0].width,
        p.tiles[0].height,
        p.tiles[0].bytes
    );
    let results = read(&rt, &pool, &dispatcher, one)?;
    show(&results);

    // 2. A small batch, twice: the second run resumes from the job table and spends nothing.
    for round in ["first run", "second run (same files)"] {
        println!("\n# Batch, {round}\n");
        let inputs = ocr::prepare_files(&files, &PrepOptions::default())?;
        let results = read(&rt, &pool, &dispatcher, inputs)?;
        show(&results);
    }
    let usage = pool.usage(1)?;
    let requests: u32 = usage.usage.iter().map(|r| r.requests).sum();
    println!("\nrequests counted in the ledger today: {requests}");
    drop(backend); // stops the mock (if any) and removes the temporary ledger
    Ok(())
}

/// Plans a batch (the quota sentence), runs it two at a time, and says what happened.
fn read(
    rt: &tokio::runtime::Runtime,
    pool: &Pool,
    dispatcher: &Dispatcher,
    inputs: Vec<ocr::Input>,
) -> Result<Vec<ImageResult>> {
    let opts = OcrOptions {
        models: keywheel_core::chains::ModelChoice::Default, // the configured vision chain, resolved
        concurrency: 2,
        local_fallback: false,
        use_cache: true,
    };
    let batch = Batch::plan(pool, inputs, opts)?;
    eprintln!("plan: {}", batch.quota().sentence());
    let on = |e: Event<'_>| {
        if let Event::Note(line) = e {
            eprintln!("  {line}");
        }
    };
    let results = rt.block_on(batch.run(Some(dispatcher), &on, &CancelToken::new()))?;
    if let Some(e) = batch.outcome_error(&results) {
        eprintln!("not everything is done: {e}");
    }
    Ok(results)
}

fn show(results: &[ImageResult]) {
    for r in results {
        let how = match (r.resumed, r.cached, r.local) {
            (_, _, true) => ocr::LOCAL_LABEL.to_string(),
            (true, _, _) => "done in an earlier run, no quota spent".to_string(),
            (_, true, _) => "from the cache, no quota spent".to_string(),
            _ => format!(
                "{} request(s) on key {}",
                r.requests,
                r.key_id.as_deref().unwrap_or("?")
            ),
        };
        println!("## {} — {} ({how})\n", r.file, r.status.as_str());
        if let Some(text) = &r.text {
            println!("{}\n", text.trim());
        }
    }
}

/// Three small pictures that differ (a page with bars of "text", a receipt, a photo-like one).
fn make_images(dir: &std::path::Path) -> Result<Vec<PathBuf>> {
    let page = RgbImage::from_fn(900, 600, |x, y| {
        let line = (y / 30) % 2 == 0 && y > 40 && x > 40 && x < 860 - (y * 7) % 200;
        if line {
            Rgb([30, 30, 30])
        } else {
            Rgb([255, 255, 255])
        }
    });
    let receipt = RgbImage::from_fn(400, 1000, |x, y| {
        if (y / 24) % 3 == 0 && x > 30 && x < 370 {
            Rgb([20, 20, 20])
        } else {
            Rgb([250, 248, 240])
        }
    });
    let photo = RgbImage::from_fn(1600, 1200, |x, y| {
        Rgb([(x * 255 / 1600) as u8, (y * 255 / 1200) as u8, 140])
    });
    let mut out = Vec::new();
    for (name, img, format) in [
        ("page.png", page, ImageFormat::Png),
        ("receipt.png", receipt, ImageFormat::Png),
        ("photo.jpg", photo, ImageFormat::Jpeg),
    ] {
        let mut bytes = Cursor::new(Vec::new());
        DynamicImage::ImageRgb8(img)
            .write_to(&mut bytes, format)
            .map_err(|e| Error::BadInput(format!("could not make {name}: {e}")))?;
        let path = dir.join(name);
        std::fs::write(&path, bytes.into_inner())
            .map_err(|e| Error::io(format!("could not write {}", path.display()), e))?;
        out.push(path);
    }
    Ok(out)
}
