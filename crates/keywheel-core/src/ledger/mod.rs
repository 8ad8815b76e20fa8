//! The ledger: one SQLite file shared by every running copy of Keywheel.
//!
//! It holds key metadata ([`keys_table`]), per-key per-UTC-day counters and the request log
//! ([`reserve`]), live instances ([`instances`]), the pool's current key ([`rotation`]) and the
//! read-side queries ([`usage`]).
//!
//! Why our own code and not an in-process limiter (e.g. `governor`): the counts must be exact
//! across *processes* — the app, several CLI runs and the proxy spend the same keys at once —
//! so every decision to send is one short `BEGIN IMMEDIATE` transaction in this file. Nothing
//! held in memory decides whether a request may be sent.
//!
//! Behind [`Ledger`] is one of two backends ([`backend`]): the SQLite file (the default) or a
//! team ledger on PostgreSQL ([`pg`], docs/team.md), chosen by `ledger_url`. Callers do not
//! know which; each method runs its backend's SQL, and the rules (caps, windows, availability)
//! are the same functions for both.

pub mod accounts;
pub mod alerts;
pub mod backend;
pub mod cache;
pub mod changes;
pub mod db;
pub mod instances;
pub mod jobs;
pub mod keys_table;
pub mod pg;
pub mod pre_send;
pub mod request_log;
pub mod reserve;
pub mod retention;
pub mod rotation;
pub mod usage;
pub mod writer;

use std::path::Path;
use std::time::Duration;

use r2d2::PooledConnection;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::Connection;

use crate::error::Result;

pub use accounts::{AccountObservation, Credits, Grouping, Observed};
pub use changes::Changes;
pub use keys_table::{KeyRecord, KeyStatus, KeyUpdate};
pub use pre_send::PreSend;
pub use reserve::{
    AfterCompletion, Completion, RequestState, Reservation, ReserveOutcome, ReserveRequest,
    SpikeCheck,
};
pub use rotation::{Adoption, FailureScope};

/// Default caps used where a key or account has none of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapDefaults {
    /// Requests per UTC day.
    pub daily: u32,
    /// Requests per sliding 60 s.
    pub minute: u32,
    /// Whether the daily ceiling OpenRouter reports for an account (`/key`) replaces `daily`
    /// (false when the person set a daily cap in the settings).
    pub tier_applies: bool,
}

impl Default for CapDefaults {
    fn default() -> Self {
        Self {
            daily: 50,
            minute: 20,
            tier_applies: true,
        }
    }
}

/// A handle on the shared ledger: the SQLite file or a team ledger on PostgreSQL (cheap to
/// clone; a small connection pool inside).
#[derive(Clone)]
pub struct Ledger {
    backend: backend::Backend,
    caps: CapDefaults,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("ledger", &self.describe())
            .field("caps", &self.caps)
            .finish()
    }
}

impl Ledger {
    /// Opens (creating and migrating if needed) the ledger file at `path`.
    pub fn open(path: &Path, caps: CapDefaults) -> Result<Self> {
        Ok(Self {
            backend: backend::Backend::Sqlite(backend::SqliteFile::open(path)?),
            caps,
        })
    }

    /// Opens the ledger the settings name: the team ledger at `ledger_url` (PostgreSQL), or
    /// else the SQLite file in the data directory. An unreachable team ledger is an error
    /// (exit 7), never a fall-back to the local file.
    pub fn open_for(settings: &crate::config::Settings, caps: CapDefaults) -> Result<Self> {
        match &settings.ledger_url {
            Some(url) => Self::open_postgres(
                &pg::Target::parse(url)?,
                &pg::Options::from_settings(settings),
                caps,
            ),
            None => Self::open(&settings.db_path(), caps),
        }
    }

    /// Opens (migrating if its schema is behind) the team ledger at `target`.
    pub fn open_postgres(
        target: &pg::Target,
        opts: &pg::Options,
        caps: CapDefaults,
    ) -> Result<Self> {
        Ok(Self {
            backend: backend::Backend::Postgres(pg::PgLedger::open(target, opts)?),
            caps,
        })
    }

    /// The team ledger, when this is one.
    pub fn pg(&self) -> Option<&pg::PgLedger> {
        match &self.backend {
            backend::Backend::Postgres(p) => Some(p),
            backend::Backend::Sqlite(_) => None,
        }
    }

    /// `sqlite` or `postgresql`.
    pub fn backend_name(&self) -> &'static str {
        match &self.backend {
            backend::Backend::Sqlite(_) => "sqlite",
            backend::Backend::Postgres(_) => "postgresql",
        }
    }

    /// Where the ledger is, for people: the file path, or `postgresql host:port/db` (never a
    /// password).
    pub fn describe(&self) -> String {
        match &self.backend {
            backend::Backend::Sqlite(f) => f.path.display().to_string(),
            backend::Backend::Postgres(p) => format!("postgresql {}", p.target().display()),
        }
    }

    /// The schema version the ledger is at.
    pub fn schema_version(&self) -> Result<i64> {
        match &self.backend {
            backend::Backend::Sqlite(_) => {
                let conn = self.conn()?;
                Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
            }
            backend::Backend::Postgres(p) => p.schema_version(),
        }
    }

    /// The file path (SQLite); empty for a team ledger, which has no local file.
    pub fn path(&self) -> &Path {
        match &self.backend {
            backend::Backend::Sqlite(f) => &f.path,
            backend::Backend::Postgres(_) => Path::new(""),
        }
    }

    fn sqlite(&self) -> Result<&backend::SqliteFile> {
        match &self.backend {
            backend::Backend::Sqlite(f) => Ok(f),
            backend::Backend::Postgres(_) => Err(backend::not_on_team_ledger()),
        }
    }

    /// The default caps.
    pub fn caps(&self) -> CapDefaults {
        self.caps
    }

    /// A pooled connection.
    pub fn conn(&self) -> Result<PooledConnection<SqliteConnectionManager>> {
        Ok(self.sqlite()?.pool.get()?)
    }

    /// Runs `f` in a read transaction (a consistent snapshot; takes no write lock).
    pub fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self.conn()?;
        let tx = Tx::begin(&conn, "BEGIN DEFERRED")?;
        let out = f(&conn)?;
        tx.commit()?;
        Ok(out)
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction: the write lock is taken up front, so
    /// check-then-write sequences are atomic across processes. `SQLITE_BUSY` beyond the busy
    /// timeout is retried with a short backoff, so callers never see `database is locked`.
    ///
    /// Writers of one process queue on a process-wide lock first (one per file), so SQLite's
    /// busy handler — which sleeps — only arbitrates between processes. WAL checkpoints run
    /// on a background thread ([`writer::Checkpointer`]), never inside the transaction's caller.
    /// `f` must not call `write` itself.
    pub fn write<T>(&self, mut f: impl FnMut(&Connection) -> Result<T>) -> Result<T> {
        let file = self.sqlite()?;
        let inline = writer::inline();
        if inline == writer::Inline::Declined {
            return Err(declined());
        }
        let conn = file.pool.get()?;
        let (_writer, mut begun) = if inline == writer::Inline::First {
            // `writer::without_waiting`: begin only if nobody holds the file (or this process's
            // holder ends within a short spin), else decline.
            let Some(held) = file.write_lock.try_lock_soon() else {
                return Err(decline());
            };
            conn.busy_timeout(Duration::ZERO)?;
            let tx = Tx::begin(&conn, "BEGIN IMMEDIATE");
            conn.busy_timeout(db::BUSY_TIMEOUT)?;
            match tx {
                Ok(tx) => {
                    writer::set_inline(writer::Inline::Began);
                    (held, Some(tx))
                }
                Err(e) if db::is_busy(&e) => return Err(decline()),
                Err(e) => return Err(db::explain(e.into(), &file.path)),
            }
        } else {
            (file.write_lock.lock(), None)
        };
        let mut delay = Duration::from_millis(2);
        let mut tries = 0;
        loop {
            let attempt = (|| {
                let tx = match begun.take() {
                    Some(tx) => tx,
                    None => Tx::begin(&conn, "BEGIN IMMEDIATE")?,
                };
                // Dropped before the lock: writers spin for it only while this is set.
                let _in_tx = file.write_lock.in_tx();
                let out = f(&conn)?;
                tx.commit()?;
                Ok(out)
            })();
            match attempt {
                Err(crate::Error::Db(e)) if db::is_busy(&e) && tries < 200 => {
                    tries += 1;
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(Duration::from_millis(100));
                }
                Ok(out) => {
                    file.checkpoints.committed();
                    return Ok(out);
                }
                Err(e) => return Err(db::explain(e, &file.path)),
            }
        }
    }
}

/// The error a write returns when it declines to wait ([`writer::without_waiting`]); the run
/// that made it is done again elsewhere, so nobody sees it.
fn declined() -> crate::Error {
    crate::Error::Storage("the ledger is busy; this write is retried on the ledger thread".into())
}

/// Declines this write and every later one of the [`writer::without_waiting`] run.
fn decline() -> crate::Error {
    writer::set_inline(writer::Inline::Declined);
    declined()
}

/// An open transaction on a pooled connection, rolled back when dropped uncommitted (an error
/// or a panic in its body leaves no transaction open on a connection going back to the pool).
/// `BEGIN`, `COMMIT` and `ROLLBACK` are prepared once per connection (its statement cache)
/// instead of being parsed again by every transaction, as `rusqlite::Transaction` does.
struct Tx<'c> {
    conn: &'c Connection,
    open: bool,
}

impl<'c> Tx<'c> {
    fn begin(conn: &'c Connection, sql: &'static str) -> rusqlite::Result<Self> {
        conn.prepare_cached(sql)?.execute([])?;
        Ok(Self { conn, open: true })
    }

    fn commit(mut self) -> rusqlite::Result<()> {
        self.conn.prepare_cached("COMMIT")?.execute([])?;
        self.open = false;
        Ok(())
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        // A failed COMMIT may have ended the transaction itself (SQLite rolls back on some errors).
        if self.open && !self.conn.is_autocommit() {
            let rolled = self
                .conn
                .prepare_cached("ROLLBACK")
                .and_then(|mut s| s.execute([]));
            if let Err(e) = rolled {
                tracing::warn!(error = %e, "could not roll back a ledger transaction");
            }
        }
    }
}
