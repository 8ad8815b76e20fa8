//! The mock's clock: OpenRouter's own "now" (the real time; tests that need another day call
//! `MockServer::reset_day`). Keywheel's code never reads the time but through its injected
//! clock; the mock is the other side of the wire, so it has its own.

use chrono::{DateTime, Utc};

/// Now, for the mock (the system clock).
#[allow(clippy::disallowed_methods)] // the mock's one wall-clock read: it plays OpenRouter
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now()
}
