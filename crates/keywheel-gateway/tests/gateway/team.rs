//! A gateway on a team ledger (docs/team.md), on a machine that does not hold the pool's
//! current key: the real `keywheel serve`, its own data dir and keys, one team database and
//! one keywheel-mock shared with another "machine". The core's sentence for that start
//! (`Adoption::sentence`) is in `GET /v1/keywheel/status`'s `notes` — the server's own
//! instance, and each session's — and in the gateway's log at warn.
//!
//! Run: `bash scripts/with-postgres.sh cargo test -p keywheel-gateway --test gateway team::`.

use keywheel_mock::MockConfig;
use keywheel_testkit::files::files_under;
use keywheel_testkit::keys::key_id;
use keywheel_testkit::output::{json, succeeded};
use keywheel_testkit::pg::team_database;

use crate::common::{World, chat_body, get_json, http};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_machine_without_the_current_key_says_so_in_status_notes_and_its_log() {
    let url = team_database("kw_gateway");
    let mut w = World::new(3, 100, MockConfig::default());
    w.kit = w.kit.with("KEYWHEEL_LEDGER_URL", &url);
    // Machine A holds every key; its ask makes one of them the pool's current key.
    let out = succeeded(
        w.cmd(&["ask", "--json", "hello"])
            .env("KEYWHEEL_MACHINE", "machine-a")
            .env("KEYWHEEL_DATA_DIR", w.path("machine-a"))
            .output()
            .unwrap(),
    );
    let current = json(&out)["key_id"].as_str().unwrap().to_string();
    // Machine B serves with the other two keys only.
    let own: Vec<&str> = w
        .keys
        .iter()
        .filter(|k| key_id(k) != current)
        .map(String::as_str)
        .collect();
    let served = w.serve_with(&[
        ("KEYWHEEL_MACHINE", "machine-b".to_string()),
        (
            "KEYWHEEL_DATA_DIR",
            w.path("machine-b").display().to_string(),
        ),
        ("OPENROUTER_API_KEYS", own.join(",")),
    ]);
    let status_url = format!("{}/keywheel/status", served.base());
    let status = get_json(&status_url, &served.token).await;
    let used = status["gateway"]["key_id"].as_str().unwrap().to_string();
    assert_ne!(used, current, "B cannot use a key it does not hold");
    let sentence = format!(
        "this machine does not hold the pool's current key {current}; using its own least-used \
         key {used}"
    );
    assert_eq!(status["notes"], serde_json::json!([sentence]), "{status}");
    assert_eq!(
        status["current_key"].as_str(),
        Some(current.as_str()),
        "B leaves the team's key alone"
    );

    // A session's instance starts the same way and says so too, under its id.
    let r = http()
        .post(format!("{}/chat/completions", served.base()))
        .bearer_auth(&served.token)
        .header("x-keywheel-session", "worker-1")
        .json(&chat_body("hello from a session", false))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let status = get_json(&status_url, &served.token).await;
    let sessions = status["gateway"]["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1, "{status}");
    let session_key = sessions[0]["key_id"].as_str().unwrap();
    let session_sentence = format!(
        "this machine does not hold the pool's current key {current}; using its own least-used \
         key {session_key}"
    );
    assert_eq!(
        sessions[0]["note"].as_str(),
        Some(session_sentence.as_str())
    );
    let notes: Vec<&str> = status["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert_eq!(
        notes,
        [
            sentence.clone(),
            format!("session worker-1: {session_sentence}")
        ],
        "{status}"
    );

    let (code, _, stderr) = served.terminate();
    assert!(code.success(), "{stderr}");
    let logs: String = files_under(&w.path("machine-b").join("logs"))
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .collect();
    let warned = |sentence: &str| {
        logs.lines()
            .any(|l| l.contains("\"WARN\"") && l.contains(sentence))
    };
    assert!(warned(&sentence), "the server's instance, at warn: {logs}");
    assert!(warned(&session_sentence), "the session's, at warn: {logs}");
}
