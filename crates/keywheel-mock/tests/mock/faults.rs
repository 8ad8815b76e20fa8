//! Faults: 5xx, HTML 524, malformed JSON, errors inside 200s, padding, timeouts, and switching
//! them over HTTP.

use std::time::Duration;

use keywheel_mock::{Faults, MockConfig};
use serde_json::{Value, json};

use super::*;

async fn with_faults(f: Faults) -> keywheel_mock::MockServer {
    start(MockConfig::default().with_faults(f)).await
}

#[tokio::test]
async fn error_rate_one_gives_502_or_503_bodies_and_counts() {
    let server = with_faults(Faults {
        error_rate_5xx: 1.0,
        ..Faults::default()
    })
    .await;
    for _ in 0..6 {
        let resp = post_chat(
            &server,
            Some(&key(1)),
            &chat_body("deepseek/deepseek-r1", "q"),
        )
        .await;
        let status = resp.status().as_u16();
        assert!(status == 502 || status == 503, "{status}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["code"], status);
        let expected = if status == 502 {
            "Provider returned error"
        } else {
            "Service temporarily unavailable"
        };
        assert_eq!(v["error"]["message"], expected);
    }
    // Provider failures still used the quota (they reached the model).
    assert_eq!(server.stats().keys[&expected_key_id(&key(1))].served, 6);
}

#[tokio::test]
async fn html_body_is_a_524_cloudflare_page() {
    let server = with_faults(Faults {
        html_body: true,
        ..Faults::default()
    })
    .await;
    let resp = post_chat(
        &server,
        Some(&key(1)),
        &chat_body("deepseek/deepseek-r1", "q"),
    )
    .await;
    assert_eq!(resp.status(), 524);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let text = resp.text().await.unwrap();
    assert!(text.contains("<html") && text.contains("Cloudflare"));
    assert!(serde_json::from_str::<Value>(&text).is_err());
}

#[tokio::test]
async fn malformed_json_is_a_200_that_does_not_parse() {
    let server = with_faults(Faults {
        malformed_json: true,
        ..Faults::default()
    })
    .await;
    let resp = post_chat(
        &server,
        Some(&key(1)),
        &chat_body("deepseek/deepseek-r1", "q"),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    assert!(text.starts_with('{') && text.contains("\"choices\""));
    assert!(serde_json::from_str::<Value>(&text).is_err());
}

#[tokio::test]
async fn error_in_200_is_a_provider_error_body() {
    let server = with_faults(Faults {
        error_in_200: true,
        ..Faults::default()
    })
    .await;
    let resp = post_chat(
        &server,
        Some(&key(1)),
        &chat_body("deepseek/deepseek-r1", "q"),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], 502);
    assert_eq!(v["error"]["message"], "Provider returned error");
    assert!(v.get("choices").is_none());
}

#[tokio::test]
async fn keepalive_pads_non_stream_bodies_with_leading_newlines() {
    let server = with_faults(Faults {
        keepalive_comments: true,
        ..Faults::default()
    })
    .await;
    let text = post_chat(
        &server,
        Some(&key(1)),
        &chat_body("deepseek/deepseek-r1", "pad"),
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(text.starts_with("\n\n\n"));
    let v: Value = serde_json::from_str(text.trim_start()).unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "You asked: pad");
}

#[tokio::test]
async fn cut_non_stream_body_errors_on_read() {
    let server = with_faults(Faults {
        cut_stream: true,
        ..Faults::default()
    })
    .await;
    let resp = post_chat(
        &server,
        Some(&key(1)),
        &chat_body("deepseek/deepseek-r1", "q"),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.text().await.is_err(),
        "body is cut and the connection closed"
    );
}

#[tokio::test]
async fn timeout_fault_never_answers_in_time() {
    let server = with_faults(Faults {
        timeout: true,
        ..Faults::default()
    })
    .await;
    let err = client()
        .post(format!("{}/chat/completions", server.base_url()))
        .bearer_auth(key(1))
        .json(&chat_body("deepseek/deepseek-r1", "q"))
        .timeout(Duration::from_millis(300))
        .send()
        .await
        .expect_err("the mock sleeps 120 s");
    assert!(err.is_timeout());
}

#[tokio::test]
async fn faults_switch_over_http_and_from_the_handle() {
    let server = start(MockConfig::default()).await;
    let body = chat_body("deepseek/deepseek-r1", "q");
    let resp = client()
        .post(format!("{}/__mock/faults", server.root_url()))
        .json(&json!({"html_body": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(post_chat(&server, Some(&key(1)), &body).await.status(), 524);

    // The JSON is the Faults struct: unknown shape is refused, known one applied.
    let resp = client()
        .post(format!("{}/__mock/faults", server.root_url()))
        .body("[1,2]")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);

    server.set_faults(Faults::default());
    assert_eq!(post_chat(&server, Some(&key(1)), &body).await.status(), 200);
}
