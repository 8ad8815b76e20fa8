//! Keywheel's desktop app: a thin Tauri 2 shell over `keywheel-core`. Every rule (caps,
//! rotation, fallback, the ledger) lives in the core; this crate holds one managed state,
//! thin commands (`commands/`), streaming over Channels, the ledger watcher that makes work
//! done elsewhere show up live, and the native drag-drop that stages images. The window is
//! guarded (`navigation`): only the app's own pages load in it, and no new windows open.
#![warn(missing_docs)]

pub mod bindings;
pub mod capture;
pub mod commands;
pub mod dto;
pub mod error;
mod handoff;
pub mod navigation;
mod state;
mod watch;

use tauri::{DragDropEvent, Emitter, Manager, RunEvent, WebviewWindowBuilder, WindowEvent};

pub use state::AppState;

/// Runs the app until its last window closes.
pub fn run() {
    // First, before any thread: the keys leave the environment WebKit's processes inherit.
    let env_keys = handoff::take_env_keys();
    commands::window::mark_start();
    // The state (the ledger file and its migrations on a first start, logging, the keychain,
    // this launch's instance) opens on its own thread while GTK, the plugins and the window
    // are built and WebKit's processes start; `setup` waits for it before it returns, and no
    // command is served before that, so the page's first calls find the state managed.
    let opening = Opening::start(env_keys);
    let app = tauri::Builder::default()
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_dialog::init())
        // Rust side only (the navigation guard opens links in the browser): no script in the
        // page, and the web view has no opener permission.
        .plugin(
            tauri_plugin_opener::Builder::new()
                .open_js_links_on_click(false)
                .build(),
        )
        .plugin(
            tauri_plugin_global_shortcut::Builder::new()
                .with_handler(|app, _, event| capture::on_shortcut(app, event.state))
                .build(),
        )
        .manage(capture::Capture::default())
        .invoke_handler(tauri::generate_handler![
            commands::keys::keys_list,
            commands::keys::keys_add,
            commands::keys::keys_update,
            commands::keys::keys_remove,
            commands::keys::keys_check,
            commands::usage::status,
            commands::usage::usage,
            commands::usage::request_log,
            commands::usage::alerts,
            commands::usage::ledger_view,
            commands::settings::settings_get,
            commands::settings::settings_set,
            commands::models::models_chains,
            commands::models::models_catalogue,
            commands::chat::threads_list,
            commands::chat::thread_create,
            commands::chat::thread_get,
            commands::chat::thread_delete,
            commands::chat::chat_send,
            commands::chat::chat_stop,
            commands::ocr::ocr_stage,
            commands::ocr::ocr_staged,
            commands::ocr::ocr_unstage,
            commands::ocr::ocr_plan,
            commands::ocr::ocr_run,
            commands::ocr::ocr_cancel,
            commands::ocr::ocr_save,
            commands::window::app_ready,
            commands::gateway::gateway_status,
            commands::gateway::gateway_start,
            commands::gateway::gateway_stop,
            commands::gateway::gateway_token,
            commands::capture::capture_status,
            commands::capture::capture_start,
            commands::capture::capture_show,
            commands::capture::capture_cancel,
            commands::capture::capture_region,
            commands::capture::capture_copy,
            commands::capture::capture_set_shortcut,
            commands::capture::clipboard_write,
            commands::documents::pdf_stage,
        ])
        .setup(move |app| {
            // The window first: WebKit's network and web processes start and load the page
            // while the state finishes opening. (A launch that cannot open its ledger shows
            // the window for that moment, then exits with the sentence.)
            commands::window::mark("setup");
            open_window(app.handle())?;
            commands::window::mark("window");
            let state = match opening.wait() {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("keywheel: {e}");
                    std::process::exit(e.exit_code());
                }
            };
            commands::window::mark("state");
            app.manage(state.clone());
            capture::register_saved(app.handle(), &state);
            watch::spawn(app.handle().clone(), state);
            Ok(())
        })
        .on_window_event(|window, event| {
            if let WindowEvent::DragDrop(DragDropEvent::Drop { paths, .. }) = event {
                dropped(window.app_handle(), paths);
            }
        })
        .build(tauri::generate_context!());
    match app {
        Ok(app) => app.run(|app, event| {
            if let RunEvent::Exit = event {
                // A running gateway ends its sessions' instances and finishes its answers.
                let state = app.state::<AppState>();
                if let Err(e) = tauri::async_runtime::block_on(state.gateway.stop(&state.pool)) {
                    tracing::warn!("the gateway did not stop cleanly: {e}");
                }
                tracing::info!("app exiting");
            }
        }),
        Err(e) => {
            eprintln!("keywheel: the window could not be opened: {e}");
            std::process::exit(1);
        }
    }
}

/// The state being opened on its own thread (or, if no thread could be started, to be opened
/// when asked).
enum Opening {
    Thread(std::thread::JoinHandle<keywheel_core::Result<AppState>>),
    Inline(Option<zeroize::Zeroizing<String>>),
}

impl Opening {
    fn start(env_keys: Option<zeroize::Zeroizing<String>>) -> Self {
        // The keys move into the thread only if it starts; otherwise they stay for `wait`.
        let keys = std::sync::Arc::new(std::sync::Mutex::new(env_keys));
        let for_thread = keys.clone();
        let spawned = std::thread::Builder::new()
            .name("keywheel-open".into())
            .spawn(move || {
                let env_keys = for_thread.lock().ok().and_then(|mut k| k.take());
                AppState::open(env_keys.as_deref().map(String::as_str))
            });
        match spawned {
            Ok(handle) => Self::Thread(handle),
            Err(_) => Self::Inline(keys.lock().ok().and_then(|mut k| k.take())),
        }
    }

    fn wait(self) -> keywheel_core::Result<AppState> {
        match self {
            Self::Thread(handle) => match handle.join() {
                Ok(opened) => opened,
                // The open itself panicked: the panic hook has reported it; end as a panic would.
                Err(panic) => std::panic::resume_unwind(panic),
            },
            Self::Inline(env_keys) => AppState::open(env_keys.as_deref().map(String::as_str)),
        }
    }
}

/// Makes the window's web view paint on the CPU (WebKit's hardware-acceleration policy
/// "never") before its page first draws, unless `KEYWHEEL_WEBVIEW_GPU=1` asks for WebKit's
/// default (GL compositing). Accelerated compositing starts a GL context in the web process —
/// on machines without a GPU (VMs, remote desktops, Xvfb) Mesa's llvmpipe, about 100–120 MiB
/// more in an idle window (BENCHMARKS.md, "App first paint and memory") — and this UI has
/// nothing that needs it (no video, WebGL or heavy animation). One thing behaves differently
/// on the CPU path: WebKitWebDriver's screenshot waits for the page's next frame, which an idle
/// CPU-painted page never draws, so the e2e suite keeps frames coming while it takes one
/// (`src-tauri/tests/e2e.rs`, `shot`). The empty-window baseline of `make bench-app` calls
/// this too, so both are built the same way.
pub fn paint_on_cpu<R: tauri::Runtime>(window: &tauri::WebviewWindow<R>) {
    if std::env::var_os("KEYWHEEL_WEBVIEW_GPU").is_some_and(|v| v == "1") {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        let done = window.with_webview(|webview| {
            use webkit2gtk::{HardwareAccelerationPolicy, SettingsExt, WebViewExt};
            if let Some(settings) = WebViewExt::settings(&webview.inner()) {
                settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
            }
        });
        if let Err(e) = done {
            tracing::warn!("the web view keeps its default painting: {e}");
        }
    }
}

/// The main window, from `tauri.conf.json` (where it is `"create": false`), with the
/// navigation guard and no new windows. Built visible: a web view set to paint on the CPU
/// while its window is still hidden never drew its page (WebKitGTK 2.50, the page hung).
fn open_window(app: &tauri::AppHandle) -> tauri::Result<()> {
    let config = app
        .config()
        .app
        .windows
        .iter()
        .find(|w| w.label == "main")
        .cloned()
        .unwrap_or_default();
    let (nav, popup) = (app.clone(), app.clone());
    let window = WebviewWindowBuilder::from_config(app, &config)?
        .on_navigation(move |url| navigation::allow(&nav, url))
        .on_new_window(move |url, _| navigation::new_window(&popup, &url))
        .build()?;
    paint_on_cpu(&window);
    Ok(())
}

/// Files dropped on a window: read (the OS gave us the paths), staged and announced on a
/// worker thread, so a slow or special file never holds up the window.
fn dropped(app: &tauri::AppHandle, paths: &[std::path::PathBuf]) {
    use keywheel_core::ocr::queue::Dropped;
    let app = app.clone();
    let paths = paths.to_vec();
    tauri::async_runtime::spawn_blocking(move || {
        let mut staged = Vec::new();
        app.state::<AppState>()
            .images
            .stage_dropped(&paths, |d| match d {
                Dropped::Image(s) => staged.push(s),
                Dropped::Pdf(pdf) => {
                    let _ = app.emit("pdf-staged", pdf);
                }
                Dropped::Refused(e) => {
                    let _ = app.emit("drop-error", error::IpcError::from(e));
                }
            });
        if !staged.is_empty() {
            let _ = app.emit("ocr-staged", staged);
        }
    });
}
