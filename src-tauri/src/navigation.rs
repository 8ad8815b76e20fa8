//! The window stays ours. Only the app's own pages (`tauri://localhost`, or
//! `http(s)://tauri.localhost` where the platform serves them so) may load in the window; a
//! web link (a link in a model answer, "Open Link" in the context menu, `location.assign`)
//! opens in the system browser instead, anything else (`file:`, `data:`, `javascript:` …) is
//! refused, and no page may open a new window.

use tauri::webview::NewWindowResponse;
use tauri::{AppHandle, Runtime, Url};
use tauri_plugin_opener::OpenerExt;

/// What happens to a navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Navigation {
    /// The app's own page: load it.
    Stay,
    /// A web or mail link: hand it to the system browser, keep the window where it is.
    Browser,
    /// Anything else: ignore it.
    Refuse,
}

/// Decides where `url` goes.
pub fn decide(url: &Url) -> Navigation {
    let host = url.host_str();
    match url.scheme() {
        "tauri" if host == Some("localhost") => Navigation::Stay,
        "http" | "https" if host == Some("tauri.localhost") => Navigation::Stay,
        "http" | "https" | "mailto" => Navigation::Browser,
        _ => Navigation::Refuse,
    }
}

/// The window's navigation handler: `true` lets `url` load in the window.
pub fn allow<R: Runtime>(app: &AppHandle<R>, url: &Url) -> bool {
    match decide(url) {
        Navigation::Stay => true,
        Navigation::Browser => {
            open_outside(app, url);
            false
        }
        Navigation::Refuse => {
            tracing::warn!(scheme = url.scheme(), "navigation refused");
            false
        }
    }
}

/// The window's new-window handler: never a new window; a web link opens in the browser.
pub fn new_window<R: Runtime>(app: &AppHandle<R>, url: &Url) -> NewWindowResponse<R> {
    if decide(url) == Navigation::Browser {
        open_outside(app, url);
    }
    NewWindowResponse::Deny
}

/// Hands `url` to the desktop's opener (`xdg-open` on Linux), which starts the browser.
fn open_outside<R: Runtime>(app: &AppHandle<R>, url: &Url) {
    tracing::info!(%url, "opening a link in the system browser");
    if let Err(e) = app.opener().open_url(url.as_str(), None::<&str>) {
        tracing::warn!(%url, "the link could not be opened: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Navigation {
        decide(&Url::parse(s).unwrap())
    }

    #[test]
    fn only_the_app_stays_web_links_go_to_the_browser_the_rest_is_refused() {
        assert_eq!(d("tauri://localhost/"), Navigation::Stay);
        assert_eq!(d("tauri://localhost/index.html#/chat"), Navigation::Stay);
        assert_eq!(d("http://tauri.localhost/"), Navigation::Stay);
        assert_eq!(d("https://example.invalid/"), Navigation::Browser);
        assert_eq!(d("http://localhost:8080/"), Navigation::Browser);
        assert_eq!(d("mailto:someone@example.invalid"), Navigation::Browser);
        assert_eq!(d("tauri://evil.example/"), Navigation::Refuse);
        assert_eq!(d("https://tauri.localhost.example/"), Navigation::Browser);
        for s in [
            "file:///etc/passwd",
            "data:text/html,hi",
            "javascript:alert(1)",
            "about:blank",
        ] {
            assert_eq!(d(s), Navigation::Refuse, "{s}");
        }
    }
}
