//! Sessions: concurrent clients exact to the caps, the rotation rule at each session's first
//! request, idle expiry.

use std::time::Duration;

use keywheel_gateway::GatewaySettings;
use keywheel_mock::MockConfig;
use serde_json::Value;

use crate::common::{World, chat_body, eventually, get_json, http};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_concurrent_session_clients_spend_exactly_the_caps_and_never_see_an_upstream_429() {
    // 3 keys x 5 a day = 15 requests of quota; 8 clients x 4 asks = 32 attempts.
    let w = World::new(3, 5, MockConfig::default());
    let gw = w.gateway(GatewaySettings::default()).await;
    let url = format!("{}/chat/completions", gw.base_url());
    let token = gw.token().expose().to_string();
    let tasks: Vec<_> = (0..8)
        .map(|n| {
            let (url, token) = (url.clone(), token.clone());
            tokio::spawn(async move {
                let c = http();
                let mut codes = Vec::new();
                for i in 0..4 {
                    let r = c
                        .post(&url)
                        .bearer_auth(&token)
                        .header("x-keywheel-session", format!("client-{n}"))
                        .json(&chat_body(&format!("client {n} question {i}"), i % 2 == 1))
                        .send()
                        .await
                        .unwrap();
                    let status = r.status().as_u16();
                    if status == 429 {
                        let retry: u64 = r.headers()["retry-after"]
                            .to_str()
                            .unwrap()
                            .parse()
                            .unwrap();
                        assert!(retry >= 1);
                        let body: Value = r.json().await.unwrap();
                        assert_eq!(body["error"]["code"], "quota_exhausted");
                        let msg = body["error"]["message"].as_str().unwrap().to_string();
                        assert!(msg.contains("frees at"), "{msg}");
                    } else {
                        let text = r.text().await.unwrap();
                        assert!(text.contains("You asked:"), "{text}");
                    }
                    codes.push(status);
                }
                codes
            })
        })
        .collect();
    let mut codes = Vec::new();
    for t in tasks {
        codes.extend(t.await.unwrap());
    }
    assert_eq!(codes.len(), 32);
    assert_eq!(codes.iter().filter(|c| **c == 200).count(), 15, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| **c == 429).count(), 17, "{codes:?}");
    let stats = w.mock.stats();
    for k in &w.keys {
        let s = &stats.keys[&keywheel_mock::key_id(k)];
        assert_eq!(
            (s.requests, s.served, s.rate_limited_429),
            (5, 5, 0),
            "{s:?}"
        );
    }
    assert!(w.inconsistencies().is_empty());
    assert_eq!(gw.session_count(), 8);
    gw.shutdown().await.unwrap();
}

async fn ask(url: &str, token: &str, session: &str) -> String {
    let r = http()
        .post(url)
        .bearer_auth(token)
        .header("x-keywheel-session", session)
        .json(&chat_body(&format!("from {session}"), false))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.headers()["x-keywheel-key-id"]
        .to_str()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_session_applies_the_rotation_rule_at_its_first_request_and_keeps_its_key() {
    let mut w = World::new(3, 50, MockConfig::default());
    w.rotate_after = 2;
    let gw = w.gateway(GatewaySettings::default()).await;
    let url = format!("{}/chat/completions", gw.base_url());
    let token = gw.token().expose().to_string();

    let a = ask(&url, &token, "a").await;
    assert_eq!(ask(&url, &token, "a").await, a);
    assert_eq!(
        ask(&url, &token, "a").await,
        a,
        "3 requests today on a's key"
    );
    // b starts while the current key has more than 2 today: it rotates.
    let b = ask(&url, &token, "b").await;
    assert_ne!(b, a, "the new session rotated");
    assert_eq!(
        ask(&url, &token, "a").await,
        a,
        "a running session keeps its key"
    );
    // c starts while b's key (now current) has 1 today: it adopts it.
    let c = ask(&url, &token, "c").await;
    assert_eq!(c, b);

    let status = get_json(&format!("{}/keywheel/status", gw.base_url()), &token).await;
    let sessions = status["gateway"]["sessions"].as_array().unwrap();
    let rotated: Vec<(&str, bool)> = sessions
        .iter()
        .map(|s| (s["id"].as_str().unwrap(), s["rotated"].as_bool().unwrap()))
        .collect();
    assert_eq!(rotated, [("a", false), ("b", true), ("c", false)]);
    let kinds: Vec<&str> = status["instances"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"gateway-session:b"), "{kinds:?}");
    assert!(kinds.contains(&"gateway"), "{kinds:?}");
    gw.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_session_expires_and_its_id_starts_a_new_instance() {
    let w = World::new(2, 50, MockConfig::default());
    let gw = w
        .gateway(GatewaySettings {
            session_idle: Duration::from_millis(300),
            ..GatewaySettings::default()
        })
        .await;
    let url = format!("{}/chat/completions", gw.base_url());
    let token = gw.token().expose().to_string();
    let pool = w.pool();
    // The instance that sent the newest request, from its row (which outlives the session).
    let sender = |p: &keywheel_core::pool::Pool| {
        let rows = p
            .ledger()
            .request_log(&keywheel_core::ledger::request_log::LogFilter::default())
            .unwrap();
        assert_eq!(rows[0].session.as_deref(), Some("sleepy"), "{rows:?}");
        rows[0].instance_id.clone()
    };
    let live = |p: &keywheel_core::pool::Pool| {
        p.status()
            .unwrap()
            .instances
            .iter()
            .filter(|i| i.kind == "gateway-session:sleepy")
            .map(|i| i.id.clone())
            .collect::<Vec<_>>()
    };
    ask(&url, &token, "sleepy").await;
    let first = sender(&pool);
    eventually(Duration::from_secs(20), async || {
        (gw.session_count() == 0).then_some(())
    })
    .await;
    // The session leaves the table first; its instance is deregistered a moment later, off the
    // async workers. Waiting for it (and failing after the limit) keeps the check honest.
    eventually(Duration::from_secs(20), async || {
        (!live(&pool).contains(&first)).then_some(())
    })
    .await;
    ask(&url, &token, "sleepy").await;
    let second = sender(&pool);
    assert_ne!(first, second, "a new instance for the same id");
    gw.shutdown().await.unwrap();
}
