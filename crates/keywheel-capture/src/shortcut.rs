//! The desktop app's capture shortcut as a person sees it: the shortcut saved, whether the
//! desktop registered it, and why not, in a sentence. Registering it is the app's
//! (`tauri-plugin-global-shortcut`); this module keeps its state and its words.

use std::sync::Mutex;

use serde::Serialize;

/// What the Settings panel and the Capture button show about the shortcut.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "CaptureStatus"))]
pub struct ShortcutStatus {
    /// The shortcut as saved (`""`: none).
    pub shortcut: String,
    /// Whether it is registered with the desktop now.
    pub active: bool,
    /// Why it is not, as a sentence.
    pub error: Option<String>,
}

impl ShortcutStatus {
    /// `text` (trimmed), registered if `registered` is `Ok`, else with its sentence. An empty
    /// `text` is no shortcut: inactive, and not an error.
    pub fn new(text: &str, registered: Result<(), String>) -> Self {
        let shortcut = text.trim().to_string();
        if shortcut.is_empty() {
            return Self::inactive(shortcut);
        }
        let error = registered.err();
        Self {
            active: error.is_none(),
            shortcut,
            error,
        }
    }

    /// `text` as saved, not registered (yet), without an error.
    pub fn inactive(text: impl Into<String>) -> Self {
        Self {
            shortcut: text.into(),
            active: false,
            error: None,
        }
    }
}

/// Why the desktop did not register `text` (`why`: what it said): on Wayland there are no
/// global grabs, so the sentence says what to use instead.
pub fn not_registered(text: &str, why: &str, wayland: bool) -> String {
    if wayland {
        format!(
            "{text} could not be registered: a Wayland desktop gives programs no global shortcuts; \
             use the Capture button, or bind `keywheel ocr --screen --copy` to a key in your desktop's settings"
        )
    } else {
        format!("{text} could not be registered ({why}); another program may use it — pick another")
    }
}

/// Whether this session is a Wayland one (`WAYLAND_DISPLAY` set and not empty).
pub fn on_wayland() -> bool {
    std::env::var_os("WAYLAND_DISPLAY").is_some_and(|v| !v.is_empty())
}

/// The shortcut's state while the app runs (before the first registration: none).
#[derive(Debug, Default)]
pub struct ShortcutState(Mutex<Option<ShortcutStatus>>);

impl ShortcutState {
    /// The state (before any registration ran: `saved`, inactive).
    pub fn status(&self, saved: &str) -> ShortcutStatus {
        self.0
            .lock()
            .expect("shortcut lock")
            .clone()
            .unwrap_or_else(|| ShortcutStatus::inactive(saved))
    }

    /// Keeps `status` and returns it.
    pub fn set(&self, status: ShortcutStatus) -> ShortcutStatus {
        *self.0.lock().expect("shortcut lock") = Some(status.clone());
        status
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_is_active_only_when_registered_and_none_is_no_error() {
        assert_eq!(
            ShortcutStatus::new(" Ctrl+Alt+O ", Ok(())),
            ShortcutStatus {
                shortcut: "Ctrl+Alt+O".into(),
                active: true,
                error: None
            }
        );
        let refused = ShortcutStatus::new("Ctrl+Alt+O", Err("taken".into()));
        assert!(!refused.active && refused.error.as_deref() == Some("taken"));
        assert_eq!(
            ShortcutStatus::new("  ", Err("ignored".into())),
            ShortcutStatus::inactive("")
        );
    }

    #[test]
    fn the_state_starts_as_saved_and_keeps_what_was_set() {
        let state = ShortcutState::default();
        assert_eq!(
            state.status("Ctrl+Alt+O"),
            ShortcutStatus::inactive("Ctrl+Alt+O")
        );
        state.set(ShortcutStatus::new("Super+T", Ok(())));
        assert!(state.status("Ctrl+Alt+O").active);
        assert_eq!(state.status("Ctrl+Alt+O").shortcut, "Super+T");
    }

    #[test]
    fn a_refusal_says_what_to_do_and_wayland_names_the_button() {
        let x11 = not_registered("Ctrl+Alt+O", "already grabbed", false);
        assert!(
            x11.contains("already grabbed") && x11.contains("pick another"),
            "{x11}"
        );
        let wl = not_registered("Ctrl+Alt+O", "already grabbed", true);
        assert!(
            wl.contains("Capture button") && wl.contains("keywheel ocr --screen --copy"),
            "{wl}"
        );
    }
}
