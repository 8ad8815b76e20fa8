//! `keywheel-capture`: native glue for OCR input and output, kept out of `keywheel-core` so its
//! dependencies (X11, D-Bus portal, clipboard) build only in the programs that use them (the
//! `keywheel` CLI and the desktop app).
//!
//! - [`screen::grab`] captures the whole screen or a [`Region`] of it as PNG bytes: on X11 with
//!   the core protocol's `GetImage` (`x11rb`), on Wayland through the desktop portal's
//!   Screenshot interface (`ashpd`). Where neither is possible it fails with
//!   [`CaptureError::Unsupported`], a sentence saying what is missing.
//! - [`clipboard::read_image`] reads an image from the clipboard (as PNG bytes);
//!   [`clipboard::write_text`] puts text on it for as long as the calling process runs, and
//!   [`clipboard::write_text_detached`] hands the text to a small child process that keeps
//!   serving it after the caller exits (like `xclip` does), until another program takes the
//!   clipboard over. The child starts with a minimal environment (the display variables
//!   only) and gets the text on its standard input: no key or secret reaches its environment
//!   or its command line.
//!
//! - [`frozen::FrozenScreen`] keeps a whole-screen grab while a person picks a region on it,
//!   and crops that region out pixel for pixel ([`frozen::crop`]).
//!
//! - [`shortcut`] keeps the desktop app's capture shortcut's status and its sentences;
//!   [`words`] names a captured region and says what reached the clipboard.
//!
//! Errors are typed ([`CaptureError`], [`ClipboardError`], [`RegionError`]) and each says in
//! one sentence what went wrong and what to do.

pub mod clipboard;
pub mod frozen;
mod region;
pub mod screen;
pub mod shortcut;
pub mod words;
#[cfg(all(feature = "test-support", target_os = "linux"))]
pub mod xvfb;

pub use clipboard::ClipboardError;
pub use region::{Region, RegionError};
pub use screen::{CaptureError, Captured};
