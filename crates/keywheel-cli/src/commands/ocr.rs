//! `keywheel ocr FILE…` (or `--clipboard`, or `--screen [--region X,Y,W,H]`): check every
//! input, say the quota plan, read the images (bounded concurrency, progress bar on a
//! terminal), print Markdown, one `.md` per image in `--out`, or one JSON line per image; with
//! `--copy`, put the text on the clipboard too (held after exit by `keywheel-capture`).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use keywheel_core::chains::ModelChoice;
use keywheel_core::clock::describe_reset;
use keywheel_core::dispatch::{Dispatcher, Kind};
use keywheel_core::ledger::jobs::JobStatus;
use keywheel_core::ocr::{self, Batch, Event, ImageResult, OcrOptions, PrepOptions};
use keywheel_core::openrouter::CancelToken;
use keywheel_core::pool::Pool;
use keywheel_core::{Error, Result};

use keywheel_capture::{CaptureError, ClipboardError};

use crate::cli::OcrArgs;
use crate::output;

/// One page of a PDF in the output: from its text layer, or the input it became.
enum PdfEntry {
    Text {
        file: String,
        page: usize,
        text: String,
    },
    Job {
        index: usize,
        page: usize,
    },
}

pub fn run(pool: &Pool, args: &OcrArgs, json: bool) -> Result<()> {
    // Every file is checked before an instance starts: bad input spends and reserves nothing.
    let prep = PrepOptions::default();
    let (pdfs, images): (Vec<PathBuf>, Vec<PathBuf>) = args
        .files
        .iter()
        .cloned()
        .partition(|f| ocr::pdf::is_pdf(f));
    let pages = args
        .pages
        .as_deref()
        .map(ocr::pdf::parse_pages)
        .transpose()?;
    let mut inputs = if images.is_empty() {
        Vec::new()
    } else {
        ocr::prepare_files(&images, &prep)?
    };
    inputs.extend(captured(args, &prep)?);
    let image_inputs = inputs.len();
    let mut pdf_entries = Vec::new();
    for pdf in &pdfs {
        for page in ocr::pdf::prepare_pdf(pdf, pages.as_deref(), args.vision, &prep)? {
            match page {
                ocr::pdf::PdfPage::TextLayer { file, page, text } => {
                    pdf_entries.push(PdfEntry::Text { file, page, text })
                }
                ocr::pdf::PdfPage::Vision(input) => {
                    let page = input.prepared.page.map_or(0, |p| p.number);
                    pdf_entries.push(PdfEntry::Job {
                        index: inputs.len(),
                        page,
                    });
                    inputs.push(input);
                }
            }
        }
    }
    if inputs.is_empty() {
        let results = Vec::new();
        print_pdf_pages(&pdf_entries, &results, json, pdfs.len() + images.len() > 1);
        if args.copy {
            copy(&copied_text(&[], &pdf_entries, &results))?;
        }
        return Ok(());
    }
    let models = if args.models.is_empty() {
        ModelChoice::Default
    } else {
        // A pinned model the catalogue lacks is a usage error before anything is planned.
        let pinned = ModelChoice::Pinned(args.models.clone());
        let client = super::client(pool)?;
        super::runtime()?.block_on(keywheel_core::catalogue::resolve_chain(
            pool,
            &client,
            Kind::Ocr,
            &pinned,
        ))?;
        pinned
    };
    let opts = OcrOptions {
        models,
        concurrency: usize::from(args.concurrency),
        local_fallback: args.local_fallback,
        use_cache: pool.settings().cache_ocr,
    };
    let instance = Arc::new(pool.start_instance("cli")?);
    super::tell_adoption(&instance);
    let dispatcher = Dispatcher::new(instance)?;
    let batch = Batch::plan(pool, inputs, opts)?;
    if images.is_empty() && pdfs.len() == 1 {
        eprintln!(
            "keywheel: {}",
            pdf_sentence(&pdfs[0], &pdf_entries, batch.quota(), pool)
        );
    } else {
        eprintln!("keywheel: {}", batch.quota().sentence());
    }

    let bar = progress_bar(batch.tiles() as u64, json);
    let on = |e: Event<'_>| match e {
        Event::Finished { file, .. } => {
            bar.set_message(file.to_string());
            bar.inc(1);
        }
        Event::Note(line) => bar.suspend(|| eprintln!("keywheel: {line}")),
    };
    let cancel = CancelToken::new();
    let results = super::runtime()?.block_on(async {
        let stop = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                stop.cancel();
            }
        });
        batch.run(Some(&dispatcher), &on, &cancel).await
    })?;
    bar.finish_and_clear();

    let several = pdfs.len() + images.len() > 1;
    let (results, page_results) = results.split_at(image_inputs);
    if json {
        for r in results {
            println!(
                "{}",
                output::json_line(&serde_json::to_string(r).unwrap_or_default())
            );
        }
    } else if let Some(dir) = &args.out {
        write_files(dir, results)?;
    } else {
        print_markdown(results);
    }
    let results_all: Vec<ImageResult> = results.iter().chain(page_results).cloned().collect();
    let page_results: Vec<ImageResult> = page_results.to_vec();
    if args.out.is_none() || json {
        print_pdf_pages(
            &pdf_entries,
            &offset(&page_results, image_inputs),
            json,
            several,
        );
    }
    if !json {
        for r in results {
            eprintln!("keywheel: {}", summary(r, pool));
        }
    }
    if args.copy {
        copy(&copied_text(
            results,
            &pdf_entries,
            &offset(&page_results, image_inputs),
        ))?;
    }
    match batch.outcome_error(&results_all) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The image `--clipboard` or `--screen` names, prepared like a file; `None` without either.
/// Nothing is reserved yet, so a failure here spends nothing.
fn captured(args: &OcrArgs, prep: &PrepOptions) -> Result<Option<ocr::Input>> {
    let (name, shot) = if args.clipboard {
        let shot = keywheel_capture::clipboard::read_image().map_err(clipboard_error)?;
        ("clipboard".to_string(), shot)
    } else if args.screen {
        let name = match &args.region {
            Some(r) => format!("screen {r}"),
            None => "screen".to_string(),
        };
        (
            name,
            keywheel_capture::screen::grab(args.region).map_err(capture_error)?,
        )
    } else {
        return Ok(None);
    };
    ocr::prepare_bytes(&name, &shot.png, prep).map(Some)
}

fn capture_error(e: CaptureError) -> Error {
    match e {
        CaptureError::RegionOutside { .. } => Error::BadInput(format!("{e}; nothing was sent")),
        CaptureError::Failed(_) => {
            Error::io("nothing was sent", std::io::Error::other(e.to_string()))
        }
        _ => Error::Usage(format!("{e}; nothing was sent")),
    }
}

fn clipboard_error(e: ClipboardError) -> Error {
    match e {
        ClipboardError::NoImage => Error::BadInput(format!("{e}; nothing was sent")),
        ClipboardError::Unavailable(_) => Error::Usage(e.to_string()),
        ClipboardError::Failed(_) => {
            Error::io("the clipboard", std::io::Error::other(e.to_string()))
        }
    }
}

/// What `--copy` puts on the clipboard: the text of every image, then of every PDF page, in
/// order, separated by a blank line (no headers: a single capture copies just its text).
fn copied_text(
    images: &[ImageResult],
    entries: &[PdfEntry],
    pages: &[Option<ImageResult>],
) -> String {
    let mut parts: Vec<&str> = images.iter().filter_map(|r| r.text.as_deref()).collect();
    for e in entries {
        match e {
            PdfEntry::Text { text, .. } => parts.push(text),
            PdfEntry::Job { index, .. } => {
                if let Some(Some(r)) = pages.get(*index)
                    && let Some(t) = &r.text
                {
                    parts.push(t);
                }
            }
        }
    }
    parts
        .iter()
        .map(|t| t.trim())
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// `--copy`: the text goes to a holder process that serves it after keywheel exits.
fn copy(text: &str) -> Result<()> {
    if text.is_empty() {
        eprintln!("keywheel: no text was read, so the clipboard was left as it was");
        return Ok(());
    }
    let me = std::env::current_exe().map_err(|e| {
        Error::io(
            "could not find the keywheel program to hold the clipboard",
            e,
        )
    })?;
    keywheel_capture::clipboard::write_text_detached(text, &me).map_err(clipboard_error)?;
    let lines = text.lines().count();
    eprintln!(
        "keywheel: copied the text to the clipboard ({lines} line{})",
        if lines == 1 { "" } else { "s" }
    );
    Ok(())
}

fn progress_bar(len: u64, json: bool) -> ProgressBar {
    if json || len < 2 || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{bar:30} {pos}/{len} images·tiles  {elapsed}  {wide_msg}")
    {
        bar.set_style(style);
    }
    bar
}

fn print_markdown(results: &[ImageResult]) {
    let several = results.len() > 1;
    for r in results {
        let Some(text) = &r.text else { continue };
        if several {
            println!("## {}\n", r.file);
        }
        println!("{}", output::model_text(text.trim_end()));
        if several {
            println!();
        }
    }
}

fn write_files(dir: &Path, results: &[ImageResult]) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| {
        Error::io(
            format!("could not create the directory {}", dir.display()),
            e,
        )
    })?;
    let mut taken: Vec<PathBuf> = Vec::new();
    for r in results {
        let Some(text) = &r.text else { continue };
        let stem = Path::new(&r.file)
            .file_stem()
            .map_or_else(|| "image".to_string(), |s| s.to_string_lossy().into_owned());
        let mut path = dir.join(format!("{stem}.md"));
        let mut n = 2;
        while taken.contains(&path) {
            path = dir.join(format!("{stem}-{n}.md"));
            n += 1;
        }
        std::fs::write(&path, format!("{}\n", text.trim_end()))
            .map_err(|e| Error::io(format!("could not write {}", path.display()), e))?;
        eprintln!("keywheel: wrote {}", path.display());
        taken.push(path);
    }
    Ok(())
}

fn summary(r: &ImageResult, pool: &Pool) -> String {
    let tiles = if r.tiles > 1 {
        format!(" · {} tiles", r.tiles)
    } else {
        String::new()
    };
    match r.status {
        JobStatus::Done if r.local => format!("{}: done · {}{tiles}", r.file, ocr::LOCAL_LABEL),
        JobStatus::Done => {
            let model = r.model.as_deref().unwrap_or("?");
            let paid = match (&r.key_id, r.resumed, r.cached) {
                (_, true, _) => "done in an earlier run, no quota spent".to_string(),
                (_, false, true) => "from the cache, no quota spent".to_string(),
                (Some(k), _, _) => format!(
                    "key {k} · {} request{}",
                    r.requests,
                    if r.requests == 1 { "" } else { "s" }
                ),
                (None, _, _) => "no quota spent".to_string(),
            };
            format!(
                "{}: done · {model} · {paid}{tiles} · sent {}×{}",
                r.file, r.width, r.height
            )
        }
        JobStatus::Waiting => {
            let when = r.wait_until.map_or_else(
                || "the next reset".to_string(),
                |t| describe_reset(t, pool.now()),
            );
            format!("{}: queued until {when}", r.file)
        }
        status => format!(
            "{}: {} ({})",
            r.file,
            status.as_str(),
            r.error.as_deref().unwrap_or("no reason recorded")
        ),
    }
}

/// Page results indexed like the batch's inputs (the first `skip` are images).
fn offset(page_results: &[ImageResult], skip: usize) -> Vec<Option<ImageResult>> {
    std::iter::repeat_n(None, skip)
        .chain(page_results.iter().cloned().map(Some))
        .collect()
}

/// `scan.pdf: 23 pages need 23 requests; 17 left today; 6 wait for 00:00 UTC`.
fn pdf_sentence(
    file: &Path,
    entries: &[PdfEntry],
    plan: &keywheel_core::ocr::QuotaPlan,
    pool: &Pool,
) -> String {
    let text = entries
        .iter()
        .filter(|e| matches!(e, PdfEntry::Text { .. }))
        .count();
    let sent = entries.len() - text;
    let pages = |n: usize| format!("{n} page{}", if n == 1 { "" } else { "s" });
    let verb = if sent == 1 { "needs" } else { "need" };
    let mut s = format!(
        "{}: {} {verb} {} request{}",
        file.display(),
        pages(sent),
        plan.needed,
        if plan.needed == 1 { "" } else { "s" }
    );
    if plan.done + plan.cached > 0 {
        s.push_str(&format!(
            " ({} already done, free)",
            plan.done + plan.cached
        ));
    }
    if text > 0 {
        s.push_str(&format!(
            "; {} read from the text layer, 0 requests",
            pages(text)
        ));
    }
    match &plan.no_key {
        Some(why) if plan.needed > 0 => s.push_str(&format!("; no key can serve them ({why})")),
        _ => {
            s.push_str(&format!("; {} left today", plan.left));
            if plan.over > 0 {
                let when = plan.reset_at.map_or_else(
                    || "the next reset".to_string(),
                    |t| describe_reset(t, pool.now()),
                );
                s.push_str(&format!("; {} wait for {when}", plan.over));
            }
        }
    }
    s
}

/// PDF pages: `## Page N` in Markdown (under `# file` when there are several files), or one
/// JSON line per page with `file`, `page`, `source`, `requests` and `text`.
fn print_pdf_pages(
    entries: &[PdfEntry],
    results: &[Option<ImageResult>],
    json: bool,
    several: bool,
) {
    let mut last_file: Option<String> = None;
    for e in entries {
        let (file, page, source, requests, text, status) = match e {
            PdfEntry::Text { file, page, text } => (
                file.clone(),
                *page,
                "text-layer",
                0,
                Some(text.clone()),
                "done".to_string(),
            ),
            PdfEntry::Job { index, page } => {
                let Some(Some(r)) = results.get(*index) else {
                    continue;
                };
                (
                    r.file.clone(),
                    *page,
                    if r.local { "local" } else { "vision" },
                    r.requests,
                    r.text.clone(),
                    r.status.as_str().to_string(),
                )
            }
        };
        if json {
            let v = serde_json::json!({
                "file": file,
                "page": page,
                "source": source,
                "requests": requests,
                "status": status,
                "text": text,
            });
            println!("{}", output::json_line(&v.to_string()));
            continue;
        }
        if several && last_file.as_deref() != Some(file.as_str()) {
            println!("# {file}\n");
            last_file = Some(file.clone());
        }
        if source == "text-layer" {
            println!("## Page {page}\n\n_(text layer)_\n");
        } else {
            println!("## Page {page}\n");
        }
        match &text {
            Some(t) => println!("{}\n", output::model_text(t.trim_end())),
            None => println!("_(not read yet: {status})_\n"),
        }
    }
}
