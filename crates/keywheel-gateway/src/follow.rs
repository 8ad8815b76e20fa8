//! The settings the aliases follow while the gateway runs: `keywheel/chat` and
//! `keywheel/vision` use the chat and vision chains, their pins and the cache switches of the
//! config file *now*, not of the moment the gateway started (the app's settings view and a
//! hand edit of `config.toml` both apply to the next request).
//!
//! Each aliased request compares the file's stamp (modification time, length, inode) with the
//! last one seen — one `stat`, no read — and only a changed stamp re-reads the file (with the
//! `KEYWHEEL_*` environment on top, as at start). A file that does not parse keeps the last
//! good settings and is logged once per change. Everything else (caps, rotation, the data
//! dir, the base URL) stays as the gateway started.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use keywheel_core::Settings;

/// What identifies one version of the config file without reading it (`None`: no file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

fn stamp(path: &std::path::Path) -> Option<Stamp> {
    let m = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&m);
    #[cfg(not(unix))]
    let inode = 0;
    Some(Stamp {
        modified: m.modified().ok(),
        len: m.len(),
        inode,
    })
}

/// The launch settings, with the followed fields as the config file has them now.
pub(crate) struct Followed {
    path: Option<PathBuf>,
    /// The stamp last read (`None`: not read yet; `Some(None)`: there was no file).
    current: Mutex<(Option<Option<Stamp>>, Arc<Settings>)>,
}

impl std::fmt::Debug for Followed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Followed")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Followed {
    /// Follows `path` from `launch` (the pool's settings); the first request reads the file,
    /// since it may have changed between the pool's start and the gateway's (the app's switch).
    /// `None` never changes them.
    pub fn new(path: Option<PathBuf>, launch: Settings) -> Self {
        Self {
            path,
            current: Mutex::new((None, Arc::new(launch))),
        }
    }

    /// The settings for the next request.
    pub fn get(&self) -> Arc<Settings> {
        let mut current = self.current.lock().expect("settings lock");
        let Some(path) = &self.path else {
            return current.1.clone();
        };
        let now = stamp(path);
        if current.0 != Some(now) {
            current.0 = Some(now);
            match reload(path, now.is_some()) {
                Ok(fresh) => {
                    let s = Arc::make_mut(&mut current.1);
                    s.chat_models = fresh.chat_models;
                    s.vision_models = fresh.vision_models;
                    s.chat_pin = fresh.chat_pin;
                    s.vision_pin = fresh.vision_pin;
                    s.cache_chat = fresh.cache_chat;
                    s.cache_ocr = fresh.cache_ocr;
                    tracing::info!(config = %path.display(), "the gateway's aliases follow the changed config file");
                }
                Err(e) => {
                    tracing::warn!(config = %path.display(), error = %e, "the changed config file could not be read; the aliases keep the settings they had");
                }
            }
        }
        current.1.clone()
    }
}

/// The settings as a start would read them now: the file (if it exists), then the environment.
fn reload(path: &std::path::Path, exists: bool) -> keywheel_core::Result<Settings> {
    let file = if exists {
        path.display().to_string()
    } else {
        String::new()
    };
    Settings::load_with(&|k| {
        if k == "KEYWHEEL_CONFIG" {
            Some(file.clone())
        } else {
            std::env::var(k).ok()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_file_changes_the_chains_and_a_broken_one_keeps_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "chat_models = [\"a/one\"]\n").unwrap();
        let launch = Settings {
            chat_models: vec!["a/one".into()],
            daily_cap: 7,
            ..Settings::default()
        };
        let f = Followed::new(Some(path.clone()), launch);
        assert_eq!(f.get().chat_models, ["a/one"]);

        // Replaced (a new inode, as an atomic save makes): the pin and the chain follow.
        let next = dir.path().join("next.toml");
        std::fs::write(&next, "chat_models = [\"b/two\"]\nchat_pin = \"c/three\"\n").unwrap();
        std::fs::rename(&next, &path).unwrap();
        let s = f.get();
        assert_eq!(s.chat_models, ["b/two"]);
        assert_eq!(s.chat_pin.as_deref(), Some("c/three"));
        assert_eq!(s.daily_cap, 7, "what is not followed stays as launched");

        // A broken file keeps the last good settings.
        std::fs::write(&path, "chat_models = [\"unterminated").unwrap();
        assert_eq!(f.get().chat_pin.as_deref(), Some("c/three"));

        // No file: the defaults (and the environment) again.
        std::fs::remove_file(&path).unwrap();
        assert_eq!(f.get().chat_models, Settings::default().chat_models);
        assert_eq!(f.get().chat_pin, None);
    }
}
