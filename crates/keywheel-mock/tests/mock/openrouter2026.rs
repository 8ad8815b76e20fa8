//! Today's OpenRouter: a catalogue snapshot with strict model ids (both unknown-id 400 shapes),
//! accounts without credits (402 on paid models only), the 402 kinds, tier-2 accounts, `/key`
//! counted per account, `user_id` in error bodies, and a stream error limited to one model.

use keywheel_mock::{Faults, MockConfig, MockKey, NoCreditsBody, UnknownModelShape};
use serde_json::{Value, json};

use super::*;

const SNAPSHOT: &str = include_str!("../../fixtures/openrouter/models-2026-08.json");
const NONE_PREFERRED: &str = include_str!("../../fixtures/openrouter/models-none-preferred.json");
const ONE_PX_PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

fn ids(json: &str) -> Vec<(String, Value)> {
    let v: Value = serde_json::from_str(json).unwrap();
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["id"].as_str().unwrap().to_string(), m.clone()))
        .collect()
}

fn is_free(m: &Value) -> bool {
    m["id"].as_str().unwrap().ends_with(":free")
        || (m["pricing"]["prompt"] == "0" && m["pricing"]["completion"] == "0")
}

fn takes_images(m: &Value) -> bool {
    m["architecture"]["input_modalities"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x == "image")
}

fn image_body(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": [
        {"type": "text", "text": "read"},
        {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{ONE_PX_PNG}")}}]}]})
}

fn snapshot() -> MockConfig {
    MockConfig::default().with_catalog_json(SNAPSHOT)
}

#[test]
fn fixtures_have_the_models_the_core_tests_rely_on() {
    let snap = ids(SNAPSHOT);
    let has = |id: &str| snap.iter().find(|(i, _)| i == id).map(|(_, m)| m);
    assert!(has("meta-llama/llama-3.2-90b-vision-instruct").is_none());
    assert!(has("meta-llama/llama-3.2-11b-vision-instruct").is_none());
    let r1 = has("deepseek/deepseek-r1-0528").expect("R1 0528 listed");
    assert!(!is_free(r1), "R1 0528 is paid");
    assert!(
        !snap
            .iter()
            .any(|(i, _)| i.contains("deepseek-r1") && i.ends_with(":free"))
    );
    let free_vision: Vec<&String> = snap
        .iter()
        .filter(|(i, m)| i.ends_with(":free") && takes_images(m))
        .map(|(i, _)| i)
        .collect();
    assert!(free_vision.len() >= 2, "{free_vision:?}");
    assert!(is_free(has("openrouter/free").unwrap()));

    let none = ids(NONE_PREFERRED);
    for gone in [
        "meta-llama/llama-3.2-90b-vision-instruct",
        "meta-llama/llama-3.2-11b-vision-instruct",
        "qwen/qwen2.5-vl-72b-instruct",
        "deepseek/deepseek-r1-0528",
        "deepseek/deepseek-r1",
    ] {
        assert!(!none.iter().any(|(i, _)| i == gone), "{gone} listed");
    }
    assert!(none.iter().any(|(_, m)| is_free(m) && takes_images(m)));
    assert!(none.iter().any(|(i, m)| {
        is_free(m)
            && i != "openrouter/free"
            && m["supported_parameters"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p == "reasoning")
    }));
}

#[tokio::test]
async fn catalogue_is_served_verbatim_and_drives_vision_and_prices() {
    let server = start(snapshot()).await;
    let resp = get_api(&server, "/models", None).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), SNAPSHOT);

    // A free image model reads images and costs nothing.
    let resp = post_chat(
        &server,
        Some(&key(1)),
        &image_body("google/gemma-4-31b-it:free"),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["model"], "google/gemma-4-31b-it:free");
    assert_eq!(v["usage"]["cost"], 0.0);
    // A text-only model of the snapshot refuses images; a paid one costs something.
    let resp = post_chat(
        &server,
        Some(&key(1)),
        &image_body("deepseek/deepseek-r1-0528"),
    )
    .await;
    assert_eq!(resp.status(), 404);
    let v: Value = post_chat(
        &server,
        Some(&key(1)),
        &chat_body("deepseek/deepseek-r1-0528", "q"),
    )
    .await
    .json()
    .await
    .unwrap();
    assert!(v["usage"]["cost"].as_f64().unwrap() > 0.0);
    assert!(v["choices"][0]["message"]["reasoning"].is_string());

    // The free router answers with a free model that takes images.
    let v: Value = post_chat(&server, Some(&key(1)), &image_body("openrouter/free"))
        .await
        .json()
        .await
        .unwrap();
    let answered = v["model"].as_str().unwrap().to_string();
    let (_, m) = ids(SNAPSHOT)
        .into_iter()
        .find(|(i, _)| *i == answered)
        .unwrap();
    assert!(
        is_free(&m) && takes_images(&m) && !answered.contains("safety"),
        "{answered}"
    );
}

#[tokio::test]
async fn unknown_ids_get_the_plain_400_with_the_account_user_id() {
    let server = start(snapshot().with_key(key(1), "acct").with_key(key(2), "acct")).await;
    let resp = post_chat(
        &server,
        Some(&key(1)),
        &chat_body("meta-llama/llama-3.2-90b-vision-instruct", "q"),
    )
    .await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v["error"]["message"],
        "meta-llama/llama-3.2-90b-vision-instruct is not a valid model ID"
    );
    assert_eq!(v["error"]["code"], 400);
    assert!(v["error"].get("availability").is_none());
    let uid = v["user_id"].as_str().unwrap().to_string();
    assert!(uid.starts_with("user_"));
    // Not counted toward the quota.
    assert_eq!(server.stats().keys[&expected_key_id(&key(1))].served, 0);

    // Another key of the same account: same user_id.
    let v: Value = post_chat(&server, Some(&key(2)), &chat_body("nope/nope", "q"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["user_id"], uid.as_str());
}

#[tokio::test]
async fn availability_and_alternate_shapes() {
    let server = start(snapshot().with_unknown_model_shape(UnknownModelShape::Availability)).await;
    let v: Value = post_chat(&server, Some(&key(1)), &chat_body("acme/fake-1.0", "q"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        v["error"]["message"],
        "acme/fake-1.0 is not a valid model ID"
    );
    assert_eq!(v["error"]["http_status"], 400);
    let a = &v["error"]["availability"];
    assert_eq!(a["code"], "model_not_found");
    assert_eq!(a["retryable"], false);
    assert_eq!(a["requested_models"], json!(["acme/fake-1.0"]));
    assert!(v["user_id"].as_str().unwrap().starts_with("user_"));

    let server = start(snapshot().with_unknown_model_shape(UnknownModelShape::Alternate)).await;
    let mut shapes = Vec::new();
    for _ in 0..4 {
        let resp = post_chat(&server, Some(&key(1)), &chat_body("acme/fake-1.0", "q")).await;
        assert_eq!(resp.status(), 400);
        let v: Value = resp.json().await.unwrap();
        shapes.push(v["error"].get("availability").is_some());
    }
    assert_eq!(shapes, vec![false, true, false, true]);
}

#[tokio::test]
async fn fallback_list_routes_to_the_first_listed_id() {
    let server = start(snapshot()).await;
    let body = json!({"model": "meta-llama/llama-3.2-90b-vision-instruct",
        "models": ["meta-llama/llama-3.2-11b-vision-instruct", "nvidia/nemotron-nano-12b-v2-vl:free",
                   "google/gemma-4-31b-it:free"],
        "messages": [{"role": "user", "content": "hi"}]});
    let resp = post_chat(&server, Some(&key(1)), &body).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["model"], "nvidia/nemotron-nano-12b-v2-vl:free");
    // None listed: the 400 names the first.
    let body =
        json!({"model": "a/x", "models": ["b/y"], "messages": [{"role": "user", "content": "hi"}]});
    let v: Value = post_chat(&server, Some(&key(1)), &body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["error"]["message"], "a/x is not a valid model ID");

    // --strict-models with the built-in catalogue.
    let server = start(MockConfig::default().with_strict_models(true)).await;
    assert_eq!(
        post_chat(&server, Some(&key(1)), &chat_body("acme/fake", "q"))
            .await
            .status(),
        400
    );
    assert_eq!(
        post_chat(
            &server,
            Some(&key(1)),
            &chat_body("deepseek/deepseek-r1", "q")
        )
        .await
        .status(),
        200
    );
}

#[tokio::test]
async fn no_credits_refuses_paid_models_only() {
    let server = start(snapshot().with_no_credits().with_key(key(1), "poor")).await;
    let resp = post_chat(
        &server,
        Some(&key(1)),
        &chat_body("deepseek/deepseek-r1-0528", "hi"),
    )
    .await;
    assert_eq!(resp.status(), 402);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], 402);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Insufficient credits. This account never purchased credits.")
    );
    assert!(v["user_id"].as_str().unwrap().starts_with("user_"));
    // The same key keeps working on free models, zero-priced routers included.
    for model in ["google/gemma-4-31b-it:free", "openrouter/free"] {
        assert_eq!(
            post_chat(&server, Some(&key(1)), &chat_body(model, "hi"))
                .await
                .status(),
            200,
            "{model}"
        );
    }
    // The 402 was not counted; the two free answers were.
    let ks = &server.stats().keys[&expected_key_id(&key(1))];
    assert_eq!((ks.served, ks.status["402"]), (2, 1));

    // The other real body, with limit_source.
    let server = start(
        snapshot()
            .with_no_credits()
            .with_no_credits_body(NoCreditsBody::LimitSource),
    )
    .await;
    let v: Value = post_chat(
        &server,
        Some(&key(1)),
        &chat_body("deepseek/deepseek-r1", "hi"),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(v["error"]["metadata"]["limit_source"], "openrouter_credits");
}

#[tokio::test]
async fn per_key_no_paid_credits_and_tier2_accounts() {
    let server = start(
        snapshot()
            .with_mock_key(MockKey::new(key(1), "poor").no_paid_credits())
            .with_key(key(2), "rich")
            .with_key(key(3), "tier2")
            .with_tier2_account("tier2"),
    )
    .await;
    let r1 = chat_body("deepseek/deepseek-r1-0528", "hi");
    assert_eq!(post_chat(&server, Some(&key(1)), &r1).await.status(), 402);
    assert_eq!(post_chat(&server, Some(&key(2)), &r1).await.status(), 200);
    assert_eq!(post_chat(&server, Some(&key(3)), &r1).await.status(), 200);

    // --no-credits spares tier-2 accounts.
    let server = start(
        snapshot()
            .with_no_credits()
            .with_key(key(3), "tier2")
            .with_tier2_account("tier2"),
    )
    .await;
    assert_eq!(post_chat(&server, Some(&key(3)), &r1).await.status(), 200);
}

#[tokio::test]
async fn in_flight_402_waits_then_succeeds_and_spares_free_models() {
    let server = start(snapshot().with_faults(Faults {
        in_flight_402: 2,
        ..Faults::default()
    }))
    .await;
    let paid = chat_body("deepseek/deepseek-r1-0528", "hi");
    // Free models are exempt and do not use up the fault.
    assert_eq!(
        post_chat(
            &server,
            Some(&key(1)),
            &chat_body("google/gemma-4-31b-it:free", "hi")
        )
        .await
        .status(),
        200
    );
    for _ in 0..2 {
        let resp = post_chat(&server, Some(&key(1)), &paid).await;
        assert_eq!(resp.status(), 402);
        assert_eq!(resp.headers()["retry-after"], "1");
        let v: Value = resp.json().await.unwrap();
        let meta = &v["error"]["metadata"];
        assert_eq!(meta["reason"], "in_flight_budget_exhausted");
        assert_eq!(meta["limit_source"], "openrouter_in_flight_budget");
        assert_eq!(meta["headers"]["Retry-After"], "1");
        assert!(v["user_id"].as_str().unwrap().starts_with("user_"));
    }
    assert_eq!(post_chat(&server, Some(&key(1)), &paid).await.status(), 200);
}

#[tokio::test]
async fn weight_and_key_limit_402s_over_http() {
    let server = start(snapshot()).await;
    let resp = client()
        .post(format!("{}/__mock/faults", server.root_url()))
        .json(&json!({"weight_402": 1, "key_limit_402": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let paid = chat_body("deepseek/deepseek-r1", "hi");
    let v: Value = post_chat(&server, Some(&key(1)), &paid)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        v["error"]["metadata"]["limit_source"],
        "openrouter_key_limit"
    );
    let v: Value = post_chat(&server, Some(&key(1)), &paid)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["error"]["metadata"]["reason"], "weight_exceeds_budget");
    assert_eq!(v["error"]["code"], 402);
    assert_eq!(post_chat(&server, Some(&key(1)), &paid).await.status(), 200);
}

#[tokio::test]
async fn key_reports_free_model_daily_requests_per_account() {
    let server = start(
        snapshot()
            .with_key(key(1), "a")
            .with_key(key(2), "a")
            .with_key(key(3), "t2")
            .with_tier2_account("t2")
            .with_account_used("a", 7),
    )
    .await;
    let free = chat_body("google/gemma-4-31b-it:free", "hi");
    assert_eq!(post_chat(&server, Some(&key(1)), &free).await.status(), 200);
    let v: Value = get_api(&server, "/key", Some(&key(2)))
        .await
        .json()
        .await
        .unwrap();
    let d = &v["data"];
    assert_eq!(
        d["free_model_daily_requests"],
        json!({"limit": 50, "used": 8, "remaining": 42})
    );
    // Account "a" can buy paid models (no --no-credits): it bought some credits, below tier 2.
    assert_eq!(d["is_free_tier"], false);
    let a_user = d["creator_user_id"].as_str().unwrap().to_string();

    // Used elsewhere: the control endpoint raises the count.
    let resp = client()
        .post(format!("{}/__mock/accounts/used", server.root_url()))
        .json(&json!({"account": "a", "used": 30}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = get_api(&server, "/key", Some(&key(1)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["data"]["free_model_daily_requests"]["used"], 30);
    server.set_account_used("a", 50);
    assert_eq!(post_chat(&server, Some(&key(1)), &free).await.status(), 429);

    // Tier 2: 1000 a day, credits, not the free tier, its own user id.
    let v: Value = get_api(&server, "/key", Some(&key(3)))
        .await
        .json()
        .await
        .unwrap();
    let d = &v["data"];
    assert_eq!(
        d["free_model_daily_requests"],
        json!({"limit": 1000, "used": 0, "remaining": 1000})
    );
    assert_eq!(d["is_free_tier"], false);
    assert!(d["limit_remaining"].as_f64().unwrap() > 0.0);
    assert_ne!(d["creator_user_id"], a_user.as_str());

    // An account without credits reports the free tier.
    let server = start(snapshot().with_no_credits()).await;
    let v: Value = get_api(&server, "/key", Some(&key(9)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["data"]["is_free_tier"], true);
}

#[tokio::test]
async fn stream_error_limited_to_one_model_costs_a_counted_request() {
    let failing = "google/gemma-4-31b-it:free";
    let server = start(snapshot().with_faults(Faults {
        error_in_200_models: vec![failing.to_string()],
        ..Faults::default()
    }))
    .await;
    let stream = |model: &str| {
        json!({"model": model, "stream": true,
               "messages": [{"role": "user", "content": "tell me a long story please"}]})
    };
    let text = post_chat(&server, Some(&key(1)), &stream(failing))
        .await
        .text()
        .await
        .unwrap();
    let chunks = json_chunks(&parse_sse(&text));
    let last = chunks.last().unwrap();
    assert_eq!(last["error"]["code"], 502);
    assert_eq!(last["choices"][0]["finish_reason"], "error");
    assert!(
        chunks[..chunks.len() - 1]
            .iter()
            .any(|c| c["choices"][0]["delta"]["content"]
                .as_str()
                .is_some_and(|s| !s.is_empty())),
        "some tokens came first"
    );
    assert!(!text.contains("[DONE]"));
    // Non-stream answers of that model fail too; another model is healthy.
    let v: Value = post_chat(&server, Some(&key(1)), &chat_body(failing, "q"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["error"]["code"], 502);
    let text = post_chat(
        &server,
        Some(&key(1)),
        &stream("nvidia/nemotron-nano-12b-v2-vl:free"),
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(text.contains("[DONE]") && !text.contains("\"finish_reason\":\"error\""));
    // Every one reached the model and was counted.
    assert_eq!(server.stats().keys[&expected_key_id(&key(1))].served, 3);
}

#[tokio::test]
async fn a_bad_catalogue_is_refused_at_start() {
    let err = keywheel_mock::MockServer::start(MockConfig::default().with_catalog_json("[1]"))
        .await
        .expect_err("not a /models answer");
    assert!(err.to_string().contains("data"), "{err}");
}
