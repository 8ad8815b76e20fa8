//! Chat threads, one JSON file each under `<data dir>/chats/` (a `0700` folder of `0600`
//! files), written whole through a unique temporary file, `fsync` and a rename
//! ([`crate::private::write_atomic`]), so neither a crash nor two processes saving the same
//! thread ever leave a file that does not parse. Times come from the injected clock; thread
//! ids carry random bits. An answer in progress holds an [`Answering`] guard: however the
//! answer ends (done, error, panic), the thread is unlocked when the guard drops.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::clock::SharedClock;
use crate::error::{Error, Result};
use crate::openrouter::CancelToken;

use super::{ChatMessage, Role, Thread, ThreadSummary};

/// The thread folder and the answers streaming now (in this process).
#[derive(Debug)]
pub struct Threads {
    dir: PathBuf,
    clock: SharedClock,
    running: Mutex<HashMap<String, CancelToken>>,
}

/// An answer streaming in one thread; dropping it (at the end, on an error or in a panic)
/// unlocks the thread.
#[derive(Debug)]
pub struct Answering<'a> {
    threads: &'a Threads,
    id: String,
    token: CancelToken,
}

impl Answering<'_> {
    /// Cancelled by Stop (or by deleting the thread).
    pub fn token(&self) -> &CancelToken {
        &self.token
    }
}

impl Drop for Answering<'_> {
    fn drop(&mut self) {
        self.threads.running().remove(&self.id);
    }
}

impl Threads {
    /// Opens (and creates) the folder; `clock` stamps threads and messages.
    pub fn open(dir: PathBuf, clock: SharedClock) -> Result<Self> {
        crate::private::create_private_dir(&dir).map_err(|e| {
            Error::io(
                format!("could not create the chat folder {}", dir.display()),
                e,
            )
        })?;
        Ok(Self {
            dir,
            clock,
            running: Mutex::default(),
        })
    }

    /// The folder every face uses: `<data dir>/chats`.
    pub fn in_data_dir(data_dir: &Path, clock: SharedClock) -> Result<Self> {
        Self::open(data_dir.join("chats"), clock)
    }

    /// Every thread, newest first.
    pub fn list(&self) -> Result<Vec<ThreadSummary>> {
        let entries = std::fs::read_dir(&self.dir).map_err(|e| {
            Error::io(
                format!("could not list the chat folder {}", self.dir.display()),
                e,
            )
        })?;
        let mut out: Vec<ThreadSummary> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .filter_map(|e| self.read_path(&e.path()).ok())
            .map(|t| ThreadSummary {
                messages: t.messages.len() as u32,
                id: t.id,
                title: t.title,
                updated_at: t.updated_at,
            })
            .collect();
        out.sort_by(|a, b| b.updated_at.cmp(&a.updated_at));
        Ok(out)
    }

    /// A new, empty thread (saved at once so it shows in the list).
    pub fn create(&self) -> Result<Thread> {
        let now = self.clock.now();
        // Sortable by time, unique by 64 random bits (two windows, one millisecond).
        let id = format!(
            "{}-{:016x}",
            now.format("%Y%m%d-%H%M%S%3f"),
            rand::random::<u64>()
        );
        self.create_as(id)
    }

    /// The thread `id`, created empty (and saved) if there is none yet; `true` when it was
    /// created. An id is 1–64 letters, digits and `-`.
    pub fn get_or_create(&self, id: &str) -> Result<(Thread, bool)> {
        if self.path(id)?.exists() {
            return Ok((self.get(id)?, false));
        }
        Ok((self.create_as(id.to_string())?, true))
    }

    fn create_as(&self, id: String) -> Result<Thread> {
        let stamp = self.clock.now().to_rfc3339();
        let thread = Thread {
            id,
            title: "New chat".into(),
            created_at: stamp.clone(),
            updated_at: stamp,
            messages: Vec::new(),
        };
        self.save(&thread)?;
        Ok(thread)
    }

    /// One thread.
    pub fn get(&self, id: &str) -> Result<Thread> {
        self.read_path(&self.path(id)?)
    }

    /// Saves a thread whole.
    pub fn save(&self, thread: &Thread) -> Result<()> {
        let path = self.path(&thread.id)?;
        let text = serde_json::to_vec_pretty(thread)
            .map_err(|e| Error::Usage(format!("could not encode the chat: {e}")))?;
        crate::private::write_atomic(&path, &text)
            .map_err(|e| Error::io(format!("could not save the chat {}", path.display()), e))
    }

    /// Stamps `updated_at` now and saves the thread.
    pub fn touch(&self, thread: &mut Thread) -> Result<()> {
        thread.updated_at = self.clock.now().to_rfc3339();
        self.save(thread)
    }

    /// A message written now.
    pub fn message(&self, role: Role, content: String) -> ChatMessage {
        ChatMessage::new(role, content, self.clock.now().to_rfc3339())
    }

    /// Deletes a thread (stopping its answer first).
    pub fn delete(&self, id: &str) -> Result<()> {
        self.stop(id);
        let path = self.path(id)?;
        std::fs::remove_file(&path)
            .map_err(|e| Error::io(format!("could not delete the chat {}", path.display()), e))
    }

    /// Marks an answer as streaming in `id`; fails if one already is. The thread is
    /// unlocked when the returned guard drops.
    pub fn begin(&self, id: &str) -> Result<Answering<'_>> {
        let mut running = self.running();
        if running.contains_key(id) {
            return Err(Error::Usage(
                "this chat is still answering; wait or press Stop first".into(),
            ));
        }
        let token = CancelToken::new();
        running.insert(id.to_string(), token.clone());
        Ok(Answering {
            threads: self,
            id: id.to_string(),
            token,
        })
    }

    /// Stops the answer streaming in `id`, if any.
    pub fn stop(&self, id: &str) {
        if let Some(t) = self.running().get(id) {
            t.cancel();
        }
    }

    /// The answers streaming now (a panic elsewhere while it was held does not lock us out).
    fn running(&self) -> std::sync::MutexGuard<'_, HashMap<String, CancelToken>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn path(&self, id: &str) -> Result<PathBuf> {
        let ok = !id.is_empty()
            && id.len() <= 64
            && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !ok {
            return Err(Error::Usage(format!(
                "`{id}` is not a chat id (1 to 64 letters, digits and `-`)"
            )));
        }
        Ok(self.dir.join(format!("{id}.json")))
    }

    fn read_path(&self, path: &Path) -> Result<Thread> {
        let text = std::fs::read(path).map_err(|e| {
            Error::io(
                format!(
                    "could not read the chat {}; it may have been deleted",
                    path.display()
                ),
                e,
            )
        })?;
        serde_json::from_slice(&text).map_err(|e| {
            Error::Usage(format!(
                "the chat file {} is damaged ({e}); delete it",
                path.display()
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn open(dir: PathBuf) -> Threads {
        Threads::open(dir, Arc::new(crate::SystemClock)).unwrap()
    }

    #[test]
    fn threads_round_trip_and_ids_cannot_escape_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let threads = open(dir.path().join("chats"));
        let mut t = threads.create().unwrap();
        t.title = "Hello".into();
        threads.save(&t).unwrap();
        assert_eq!(threads.get(&t.id).unwrap().title, "Hello");
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.path().join("chats")), 0o700, "a private folder");
        assert_eq!(mode(&threads.path(&t.id).unwrap()), 0o600, "a private file");
        assert_eq!(threads.list().unwrap().len(), 1);
        assert!(threads.get("../../etc/passwd").is_err());
        let answer = threads.begin(&t.id).unwrap();
        assert!(threads.begin(&t.id).is_err(), "one answer at a time");
        threads.stop(&t.id);
        assert!(answer.token().is_cancelled());
        drop(answer);
        threads.delete(&t.id).unwrap();
        assert!(threads.list().unwrap().is_empty());
    }

    #[test]
    fn times_come_from_the_injected_clock_and_a_named_thread_is_created_once() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(crate::FakeClock::at(2026, 3, 1, 12, 0, 0));
        let threads = Threads::open(dir.path().join("chats"), clock.clone()).unwrap();
        let t = threads.create().unwrap();
        assert!(t.id.starts_with("20260301-120000000-"), "{}", t.id);
        assert_eq!(t.created_at, "2026-03-01T12:00:00+00:00");
        let (mut named, created) = threads.get_or_create("work").unwrap();
        assert!(created && named.messages.is_empty());
        named
            .messages
            .push(threads.message(Role::User, "hi".into()));
        clock.advance(chrono::Duration::minutes(5));
        threads.touch(&mut named).unwrap();
        let (again, created) = threads.get_or_create("work").unwrap();
        assert!(!created);
        assert_eq!(again.messages.len(), 1);
        assert_eq!(again.updated_at, "2026-03-01T12:05:00+00:00");
        let e = threads.get_or_create("../x").unwrap_err();
        assert_eq!(e.code(), crate::ErrorCode::Usage);
        assert!(e.to_string().contains("not a chat id"), "{e}");
    }

    #[test]
    fn a_panic_or_an_error_mid_answer_leaves_the_chat_unlocked() {
        let dir = tempfile::tempdir().unwrap();
        let threads = open(dir.path().join("chats"));
        let t = threads.create().unwrap();
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _answer = threads.begin(&t.id).unwrap();
            panic!("something broke mid-answer");
        }));
        assert!(panicked.is_err());
        assert!(threads.begin(&t.id).is_ok(), "unlocked after a panic");
        let failed = (|| -> Result<()> {
            let _answer = threads.begin(&t.id)?;
            Err(Error::Usage("the save failed".into()))
        })();
        assert!(failed.is_err());
        assert!(threads.begin(&t.id).is_ok(), "unlocked after an error");
    }

    #[test]
    fn thread_ids_differ_even_when_made_in_the_same_millisecond() {
        let dir = tempfile::tempdir().unwrap();
        let threads = open(dir.path().join("chats"));
        let ids: std::collections::HashSet<String> =
            (0..50).map(|_| threads.create().unwrap().id).collect();
        assert_eq!(ids.len(), 50);
        assert_eq!(
            threads.list().unwrap().len(),
            50,
            "no thread overwrote another"
        );
    }

    /// Set in the child processes of the test below: the folder and the thread they save.
    const WRITER_DIR: &str = "KEYWHEEL_TEST_WRITER_DIR";
    const WRITER_ID: &str = "KEYWHEEL_TEST_WRITER_ID";
    const SAVES: usize = 1000;

    #[test]
    fn two_processes_saving_one_thread_never_leave_a_file_that_does_not_parse() {
        if let (Some(dir), Some(id)) = (std::env::var_os(WRITER_DIR), std::env::var(WRITER_ID).ok())
        {
            // A child: save the same thread SAVES times, each time with different content.
            let threads = open(dir.into());
            let mut t = threads.get(&id).unwrap();
            for n in 0..SAVES {
                t.title = format!("save {n} from {}", std::process::id());
                t.messages = (0..(n % 7) + 1)
                    .map(|i| ChatMessage {
                        at: String::new(),
                        ..threads.message(Role::User, format!("{n}-{i} ").repeat(300))
                    })
                    .collect();
                threads.save(&t).unwrap();
            }
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let chats = dir.path().join("chats");
        let threads = open(chats.clone());
        let t = threads.create().unwrap();
        let exe = std::env::current_exe().unwrap();
        let name = "chat::store::tests::two_processes_saving_one_thread_never_leave_a_file_that_does_not_parse";
        let mut children: Vec<std::process::Child> = (0..2)
            .map(|_| {
                std::process::Command::new(&exe)
                    .args([name, "--exact", "--test-threads=1"])
                    .env(WRITER_DIR, &chats)
                    .env(WRITER_ID, &t.id)
                    .stdout(std::process::Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let mut reads = 0;
        loop {
            let done = children.iter_mut().all(|c| c.try_wait().unwrap().is_some());
            match threads.get(&t.id) {
                Ok(_) => reads += 1,
                Err(e) => panic!("read {reads} found a torn thread: {e}"),
            }
            if done {
                break;
            }
        }
        for mut c in children {
            assert!(c.wait().unwrap().success(), "a writer failed");
        }
        assert!(reads > 1, "the reader ran while the writers wrote");
        let left: Vec<_> = std::fs::read_dir(&chats)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 1, "only the thread is left: {left:?}");
    }
}
