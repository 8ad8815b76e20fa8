//! `keywheel ledger export | keywheel ledger import --to postgres://…` (docs/team.md,
//! "Moving over"): one machine's history — keys metadata (never a key), accounts, day totals,
//! the request log — into a team ledger, idempotently, in one transaction; a bad or cut-short
//! stream is exit 6 and writes nothing. And the team line of `keywheel status`.
//! Run under `bash scripts/with-postgres.sh`.

use std::process::{Command, Output, Stdio};

use keywheel_mock::MockConfig;
use keywheel_testkit::keys::{assert_no_key_material, key_id};
use keywheel_testkit::output::{json, stderr, stdout};
use keywheel_testkit::world::World;

/// A database of its own on the test server (`KEYWHEEL_TEST_PG_URL`); its URL.
pub(crate) fn team_database() -> String {
    keywheel_testkit::pg::team_database("kw_move")
}

/// Runs SQL with `psql` (installed with the server); its rows, unaligned.
pub(crate) fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .arg(url)
        .args(["-v", "ON_ERROR_STOP=1", "-qAtc"])
        .arg(sql)
        .output()
        .expect("psql runs (scripts/with-postgres.sh installs it)");
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A machine with history: three answered asks on its own SQLite ledger, exported.
fn machine_with_history() -> (World, Vec<u8>) {
    let w = World::new(1, MockConfig::default()).with("KEYWHEEL_MACHINE", "laptop-anna");
    for i in 0..3 {
        let out = w.cmd(&["ask", &format!("question {i}")]).output().unwrap();
        assert!(out.status.success(), "ask {i}: {}", stderr(&out));
    }
    let out = w.cmd(&["ledger", "export"]).output().unwrap();
    assert!(out.status.success(), "export: {}", stderr(&out));
    assert!(stderr(&out).contains("3 request(s)"), "{}", stderr(&out));
    (w, out.stdout)
}

fn import(w: &World, url: &str, stream: &[u8]) -> Output {
    let mut child = w
        .cmd(&["--json", "ledger", "import", "--to", url])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(stream).unwrap();
    child.wait_with_output().unwrap()
}

fn counts(url: &str) -> String {
    psql(
        url,
        "SELECT (SELECT count(*) FROM keys) || ' ' || (SELECT count(*) FROM requests) || ' ' ||
                (SELECT COALESCE(sum(requests), 0) FROM usage_daily)",
    )
}

#[test]
fn an_export_imported_twice_adds_its_history_once_and_usage_shows_it() {
    let (w, stream) = machine_with_history();
    let text = String::from_utf8(stream.clone()).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"header"), "{text}");
    assert_eq!(kinds.last(), Some(&"end"), "{text}");
    assert_eq!(kinds.iter().filter(|k| **k == "key").count(), 1, "{text}");
    assert_eq!(
        kinds.iter().filter(|k| **k == "request").count(),
        3,
        "{text}"
    );
    assert_eq!(lines[0]["machine"], "laptop-anna");
    // Metadata only: the key's id and masked form, never the key.
    assert_no_key_material(&stream, &w.keys[0], "the export");
    let export_file = w.write("history.jsonl", &stream);

    let url = team_database();
    let first = import(&w, &url, &stream);
    assert!(first.status.success(), "{}", stderr(&first));
    let said = json(&first);
    assert_eq!(said["imported"]["keys"], 1, "{said}");
    assert_eq!(said["imported"]["requests"], 3, "{said}");
    assert_eq!(said["imported"]["usage"], 1, "{said}");
    let after_first = counts(&url);
    assert_eq!(after_first, "1 3 3");

    // The same history again (from the file this time): nothing changes.
    let out = w
        .cmd(&["ledger", "import", "--to", &url, &export_file])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("all of it was there already"),
        "{}",
        stdout(&out)
    );
    assert_eq!(counts(&url), after_first);

    // `keywheel usage` on the team ledger shows the machine's three requests.
    let out = w
        .cmd(&["usage", "--json", "--days", "1"])
        .env("KEYWHEEL_LEDGER_URL", &url)
        .env("KEYWHEEL_MACHINE", "build-server")
        .env("KEYWHEEL_DATA_DIR", w.path("build-server"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let usage = json(&out);
    let id = key_id(&w.keys[0]);
    let row = usage["usage"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key_id"] == id)
        .unwrap_or_else(|| panic!("{usage}"));
    assert_eq!(row["requests"], 3, "{usage}");

    // More history on the machine later: only what is new is added.
    let out = w.cmd(&["ask", "one more"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = w.cmd(&["ledger", "export"]).output().unwrap();
    let again = import(&w, &url, &out.stdout);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(json(&again)["imported"]["requests"], 1);
    assert_eq!(counts(&url), "1 4 4");
    let bad = psql(
        &url,
        "SELECT count(*) FROM usage_daily u WHERE u.requests <>
           (SELECT count(*) FROM requests r WHERE r.key_id = u.key_id AND r.day = u.day AND NOT r.cached)",
    );
    assert_eq!(bad, "0", "day totals equal the counted rows");
}

#[test]
fn a_cut_short_or_damaged_export_is_exit_6_and_writes_nothing() {
    let (w, stream) = machine_with_history();
    let url = team_database();
    let text = String::from_utf8(stream.clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();

    // Cut short: the end line is missing.
    let cut = lines[..lines.len() - 1].join("\n");
    let out = import(&w, &url, cut.as_bytes());
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    assert!(stderr(&out).contains("cut short"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("nothing was imported"),
        "{}",
        stderr(&out)
    );

    // A damaged line in the middle: named by its number.
    let mut damaged: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    let at = damaged.len() - 2;
    damaged[at] = damaged[at].replace("\"started_ms\":", "\"started_ms\":\"x");
    let out = import(&w, &url, damaged.join("\n").as_bytes());
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("line {}", at + 1)),
        "{}",
        stderr(&out)
    );

    // Not an export at all.
    let out = import(&w, &url, b"hello\n");
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));

    // Nothing was half-written: the team ledger (migrated by the first attempt) is empty.
    assert_eq!(counts(&url), "0 0 0");
    // And the whole stream still imports afterwards.
    let out = import(&w, &url, &stream);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(counts(&url), "1 3 3");
}

#[test]
fn status_on_a_team_ledger_shows_the_team_line_and_its_machines() {
    let url = team_database();
    let w = World::new(1, MockConfig::default()).with("KEYWHEEL_LEDGER_URL", &url);
    let out = w.cmd(&["ledger", "migrate"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // Three live instances on two machines (heartbeats now, by the server's clock).
    psql(
        &url,
        "INSERT INTO instances (id, pid, kind, started_ms, heartbeat_ms, host)
         SELECT 'i' || n, n, 'app', t, t, CASE WHEN n = 1 THEN 'laptop-anna' ELSE 'build-server' END
         FROM generate_series(1, 3) n,
              (SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS t) now",
    );
    let out = w.cmd(&["status"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let (_, shown) = url.rsplit_once('@').unwrap();
    let said = stdout(&out);
    assert!(
        said.contains(&format!(
            "team ledger: {shown} — 2 machines, 3 instances live\n  build-server: 2 instances live\n  laptop-anna: 1 instance live\n"
        )),
        "{said}"
    );
    let out = w.cmd(&["--json", "status"]).output().unwrap();
    let v = json(&out);
    assert_eq!(
        v["team_ledger"]["machines"][1]["host"], "laptop-anna",
        "{v}"
    );
    assert_eq!(
        v["team_ledger"]["sentence"],
        format!("team ledger: {shown} — 2 machines, 3 instances live"),
        "{v}"
    );
    let out = w.cmd(&["ledger", "status"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with(&format!(
            "team ledger: {shown} — 2 machines, 3 instances live\n  build-server: 2 instances live\n"
        )),
        "{}",
        stdout(&out)
    );
}
