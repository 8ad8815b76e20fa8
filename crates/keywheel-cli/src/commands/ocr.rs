//! `keywheel ocr FILE…`: check every file, say the quota plan, read the images (bounded
//! concurrency, progress bar on a terminal), print Markdown, one `.md` per image in `--out`,
//! or one JSON line per image.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use keywheel_core::chains::ModelChoice;
use keywheel_core::clock::describe_reset;
use keywheel_core::dispatch::{Dispatcher, Kind};
use keywheel_core::ledger::jobs::JobStatus;
use keywheel_core::ocr::{self, Batch, Event, ImageResult, OcrOptions};
use keywheel_core::openrouter::CancelToken;
use keywheel_core::pool::Pool;
use keywheel_core::{Error, Result};
use keywheel_vision::PrepOptions;

use crate::cli::OcrArgs;
use crate::output;

pub fn run(pool: &Pool, args: &OcrArgs, json: bool) -> Result<()> {
    // Every file is checked before an instance starts: bad input spends and reserves nothing.
    let inputs = ocr::prepare_files(&args.files, &PrepOptions::default())?;
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
    let dispatcher = Dispatcher::new(Arc::new(pool.start_instance("cli")?))?;
    let batch = Batch::plan(pool, inputs, opts)?;
    eprintln!("keywheel: {}", batch.quota().sentence());

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

    if json {
        for r in &results {
            println!(
                "{}",
                output::json_line(&serde_json::to_string(r).unwrap_or_default())
            );
        }
    } else if let Some(dir) = &args.out {
        write_files(dir, &results)?;
    } else {
        print_markdown(&results);
    }
    if !json {
        for r in &results {
            eprintln!("keywheel: {}", summary(r, pool));
        }
    }
    match batch.outcome_error(&results) {
        Some(e) => Err(e),
        None => Ok(()),
    }
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
