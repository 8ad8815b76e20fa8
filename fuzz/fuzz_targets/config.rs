//! The config parser never panics: any text either fails with a sentence or gives settings
//! that `validate()` accepts or refuses with a sentence (exit 2).
#![no_main]

use keywheel_core::config::Settings;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(s) = toml::from_str::<Settings>(text) {
        if let Err(e) = s.validate() {
            assert_eq!(e.exit_code(), 2, "{e}");
        }
    }
});
