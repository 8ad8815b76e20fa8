//! PDF documents: each page is read from its text layer (free) or rendered and sent as a job.
//!
//! The renderer is poppler (Debian `poppler-utils`: `pdfinfo`, `pdftotext`, `pdfimages`,
//! `pdftoppm`), chosen by measurement over the pure-Rust `hayro` (see docs in the README's PDF
//! section): both rendered the public test PDFs correctly, `hayro` faster (about 0.11 s per
//! page at 150 dpi against 0.17 s) but with a larger peak (30 MB against 23 MB); poppler also
//! extracts the text layer, tells a damaged file from a good one (`hayro` rendered a page out
//! of a broken file), and runs in its own process, so a hostile file cannot take Keywheel with
//! it. Rendering is not the bottleneck: a model answer takes seconds.
//!
//! Rules:
//! - a page has a **real text layer** when `pdftotext` gets at least
//!   [`TEXT_LAYER_MIN_CHARS`] letters or digits from it and no image covers most of the page
//!   (a scan with an OCR layer underneath is sent to the model, which reads it better);
//! - every other page is rendered with its longest side at the model's size (taller pages at
//!   a multiple, so that tiles stay legible), prepared like an image, and becomes a job whose
//!   key is the PDF's SHA-256 plus `:p<N>`: resumable page by page, never paid twice;
//! - refused before anything is sent ([`Error::BadInput`], exit 6): a PDF that needs a
//!   password, a damaged one, one with no pages, more than [`MAX_PAGES`] pages, or a page
//!   larger than [`MAX_PAGE_SIDE_PT`] points on a side;
//! - a page whose render takes longer than [`RENDER_TIME_LIMIT`] is stopped (poppler is
//!   killed) and refused the same way, naming the file and the page: a hostile or pathological
//!   page cannot hold a run, or the app, for ever.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use keywheel_vision::{PageOf, PrepOptions};
use sha2::{Digest, Sha256};

use super::Input;
use crate::error::{Error, Result};

/// Letters and digits a page's text layer must have to be read instead of sent.
pub const TEXT_LAYER_MIN_CHARS: usize = 40;
/// The most pages one PDF may have.
pub const MAX_PAGES: usize = 2000;
/// The largest page side, in PDF points (200 inches).
pub const MAX_PAGE_SIDE_PT: f64 = 14_400.0;
/// Largest PDF file read, in bytes.
pub const MAX_PDF_BYTES: u64 = 200_000_000;
/// Most pixels one rendered page may have (the render memory limit: 3 bytes a pixel).
pub const MAX_RENDER_PIXELS: u64 = 40_000_000;
/// The longest one page may take to render; poppler is killed after that. A page at the
/// model's size renders in well under a second (BENCHMARKS.md).
pub const RENDER_TIME_LIMIT: Duration = Duration::from_secs(60);

/// One selected page of a PDF, made ready.
#[derive(Debug, Clone)]
pub enum PdfPage {
    /// Read from the text layer: no request.
    TextLayer {
        /// The file as given.
        file: String,
        /// The page, from 1.
        page: usize,
        /// The text.
        text: String,
    },
    /// Rendered, to be sent (a job per tile, keyed by page).
    Vision(Input),
}

/// Whether `path` holds a PDF (from its first bytes, not its name).
pub fn is_pdf(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 1024];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    keywheel_vision::sniff(&head[..n]) == Some(keywheel_vision::Format::Pdf)
}

/// Parses `1-3,7` into sorted, distinct page numbers (from 1).
pub fn parse_pages(spec: &str) -> Result<Vec<usize>> {
    let bad = || {
        Error::Usage(format!(
            "--pages {spec:?} is not a page list; write pages and ranges from 1, e.g. `--pages 1-3,7`"
        ))
    };
    let mut out = Vec::new();
    for part in spec.split(',').map(str::trim) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let a: usize = a.trim().parse().map_err(|_| bad())?;
        let b: usize = b.trim().parse().map_err(|_| bad())?;
        if a == 0 || b < a || b - a > MAX_PAGES {
            return Err(bad());
        }
        out.extend(a..=b);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Reads the PDF at `path`: the `pages` chosen (all when `None`), each from its text layer or
/// rendered for the model (`force_vision` renders every page). Refuses a PDF that needs a
/// password, a damaged or empty one, and pages outside the document, with
/// [`Error::BadInput`] naming the file; nothing is sent.
pub fn prepare_pdf(
    path: &Path,
    pages: Option<&[usize]>,
    force_vision: bool,
    opts: &PrepOptions,
) -> Result<Vec<PdfPage>> {
    let file = path.display().to_string();
    let refuse = |what: &str| Error::BadInput(format!("{file} {what}. Nothing was sent."));
    let meta =
        std::fs::metadata(path).map_err(|e| Error::io(format!("could not read {file}"), e))?;
    if meta.len() > MAX_PDF_BYTES {
        return Err(refuse(&format!(
            "is larger than the {} MB limit for PDFs; split it first",
            MAX_PDF_BYTES / 1_000_000
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| Error::io(format!("could not read {file}"), e))?;
    let info = pdfinfo(path, &file)?;
    if info.pages == 0 {
        return Err(refuse("is an empty PDF (it has no pages)"));
    }
    if info.pages > MAX_PAGES {
        return Err(refuse(&format!(
            "has {} pages, more than the {MAX_PAGES}-page limit; split it first",
            info.pages
        )));
    }
    let chosen: Vec<usize> = match pages {
        Some(p) => p.to_vec(),
        None => (1..=info.pages).collect(),
    };
    if let Some(&past) = chosen.iter().find(|&&p| p > info.pages) {
        return Err(Error::Usage(format!(
            "{file} has {} pages, so there is no page {past}; choose pages from 1 to {}",
            info.pages, info.pages
        )));
    }
    let hash = hex::encode(Sha256::digest(&bytes));
    let mut out = Vec::with_capacity(chosen.len());
    for &page in &chosen {
        let (w, h) = info.sizes.get(page - 1).copied().unwrap_or((612.0, 792.0));
        if w > MAX_PAGE_SIDE_PT || h > MAX_PAGE_SIDE_PT {
            return Err(refuse(&format!(
                "has a page {page} of {w:.0}×{h:.0} points, larger than the {MAX_PAGE_SIDE_PT:.0}-point limit"
            )));
        }
        if !force_vision && let Some(text) = text_layer(path, page, (w, h))? {
            out.push(PdfPage::TextLayer {
                file: file.clone(),
                page,
                text,
            });
            continue;
        }
        let png = render(path, &file, page, (w, h), opts)?;
        let name = format!("{file} (page {page})");
        let mut prepared = keywheel_vision::prepare(&name, &png, opts)
            .map_err(|e| Error::BadInput(format!("{e} Nothing was sent.")))?;
        prepared.content_hash = format!("{hash}:p{page}");
        prepared.page = Some(PageOf {
            number: page,
            of: info.pages,
        });
        out.push(PdfPage::Vision(Input::new(file.clone(), prepared)));
    }
    Ok(out)
}

struct Info {
    pages: usize,
    sizes: Vec<(f64, f64)>,
}

fn poppler(program: &str) -> Command {
    let mut cmd = Command::new(program);
    crate::child::without_secrets(&mut cmd);
    cmd.env("LC_ALL", "C").stdin(Stdio::null());
    cmd
}

fn missing(program: &str, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        Error::ToolMissing(format!(
            "reading PDFs needs poppler's `{program}`, which is not installed (Debian/Ubuntu: apt install poppler-utils)"
        ))
    } else {
        Error::io(format!("could not run {program}"), e)
    }
}

fn pdfinfo(path: &Path, file: &str) -> Result<Info> {
    let out = poppler("pdfinfo")
        .args(["-f", "1", "-l", &MAX_PAGES.to_string()])
        .arg(path)
        .output()
        .map_err(|e| missing("pdfinfo", e))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        let what = if stderr.contains("Incorrect password") {
            "needs a password; open it with its password and save a copy without one, or print it to a new PDF"
                .to_string()
        } else {
            let why = stderr
                .lines()
                .next()
                .unwrap_or("poppler could not open it")
                .trim();
            format!("is a damaged PDF and cannot be read ({why}); download or export it again")
        };
        return Err(Error::BadInput(format!("{file} {what}. Nothing was sent.")));
    }
    let mut pages = 0;
    let mut sizes = Vec::new();
    for line in stdout.lines() {
        if let Some(n) = line.strip_prefix("Pages:") {
            pages = n.trim().parse().unwrap_or(0);
        } else if line.starts_with("Page ") && line.contains(" size: ") {
            // "Page    1 size: 612 x 792 pts (letter)"
            let dims = line.split(" size: ").nth(1).unwrap_or("");
            let mut it = dims.split_whitespace();
            let w = it.next().and_then(|v| v.parse().ok()).unwrap_or(612.0);
            let _x = it.next();
            let h = it.next().and_then(|v| v.parse().ok()).unwrap_or(792.0);
            let rot = line
                .split(" rot: ")
                .nth(1)
                .and_then(|r| r.trim().parse::<u32>().ok());
            sizes.push(if matches!(rot, Some(90 | 270)) {
                (h, w)
            } else {
                (w, h)
            });
        }
    }
    Ok(Info { pages, sizes })
}

/// The page's text when it is a real text layer: enough letters and digits, and no image
/// covering most of the page.
fn text_layer(path: &Path, page: usize, (w, h): (f64, f64)) -> Result<Option<String>> {
    let n = page.to_string();
    let out = poppler("pdftotext")
        .args(["-f", &n, "-l", &n, "-layout", "-enc", "UTF-8"])
        .arg(path)
        .arg("-")
        .output()
        .map_err(|e| missing("pdftotext", e))?;
    let text = String::from_utf8_lossy(&out.stdout)
        .replace('\u{c}', "")
        .trim_end()
        .to_string();
    let chars = text.chars().filter(|c| c.is_alphanumeric()).count();
    if !out.status.success() || chars < TEXT_LAYER_MIN_CHARS {
        return Ok(None);
    }
    Ok((!has_page_image(path, page, (w, h))?).then_some(text))
}

/// Whether an image drawn on the page covers at least 60 % of it (a scan).
fn has_page_image(path: &Path, page: usize, (w, h): (f64, f64)) -> Result<bool> {
    let n = page.to_string();
    let out = poppler("pdfimages")
        .args(["-f", &n, "-l", &n, "-list"])
        .arg(path)
        .output()
        .map_err(|e| missing("pdfimages", e))?;
    // page num type width height color comp bpc enc interp object ID x-ppi y-ppi size ratio
    for line in String::from_utf8_lossy(&out.stdout).lines().skip(2) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 14 || f[2] != "image" {
            continue;
        }
        let num = |i: usize| f[i].parse::<f64>().unwrap_or(0.0);
        let (pw, ph, xppi, yppi) = (num(3), num(4), num(12), num(13));
        if xppi <= 0.0 || yppi <= 0.0 {
            continue;
        }
        let (iw, ih) = (pw / xppi * 72.0, ph / yppi * 72.0);
        if iw * ih >= 0.6 * w * h {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Renders one page to PNG, its longest side at the model's size (a multiple of it for tall
/// pages, within [`MAX_RENDER_PIXELS`]).
fn render(
    path: &Path,
    file: &str,
    page: usize,
    (w, h): (f64, f64),
    opts: &PrepOptions,
) -> Result<Vec<u8>> {
    render_with(
        "pdftoppm",
        RENDER_TIME_LIMIT,
        path,
        file,
        page,
        (w, h),
        opts,
    )
}

/// [`render`] with this renderer program and time limit.
fn render_with(
    program: &str,
    limit: Duration,
    path: &Path,
    file: &str,
    page: usize,
    (w, h): (f64, f64),
    opts: &PrepOptions,
) -> Result<Vec<u8>> {
    let (long, short) = (w.max(h), w.min(h).max(1.0));
    let bands = (long / short / 1.5).ceil().clamp(1.0, 8.0);
    let mut side = f64::from(opts.max_side.clamp(32, 16384)) * bands;
    let pixels = side * side * short / long;
    if pixels > MAX_RENDER_PIXELS as f64 {
        side *= (MAX_RENDER_PIXELS as f64 / pixels).sqrt();
    }
    let n = page.to_string();
    // pdftoppm writes files, not stdout: a private directory of our own, removed after.
    let dir = tempfile::Builder::new()
        .prefix("keywheel-pdf-")
        .tempdir()
        .map_err(|e| Error::io("could not make a temporary directory".to_string(), e))?;
    let root = dir.path().join("page");
    let mut cmd = poppler(program);
    cmd.args(["-f", &n, "-l", &n, "-singlefile", "-png"])
        .args(["-scale-to", &(side.round() as u64).to_string()])
        .arg(path)
        .arg(&root);
    let Some(out) = run_limited(&mut cmd, limit).map_err(|e| missing("pdftoppm", e))? else {
        return Err(Error::BadInput(format!(
            "{file} page {page} took longer than {} s to render, so poppler was stopped; the page \
             may be too complex, or the PDF made to stall readers. Choose other pages with \
             --pages. Nothing was sent.",
            limit.as_secs_f64()
        )));
    };
    let png = std::fs::read(root.with_extension("png")).unwrap_or_default();
    if !out.status.success() || png.is_empty() {
        let why = String::from_utf8_lossy(&out.stderr);
        let why = why
            .lines()
            .next()
            .unwrap_or("poppler could not render it")
            .trim();
        return Err(Error::BadInput(format!(
            "{file} page {page} cannot be rendered ({why}); the PDF may be damaged. Nothing was sent."
        )));
    }
    Ok(png)
}

/// Runs `cmd` to its end, or kills it once `limit` has passed (`Ok(None)`).
fn run_limited(cmd: &mut Command, limit: Duration) -> std::io::Result<Option<Output>> {
    use std::io::Read;
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    // Read both pipes as it runs, so that a chatty child never blocks on a full pipe.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        let now = Instant::now();
        if now >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep((deadline - now).min(Duration::from_millis(10)));
    };
    Ok(Some(Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_render_past_the_time_limit_is_killed_and_names_the_file_and_page() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        // A renderer that never finishes; it records its pid so the test can see it gone.
        let pid_file = dir.path().join("pid");
        let slow = dir.path().join("slow-pdftoppm");
        std::fs::write(
            &slow,
            format!(
                "#!/bin/sh\necho $$ > {}\nexec sleep 600\n",
                pid_file.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&slow, std::fs::Permissions::from_mode(0o755)).unwrap();
        let e = render_with(
            slow.to_str().unwrap(),
            Duration::from_millis(300),
            Path::new("scan.pdf"),
            "scan.pdf",
            3,
            (612.0, 792.0),
            &PrepOptions::default(),
        )
        .unwrap_err();
        assert!(matches!(e, Error::BadInput(_)), "{e:?}");
        let text = e.to_string();
        assert!(
            text.contains("scan.pdf page 3 took longer than 0.3 s to render")
                && text.contains("Nothing was sent"),
            "{text}"
        );
        // The renderer was killed (and reaped): its process is gone.
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        assert!(
            !Path::new(&format!("/proc/{}", pid.trim())).exists(),
            "pdftoppm {pid} still runs"
        );
    }

    #[test]
    fn a_render_within_the_limit_gives_its_output() {
        let out = run_limited(
            Command::new("sh").args(["-c", "echo out; echo err >&2"]),
            Duration::from_secs(600),
        )
        .unwrap()
        .unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout, b"out\n");
        assert_eq!(out.stderr, b"err\n");
    }

    #[test]
    fn page_lists() {
        assert_eq!(parse_pages("1-3,7").unwrap(), vec![1, 2, 3, 7]);
        assert_eq!(parse_pages("7, 2,2-3").unwrap(), vec![2, 3, 7]);
        assert!(parse_pages("0").is_err());
        assert!(parse_pages("3-1").is_err());
        assert!(parse_pages("a").is_err());
    }
}
