//! `keywheel-empty-window`: the baseline for `make bench-app`.
//!
//! A Tauri app built exactly like `keywheel-app` (same crate, profile, features and
//! `tauri::generate_context!()`, so the same embedded assets, config and CSP) that opens one
//! window of the same size showing an empty page (`empty.html`). It has no plugins, no managed
//! state and a single command, `app_ready`, which the page calls after its first two animation
//! frames; with `KEYWHEEL_BENCH_READY` set it prints `KEYWHEEL_READY <unix epoch ms>` on stdout,
//! like the app does. Whatever the app costs above this is the app's own weight.
#![warn(missing_docs)]
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::collections::BTreeMap;

/// The page the window shows (`ui/public/empty.html`, copied into `ui/dist` by Vite).
const EMPTY_PAGE: &str = "empty.html";

/// Called by the empty page after its first frame, with the page's timings. With
/// `KEYWHEEL_BENCH_READY` set it prints the wall-clock time (`KEYWHEEL_READY <unix ms>`) and
/// the marks for the benchmark script, as the app does.
#[tauri::command]
fn app_ready(marks: Option<BTreeMap<String, f64>>) {
    keywheel_app::commands::window::report_ready(marks.unwrap_or_default());
}

/// Opens the one empty window and runs until it closes.
fn main() {
    keywheel_app::commands::window::mark_start();
    let mut context = tauri::generate_context!();
    // Same config as the app, minus its window (the Keywheel UI must not load here): the window
    // is re-created in `setup` from the app's own window config (title, size, limits), pointed at
    // the empty page.
    let configured: Vec<_> = context.config_mut().app.windows.drain(..).collect();
    let mut window = configured
        .into_iter()
        .find(|w| w.label == "main")
        .unwrap_or_default();
    window.label = "main".into();
    window.url = tauri::WebviewUrl::App(EMPTY_PAGE.into());
    let app = tauri::Builder::default()
        .invoke_handler(tauri::generate_handler![app_ready])
        .setup(move |app| {
            keywheel_app::commands::window::mark("setup");
            let window =
                tauri::WebviewWindowBuilder::from_config(app.handle(), &window)?.build()?;
            // Painted as the app's window is (on the CPU unless `KEYWHEEL_WEBVIEW_GPU=1`), so
            // the two compare like for like.
            keywheel_app::paint_on_cpu(&window);
            keywheel_app::commands::window::mark("window");
            Ok(())
        })
        .build(context);
    match app {
        Ok(app) => app.run(|_, _| {}),
        Err(e) => {
            eprintln!("keywheel-empty-window: the window could not be opened: {e}");
            std::process::exit(1);
        }
    }
}
