//! Every file under a directory, for the checks that no key reaches the disk.

use std::path::{Path, PathBuf};

/// Every file under `dir`, recursively (a missing `dir` has none).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Every file under `dir` with its bytes. A file gone between the listing and the read
/// (SQLite's `-shm`/`-wal` at a checkpoint, an atomic write's temporary file) is skipped: what
/// is gone holds nothing.
///
/// # Panics
/// On any other read error.
pub fn contents_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    files_under(dir)
        .into_iter()
        .filter_map(|p| match std::fs::read(&p) {
            Ok(bytes) => Some((p, bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => panic!("{}: {e}", p.display()),
        })
        .collect()
}

/// All the bytes of every file under `dir`, one after another.
pub fn all_bytes_under(dir: &Path) -> Vec<u8> {
    contents_under(dir)
        .into_iter()
        .flat_map(|(_, bytes)| bytes)
        .collect()
}
