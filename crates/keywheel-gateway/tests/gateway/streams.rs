//! Streams: a client that goes away cancels the upstream request (still counted); SIGTERM
//! mid-stream lets the answer finish and loses no ledger row.

use std::time::Duration;

use keywheel_core::ledger::request_log::LogFilter;
use keywheel_gateway::GatewaySettings;
use keywheel_mock::{MockConfig, ScriptedResponse};
use serde_json::json;

use crate::common::{World, chat_body, eventually, http};

/// An upstream SSE answer of `n` content events (the mock writes one every few ms).
fn long_stream(n: usize) -> ScriptedResponse {
    let mut body = String::new();
    for i in 0..n {
        let chunk = json!({"id": "gen-long", "model": "deepseek/deepseek-r1-0528:free",
            "choices": [{"index": 0, "delta": {"content": format!("w{i} ")}}]});
        body.push_str(&format!("data: {chunk}\n\n"));
    }
    let fin = json!({"id": "gen-long", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": n, "total_tokens": n + 3, "cost": 0}});
    body.push_str(&format!("data: {fin}\n\ndata: [DONE]\n\n"));
    ScriptedResponse::sse(body)
}

fn rows(w: &World) -> Vec<keywheel_core::ledger::request_log::RequestRow> {
    w.pool()
        .ledger()
        .request_log(&LogFilter {
            limit: 100,
            ..LogFilter::default()
        })
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_disconnects_mid_stream_cancels_the_upstream_request() {
    let w = World::new(1, 50, MockConfig::default());
    let gw = w.gateway(GatewaySettings::default()).await;
    w.mock.script(vec![long_stream(3000)]);
    let mut resp = http()
        .post(format!("{}/chat/completions", gw.base_url()))
        .bearer_auth(gw.token().expose())
        .json(&chat_body("a long one", true))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let first = resp.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).starts_with("data: "));
    drop(resp);
    // The row is completed as cancelled long before the 3000-event answer could have ended.
    let row = eventually(Duration::from_secs(8), async || {
        rows(&w)
            .into_iter()
            .find(|r| r.state != keywheel_core::ledger::RequestState::Reserved)
    })
    .await;
    assert_eq!(row.state.as_str(), "failed", "{row:?}");
    assert_eq!(
        row.status_class.as_ref().map(|c| c.as_str()),
        Some("cancelled"),
        "{row:?}"
    );
    assert!(!row.cached);
    let today = w
        .pool()
        .ledger()
        .requests_today(
            &keywheel_core::KeyId::from_stored(&row.key_id),
            w.pool().now(),
        )
        .unwrap();
    assert_eq!(today, 1, "what was sent stays counted");
    assert!(w.inconsistencies().is_empty());
    gw.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_stream_finishes_the_answer_exits_0_and_loses_no_ledger_row() {
    let w = World::new(2, 50, MockConfig::default());
    let served = w.serve();
    w.mock.script(vec![long_stream(300)]);
    let mut resp = http()
        .post(format!("{}/chat/completions", served.base()))
        .bearer_auth(&served.token)
        .json(&chat_body("a long one", true))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut text = String::from_utf8_lossy(&resp.chunk().await.unwrap().unwrap()).to_string();
    let token = served.token.clone();
    let base = served.base();
    let stopper = std::thread::spawn(move || served.terminate());
    while let Some(c) = resp.chunk().await.unwrap() {
        text.push_str(&String::from_utf8_lossy(&c));
    }
    let (status, _out, err) = stopper.join().unwrap();
    assert!(status.success(), "exit {status:?}; stderr:\n{err}");
    assert!(text.contains("w299 "), "the answer in flight finished");
    assert!(
        text.ends_with("data: [DONE]\n\n"),
        "{}",
        &text[text.len().saturating_sub(300)..]
    );
    assert!(err.contains("stopped"), "{err}");
    // No new connections after the stop.
    assert!(
        http()
            .get(format!("{base}/models"))
            .bearer_auth(&token)
            .send()
            .await
            .is_err()
    );
    let rows = rows(&w);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].state.as_str(), "done", "{:?}", rows[0]);
    assert!(w.inconsistencies().is_empty());
    let status = w.pool().status().unwrap();
    assert!(
        status
            .instances
            .iter()
            .all(|i| !i.kind.starts_with("gateway")),
        "the gateway's instance deregistered: {:?}",
        status.instances
    );
}
