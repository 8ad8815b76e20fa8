//! The Keywheel desktop app's entry point; everything lives in the library.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    keywheel_app::run();
}
