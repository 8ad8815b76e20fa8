//! The OpenRouter client against `keywheel-mock` (OpenRouter's behaviour, faults, and its real
//! error bodies: the fixtures in `keywheel_mock::fixtures`) and `wiremock` (exact headers and
//! bodies on the wire).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use keywheel_core::keys::ApiKey;
use keywheel_core::openrouter::{
    ApiFailure, Backoff, CancelToken, ChatReply, ChatRequest, ClientConfig, FailureClass, Message,
    OpenRouter, StreamEvent, failure_sentence,
};
use keywheel_mock::fixtures as fx;
use keywheel_mock::{Faults, MockConfig, MockServer, ScriptedResponse};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

const KEY: &str = "sk-or-v1-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"; // fake test key

fn key() -> ApiKey {
    ApiKey::parse(KEY).unwrap()
}

fn client(base: String) -> OpenRouter {
    OpenRouter::new(ClientConfig::with_base_url(base)).unwrap()
}

async fn mock() -> (MockServer, OpenRouter) {
    let server = MockServer::start(MockConfig::default()).await.unwrap();
    let c = client(server.base_url());
    (server, c)
}

/// No failure shows the key, in any rendering.
fn assert_no_key(f: &ApiFailure) {
    for s in [
        format!("{f:?}"),
        f.to_string(),
        f.message.clone(),
        failure_sentence(f),
        serde_json::to_string(f).unwrap(),
    ] {
        assert!(!s.contains(KEY), "key leaked: {s}");
        assert!(!s.contains(&KEY[9..]), "key material leaked: {s}");
    }
}

fn assert_reply_has_no_key(r: &ChatReply) {
    assert!(!format!("{r:?}").contains(&KEY[9..]));
}

async fn chat_err(c: &OpenRouter, model: &str) -> ApiFailure {
    let f = c
        .chat(&key(), &ChatRequest::text(model, "hello"))
        .await
        .unwrap_err();
    assert_no_key(&f);
    f
}

async fn stream(
    c: &OpenRouter,
    req: &ChatRequest,
) -> (Vec<StreamEvent>, Result<ChatReply, ApiFailure>) {
    let mut events = Vec::new();
    let r = c
        .chat_stream(&key(), req, |e| events.push(e.clone()), &CancelToken::new())
        .await;
    if let Err(f) = &r {
        assert_no_key(f);
    }
    (events, r)
}

async fn stream_err(c: &OpenRouter, model: &str) -> ApiFailure {
    stream(c, &ChatRequest::text(model, "hello"))
        .await
        .1
        .unwrap_err()
}

#[tokio::test]
async fn non_stream_chat() {
    let (server, c) = mock().await;
    let req = ChatRequest::text("openai/gpt-4o-mini", "Say hi").with_max_tokens(100);
    let r = c.chat(&key(), &req).await.unwrap();
    assert_eq!(r.http_status, 200);
    assert!(!r.content.is_empty());
    assert_eq!(r.model.as_deref(), Some("openai/gpt-4o-mini"));
    assert!(r.id.as_deref().unwrap().starts_with("gen-"));
    assert!(r.provider.is_some());
    let u = r.usage.clone().unwrap();
    assert!(u.prompt_tokens > 0 && u.completion_tokens > 0);
    assert!(r.bytes_sent > 0);
    assert_reply_has_no_key(&r);
    let recorded = server.requests();
    let last = recorded.last().unwrap();
    assert!(!last.stream);
    assert_eq!(last.key_id, key().id().as_str());
}

#[tokio::test]
async fn fallback_model_is_reported() {
    let server = MockServer::start(MockConfig::default().with_unavailable_model("acme/gone"))
        .await
        .unwrap();
    let c = client(server.base_url());
    let req = ChatRequest::text("acme/gone", "hi").with_fallbacks(["openai/gpt-4o-mini"]);
    let r = c.chat(&key(), &req).await.unwrap();
    assert_eq!(r.model.as_deref(), Some("openai/gpt-4o-mini"));
    // Without a fallback the same model is a ModelUnavailable failure.
    assert_eq!(
        chat_err(&c, "acme/gone").await.class,
        FailureClass::ModelUnavailable
    );
}

#[tokio::test]
async fn r1_stream_separates_reasoning_and_content_in_every_wire_variant() {
    let (server, c) = mock().await;
    let variants = [
        Faults::default(),
        Faults {
            keepalive_comments: true,
            ..Default::default()
        },
        Faults {
            sse_split_writes: true,
            ..Default::default()
        },
        Faults {
            sse_crlf: true,
            keepalive_comments: true,
            ..Default::default()
        },
        Faults {
            usage_on_finish_chunk: true,
            ..Default::default()
        },
        Faults {
            no_reasoning_details: true,
            ..Default::default()
        },
    ];
    for faults in variants {
        server.set_faults(faults.clone());
        let req = ChatRequest::text("deepseek/deepseek-r1", "Which is bigger, 9.11 or 9.9?")
            .with_max_tokens(8000);
        let (events, r) = stream(&c, &req).await;
        let r = r.unwrap_or_else(|f| panic!("{faults:?}: {f}"));
        assert!(!r.reasoning.is_empty(), "{faults:?}");
        assert!(!r.content.is_empty(), "{faults:?}");
        assert_eq!(r.finish_reason.as_deref(), Some("stop"));
        assert_eq!(r.model.as_deref(), Some("deepseek/deepseek-r1"));
        let u = r.usage.clone().unwrap();
        assert!(u.reasoning_tokens > 0, "{faults:?}: {u:?}");
        assert!(u.cost.unwrap() > 0.0);
        // Reasoning streams first, then content; and the pieces add up to the reply.
        let last_reasoning = events
            .iter()
            .rposition(|e| matches!(e, StreamEvent::Reasoning(_)))
            .unwrap();
        let first_content = events
            .iter()
            .position(|e| matches!(e, StreamEvent::Content(_)))
            .unwrap();
        assert!(last_reasoning < first_content, "{faults:?}");
        let reasoning: String = events
            .iter()
            .filter_map(|e| {
                if let StreamEvent::Reasoning(s) = e {
                    Some(s.as_str())
                } else {
                    None
                }
            })
            .collect();
        assert_eq!(
            reasoning, r.reasoning,
            "reasoning_details must not double the text"
        );
        assert!(matches!(events.last(), Some(StreamEvent::Done)));
        assert!(matches!(events.first(), Some(StreamEvent::Meta { .. })));
    }
    assert!(server.requests().iter().all(|r| r.stream));
}

/// A DeepSeek R1 stream in OpenRouter's wire form (docs/openrouter.md), served over HTTP byte
/// for byte.
const R1_STREAM: &str = r#": OPENROUTER PROCESSING

: OPENROUTER PROCESSING

data: {"id":"gen-1748781300-R1strEamExample000001","provider":"DeepInfra","model":"deepseek/deepseek-r1","object":"chat.completion.chunk","created":1748781300,"choices":[{"index":0,"delta":{"role":"assistant","content":"","reasoning":"Okay"},"finish_reason":null,"native_finish_reason":null,"logprobs":null}]}

data: {"id":"gen-1748781300-R1strEamExample000001","provider":"DeepInfra","model":"deepseek/deepseek-r1","object":"chat.completion.chunk","created":1748781300,"choices":[{"index":0,"delta":{"role":"assistant","content":"","reasoning":", compare 9.11 and 9.90: 0.90 > 0.11.","reasoning_details":[{"type":"reasoning.text","text":", compare 9.11 and 9.90: 0.90 > 0.11.","format":"unknown","index":0}]},"finish_reason":null,"native_finish_reason":null,"logprobs":null}]}

: OPENROUTER PROCESSING

data: {"id":"gen-1748781300-R1strEamExample000001","provider":"DeepInfra","model":"deepseek/deepseek-r1","object":"chat.completion.chunk","created":1748781300,"choices":[{"index":0,"delta":{"role":"assistant","content":"9.9 is bigger.","reasoning":null},"finish_reason":null,"native_finish_reason":null,"logprobs":null}]}

data: {"id":"gen-1748781300-R1strEamExample000001","provider":"DeepInfra","model":"deepseek/deepseek-r1","object":"chat.completion.chunk","created":1748781300,"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":"stop","native_finish_reason":"stop","logprobs":null}]}

data: {"id":"gen-1748781300-R1strEamExample000001","provider":"DeepInfra","model":"deepseek/deepseek-r1","object":"chat.completion.chunk","created":1748781300,"choices":[],"usage":{"prompt_tokens":14,"completion_tokens":61,"total_tokens":75,"cost":0.0001623,"is_byok":false,"prompt_tokens_details":{"cached_tokens":0},"cost_details":{"upstream_inference_cost":null,"upstream_inference_prompt_cost":0.0000098,"upstream_inference_completions_cost":0.0001525},"completion_tokens_details":{"reasoning_tokens":48}}}

data: [DONE]

"#;

const MID_STREAM_ERROR: &str = r#"data: {"id":"gen-1748781300-R1strEamExample000002","provider":"DeepInfra","model":"deepseek/deepseek-r1","object":"chat.completion.chunk","created":1748781300,"choices":[{"index":0,"delta":{"role":"assistant","content":"","reasoning":"Let me"},"finish_reason":null,"native_finish_reason":null,"logprobs":null}]}

data: {"id":"gen-1748781300-R1strEamExample000002","object":"chat.completion.chunk","created":1748781305,"model":"deepseek/deepseek-r1","provider":"DeepInfra","error":{"code":502,"message":"Provider disconnected unexpectedly","metadata":{"error_type":"provider_unavailable"}},"choices":[{"index":0,"delta":{"content":""},"finish_reason":"error"}]}

"#;

#[tokio::test]
async fn reference_stream_and_mid_stream_errors_over_http() {
    let (server, c) = mock().await;
    server.script(vec![ScriptedResponse::sse(R1_STREAM).with_header(
        "X-Generation-Id",
        "gen-1748781300-R1strEamExample000001",
    )]);
    let (_, r) = stream(
        &c,
        &ChatRequest::text("deepseek/deepseek-r1", "Which is bigger?"),
    )
    .await;
    let r = r.unwrap();
    assert_eq!(r.reasoning, "Okay, compare 9.11 and 9.90: 0.90 > 0.11.");
    assert_eq!(r.content, "9.9 is bigger.");
    assert_eq!(r.provider.as_deref(), Some("DeepInfra"));
    let u = r.usage.unwrap();
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.reasoning_tokens),
        (14, 61, 48)
    );
    assert_eq!(u.cost, Some(0.0001623));

    for body in [
        MID_STREAM_ERROR.to_string(),
        format!("{MID_STREAM_ERROR}data: [DONE]\n\n"),
        MID_STREAM_ERROR.replace("\"code\":502", "\"code\":\"server_error\""),
    ] {
        server.script(vec![ScriptedResponse::sse(body)]);
        let (events, r) = stream(&c, &ChatRequest::text("deepseek/deepseek-r1", "hi")).await;
        let f = r.unwrap_err();
        assert_eq!(f.class, FailureClass::Transient);
        assert_eq!(f.http_status, Some(200));
        assert_eq!(f.message, "Provider disconnected unexpectedly");
        assert!(events.contains(&StreamEvent::Reasoning("Let me".into())));
    }
}

struct Row {
    status: u16,
    body: &'static str,
    headers: &'static [(&'static str, &'static str)],
    class: FailureClass,
    retry_after: Option<u64>,
    reset_ms: Option<i64>,
}

const RL_DAY: &[(&str, &str)] = &[
    ("X-RateLimit-Limit", "50"),
    ("X-RateLimit-Remaining", "0"),
    ("X-RateLimit-Reset", "1748822400000"),
];
const RL_DAY_HIGH: &[(&str, &str)] = &[
    ("X-RateLimit-Limit", "1000"),
    ("X-RateLimit-Remaining", "0"),
    ("X-RateLimit-Reset", "1748822400000"),
];
const RL_MIN: &[(&str, &str)] = &[
    ("X-RateLimit-Limit", "20"),
    ("X-RateLimit-Remaining", "0"),
    ("X-RateLimit-Reset", "1748781300000"),
];

fn rows() -> Vec<Row> {
    use FailureClass::*;
    let r = |status, body, class| Row {
        status,
        body,
        headers: &[],
        class,
        retry_after: None,
        reset_ms: None,
    };
    vec![
        r(401, fx::MISSING_AUTH, KeyInvalid),
        r(401, fx::USER_NOT_FOUND, KeyInvalid),
        r(401, fx::NO_AUTH_CREDENTIALS, KeyInvalid),
        r(402, fx::INSUFFICIENT_CREDITS, NoCredit),
        r(
            402,
            fx::CAN_ONLY_AFFORD,
            // This one request is too heavy for the balance: the key is fine (docs/errors.md).
            RequestTooHeavy,
        ),
        r(403, fx::KEY_LIMIT_EXCEEDED, KeySpendLimit),
        r(403, fx::MODERATION, Moderation),
        r(404, fx::NO_ENDPOINTS, ModelUnavailable),
        r(404, fx::NO_IMAGE_ENDPOINTS, ModelUnavailable),
        r(404, fx::DATA_POLICY, ModelUnavailable),
        r(400, fx::UNKNOWN_ID_AVAILABILITY, ModelUnavailable),
        r(400, fx::INVALID_IMAGE, BadRequest),
        r(413, fx::PAYLOAD_TOO_LARGE, BadRequest),
        r(408, fx::TIMED_OUT, Transient),
        r(502, fx::PROVIDER_ERROR_502, Transient),
        r(503, fx::SERVICE_UNAVAILABLE, Transient),
        Row {
            headers: RL_DAY,
            reset_ms: Some(1_748_822_400_000),
            ..r(429, fx::FREE_PER_DAY, AccountDailyExhausted)
        },
        Row {
            headers: RL_DAY_HIGH,
            reset_ms: Some(1_748_822_400_000),
            ..r(429, fx::FREE_PER_DAY_HIGH_BALANCE, AccountDailyExhausted)
        },
        Row {
            headers: RL_MIN,
            reset_ms: Some(1_748_781_300_000),
            ..r(429, fx::FREE_PER_MIN, RateLimited)
        },
        Row {
            retry_after: Some(17),
            ..r(429, fx::UPSTREAM_429, RateLimited)
        },
        Row {
            headers: &[("Retry-After", "40")],
            retry_after: Some(40),
            ..r(429, fx::CAPACITY_EXHAUSTED, RateLimited)
        },
        // Resilience bodies.
        r(200, "\n\n   \n", Transient),
        r(200, fx::PROVIDER_ERROR_200, Transient),
        r(524, fx::CLOUDFLARE_524, Transient),
        r(
            200,
            r#"{"id":"gen-1","choices":[{"message":{"content":"trunc"#,
            Transient,
        ),
    ]
}

fn scripted(row: &Row) -> ScriptedResponse {
    let mut s = ScriptedResponse::json(row.status, row.body);
    for (k, v) in row.headers {
        s = s.with_header(*k, *v);
    }
    s
}

fn check(row: &Row, f: &ApiFailure, how: &str) {
    assert_eq!(f.class, row.class, "{how} {} {}: {f}", row.status, row.body);
    assert_eq!(f.http_status, Some(row.status), "{how} {}", row.body);
    assert_eq!(
        f.retry_after,
        row.retry_after.map(Duration::from_secs),
        "{how} {}",
        row.body
    );
    assert_eq!(
        f.reset_at.map(|t| t.timestamp_millis()),
        row.reset_ms,
        "{how} {}",
        row.body
    );
    if row.reset_ms.is_some() {
        let rl = f.rate_limit.clone().unwrap();
        assert_eq!(rl.remaining, Some(0));
    }
    assert!(!f.message.is_empty());
}

#[tokio::test]
async fn every_taxonomy_row_through_http() {
    let (server, c) = mock().await;
    for row in rows() {
        server.script(vec![scripted(&row)]);
        let f = chat_err(&c, "deepseek/deepseek-r1").await;
        check(&row, &f, "chat");
        // The same answer before the first token of a stream.
        if row.status != 200 {
            server.script(vec![scripted(&row)]);
            let f = stream_err(&c, "deepseek/deepseek-r1").await;
            check(&row, &f, "stream");
        }
    }
}

#[tokio::test]
async fn mock_faults_are_transient() {
    let (server, c) = mock().await;
    let faults = [
        Faults {
            error_in_200: true,
            ..Default::default()
        },
        Faults {
            html_body: true,
            ..Default::default()
        },
        Faults {
            malformed_json: true,
            ..Default::default()
        },
        Faults {
            cut_stream: true,
            ..Default::default()
        },
        Faults {
            cut_stream: true,
            sse_split_writes: true,
            ..Default::default()
        },
        Faults {
            error_rate_5xx: 1.0,
            ..Default::default()
        },
    ];
    for fault in faults {
        server.set_faults(fault.clone());
        let f = chat_err(&c, "deepseek/deepseek-r1").await;
        assert_eq!(f.class, FailureClass::Transient, "chat {fault:?}: {f}");
        let f = stream_err(&c, "deepseek/deepseek-r1").await;
        assert_eq!(f.class, FailureClass::Transient, "stream {fault:?}: {f}");
        if fault.html_body {
            assert_eq!(f.http_status, Some(524));
        }
        if fault.cut_stream {
            assert!(f.message.contains("cut"), "{f}");
        }
    }
    // Keep-alive padding before a plain JSON body is fine.
    server.set_faults(Faults {
        keepalive_comments: true,
        ..Default::default()
    });
    assert!(
        !c.chat(&key(), &ChatRequest::text("openai/gpt-4o-mini", "hi"))
            .await
            .unwrap()
            .content
            .is_empty()
    );
}

#[tokio::test]
async fn mock_key_conditions_classify() {
    let bad = "sk-or-v1-ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"; // fake test key
    let broke = "sk-or-v1-eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"; // fake test key
    let capped = "sk-or-v1-dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"; // fake test key
    let cfg = MockConfig::default()
        .with_key(KEY, "a")
        .with_mock_key(keywheel_mock::MockKey::new(broke, "b").no_credit())
        .with_mock_key(keywheel_mock::MockKey::new(capped, "c").spend_limited())
        .with_limits(1, 20);
    let server = MockServer::start(cfg).await.unwrap();
    let c = client(server.base_url());
    let req = ChatRequest::text("deepseek/deepseek-r1-0528:free", "hi");
    for (k, class) in [
        (bad, FailureClass::KeyInvalid),
        (broke, FailureClass::NoCredit),
        (capped, FailureClass::KeySpendLimit),
    ] {
        let f = c.chat(&ApiKey::parse(k).unwrap(), &req).await.unwrap_err();
        assert_eq!(f.class, class, "{f}");
        assert!(!format!("{f:?}").contains(&k[9..]));
    }
    c.chat(&key(), &req).await.unwrap();
    let f = c.chat(&key(), &req).await.unwrap_err();
    assert_eq!(f.class, FailureClass::AccountDailyExhausted, "{f}");
    assert!(f.reset_at.is_some());
    assert_no_key(&f);
}

#[tokio::test]
async fn first_byte_timeout_is_transient() {
    let server = MockServer::start(MockConfig::default().with_faults(Faults {
        timeout: true,
        ..Default::default()
    }))
    .await
    .unwrap();
    let cfg = ClientConfig {
        first_byte_timeout: Duration::from_millis(200),
        request_timeout: Duration::from_millis(300),
        ..ClientConfig::with_base_url(server.base_url())
    };
    let c = OpenRouter::new(cfg).unwrap();
    let f = stream_err(&c, "deepseek/deepseek-r1").await;
    assert_eq!(f.class, FailureClass::Transient);
    assert!(f.message.contains("did not start answering"), "{f}");
    let f = chat_err(&c, "deepseek/deepseek-r1").await;
    assert_eq!(f.class, FailureClass::Transient);
    assert!(f.message.contains("timed out"), "{f}");
}

#[tokio::test]
async fn cancel_mid_stream() {
    let (_server, c) = mock().await;
    let cancel = CancelToken::new();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (cancel2, seen2) = (cancel.clone(), seen.clone());
    let req = ChatRequest::text("deepseek/deepseek-r1", "Which is bigger, 9.11 or 9.9?");
    let r = c
        .chat_stream(
            &key(),
            &req,
            move |e| {
                seen2.lock().unwrap().push(e.clone());
                if matches!(e, StreamEvent::Reasoning(_)) {
                    cancel2.cancel();
                }
            },
            &cancel,
        )
        .await;
    let f = r.unwrap_err();
    assert_eq!(f.class, FailureClass::Cancelled);
    let seen = seen.lock().unwrap().clone();
    assert!(seen.iter().any(|e| matches!(e, StreamEvent::Reasoning(_))));
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e, StreamEvent::Content(_) | StreamEvent::Done))
    );

    // Already cancelled: nothing is sent.
    let (server, c) = mock().await;
    let f = c
        .chat_stream(&key(), &req, |_| {}, &cancel)
        .await
        .unwrap_err();
    assert_eq!(f.class, FailureClass::Cancelled);
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn cancel_while_waiting_for_the_first_byte() {
    let server = MockServer::start(MockConfig::default().with_faults(Faults {
        timeout: true,
        ..Default::default()
    }))
    .await
    .unwrap();
    let c = client(server.base_url());
    let cancel = CancelToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        trigger.cancel();
    });
    let f = c
        .chat_stream(
            &key(),
            &ChatRequest::text("deepseek/deepseek-r1", "hi"),
            |_| {},
            &cancel,
        )
        .await
        .unwrap_err();
    assert_eq!(f.class, FailureClass::Cancelled);
}

#[tokio::test]
async fn key_info_models_and_generation_against_the_mock() {
    let (_server, c) = mock().await;
    let info = c.key_info(&key()).await.unwrap();
    let free = info.free_model_daily_requests.clone().unwrap();
    assert_eq!(free.limit, Some(50));
    assert!(!format!("{info:?}").contains(&KEY[9..]));

    let models = c.models().await.unwrap();
    assert!(models.len() >= 3);
    let vision: Vec<&str> = models
        .iter()
        .filter(|m| m.takes_images())
        .map(|m| m.id.as_str())
        .collect();
    assert!(
        vision.contains(&"meta-llama/llama-3.2-90b-vision-instruct"),
        "{vision:?}"
    );
    assert!(!vision.contains(&"deepseek/deepseek-r1"));
    assert!(
        models
            .iter()
            .any(|m| m.id == "deepseek/deepseek-r1-0528:free" && m.is_free())
    );

    let reply = c
        .chat(&key(), &ChatRequest::text("deepseek/deepseek-r1", "hi"))
        .await
        .unwrap();
    let id = reply.id.clone().unwrap();
    let fast = Backoff {
        base: Duration::from_millis(10),
        cap: Duration::from_millis(50),
        ..Backoff::generation_lookup()
    };
    let g = c.generation_with_backoff(&key(), &id, &fast).await.unwrap();
    assert_eq!(g.id.as_deref(), Some(id.as_str()));
    assert_eq!(g.model.as_deref(), Some("deepseek/deepseek-r1"));
    assert!(g.native_tokens_reasoning.unwrap_or(0) > 0);
    assert!(g.total_cost.is_some());

    let unknown_key =
        ApiKey::parse("sk-or-v1-ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff") // fake test key
            .unwrap();
    let server2 = MockServer::start(MockConfig::default().with_key(KEY, "a"))
        .await
        .unwrap();
    let f = client(server2.base_url())
        .key_info(&unknown_key)
        .await
        .unwrap_err();
    assert_eq!(f.class, FailureClass::KeyInvalid);
}

// ---------------------------------------------------------------------------------------------
// wiremock: exact wire shapes

#[tokio::test]
async fn request_headers_and_body_on_the_wire() {
    let server = wiremock::MockServer::start().await;
    let ok = r#"{"id":"gen-1","provider":"P","model":"meta-llama/llama-4-maverick","choices":[{"message":{"content":"INVOICE"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1611,"completion_tokens":14,"total_tokens":1625,"cost":0.00025}}"#;
    Mock::given(method("POST"))
        .and(path("/api/v1/chat/completions"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(format!("{}{ok}", "\n".repeat(200)), "application/json")
                .insert_header("X-RateLimit-Limit", "20")
                .insert_header("X-RateLimit-Remaining", "19"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let cfg = ClientConfig {
        referer: Some("https://example-desktop-app.local".into()),
        title: Some("Keywheel".into()),
        ..ClientConfig::with_base_url(format!("{}/api/v1", server.uri()))
    };
    let c = OpenRouter::new(cfg).unwrap();
    let url = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
    let req = ChatRequest::new(
        "meta-llama/llama-3.2-90b-vision-instruct",
        vec![Message::user_with_image(
            "Transcribe all text in this image.",
            url,
        )],
    )
    .with_fallbacks(["meta-llama/llama-4-maverick", "google/gemini-2.5-flash"])
    .with_max_tokens(1024)
    .with_temperature(0.2);
    let r = c.chat(&key(), &req).await.unwrap();
    assert_eq!(r.content, "INVOICE");
    assert_eq!(r.model.as_deref(), Some("meta-llama/llama-4-maverick"));
    assert_eq!(r.rate_limit.as_ref().unwrap().remaining, Some(19));

    let got = &server.received_requests().await.unwrap()[0];
    let h = |n: &str| got.headers.get(n).map(|v| v.to_str().unwrap().to_string());
    assert_eq!(h("authorization").unwrap(), format!("Bearer {KEY}"));
    assert_eq!(
        h("http-referer").as_deref(),
        Some("https://example-desktop-app.local")
    );
    assert_eq!(h("x-openrouter-title").as_deref(), Some("Keywheel"));
    assert!(h("user-agent").unwrap().starts_with("keywheel/"));
    assert_eq!(h("content-type").as_deref(), Some("application/json"));
    let body: Value = serde_json::from_slice(&got.body).unwrap();
    assert_eq!(body["usage"], json!({"include": true}));
    assert_eq!(body["stream"], json!(false));
    assert_eq!(
        body["models"],
        json!(["meta-llama/llama-4-maverick", "google/gemini-2.5-flash"])
    );
    assert_eq!(
        body["messages"][0]["content"][0],
        json!({"type": "text", "text": "Transcribe all text in this image."})
    );
    assert_eq!(
        body["messages"][0]["content"][1]["image_url"]["url"],
        json!(url)
    );
    assert_eq!(r.bytes_sent, got.body.len() as u64);
}

#[tokio::test]
async fn models_sends_no_key_and_generation_retries_early_404s() {
    let server = wiremock::MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/models"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            r#"{"data":[{"id":"a/vision","architecture":{"input_modalities":["text","image"]},"pricing":{"prompt":"0","completion":"0"}},{"id":"b/text","architecture":{"input_modalities":["text"]}},null,{"id":7}]}"#,
            "application/json",
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/generation"))
        .and(query_param("id", "gen-42"))
        .respond_with(
            ResponseTemplate::new(404).set_body_raw(fx::GENERATION_NOT_FOUND, "application/json"),
        )
        .up_to_n_times(2)
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/generation"))
        .and(query_param("id", "gen-42"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            r#"{"data":{"id":"gen-42","model":"deepseek/deepseek-r1","native_tokens_reasoning":48,"total_cost":0.0001623,"latency":2410}}"#,
            "application/json",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let c = client(format!("{}/api/v1", server.uri()));
    let models = c.models().await.unwrap();
    let ids: Vec<_> = models.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["a/vision", "b/text", "7"]);
    assert!(models[0].takes_images() && models[0].is_free());

    let fast = Backoff {
        base: Duration::from_millis(5),
        cap: Duration::from_millis(20),
        ..Backoff::generation_lookup()
    };
    let g = c
        .generation_with_backoff(&key(), "gen-42", &fast)
        .await
        .unwrap();
    assert_eq!(g.native_tokens_reasoning, Some(48));
    assert_eq!(g.latency, Some(2410));

    let reqs = server.received_requests().await.unwrap();
    let models_req = reqs
        .iter()
        .find(|r| r.url.path() == "/api/v1/models")
        .unwrap();
    assert!(models_req.headers.get("authorization").is_none());
    assert_eq!(
        reqs.iter()
            .filter(|r| r.url.path() == "/api/v1/generation")
            .count(),
        3
    );

    // A record that never appears: the 404 comes back once the retries are spent.
    let never = Backoff {
        max_attempts: 2,
        ..fast
    };
    let f = c
        .generation_with_backoff(&key(), "gen-missing", &never)
        .await
        .unwrap_err();
    assert_eq!(f.http_status, Some(404));
    assert_eq!(f.class, FailureClass::Transient);
    assert_no_key(&f);
}

#[tokio::test]
async fn key_info_falls_back_to_legacy_path() {
    let server = wiremock::MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/auth/key"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            r#"{"data":{"label":"sk-or-v1-a1b...c3d","usage":0,"limit":null,"is_free_tier":true,"rate_limit":{"requests":20,"interval":"10s"}}}"#,
            "application/json",
        ))
        .mount(&server)
        .await;
    let c = client(format!("{}/api/v1", server.uri()));
    let info = c.key_info(&key()).await.unwrap();
    assert_eq!(info.is_free_tier, Some(true));
    assert_eq!(info.limit, None);
}

#[tokio::test]
async fn idle_stream_timeout_and_connection_refused_are_transient() {
    // Headers and a first chunk arrive, then silence: wiremock cannot stall mid-body, so use a
    // raw listener.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 65536];
        let _ = sock.read(&mut buf).await;
        let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
        let chunk = ": OPENROUTER PROCESSING\n\n";
        let _ = sock
            .write_all(format!("{head}{:x}\r\n{chunk}\r\n", chunk.len()).as_bytes())
            .await;
        tokio::time::sleep(Duration::from_secs(30)).await;
    });
    let cfg = ClientConfig {
        idle_stream_timeout: Duration::from_millis(200),
        ..ClientConfig::with_base_url(format!("http://{addr}/api/v1"))
    };
    let c = OpenRouter::new(cfg).unwrap();
    let f = stream_err(&c, "deepseek/deepseek-r1").await;
    assert_eq!(f.class, FailureClass::Transient);
    assert!(f.message.contains("went silent"), "{f}");

    // Nothing listens on this port any more.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c = client(format!("http://127.0.0.1:{port}/api/v1"));
    let f = chat_err(&c, "deepseek/deepseek-r1").await;
    assert_eq!(f.class, FailureClass::Transient);
    assert_eq!(f.http_status, None);
}

/// Issue 15 §5: a 307 is not followed (it would send the prompt and the key elsewhere).
#[tokio::test]
async fn redirects_are_not_followed() {
    let server = wiremock::MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/chat/completions"))
        .respond_with(
            ResponseTemplate::new(307).insert_header("location", "/elsewhere/chat/completions"),
        )
        .mount(&server)
        .await;
    Mock::given(path("/elsewhere/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "choices": [{"message": {"content": "stolen"}, "finish_reason": "stop"}]
        })))
        .expect(0)
        .mount(&server)
        .await;
    let c = client(format!("{}/api/v1", server.uri()));
    let f = chat_err(&c, "deepseek/deepseek-r1").await;
    assert_eq!(f.http_status, Some(307), "{f}");
    let f = stream_err(&c, "deepseek/deepseek-r1").await;
    assert_eq!(f.http_status, Some(307), "{f}");
    let hits = server.received_requests().await.unwrap();
    assert!(
        hits.iter()
            .all(|r| r.url.path() == "/api/v1/chat/completions"),
        "the redirect target was never asked"
    );
}

/// Issue 15 §9: a body past 16 MiB is an error, not a silently cut answer.
#[tokio::test]
async fn an_oversized_body_is_an_error() {
    let server = wiremock::MockServer::start().await;
    let big = format!(
        "{{\"choices\":[{{\"message\":{{\"content\":\"{}\"}},\"finish_reason\":\"stop\"}}]}}",
        "x".repeat(17 << 20)
    );
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(big, "application/json"))
        .mount(&server)
        .await;
    let c = client(format!("{}/api/v1", server.uri()));
    let f = chat_err(&c, "deepseek/deepseek-r1").await;
    assert_eq!(f.class, FailureClass::Transient);
    assert!(f.message.contains("larger than 16 MiB"), "{f}");
}

/// Issue 15 §9: keep-alive comments reset the idle timeout, so a stream that only ever sends
/// them is stopped by the total deadline, with an error.
#[tokio::test]
async fn the_stream_deadline_stops_endless_keep_alives() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 65536];
        let _ = sock.read(&mut buf).await;
        let head =
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n";
        let _ = sock.write_all(head.as_bytes()).await;
        // Bounded: at most 30 s of keep-alives, or until the client hangs up.
        for _ in 0..600 {
            if sock
                .write_all(b": OPENROUTER PROCESSING\n\n")
                .await
                .is_err()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let cfg = ClientConfig {
        idle_stream_timeout: Duration::from_secs(5),
        stream_deadline: Duration::from_millis(400),
        ..ClientConfig::with_base_url(format!("http://{addr}/api/v1"))
    };
    let c = OpenRouter::new(cfg).unwrap();
    let f = stream_err(&c, "deepseek/deepseek-r1").await;
    assert_eq!(f.class, FailureClass::Transient);
    assert!(f.message.contains("stream deadline"), "{f}");
}
