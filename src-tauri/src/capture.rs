//! Reading a region of the screen: the whole screen is grabbed first (through
//! `keywheel-capture`: X11, or the Wayland desktop portal) while the window is hidden, so the
//! picture is frozen; the window then covers the screen and shows that picture as a full-screen
//! view in the same web view, where the person drags a rectangle (`Esc` cancels). The region is
//! cropped from the frozen picture and staged like any other image, so it goes through the same
//! path as a dropped one (quota plan, ledger, cache); its text goes to the clipboard.
//!
//! Why a full-screen view of the one window and not a second overlay window: the app keeps one
//! window and one web view (ARCHITECTURE.md: no new windows), the overlay shares the page's
//! state (the queue, the shortcut help, dark mode), no second WebKit process starts, and the
//! end-to-end suite drives it in the same WebDriver session.
//!
//! The global shortcut (default [`DEFAULT_SHORTCUT`], `capture_shortcut` in `config.toml`,
//! editable in Settings) is registered with `tauri-plugin-global-shortcut` from the Rust side;
//! the web view gets no permission for it. It needs X11: on Wayland there are no global grabs,
//! and the status says so (the Capture button still works through the portal).

use std::sync::Mutex;

use keywheel_capture::frozen::{CropError, FrozenScreen};
use keywheel_capture::shortcut::{ShortcutState, not_registered, on_wayland};
use keywheel_core::{Error, Result};
use tauri::{AppHandle, Emitter, Manager, PhysicalPosition, PhysicalSize, Runtime, WebviewWindow};
use tauri_plugin_global_shortcut::{
    GlobalShortcutExt, Modifiers, Shortcut, ShortcutState as Press,
};

use crate::state::AppState;

/// A rectangle of the frozen screen, in its pixels (not CSS pixels): `keywheel_capture`'s.
pub use keywheel_capture::Region as CaptureRegion;
/// What the Settings panel and the Capture button show about the shortcut.
pub use keywheel_capture::shortcut::ShortcutStatus as CaptureStatus;
/// The queue name of a region, and the sentence after its text reached the clipboard.
pub use keywheel_capture::words::{copied_sentence, region_name};

/// The shortcut a fresh install gets.
pub const DEFAULT_SHORTCUT: &str = "Ctrl+Alt+O";

/// The event the web view hears when the shortcut is pressed.
pub const SHORTCUT_EVENT: &str = "capture-shortcut";

/// The window as it was before it covered the screen.
#[derive(Debug, Clone, Copy)]
struct Geometry {
    position: PhysicalPosition<i32>,
    size: PhysicalSize<u32>,
    maximized: bool,
}

/// Capture's own managed state (the frozen screen, the window's geometry, the shortcut).
#[derive(Debug, Default)]
pub struct Capture {
    frozen: FrozenScreen,
    geometry: Mutex<Option<Geometry>>,
    shortcut: ShortcutState,
}

impl Capture {
    /// The shortcut's state (before `register_saved` ran: the saved one, inactive).
    pub fn status(&self, saved: &str) -> CaptureStatus {
        self.shortcut.status(saved)
    }

    /// Crops `region` out of the frozen grab (which is dropped) as PNG bytes.
    pub fn take_region(&self, region: CaptureRegion) -> Result<Vec<u8>> {
        self.frozen.take_region(region).map_err(crop_error)
    }

    /// Drops the frozen grab (cancelled).
    pub fn thaw(&self) {
        self.frozen.thaw();
    }
}

/// Nothing frozen is a wrong call (press Capture again); a bad region or grab is bad input.
fn crop_error(e: CropError) -> Error {
    match e {
        CropError::NothingFrozen => Error::Usage(e.to_string()),
        _ => Error::BadInput(e.to_string()),
    }
}

/// Parses a shortcut such as `Ctrl+Alt+O`; it must have a modifier (a bare key grabbed
/// system-wide would stop that key working in every program).
pub fn parse_shortcut(text: &str) -> Result<Shortcut> {
    let text = text.trim();
    let shortcut: Shortcut = text.parse().map_err(|e| {
        Error::Usage(format!(
            "\"{text}\" is not a shortcut ({e}); write modifiers and a key joined by +, e.g. {DEFAULT_SHORTCUT}"
        ))
    })?;
    if shortcut.mods.is_empty() || shortcut.mods == Modifiers::SHIFT {
        return Err(Error::Usage(format!(
            "\"{text}\" has no Ctrl, Alt or Super; a global shortcut needs one, e.g. {DEFAULT_SHORTCUT}"
        )));
    }
    Ok(shortcut)
}

/// Crops `r` out of a `width`×`height` PNG, as PNG bytes (`keywheel_capture::frozen::crop`).
/// A region outside the picture, or empty, is refused.
pub fn crop(png: &[u8], width: u32, height: u32, r: CaptureRegion) -> Result<Vec<u8>> {
    keywheel_capture::frozen::crop(png, width, height, r).map_err(crop_error)
}

/// Registers the saved shortcut at start (its failure is kept for Settings, never fatal).
pub fn register_saved<R: Runtime>(app: &AppHandle<R>, state: &AppState) {
    let saved = state.pool.settings().capture_shortcut.clone();
    let status = register(app, None, &saved);
    if let Some(e) = &status.error {
        tracing::info!("capture shortcut not registered: {e}");
    }
    app.state::<Capture>().shortcut.set(status);
}

/// Replaces the registered shortcut with `text` (`""`: none) and says how it went.
fn register<R: Runtime>(app: &AppHandle<R>, old: Option<&str>, text: &str) -> CaptureStatus {
    let gs = app.global_shortcut();
    if let Some(old) = old.filter(|o| !o.trim().is_empty())
        && let Ok(s) = parse_shortcut(old)
    {
        let _ = gs.unregister(s);
    }
    let text = text.trim();
    if text.is_empty() {
        return CaptureStatus::inactive(text);
    }
    let registered = match parse_shortcut(text) {
        Err(e) => Err(e.to_string()),
        Ok(s) => gs
            .register(s)
            .map_err(|e| not_registered(text, &e.to_string(), on_wayland())),
    };
    CaptureStatus::new(text, registered)
}

/// Sets a new shortcut: registered first, saved to `config.toml` only if that worked (or it is
/// `""`, none).
pub fn set_shortcut<R: Runtime>(
    app: &AppHandle<R>,
    state: &AppState,
    text: &str,
) -> Result<CaptureStatus> {
    let text = text.trim();
    if !text.is_empty() {
        parse_shortcut(text)?;
    }
    let capture = app.state::<Capture>();
    let old = capture.status(&state.pool.settings().capture_shortcut);
    let status = register(app, Some(&old.shortcut), text);
    if let Some(e) = status.error.clone() {
        // Put the old one back: a failed edit changes nothing.
        capture.shortcut.set(register(app, None, &old.shortcut));
        return Err(Error::Usage(e));
    }
    state.settings.edit(&keywheel_core::config::SettingsEdit {
        capture_shortcut: Some(text.to_string()),
        ..Default::default()
    })?;
    Ok(capture.shortcut.set(status))
}

/// The shortcut's handler: a press tells the web view, which runs the same flow as the button.
pub fn on_shortcut<R: Runtime>(app: &AppHandle<R>, state: Press) {
    if state == Press::Pressed {
        let _ = app.emit(SHORTCUT_EVENT, ());
    }
}

/// Hides the window, waits for it to leave the screen, grabs the whole screen and keeps the
/// grab; returns its PNG. The window stays hidden until [`cover`] (or [`restore`] on failure).
pub async fn freeze<R: Runtime>(app: &AppHandle<R>, window: &WebviewWindow<R>) -> Result<Vec<u8>> {
    let capture = app.state::<Capture>();
    let geometry = Geometry {
        position: window.outer_position().unwrap_or_default(),
        size: window.inner_size().unwrap_or_default(),
        maximized: window.is_maximized().unwrap_or(false),
    };
    capture
        .geometry
        .lock()
        .expect("capture lock")
        .replace(geometry);
    let _ = window.hide();
    // Long enough for the window manager (and a compositor's fade) to take it off the screen.
    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    let grabbed = tauri::async_runtime::spawn_blocking(|| keywheel_capture::screen::grab(None))
        .await
        .map_err(|e| Error::Usage(format!("the capture stopped unexpectedly ({e}); try again")))?;
    match grabbed {
        Ok(shot) => {
            let png = shot.png.clone();
            capture.frozen.freeze(shot.png, shot.width, shot.height);
            Ok(png)
        }
        Err(e) => {
            restore(app, window);
            Err(Error::Usage(format!("{e}")))
        }
    }
}

/// Shows the window over the whole screen (the web view already shows the frozen grab): on top,
/// undecorated, at 0,0 and the grab's size; full screen as well when the grab is one monitor.
pub fn cover<R: Runtime>(app: &AppHandle<R>, window: &WebviewWindow<R>) {
    let capture = app.state::<Capture>();
    let size = capture.frozen.size().map(|(w, h)| PhysicalSize::new(w, h));
    let _ = window.unmaximize();
    let _ = window.set_decorations(false);
    let _ = window.set_always_on_top(true);
    let _ = window.set_min_size(None::<tauri::Size>);
    if let Some(size) = size {
        let _ = window.set_position(PhysicalPosition::new(0, 0));
        let _ = window.set_size(size);
        let one_monitor = window
            .current_monitor()
            .ok()
            .flatten()
            .is_some_and(|m| *m.size() == size);
        if one_monitor {
            let _ = window.set_fullscreen(true);
        }
    }
    let _ = window.show();
    let _ = window.set_focus();
}

/// Puts the window back as it was before the capture.
pub fn restore<R: Runtime>(app: &AppHandle<R>, window: &WebviewWindow<R>) {
    let capture = app.state::<Capture>();
    let _ = window.set_fullscreen(false);
    let _ = window.set_always_on_top(false);
    let _ = window.set_decorations(true);
    let _ = window.set_min_size(Some(PhysicalSize::new(720, 520)));
    if let Some(g) = capture.geometry.lock().expect("capture lock").take() {
        let _ = window.set_size(g.size);
        let _ = window.set_position(g.position);
        if g.maximized {
            let _ = window.maximize();
        }
    }
    let _ = window.show();
    let _ = window.set_focus();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cropping itself is tested in `keywheel_capture::frozen`; here, that its refusals
    /// keep their codes and sentences.
    #[test]
    fn a_region_outside_the_screen_or_empty_is_refused_with_a_sentence() {
        for r in [
            CaptureRegion {
                x: 30,
                y: 0,
                w: 5,
                h: 5,
            },
            CaptureRegion {
                x: 0,
                y: 0,
                w: 0,
                h: 5,
            },
            CaptureRegion {
                x: u32::MAX,
                y: 0,
                w: 2,
                h: 2,
            },
        ] {
            let e = crop(&[], 32, 32, r).unwrap_err();
            assert_eq!(e.code(), keywheel_core::ErrorCode::BadInput);
            assert!(e.to_string().contains("32×32"), "{e}");
        }
        let capture = Capture::default();
        let r = CaptureRegion {
            x: 0,
            y: 0,
            w: 1,
            h: 1,
        };
        let again = capture.take_region(r).unwrap_err();
        assert_eq!(again.code(), keywheel_core::ErrorCode::Usage);
        assert!(
            again.to_string().contains("press Capture again"),
            "one region per grab: {again}"
        );
    }

    #[test]
    fn shortcuts_need_a_modifier_and_bad_ones_say_how_to_write_one() {
        assert!(parse_shortcut(DEFAULT_SHORTCUT).is_ok());
        assert!(parse_shortcut(" super+shift+KeyT ").is_ok());
        for bad in ["O", "Shift+O", "Ctrl+", "Ctrl+Nope", ""] {
            let e = parse_shortcut(bad).unwrap_err().to_string();
            assert!(e.contains(DEFAULT_SHORTCUT), "{bad}: {e}");
        }
    }

    #[test]
    fn the_default_shortcut_is_the_core_default() {
        assert_eq!(
            keywheel_core::Settings::default().capture_shortcut,
            DEFAULT_SHORTCUT
        );
    }
}
