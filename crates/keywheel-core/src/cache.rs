//! The response cache's rules: an exact, content-addressed key (SHA-256 of the model chain,
//! the normalized messages and the parameters) and what a cached answer holds. Entries live
//! in the shared ledger file, so every instance sees them; a hit reserves no quota.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::openrouter::ChatRequest;
use crate::openrouter::types::Usage;

/// What is kept for a cached answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CachedAnswer {
    /// The model that answered.
    pub model: Option<String>,
    /// The answer.
    pub content: String,
    /// The reasoning.
    pub reasoning: String,
    /// Usage of the original request.
    pub usage: Option<Usage>,
}

/// The cache key of a request: model chain, messages and parameters, normalized (the
/// `stream` flag does not change the answer, so it is left out).
pub fn key(kind: &str, req: &ChatRequest) -> String {
    let mut normalized = req.clone();
    normalized.stream = false;
    let mut v = serde_json::to_value(&normalized).unwrap_or_default();
    if let Some(obj) = v.as_object_mut() {
        obj.remove("stream");
        obj.remove("usage");
    }
    let mut h = Sha256::new();
    h.update(kind.as_bytes());
    h.update([0]);
    h.update(canonical(&v).as_bytes());
    hex::encode(h.finalize())
}

/// JSON with object keys sorted, so equal requests hash equally.
fn canonical(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let inner: Vec<String> = keys
                .into_iter()
                .map(|k| {
                    format!(
                        "{}:{}",
                        serde_json::Value::String(k.clone()),
                        canonical(&map[k])
                    )
                })
                .collect();
            format!("{{{}}}", inner.join(","))
        }
        serde_json::Value::Array(items) => format!(
            "[{}]",
            items.iter().map(canonical).collect::<Vec<_>>().join(",")
        ),
        serde_json::Value::String(s) => serde_json::Value::String(s.trim().to_string()).to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_requests_share_a_key_and_different_ones_do_not() {
        let a = ChatRequest::text("m", "hello");
        let mut b = ChatRequest::text("m", " hello ");
        b.stream = true;
        assert_eq!(
            key("chat", &a),
            key("chat", &b),
            "whitespace and the stream flag do not matter"
        );
        assert_ne!(
            key("chat", &a),
            key("ocr", &a),
            "the kind is part of the key"
        );
        assert_ne!(
            key("chat", &a),
            key("chat", &ChatRequest::text("m2", "hello")),
            "the model is"
        );
        assert_ne!(
            key("chat", &a),
            key("chat", &ChatRequest::text("m", "hello!")),
            "the prompt is"
        );
    }
}
