//! What one request goes through: the CLI's prompt checks (400, nothing counted), the face
//! its request row records (`via`, the session), the overhead header (the ledger counted,
//! upstream not), and the aliases following a config file edited while `keywheel serve` runs.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use keywheel_core::ledger::request_log::LogFilter;
use keywheel_gateway::GatewaySettings;
use keywheel_mock::MockConfig;
use serde_json::{Value, json};

use crate::common::{World, chat_body, eventually, get_json, http};

fn overhead(r: &reqwest::Response) -> Duration {
    let us: u64 = r.headers()["x-keywheel-overhead-us"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    Duration::from_micros(us)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompts_get_the_cli_checks_400_in_openai_shape_and_nothing_counted() {
    let w = World::new(1, 50, MockConfig::default());
    let gw = w.gateway(GatewaySettings::default()).await;
    let url = format!("{}/chat/completions", gw.base_url());
    let c = http();
    let too_long = "a".repeat(keywheel_core::input::MAX_PROMPT_BYTES + 1);
    for (body, needle) in [
        (chat_body(&too_long, false), "over 1 MiB"),
        (chat_body(&too_long, true), "over 1 MiB"),
        (chat_body(" \n\t", false), "the prompt is empty"),
        (
            json!({"model": "keywheel/chat", "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": [{"type": "text", "text": ""}]}]}),
            "the prompt is empty",
        ),
    ] {
        let r = c
            .post(&url)
            .bearer_auth(gw.token().expose())
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        assert!(r.headers().contains_key("x-keywheel-overhead-us"));
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["error"]["type"], "invalid_request_error", "{e}");
        assert_eq!(e["error"]["code"], "bad_input", "{e}");
        let msg = e["error"]["message"].as_str().unwrap();
        assert!(msg.contains(needle), "{msg}");
    }
    assert_eq!(w.mock.stats().total_requests, 0, "nothing was sent");
    let rows = w
        .pool()
        .ledger()
        .request_log(&LogFilter::default())
        .unwrap();
    assert!(rows.is_empty(), "nothing was counted: {rows:?}");
    gw.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_request_row_says_it_came_via_the_gateway_and_its_session() {
    let w = World::new(1, 50, MockConfig::default());
    let gw = w.gateway(GatewaySettings::default()).await;
    let url = format!("{}/chat/completions", gw.base_url());
    let c = http();
    for session in [None, Some("nightly-ocr-3")] {
        let mut req = c
            .post(&url)
            .bearer_auth(gw.token().expose())
            .json(&chat_body("hi", session.is_some()));
        if let Some(s) = session {
            req = req.header("x-keywheel-session", s);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 200);
        r.bytes().await.unwrap();
    }
    // The session ends (its instance row leaves the ledger); its request row keeps the label.
    gw.shutdown().await.unwrap();
    let rows = w
        .pool()
        .ledger()
        .request_log(&LogFilter::default())
        .unwrap();
    let via: Vec<(Option<&str>, Option<&str>)> = rows
        .iter()
        .rev()
        .map(|r| (r.via.as_deref(), r.session.as_deref()))
        .collect();
    assert_eq!(
        via,
        [
            (Some("gateway"), None),
            (Some("gateway"), Some("nightly-ocr-3"))
        ]
    );
}

/// The overhead header is Keywheel's own time, the ledger's included: while another writer
/// holds the ledger's write lock for `HOLD` after the request has arrived, the reservation
/// waits, and the header shows at least that wait — on an answer and on a refusal alike. The
/// mock's latency is not in it: the header is at most the client's whole wait minus it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overhead_header_counts_the_ledger_and_leaves_upstream_out() {
    const LATENCY: Duration = Duration::from_millis(300);
    const HOLD: Duration = Duration::from_millis(300);
    let w = World::new(
        1,
        2,
        MockConfig {
            latency_ms: LATENCY.as_millis() as u64,
            ..MockConfig::default()
        },
    );
    let gw = w.gateway(GatewaySettings::default()).await;
    let url = format!("{}/chat/completions", gw.base_url());
    let token = gw.token().expose().to_string();
    let ask = |stream: bool| {
        let (url, token) = (url.clone(), token.clone());
        tokio::spawn(async move {
            let sent = Instant::now();
            let r = http()
                .post(&url)
                .bearer_auth(&token)
                .json(&chat_body("hi", stream))
                .send()
                .await
                .unwrap();
            let (status, overhead) = (r.status().as_u16(), overhead(&r));
            r.bytes().await.unwrap();
            (status, overhead, sent.elapsed())
        })
    };

    // Upstream left out (this first request also starts the instance and reads the catalogue).
    let (status, first, whole) = ask(false).await.unwrap();
    assert_eq!(status, 200);
    assert!(
        first + LATENCY <= whole,
        "the header ({first:?}) must leave out the mock's {LATENCY:?} (whole request {whole:?})"
    );

    // The ledger counted: a reservation (answered, then streamed) and a refusal (the daily
    // cap of 2 is reached) each wait for the lock.
    for (n, stream, want) in [(2, false, 200), (3, true, 429)] {
        let pool = w.pool();
        let (held_tx, held_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let holder = std::thread::spawn(move || {
            pool.ledger()
                .write(|_| {
                    let _ = held_tx.send(());
                    let _ = release_rx.recv();
                    Ok(())
                })
                .unwrap();
        });
        held_rx.recv().unwrap();
        let pending = ask(stream);
        eventually(Duration::from_secs(10), async || {
            (gw.chat_requests() == n).then_some(())
        })
        .await;
        let arrived = Instant::now();
        tokio::time::sleep(HOLD).await;
        let held = arrived.elapsed();
        release_tx.send(()).unwrap();
        holder.join().unwrap();
        let (status, overhead, _) = pending.await.unwrap();
        assert_eq!(status, want);
        assert!(
            overhead >= held,
            "request {n}: the header ({overhead:?}) must include the {held:?} the ledger made it wait"
        );
    }
    gw.shutdown().await.unwrap();
}

/// `keywheel serve` reads the config file's chat pin again when the file changes: the alias
/// resolves to the new model on the next request, and `/v1/models` says so.
#[test]
fn the_chat_alias_follows_the_pin_when_config_toml_changes_while_serving() {
    let mut w = World::new(1, 50, MockConfig::default());
    let config = w.path("config.toml");
    let next = w.path("config.toml.new");
    w.kit
        .env
        .push(("KEYWHEEL_CONFIG".into(), config.display().to_string()));
    // Saved the way the app saves settings: a whole new file renamed over the old one.
    let pin = |model: &str| {
        std::fs::write(&next, format!("chat_pin = \"{model}\"\n")).unwrap();
        std::fs::rename(&next, &config).unwrap();
    };
    pin("deepseek/deepseek-r1-0528:free");
    let served = w.serve();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ask = || {
        rt.block_on(async {
            let r = http()
                .post(format!("{}/chat/completions", served.base()))
                .bearer_auth(&served.token)
                .json(&chat_body("which model?", false))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let model = r.headers()["x-keywheel-model"]
                .to_str()
                .unwrap()
                .to_string();
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["model"], model.as_str());
            model
        })
    };
    let alias_pin = || {
        rt.block_on(async {
            let list = get_json(&format!("{}/models", served.base()), &served.token).await;
            list["data"][0]["keywheel_pin"].clone()
        })
    };
    assert_eq!(ask(), "deepseek/deepseek-r1-0528:free");
    pin("meta-llama/llama-3.3-70b-instruct:free");
    assert_eq!(ask(), "meta-llama/llama-3.3-70b-instruct:free");
    assert_eq!(alias_pin(), "meta-llama/llama-3.3-70b-instruct:free");
    // A broken file keeps the last good settings (and the server keeps serving).
    std::fs::write(&config, "chat_pin = [").unwrap();
    assert_eq!(ask(), "meta-llama/llama-3.3-70b-instruct:free");
    let (status, _, err) = served.terminate();
    assert!(status.success(), "{err}");
}
