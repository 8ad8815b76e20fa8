//! The team ledger's password and TLS from the command line (docs/team.md, "Security"): a
//! `ledger_url` without a password takes it from `PGPASSFILE` (mode 0600; a file others may
//! read is refused with a sentence) or from the keychain (`keywheel ledger password` reads it
//! from stdin); the password is never on the command line, the screen, a log or a file under
//! the home; `sslmode=require` of a server without TLS is exit 7. Run under
//! `bash scripts/with-postgres.sh` (and `scripts/with-keyring.sh` for the keychain test).

use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;

use keywheel_testkit::files::all_bytes_under;
use keywheel_testkit::output::{stderr, stdout};
use keywheel_testkit::world::{Sandbox, keywheel_bin};

use crate::ledger_move::{psql, team_database};

/// A role with a password that owns a fresh database: (URL without the password, password).
fn role_with_password() -> (String, String) {
    let url = team_database();
    let suffix = format!("{:08x}", rand::random::<u32>());
    let (role, password) = (format!("kw_pw_{suffix}"), format!("pw-canary-{suffix}"));
    let db = url.rsplit_once('/').unwrap().1.to_string();
    psql(
        &url,
        &format!(
            "CREATE ROLE {role} LOGIN PASSWORD '{password}'; ALTER DATABASE {db} OWNER TO {role}"
        ),
    );
    let (_, host) = url.split_once('@').unwrap();
    (format!("postgres://{role}@{host}"), password)
}

fn no_password_anywhere(sandbox: &Sandbox, said: &str, password: &str) {
    assert!(!said.contains(password), "the password was shown: {said}");
    let on_disk = all_bytes_under(&sandbox.data_dir());
    assert!(
        !on_disk
            .windows(password.len())
            .any(|w| w == password.as_bytes()),
        "the password reached a file in the data dir (a log?)"
    );
}

#[test]
fn a_password_from_pgpassfile_opens_the_team_ledger_and_a_readable_file_is_refused() {
    let (url, password) = role_with_password();
    let sandbox = Sandbox::new();
    let (_, rest) = url.split_once("://").unwrap();
    let (user, hostdb) = rest.split_once('@').unwrap();
    let (hostport, db) = hostdb.split_once('/').unwrap();
    let (host, port) = hostport.split_once(':').unwrap();
    let passfile = sandbox.path("pgpass");
    std::fs::write(
        &passfile,
        format!("# team\nother:1:x:y:wrong\n{host}:{port}:{db}:{user}:{password}\n"),
    )
    .unwrap();
    std::fs::set_permissions(&passfile, std::fs::Permissions::from_mode(0o600)).unwrap();
    let run = |args: &[&str]| {
        sandbox
            .command(keywheel_bin())
            .env("KEYWHEEL_LEDGER_URL", &url)
            .env("PGPASSFILE", &passfile)
            .env("KEYWHEEL_LOG", "debug")
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["ledger", "status"]);
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert!(out.status.success(), "{said}");
    assert!(said.starts_with("team ledger: "), "{said}");
    no_password_anywhere(&sandbox, &said, &password);

    // Readable by others: refused, with the fix, before any connection.
    std::fs::set_permissions(&passfile, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = run(&["ledger", "status"]);
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains("chmod 600"), "{said}");
    no_password_anywhere(&sandbox, &said, &password);

    // Without any password source the server refuses, and the sentence says so.
    let out = sandbox
        .command(keywheel_bin())
        .env("KEYWHEEL_LEDGER_URL", &url)
        .env("PGPASSFILE", sandbox.path("none"))
        .args(["ledger", "status"])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("password"), "{}", stderr(&out));
}

#[test]
fn a_password_stored_with_ledger_password_comes_from_the_keychain() {
    if std::env::var("KEYWHEEL_IN_KEYRING").as_deref() != Ok("1") {
        panic!(
            "this test needs a Secret Service keychain: run it under `bash scripts/with-keyring.sh \
             bash scripts/with-postgres.sh cargo test -p keywheel-cli --test cli ledger_secure::`"
        );
    }
    let (url, password) = role_with_password();
    let sandbox = Sandbox::new();
    let keyring_env = |c: &mut std::process::Command| {
        for k in [
            "DBUS_SESSION_BUS_ADDRESS",
            "XDG_RUNTIME_DIR",
            "XDG_DATA_HOME",
        ] {
            if let Ok(v) = std::env::var(k) {
                c.env(k, v);
            }
        }
        c.env("KEYWHEEL_KEYCHAIN", "on")
            .env("KEYWHEEL_LEDGER_URL", &url)
            .env("PGPASSFILE", sandbox.path("none"))
            .env("KEYWHEEL_LOG", "debug");
    };
    let mut store = sandbox.command(keywheel_bin());
    keyring_env(&mut store);
    let mut child = store
        .args(["ledger", "password"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert!(out.status.success(), "{said}");
    assert!(said.contains("stored the password for ledger:"), "{said}");
    no_password_anywhere(&sandbox, &said, &password);

    let mut status = sandbox.command(keywheel_bin());
    keyring_env(&mut status);
    let out = status.args(["ledger", "status"]).output().unwrap();
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert!(out.status.success(), "{said}");
    assert!(said.starts_with("team ledger: "), "{said}");
    no_password_anywhere(&sandbox, &said, &password);

    // Deleted: the server refuses again.
    let mut delete = sandbox.command(keywheel_bin());
    keyring_env(&mut delete);
    let out = delete
        .args(["ledger", "password", "--delete"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let mut status = sandbox.command(keywheel_bin());
    keyring_env(&mut status);
    let out = status.args(["ledger", "status"]).output().unwrap();
    assert_ne!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn sslmode_require_of_a_server_without_tls_is_exit_7_without_the_password() {
    let url = team_database();
    let password = url.split(['@', ':']).nth(2).unwrap().to_string();
    let sandbox = Sandbox::new();
    for args in [&["ledger", "status"][..], &["status"]] {
        let out = sandbox
            .command(keywheel_bin())
            .env("KEYWHEEL_LEDGER_URL", format!("{url}?sslmode=require"))
            .env("OPENROUTER_API_KEYS", keywheel_testkit::keys::fake_key(1))
            .args(args)
            .output()
            .unwrap();
        let said = format!("{}{}", stdout(&out), stderr(&out));
        assert_eq!(out.status.code(), Some(7), "{args:?}: {said}");
        assert!(said.contains("does not offer TLS"), "{said}");
        no_password_anywhere(&sandbox, &said, &password);
    }
}
