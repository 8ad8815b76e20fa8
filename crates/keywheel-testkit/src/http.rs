//! HTTP for tests: one raw HTTP/1.1 exchange over a plain socket (what a hand-written client
//! sends, byte for byte), the smallest chat body, and a reqwest client that never goes through
//! a proxy.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};

/// Sends one HTTP/1.1 request (`Connection: close`, JSON body, an optional bearer) to `addr`
/// and returns the status and the whole answer (status line, headers, body).
///
/// # Panics
/// When the connection or the write fails, or the answer has no status line.
pub fn raw(
    addr: impl ToSocketAddrs,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    body: &str,
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connects");
    let auth = bearer
        .map(|k| format!("Authorization: Bearer {k}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{auth}\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("request written");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let status = out
        .get(9..12)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status line in {out:?}"));
    (status, out)
}

/// The smallest chat request: one user message `text` to `model`.
pub fn chat_body(model: &str, text: &str) -> serde_json::Value {
    serde_json::json!({"model": model, "messages": [{"role": "user", "content": text}]})
}

/// A reqwest client that never goes through a proxy (tests talk to 127.0.0.1 only).
#[cfg(feature = "http")]
#[allow(clippy::disallowed_methods)] // tests' own client to 127.0.0.1, not to OpenRouter
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("an HTTP client")
}
