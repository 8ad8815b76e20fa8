//! Files only this user can read. The data dir holds every transcription, every chat and the
//! request log, so Keywheel's directories are made `0700` and its files `0600`, whatever the
//! umask (modes are set explicitly after creation, which the umask does not touch).
//!
//! Whole-file writes ([`write_atomic`]) go through a uniquely named temporary file in the same
//! directory, are flushed to disk and then renamed over the target: a reader (in any process)
//! sees the old file or the new one, never a mix of two writers.

use std::fs::{File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// The mode of Keywheel's directories.
pub const DIR_MODE: u32 = 0o700;
/// The mode of Keywheel's files.
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` and missing parents, each new one `0700` (directories that already exist are
/// left as they are: the config file may live in a folder shared with other things).
pub fn create_dir(dir: &Path) -> io::Result<()> {
    if dir.as_os_str().is_empty() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
}

/// [`create_dir`], then makes `dir` itself `0700` even if it existed: for Keywheel's own
/// directories (the data dir, `logs/`, `chats/`).
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    create_dir(dir)?;
    if dir.as_os_str().is_empty() {
        return Ok(());
    }
    restrict(dir, DIR_MODE)
}

/// Sets `path`'s mode to `mode` unless it already has it (a file owned by someone else,
/// which we could not change, is left as it is and reported).
pub fn restrict(path: &Path, mode: u32) -> io::Result<()> {
    let meta = std::fs::metadata(path)?;
    if meta.permissions().mode() & 0o7777 != mode {
        std::fs::set_permissions(path, Permissions::from_mode(mode))?;
    }
    Ok(())
}

/// Opens `path` for appending, creating it `0600` (an existing file is made `0600`).
pub fn open_append(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(FILE_MODE)
        .open(path)?;
    if file.metadata()?.permissions().mode() & 0o7777 != FILE_MODE {
        file.set_permissions(Permissions::from_mode(FILE_MODE))?;
    }
    Ok(file)
}

/// Replaces `path` with `bytes`: a unique `0600` temporary file beside it, `fsync`, then a
/// rename. Concurrent writers (threads or processes) never interleave; the last rename wins.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".keywheel-")
        .suffix(".tmp")
        .permissions(Permissions::from_mode(FILE_MODE))
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn dirs_and_files_are_private_even_when_they_existed_open() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, Permissions::from_mode(0o755)).unwrap();
        create_private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        let fresh = root.path().join("c/d");
        create_dir(&fresh).unwrap();
        assert_eq!(mode(&fresh), 0o700);
        assert_eq!(mode(&root.path().join("c")), 0o700);
        let f = dir.join("log");
        std::fs::write(&f, "x").unwrap();
        std::fs::set_permissions(&f, Permissions::from_mode(0o644)).unwrap();
        drop(open_append(&f).unwrap());
        assert_eq!(mode(&f), 0o600);
        let g = dir.join("thread.json");
        write_atomic(&g, b"{}").unwrap();
        assert_eq!(mode(&g), 0o600);
        assert_eq!(std::fs::read(&g).unwrap(), b"{}");
        let names: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(names.len(), 2, "no temporary file left behind");
    }

    #[test]
    fn the_config_file_is_written_private_in_a_private_new_folder() {
        let root = tempfile::tempdir().unwrap();
        let cfg = root.path().join("keywheel/config.toml");
        let edit = crate::config::SettingsEdit {
            rotate_after: Some(5),
            ..Default::default()
        };
        crate::config::edit_file(&cfg, &edit).unwrap();
        assert_eq!(mode(cfg.parent().unwrap()), 0o700);
        assert_eq!(mode(&cfg), 0o600);
        let again = crate::config::SettingsEdit {
            rotate_after: Some(6),
            ..Default::default()
        };
        crate::config::edit_file(&cfg, &again).unwrap();
        assert_eq!(mode(&cfg), 0o600);
        let names: Vec<_> = std::fs::read_dir(cfg.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file left behind");
    }
}
