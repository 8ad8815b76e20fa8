//! Test support (feature `test-support`): a private X server (`Xvfb`) on a free display
//! number, and a known picture shown on it at a known place, so that screen capture and the
//! clipboard are tested for real, whatever `DISPLAY` the test run has (none, usually).
//!
//! Missing programs are a test failure with a sentence saying what to install, never a skip.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use image::RgbImage;
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    ConnectionExt, CreateGCAux, CreateWindowAux, ImageFormat, WindowClass,
};
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

/// Whether `program` can be run from `PATH`.
pub fn has(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// Panics, with the package to install, unless `program` is on `PATH`.
pub fn require(program: &str, package: &str) {
    assert!(
        has(program),
        "`{program}` is not installed, and this test needs it: run `make setup` \
         (scripts/setup-system.sh) or `apt-get install {package}`"
    );
}

/// `xclip -selection clipboard -t image/png -i FILE` on `display`: xclip owns the clipboard
/// from the background and serves the image. Panics with what to install without `xclip`.
pub fn xclip_png(display: &str, png: &std::path::Path) {
    require("xclip", "xclip");
    let ok = Command::new("xclip")
        .args(["-selection", "clipboard", "-t", "image/png", "-i"])
        .arg(png)
        .env("DISPLAY", display)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("xclip runs")
        .success();
    assert!(ok, "xclip took the image");
}

/// What `xclip -o -selection clipboard` reads on `display`.
pub fn xclip_text(display: &str) -> String {
    require("xclip", "xclip");
    let out = Command::new("xclip")
        .args(["-o", "-selection", "clipboard"])
        .env("DISPLAY", display)
        .stdin(Stdio::null())
        .output()
        .expect("xclip runs");
    assert!(
        out.status.success(),
        "xclip -o: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 text")
}

/// A running `Xvfb` on a display number of its own choosing (`-displayfd`); stopped on drop.
pub struct Xvfb {
    child: Child,
    display: String,
}

impl Xvfb {
    /// Starts `Xvfb` with one screen of `width`×`height` at depth 24 and waits until it
    /// accepts connections. Panics with what to install when `Xvfb` is missing.
    pub fn start(width: u32, height: u32) -> Xvfb {
        require("Xvfb", "xvfb");
        let mut child = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-nolisten",
                "tcp",
                "-noreset",
                "-screen",
                "0",
            ])
            .arg(format!("{width}x{height}x24"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb starts");
        // Xvfb writes the display number it found free once it is ready for clients.
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped"))
            .read_line(&mut line)
            .expect("Xvfb says its display number");
        let n: u32 = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("Xvfb did not start (it said {line:?})"));
        Xvfb {
            child,
            display: format!(":{n}"),
        }
    }

    /// The display name, e.g. `:3`, for `DISPLAY`.
    pub fn display(&self) -> &str {
        &self.display
    }

    /// Shows `img` with its top-left corner at (`x`, `y`) in a borderless window that no
    /// window manager moves (override-redirect), until the returned guard is dropped.
    pub fn show(&self, img: &RgbImage, x: i16, y: i16) -> Shown {
        let (conn, n) = x11rb::connect(Some(&self.display)).expect("connect to Xvfb");
        let screen = conn.setup().roots[n].clone();
        let depth = screen.root_depth;
        let bpp = conn
            .setup()
            .pixmap_formats
            .iter()
            .find(|f| f.depth == depth)
            .map(|f| f.bits_per_pixel);
        assert_eq!(bpp, Some(32), "Xvfb at depth 24 stores 32 bits per pixel");
        let (w, h) = (img.width() as u16, img.height() as u16);
        let pixmap = conn.generate_id().expect("id");
        conn.create_pixmap(depth, pixmap, screen.root, w, h)
            .expect("create pixmap");
        let gc = conn.generate_id().expect("id");
        conn.create_gc(gc, pixmap, &CreateGCAux::new())
            .expect("create gc");
        // B, G, R, X per pixel (little-endian 0x00RRGGBB), in bands that fit in a request.
        let rows_per_band = (200_000 / (usize::from(w) * 4)).max(1);
        for (band, rows) in img
            .as_raw()
            .chunks(usize::from(w) * 3 * rows_per_band)
            .enumerate()
        {
            let data: Vec<u8> = rows
                .chunks_exact(3)
                .flat_map(|p| [p[2], p[1], p[0], 0])
                .collect();
            let band_h = (rows.len() / (usize::from(w) * 3)) as u16;
            conn.put_image(
                ImageFormat::Z_PIXMAP,
                pixmap,
                gc,
                w,
                band_h,
                0,
                (band * rows_per_band) as i16,
                0,
                depth,
                &data,
            )
            .expect("put image");
        }
        let win = conn.generate_id().expect("id");
        conn.create_window(
            x11rb::COPY_DEPTH_FROM_PARENT,
            win,
            screen.root,
            x,
            y,
            w,
            h,
            0,
            WindowClass::INPUT_OUTPUT,
            0,
            &CreateWindowAux::new()
                .background_pixmap(pixmap)
                .override_redirect(1),
        )
        .expect("create window");
        conn.map_window(win).expect("map window");
        conn.sync().expect("the server drew the window");
        Shown { _conn: conn }
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A picture on the display; it disappears when this is dropped.
pub struct Shown {
    _conn: RustConnection,
}
