//! Error classification of arbitrary statuses, headers and bodies never panics, and the
//! message and sentence it produces never carry anything key-shaped.
#![no_main]

use keywheel_core::keys::redact;
use keywheel_core::openrouter::{classify, failure_sentence};
use libfuzzer_sys::fuzz_target;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let status = u16::from_le_bytes([data[0], data[1]]) % 1000;
    let n_headers = usize::from(data[2] % 8);
    let mut rest = &data[3..];
    let mut headers = HeaderMap::new();
    // Headers: `name:value\n` lines, as many as asked for; the rest is the body.
    for _ in 0..n_headers {
        let Some(end) = rest.iter().position(|b| *b == b'\n') else {
            break;
        };
        let line = &rest[..end];
        rest = &rest[end + 1..];
        if let Some(colon) = line.iter().position(|b| *b == b':') {
            let (name, value) = (&line[..colon], &line[colon + 1..]);
            if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value)) {
                headers.append(n, v);
            }
        }
    }
    let body = String::from_utf8_lossy(rest);
    let f = classify(status, &headers, &body);
    assert_eq!(
        redact(&f.message),
        f.message,
        "a key-shaped run in the message"
    );
    let sentence = failure_sentence(&f);
    assert_eq!(
        redact(&sentence),
        sentence,
        "a key-shaped run in the sentence"
    );
    let _ = f.wait_hint(chrono::DateTime::UNIX_EPOCH);
});
