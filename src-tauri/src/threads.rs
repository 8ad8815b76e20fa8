//! Chat threads, one JSON file each under `<data dir>/chats/`, written whole through a
//! temporary file and a rename, so a crash never leaves half a thread. Each thread belongs to
//! the window that writes it; several app processes can share the folder.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use chrono::Utc;
use keywheel_core::openrouter::CancelToken;
use keywheel_core::{Error, Result};

use crate::dto::{Thread, ThreadSummary};

/// The thread folder and the answers streaming now.
#[derive(Debug)]
pub struct Threads {
    dir: PathBuf,
    running: Mutex<HashMap<String, CancelToken>>,
}

impl Threads {
    /// Opens (and creates) the folder.
    pub fn open(dir: PathBuf) -> Result<Self> {
        std::fs::create_dir_all(&dir).map_err(|e| {
            Error::io(
                format!("could not create the chat folder {}", dir.display()),
                e,
            )
        })?;
        Ok(Self {
            dir,
            running: Mutex::default(),
        })
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
        let now = Utc::now();
        let id = format!(
            "{}-{:x}",
            now.format("%Y%m%d-%H%M%S%3f"),
            std::process::id()
        );
        let stamp = now.to_rfc3339();
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
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_vec_pretty(thread)
            .map_err(|e| Error::Usage(format!("could not encode the chat: {e}")))?;
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| Error::io(format!("could not save the chat {}", path.display()), e))
    }

    /// Deletes a thread (stopping its answer first).
    pub fn delete(&self, id: &str) -> Result<()> {
        self.stop(id);
        let path = self.path(id)?;
        std::fs::remove_file(&path)
            .map_err(|e| Error::io(format!("could not delete the chat {}", path.display()), e))
    }

    /// Marks an answer as streaming in `id`; fails if one already is.
    pub fn begin(&self, id: &str) -> Result<CancelToken> {
        let mut running = self.running.lock().expect("running lock");
        if running.contains_key(id) {
            return Err(Error::Usage(
                "this chat is still answering; wait or press Stop first".into(),
            ));
        }
        let token = CancelToken::new();
        running.insert(id.to_string(), token.clone());
        Ok(token)
    }

    /// The answer in `id` ended.
    pub fn end(&self, id: &str) {
        self.running.lock().expect("running lock").remove(id);
    }

    /// Stops the answer streaming in `id`, if any.
    pub fn stop(&self, id: &str) {
        if let Some(t) = self.running.lock().expect("running lock").get(id) {
            t.cancel();
        }
    }

    fn path(&self, id: &str) -> Result<PathBuf> {
        let ok = !id.is_empty()
            && id.len() <= 64
            && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !ok {
            return Err(Error::Usage(format!("`{id}` is not a chat id")));
        }
        Ok(self.dir.join(format!("{id}.json")))
    }

    fn read_path(&self, path: &std::path::Path) -> Result<Thread> {
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

    #[test]
    fn threads_round_trip_and_ids_cannot_escape_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let threads = Threads::open(dir.path().join("chats")).unwrap();
        let mut t = threads.create().unwrap();
        t.title = "Hello".into();
        threads.save(&t).unwrap();
        assert_eq!(threads.get(&t.id).unwrap().title, "Hello");
        assert_eq!(threads.list().unwrap().len(), 1);
        assert!(threads.get("../../etc/passwd").is_err());
        let token = threads.begin(&t.id).unwrap();
        assert!(threads.begin(&t.id).is_err(), "one answer at a time");
        threads.stop(&t.id);
        assert!(token.is_cancelled());
        threads.end(&t.id);
        threads.delete(&t.id).unwrap();
        assert!(threads.list().unwrap().is_empty());
    }
}
