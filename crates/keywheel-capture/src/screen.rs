//! The screen, or a region of it, as PNG bytes.
//!
//! Which way is used follows the session: a Wayland session (`WAYLAND_DISPLAY` set, or
//! `XDG_SESSION_TYPE=wayland`) asks the desktop portal (`org.freedesktop.portal.Screenshot`,
//! non-interactive), because an X11 client there sees only other X11 windows; otherwise an X11
//! display (`DISPLAY`) is read with `GetImage` on the root window. With neither, or on another
//! operating system, [`grab`] fails with [`CaptureError::Unsupported`].

use std::io::Cursor;

use crate::region::Region;

#[cfg(target_os = "linux")]
mod portal;
#[cfg(target_os = "linux")]
mod x11;

/// A captured image: PNG bytes (8-bit RGB) and its size in pixels.
#[derive(Clone, PartialEq, Eq)]
pub struct Captured {
    /// The image, PNG-encoded.
    pub png: Vec<u8>,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl std::fmt::Debug for Captured {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Captured")
            .field("png", &format_args!("{} bytes", self.png.len()))
            .field("width", &self.width)
            .field("height", &self.height)
            .finish()
    }
}

/// Why the screen could not be captured.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// This session offers no way to capture the screen; the sentence says what is missing.
    #[error("the screen cannot be captured here: {0}")]
    Unsupported(String),
    /// The X display could not be opened.
    #[error(
        "could not open the X display {display}: {reason} (is an X server running, and may this user connect to it? check DISPLAY and XAUTHORITY)"
    )]
    Display {
        /// The display that was asked for (`DISPLAY`).
        display: String,
        /// What the connection said.
        reason: String,
    },
    /// The region asked for does not lie inside the screen.
    #[error(
        "the region {region} (X,Y,W,H) does not fit on the screen, which is {width}×{height} pixels"
    )]
    RegionOutside {
        /// The region asked for.
        region: Region,
        /// The screen's width in pixels.
        width: u32,
        /// The screen's height in pixels.
        height: u32,
    },
    /// The desktop portal answered with a refusal or an error.
    #[error("the desktop portal did not give a screenshot: {0}")]
    Portal(String),
    /// Reading the pixels failed after the display was opened.
    #[error("the screen capture failed: {0}")]
    Failed(String),
}

/// Captures the whole screen (`None`) or a region of it, as PNG bytes.
///
/// On X11 the region is read straight from the server; through the portal the whole screen is
/// taken and then cropped. A region that does not fit on the screen is
/// [`CaptureError::RegionOutside`].
pub fn grab(region: Option<Region>) -> Result<Captured, CaptureError> {
    match session() {
        Session::Wayland => grab_wayland(region),
        Session::X11 => grab_x11(region),
        Session::None => Err(CaptureError::Unsupported(
            "no display is set: neither DISPLAY (X11) nor WAYLAND_DISPLAY (Wayland) is in the environment; run this inside a desktop session".into(),
        )),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Session {
    Wayland,
    X11,
    None,
}

fn set(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty())
}

fn session() -> Session {
    let wayland_type = std::env::var("XDG_SESSION_TYPE").is_ok_and(|t| t == "wayland");
    if set("WAYLAND_DISPLAY") || (wayland_type && !set("DISPLAY")) {
        Session::Wayland
    } else if set("DISPLAY") {
        Session::X11
    } else {
        Session::None
    }
}

#[cfg(target_os = "linux")]
fn grab_x11(region: Option<Region>) -> Result<Captured, CaptureError> {
    let (width, height, rgb) = x11::grab(region)?;
    encode(width, height, rgb)
}

#[cfg(target_os = "linux")]
fn grab_wayland(region: Option<Region>) -> Result<Captured, CaptureError> {
    let bytes = portal::screenshot()?;
    let img = image::load_from_memory(&bytes)
        .map_err(|e| CaptureError::Portal(format!("its image could not be read ({e})")))?
        .to_rgb8();
    let (w, h) = img.dimensions();
    let img = match region {
        None => img,
        Some(r) if r.fits(w, h) => image::imageops::crop_imm(&img, r.x, r.y, r.w, r.h).to_image(),
        Some(r) => {
            return Err(CaptureError::RegionOutside {
                region: r,
                width: w,
                height: h,
            });
        }
    };
    let (w, h) = img.dimensions();
    encode(w, h, img.into_raw())
}

#[cfg(not(target_os = "linux"))]
fn grab_x11(_region: Option<Region>) -> Result<Captured, CaptureError> {
    Err(CaptureError::Unsupported(
        "screen capture is implemented for Linux (X11 and the Wayland portal) only".into(),
    ))
}

#[cfg(not(target_os = "linux"))]
fn grab_wayland(region: Option<Region>) -> Result<Captured, CaptureError> {
    grab_x11(region)
}

/// Encodes 8-bit RGB pixels as PNG.
fn encode(width: u32, height: u32, rgb: Vec<u8>) -> Result<Captured, CaptureError> {
    let img = image::RgbImage::from_raw(width, height, rgb).ok_or_else(|| {
        CaptureError::Failed(format!("the pixels do not make a {width}×{height} image"))
    })?;
    let mut png = Vec::new();
    img.write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| CaptureError::Failed(format!("could not encode it as PNG ({e})")))?;
    Ok(Captured { png, width, height })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_makes_a_png_of_the_given_size() {
        let c = encode(3, 2, vec![255; 18]).unwrap();
        assert_eq!((c.width, c.height), (3, 2));
        assert!(c.png.starts_with(b"\x89PNG\r\n\x1a\n"));
        let back = image::load_from_memory(&c.png).unwrap();
        assert_eq!((back.width(), back.height()), (3, 2));
        assert!(format!("{c:?}").contains("bytes"));
    }

    #[test]
    fn pixels_that_do_not_fill_the_size_are_an_error() {
        let e = encode(3, 2, vec![0; 5]).unwrap_err();
        assert!(e.to_string().contains("3×2"), "{e}");
    }
}
