//! The team-ledger tests' PostgreSQL from outside the core: a fresh database on the server in
//! `KEYWHEEL_TEST_PG_URL` (`bash scripts/with-postgres.sh …` starts a private one and sets it),
//! made with `psql`. Without the variable a test fails with a sentence saying what to run — it
//! never skips.

/// The variable naming the test server.
pub const ENV_URL: &str = "KEYWHEEL_TEST_PG_URL";

/// A new, empty database on the test server (named `<prefix>_<random>`); its URL.
pub fn team_database(prefix: &str) -> String {
    let base = std::env::var(ENV_URL).unwrap_or_else(|_| {
        panic!(
            "{ENV_URL} is not set, so this team-ledger test has no PostgreSQL: run it under \
             `bash scripts/with-postgres.sh cargo test …`"
        )
    });
    let name = format!("{prefix}_{:016x}", rand::random::<u64>());
    let out = std::process::Command::new("psql")
        .arg(&base)
        .args(["-v", "ON_ERROR_STOP=1", "-qc"])
        .arg(format!("CREATE DATABASE {name}"))
        .output()
        .expect("psql runs (scripts/with-postgres.sh installs it)");
    assert!(
        out.status.success(),
        "CREATE DATABASE: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (root, _) = base.rsplit_once('/').expect("a URL with a database");
    format!("{root}/{name}")
}
