//! Per-account daily and per-minute limits.

use keywheel_mock::MockConfig;
use serde_json::Value;

use super::*;

#[allow(clippy::disallowed_methods)] // the mock's reset stamps are real epoch times
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn header(resp: &reqwest::Response, name: &str) -> String {
    resp.headers()
        .get(name)
        .unwrap_or_else(|| panic!("header {name} missing"))
        .to_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn daily_limit_gives_429_free_models_per_day_with_headers() {
    let server = start(MockConfig::default().with_limits(2, 100)).await;
    let k = key(1);
    let body = chat_body("deepseek/deepseek-r1-0528:free", "hello");
    for _ in 0..2 {
        assert_eq!(post_chat(&server, Some(&k), &body).await.status(), 200);
    }
    let before = now_ms();
    let resp = post_chat(&server, Some(&k), &body).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(header(&resp, "x-ratelimit-limit"), "2");
    assert_eq!(header(&resp, "x-ratelimit-remaining"), "0");
    let reset: i64 = header(&resp, "x-ratelimit-reset").parse().unwrap();
    assert_eq!(reset % 86_400_000, 0, "reset is a UTC midnight");
    assert!(reset > before && reset - before <= 86_400_000);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], 429);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("free-models-per-day")
    );
    let meta = &v["error"]["metadata"]["headers"];
    assert_eq!(meta["X-RateLimit-Limit"], "2");
    assert_eq!(meta["X-RateLimit-Remaining"], "0");
    assert_eq!(meta["X-RateLimit-Reset"], reset.to_string());

    // The 429 was not counted: still two served, one rate limited.
    let ks = &server.stats().keys[&expected_key_id(&k)];
    assert_eq!((ks.requests, ks.served, ks.rate_limited_429), (3, 2, 1));
    assert_eq!(ks.status["429"], 1);

    // /key reflects the account's count.
    let v: Value = get_api(&server, "/key", Some(&k))
        .await
        .json()
        .await
        .unwrap();
    let fmdr = &v["data"]["free_model_daily_requests"];
    assert_eq!(
        (fmdr["limit"].as_u64(), fmdr["used"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(fmdr["remaining"], 0);

    // A simulated UTC rollover frees the account again.
    server.reset_day();
    assert_eq!(post_chat(&server, Some(&k), &body).await.status(), 200);
}

#[tokio::test]
async fn keys_of_one_account_share_the_quota_other_accounts_do_not() {
    let server = start(
        MockConfig::default()
            .with_key(key(1), "acct-a")
            .with_key(key(2), "acct-a")
            .with_key(key(3), "acct-b")
            .with_limits(1, 100),
    )
    .await;
    let body = chat_body("deepseek/deepseek-r1", "q");
    assert_eq!(post_chat(&server, Some(&key(1)), &body).await.status(), 200);
    assert_eq!(post_chat(&server, Some(&key(2)), &body).await.status(), 429);
    assert_eq!(post_chat(&server, Some(&key(3)), &body).await.status(), 200);
    let stats = server.stats();
    assert_eq!(stats.accounts_daily_used["acct-a"], 1);
    assert_eq!(stats.accounts_daily_used["acct-b"], 1);
}

#[tokio::test]
async fn minute_limit_gives_429_free_models_per_min_with_retry_after() {
    let server = start(MockConfig::default().with_limits(100, 2)).await;
    let k = key(5);
    let body = chat_body("google/gemma-4-31b-it:free", "hello");
    assert_eq!(post_chat(&server, Some(&k), &body).await.status(), 200);
    assert_eq!(post_chat(&server, Some(&k), &body).await.status(), 200);
    let before = now_ms();
    let resp = post_chat(&server, Some(&k), &body).await;
    assert_eq!(resp.status(), 429);
    let retry: i64 = header(&resp, "retry-after").parse().unwrap();
    assert!((1..=60).contains(&retry), "retry-after {retry}");
    assert_eq!(header(&resp, "x-ratelimit-limit"), "2");
    let reset: i64 = header(&resp, "x-ratelimit-reset").parse().unwrap();
    assert!(reset > before - 1000 && reset <= before + 60_000);
    let v: Value = resp.json().await.unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("free-models-per-min")
    );
    assert_eq!(
        v["error"]["metadata"]["headers"]["X-RateLimit-Reset"],
        reset.to_string()
    );
    // Rejected minute requests do not eat the daily quota.
    let v: Value = get_api(&server, "/key", Some(&k))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["data"]["free_model_daily_requests"]["used"], 2);
}

#[tokio::test]
async fn rejected_auth_is_not_counted() {
    let server = start(
        MockConfig::default()
            .with_key(key(1), "a")
            .with_limits(1, 100),
    )
    .await;
    let body = chat_body("deepseek/deepseek-r1", "q");
    assert_eq!(post_chat(&server, Some(&key(9)), &body).await.status(), 401);
    assert_eq!(post_chat(&server, Some(&key(1)), &body).await.status(), 200);
    assert_eq!(server.stats().total_requests, 2);
}
