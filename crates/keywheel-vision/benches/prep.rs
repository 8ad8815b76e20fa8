//! Speed and memory of `prepare` on a 4000×3000 photo JPEG and a 1920×1080 PNG screenshot.
//!
//! The photo (quality 90, smooth gradients plus noise) is written twice: with 4:2:0 chroma
//! subsampling, as cameras and phones save, and with 4:4:4, which has twice the
//! entropy-coded data to decode and so is the slower case.
//!
//! `cargo bench -p keywheel-vision --bench prep`. The parent process writes the two inputs to
//! a temporary folder, then runs each case in a child process of itself (so that the peak
//! resident memory, `VmHWM` from /proc/self/status, belongs to that case alone) and prints
//! median and p90 wall time over the runs, plus CPU time per run (both threads: the hash
//! and half of the resize run on a second core).
//!
//! Each JPEG is measured three times, each time in its own process: as `prepare` does it
//! (libjpeg-turbo at the smallest eighth that covers the output, 3/8 here), with
//! libjpeg-turbo at 1/2, and with the pure-Rust decoder only (`jpeg-decoder`, what it did
//! before), so the choices are compared in the same run. Each case also prints the CPU time
//! of each stage (the library's stage timer, `keywheel_vision::stages`) and, for the photos,
//! jpeg-encoder (the encoder before libjpeg-turbo's) on the same output pixels.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder, Rgb, RgbImage};
use keywheel_vision::{PrepOptions, prepare};

const RUNS: usize = 15;
const CASES: [&str; 3] = [
    "photo-4000x3000-420.jpg",
    "photo-4000x3000-444.jpg",
    "screenshot-1920x1080.png",
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--case") {
        let file = PathBuf::from(&args[i + 1]);
        let rust_only = args.iter().any(|a| a == "--rust-jpeg");
        let half = args.iter().any(|a| a == "--half");
        keywheel_vision::turbo::set_enabled(!rust_only);
        if half {
            keywheel_vision::turbo::set_smallest_eighths(4);
        }
        let variant = match (rust_only, half) {
            (true, _) => "jpeg-decoder only",
            (_, true) => "libjpeg-turbo at 1/2",
            _ => "",
        };
        run_case(&file, variant);
        return;
    }

    let dir = std::env::temp_dir().join(format!("keywheel-vision-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    write_inputs(&dir);
    let exe = std::env::current_exe().expect("current exe");
    println!(
        "keywheel-vision prepare benchmark ({RUNS} runs per case, each case in its own process; load average {})",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    // The JPEGs also decoded at 1/2 instead of the smallest covering eighth (3/8 here), and
    // with the pure-Rust decoder, each right after the default.
    let runs = CASES.into_iter().flat_map(|case| {
        let jpeg = case.ends_with(".jpg");
        [
            (case, None),
            (case, Some("--half")),
            (case, Some("--rust-jpeg")),
        ]
        .into_iter()
        .filter(move |&(_, variant)| jpeg || variant.is_none())
    });
    let failed: Vec<String> = runs
        .filter(|&(case, variant)| {
            let mut cmd = Command::new(&exe);
            cmd.arg("--case").arg(dir.join(case));
            cmd.args(variant);
            !cmd.status().is_ok_and(|s| s.success())
        })
        .map(|(case, variant)| format!("{case} {}", variant.unwrap_or_default()))
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failed.is_empty(), "failed cases: {failed:?}");
}

fn run_case(file: &Path, variant: &str) {
    let bytes = std::fs::read(file).expect("read input");
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("input")
        .to_owned();
    let label = if variant.is_empty() {
        name.clone()
    } else {
        format!("  {variant}")
    };
    let opts = PrepOptions::default();
    let rss_before = status_kb("VmRSS");
    let cpu_before = cpu_ms();
    // One warm-up run (page faults, lazy CPU feature detection), not counted.
    let warm = prepare(&name, &bytes, &opts).expect("prepare");
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            let p = prepare(&name, &bytes, &opts).expect("prepare");
            let d = t.elapsed();
            std::hint::black_box(p);
            d
        })
        .collect();
    let cpu_per_run = (cpu_ms() - cpu_before) / (RUNS + 1) as f64;
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let median = times[times.len() / 2];
    let p90 = times[(times.len() * 9).div_ceil(10) - 1];
    let stages = stage_medians(&name, &bytes, &opts);
    let t = &warm.tiles[0];
    println!(
        "{label:<26} input {:>5.2} MB -> {} tile(s), {} {}x{} {:.0} KB | median {:6.1} ms  p90 {:6.1} ms  min {:6.1} ms  cpu {:5.1} ms/run | peak RSS {:5.1} MB (before prepare {:4.1} MB)",
        bytes.len() as f64 / 1e6,
        warm.tiles.len(),
        t.mime,
        t.width,
        t.height,
        t.bytes as f64 / 1e3,
        ms(median),
        ms(p90),
        ms(times[0]),
        cpu_per_run,
        status_kb("VmHWM") as f64 / 1024.0,
        rss_before as f64 / 1024.0,
    );
    println!("{:<26} cpu by stage (mean ms): {stages}", "");
    if t.mime == "image/jpeg" {
        println!(
            "{:<26} {}",
            "",
            other_encoder(&t.encoded, opts.jpeg_quality)
        );
    }
}

/// jpeg-encoder on the pixels of `jpeg` (the prepared output) at `quality`: median CPU per
/// run and size, beside what libjpeg-turbo's encoder made.
fn other_encoder(jpeg: &[u8], quality: u8) -> String {
    let img = image::load_from_memory(jpeg)
        .expect("decode output")
        .to_rgb8();
    let (w, h) = (img.width() as u16, img.height() as u16);
    let mut size = 0;
    let mut cpu: Vec<f64> = (0..RUNS)
        .map(|_| {
            let before = thread_cpu_ms();
            let mut out = Vec::new();
            jpeg_encoder::Encoder::new(&mut out, quality)
                .encode(img.as_raw(), w, h, jpeg_encoder::ColorType::Rgb)
                .expect("jpeg-encoder");
            size = out.len();
            thread_cpu_ms() - before
        })
        .collect();
    cpu.sort_by(f64::total_cmp);
    format!(
        "jpeg-encoder on the same {w}x{h} pixels: encode {:.1} ms cpu, {:.0} KB (libjpeg-turbo: {:.0} KB)",
        cpu[cpu.len() / 2],
        size as f64 / 1e3,
        jpeg.len() as f64 / 1e3
    )
}

/// This thread's CPU time in ms, from /proc/thread-self/schedstat (0 where there is none).
fn thread_cpu_ms() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |ns| ns / 1e6)
}

/// `RUNS` more runs with the stage timer on (not counted above): the mean CPU time of each
/// stage per run (summed over the threads that ran it: `resize` runs on two, `hash` on a
/// second thread beside `decode`), in the order the stages end. The mean, not the median:
/// the kernel's per-thread figure moves at scheduler ticks (4 ms), so one reading of a short
/// stage is 0 or a tick, and only the mean over runs is its cost.
fn stage_medians(name: &str, bytes: &[u8], opts: &PrepOptions) -> String {
    keywheel_vision::stages::record(true);
    let mut per_stage: Vec<(&'static str, Vec<f64>)> = Vec::new();
    for _ in 0..RUNS {
        let _ = keywheel_vision::stages::take();
        std::hint::black_box(prepare(name, bytes, opts).expect("prepare"));
        let mut run: Vec<(&'static str, f64)> = Vec::new();
        for stage in keywheel_vision::stages::take() {
            let ms = stage.cpu.as_secs_f64() * 1e3;
            match run.iter_mut().find(|(s, _)| *s == stage.name) {
                Some((_, sum)) => *sum += ms,
                None => run.push((stage.name, ms)),
            }
        }
        for (stage, ms) in run {
            match per_stage.iter_mut().find(|(s, _)| *s == stage) {
                Some((_, all)) => all.push(ms),
                None => per_stage.push((stage, vec![ms])),
            }
        }
    }
    keywheel_vision::stages::record(false);
    per_stage
        .into_iter()
        .map(|(stage, all)| format!("{stage} {:.1}", all.iter().sum::<f64>() / RUNS as f64))
        .collect::<Vec<_>>()
        .join(" | ")
}

/// User plus system CPU time of this process (all threads) in ms, from /proc/self/stat
/// (clock ticks of 10 ms, the Linux USER_HZ). 0 where there is no /proc.
fn cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) * 10.0
}

/// A field of /proc/self/status in kB (0 where there is no /proc).
fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn write_inputs(dir: &Path) {
    use jpeg_encoder::{ColorType, Encoder, SamplingFactor};
    let photo = photo(4000, 3000);
    for (case, sampling) in [
        (CASES[0], SamplingFactor::R_4_2_0),
        (CASES[1], SamplingFactor::R_4_4_4),
    ] {
        let mut jpeg = Vec::new();
        let mut encoder = Encoder::new(&mut jpeg, 90);
        encoder.set_sampling_factor(sampling);
        encoder
            .encode(photo.as_raw(), 4000, 3000, ColorType::Rgb)
            .expect("encode photo");
        std::fs::write(dir.join(case), jpeg).expect("write photo");
    }

    let shot = screenshot(1920, 1080);
    let mut png = Vec::new();
    PngEncoder::new(&mut png)
        .write_image(shot.as_raw(), 1920, 1080, ExtendedColorType::Rgb8)
        .expect("encode screenshot");
    std::fs::write(dir.join(CASES[2]), png).expect("write screenshot");
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 32) as u32
    }
}

/// Smooth gradients and soft blobs plus sensor-like noise: compresses like a real photo.
fn photo(w: u32, h: u32) -> RgbImage {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    RgbImage::from_fn(w, h, |x, y| {
        let (fx, fy) = (f64::from(x) / f64::from(w), f64::from(y) / f64::from(h));
        let blob = ((fx * 9.0).sin() * (fy * 7.0).cos() * 40.0) as i32;
        let mut c = [
            (fx * 200.0) as i32 + 30 + blob,
            (fy * 180.0) as i32 + 40 - blob / 2,
            ((1.0 - fx) * 150.0 + fy * 60.0) as i32 + blob / 3,
        ];
        for v in &mut c {
            *v += (rng.next() % 17) as i32 - 8;
        }
        Rgb(c.map(|v| v.clamp(0, 255) as u8))
    })
}

/// White window with a title bar and lines of glyph-like dark marks.
fn screenshot(w: u32, h: u32) -> RgbImage {
    let mut rng = Rng(42);
    let mut img = RgbImage::from_pixel(w, h, Rgb([255, 255, 255]));
    for y in 0..40 {
        for x in 0..w {
            img.put_pixel(x, y, Rgb([45, 50, 60]));
        }
    }
    let mut line_y = 70;
    while line_y + 16 < h {
        let mut x = 40;
        let end = w - 40 - rng.next() % 600;
        while x < end {
            let glyph = 5 + rng.next() % 9;
            let tall = rng.next().is_multiple_of(4);
            let top = if tall { line_y } else { line_y + 5 };
            for gy in top..line_y + 16 {
                for gx in x..(x + glyph).min(w) {
                    if (gx + gy) % 7 != 0 {
                        img.put_pixel(gx, gy, Rgb([20, 20, 20]));
                    }
                }
            }
            x += glyph + 3 + if rng.next().is_multiple_of(6) { 10 } else { 0 };
        }
        line_y += 28;
    }
    img
}
