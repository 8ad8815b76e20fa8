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

pub mod accounts;
pub mod alerts;
pub mod cache;
pub mod changes;
pub mod db;
pub mod instances;
pub mod jobs;
pub mod keys_table;
pub mod request_log;
pub mod reserve;
pub mod retention;
pub mod rotation;
pub mod usage;
pub mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use r2d2::PooledConnection;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Transaction, TransactionBehavior};

use crate::error::Result;

pub use accounts::{AccountObservation, Credits, Grouping, Observed};
pub use changes::Changes;
pub use keys_table::{KeyRecord, KeyStatus, KeyUpdate};
pub use reserve::{Completion, RequestState, Reservation, ReserveOutcome, ReserveRequest};
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

/// A handle on the shared SQLite ledger (cheap to clone; a small connection pool inside).
#[derive(Clone)]
pub struct Ledger {
    pool: r2d2::Pool<SqliteConnectionManager>,
    path: PathBuf,
    caps: CapDefaults,
    /// This process's writers to the file take it before `BEGIN IMMEDIATE`.
    write_lock: Arc<Mutex<()>>,
    /// Wakes this handle's background checkpointer.
    checkpoints: Arc<writer::Checkpointer>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("path", &self.path)
            .field("caps", &self.caps)
            .finish()
    }
}

impl Ledger {
    /// Opens (creating and migrating if needed) the ledger file at `path`.
    pub fn open(path: &Path, caps: CapDefaults) -> Result<Self> {
        let pool = db::open_pool(path)?;
        let write_lock = writer::process_write_lock(path);
        Ok(Self {
            pool,
            path: path.to_path_buf(),
            caps,
            checkpoints: Arc::new(writer::Checkpointer::start(path, write_lock.clone())),
            write_lock,
        })
    }

    /// The file path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The default caps.
    pub fn caps(&self) -> CapDefaults {
        self.caps
    }

    /// A pooled connection.
    pub fn conn(&self) -> Result<PooledConnection<SqliteConnectionManager>> {
        Ok(self.pool.get()?)
    }

    /// Runs `f` in a read transaction (a consistent snapshot; takes no write lock).
    pub fn read<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
        let out = f(&tx)?;
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
    pub fn write<T>(&self, mut f: impl FnMut(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.conn()?;
        let _writer = self
            .write_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut delay = Duration::from_millis(2);
        let mut tries = 0;
        loop {
            let attempt = (|| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let out = f(&tx)?;
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
                    self.checkpoints.committed();
                    return Ok(out);
                }
                Err(e) => return Err(db::explain(e, &self.path)),
            }
        }
    }
}
