//! Tests of the mock over real HTTP on 127.0.0.1 (one test binary, one module per area;
//! `binary` runs the real `keywheel-mock` executable). Each test starts its own server.

mod auth;
mod binary;
mod chat;
mod control;
mod faults;
mod limits;
mod openrouter2026;
mod stream;
mod vision;

use keywheel_mock::{MockConfig, MockServer};
use serde_json::Value;

/// Fake keys, their ids computed independently of the crate, a proxy-free HTTP client and the
/// smallest chat body come from keywheel-testkit.
pub use keywheel_testkit::http::{chat_body, client};
pub use keywheel_testkit::keys::{fake_key as key, key_id as expected_key_id};

/// Starts a server.
pub async fn start(cfg: MockConfig) -> MockServer {
    MockServer::start(cfg).await.expect("mock starts")
}

/// POSTs a chat request with `key` (no header when `None`).
pub async fn post_chat(server: &MockServer, key: Option<&str>, body: &Value) -> reqwest::Response {
    let mut req = client()
        .post(format!("{}/chat/completions", server.base_url()))
        .json(body);
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    req.send().await.expect("request sent")
}

/// GETs a path under the base URL with `key`.
pub async fn get_api(server: &MockServer, path: &str, key: Option<&str>) -> reqwest::Response {
    let mut req = client().get(format!("{}{path}", server.base_url()));
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    req.send().await.expect("request sent")
}

/// The parts of an SSE body: `data:` payloads in order and the number of comment lines.
pub struct Sse {
    pub data: Vec<String>,
    pub comments: usize,
}

/// Parses an SSE body.
pub fn parse_sse(text: &str) -> Sse {
    let mut data = Vec::new();
    let mut comments = 0;
    for line in text.lines() {
        if let Some(d) = line.strip_prefix("data:") {
            data.push(d.trim_start().to_string());
        } else if line.starts_with(':') {
            comments += 1;
        }
    }
    Sse { data, comments }
}

/// The JSON chunks of an SSE body (everything but `[DONE]`).
pub fn json_chunks(sse: &Sse) -> Vec<Value> {
    sse.data
        .iter()
        .filter(|d| d.as_str() != "[DONE]")
        .map(|d| serde_json::from_str(d).expect("chunk is JSON"))
        .collect()
}
