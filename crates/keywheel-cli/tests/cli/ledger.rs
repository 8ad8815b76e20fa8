//! `keywheel ledger status | migrate`, and a team ledger (PostgreSQL) that cannot be reached:
//! every command gives up with exit 7 and a sentence naming host:port, never the password,
//! and never falls back to the local file (docs/team.md).

use keywheel_testkit::files::all_bytes_under;
use keywheel_testkit::keys::fake_key as key;
use keywheel_testkit::world::{Sandbox, keywheel_bin};

const PASSWORD: &str = "pw-canary-8c1f0e";

#[test]
fn an_unreachable_team_ledger_is_exit_7_naming_host_and_port_without_the_password() {
    let sandbox = Sandbox::new();
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://keywheel:{PASSWORD}@127.0.0.1:{port}/team");
    for args in [
        &["status"][..],
        &["ledger", "status"],
        &["--json", "keys", "list"],
    ] {
        let out = sandbox
            .command(keywheel_bin())
            .env("KEYWHEEL_KEYCHAIN", "off")
            .env("OPENROUTER_API_KEYS", key(1))
            .env("KEYWHEEL_LEDGER_URL", &url)
            .env("KEYWHEEL_LEDGER_CONNECT_TIMEOUT_SECS", "3")
            .args(args)
            .output()
            .unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert_eq!(out.status.code(), Some(7), "{args:?}: {stderr}");
        let said = format!("{stdout}{stderr}");
        assert!(
            said.contains(&format!("127.0.0.1:{port}")),
            "{args:?}: {said}"
        );
        assert!(said.contains("cannot be reached"), "{args:?}: {said}");
        assert!(
            !said.contains(PASSWORD),
            "{args:?}: the password was shown: {said}"
        );
    }
    // No local ledger was made in its place, and the password is nowhere on disk.
    assert!(!sandbox.data_dir().join("keywheel.sqlite3").exists());
    let on_disk = all_bytes_under(sandbox.home());
    assert!(
        !on_disk
            .windows(PASSWORD.len())
            .any(|w| w == PASSWORD.as_bytes()),
        "the password reached a file under the home"
    );
}

#[test]
fn a_bad_ledger_url_is_a_usage_error_without_its_password() {
    let sandbox = Sandbox::new();
    let out = sandbox
        .command(keywheel_bin())
        .env("KEYWHEEL_KEYCHAIN", "off")
        .env(
            "KEYWHEEL_LEDGER_URL",
            format!("mysql://kw:{PASSWORD}@db/team"),
        )
        .args(["ledger", "status"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("not a PostgreSQL URL"), "{stderr}");
    assert!(!stderr.contains(PASSWORD), "{stderr}");
}

#[test]
fn ledger_status_names_the_local_file_and_its_schema() {
    let sandbox = Sandbox::new();
    let run = |args: &[&str]| {
        let out = sandbox
            .command(keywheel_bin())
            .env("KEYWHEEL_KEYCHAIN", "off")
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let text = run(&["ledger", "status"]);
    assert!(text.contains("local ledger (sqlite)"), "{text}");
    assert!(text.contains("keywheel.sqlite3"), "{text}");
    let v: serde_json::Value =
        serde_json::from_str(&run(&["--json", "ledger", "migrate"])).unwrap();
    assert_eq!(v["backend"], "sqlite");
    let status: serde_json::Value =
        serde_json::from_str(&run(&["--json", "ledger", "status"])).unwrap();
    assert_eq!(
        status["schema_version"], status["known_schema_version"],
        "{status}"
    );
    assert_eq!(
        status["machines"].as_array().map(Vec::len),
        Some(1),
        "{status}"
    );
}

/// A database of its own on the test server (`KEYWHEEL_TEST_PG_URL`, set by
/// `scripts/with-postgres.sh`); its URL.
pub(crate) fn team_database() -> String {
    keywheel_testkit::pg::team_database("kw_cli")
}

#[test]
fn two_machines_on_one_team_ledger_share_one_days_count_exactly() {
    use keywheel_mock::MockConfig;
    use keywheel_testkit::keys::key_id;
    use keywheel_testkit::world::World;

    let url = team_database();
    let w = World::new(1, MockConfig::default())
        .with("KEYWHEEL_DAILY_CAP", "5")
        .with("KEYWHEEL_LEDGER_URL", &url);
    let machine = |name: &str, args: &[&str]| {
        let mut c = w.cmd(args);
        c.env("KEYWHEEL_MACHINE", name)
            .env("KEYWHEEL_DATA_DIR", w.path(name));
        c
    };
    // Two machines, each with its own data directory, ask 4 times each at once: 8 asks for
    // the key's 5 requests of the day.
    let runs: Vec<_> = (0..8)
        .map(|i| {
            let name = if i % 2 == 0 { "laptop-a" } else { "build-b" };
            machine(name, &["ask", "--json", &format!("question {i}")])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut codes = Vec::new();
    let mut said = String::new();
    for r in runs {
        let out = r.wait_with_output().unwrap();
        codes.push(out.status.code());
        said.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    assert_eq!(
        codes.iter().filter(|c| **c == Some(0)).count(),
        5,
        "exactly the day's 5 answered across both machines: {codes:?}\n{said}"
    );
    assert_eq!(
        codes.iter().filter(|c| **c == Some(3)).count(),
        3,
        "the rest exit 3 (quota): {codes:?}\n{said}"
    );
    let id = key_id(&w.keys[0]);
    assert_eq!(w.mock.stats().keys[&id].requests, 5, "the mock saw 5");
    // Either machine reads the same count from the team ledger.
    for name in ["laptop-a", "build-b"] {
        let out = machine(name, &["usage", "--json", "--days", "1"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let usage: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let row = usage["usage"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["key_id"] == id)
            .unwrap_or_else(|| panic!("{name}: {usage}"));
        assert_eq!(row["requests"], 5, "{name}: {usage}");
        // No count lives in a local file in team mode.
        assert!(
            !w.path(name).join("keywheel.sqlite3").exists(),
            "{name} made a local ledger"
        );
    }
}
