//! Authentication: 401 bodies, 402 / 403 keys, open mode.

use keywheel_mock::{MockConfig, MockKey};
use serde_json::Value;

use super::*;

#[tokio::test]
async fn unknown_and_missing_keys_get_401_reference_bodies() {
    let server = start(MockConfig::default().with_key(key(1), "a")).await;
    let body = chat_body("deepseek/deepseek-r1", "hi");

    let resp = post_chat(&server, Some(&key(2)), &body).await;
    assert_eq!(resp.status(), 401);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], 401);
    assert_eq!(v["error"]["message"], "User not found.");

    let resp = post_chat(&server, None, &body).await;
    assert_eq!(resp.status(), 401);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["message"], "Missing Authentication header");

    // The known key works.
    assert_eq!(post_chat(&server, Some(&key(1)), &body).await.status(), 200);

    // /key answers 401 for unknown keys too.
    assert_eq!(get_api(&server, "/key", Some(&key(2))).await.status(), 401);
}

#[tokio::test]
async fn open_mode_accepts_only_well_shaped_keys() {
    let server = start(MockConfig::default()).await;
    let body = chat_body("deepseek/deepseek-r1", "hi");
    assert_eq!(post_chat(&server, Some(&key(7)), &body).await.status(), 200);
    assert_eq!(post_chat(&server, Some(&key(8)), &body).await.status(), 200);
    let upper = key(7).to_uppercase();
    assert_eq!(post_chat(&server, Some(&upper), &body).await.status(), 401);
    assert_eq!(
        post_chat(&server, Some("sk-or-v1-short"), &body)
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn no_credit_is_402_and_spend_limited_is_403() {
    let server = start(
        MockConfig::default()
            .with_mock_key(MockKey::new(key(1), "a").no_credit())
            .with_mock_key(MockKey::new(key(2), "b").spend_limited()),
    )
    .await;
    let body = chat_body("deepseek/deepseek-r1", "hi");

    let resp = post_chat(&server, Some(&key(1)), &body).await;
    assert_eq!(resp.status(), 402);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], 402);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Insufficient credits")
    );
    assert!(v["user_id"].as_str().unwrap().starts_with("user_"));

    let resp = post_chat(&server, Some(&key(2)), &body).await;
    assert_eq!(resp.status(), 403);
    let v: Value = resp.json().await.unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Key limit exceeded (daily limit)")
    );

    // Neither counted toward the quota.
    let stats = server.stats();
    assert_eq!(stats.keys[&expected_key_id(&key(1))].served, 0);
    assert_eq!(stats.keys[&expected_key_id(&key(2))].served, 0);
    assert_eq!(stats.keys[&expected_key_id(&key(1))].status["402"], 1);

    // /key still answers for them; the spend-limited one shows its cap spent.
    let resp = get_api(&server, "/key", Some(&key(2))).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["data"]["limit_remaining"], 0.0);
    assert_eq!(v["data"]["limit_reset"], "daily");
}
