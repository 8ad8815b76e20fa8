//! Every row of the error taxonomy (docs/errors.md) driven through the full request path against
//! keywheel-mock: the right action — key marked, account exhausted until its reset, backoff on
//! the same key, next model, or surfaced — and no key penalty for transient or request errors.

use std::sync::Arc;
use std::time::Duration;

use keywheel_core::chains::ModelChoice;
use keywheel_core::dispatch::{Dispatcher, Job, Kind, Outcome};
use keywheel_core::keys::MemoryStore;
use keywheel_core::ledger::KeyStatus;
use keywheel_core::openrouter::{Backoff, CancelToken, ChatRequest};
use keywheel_core::pool::{Pool, PoolOptions};
use keywheel_core::{Error, Settings, SystemClock};
use keywheel_mock::{MockConfig, MockServer, ScriptedResponse};

use crate::{id, key};

struct World {
    _dir: tempfile::TempDir,
    mock: MockServer,
    pool: Pool,
}

impl World {
    async fn new(accounts: &[&str]) -> Self {
        let mock = MockServer::start(MockConfig::default()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings {
            data_dir: dir.path().to_path_buf(),
            base_url: mock.base_url(),
            keychain: false,
            ..Settings::default()
        };
        let env_keys = (1..=accounts.len() as u8)
            .map(key)
            .collect::<Vec<_>>()
            .join(",");
        let pool = Pool::open(PoolOptions {
            settings,
            clock: Arc::new(SystemClock),
            store: Arc::new(MemoryStore::default()),
            env_keys: Some(env_keys),
        })
        .unwrap();
        for (i, acct) in accounts.iter().enumerate() {
            pool.ledger()
                .update_key(
                    &id(i as u8 + 1),
                    &keywheel_core::ledger::KeyUpdate {
                        account: Some(acct.to_string()),
                        ..Default::default()
                    },
                )
                .unwrap();
        }
        Self {
            _dir: dir,
            mock,
            pool,
        }
    }

    async fn ask(&self, models: &[&str]) -> Result<Outcome, Error> {
        let inst = Arc::new(self.pool.start_instance("test").unwrap());
        let fast = Backoff {
            base: Duration::from_millis(5),
            cap: Duration::from_millis(20),
            max_attempts: 3,
            max_total_wait: Duration::from_secs(5),
        };
        let d = Dispatcher::new(inst).unwrap().with_backoff(fast);
        let mut req = ChatRequest::text(models[0], "hello");
        req.models = models[1..].iter().map(|s| s.to_string()).collect();
        d.run(
            Job {
                kind: Kind::Chat,
                models: ModelChoice::Pinned(models.iter().map(|s| s.to_string()).collect()),
                request: req,
                stream: false,
                use_cache: false,
            },
            |_| {},
            &CancelToken::new(),
        )
        .await
    }

    fn status(&self, n: u8) -> KeyStatus {
        self.pool.ledger().key(&id(n)).unwrap().unwrap().status
    }
}

fn err(status: u16, body: &str) -> ScriptedResponse {
    ScriptedResponse::json(status, body)
}

const R1: &str = "deepseek/deepseek-r1";
const R1_FREE: &str = "deepseek/deepseek-r1-0528:free";

#[tokio::test]
async fn a_401_marks_the_key_invalid_and_falls_back() {
    let w = World::new(&["a", "b"]).await;
    w.mock.script(vec![err(
        401,
        r#"{"error":{"message":"User not found.","code":401}}"#,
    )]);
    let out = w.ask(&[R1]).await.unwrap();
    assert_eq!(out.key_id, Some(id(2)));
    assert_eq!(out.fallbacks, 1);
    assert_eq!(w.status(1), KeyStatus::Invalid);
    assert_eq!(w.status(2), KeyStatus::Ok);
}

#[tokio::test]
async fn a_402_on_a_free_model_marks_no_credit_and_moves_to_another_account() {
    let w = World::new(&["a", "a", "b"]).await;
    w.mock.script(vec![err(402, r#"{"error":{"message":"Insufficient credits. Add more using https://openrouter.ai/credits","code":402}}"#)]);
    let out = w.ask(&[R1_FREE]).await.unwrap();
    assert_eq!(
        out.key_id,
        Some(id(3)),
        "402 is account-wide: key 2 shares the account and is skipped"
    );
    assert_eq!(w.status(1), KeyStatus::NoCredit);
}

#[tokio::test]
async fn a_402_on_a_paid_model_keeps_the_key_and_moves_to_a_free_model() {
    let w = World::new(&["a", "b"]).await;
    w.mock.script(vec![err(402, r#"{"error":{"message":"Insufficient credits. This account never purchased credits.","code":402,"metadata":{"limit_source":"openrouter_credits"}},"user_id":"user_2yOPcMpKoQhcd4bVgSMlELRaIah"}"#)]);
    let out = w.ask(&[R1, R1_FREE]).await.unwrap();
    assert_eq!(out.key_id, Some(id(1)), "no fallback to another key");
    assert_eq!(out.model.as_deref(), Some(R1_FREE));
    assert_eq!(out.attempts, 2);
    assert_eq!(
        w.status(1),
        KeyStatus::Ok,
        "the key still serves free models"
    );
    assert_eq!(
        w.pool
            .ledger()
            .account_credits(&id(1), w.pool.now())
            .unwrap(),
        keywheel_core::ledger::Credits::FreeOnly,
        "paid models are out of this account's chains for the day"
    );
    let alerts = w.pool.ledger().alerts(1, w.pool.now()).unwrap();
    assert_eq!(
        alerts.iter().filter(|a| a.rule == "paid_refused").count(),
        1,
        "{alerts:?}"
    );
    // The next question does not try the paid model again, and a paid model alone is refused
    // locally: nothing is sent.
    let out = w.ask(&[R1, R1_FREE]).await.unwrap();
    assert_eq!((out.attempts, out.model.as_deref()), (1, Some(R1_FREE)));
    let e = w.ask(&[R1]).await.unwrap_err();
    assert_eq!(e.exit_code(), 2, "{e}");
    assert!(e.to_string().contains("paid model"), "{e}");
    assert_eq!(w.mock.stats().total_requests, 3, "nothing more was sent");
}

#[tokio::test]
async fn a_403_key_limit_makes_the_key_unusable_until_its_reset() {
    let w = World::new(&["a", "b"]).await;
    w.mock.script(vec![err(403, r#"{"error":{"message":"Key limit exceeded (daily limit). Manage it using https://openrouter.ai/settings/keys","code":403}}"#)]);
    let out = w.ask(&[R1]).await.unwrap();
    assert_eq!(out.key_id, Some(id(2)));
    let rec = w.pool.ledger().key(&id(1)).unwrap().unwrap();
    assert_eq!(rec.status, KeyStatus::SpendLimited);
    assert!(rec.status_until.is_some(), "unusable until a known time");
}

#[tokio::test]
async fn moderation_is_surfaced_without_retry_or_penalty() {
    let w = World::new(&["a", "b"]).await;
    w.mock.script(vec![err(403, r#"{"error":{"code":403,"message":"Your input was flagged for \"harassment\". No credits were charged.","metadata":{"reasons":["harassment"],"flagged_input":"x","provider_name":"OpenAI","model_slug":"openai/gpt-4o-mini"}}}"#)]);
    let e = w.ask(&[R1]).await.unwrap_err();
    assert_eq!(e.exit_code(), 5, "{e}");
    assert!(
        e.to_string().contains("harassment") || e.to_string().to_lowercase().contains("flagged"),
        "{e}"
    );
    assert_eq!(w.status(1), KeyStatus::Ok, "no key penalty");
    assert_eq!(w.mock.stats().total_requests, 1, "no retry");
}

#[tokio::test]
async fn a_bad_request_is_bad_input_without_retry_or_penalty() {
    let w = World::new(&["a"]).await;
    w.mock.script(vec![err(
        400,
        r#"{"error":{"code":400,"message":"invalid_image: the image could not be decoded"}}"#,
    )]);
    let e = w.ask(&[R1]).await.unwrap_err();
    assert_eq!(e.exit_code(), 6, "{e}");
    assert_eq!(w.status(1), KeyStatus::Ok);
    assert_eq!(w.mock.stats().total_requests, 1);
}

#[tokio::test]
async fn a_model_without_endpoints_is_skipped_for_the_day() {
    let w = World::new(&["a"]).await;
    w.mock.script(vec![err(404, r#"{"error":{"message":"No endpoints found for meta-llama/llama-3.2-11b-vision-instruct.","code":404}}"#)]);
    let out = w
        .ask(&["meta-llama/llama-3.2-11b-vision-instruct", R1])
        .await
        .unwrap();
    assert_eq!(
        out.model.as_deref(),
        Some(R1),
        "the next model of the chain answered"
    );
    assert_eq!(w.status(1), KeyStatus::Ok);
    let skipped = w.pool.ledger().skipped_models(w.pool.now()).unwrap();
    assert_eq!(
        skipped,
        vec!["meta-llama/llama-3.2-11b-vision-instruct".to_string()]
    );
    // The next request does not try it again.
    let out = w
        .ask(&["meta-llama/llama-3.2-11b-vision-instruct", R1])
        .await
        .unwrap();
    assert_eq!(out.attempts, 1);
    let last = w.mock.requests().last().cloned().unwrap();
    assert_eq!(
        last.model.as_deref(),
        Some(R1),
        "the skipped model was not sent first"
    );
}

#[tokio::test]
async fn a_per_day_429_exhausts_the_account_until_the_reset_and_moves_on() {
    let w = World::new(&["a", "a", "b"]).await;
    let reset_ms = (keywheel_core::clock::system_now() + chrono::Duration::hours(3))
        .timestamp_millis()
        .to_string();
    w.mock.script(vec![err(429, r#"{"error":{"message":"Rate limit exceeded: free-models-per-day. Add 10 credits to unlock 1000 free model requests per day","code":429}}"#)
        .with_header("X-RateLimit-Limit", "50")
        .with_header("X-RateLimit-Remaining", "0")
        .with_header("X-RateLimit-Reset", &reset_ms)]);
    let out = w.ask(&[R1]).await.unwrap();
    assert_eq!(
        out.key_id,
        Some(id(3)),
        "both keys of account a are skipped"
    );
    let states = w
        .pool
        .ledger()
        .key_states(&[id(1), id(2)], w.pool.now())
        .unwrap();
    for s in states {
        let until = s.availability.frees_at().expect("spent until a reset");
        assert_eq!(
            until.timestamp_millis().to_string(),
            reset_ms,
            "the reset from X-RateLimit-Reset is kept"
        );
    }
    assert_eq!(
        w.status(1),
        KeyStatus::Ok,
        "the key itself is not penalized"
    );
}

#[tokio::test]
async fn a_per_minute_429_backs_off_and_retries_the_same_key() {
    let w = World::new(&["a", "b"]).await;
    w.mock.script(vec![
        err(
            429,
            r#"{"error":{"message":"Rate limit exceeded: free-models-per-min. ","code":429}}"#,
        )
        .with_header("Retry-After", "0"),
    ]);
    let out = w.ask(&[R1]).await.unwrap();
    assert_eq!(out.key_id, Some(id(1)), "same key");
    assert_eq!(out.attempts, 2);
    assert_eq!(out.fallbacks, 0);
    assert_eq!(w.status(1), KeyStatus::Ok);
}

#[tokio::test]
async fn transient_failures_retry_without_penalty_then_surface_as_upstream() {
    let w = World::new(&["a"]).await;
    w.mock.script(vec![
        err(
            502,
            r#"{"error":{"code":502,"message":"Provider returned error"}}"#,
        ),
        ScriptedResponse::json(524, "<html><body>A timeout occurred</body></html>"),
    ]);
    let out = w.ask(&[R1, R1_FREE]).await.unwrap();
    assert_eq!(
        out.attempts, 3,
        "two transient failures on the first model (its limit), then the next model answered"
    );
    assert_eq!(out.model.as_deref(), Some(R1_FREE));
    assert_eq!(w.status(1), KeyStatus::Ok);

    w.mock.script(
        (0..3)
            .map(|_| {
                err(
                    503,
                    r#"{"error":{"code":503,"message":"Service temporarily unavailable"}}"#,
                )
            })
            .collect(),
    );
    let before = w.mock.stats().total_requests;
    let e = w.ask(&[R1]).await.unwrap_err();
    assert_eq!(e.exit_code(), 5, "upstream after retries: {e}");
    assert_eq!(
        w.mock.stats().total_requests - before,
        2,
        "a persistent failure costs at most 2 counted requests per model"
    );
    assert_eq!(w.status(1), KeyStatus::Ok);
    let rows = w.pool.ledger().inconsistencies().unwrap();
    assert!(rows.is_empty(), "every attempt was counted: {rows:?}");
}

#[tokio::test]
async fn an_error_inside_a_200_is_classified_like_a_status() {
    let w = World::new(&["a"]).await;
    w.mock.script(vec![err(200, r#"{"error":{"code":502,"message":"Provider returned error","metadata":{"provider_name":"Targon","raw":"timeout"}},"user_id":"user_x"}"#)]);
    let out = w.ask(&[R1]).await.unwrap();
    assert_eq!(out.attempts, 2, "retried as transient");
}

#[tokio::test]
async fn a_request_that_could_not_connect_spends_no_quota() {
    let dir = tempfile::tempdir().unwrap();
    // A port nothing listens on: bind, note it, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let settings = Settings {
        data_dir: dir.path().to_path_buf(),
        base_url: format!("http://127.0.0.1:{port}/api/v1"),
        keychain: false,
        ..Settings::default()
    };
    let pool = Pool::open(PoolOptions {
        settings,
        clock: Arc::new(SystemClock),
        store: Arc::new(MemoryStore::default()),
        env_keys: Some(key(1)),
    })
    .unwrap();
    let inst = Arc::new(pool.start_instance("test").unwrap());
    let fast = Backoff {
        base: Duration::from_millis(1),
        cap: Duration::from_millis(5),
        max_attempts: 3,
        max_total_wait: Duration::from_secs(2),
    };
    let d = Dispatcher::new(inst).unwrap().with_backoff(fast);
    let job = Job {
        kind: Kind::Chat,
        request: ChatRequest::text(R1, "hi"),
        models: ModelChoice::Pinned(vec![R1.into()]),
        stream: true,
        use_cache: false,
    };
    let e = d.run(job, |_| {}, &CancelToken::new()).await.unwrap_err();
    assert_eq!(e.exit_code(), 5);
    assert!(e.to_string().contains("no quota was spent"), "{e}");
    assert_eq!(
        pool.ledger().requests_today(&id(1), pool.now()).unwrap(),
        0,
        "nothing counted"
    );
    assert!(pool.ledger().inconsistencies().unwrap().is_empty());
}

#[tokio::test]
async fn an_error_spike_alerts_once() {
    let w = World::new(&["a"]).await;
    let e503 = || {
        err(
            503,
            r#"{"error":{"code":503,"message":"Service temporarily unavailable"}}"#,
        )
    };
    w.mock.script((0..5).map(|_| e503()).collect());
    let _ = w.ask(&[R1]).await; // 2 attempts, both failed (one model gets at most 2)
    let _ = w.ask(&[R1]).await; // 2 more
    let out = w.ask(&[R1]).await.unwrap(); // a fifth failure, then an answer
    assert_eq!(out.attempts, 2);
    let alerts = w.pool.ledger().alerts(1, w.pool.now()).unwrap();
    let spikes: Vec<_> = alerts.iter().filter(|a| a.rule == "error_spike").collect();
    assert_eq!(spikes.len(), 1, "{alerts:?}");
    assert!(
        spikes[0].message.contains("5 of the last"),
        "{}",
        spikes[0].message
    );
}
