//! Keywheel's core library: everything the CLI and the desktop app share.
//!
//! - [`keys`]: the redacting [`keys::ApiKey`] type, key ids, the OS keychain and `OPENROUTER_API_KEYS`.
//! - [`ledger`]: the SQLite file every running copy shares — key metadata, per-key per-UTC-day
//!   counts, the request log, instances and the pool's current key. Every request is reserved
//!   here, atomically, before it is sent.
//! - [`pool`]: the rules on top of the ledger — rotation at instance start, fallback, caps.
//! - [`config`], [`clock`], [`error`]: settings, the injected clock and the error type.
//!
//! The crate depends on neither `tauri` nor `clap`; both front ends are thin layers over it.
#![warn(missing_docs)]

pub mod alerts;
pub mod cache;
pub mod cancel;
pub mod catalogue;
pub mod chains;
pub mod chat;
pub mod child;
pub mod clock;
pub mod config;
pub mod dispatch;
pub mod error;
pub mod forecast;
pub mod input;
pub mod keys;
pub mod ledger;
pub mod ocr;
pub mod openrouter;
pub mod pool;
pub mod private;
pub mod progress;
pub mod reconcile;
pub mod telemetry;
#[cfg(feature = "ts")]
pub mod ts;
mod vocab;

pub use cancel::CancelToken;
pub use clock::{Clock, FakeClock, SystemClock};
pub use config::Settings;
pub use error::{Error, ErrorCode, Result};
pub use keys::{ApiKey, KeyId};
