//! Opening the SQLite file: pragmas for many writers in many processes (WAL,
//! `synchronous=NORMAL`, busy timeout) and the embedded, ordered migrations.

use std::path::Path;
use std::time::Duration;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::Connection;
use rusqlite_migration::{M, Migrations};

use crate::error::{Error, Result};

/// How long a connection waits on another process's write lock before reporting busy.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The schema, in order. Never edit a released migration; append a new one.
pub fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(include_str!("migrations/0001_init.sql")),
        M::up(include_str!("migrations/0002_cache_models.sql")),
        M::up(include_str!("migrations/0003_ocr_jobs.sql")),
        M::up(include_str!("migrations/0004_alerts.sql")),
        M::up(include_str!("migrations/0005_request_indexes.sql")),
        M::up(include_str!("migrations/0006_accounts_observed.sql")),
        M::up(include_str!("migrations/0007_retention.sql")),
        M::up(include_str!("migrations/0008_window_ring.sql")),
        M::up(include_str!("migrations/0009_request_via.sql")),
        M::up(include_str!("migrations/0010_request_hours.sql")),
        M::up(include_str!("migrations/0011_imports.sql")),
        M::up(include_str!("migrations/0012_reserve_function.sql")),
    ])
}

/// WAL pages after which a committing connection checkpoints inline (SQLite's default is 1000;
/// normally the background checkpointer keeps the WAL far below this).
const INLINE_CHECKPOINT_PAGES: i64 = 20_000;

/// Prepared statements kept per pooled connection.
const STATEMENT_CACHE: usize = 128;

/// Sets the pragmas every connection needs.
pub fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let _mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

/// Whether an error is lock contention (worth retrying).
pub fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// Opens a pool on `path`, creating the directory and migrating the schema. Safe when several
/// processes open a fresh file at the same moment. The directory is made `0700` and the file
/// `0600` (SQLite gives its `-wal` and `-shm` files the database file's mode). Trouble with the
/// file — written by a newer Keywheel, damaged, read-only, disk full — is a sentence naming the
/// path and what to do ([`explain`]).
pub fn open_pool(path: &Path) -> Result<r2d2::Pool<SqliteConnectionManager>> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::private::create_private_dir(dir).map_err(|e| {
            io_sentence(
                e,
                path,
                format!("could not create the data directory {}", dir.display()),
            )
        })?;
    }
    make_private(path)?;
    migrate(path).map_err(|e| explain(e, path))?;
    let manager = SqliteConnectionManager::file(path).with_init(|c| {
        configure(c)?;
        // Checkpoints run on a background thread (ledger/writer.rs); a committing writer only
        // checkpoints itself if the WAL grew this large without one (the thread is stuck).
        c.pragma_update(None, "wal_autocheckpoint", INLINE_CHECKPOINT_PAGES)?;
        // Every ledger statement stays prepared on each pooled connection.
        c.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(())
    });
    let pool = r2d2::Pool::builder()
        .max_size(8)
        .min_idle(Some(1))
        .connection_timeout(Duration::from_secs(30))
        .build(manager)?;
    Ok(pool)
}

/// Creates the ledger file `0600` before SQLite does (SQLite would create it `0644` less the
/// umask) and tightens an existing file and its `-wal`/`-shm` companions.
fn make_private(path: &Path) -> Result<()> {
    let file = crate::private::open_append(path).map_err(|e| {
        io_sentence(
            e,
            path,
            format!("could not open the usage ledger {}", path.display()),
        )
    })?;
    drop(file);
    for suffix in ["-wal", "-shm"] {
        let mut companion = path.as_os_str().to_owned();
        companion.push(suffix);
        let companion = std::path::PathBuf::from(companion);
        if companion.exists() {
            let _ = crate::private::restrict(&companion, crate::private::FILE_MODE);
        }
    }
    Ok(())
}

fn migrate(path: &Path) -> Result<()> {
    let mut delay = Duration::from_millis(5);
    for attempt in 0.. {
        let result = (|| -> Result<()> {
            let mut conn = Connection::open(path)?;
            configure(&conn)?;
            check_not_newer(&conn, path)?;
            migrations().to_latest(&mut conn)?;
            Ok(())
        })();
        match result {
            Ok(()) => return Ok(()),
            // Another process is migrating the same fresh file: wait and re-check the version.
            Err(e) if attempt < 100 && is_contention(&e) => {
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_millis(200));
            }
            Err(e) => return Err(e),
        }
    }
    unreachable!("the loop returns")
}

/// Refuses a ledger whose schema is newer than the migrations this build knows.
fn check_not_newer(conn: &Connection, path: &Path) -> Result<()> {
    let pending = migrations().pending_migrations(conn)?;
    if pending < 0 {
        let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let known = found + i64::from(pending);
        return Err(Error::Storage(format!(
            "the usage ledger {} was written by a newer Keywheel (schema {found}, this one \
             knows {known}); upgrade, or point KEYWHEEL_DATA_DIR elsewhere",
            path.display()
        )));
    }
    Ok(())
}

/// The sentence for a ledger error: a damaged file, a read-only file or directory, a full
/// disk. Anything else is returned as it is.
pub fn explain(e: Error, path: &Path) -> Error {
    let sqlite = match &e {
        Error::Db(e) => e,
        Error::Migration(rusqlite_migration::Error::RusqliteError { err, .. }) => err,
        Error::Pool(_) => {
            // r2d2 hides the cause; a direct open tells it.
            return match Connection::open(path).and_then(|c| configure(&c)) {
                Err(cause) => explain(Error::Db(cause), path),
                Ok(()) => e,
            };
        }
        _ => return e,
    };
    let p = path.display();
    let what = match sqlite.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt) => {
            format!(
                "the usage ledger {p} is damaged ({sqlite}); move it aside (e.g. `mv {p} \
                 {p}.damaged`, and its -wal and -shm files) so Keywheel starts a new one, or \
                 point KEYWHEEL_DATA_DIR elsewhere"
            )
        }
        Some(rusqlite::ErrorCode::ReadOnly | rusqlite::ErrorCode::CannotOpen) => read_only(path),
        Some(rusqlite::ErrorCode::DiskFull) => disk_full(path),
        _ => return e,
    };
    Error::Storage(what)
}

fn read_only(path: &Path) -> String {
    format!(
        "the usage ledger {} cannot be written (the file or its folder is read-only); give \
         this user write access to both, or point KEYWHEEL_DATA_DIR elsewhere",
        path.display()
    )
}

fn disk_full(path: &Path) -> String {
    format!(
        "the disk holding the usage ledger {} is full; free some space there, or point \
         KEYWHEEL_DATA_DIR elsewhere",
        path.display()
    )
}

/// An I/O failure on the way to the ledger, as a sentence when it is a known kind of trouble.
fn io_sentence(e: std::io::Error, path: &Path, context: String) -> Error {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem => {
            Error::Storage(read_only(path))
        }
        ErrorKind::StorageFull => Error::Storage(disk_full(path)),
        _ => Error::io(context, e),
    }
}

fn is_contention(e: &Error) -> bool {
    match e {
        Error::Db(e) => is_busy(e),
        Error::Migration(m) => {
            let s = m.to_string();
            s.contains("locked") || s.contains("busy") || s.contains("already exists")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_valid() {
        migrations()
            .validate()
            .expect("migrations apply to an empty database");
    }

    #[test]
    fn file_uses_wal() {
        let dir = tempfile::tempdir().unwrap();
        let pool = open_pool(&dir.path().join("l.sqlite3")).unwrap();
        let c = pool.get().unwrap();
        let mode: String = c
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let sync: i64 = c.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
        assert_eq!(sync, 1, "synchronous=NORMAL");
    }
}
