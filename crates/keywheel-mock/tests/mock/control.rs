//! Control endpoints and the handle: scripted responses, stats by key id, recorded requests,
//! runtime keys, reset-day, and the blocking starter.

use std::io::{Read as _, Write as _};

use keywheel_mock::{MockConfig, MockKey, ScriptedResponse, Stats};
use serde_json::{Value, json};

use super::*;

#[tokio::test]
async fn scripted_responses_are_served_verbatim_in_order_and_not_counted() {
    let server = start(MockConfig::default().with_limits(1, 100)).await;
    let k = key(1);
    let sse_body = "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\ndata: [DONE]\n\n";
    server.script(vec![
        ScriptedResponse::json(503, "{\"error\":{\"code\":503,\"message\":\"scripted\"}}")
            .with_header("Retry-After", "7"),
        ScriptedResponse::sse(sse_body),
    ]);
    let body = chat_body("deepseek/deepseek-r1", "q");

    // Unknown keys still fail auth and do not consume the script.
    assert_eq!(post_chat(&server, Some("nope"), &body).await.status(), 401);

    let resp = post_chat(&server, Some(&k), &body).await;
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["retry-after"], "7");
    assert_eq!(
        resp.text().await.unwrap(),
        "{\"error\":{\"code\":503,\"message\":\"scripted\"}}"
    );

    let resp = post_chat(&server, Some(&k), &body).await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    assert_eq!(resp.text().await.unwrap(), sse_body);

    // Script empty: normal logic, and the quota (1) is still whole.
    assert_eq!(post_chat(&server, Some(&k), &body).await.status(), 200);
    assert_eq!(post_chat(&server, Some(&k), &body).await.status(), 429);

    let recs = server.requests();
    assert_eq!(recs.iter().filter(|r| r.scripted).count(), 2);

    // The same over HTTP.
    let resp = client()
        .post(format!("{}/__mock/script", server.root_url()))
        .json(&json!([{"status": 418, "body": "teapot", "headers": [["X-Mock", "yes"]], "sse": false}]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = post_chat(&server, Some(&k), &body).await;
    assert_eq!(resp.status(), 418);
    assert_eq!(resp.headers()["x-mock"], "yes");
    assert_eq!(resp.text().await.unwrap(), "teapot");
}

#[tokio::test]
async fn stats_name_keys_by_id_only() {
    let server = start(
        MockConfig::default()
            .with_key(key(1), "a")
            .with_limits(2, 100),
    )
    .await;
    let body = chat_body("deepseek/deepseek-r1", "q");
    for _ in 0..3 {
        post_chat(&server, Some(&key(1)), &body).await;
    }
    post_chat(&server, Some(&key(2)), &body).await;
    post_chat(&server, None, &body).await;

    let resp = client()
        .get(format!("{}/__mock/stats", server.root_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    assert!(
        !text.contains(&key(1)) && !text.contains(&key(2)),
        "no key in stats"
    );
    let stats: Stats = serde_json::from_str(&text).unwrap();
    assert_eq!(stats, server.stats());
    assert_eq!(stats.total_requests, 5);

    let k1 = &stats.keys[&expected_key_id(&key(1))];
    assert_eq!((k1.requests, k1.served, k1.rate_limited_429), (3, 2, 1));
    assert_eq!(k1.status["200"], 2);
    assert_eq!(k1.status["429"], 1);
    let k2 = &stats.keys[&expected_key_id(&key(2))];
    assert_eq!((k2.requests, k2.served), (1, 0));
    assert_eq!(k2.status["401"], 1);
    assert_eq!(stats.keys["missing"].requests, 1);

    let v: Value = serde_json::from_str(&text).unwrap();
    assert!(v["keys"][expected_key_id(&key(1))]["status"]["200"].is_u64());

    // Recorded requests: key ids, statuses, never keys.
    let text = client()
        .get(format!("{}/__mock/requests", server.root_url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!text.contains(&key(1)));
    let recs: Vec<keywheel_mock::RecordedRequest> = serde_json::from_str(&text).unwrap();
    assert_eq!(recs, server.requests());
    let statuses: Vec<u16> = recs.iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![200, 200, 429, 401, 401]);
    assert_eq!(recs[0].key_id, expected_key_id(&key(1)));
    assert_eq!(recs[0].model.as_deref(), Some("deepseek/deepseek-r1"));
    assert_eq!(recs[0].text, "q");
}

#[tokio::test]
async fn requests_keep_the_last_200() {
    let server = start(MockConfig::default().with_limits(1000, 1000)).await;
    let body = chat_body("deepseek/deepseek-r1", "q");
    for _ in 0..205 {
        post_chat(&server, Some(&key(1)), &body).await;
    }
    let recs = server.requests();
    assert_eq!(recs.len(), 200);
    assert_eq!(recs[0].seq, 5);
    assert_eq!(recs[199].seq, 204);
}

#[tokio::test]
async fn keys_added_at_runtime_and_reset_day_over_http() {
    let server = start(
        MockConfig::default()
            .with_key(key(1), "a")
            .with_limits(1, 100),
    )
    .await;
    let body = chat_body("deepseek/deepseek-r1", "q");
    assert_eq!(
        post_chat(&server, Some("custom-key-9"), &body)
            .await
            .status(),
        401
    );
    let resp = client()
        .post(format!("{}/__mock/keys", server.root_url()))
        .json(&json!({"key": "custom-key-9", "account": "z"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["key_ids"][0], expected_key_id("custom-key-9"));
    assert_eq!(
        post_chat(&server, Some("custom-key-9"), &body)
            .await
            .status(),
        200
    );
    assert_eq!(
        post_chat(&server, Some("custom-key-9"), &body)
            .await
            .status(),
        429
    );

    let resp = client()
        .post(format!("{}/__mock/reset-day", server.root_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        post_chat(&server, Some("custom-key-9"), &body)
            .await
            .status(),
        200
    );

    server.add_key(MockKey::new(key(3), "a").no_credit());
    assert_eq!(post_chat(&server, Some(&key(3)), &body).await.status(), 402);
}

#[tokio::test]
async fn key_endpoint_counts_without_costing_quota() {
    let server = start(MockConfig::default().with_limits(5, 100)).await;
    let k = key(4);
    for _ in 0..3 {
        let v: Value = get_api(&server, "/key", Some(&k))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(v["data"]["free_model_daily_requests"]["used"], 0);
    }
    post_chat(&server, Some(&k), &chat_body("deepseek/deepseek-r1", "q")).await;
    let v: Value = get_api(&server, "/key", Some(&k))
        .await
        .json()
        .await
        .unwrap();
    let d = &v["data"];
    assert_eq!(
        d["free_model_daily_requests"],
        json!({"limit": 5, "used": 1, "remaining": 4})
    );
    assert!(d["usage"].as_f64().unwrap() > 0.0);
    assert_eq!(d["usage_daily"], d["usage"]);
    let label = d["label"].as_str().unwrap();
    assert!(label.starts_with("sk-or-v1-") && label.contains("..."));
    assert!(!v.to_string().contains(&k));
    assert_eq!(d["rate_limit"]["requests"], -1);
    assert_eq!(
        server.stats().total_requests,
        1,
        "/key is not a chat request"
    );
}

fn raw_get(addr: std::net::SocketAddr, path: &str) -> std::io::Result<String> {
    let mut s = std::net::TcpStream::connect(addr)?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

#[test]
fn start_blocking_serves_until_dropped() {
    let server = keywheel_mock::start_blocking(MockConfig::default()).unwrap();
    let addr = server.addr();
    assert!(addr.ip().is_loopback());
    assert_eq!(server.base_url(), format!("http://{addr}/api/v1"));
    let resp = raw_get(addr, "/api/v1/models").unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp:.80}");
    assert!(resp.contains("deepseek/deepseek-r1"));
    drop(server);
    assert!(
        raw_get(addr, "/api/v1/models").is_err(),
        "stopped after drop"
    );
}
