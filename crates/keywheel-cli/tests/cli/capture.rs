//! `keywheel ocr --clipboard`, `--screen --region` and `--copy` end to end, each test under an
//! `Xvfb` of its own (a free display number, whatever `DISPLAY` the run has), against
//! keywheel-mock reading the images with tesseract: an image with drawn words put on the
//! clipboard by `xclip` is read; `--copy` leaves the text on the clipboard after keywheel exits
//! (`xclip -o` reads it), served by a holder whose environment and command line carry no key;
//! a known picture shown on the display is read by region. No image, a region off the screen
//! and a malformed region are refused with a sentence and spend nothing. Missing `Xvfb`,
//! `xclip`, `tesseract` or `convert` fail with what to install.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use keywheel_capture::clipboard::HOLD_ARG;
use keywheel_capture::xvfb::{Xvfb, require, xclip_png, xclip_text};
use keywheel_mock::MockConfig;
use keywheel_testkit::images::drawn;
use keywheel_testkit::output::{json_lines, stderr, stdout};
use keywheel_testkit::world::World;

const LINES: &[&str] = &["Invoice number 4711", "Keywheel reads the screen"];

/// A world whose mock reads images with tesseract, and whose commands use `x`'s display.
fn world(x: &Xvfb) -> World {
    require("tesseract", "tesseract-ocr tesseract-ocr-eng");
    require("convert", "imagemagick");
    World::new(
        2,
        MockConfig {
            ocr_with_tesseract: true,
            ..MockConfig::default()
        },
    )
    .with("DISPLAY", x.display())
}

/// The run succeeded and said `words` on stderr.
fn succeeds_saying(out: &Output, words: &str) {
    assert!(out.status.success(), "{}", stderr(out));
    assert!(
        stderr(out).contains(words),
        "{words:?} not in {}",
        stderr(out)
    );
}

fn assert_read(text: &str) {
    for words in ["4711", "Keywheel reads the screen"] {
        assert!(text.contains(words), "{words:?} not in {text:?}");
    }
}

/// The one JSON line of a single-image `--json` run.
fn one(out: &Output) -> serde_json::Value {
    let mut docs: Vec<_> = json_lines(out)
        .into_iter()
        .filter(|v| v.get("file").is_some())
        .collect();
    assert_eq!(docs.len(), 1, "{}", stdout(out));
    docs.remove(0)
}

/// The `/proc` ids of live clipboard holders of this world (its `HOME`) on `display`, with
/// their environment and argv.
fn holders(w: &World, display: &str) -> Vec<(String, Vec<u8>, Vec<u8>)> {
    let home = format!("HOME={}", w.home().display());
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let p = entry.path();
        let (Ok(cmdline), Ok(environ)) = (
            std::fs::read(p.join("cmdline")),
            std::fs::read(p.join("environ")),
        ) else {
            continue;
        };
        let is_holder = cmdline.split(|b| *b == 0).any(|a| a == HOLD_ARG.as_bytes());
        let vars: Vec<&[u8]> = environ.split(|b| *b == 0).collect();
        let on_display = vars.contains(&format!("DISPLAY={display}").as_bytes())
            && vars.contains(&home.as_bytes());
        if is_holder && on_display {
            found.push((
                entry.file_name().to_string_lossy().into_owned(),
                environ,
                cmdline,
            ));
        }
    }
    found
}

#[test]
fn clipboard_in_and_copy_out_outlive_keywheel() {
    require("xclip", "xclip");
    let x = Xvfb::start(1280, 800);
    let w = world(&x);
    let png = drawn(w.dir.path(), "words.png", 900, 300, LINES);
    xclip_png(x.display(), Path::new(&png));

    // In: the clipboard's image is planned and read like a file, with --json.
    let out = w.run(&["ocr", "--clipboard", "--json"]);
    succeeds_saying(&out, "1 image needs 1 request");
    let doc = one(&out);
    assert_eq!(doc["file"], "clipboard");
    assert_eq!(doc["requests"], 1);
    assert_read(doc["text"].as_str().unwrap());

    // Out: --copy; once keywheel has exited, the clipboard holds the text it printed.
    let out = w.run(&["ocr", "--clipboard", "--copy"]);
    succeeds_saying(&out, "copied the text to the clipboard");
    let printed = stdout(&out);
    assert_read(&printed);
    assert_eq!(xclip_text(x.display()), printed.trim());
    // Read twice: the holder keeps serving.
    assert_eq!(xclip_text(x.display()), printed.trim());

    // The holder that serves it carries no key in its environment or its command line.
    let live = holders(&w, x.display());
    assert_eq!(live.len(), 1, "one holder serves the clipboard");
    let (pid, environ, cmdline) = &live[0];
    for key in &w.keys {
        for (what, bytes) in [("environment", environ), ("command line", cmdline)] {
            assert!(
                !bytes.windows(key.len()).any(|win| win == key.as_bytes()),
                "a key is in holder {pid}'s {what}"
            );
        }
    }
    for v in environ.split(|b| *b == 0).filter(|v| !v.is_empty()) {
        let name = String::from_utf8_lossy(v.split(|b| *b == b'=').next().unwrap()).into_owned();
        assert!(
            keywheel_capture::clipboard::HOLDER_ENV.contains(&name.as_str()),
            "holder {pid} got {name}"
        );
    }

    // Another owner takes the clipboard over: the holder exits by itself.
    let mut xclip = Command::new("xclip")
        .args(["-selection", "clipboard", "-i"])
        .env("DISPLAY", x.display())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    xclip
        .stdin
        .take()
        .unwrap()
        .write_all(b"something else")
        .unwrap();
    assert!(xclip.wait().unwrap().success());
    assert_eq!(xclip_text(x.display()), "something else");
    let mut gone = false;
    for _ in 0..200 {
        if holders(&w, x.display()).is_empty() {
            gone = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    assert!(
        gone,
        "the holder exits once another program owns the clipboard"
    );
    // One request for the first run; the second was the same image, from the cache.
    assert_eq!(w.mock.stats().total_requests, 1);
}

#[test]
fn no_image_on_the_clipboard_is_a_sentence_and_spends_nothing() {
    let x = Xvfb::start(640, 480);
    let w = world(&x);
    let out = w.run(&["ocr", "--clipboard", "--copy"]);
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("the clipboard holds no image") && err.contains("nothing was sent"),
        "{err}"
    );
    assert!(stdout(&out).is_empty());
    assert_eq!(w.mock.stats().total_requests, 0);
}

#[test]
fn a_region_of_the_screen_is_read_and_bad_regions_spend_nothing() {
    let x = Xvfb::start(1280, 800);
    let w = world(&x);
    let png = drawn(w.dir.path(), "shown.png", 900, 300, LINES);
    let shown = image::open(&png).unwrap().to_rgb8();
    let _on_screen = x.show(&shown, 200, 150);

    let out = w.run(&[
        "ocr",
        "--screen",
        "--region",
        "200,150,900,300",
        "--json",
        "--copy",
    ]);
    succeeds_saying(&out, "1 image needs 1 request");
    let doc = one(&out);
    assert_eq!(doc["file"], "screen 200,150,900,300");
    assert_eq!(
        (doc["width"].as_u64(), doc["height"].as_u64()),
        (Some(900), Some(300))
    );
    let text = doc["text"].as_str().unwrap();
    assert_read(text);
    assert_eq!(xclip_text(x.display()), text.trim());

    // Off the screen: exit 6 naming the region and the screen; malformed: exit 2 naming the
    // input; --region without --screen: exit 2. None of them sends anything.
    let out = w.run(&["ocr", "--screen", "--region", "1000,700,300,200"]);
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("1000,700,300,200") && err.contains("1280×800"),
        "{err}"
    );
    let out = w.run(&["ocr", "--screen", "--region", "10,20,abc,5"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("\"10,20,abc,5\" is not a region X,Y,W,H"),
        "{}",
        stderr(&out)
    );
    let out = w.run(&["ocr", "--region", "0,0,10,10"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = w.run(&["ocr", "--screen", "shot.png"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(w.mock.stats().total_requests, 1);
}

#[test]
fn no_display_says_so_and_spends_nothing() {
    let w = World::new(1, MockConfig::default());
    let out = w.run(&["ocr", "--screen"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("neither DISPLAY (X11) nor WAYLAND_DISPLAY"),
        "{}",
        stderr(&out)
    );
    assert_eq!(w.mock.stats().total_requests, 0);
}
