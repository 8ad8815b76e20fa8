//! SSE streams: R1 shape, plain models, keep-alives, cut streams and mid-stream errors.

use futures_util::StreamExt as _;
use keywheel_mock::{Faults, MockConfig};
use serde_json::{Value, json};

use super::*;

fn stream_body(model: &str, text: &str) -> Value {
    json!({"model": model, "stream": true, "reasoning": {"exclude": false},
           "messages": [{"role": "user", "content": text}]})
}

#[tokio::test]
async fn r1_stream_sends_reasoning_then_content_then_finish_usage_done() {
    let server = start(MockConfig::default()).await;
    let q = "Which is bigger, 9.11 or 9.9?";
    let resp = post_chat(
        &server,
        Some(&key(1)),
        &stream_body("deepseek/deepseek-r1", q),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let gen_id = resp.headers()["x-generation-id"]
        .to_str()
        .unwrap()
        .to_string();
    let text = resp.text().await.unwrap();
    let sse = parse_sse(&text);
    assert_eq!(sse.data.last().map(String::as_str), Some("[DONE]"));
    let chunks = json_chunks(&sse);
    assert!(chunks.iter().all(|c| c["id"] == gen_id.as_str()));

    // Reasoning chunks come first, all before any content.
    let is_reasoning = |c: &Value| {
        c["choices"][0]["delta"]["reasoning"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    };
    let is_content = |c: &Value| {
        c["choices"][0]["delta"]["content"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    };
    let reasoning_idx: Vec<usize> = (0..chunks.len())
        .filter(|&i| is_reasoning(&chunks[i]))
        .collect();
    let content_idx: Vec<usize> = (0..chunks.len())
        .filter(|&i| is_content(&chunks[i]))
        .collect();
    assert!(reasoning_idx.len() >= 2, "several reasoning chunks");
    assert!(content_idx.len() >= 2, "several content chunks");
    assert!(reasoning_idx.last() < content_idx.first());
    assert_eq!(reasoning_idx[0], 0);
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    for &i in &reasoning_idx {
        let d = &chunks[i]["choices"][0]["delta"];
        assert_eq!(d["reasoning_details"][0]["text"], d["reasoning"]);
        assert_eq!(d["content"], "");
    }
    let reasoning: String = reasoning_idx
        .iter()
        .map(|&i| {
            chunks[i]["choices"][0]["delta"]["reasoning"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert!(reasoning.contains(q));
    let content: String = content_idx
        .iter()
        .map(|&i| {
            chunks[i]["choices"][0]["delta"]["content"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(content, format!("You asked: {q}"));

    // Finish chunk, then a choices: [] usage chunk, then [DONE].
    let n = chunks.len();
    assert_eq!(chunks[n - 2]["choices"][0]["finish_reason"], "stop");
    let usage_chunk = &chunks[n - 1];
    assert_eq!(usage_chunk["choices"], json!([]));
    let u = &usage_chunk["usage"];
    assert!(
        u["completion_tokens_details"]["reasoning_tokens"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert!(u["cost"].as_f64().unwrap() > 0.0);
    assert_eq!(
        u["prompt_tokens"].as_u64().unwrap() + u["completion_tokens"].as_u64().unwrap(),
        u["total_tokens"].as_u64().unwrap()
    );
    assert_eq!(sse.comments, 0);

    let rec = server.requests().pop().unwrap();
    assert!(rec.stream);
    assert_eq!(rec.status, 200);
}

#[tokio::test]
async fn plain_model_streams_content_only_with_keepalives_when_asked() {
    let server = start(MockConfig::default().with_faults(Faults {
        keepalive_comments: true,
        ..Faults::default()
    }))
    .await;
    let text = post_chat(
        &server,
        Some(&key(1)),
        &stream_body("meta-llama/llama-3.2-90b-vision-instruct", "hello there"),
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(text.contains(": OPENROUTER PROCESSING"));
    let sse = parse_sse(&text);
    assert!(sse.comments >= 2);
    assert_eq!(sse.data.last().map(String::as_str), Some("[DONE]"));
    let chunks = json_chunks(&sse);
    assert!(chunks.iter().all(|c| {
        c["choices"][0]["delta"]["reasoning"]
            .as_str()
            .is_none_or(str::is_empty)
    }));
    let content: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(content, "You asked: hello there");
    assert_eq!(
        chunks.last().unwrap()["usage"]["completion_tokens_details"]["reasoning_tokens"],
        0
    );
}

#[tokio::test]
async fn cut_stream_ends_without_finish_or_done_and_the_body_errors() {
    let server = start(MockConfig::default().with_faults(Faults {
        cut_stream: true,
        ..Faults::default()
    }))
    .await;
    let resp = post_chat(
        &server,
        Some(&key(1)),
        &stream_body("deepseek/deepseek-r1", "q"),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let mut stream = resp.bytes_stream();
    let mut got = Vec::new();
    let mut errored = false;
    while let Some(item) = stream.next().await {
        match item {
            Ok(b) => got.extend_from_slice(&b),
            Err(_) => {
                errored = true;
                break;
            }
        }
    }
    assert!(errored, "the connection is closed mid-body");
    let text = String::from_utf8(got).unwrap();
    let sse = parse_sse(&text);
    assert!(!sse.data.is_empty(), "some chunks arrived first");
    assert!(!text.contains("[DONE]"));
    assert!(!text.contains("\"finish_reason\":\"stop\""));
}

#[tokio::test]
async fn error_in_200_stream_sends_the_mid_stream_error_chunk() {
    let server = start(MockConfig::default().with_faults(Faults {
        error_in_200: true,
        ..Faults::default()
    }))
    .await;
    let resp = post_chat(
        &server,
        Some(&key(1)),
        &stream_body("deepseek/deepseek-r1", "q"),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let sse = parse_sse(&resp.text().await.unwrap());
    let chunks = json_chunks(&sse);
    assert!(chunks.len() >= 2);
    let last = chunks.last().unwrap();
    assert_eq!(last["error"]["code"], 502);
    assert_eq!(
        last["error"]["metadata"]["error_type"],
        "provider_unavailable"
    );
    assert_eq!(last["choices"][0]["finish_reason"], "error");
    assert!(!sse.data.iter().any(|d| d == "[DONE]"));
}

#[tokio::test]
async fn stream_variants_crlf_split_usage_on_finish_no_details() {
    let server = start(MockConfig::default().with_faults(Faults {
        sse_crlf: true,
        sse_split_writes: true,
        usage_on_finish_chunk: true,
        no_reasoning_details: true,
        ..Faults::default()
    }))
    .await;
    let text = post_chat(
        &server,
        Some(&key(1)),
        &stream_body("deepseek/deepseek-r1-0528", "q"),
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(text.contains("\r\n\r\n"));
    assert!(
        !text.replace("\r\n", "").contains('\n'),
        "only CRLF line ends"
    );
    let sse = parse_sse(&text);
    assert_eq!(sse.data.last().map(String::as_str), Some("[DONE]"));
    let chunks = json_chunks(&sse);
    assert!(chunks.iter().all(|c| c["choices"] != json!([])));
    assert!(
        chunks
            .iter()
            .all(|c| c["choices"][0]["delta"].get("reasoning_details").is_none())
    );
    assert!(chunks[0]["choices"][0]["delta"]["reasoning"].is_string());
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"][0]["finish_reason"], "stop");
    assert!(last["usage"]["total_tokens"].as_u64().unwrap() > 0);
}
