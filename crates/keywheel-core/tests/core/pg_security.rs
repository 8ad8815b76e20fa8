//! The team ledger's security (docs/team.md, "Security"): TLS (`sslmode=require`,
//! `verify-ca`, `verify-full` with `sslrootcert`) against a private server with `ssl = on`
//! and a test CA (`scripts/pg.sh start DIR tls`), `require` against a server without TLS, and
//! the least-privilege roles the docs show (an owner that migrates, a role with only
//! SELECT/INSERT/UPDATE/DELETE and sequence usage that runs the ledger).

use std::path::{Path, PathBuf};
use std::process::Command;

use keywheel_core::keys::KeySource;
use keywheel_core::ledger::pg::{SCHEMA_VERSION, Target, transfer};
use keywheel_core::ledger::{CapDefaults, Completion, Ledger, ReserveOutcome, ReserveRequest};

use crate::pg_support::{TestDb, query_at, server_url, test_options};
use crate::{api_key, t0};

/// Runs `sql` over a plain connection to `url`; the first column of each row as text.
fn sql(url: &str, sql: &str) -> Vec<String> {
    query_at(url, sql)
}

/// `url` with its database replaced and `query` appended.
fn with_db(url: &str, db: &str, query: &str) -> String {
    let (root, _) = url.rsplit_once('/').expect("a URL with a database");
    format!("{root}/{db}{query}")
}

/// `postgres://user:password@host:port/…` with another user and password.
fn as_role(url: &str, user: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (_, host) = rest.split_once('@').expect("a URL with a user");
    format!("{scheme}://{user}:{password}@{host}")
}

fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts")
}

/// A private server with `ssl = on` (scripts/pg.sh start DIR tls), stopped by its pid on drop.
struct TlsServer {
    dir: tempfile::TempDir,
    url: String,
}

impl TlsServer {
    fn start() -> Self {
        // The rule of the PostgreSQL tests: no server configured is a failure with a sentence.
        let _ = server_url();
        let dir = tempfile::Builder::new()
            .prefix("keywheel-pg-tls")
            .tempdir()
            .expect("a temp dir");
        let out = Command::new("bash")
            .arg(scripts().join("pg.sh"))
            .args(["start"])
            .arg(dir.path().join("pg"))
            .arg("tls")
            .output()
            .expect("bash runs scripts/pg.sh");
        assert!(
            out.status.success(),
            "scripts/pg.sh start DIR tls failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let url = String::from_utf8(out.stdout).unwrap().trim().to_string();
        Self { dir, url }
    }

    fn ca(&self) -> PathBuf {
        self.dir.path().join("pg/tls/ca.crt")
    }

    /// A CA of its own (`DIR/other-ca.crt`) that signed nothing the server holds.
    fn other_ca(&self) -> PathBuf {
        let other = self.dir.path().join("other-ca.crt");
        let made = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
            ])
            .args(["-nodes", "-days", "1", "-subj", "/CN=another CA", "-keyout"])
            .arg(self.dir.path().join("other-ca.key"))
            .arg("-out")
            .arg(&other)
            .output()
            .expect("openssl runs");
        assert!(
            made.status.success(),
            "{}",
            String::from_utf8_lossy(&made.stderr)
        );
        other
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(scripts().join("pg.sh"))
            .arg("stop")
            .arg(self.dir.path().join("pg"))
            .status();
    }
}

fn open(url: &str) -> keywheel_core::Result<Ledger> {
    Ledger::open_postgres(
        &Target::parse(url)?,
        &test_options(),
        CapDefaults::default(),
    )
}

/// (TLS, plain) connections named `keywheel` (the ledger's application_name) on the server.
fn keywheel_connections(admin: &str) -> (u32, u32) {
    keywheel_connections_to(admin, None)
}

/// (TLS, plain) connections named `keywheel` on the server, to database `db` if given.
fn keywheel_connections_to(admin: &str, db: Option<&str>) -> (u32, u32) {
    let row = sql(
        admin,
        &format!(
            "SELECT count(*) FILTER (WHERE s.ssl)::text || ' ' || count(*) FILTER (WHERE NOT s.ssl)::text
             FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
             WHERE a.application_name = 'keywheel' AND a.datname = COALESCE({}, a.datname)",
            db.map_or("NULL".to_string(), |d| format!("'{d}'"))
        ),
    );
    let (tls, plain) = row[0].split_once(' ').unwrap();
    (tls.parse().unwrap(), plain.parse().unwrap())
}

#[test]
fn pg_tls_require_verify_ca_and_verify_full_encrypt_and_check_what_they_say() {
    let server = TlsServer::start();
    sql(&server.url, "CREATE DATABASE kw_tls");
    let ca = server.ca().display().to_string();

    // sslmode=require: the ledger opens, migrates, and every connection is TLS.
    let ledger = open(&with_db(&server.url, "kw_tls", "?sslmode=require")).expect("opens");
    assert_eq!(ledger.schema_version().unwrap(), SCHEMA_VERSION);
    let (tls, plain) = keywheel_connections(&server.url);
    assert!(
        tls >= 1,
        "pg_stat_ssl shows no TLS connection of the ledger"
    );
    assert_eq!(plain, 0, "a ledger connection went unencrypted");
    drop(ledger);

    // verify-full with the CA: the certificate chains to it and names 127.0.0.1.
    let url = with_db(
        &server.url,
        "kw_tls",
        &format!("?sslmode=verify-full&sslrootcert={ca}"),
    );
    let ledger = open(&url).expect("verify-full with the right CA opens");
    assert_eq!(ledger.schema_version().unwrap(), SCHEMA_VERSION);
    drop(ledger);

    // verify-full by another name: the certificate names only 127.0.0.1.
    let by_name = url.replace("@127.0.0.1:", "@localhost:");
    let e = open(&by_name).expect_err("the certificate does not name localhost");
    assert_eq!(e.exit_code(), 7, "{e}");
    let said = e.to_string();
    assert!(said.contains("cannot be reached over TLS"), "{said}");
    assert!(said.contains("names the host"), "{said}");
    assert!(
        !said.contains(server.url.split(['@', ':']).nth(2).unwrap()),
        "{said}"
    );
    // verify-ca checks the chain only, so the same name is fine.
    let ledger = open(&by_name.replace("verify-full", "verify-ca")).expect("verify-ca opens");
    drop(ledger);

    // Another CA: refused, naming the file it was checked against.
    let other = server.other_ca();
    let e = open(&url.replace(&ca, &other.display().to_string())).expect_err("another CA");
    assert_eq!(e.exit_code(), 7, "{e}");
    assert!(e.to_string().contains("was not accepted"), "{e}");
    assert!(e.to_string().contains("other-ca.crt"), "{e}");

    // verify-full without any CA file is a usage error that says what to add.
    let e = open(&with_db(
        &server.url,
        "kw_tls",
        "?sslmode=verify-full&sslrootcert=/nonexistent.pem",
    ))
    .expect_err("no CA file");
    assert_eq!(e.exit_code(), 2, "{e}");
    assert!(e.to_string().contains("/nonexistent.pem"), "{e}");
}

#[test]
fn pg_tls_required_of_a_server_without_tls_is_exit_7_with_a_sentence() {
    let db = TestDb::new();
    let password = db.url().split(['@', ':']).nth(2).unwrap().to_string();
    let e = open(&format!("{}?sslmode=require", db.url())).expect_err("the test server has no TLS");
    assert_eq!(e.exit_code(), 7, "{e}");
    let said = e.to_string();
    assert!(said.contains("does not offer TLS"), "{said}");
    assert!(said.contains("sslmode=require"), "{said}");
    assert!(!said.contains(&password), "the password was shown: {said}");
}

fn reserve_one(l: &Ledger) {
    let k = api_key(1);
    l.upsert_key(&k, KeySource::Env, None, None, t0()).unwrap();
    let inst = l.register_instance("cli", 1, t0()).unwrap();
    let got = l
        .reserve(&ReserveRequest {
            instance_id: &inst,
            key_id: &k.id(),
            kind: keywheel_core::dispatch::Kind::Chat,
            model: None,
            now: t0(),
        })
        .unwrap();
    let ReserveOutcome::Granted(r) = got else {
        panic!("the reservation is granted, got {got:?}");
    };
    l.complete(&r, &Completion::ok(), t0() + chrono::Duration::seconds(1))
        .unwrap();
}

#[test]
fn pg_least_privilege_an_owner_migrates_and_a_dml_only_role_runs_the_ledger() {
    let db = TestDb::new();
    let suffix = format!("{:08x}", rand::random::<u32>());
    let (owner, user) = (format!("kw_owner_{suffix}"), format!("kw_user_{suffix}"));
    let (owner_pw, user_pw) = (format!("o-{suffix}"), format!("u-{suffix}"));
    let dbname = db.target().dbname();
    // The SQL in docs/team.md ("Least privilege").
    db.query(&format!(
        "CREATE ROLE {owner} LOGIN PASSWORD '{owner_pw}';
         CREATE ROLE {user} LOGIN PASSWORD '{user_pw}';
         ALTER DATABASE {dbname} OWNER TO {owner};
         REVOKE ALL ON DATABASE {dbname} FROM PUBLIC;
         GRANT CONNECT ON DATABASE {dbname} TO {user};
         REVOKE CREATE ON SCHEMA public FROM PUBLIC;
         GRANT USAGE ON SCHEMA public TO {user};
         ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public
           GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {user};
         ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public
           GRANT USAGE, SELECT ON SEQUENCES TO {user};"
    ));
    let owner_url = as_role(db.url(), &owner, &owner_pw);
    let user_url = as_role(db.url(), &user, &user_pw);

    // Before the owner migrates, the user role cannot, and is told who can.
    let e = open(&user_url).expect_err("a DML-only role cannot create the schema");
    let said = e.to_string();
    assert!(said.contains("Least privilege"), "{said}");
    assert!(said.contains("keywheel ledger migrate"), "{said}");
    assert!(!said.contains(&user_pw), "{said}");

    // The owner migrates; the user role then opens it, reserves, completes and reads.
    let by_owner = open(&owner_url).expect("the owner migrates");
    assert_eq!(by_owner.schema_version().unwrap(), SCHEMA_VERSION);
    drop(by_owner);
    let l = open(&user_url).expect("the DML-only role opens a migrated ledger");
    assert_eq!(l.schema_version().unwrap(), SCHEMA_VERSION);
    reserve_one(&l);
    assert!(l.inconsistencies().unwrap().is_empty());
    let requests = sql(
        db.url(),
        "SELECT count(*)::text FROM requests WHERE state = 'done'",
    );
    assert_eq!(requests, vec!["1"]);
    // And it holds no more than it was given: no DDL.
    let denied = sql(
        db.url(),
        &format!(
            "SELECT has_schema_privilege('{user}', 'public', 'CREATE')::text || ' ' ||
                    has_table_privilege('{user}', 'requests', 'TRUNCATE')::text"
        ),
    );
    assert_eq!(denied, vec!["false false"]);
    // An import needs no more (`keywheel_imports` is migration 11's, not the first import's).
    let local = crate::pg_support::Backend::Sqlite.open(CapDefaults::default());
    reserve_one(&local.ledger);
    let mut stream = Vec::new();
    transfer::export(&local.ledger, "laptop", &mut stream).unwrap();
    let done = transfer::import(l.pg().unwrap(), &stream[..]).expect("the DML-only role imports");
    assert_eq!((done.usage, done.requests), (1, 1), "{done:?}");
    let again = transfer::import(l.pg().unwrap(), &stream[..]).unwrap();
    assert_eq!((again.usage, again.requests), (0, 0), "{again:?}");
    assert!(l.inconsistencies().unwrap().is_empty());
    assert_eq!(
        sql(
            db.url(),
            "SELECT count(*)::text FROM requests WHERE state = 'done'"
        ),
        vec!["2"]
    );
    drop(l);
    drop(db);
    sql(
        &server_url(),
        &format!("DROP ROLE {user}; DROP ROLE {owner}"),
    );
}

/// The worker of [`pg_libpq_variables_choose_tls_and_the_server_where_the_url_says_nothing`]:
/// opens the ledger at `KW_WORKER_URL` with the libpq variables its parent gave it, and says
/// how the ledger's connections went (`tls=N plain=M`, counted on the server through
/// `KW_WORKER_ADMIN`) or the error (`exit=N …`). Returns at once in a normal run.
#[test]
fn worker_entry() {
    if std::env::var(crate::ENV_MODE).as_deref() != Ok(ENV_WORKER) {
        return;
    }
    let step = || -> crate::AnyResult<String> {
        let url = std::env::var("KW_WORKER_URL")?;
        let admin = std::env::var("KW_WORKER_ADMIN")?;
        Ok(match open(&url) {
            Ok(ledger) => {
                let version = ledger.schema_version()?;
                let target = ledger.pg().expect("a team ledger").target();
                let (tls, plain) = keywheel_connections_to(&admin, Some(&target.dbname()));
                format!(
                    "tls={tls} plain={plain} schema={version} at={}",
                    target.display()
                )
            }
            Err(e) => format!("exit={} {e}", e.exit_code()),
        })
    };
    crate::finish_worker(step());
}

/// The worker mode of this module's [`worker_entry`].
const ENV_WORKER: &str = "pg_security_env";

/// Runs [`worker_entry`] on `url` with `vars` set (and every other `PG*` variable removed);
/// its `KW_RESULT` line.
fn with_libpq_env(admin: &str, url: &str, vars: &[(&str, &std::ffi::OsStr)]) -> String {
    let mut cmd = crate::worker_command("pg_security", ENV_WORKER, Path::new("unused"));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("PG") {
            cmd.env_remove(k);
        }
    }
    cmd.env("KW_WORKER_URL", url).env("KW_WORKER_ADMIN", admin);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("the test binary runs again");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the worker failed: {}{}",
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("KW_RESULT "))
        .unwrap_or_else(|| panic!("no KW_RESULT line in {stdout}"))
        .to_string()
}

/// libpq's variables (docs/team.md, "Security"): `PGSSLMODE=require` encrypts every ledger
/// connection (pg_stat_ssl); `verify-full` with the right `PGSSLROOTCERT` opens, with another
/// CA it is exit 7 with a sentence naming both variables; `sslmode=` in the URL wins over
/// `PGSSLMODE`; and a URL with neither host, port, user nor database takes them from
/// `PGHOST`, `PGPORT`, `PGUSER` and `PGDATABASE` (the password from `PGPASSFILE`). Each case
/// runs in a process of its own, so the variables reach no other test.
#[test]
fn pg_libpq_variables_choose_tls_and_the_server_where_the_url_says_nothing() {
    let server = TlsServer::start();
    sql(&server.url, "CREATE DATABASE kw_env");
    sql(&server.url, "CREATE DATABASE kw_env_plain");
    let url = with_db(&server.url, "kw_env", "");
    let os = |s: &str| std::ffi::OsString::from(s);
    let (require, verify) = (os("require"), os("verify-full"));
    let (ca, other) = (
        server.ca().into_os_string(),
        server.other_ca().into_os_string(),
    );

    let said = with_libpq_env(&server.url, &url, &[("PGSSLMODE", &require)]);
    assert!(said.starts_with("tls="), "PGSSLMODE=require opens: {said}");
    assert!(!said.starts_with("tls=0 "), "no TLS connection: {said}");
    assert!(
        said.contains(" plain=0 "),
        "a ledger connection went unencrypted: {said}"
    );
    assert!(said.contains(&format!("schema={SCHEMA_VERSION}")), "{said}");

    let said = with_libpq_env(
        &server.url,
        &url,
        &[("PGSSLMODE", &verify), ("PGSSLROOTCERT", &ca)],
    );
    assert!(
        said.contains(" plain=0 "),
        "verify-full with the CA opens: {said}"
    );

    let said = with_libpq_env(
        &server.url,
        &url,
        &[("PGSSLMODE", &verify), ("PGSSLROOTCERT", &other)],
    );
    assert!(said.starts_with("exit=7 "), "another CA is refused: {said}");
    assert!(
        said.contains("was not accepted under sslmode=verify-full (from PGSSLMODE)"),
        "{said}"
    );
    assert!(said.contains("other-ca.crt (PGSSLROOTCERT)"), "{said}");
    let password = server.url.split(['@', ':']).nth(2).unwrap();
    assert!(!said.contains(password), "the password was shown: {said}");

    // The URL's own sslmode wins: a plain connection.
    let said = with_libpq_env(
        &server.url,
        &with_db(&server.url, "kw_env_plain", "?sslmode=disable"),
        &[("PGSSLMODE", &require)],
    );
    assert!(
        said.starts_with("tls=0 "),
        "sslmode=disable in the URL wins: {said}"
    );
    assert!(!said.contains(" plain=0 "), "{said}");

    // Where the server is and who connects, from PGHOST/PGPORT/PGUSER/PGDATABASE.
    let port = server
        .url
        .rsplit_once(':')
        .unwrap()
        .1
        .split('/')
        .next()
        .unwrap();
    let pgpass = server.dir.path().join("pgpass");
    std::fs::write(
        &pgpass,
        format!("127.0.0.1:{port}:kw_env:keywheel:{password}\n"),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let said = with_libpq_env(
        &server.url,
        "postgres://",
        &[
            ("PGHOST", &os("127.0.0.1")),
            ("PGPORT", &os(port)),
            ("PGUSER", &os("keywheel")),
            ("PGDATABASE", &os("kw_env")),
            ("PGPASSFILE", pgpass.as_os_str()),
            ("PGSSLMODE", &require),
        ],
    );
    assert!(said.contains(" plain=0 "), "{said}");
    assert!(
        said.ends_with(&format!("at=127.0.0.1:{port}/kw_env")),
        "{said}"
    );
}
