//! The two databases a [`super::Ledger`] can stand on: the SQLite file every process of one
//! machine shares (the default), or a team ledger on PostgreSQL shared by many machines
//! ([`super::pg`], docs/team.md). A ledger method runs its backend's SQL; the rules that decide
//! from what it read (caps, windows, availability) are shared functions.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use r2d2_sqlite::SqliteConnectionManager;

use super::{db, pg, writer};
use crate::error::{Error, Result};

/// Which database is behind a ledger.
#[derive(Clone)]
pub(crate) enum Backend {
    /// The embedded SQLite file.
    Sqlite(SqliteFile),
    /// A PostgreSQL server shared by a team.
    Postgres(pg::PgLedger),
}

/// The SQLite file: a small r2d2 pool, this process's write lock on it, its checkpointer.
#[derive(Clone)]
pub(crate) struct SqliteFile {
    pub(crate) pool: r2d2::Pool<SqliteConnectionManager>,
    pub(crate) path: PathBuf,
    /// This process's writers to the file take it before `BEGIN IMMEDIATE`.
    pub(crate) write_lock: Arc<writer::WriteLock>,
    /// Wakes this handle's background checkpointer.
    pub(crate) checkpoints: Arc<writer::Checkpointer>,
}

impl SqliteFile {
    /// Opens (creating and migrating if needed) the file at `path`.
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let pool = db::open_pool(path)?;
        let write_lock = writer::process_write_lock(path);
        Ok(Self {
            pool,
            path: path.to_path_buf(),
            checkpoints: Arc::new(writer::Checkpointer::start(path, write_lock.clone())),
            write_lock,
        })
    }
}

/// The error for an operation the team ledger does not offer yet (docs/team.md, "Status").
pub(crate) fn not_on_team_ledger() -> Error {
    Error::Storage(
        "this operation is not available on a team ledger (PostgreSQL) yet; unset ledger_url \
         (KEYWHEEL_LEDGER_URL) to use the local ledger"
            .into(),
    )
}
