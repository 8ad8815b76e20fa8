//! keywheel-capture for real, under a private `Xvfb` started by each test on a free display
//! number (whatever `DISPLAY` the run has): a known picture on the screen is grabbed by region
//! pixel for pixel, an image put on the clipboard by `xclip` is read back, and text written
//! here is what `xclip -o` reads. A missing `Xvfb` or `xclip` fails with what to install.
//!
//! The crate reads `DISPLAY` from its environment, which a test cannot change in-process, so
//! each test re-runs this binary as a worker (one `#[ignore]`d test, `KW_CAPTURE_WORKER=1`)
//! with `DISPLAY` set to its Xvfb.

use std::process::{Command, Output, Stdio};

use image::{Rgb, RgbImage};
use keywheel_capture::xvfb::{Xvfb, require, xclip_png};
use keywheel_capture::{CaptureError, ClipboardError, Region, clipboard, screen};

/// Runs the ignored test `name` of this binary as a worker on `x`'s display.
fn worker(x: &Xvfb, name: &str, envs: &[(&str, &str)]) -> Output {
    let out = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            name,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("DISPLAY", x.display())
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("XDG_SESSION_TYPE")
        .env("KW_CAPTURE_WORKER", "1")
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("worker runs");
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("1 passed"),
        "worker {name} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn is_worker() -> bool {
    std::env::var_os("KW_CAPTURE_WORKER").is_some()
}

fn pattern(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        Rgb([(x * 7) as u8, (y * 5) as u8, ((x + y) * 3) as u8])
    })
}

#[test]
fn a_region_of_the_screen_is_grabbed_pixel_for_pixel() {
    let x = Xvfb::start(640, 480);
    let known = pattern(200, 120);
    let _shown = x.show(&known, 50, 30);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("grab.png");
    worker(
        &x,
        "worker_grab",
        &[
            ("KW_OUT", out.to_str().unwrap()),
            ("KW_REGION", "60,40,100,50"),
        ],
    );
    let got = image::open(&out).unwrap().to_rgb8();
    assert_eq!(got.dimensions(), (100, 50));
    for (px, py, p) in got.enumerate_pixels() {
        assert_eq!(p, known.get_pixel(px + 10, py + 10), "pixel {px},{py}");
    }
    // The whole screen is the default; outside the picture the screen is Xvfb's black.
    worker(&x, "worker_grab", &[("KW_OUT", out.to_str().unwrap())]);
    let whole = image::open(&out).unwrap().to_rgb8();
    assert_eq!(whole.dimensions(), (640, 480));
    assert_eq!(whole.get_pixel(50 + 13, 30 + 17), known.get_pixel(13, 17));
    // A region past the screen's edge is refused, naming the region and the screen.
    worker(&x, "worker_region_outside", &[]);
}

#[test]
#[ignore = "a worker of a_region_of_the_screen_is_grabbed_pixel_for_pixel"]
fn worker_grab() {
    assert!(is_worker());
    let region = std::env::var("KW_REGION")
        .ok()
        .map(|r| r.parse::<Region>().unwrap());
    let c = screen::grab(region).unwrap();
    std::fs::write(std::env::var("KW_OUT").unwrap(), &c.png).unwrap();
}

#[test]
#[ignore = "a worker of a_region_of_the_screen_is_grabbed_pixel_for_pixel"]
fn worker_region_outside() {
    assert!(is_worker());
    let e = screen::grab(Some("600,0,41,10".parse().unwrap())).unwrap_err();
    assert!(matches!(e, CaptureError::RegionOutside { .. }), "{e:?}");
    let text = e.to_string();
    assert!(
        text.contains("600,0,41,10") && text.contains("640×480"),
        "{text}"
    );
}

#[test]
fn an_image_on_the_clipboard_is_read_and_text_written_is_what_xclip_reads() {
    require("xclip", "xclip");
    let x = Xvfb::start(320, 240);
    let dir = tempfile::tempdir().unwrap();
    // Nothing on the clipboard yet: no image.
    worker(&x, "worker_no_image", &[]);
    let png = dir.path().join("in.png");
    pattern(33, 21).save(&png).unwrap();
    xclip_png(x.display(), &png);
    let out = dir.path().join("out.png");
    worker(
        &x,
        "worker_read_image",
        &[("KW_OUT", out.to_str().unwrap())],
    );
    assert_eq!(image::open(&out).unwrap().to_rgb8(), pattern(33, 21));
    worker(&x, "worker_write_text", &[]);
}

#[test]
#[ignore = "a worker of an_image_on_the_clipboard_is_read_…"]
fn worker_no_image() {
    assert!(is_worker());
    let e = clipboard::read_image().unwrap_err();
    assert!(matches!(e, ClipboardError::NoImage), "{e:?}");
    assert!(e.to_string().contains("holds no image"), "{e}");
}

#[test]
#[ignore = "a worker of an_image_on_the_clipboard_is_read_…"]
fn worker_read_image() {
    assert!(is_worker());
    let c = clipboard::read_image().unwrap();
    assert_eq!((c.width, c.height), (33, 21));
    std::fs::write(std::env::var("KW_OUT").unwrap(), &c.png).unwrap();
}

#[test]
#[ignore = "a worker of an_image_on_the_clipboard_is_read_…"]
fn worker_write_text() {
    assert!(is_worker());
    let text = "Invoice 4711 · ünïcode ✓\nsecond line";
    clipboard::write_text(text).unwrap();
    // This process still runs, so it serves the text to xclip.
    let display = std::env::var("DISPLAY").unwrap();
    assert_eq!(keywheel_capture::xvfb::xclip_text(&display), text);
}
