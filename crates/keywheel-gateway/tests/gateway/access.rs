//! Access: the local token, OpenRouter keys refused as bearers, loopback only by default,
//! `/health` open, errors in OpenAI's shape with the overhead header.

use keywheel_gateway::GatewaySettings;
use keywheel_mock::MockConfig;
use serde_json::Value;

use crate::common::{World, chat_body, get_json, http, key};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_token_is_required_and_an_openrouter_key_is_refused_never_forwarded() {
    let w = World::new(1, 50, MockConfig::default());
    let gw = w.gateway(GatewaySettings::default()).await;
    let url = format!("{}/chat/completions", gw.base_url());
    let c = http();

    let health = c
        .get(format!("http://{}/health", gw.addr()))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert!(health.headers().contains_key("x-keywheel-overhead-us"));
    assert_eq!(
        health.json::<Value>().await.unwrap(),
        serde_json::json!({"status": "ok"})
    );

    let none = c
        .post(&url)
        .json(&chat_body("hi", false))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 401);
    assert!(none.headers().contains_key("x-keywheel-overhead-us"));
    let body: Value = none.json().await.unwrap();
    assert_eq!(body["error"]["type"], "authentication_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("keywheel serve --token")
    );

    let wrong = c
        .post(&url)
        .bearer_auth(format!("kw-{}", "0".repeat(64)))
        .json(&chat_body("hi", false))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);

    // A real pool key presented as the bearer: refused with a sentence, never sent upstream.
    for k in [w.keys[0].clone(), key(9)] {
        let r = c
            .post(&url)
            .bearer_auth(&k)
            .json(&chat_body("hi", false))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        let text = r.text().await.unwrap();
        assert!(text.contains("that is an OpenRouter key"), "{text}");
        assert!(text.contains("local token"), "{text}");
        assert!(!text.contains(&k[10..]), "the key is not echoed");
    }
    let models = c
        .get(format!("{}/models", gw.base_url()))
        .bearer_auth(&w.keys[0])
        .send()
        .await
        .unwrap();
    assert_eq!(models.status(), 401);
    assert_eq!(w.mock.stats().total_requests, 0, "nothing reached the mock");

    let ok = c
        .post(&url)
        .bearer_auth(gw.token().expose())
        .json(&chat_body("hi", false))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(w.mock.stats().total_requests, 1);

    // Bad input: 400 in OpenAI's shape, no quota spent.
    let bad = c
        .post(&url)
        .bearer_auth(gw.token().expose())
        .header("content-type", "application/json")
        .body("{\"messages\": 3}")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.headers().contains_key("x-keywheel-overhead-us"));
    let body: Value = bad.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_eq!(body["error"]["code"], "bad_input");
    assert_eq!(w.mock.stats().total_requests, 1);

    // An explicit id the catalogue does not have: 400 with the core's sentence, nothing sent.
    let unknown = c
        .post(&url)
        .bearer_auth(gw.token().expose())
        .json(&serde_json::json!({"model": "nobody/no-such-model", "messages": [{"role": "user", "content": "x"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 400, "{:?}", unknown.text().await);
    assert_eq!(w.mock.stats().total_requests, 1);

    // The models list carries the two aliases and the catalogue.
    let list = get_json(&format!("{}/models", gw.base_url()), gw.token().expose()).await;
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert_eq!(&ids[..2], ["keywheel/chat", "keywheel/vision"]);
    assert!(ids.len() > 4, "{ids:?}");
    gw.shutdown().await.unwrap();
}

#[test]
fn serve_token_prints_one_word_and_non_loopback_needs_the_flag() {
    let w = World::new(1, 50, MockConfig::default());
    let out = w.cmd(&["serve", "--token"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let token = text.trim_end_matches('\n');
    assert!(!token.contains(char::is_whitespace), "{text:?}");
    assert!(keywheel_gateway::token::is_token_shaped(token), "{text:?}");
    assert_eq!(w.token(), token, "the same token on every call");
    let file = w.data_dir().join(keywheel_gateway::token::FILE_NAME);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "no keychain: a 0600 file");
    }

    for addr in ["0.0.0.0:0", "192.0.2.1:8377"] {
        let out = w.cmd(&["serve", "--addr", addr]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{addr}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("not a loopback address"), "{err}");
        assert!(err.contains("--allow-remote"), "{err}");
        assert!(out.stdout.is_empty());
    }
    assert_eq!(w.mock.stats().total_requests, 0);
}
