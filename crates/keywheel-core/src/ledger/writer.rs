//! How this process writes to the ledger file: one write lock per file per process, taken
//! before `BEGIN IMMEDIATE` (so SQLite's busy handler, which sleeps, only arbitrates between
//! processes), WAL checkpoints on a background thread instead of inside the commit that
//! happens to cross SQLite's threshold, and [`without_waiting`]: ledger work run where it is
//! asked for (an async worker) as long as its first write finds the file free.

use std::cell::Cell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError, TryLockError, Weak};
use std::time::{Duration, Instant};

use rusqlite::Connection;

thread_local! {
    /// What [`without_waiting`] allows this thread's ledger writes.
    static INLINE: Cell<Inline> = const { Cell::new(Inline::Off) };
}

/// The state of a [`without_waiting`] run on this thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Inline {
    /// No such run: writes wait for the file as long as it takes.
    Off,
    /// Nothing written yet: the next write declines rather than wait.
    First,
    /// A write began: the rest of the run waits like any write (it cannot be taken back).
    Began,
    /// A write declined: every further write of the run declines too, so nothing is written
    /// and the whole run can be done again elsewhere.
    Declined,
}

/// This thread's [`Inline`] state.
pub(crate) fn inline() -> Inline {
    INLINE.with(Cell::get)
}

/// Moves this thread's [`Inline`] state on.
pub(crate) fn set_inline(state: Inline) {
    INLINE.with(|c| c.set(state));
}

/// Runs `f` here on the condition that its ledger writes never wait for another writer: the
/// first [`super::Ledger::write`] in `f` declines, before writing anything, when this
/// process's write lock on the file is held (and does not free within a short spin,
/// [`WriteLock::try_lock_soon`]) or another process holds the file's (SQLite's busy handler
/// would sleep), and so does every write after it. `None` then: `f`'s result is
/// dropped, nothing was written, and the caller runs `f` again where waiting is fine (the
/// dispatcher's ledger thread). Once a write has begun, the rest of `f` runs as usual.
///
/// For async workers: a ledger call then costs no hop to another thread and back (two thread
/// wake-ups) when the file is free, which it nearly always is, and still never holds a worker
/// up behind another writer. Reads never wait in WAL mode.
pub fn without_waiting<T>(f: impl FnOnce() -> T) -> Option<T> {
    struct Reset(Inline);
    impl Drop for Reset {
        fn drop(&mut self) {
            set_inline(self.0);
        }
    }
    let before = inline();
    let _reset = Reset(before);
    set_inline(Inline::First);
    let out = f();
    (inline() != Inline::Declined).then_some(out)
}

/// Commits by one ledger handle between background checkpoints.
const CHECKPOINT_EVERY: u64 = 64;

/// WAL frames left after a background pass above which the checkpointer catches up once more
/// while holding this process's write lock, so the WAL can start again from its beginning
/// (SQLite rewinds it only once every frame is in the main file) instead of growing.
const REWIND_FRAMES: i64 = 2_000;

/// How often the checkpointer looks for commits that did not reach [`CHECKPOINT_EVERY`].
const CHECKPOINT_IDLE: Duration = Duration::from_secs(1);

/// How long a [`without_waiting`] write may spin for this process's write lock while its
/// holder is inside its transaction (see [`WriteLock::try_lock_soon`]).
const SPIN: Duration = Duration::from_micros(150);

/// The lock this process's writers to one file take before `BEGIN IMMEDIATE`: one per file
/// per process, shared by every [`super::Ledger`] opened on it, so two threads of one process
/// never meet in SQLite's busy handler (which sleeps for milliseconds).
#[derive(Debug, Default)]
pub struct WriteLock {
    mutex: Mutex<()>,
    /// The holder's transaction has begun ([`WriteLock::in_tx`]): it holds SQLite's write
    /// lock, so it ends without waiting for any other process.
    in_tx: AtomicBool,
    /// A writer is spinning in [`WriteLock::try_lock_soon`] (one at a time).
    spinning: AtomicBool,
    /// Writers asleep in [`WriteLock::lock`]: a writer that spun would only queue behind them.
    waiting: AtomicUsize,
}

impl WriteLock {
    /// Takes the lock, waiting as long as it takes.
    pub fn lock(&self) -> MutexGuard<'_, ()> {
        if let Some(g) = self.try_now() {
            return g;
        }
        self.waiting.fetch_add(1, Ordering::AcqRel);
        let g = self.mutex.lock().unwrap_or_else(PoisonError::into_inner);
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        g
    }

    /// Takes the lock now, or within [`SPIN`] when its holder is already inside its
    /// transaction, without sleeping; `None` otherwise.
    ///
    /// Why spin: at one request at a time the previous request's completion (a few tens of
    /// microseconds, on another worker) often still holds the lock when the next reservation
    /// comes. Declining then sends the reservation to the ledger thread and back, two thread
    /// wake-ups that cost more than the wait. A holder inside its transaction never waits for
    /// another process, so its end is near; one that has not begun may be waiting in
    /// SQLite's busy handler for another process, and is not waited for. Only one writer
    /// spins at a time, and none while another is asleep waiting for the lock (under load,
    /// where the ledger thread already queues the writes); the others decline at once.
    pub fn try_lock_soon(&self) -> Option<MutexGuard<'_, ()>> {
        if let Some(g) = self.try_now() {
            return Some(g);
        }
        if !self.in_tx.load(Ordering::Acquire)
            || self.waiting.load(Ordering::Acquire) > 0
            || self.spinning.swap(true, Ordering::AcqRel)
        {
            return None;
        }
        let deadline = Instant::now() + SPIN;
        let got = loop {
            if let Some(g) = self.try_now() {
                break Some(g);
            }
            if Instant::now() >= deadline {
                break None;
            }
            std::hint::spin_loop();
        };
        self.spinning.store(false, Ordering::Release);
        got
    }

    /// The lock if it is free (a writer that panicked holding it left nothing half-done:
    /// its transaction rolled back).
    fn try_now(&self) -> Option<MutexGuard<'_, ()>> {
        match self.mutex.try_lock() {
            Ok(g) => Some(g),
            Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }

    /// Marks the holder inside its transaction until the mark is dropped (before the lock).
    pub fn in_tx(&self) -> InTx<'_> {
        self.in_tx.store(true, Ordering::Release);
        InTx(&self.in_tx)
    }
}

/// The mark [`WriteLock::in_tx`] returns.
#[derive(Debug)]
pub struct InTx<'a>(&'a AtomicBool);

impl Drop for InTx<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// This process's [`WriteLock`] on the file at `path`.
pub fn process_write_lock(path: &Path) -> Arc<WriteLock> {
    static LOCKS: LazyLock<Mutex<HashMap<PathBuf, Weak<WriteLock>>>> =
        LazyLock::new(|| Mutex::new(HashMap::new()));
    let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mut locks = LOCKS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(lock) = locks.get(&key).and_then(Weak::upgrade) {
        return lock;
    }
    locks.retain(|_, l| l.strong_count() > 0);
    let lock = Arc::new(WriteLock::default());
    locks.insert(key, Arc::downgrade(&lock));
    lock
}

/// Runs `PRAGMA wal_checkpoint(PASSIVE)` on a thread of its own, every [`CHECKPOINT_EVERY`]
/// commits of its ledger handle and within [`CHECKPOINT_IDLE`] of the last one, so no
/// reservation waits for pages to be copied and synced into the main file. A passive
/// checkpoint never blocks readers or writers, in this process or others. The thread ends
/// when the handle is dropped.
#[derive(Debug)]
pub struct Checkpointer {
    wake: Option<SyncSender<()>>,
    commits: Arc<AtomicU64>,
}

impl Checkpointer {
    /// Starts the thread for the file at `path` (if it cannot be started, SQLite's inline
    /// checkpoints still bound the WAL).
    pub fn start(path: &Path, write_lock: Arc<WriteLock>) -> Self {
        let (wake, woken) = mpsc::sync_channel(1);
        let commits = Arc::new(AtomicU64::new(0));
        let seen = commits.clone();
        let path = path.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("ledger-checkpoint".into())
            .spawn(move || checkpoint_loop(&path, &woken, &seen, &write_lock));
        if let Err(e) = &thread {
            tracing::warn!(error = %e, "could not start the ledger's checkpoint thread");
        }
        Self {
            wake: thread.is_ok().then_some(wake),
            commits,
        }
    }

    /// Notes a commit; every [`CHECKPOINT_EVERY`]th wakes the thread (without waiting).
    pub fn committed(&self) {
        let n = self.commits.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_multiple_of(CHECKPOINT_EVERY)
            && let Some(wake) = &self.wake
        {
            let _ = wake.try_send(());
        }
    }
}

fn checkpoint_loop(
    path: &Path,
    woken: &mpsc::Receiver<()>,
    commits: &AtomicU64,
    write_lock: &WriteLock,
) {
    let mut conn: Option<Connection> = None;
    let mut done = 0u64;
    loop {
        match woken.recv_timeout(CHECKPOINT_IDLE) {
            Ok(()) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        let now = commits.load(Ordering::Relaxed);
        if now == done {
            continue;
        }
        if conn.is_none() {
            conn = Connection::open(path)
                .and_then(|c| super::db::configure(&c).map(|()| c))
                .map_err(|e| tracing::debug!(error = %e, "checkpoint connection"))
                .ok();
        }
        let Some(c) = &conn else { continue };
        let pass = || {
            c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
            })
        };
        match pass() {
            Ok((log, copied)) => {
                done = now;
                // Most frames are in the main file now; the few written meanwhile are copied
                // with this process's writers held, which lets the next one rewind the WAL.
                if log > REWIND_FRAMES && (0..log).contains(&copied) {
                    let _writers = write_lock.lock();
                    if let Err(e) = pass() {
                        tracing::debug!(error = %e, "background checkpoint");
                    }
                }
            }
            Err(e) => tracing::debug!(error = %e, "background checkpoint"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_on_one_file_share_one_write_lock() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.sqlite3"), dir.path().join("b.sqlite3"));
        std::fs::write(&a, b"").unwrap();
        std::fs::write(&b, b"").unwrap();
        let first = process_write_lock(&a);
        let again = process_write_lock(&dir.path().join(".").join("a.sqlite3"));
        assert!(Arc::ptr_eq(&first, &again));
        assert!(!Arc::ptr_eq(&first, &process_write_lock(&b)));
    }

    #[test]
    fn a_write_spins_only_for_a_holder_inside_its_transaction() {
        let lock = WriteLock::default();
        // Free: taken at once.
        drop(lock.try_lock_soon().expect("a free lock is taken"));
        // Held by a writer that has not begun (it may be waiting for another process): no
        // spin, declined at once.
        let held = lock.lock();
        assert!(lock.try_lock_soon().is_none());
        // Held inside a transaction that does not end within the spin: declined after it,
        // and the spinner's mark is cleared for the next one.
        let in_tx = lock.in_tx();
        assert!(lock.try_lock_soon().is_none());
        assert!(!lock.spinning.load(Ordering::Acquire));
        // Another writer asleep waiting for the lock: declined (no spin behind it).
        lock.waiting.fetch_add(1, Ordering::AcqRel);
        assert!(lock.try_lock_soon().is_none());
        lock.waiting.fetch_sub(1, Ordering::AcqRel);
        drop(in_tx);
        assert!(
            !lock.in_tx.load(Ordering::Acquire),
            "the mark ends with its transaction"
        );
        drop(held);
        assert!(lock.try_lock_soon().is_some());
    }

    #[test]
    fn a_spinner_takes_the_lock_its_holder_releases() {
        let lock = Arc::new(WriteLock::default());
        let (held_tx, held_rx) = mpsc::channel();
        let holder = {
            let lock = lock.clone();
            std::thread::spawn(move || {
                let _g = lock.lock();
                let _in_tx = lock.in_tx();
                held_tx.send(()).unwrap();
                // Release once a writer spins for it.
                while !lock.spinning.load(Ordering::Acquire) {
                    std::hint::spin_loop();
                }
            })
        };
        held_rx.recv().unwrap();
        // The holder may be descheduled past the spin on a busy machine: then the write is
        // declined (and done on the ledger thread); try until one spin sees the release.
        let mut got = None;
        for _ in 0..10_000 {
            got = lock.try_lock_soon();
            if got.is_some() {
                break;
            }
        }
        assert!(
            got.is_some(),
            "a spinning writer got the lock once it was released"
        );
        drop(got);
        holder.join().unwrap();
    }
}
