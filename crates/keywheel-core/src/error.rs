//! The core's error type and the stable codes front ends branch on.
//!
//! Every variant's `Display` is a sentence a person can act on. [`Error::code`] gives the
//! machine-readable [`ErrorCode`] (the IPC edge and `--json` output carry it) and
//! [`Error::exit_code`] the CLI exit status from docs/errors.md (exit codes).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Result with the core [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A stable, serializable error code: what a UI or a script branches on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The command was used wrongly (unknown key id, bad flag value, bad setting).
    Usage,
    /// There are usable keys, but every one is spent or capped for now.
    QuotaExhausted,
    /// No usable key at all: none configured, or all invalid, disabled or out of credit.
    NoUsableKey,
    /// A local program Keywheel needs is not installed (tesseract, poppler); exit 4 like
    /// [`ErrorCode::NoUsableKey`]: nothing here can do the work.
    ToolMissing,
    /// OpenRouter (or the network) kept failing after retries.
    Upstream,
    /// The input itself is bad (a key of the wrong shape, an unreadable image).
    BadInput,
    /// The OS keychain cannot be reached.
    KeychainUnavailable,
    /// The local database or file system failed.
    Storage,
    /// The operation was cancelled.
    Cancelled,
    /// The team ledger (PostgreSQL) cannot be reached (docs/team.md).
    LedgerUnreachable,
}

/// Everything that can go wrong in the core.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A wrong use: unknown key id, invalid setting.
    #[error("{0}")]
    Usage(String),
    /// Bad input, named in the sentence.
    #[error("{0}")]
    BadInput(String),
    /// The keychain is unavailable; the sentence says what to install or start.
    #[error("{0}")]
    Keychain(String),
    /// Every usable key is spent or capped until `reset_at`.
    #[error("{message}")]
    QuotaExhausted {
        /// The plain sentence (docs/pool.md §7).
        message: String,
        /// When the next key frees up.
        reset_at: DateTime<Utc>,
    },
    /// No key can be used at all.
    #[error("{0}")]
    NoUsableKey(String),
    /// A local program is not installed; the sentence says what to install.
    #[error("{0}")]
    ToolMissing(String),
    /// Upstream kept failing.
    #[error("{0}")]
    Upstream(String),
    /// Cancelled by the caller.
    #[error("cancelled")]
    Cancelled,
    /// The ledger (SQLite) failed.
    #[error("the usage ledger failed: {0}")]
    Db(#[from] rusqlite::Error),
    /// The connection pool could not hand out a connection.
    #[error("the usage ledger could not be opened: {0}")]
    Pool(#[from] r2d2::Error),
    /// A schema migration failed.
    #[error("the usage ledger could not be upgraded: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    /// The ledger file cannot be used as it is (too new, damaged, read-only, disk full); the
    /// sentence names the path and what to do.
    #[error("{0}")]
    Storage(String),
    /// The team ledger (PostgreSQL) cannot be reached; the sentence names host:port, never a
    /// password (docs/team.md).
    #[error("{0}")]
    LedgerUnreachable(String),
    /// A file could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, naming the path.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl Error {
    /// The stable code for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Usage(_) => ErrorCode::Usage,
            Error::BadInput(_) => ErrorCode::BadInput,
            Error::Keychain(_) => ErrorCode::KeychainUnavailable,
            Error::QuotaExhausted { .. } => ErrorCode::QuotaExhausted,
            Error::NoUsableKey(_) => ErrorCode::NoUsableKey,
            Error::ToolMissing(_) => ErrorCode::ToolMissing,
            Error::Upstream(_) => ErrorCode::Upstream,
            Error::Cancelled => ErrorCode::Cancelled,
            Error::LedgerUnreachable(_) => ErrorCode::LedgerUnreachable,
            Error::Db(_)
            | Error::Pool(_)
            | Error::Migration(_)
            | Error::Storage(_)
            | Error::Io { .. } => ErrorCode::Storage,
        }
    }

    /// The CLI exit status (docs/errors.md, exit codes): 2 usage, 3 quota, 4 no usable key, 5 upstream, 6 bad input, 7 the team ledger unreachable.
    pub fn exit_code(&self) -> i32 {
        match self.code() {
            ErrorCode::Usage | ErrorCode::KeychainUnavailable => 2,
            ErrorCode::QuotaExhausted => 3,
            ErrorCode::NoUsableKey | ErrorCode::ToolMissing => 4,
            ErrorCode::Upstream => 5,
            ErrorCode::BadInput => 6,
            ErrorCode::LedgerUnreachable => 7,
            ErrorCode::Storage | ErrorCode::Cancelled => 1,
        }
    }

    /// Wraps an I/O error with a sentence naming what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialize_in_snake_case_and_map_to_exit_codes() {
        let e = Error::NoUsableKey("no keys".into());
        assert_eq!(
            serde_json::to_string(&e.code()).unwrap(),
            "\"no_usable_key\""
        );
        assert_eq!(e.exit_code(), 4);
        assert_eq!(Error::BadInput("x".into()).exit_code(), 6);
        let missing = Error::ToolMissing("install tesseract".into());
        assert_eq!(
            (missing.code(), missing.exit_code()),
            (ErrorCode::ToolMissing, 4)
        );
        assert_eq!(
            Error::QuotaExhausted {
                message: "m".into(),
                reset_at: crate::clock::from_millis(0)
            }
            .exit_code(),
            3
        );
    }
}
