//! Non-stream chat answers, fallbacks, `/generation` and `/models`.

use keywheel_mock::MockConfig;
use serde_json::{Value, json};

use super::*;

fn is_generation_id(id: &str) -> bool {
    let parts: Vec<&str> = id.splitn(3, '-').collect();
    parts.len() == 3
        && parts[0] == "gen"
        && !parts[1].is_empty()
        && parts[1].bytes().all(|b| b.is_ascii_digit())
        && parts[2].len() == 20
        && parts[2].bytes().all(|b| b.is_ascii_alphanumeric())
}

#[tokio::test]
async fn r1_non_stream_answer_has_reference_shape() {
    let server = start(MockConfig::default()).await;
    let resp = post_chat(
        &server,
        Some(&key(1)),
        &chat_body("deepseek/deepseek-r1", "Which is bigger, 9.11 or 9.9?"),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let gen_header = resp.headers()["x-generation-id"]
        .to_str()
        .unwrap()
        .to_string();
    let v: Value = resp.json().await.unwrap();
    let id = v["id"].as_str().unwrap();
    assert!(is_generation_id(id), "{id}");
    assert_eq!(id, gen_header);
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "deepseek/deepseek-r1");
    assert!(v["provider"].is_string());
    let choice = &v["choices"][0];
    assert_eq!(choice["finish_reason"], "stop");
    assert_eq!(
        choice["message"]["content"],
        "You asked: Which is bigger, 9.11 or 9.9?"
    );
    let reasoning = choice["message"]["reasoning"].as_str().unwrap();
    assert!(reasoning.contains("Which is bigger, 9.11 or 9.9?"));
    assert_eq!(choice["message"]["reasoning_details"][0]["text"], reasoning);
    let u = &v["usage"];
    let (p, c, t) = (
        u["prompt_tokens"].as_u64().unwrap(),
        u["completion_tokens"].as_u64().unwrap(),
        u["total_tokens"].as_u64().unwrap(),
    );
    assert!(p > 0 && c > 0);
    assert_eq!(p + c, t);
    let r = u["completion_tokens_details"]["reasoning_tokens"]
        .as_u64()
        .unwrap();
    assert!(
        r > 0 && r < c,
        "reasoning tokens are part of completion tokens"
    );
    assert!(u["cost"].as_f64().unwrap() > 0.0);
}

#[tokio::test]
async fn non_reasoning_model_has_null_reasoning_and_exclude_hides_it() {
    let server = start(MockConfig::default()).await;
    let v: Value = post_chat(
        &server,
        Some(&key(1)),
        &chat_body("meta-llama/llama-3.3-70b-instruct:free", "hi"),
    )
    .await
    .json()
    .await
    .unwrap();
    assert!(v["choices"][0]["message"]["reasoning"].is_null());
    assert_eq!(
        v["usage"]["completion_tokens_details"]["reasoning_tokens"],
        0
    );
    assert_eq!(v["usage"]["cost"], 0.0);

    let body = json!({"model": "deepseek/deepseek-r1",
        "messages": [{"role": "user", "content": "hi"}],
        "reasoning": {"exclude": true}});
    let v: Value = post_chat(&server, Some(&key(1)), &body)
        .await
        .json()
        .await
        .unwrap();
    assert!(v["choices"][0]["message"]["reasoning"].is_null());
    assert!(
        v["usage"]["completion_tokens_details"]["reasoning_tokens"]
            .as_u64()
            .unwrap()
            > 0
    );
}

#[tokio::test]
async fn fallback_models_serve_the_first_available_and_name_it() {
    let server = start(
        MockConfig::default()
            .with_unavailable_model("meta-llama/llama-3.2-11b-vision-instruct")
            .with_unavailable_model("deepseek/deepseek-r1-0528:free"),
    )
    .await;
    let body = json!({
        "model": "meta-llama/llama-3.2-11b-vision-instruct",
        "models": ["deepseek/deepseek-r1-0528:free", "qwen/qwen2.5-vl-72b-instruct"],
        "messages": [{"role": "user", "content": "hi"}]});
    let resp = post_chat(&server, Some(&key(1)), &body).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["model"], "qwen/qwen2.5-vl-72b-instruct");
    let rec = server.requests().pop().unwrap();
    assert_eq!(
        rec.model.as_deref(),
        Some("meta-llama/llama-3.2-11b-vision-instruct")
    );
    assert_eq!(rec.models.len(), 2);
    assert_eq!(
        rec.model_used.as_deref(),
        Some("qwen/qwen2.5-vl-72b-instruct")
    );

    // Nothing available: 404 naming the first model; not counted.
    let resp = post_chat(
        &server,
        Some(&key(1)),
        &chat_body("meta-llama/llama-3.2-11b-vision-instruct", "hi"),
    )
    .await;
    assert_eq!(resp.status(), 404);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v["error"]["message"],
        "No endpoints found for meta-llama/llama-3.2-11b-vision-instruct."
    );
    assert_eq!(server.stats().keys[&expected_key_id(&key(1))].served, 1);
}

#[tokio::test]
async fn generation_is_404_first_then_the_record() {
    let server = start(MockConfig::default()).await;
    let k = key(3);
    let v: Value = post_chat(&server, Some(&k), &chat_body("deepseek/deepseek-r1", "q"))
        .await
        .json()
        .await
        .unwrap();
    let id = v["id"].as_str().unwrap();
    let path = format!("/generation?id={id}");

    let resp = get_api(&server, &path, Some(&k)).await;
    assert_eq!(resp.status(), 404);
    let e: Value = resp.json().await.unwrap();
    assert_eq!(e["error"]["message"], "Generation not found");

    let resp = get_api(&server, &path, Some(&k)).await;
    assert_eq!(resp.status(), 200);
    let g: Value = resp.json().await.unwrap();
    let d = &g["data"];
    assert_eq!(d["id"], id);
    assert_eq!(d["model"], "deepseek/deepseek-r1");
    assert_eq!(d["tokens_prompt"], v["usage"]["prompt_tokens"]);
    assert_eq!(d["tokens_completion"], v["usage"]["completion_tokens"]);
    assert_eq!(
        d["native_tokens_reasoning"],
        v["usage"]["completion_tokens_details"]["reasoning_tokens"]
    );
    assert_eq!(d["total_cost"], v["usage"]["cost"]);
    assert_eq!(d["streamed"], false);

    let resp = get_api(
        &server,
        "/generation?id=gen-1-AAAAAAAAAAAAAAAAAAAA",
        Some(&k),
    )
    .await;
    assert_eq!(resp.status(), 404);
    let resp = get_api(
        &server,
        "/generation?id=gen-1-AAAAAAAAAAAAAAAAAAAA",
        Some(&k),
    )
    .await;
    assert_eq!(resp.status(), 404, "unknown ids stay 404");
}

#[tokio::test]
async fn models_list_required_ids_and_image_capability() {
    let server = start(MockConfig::default()).await;
    let resp = get_api(&server, "/models", None).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    let models = v["data"].as_array().unwrap();
    let find = |id: &str| {
        models
            .iter()
            .find(|m| m["id"] == id)
            .unwrap_or_else(|| panic!("{id} listed"))
    };
    let takes_image = |m: &Value| {
        m["architecture"]["input_modalities"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x == "image")
    };
    for id in [
        "meta-llama/llama-3.2-90b-vision-instruct",
        "meta-llama/llama-3.2-11b-vision-instruct",
        "qwen/qwen2.5-vl-72b-instruct",
        "google/gemma-4-31b-it:free",
    ] {
        assert!(takes_image(find(id)), "{id} takes images");
    }
    for id in [
        "deepseek/deepseek-r1-0528",
        "deepseek/deepseek-r1",
        "deepseek/deepseek-r1-0528:free",
    ] {
        let m = find(id);
        assert!(!takes_image(m));
        assert!(m["pricing"]["prompt"].is_string());
        assert_eq!(m["reasoning"]["mandatory"], true);
    }
    assert!(
        models
            .iter()
            .any(|m| !takes_image(m) && !m["id"].as_str().unwrap().contains("deepseek"))
    );
    let free = find("google/gemma-4-31b-it:free");
    assert_eq!(free["pricing"]["prompt"], "0");
    assert_eq!(free["pricing"]["completion"], "0");
}
