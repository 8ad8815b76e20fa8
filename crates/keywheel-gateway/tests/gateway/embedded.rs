//! The gateway embedded in another program (`keywheel_gateway::embedded`, the app's "Local
//! gateway" switch) for real: a pool on a temporary ledger, keywheel-mock as OpenRouter, the
//! switch started and stopped, its port and its rows.

use std::net::SocketAddr;
use std::sync::Arc;

use keywheel_core::keys::{KeyId, OsKeychain};
use keywheel_core::ledger::request_log::LogFilter;
use keywheel_core::pool::{Pool, PoolOptions};
use keywheel_core::{Settings, SystemClock};
use keywheel_gateway::GatewaySettings;
use keywheel_gateway::embedded::{self, Switch, mask_token};

use crate::common::http;

/// A pool on a temporary ledger with one made-up key, keywheel-mock as OpenRouter.
async fn pool_on_mock(dir: &std::path::Path) -> (Pool, keywheel_mock::MockServer, String) {
    let mock = keywheel_mock::MockServer::start(keywheel_mock::MockConfig::default())
        .await
        .unwrap();
    let key = format!("sk-or-v1-{}", "5a".repeat(32));
    let pool = Pool::open(PoolOptions {
        settings: Settings {
            data_dir: dir.join("data"),
            base_url: mock.base_url(),
            keychain: false,
            ..Settings::default()
        },
        clock: Arc::new(SystemClock),
        store: Arc::new(OsKeychain::disabled()),
        env_keys: Some(key.clone()),
    })
    .unwrap();
    (pool, mock, key)
}

fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// A session's request through the switch's gateway, the row labelled, the port closed
/// after stop and the label kept.
#[tokio::test(flavor = "multi_thread")]
async fn started_it_serves_a_session_labels_its_rows_and_stopped_it_closes_the_port() {
    let dir = tempfile::tempdir().unwrap();
    let (pool, mock, key) = pool_on_mock(dir.path()).await;
    let gw = Switch::default();
    assert!(!gw.status(&pool).await.running);
    assert!(gw.token().await.is_none(), "no token while stopped");
    let on = gw
        .start_at(&pool, GatewaySettings::default(), any_port())
        .await
        .unwrap();
    assert!(on.running);
    let addr: SocketAddr = on.addr.clone().unwrap().parse().unwrap();
    assert_eq!(on.base_url.as_deref(), Some(&*format!("http://{addr}/v1")));
    let token = gw.token().await.unwrap();
    assert!(keywheel_gateway::token::is_token_shaped(&token));
    assert_eq!(on.token_masked.unwrap(), mask_token(&token));
    let again = gw
        .start_at(&pool, GatewaySettings::default(), any_port())
        .await
        .unwrap();
    assert_eq!(again.addr, on.addr, "a second start changes nothing");

    let http = http();
    let res = http
        .post(format!("http://{addr}/v1/chat/completions"))
        .bearer_auth(token.as_str())
        .header("X-Keywheel-Session", "unit-script")
        .json(&serde_json::json!({
            "model": "keywheel/chat",
            "messages": [{"role": "user", "content": "hello"}],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    let sessions = gw.status(&pool).await.sessions;
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert_eq!(sessions[0].id, "unit-script");
    assert_eq!(
        sessions[0].key_id.as_ref().map(|k| k.to_string()),
        Some(KeyId::of(&key).to_string())
    );

    gw.stop(&pool).await.unwrap();
    assert!(!gw.status(&pool).await.running);
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "the port is closed once stopped"
    );
    assert!(
        embedded::sessions(&pool).is_empty(),
        "the session's instance ended with the gateway"
    );
    let rows = pool.ledger().request_log(&LogFilter::default()).unwrap();
    let labelled = gw.label(&pool, rows);
    assert_eq!(labelled.len(), 1, "one request: {labelled:?}");
    assert_eq!(labelled[0].row.via.as_deref(), Some("gateway"));
    assert_eq!(labelled[0].row.session.as_deref(), Some("unit-script"));
    assert_eq!(mock.stats().total_requests, 1);
    let json = serde_json::to_value(&labelled[0]).unwrap();
    assert_eq!(json["via"], "gateway", "flattened beside the row: {json}");
    assert!(json["instance_id"].is_string(), "{json}");
}

/// `/health` answers while it is on; a second start (even asked for another address) changes
/// nothing and the first keeps serving; stopped, the port is free for anyone to bind, and a
/// second stop is harmless.
#[tokio::test(flavor = "multi_thread")]
async fn start_health_answers_a_second_start_changes_nothing_and_stop_frees_the_port() {
    let dir = tempfile::tempdir().unwrap();
    let (pool, mock, _key) = pool_on_mock(dir.path()).await;
    let gw = Switch::default();
    let on = gw
        .start_at(&pool, GatewaySettings::default(), any_port())
        .await
        .unwrap();
    let addr: SocketAddr = on.addr.clone().unwrap().parse().unwrap();
    let health = http()
        .get(format!("http://{addr}/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200, "/health answers without a token");

    let elsewhere = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let other = elsewhere.local_addr().unwrap();
    drop(elsewhere);
    let again = gw
        .start_at(&pool, GatewaySettings::default(), other)
        .await
        .unwrap();
    assert_eq!(again.addr, on.addr, "still the first address");
    assert!(again.running);
    assert!(
        std::net::TcpStream::connect(other).is_err(),
        "nothing listens on the address of the refused second start"
    );
    let health = http()
        .get(format!("http://{addr}/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200, "the first gateway still serves");

    let off = gw.stop(&pool).await.unwrap();
    assert!(!off.running);
    assert_eq!(
        (off.addr, off.base_url, off.token_masked, off.token_store),
        (None, None, None, None),
        "a stopped gateway shows no address and no token"
    );
    let rebound = std::net::TcpListener::bind(addr);
    assert!(
        rebound.is_ok(),
        "the port is free once stopped: {rebound:?}"
    );
    drop(rebound);
    assert!(
        !gw.stop(&pool).await.unwrap().running,
        "a second stop is harmless"
    );
    assert!(gw.token().await.is_none());
    assert_eq!(mock.stats().total_requests, 0, "/health spends nothing");
}

/// A port another program holds: the start fails with the sentence that says what to do,
/// and the switch stays off (a later start on a free port works).
#[tokio::test(flavor = "multi_thread")]
async fn a_taken_port_fails_the_start_with_a_sentence_and_the_switch_stays_off() {
    let dir = tempfile::tempdir().unwrap();
    let (pool, _mock, _key) = pool_on_mock(dir.path()).await;
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = held.local_addr().unwrap();
    let gw = Switch::default();
    let e = gw
        .start_at(&pool, GatewaySettings::default(), addr)
        .await
        .unwrap_err();
    assert_eq!(e.code(), keywheel_core::ErrorCode::Usage);
    assert!(e.to_string().contains("already in use"), "{e}");
    assert!(e.to_string().contains(&addr.to_string()), "{e}");
    assert!(!gw.status(&pool).await.running);
    let on = gw
        .start_at(&pool, GatewaySettings::default(), any_port())
        .await
        .unwrap();
    assert!(on.running, "a later start on a free port works");
    gw.stop(&pool).await.unwrap();
}
