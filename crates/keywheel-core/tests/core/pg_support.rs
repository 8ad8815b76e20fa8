//! The team-ledger tests' PostgreSQL, and one way to open a ledger on either backend so a
//! rule test runs on both (one suite, not a copy).
//!
//! The server is the one in `KEYWHEEL_TEST_PG_URL` (`scripts/with-postgres.sh` installs
//! Debian's `postgresql` when missing, starts a private server and sets it); each test gets a
//! database of its own, dropped at the end. Without the variable the PostgreSQL tests fail
//! with a sentence saying what to run — they never skip.

use std::time::Duration;

use keywheel_core::ledger::pg::{Options, Target};
use keywheel_core::ledger::{CapDefaults, Ledger};

/// The variable naming the test server.
pub const ENV_URL: &str = "KEYWHEEL_TEST_PG_URL";

/// The test server's URL, or a panic that says how to get one.
pub fn server_url() -> String {
    match std::env::var(ENV_URL) {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "{ENV_URL} is not set, so the team-ledger (PostgreSQL) tests have no server: run them \
             under `bash scripts/with-postgres.sh cargo test …` (it installs Debian's postgresql \
             package when missing — as root, or `sudo apt-get install -y postgresql` — and starts \
             a private server), or point {ENV_URL} at a server where this role may create databases"
        ),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// Runs one statement as the test server's role on its maintenance database.
fn admin(sql: &str) {
    let url = server_url();
    runtime().block_on(async {
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| {
                panic!("the test PostgreSQL server ({ENV_URL}) cannot be reached: {e}")
            });
        let task = tokio::spawn(conn);
        client
            .batch_execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        drop(client);
        let _ = task.await;
    });
}

/// A database of its own on the test server, dropped with this value.
pub struct TestDb {
    name: String,
    url: String,
}

impl TestDb {
    /// Creates an empty database.
    pub fn new() -> Self {
        let name = format!("kw_{:016x}", rand::random::<u64>());
        admin(&format!("CREATE DATABASE {name}"));
        let base = server_url();
        let (root, _) = base.rsplit_once('/').expect("a URL with a database");
        Self {
            url: format!("{root}/{name}"),
            name,
        }
    }

    /// Its URL (with the test role's password: never print it).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Its parsed target.
    pub fn target(&self) -> Target {
        Target::parse(&self.url).expect("the test URL parses")
    }

    /// Opens a ledger on it with time driven by the caller (no server clock).
    pub fn open(&self, caps: CapDefaults) -> Ledger {
        Ledger::open_postgres(&self.target(), &test_options(), caps).expect("the team ledger opens")
    }

    /// Runs SQL on it as the test role and returns the first column of each row as text.
    pub fn query(&self, sql: &str) -> Vec<String> {
        query_at(&self.url, sql)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let shown = self.target().display();
        CONNS.with(|c| c.borrow_mut().remove(&shown));
        admin(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
    }
}

/// Options for tests: the caller's clock, a short connect timeout.
pub fn test_options() -> Options {
    Options {
        connect_timeout: Duration::from_secs(10),
        host: "test-machine".into(),
        server_clock: false,
        migrate: true,
        team_cache: false,
        keychain: false,
    }
}

/// A backend a parameterised test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded SQLite file.
    Sqlite,
    /// A team ledger on the test PostgreSQL server.
    Postgres,
}

/// Both backends, SQLite first.
pub const BOTH: [Backend; 2] = [Backend::Sqlite, Backend::Postgres];

/// An open ledger and what keeps its storage alive.
pub struct Opened {
    /// The ledger.
    pub ledger: Ledger,
    _dir: tempfile::TempDir,
    /// The PostgreSQL database, for `Backend::Postgres` (dropped with this value).
    _db: Option<TestDb>,
}

impl Backend {
    /// A fresh, empty ledger on this backend.
    pub fn open(self, caps: CapDefaults) -> Opened {
        let dir = tempfile::tempdir().expect("a temp dir");
        match self {
            Backend::Sqlite => Opened {
                ledger: Ledger::open(&dir.path().join("ledger.sqlite3"), caps)
                    .expect("the ledger opens"),
                _dir: dir,
                _db: None,
            },
            Backend::Postgres => {
                let db = TestDb::new();
                Opened {
                    ledger: db.open(caps),
                    _dir: dir,
                    _db: Some(db),
                }
            }
        }
    }
}

/// Every row of `sql` on `ledger` (either backend), each column as text (NULL as "").
pub fn table(ledger: &Ledger, sql: &str) -> Vec<Vec<String>> {
    let Some(pg) = ledger.pg() else {
        let conn = ledger.conn().expect("a connection");
        let mut stmt = conn.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        let n = stmt.column_count();
        let rows = stmt
            .query_map([], |r| {
                (0..n)
                    .map(|i| {
                        Ok(match r.get_ref(i)? {
                            rusqlite::types::ValueRef::Null => String::new(),
                            rusqlite::types::ValueRef::Integer(v) => v.to_string(),
                            rusqlite::types::ValueRef::Real(v) => v.to_string(),
                            rusqlite::types::ValueRef::Text(t) => {
                                String::from_utf8_lossy(t).into_owned()
                            }
                            rusqlite::types::ValueRef::Blob(b) => format!("{b:?}"),
                        })
                    })
                    .collect::<rusqlite::Result<Vec<String>>>()
            })
            .unwrap()
            .collect::<rusqlite::Result<Vec<_>>>()
            .unwrap();
        return rows;
    };
    let key = pg.target().display();
    CONNS.with(|conns| {
        let mut conns = conns.borrow_mut();
        if !conns.contains_key(&key) {
            // One connection per database and thread: a check after every step of the
            // property test would otherwise pay a SCRAM handshake each time.
            let rt = runtime();
            let config = pg.target().config().clone();
            let client = rt.block_on(async {
                let (client, conn) = config
                    .connect(tokio_postgres::NoTls)
                    .await
                    .expect("the test database");
                tokio::spawn(conn);
                client
            });
            conns.insert(key.clone(), (rt, client));
        }
        let (rt, client) = conns.get(&key).expect("just inserted");
        let rows = rt
            .block_on(client.simple_query(sql))
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows.into_iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => Some(
                    (0..r.len())
                        .map(|i| r.get(i).unwrap_or("").to_string())
                        .collect(),
                ),
                _ => None,
            })
            .collect()
    })
}

thread_local! {
    /// [`table`]'s connections, by database.
    static CONNS: std::cell::RefCell<std::collections::HashMap<String, (tokio::runtime::Runtime, tokio_postgres::Client)>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// Runs `sql` over a plain connection to `url`; the first column of each row as text.
pub fn query_at(url: &str, sql: &str) -> Vec<String> {
    runtime().block_on(async {
        let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("the test server cannot be reached: {e}"));
        let task = tokio::spawn(conn);
        let rows = client
            .simple_query(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        drop(client);
        let _ = task.await;
        rows.into_iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => {
                    Some(r.get(0).unwrap_or("").to_string())
                }
                _ => None,
            })
            .collect()
    })
}
