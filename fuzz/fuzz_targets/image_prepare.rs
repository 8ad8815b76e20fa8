//! Image preparation of arbitrary bytes never panics and stays within its limits: small pixel
//! and memory budgets keep a hostile header from asking for a long decode (libFuzzer's
//! `-rss_limit_mb` and `-timeout` in scripts/fuzz.sh catch anything that still does).
#![no_main]

use keywheel_vision::{PrepOptions, prepare};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let opts = PrepOptions {
        max_pixels: 4_000_000,
        max_decoded_bytes: 64_000_000,
        ..PrepOptions::default()
    };
    match prepare("fuzz.img", data, &opts) {
        Ok(p) => {
            assert!(!p.tiles.is_empty());
            for t in &p.tiles {
                assert!(t.data_url.len() <= opts.max_data_url_bytes);
            }
        }
        Err(e) => {
            assert!(e.to_string().contains("fuzz.img"), "{e}");
        }
    }
});
