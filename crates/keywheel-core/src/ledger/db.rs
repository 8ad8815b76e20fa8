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
    ])
}

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
/// processes open a fresh file at the same moment.
pub fn open_pool(path: &Path) -> Result<r2d2::Pool<SqliteConnectionManager>> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::io(
                format!("could not create the data directory {}", dir.display()),
                e,
            )
        })?;
    }
    migrate(path)?;
    let manager = SqliteConnectionManager::file(path).with_init(|c| configure(c));
    let pool = r2d2::Pool::builder()
        .max_size(8)
        .min_idle(Some(1))
        .connection_timeout(Duration::from_secs(30))
        .build(manager)?;
    Ok(pool)
}

fn migrate(path: &Path) -> Result<()> {
    let mut delay = Duration::from_millis(5);
    for attempt in 0.. {
        let result = (|| -> Result<()> {
            let mut conn = Connection::open(path)?;
            configure(&conn)?;
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
