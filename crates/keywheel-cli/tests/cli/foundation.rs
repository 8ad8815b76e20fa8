//! The `keywheel` binary end to end: keys, status, usage, exit codes, and that no key material
//! reaches any output or the ledger file. Each test gets its own data dir.

use std::path::Path;
use std::process::Output;

use assert_cmd::Command;
use keywheel_testkit::files::all_bytes_under;
use keywheel_testkit::keys::{
    assert_no_key_material, fake_key as key, random_fake_key as random_key,
};
use keywheel_testkit::output::json;
use keywheel_testkit::world::{Sandbox, keywheel_bin};

/// A temporary home without a mock; the keys are given per command.
struct Env {
    sandbox: Sandbox,
}

impl Env {
    fn new() -> Self {
        Self {
            sandbox: Sandbox::new(),
        }
    }

    /// `keywheel` in the sandbox's clean environment with these keys; with `keychain`, the
    /// keychain on and the D-Bus session passed through.
    fn cmd(&self, keys: &str, keychain: bool) -> Command {
        let mut c = self.sandbox.command(keywheel_bin());
        c.env("KEYWHEEL_KEYCHAIN", if keychain { "on" } else { "off" })
            .env("OPENROUTER_API_KEYS", keys);
        if keychain {
            for v in [
                "DBUS_SESSION_BUS_ADDRESS",
                "XDG_RUNTIME_DIR",
                "XDG_DATA_HOME",
            ] {
                if let Ok(val) = std::env::var(v) {
                    c.env(v, val);
                }
            }
        }
        Command::from_std(c)
    }

    fn run(&self, keys: &str, args: &[&str]) -> Output {
        self.cmd(keys, false).args(args).output().unwrap()
    }

    /// The temporary home (the data dir is `data/` inside it).
    fn data(&self) -> &Path {
        self.sandbox.home()
    }
}

#[test]
fn env_keys_are_listed_masked_with_ids_and_never_written_in_full() {
    let env = Env::new();
    let keys = format!("{},{}", key(1), key(2));
    let out = env.run(&keys, &["keys", "list", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    let list = v.as_array().expect("keys list --json is an array");
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["masked"], "sk-or-v1-…0101");
    assert_eq!(list[0]["source"], "env");
    assert_eq!(list[0]["id"].as_str().unwrap().len(), 12);
    assert_eq!(list[0]["today"], 0);
    assert_eq!(list[0]["daily_cap"], 50);

    let text = env.run(&keys, &["keys", "list"]);
    let status = env.run(&keys, &["status", "--json"]);
    let usage = env.run(&keys, &["usage", "--json"]);
    for (name, o) in [("keys list", &text), ("status", &status), ("usage", &usage)] {
        assert!(
            o.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        for k in [key(1), key(2)] {
            assert_no_key_material(&o.stdout, &k, name);
            assert_no_key_material(&o.stderr, &k, name);
        }
    }
    for k in [key(1), key(2)] {
        assert_no_key_material(&all_bytes_under(env.data()), &k, "the data dir");
    }
    let s = json(&status);
    assert!(
        s["resets_in"].as_str().is_some(),
        "status names the time to the UTC reset"
    );
    assert_eq!(s["keys"].as_array().unwrap().len(), 2);
    let u = json(&usage);
    assert_eq!(u["days"], 7);
    assert_eq!(u["day_list"].as_array().unwrap().len(), 7);
}

#[test]
fn caps_labels_and_enable_disable_round_trip() {
    let env = Env::new();
    let k = key(3);
    let list = json(&env.run(&k, &["keys", "list", "--json"]));
    let id = list[0]["id"].as_str().unwrap().to_string();
    let out = env.run(
        &k,
        &[
            "keys",
            "set",
            &id[..6],
            "--daily-cap",
            "30",
            "--minute-cap",
            "5",
            "--account",
            "acme",
            "--label",
            "work",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = env.run(&k, &["keys", "disable", &id]);
    assert!(out.status.success());
    let v = json(&env.run(&k, &["keys", "list", "--json"]));
    assert_eq!(v[0]["daily_cap"], 30);
    assert_eq!(v[0]["minute_cap"], 5);
    assert_eq!(v[0]["account"], "acme");
    assert_eq!(v[0]["label"], "work");
    assert_eq!(v[0]["enabled"], false);
    assert!(env.run(&k, &["keys", "enable", &id]).status.success());
    assert_eq!(
        json(&env.run(&k, &["keys", "list", "--json"]))[0]["enabled"],
        true
    );
}

#[test]
fn wrong_use_exits_2_with_a_sentence_and_json_error() {
    let env = Env::new();
    let out = env.run(&key(4), &["keys", "disable", "ffffffffffff", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let v = json(&out);
    assert_eq!(v["error"]["code"], "usage");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("keywheel keys list")
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("no key has the id"));

    let out = env.run(&key(4), &["keys", "set", "abcd", "--daily-cap", "0"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a cap of 0 is refused by the parser"
    );
    let out = env.run(&key(4), &["bogus"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_bad_key_on_add_exits_6_and_stores_nothing() {
    let env = Env::new();
    for bad in [
        "",
        "hello",
        "sk-or-v1-1234",
        &format!("{}zz", &key(5)[..71]),
    ] {
        let out = env
            .cmd("", false)
            .args(["keys", "add", "--json"])
            .write_stdin(bad)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(6),
            "input {bad:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(json(&out)["error"]["code"], "bad_input");
    }
    let list = json(&env.run("", &["keys", "list", "--json"]));
    assert_eq!(list.as_array().unwrap().len(), 0, "nothing was stored");
}

#[test]
fn without_a_keychain_add_says_what_to_do_and_env_keys_still_work() {
    let env = Env::new();
    let mut c = env.cmd(&key(6), true);
    // No session bus at all: the Secret Service cannot be reached.
    c.env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus");
    let out = c
        .args(["keys", "add"])
        .write_stdin(random_key())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("keychain") && err.contains("gnome-keyring"),
        "{err}"
    );
    assert_eq!(
        err.lines().filter(|l| l.contains("warning")).count(),
        1,
        "one warning line: {err}"
    );

    let mut c = env.cmd(&key(6), true);
    c.env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus");
    let out = c.args(["keys", "list", "--json"]).output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        json(&out).as_array().unwrap().len(),
        1,
        "the env key still works"
    );
}

/// Keys stored through the real Secret Service (gnome-keyring). `make test` runs this inside
/// `dbus-run-session` with an unlocked daemon and sets KEYWHEEL_TEST_KEYCHAIN=1 so it cannot
/// silently pass without one.
#[test]
fn keychain_round_trip_through_the_secret_service() {
    if std::env::var("KEYWHEEL_TEST_KEYCHAIN").as_deref() != Ok("1") {
        eprintln!(
            "SKIPPED keychain_round_trip: set KEYWHEEL_TEST_KEYCHAIN=1 inside a dbus session with gnome-keyring (make test does)"
        );
        return;
    }
    let env = Env::new();
    let k = random_key();
    let out = env
        .cmd("", true)
        .args(["keys", "add", "--label", "ci", "--json"])
        .write_stdin(format!("{k}\n"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = json(&out)["id"].as_str().unwrap().to_string();
    assert_no_key_material(&out.stdout, &k, "keys add output");

    // The keychain itself holds it.
    let found = std::process::Command::new("secret-tool")
        .args(["lookup", "service", "keywheel", "username", &id])
        .output()
        .expect("secret-tool is installed (libsecret-tools)");
    assert_eq!(
        String::from_utf8_lossy(&found.stdout).trim(),
        k,
        "secret-tool sees the stored key"
    );

    let list = env
        .cmd("", true)
        .args(["keys", "list", "--json"])
        .output()
        .unwrap();
    let v = json(&list);
    assert_eq!(v[0]["source"], "keychain");
    assert_eq!(
        v[0]["available"], true,
        "the key was read back from the keychain"
    );
    assert_eq!(v[0]["label"], "ci");
    assert_no_key_material(&list.stdout, &k, "keys list output");
    assert_no_key_material(&all_bytes_under(env.data()), &k, "the data dir");

    // Use it: an ask against keywheel-mock sends with the key read from the keychain.
    let mock = keywheel_mock::start_blocking(keywheel_mock::MockConfig::default()).unwrap();
    let asked = env
        .cmd("", true)
        .args(["ask", "--json", "hello from the keychain"])
        .env("OPENROUTER_BASE_URL", mock.base_url())
        .output()
        .unwrap();
    assert!(
        asked.status.success(),
        "{}",
        String::from_utf8_lossy(&asked.stderr)
    );
    assert_eq!(
        json(&asked)["key_id"],
        id.as_str(),
        "the keychain key answered"
    );
    assert_eq!(
        mock.stats().keys[&id].served,
        1,
        "the mock saw the keychain key"
    );
    assert_no_key_material(&asked.stdout, &k, "ask output");

    let rm = env
        .cmd("", true)
        .args(["keys", "rm", &id])
        .output()
        .unwrap();
    assert!(
        rm.status.success(),
        "{}",
        String::from_utf8_lossy(&rm.stderr)
    );
    let gone = std::process::Command::new("secret-tool")
        .args(["lookup", "service", "keywheel", "username", &id])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&gone.stdout).trim().is_empty(),
        "rm deleted the keychain entry"
    );
    let v = json(
        &env.cmd("", true)
            .args(["keys", "list", "--json"])
            .output()
            .unwrap(),
    );
    assert_eq!(v.as_array().unwrap().len(), 0);
}

/// Issue 15 §11: sentences never echo a key, and key-shaped labels are refused.
#[test]
fn sentences_never_echo_a_key_and_key_shaped_labels_are_refused() {
    let env = Env::new();
    let k = random_key();
    for args in [
        vec!["keys", "rm", k.as_str()],
        vec!["keys", "disable", k.as_str()],
        vec!["--json", "keys", "rm", k.as_str()],
    ] {
        let out = env.run(&key(1), &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_no_key_material(&out.stdout, &k, "stdout");
        assert_no_key_material(&out.stderr, &k, "stderr");
        assert!(String::from_utf8_lossy(&out.stderr).contains("sk-or-[REDACTED]"));
    }
    for label in [k.clone(), k["sk-or-v1-".len()..].to_string()] {
        let out = env
            .cmd("", false)
            .args(["keys", "add", "--label", &label])
            .write_stdin(random_key())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("looks like an API key"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_no_key_material(&out.stderr, &k, "stderr");
    }
    let out = env.run(&key(1), &["keys", "set", "aaaa", "--account", &k]);
    assert_eq!(out.status.code(), Some(2));
    assert_no_key_material(&out.stderr, &k, "stderr");

    // A config type error quoting a key does not print it either.
    let cfg = env.data().join("config.toml");
    std::fs::write(&cfg, format!("daily_cap = \"{k}\"\n")).unwrap();
    let out = env
        .cmd(&key(1), false)
        .env("KEYWHEEL_CONFIG", &cfg)
        .args(["status"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_no_key_material(&out.stderr, &k, "stderr");
}

/// Issue 15 §8: settings that parse but cannot work exit 2 with a sentence, never a panic.
#[test]
fn bad_settings_exit_2_with_a_sentence() {
    let env = Env::new();
    let cfg = env.data().join("config.toml");
    let cases: [(&str, &str, &str); 6] = [
        ("chat_models = []\n", "", "chat model chain"),
        (
            "cache_ttl_hours = 9223372036854775807\n",
            "",
            "cache_ttl_hours",
        ),
        (
            "instance_ttl_secs = 9223372036854775807\n",
            "",
            "instance_ttl_secs",
        ),
        ("", "KEYWHEEL_KEYCHAIN=maybe", "neither on nor off"),
        ("", "KEYWHEEL_LOG=keywheel_core=loud", "log filter"),
        (
            "",
            "KEYWHEEL_CONFIG=/nonexistent/keywheel.toml",
            "KEYWHEEL_CONFIG names",
        ),
    ];
    for (file, var, says) in cases {
        std::fs::write(&cfg, file).unwrap();
        let mut c = env.cmd(&key(1), false);
        c.env("KEYWHEEL_CONFIG", &cfg);
        if let Some((k, v)) = var.split_once('=') {
            c.env(k, v);
        }
        let out = c.args(["status"]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{says}: {err}");
        assert!(err.contains(says), "want {says:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// `keywheel ask` against keywheel-mock, sharing `env`'s data dir.
fn ask(env: &Env, mock: &keywheel_mock::MockServer, args: &[&str], stdin: &[u8]) -> Output {
    env.cmd(&key(1), false)
        .env("OPENROUTER_BASE_URL", mock.base_url())
        .arg("ask")
        .args(args)
        .write_stdin(stdin.to_vec())
        .output()
        .unwrap()
}

#[test]
fn a_prompt_over_the_limit_or_not_utf8_exits_6_and_spends_nothing() {
    let env = Env::new();
    let mock = keywheel_mock::start_blocking(keywheel_mock::MockConfig::default()).unwrap();
    let limit = keywheel_core::input::MAX_PROMPT_BYTES;
    let cases: [(&str, Vec<u8>); 3] = [
        ("not UTF-8", b"what is \xff\xfe this?".to_vec()),
        ("over the limit", vec![b'a'; limit + 1]),
        ("far over the limit", vec![b'a'; limit * 4]),
    ];
    for (what, bytes) in &cases {
        let out = ask(&env, &mock, &["-"], bytes);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(6), "{what}: {err}");
        assert!(
            err.contains("standard input") && (err.contains("UTF-8") || err.contains("limit")),
            "{what}: {err}"
        );
    }
    assert_eq!(mock.stats().total_requests, 0, "nothing reached the mock");
    let usage = json(&env.run(&key(1), &["usage", "--json", "--days", "2"]));
    let spent: u64 = usage["usage"]
        .as_array()
        .map(|rows| rows.iter().filter_map(|r| r["requests"].as_u64()).sum())
        .unwrap_or(0);
    assert_eq!(spent, 0, "no quota was reserved: {usage}");
    // At the limit is fine.
    let out = ask(&env, &mock, &["-"], "é".repeat(limit / 2).as_bytes());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_data_dir_is_private_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let mock = keywheel_mock::start_blocking(keywheel_mock::MockConfig::default()).unwrap();
    // A data dir that already exists, open to everyone, as an older Keywheel left it.
    let data = env.data().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    // assert_cmd cannot set a umask: a shell sets 022, then runs keywheel.
    let shell = |args: &str| {
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("umask 022 && exec \"$0\" {args}"))
            .arg(assert_cmd::cargo::cargo_bin("keywheel"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", env.data())
            .env("KEYWHEEL_DATA_DIR", &data)
            .env("KEYWHEEL_CONFIG", "")
            .env("KEYWHEEL_KEYCHAIN", "off")
            .env("OPENROUTER_API_KEYS", key(1))
            .env("OPENROUTER_BASE_URL", mock.base_url())
            .output()
            .unwrap();
        assert!(
            status.status.success(),
            "keywheel {args}: {}",
            String::from_utf8_lossy(&status.stderr)
        );
    };
    shell("ask 'a question'");
    shell("status");
    let mut seen = Vec::new();
    let mut stack = vec![data.clone()];
    while let Some(dir) = stack.pop() {
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{} is {mode:o}", dir.display());
        for entry in std::fs::read_dir(&dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "{} is {mode:o}", p.display());
                seen.push(p.file_name().unwrap().to_string_lossy().into_owned());
            }
        }
    }
    assert!(
        seen.iter().any(|n| n.ends_with(".sqlite3")) && seen.iter().any(|n| n.ends_with(".jsonl")),
        "the ledger and a log were checked: {seen:?}"
    );
}
