//! Commits to the ledger made by anyone — a CLI run, another window, this process's own pool —
//! noticed with `PRAGMA data_version`, which changes whenever another connection commits. The
//! cost when idle is one tiny query per tick. This is how a front end learns about work done
//! elsewhere: there is no other channel between processes (ARCHITECTURE.md, invariants).
//!
//! Heartbeats are commits too: every live instance writes one every few seconds, and each would
//! wake every open window for nothing. So a changed `data_version` is only reported when the
//! ledger's content stamp ([`content_stamp`]: everything a front end shows, instance heartbeat
//! times left out) moved as well.
//!
//! [`Changes`] never gives up: when the ledger cannot be read (moved away, a full disk, a
//! read-only remount), it logs why and tries again after 1 s, 2 s, 4 s … up to a minute, and
//! goes back to the short tick once it reads the ledger again.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::Ledger;

/// The first wait after the ledger could not be read; it doubles up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);

/// The longest wait between two attempts to read the ledger.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

impl Ledger {
    /// An endless iterator that yields once after every commit to this ledger file (by any
    /// connection of any process), looking every `tick`. Each `next` blocks: run it on a
    /// thread of its own.
    pub fn changes(&self, tick: Duration) -> Changes {
        if let Some(pg) = self.pg() {
            return Changes::new(self.path(), tick).on_team(pg.changes(tick));
        }
        Changes::new(self.path(), tick)
    }

    /// The content stamp now, on either backend: what [`Changes`] compares after a commit
    /// (equal before and after: only heartbeats moved).
    pub fn content_stamp(&self) -> crate::error::Result<String> {
        if let Some(pg) = self.pg() {
            return pg.content_stamp();
        }
        let conn = self.conn()?;
        Ok(format!("{:016x}", content_stamp(&conn)?))
    }
}

/// The watcher behind [`Ledger::changes`]: a connection of its own on the file and the last
/// `data_version` it saw.
pub struct Changes {
    path: PathBuf,
    tick: Duration,
    backoff: Duration,
    conn: Option<(Connection, i64)>,
    /// The content stamp at the last reported change (`None`: it could not be read).
    stamp: Option<u64>,
    sleep: Box<dyn FnMut(Duration) + Send>,
    /// On a team ledger: its watcher (ledger/pg/changes.rs) does the looking instead.
    team: Option<super::pg::changes::TeamChanges>,
}

impl std::fmt::Debug for Changes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Changes")
            .field("path", &self.path)
            .field("tick", &self.tick)
            .field("backoff", &self.backoff)
            .finish()
    }
}

impl Changes {
    /// Watches the file at `path` (which may not exist yet: that is retried like any other
    /// failure to read it).
    pub fn new(path: &Path, tick: Duration) -> Self {
        Self {
            path: path.to_path_buf(),
            tick,
            backoff: FIRST_BACKOFF,
            conn: None,
            stamp: None,
            sleep: Box::new(std::thread::sleep),
            team: None,
        }
    }

    /// Follows a team ledger's watcher instead of a file.
    fn on_team(mut self, team: super::pg::changes::TeamChanges) -> Self {
        self.team = Some(team);
        self
    }

    /// Waits with `sleep` instead of `std::thread::sleep` (tests record the backoff waits).
    pub fn with_sleep(mut self, sleep: impl FnMut(Duration) + Send + 'static) -> Self {
        self.sleep = Box::new(sleep);
        self
    }

    /// Opens the connection (no CREATE flag: a ledger that went away is an error to retry,
    /// not a new empty file) and reads the version to compare with.
    fn connect(&self) -> rusqlite::Result<(Connection, i64)> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::from_secs(5))?;
        let version = data_version(&conn)?;
        Ok((conn, version))
    }

    /// One tick: `Ok(true)` when a commit happened since the last look.
    fn look(&mut self) -> rusqlite::Result<bool> {
        if self.conn.is_none() {
            let (conn, version) = self.connect()?;
            self.stamp = content_stamp(&conn).ok();
            self.conn = Some((conn, version));
            self.backoff = FIRST_BACKOFF;
        }
        (self.sleep)(self.tick);
        let (conn, last) = self.conn.as_mut().expect("connected above");
        let now = data_version(conn)?;
        if now == *last {
            return Ok(false);
        }
        *last = now;
        // Someone committed: a change only if more than heartbeats moved. A stamp that cannot
        // be read counts as a change (a re-read too many, never one too few).
        let stamp = content_stamp(conn).ok();
        let changed = stamp.is_none() || stamp != self.stamp;
        self.stamp = stamp;
        Ok(changed)
    }
}

/// The most recent request rows whose state and finish time the stamp covers (completions
/// land on recent rows; an older one also moves the day totals in `usage_daily`).
const RECENT_REQUESTS: u32 = 256;

/// A digest of what the front ends show — keys, accounts, the pool's state, alerts, notices,
/// skipped models, the catalogue's age, live instances (without their heartbeat times), the
/// day totals and the recent request rows — read in one transaction. Equal stamps: nothing
/// but heartbeats (or nothing at all) changed in between.
pub fn content_stamp(conn: &Connection) -> rusqlite::Result<u64> {
    use rusqlite::types::ValueRef;
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut h = DefaultHasher::new();
    conn.execute_batch("BEGIN DEFERRED")?;
    let mut read = || -> rusqlite::Result<()> {
        for sql in [
            "SELECT * FROM keys",
            "SELECT * FROM accounts",
            "SELECT * FROM pool_state",
            "SELECT * FROM alerts",
            "SELECT * FROM notices",
            "SELECT * FROM model_skips",
            "SELECT fetched_ms FROM models_cache",
            "SELECT id, pid, kind, key_id, started_ms FROM instances ORDER BY id",
            "SELECT COUNT(*), TOTAL(requests), TOTAL(successes), TOTAL(errors),
                    TOTAL(prompt_tokens + completion_tokens), TOTAL(cost) FROM usage_daily",
            "SELECT id, state, finished_ms, status_class FROM requests ORDER BY id DESC LIMIT ?1",
        ] {
            let mut stmt = conn.prepare_cached(sql)?;
            let columns = stmt.column_count();
            let mut rows = if stmt.parameter_count() == 1 {
                stmt.query([RECENT_REQUESTS])?
            } else {
                stmt.query([])?
            };
            sql.hash(&mut h);
            while let Some(row) = rows.next()? {
                for i in 0..columns {
                    match row.get_ref(i)? {
                        ValueRef::Null => 0u8.hash(&mut h),
                        ValueRef::Integer(v) => (1u8, v).hash(&mut h),
                        ValueRef::Real(v) => (2u8, v.to_bits()).hash(&mut h),
                        ValueRef::Text(v) => (3u8, v).hash(&mut h),
                        ValueRef::Blob(v) => (4u8, v).hash(&mut h),
                    }
                }
            }
        }
        Ok(())
    };
    let read = read();
    conn.execute_batch("COMMIT")?;
    read.map(|()| h.finish())
}

fn data_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA data_version", [], |r| r.get(0))
}

impl Iterator for Changes {
    type Item = ();

    /// Blocks until the next commit; never ends.
    fn next(&mut self) -> Option<()> {
        if let Some(team) = &mut self.team {
            return team.next();
        }
        loop {
            match self.look() {
                Ok(true) => return Some(()),
                Ok(false) => {}
                Err(e) => {
                    self.conn = None;
                    tracing::warn!(
                        "the ledger watcher cannot read {} ({e}); trying again in {} s",
                        self.path.display(),
                        self.backoff.as_secs()
                    );
                    (self.sleep)(self.backoff);
                    self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn the_watcher_retries_with_growing_waits_and_then_sees_commits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.sqlite3");
        let (waits_tx, waits) = mpsc::channel::<Duration>();
        let (changes_tx, changes) = mpsc::channel::<()>();
        let mut watcher = Changes::new(&path, Duration::from_millis(5)).with_sleep(move |d| {
            if d >= FIRST_BACKOFF {
                // A backoff wait: record it instead of sleeping for real.
                let _ = waits_tx.send(d);
            }
            std::thread::sleep(Duration::from_millis(5));
        });
        std::thread::spawn(move || {
            if watcher.next().is_some() {
                let _ = changes_tx.send(());
            }
        });
        // The ledger is not there yet: the watcher keeps trying, waiting longer each time.
        let hang = Duration::from_secs(60);
        let got: Vec<Duration> = (0..3).map(|_| waits.recv_timeout(hang).unwrap()).collect();
        assert_eq!(
            got,
            [FIRST_BACKOFF, FIRST_BACKOFF * 2, FIRST_BACKOFF * 4],
            "growing backoff"
        );
        // Now it appears; commits from another connection reach the watcher.
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE t (x INTEGER)").unwrap();
        let deadline = std::time::Instant::now() + hang;
        loop {
            conn.execute("INSERT INTO t VALUES (1)", []).unwrap();
            if changes.recv_timeout(Duration::from_millis(20)).is_ok() {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the watcher never saw a commit"
            );
        }
    }

    #[test]
    fn heartbeats_alone_are_not_changes_and_everything_else_is() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(&dir.path().join("l.sqlite3"), Default::default()).unwrap();
        let t0 = crate::clock::from_millis(1_800_000_000_000);
        let beat = |s: i64| t0 + chrono::Duration::seconds(s);
        let app = ledger.register_instance("app", 1, t0).unwrap();
        let mut changes = ledger.changes(Duration::ZERO).with_sleep(|_| {});
        assert!(!changes.look().unwrap(), "nothing committed yet");
        for s in 1..4 {
            assert!(ledger.heartbeat(&app, beat(s)).unwrap());
            assert!(
                !changes.look().unwrap(),
                "heartbeat {s} alone woke the watcher"
            );
        }
        ledger.register_instance("cli", 2, beat(4)).unwrap();
        assert!(changes.look().unwrap(), "a new instance is a change");
        assert!(ledger.heartbeat(&app, beat(5)).unwrap());
        ledger
            .write(|tx| {
                Ok(tx.execute(
                    "INSERT INTO alerts (day, rule, subject, created_ms, message)
                     VALUES ('2027-01-15', 'all_spent', 'pool', 0, 'All keys are spent.')",
                    [],
                )?)
            })
            .unwrap();
        assert!(
            changes.look().unwrap(),
            "a heartbeat with an alert is a change"
        );
        assert!(!changes.look().unwrap(), "and it is reported once");
    }

    #[test]
    fn a_commit_through_the_ledger_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(&dir.path().join("l.sqlite3"), Default::default()).unwrap();
        let (tx, rx) = mpsc::channel::<()>();
        let mut changes = ledger.changes(Duration::from_millis(5));
        std::thread::spawn(move || {
            for () in changes.by_ref() {
                if tx.send(()).is_err() {
                    return;
                }
            }
        });
        let hang = Duration::from_secs(60);
        let deadline = std::time::Instant::now() + hang;
        let mut n = 0;
        loop {
            n += 1;
            // Something a front end shows (the content stamp leaves out heartbeats only).
            ledger
                .write(|tx| {
                    Ok(tx.execute(
                        "INSERT INTO alerts (day, rule, subject, created_ms, message)
                         VALUES ('2027-01-15', 'key_cap', ?1, 0, 'A key is at its cap.')",
                        [format!("k{n}")],
                    )?)
                })
                .unwrap();
            if rx.recv_timeout(Duration::from_millis(20)).is_ok() {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "no change seen");
        }
    }
}
