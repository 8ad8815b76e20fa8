//! The SSE decoder never panics, whatever the bytes and however they are cut: the events of
//! an input fed in arbitrary pieces equal the events of the same input fed whole, with and
//! without the line cap, and the cap bounds what the decoder holds.
#![no_main]

use keywheel_core::openrouter::{SseDecoder, StreamEvent};
use libfuzzer_sys::fuzz_target;

fn decode(pieces: &[&[u8]], cap: Option<usize>) -> Vec<StreamEvent> {
    let mut d = match cap {
        Some(n) => SseDecoder::with_max_line(n),
        None => SseDecoder::new(),
    };
    let mut out = Vec::new();
    for p in pieces {
        out.extend(d.push(p));
    }
    out.extend(d.finish());
    out
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks the cut sizes (1..=64, cycling through the next 8 bytes).
    let (plan, input) = data.split_at(data.len().min(9));
    let sizes: Vec<usize> = plan
        .iter()
        .skip(1)
        .map(|b| usize::from(b % 64) + 1)
        .collect();
    let mut pieces = Vec::new();
    let mut rest = input;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes
            .get(i % sizes.len().max(1))
            .copied()
            .unwrap_or(rest.len())
            .min(rest.len());
        let (a, b) = rest.split_at(n);
        pieces.push(a);
        rest = b;
        i += 1;
    }
    for cap in [None, Some(64), Some(4096)] {
        let whole = decode(&[input], cap);
        let cut = decode(&pieces, cap);
        assert_eq!(whole, cut, "chunking changed the events (cap {cap:?})");
    }
});
