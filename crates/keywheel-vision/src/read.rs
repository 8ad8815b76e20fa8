//! Reading an image file from disk with a size limit.

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::path::Path;

use crate::error::PrepError;
use crate::options::PrepOptions;
use crate::prepare::prepare;
use crate::prepared::Prepared;

/// Read the file at `path` (at most [`PrepOptions::max_input_bytes`]) and [`prepare`] it.
///
/// Errors name the path as given. Directories, missing paths, special files and unreadable
/// files are errors; the size is checked before reading.
pub fn prepare_path(path: &Path, opts: &PrepOptions) -> Result<Prepared, PrepError> {
    let name = path.display().to_string();
    let bytes = read_limited(path, &name, opts.max_input_bytes)?;
    prepare(&name, &bytes, opts)
}

fn read_limited(path: &Path, name: &str, limit: u64) -> Result<Vec<u8>, PrepError> {
    let io_error = |source: std::io::Error| match source.kind() {
        ErrorKind::NotFound => PrepError::NotFound {
            name: name.to_owned(),
        },
        _ => PrepError::Unreadable {
            name: name.to_owned(),
            source,
        },
    };
    let meta = std::fs::metadata(path).map_err(io_error)?;
    if meta.is_dir() {
        return Err(PrepError::IsDirectory {
            name: name.to_owned(),
        });
    }
    if !meta.is_file() {
        return Err(PrepError::Unreadable {
            name: name.to_owned(),
            source: std::io::Error::other("it is a device, pipe or socket, not a regular file"),
        });
    }
    if meta.len() > limit {
        return Err(PrepError::TooLarge {
            name: name.to_owned(),
            size: meta.len(),
            limit,
        });
    }
    let file = File::open(path).map_err(io_error)?;
    let capacity = usize::try_from(meta.len().min(limit)).unwrap_or(0);
    let mut bytes = Vec::with_capacity(capacity);
    // The file may grow between the size check and the read; never read past the limit.
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    if bytes.len() as u64 > limit {
        return Err(PrepError::TooLarge {
            name: name.to_owned(),
            size: bytes.len() as u64,
            limit,
        });
    }
    Ok(bytes)
}
