//! `keywheel-mock`: a faithful OpenRouter fake for tests, examples and benchmarks.
//!
//! It serves `POST /api/v1/chat/completions` (JSON and SSE, R1 reasoning, vision data URLs,
//! usage with cost, `model` + `models` fallbacks), `GET /api/v1/key`, `GET /api/v1/models` and
//! `GET /api/v1/generation` with OpenRouter's per-account daily and per-minute limits, its error
//! bodies and headers, and switchable faults. It can answer from a real `/models` snapshot
//! ([`MockConfig::with_catalog_file`]) with strict model ids, accounts without credits (402 on
//! paid models only), tier-2 accounts, and the 2026 kinds of 402. Control endpoints under `/__mock` (no auth) expose
//! statistics by key id, the recorded requests, and let a test change faults, queue scripted
//! responses, simulate the UTC day rollover and add keys.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use keywheel_mock::{MockConfig, MockServer};
//! let server = MockServer::start(MockConfig::default().with_limits(3, 20)).await?;
//! let base = server.base_url(); // http://127.0.0.1:PORT/api/v1
//! # let _ = base; Ok(()) }
//! ```
//!
//! Keys are never logged or reported: statistics name them by key id, the first 12 hex
//! characters of their SHA-256 ([`key_id`]).

mod bodies;
mod catalog;
mod chat;
mod clock;
mod completion;
mod config;
pub mod fixtures;
mod record;
mod server;
mod sse;
mod state;
mod vision;

use std::future::IntoFuture;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

pub use config::{
    CatalogJson, Faults, MockConfig, MockKey, NoCreditsBody, ScriptedResponse, UnknownModelShape,
};
pub use record::{KeyStats, RecordedImage, RecordedRequest, Stats};
pub use state::{is_key_shaped, key_id};

use state::Shared;

/// A running mock server. It stops when dropped.
pub struct MockServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    runner: Runner,
}

enum Runner {
    /// Serving on the caller's tokio runtime.
    Task(tokio::task::JoinHandle<()>),
    /// Serving on a thread with its own runtime ([`start_blocking`]).
    Thread {
        stop: Option<tokio::sync::oneshot::Sender<()>>,
        thread: Option<std::thread::JoinHandle<()>>,
    },
}

impl std::fmt::Debug for MockServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

fn invalid_config(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

fn check_loopback(addr: SocketAddr) -> io::Result<()> {
    if addr.ip().is_loopback() {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("keywheel-mock only listens on loopback addresses, not {addr}"),
        ))
    }
}

impl MockServer {
    /// Starts the server on `127.0.0.1:0` on the current tokio runtime.
    pub async fn start(cfg: MockConfig) -> io::Result<MockServer> {
        Self::start_on(cfg, SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await
    }

    /// Starts the server on a given loopback address (non-loopback addresses are refused).
    pub async fn start_on(cfg: MockConfig, addr: SocketAddr) -> io::Result<MockServer> {
        check_loopback(addr)?;
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(cfg).map_err(invalid_config)?);
        let app = server::router(shared.clone());
        let task = tokio::spawn(async move {
            // An accept error ends the server; tests then see connection errors.
            // No Nagle: a stream's first event leaves at once, as it does from OpenRouter.
            let listener = axum::serve::ListenerExt::tap_io(listener, |t| {
                let _ = t.set_nodelay(true);
            });
            let _ = axum::serve(listener, app).await;
        });
        Ok(MockServer {
            shared,
            addr,
            runner: Runner::Task(task),
        })
    }

    /// The OpenRouter base URL of this server: `http://127.0.0.1:PORT/api/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/api/v1", self.addr)
    }

    /// The root URL (`http://127.0.0.1:PORT`), under which `/__mock/…` lives.
    pub fn root_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Chat-request statistics per key id (same data as `GET /__mock/stats`).
    pub fn stats(&self) -> Stats {
        let mut s = self.shared.stats();
        s.accounts_daily_used = self.shared.accounts_daily(crate::clock::now());
        s
    }

    /// The last 200 chat requests, oldest first (same as `GET /__mock/requests`).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests()
    }

    /// The raw bytes of image `i` of request `seq` (as `GET /__mock/requests/<seq>/image/<i>`).
    pub fn request_image(&self, seq: u64, i: usize) -> Option<Vec<u8>> {
        self.shared.image(seq, i).map(|b| b.to_vec())
    }

    /// Replaces the faults.
    pub fn set_faults(&self, f: Faults) {
        self.shared.set_faults(f);
    }

    /// Queues responses served in order to the next chat requests (after auth, before all other
    /// logic; they do not count toward limits).
    pub fn script(&self, responses: Vec<ScriptedResponse>) {
        self.shared.script(responses);
    }

    /// Forgets every account's daily counter (a simulated UTC rollover).
    pub fn reset_day(&self) {
        self.shared.reset_day();
    }

    /// Adds (or replaces) a key at run time.
    pub fn add_key(&self, key: MockKey) {
        self.shared.add_key(key);
    }

    /// Sets the requests `account` has used today (as `POST /__mock/accounts/used`), as if its
    /// keys had been used elsewhere. Keys that are their own account are named by key id.
    pub fn set_account_used(&self, account: &str, used: u32) {
        self.shared
            .set_account_used(account, used, crate::clock::now());
    }

    /// Marks `account` as tier 2 (1000 free requests a day, credits) or takes that away.
    pub fn set_tier2(&self, account: &str, tier2: bool) {
        self.shared.set_tier2(account, tier2);
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        match &mut self.runner {
            Runner::Task(task) => task.abort(),
            Runner::Thread { stop, thread } => {
                if let Some(stop) = stop.take() {
                    let _ = stop.send(());
                }
                if let Some(thread) = thread.take() {
                    let _ = thread.join();
                }
            }
        }
    }
}

/// Starts the server on `127.0.0.1:0` on its own thread with its own tokio runtime, for
/// synchronous tests. It serves until the returned [`MockServer`] is dropped.
pub fn start_blocking(cfg: MockConfig) -> io::Result<MockServer> {
    let std_listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    std_listener.set_nonblocking(true)?;
    let addr = std_listener.local_addr()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("keywheel-mock")
        .enable_all()
        .build()?;
    let listener = {
        let _guard = runtime.enter();
        tokio::net::TcpListener::from_std(std_listener)?
    };
    let shared = Arc::new(Shared::new(cfg).map_err(invalid_config)?);
    let app = server::router(shared.clone());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("keywheel-mock-server".to_string())
        .spawn(move || {
            runtime.block_on(async move {
                tokio::select! {
                    _ = axum::serve(
                        axum::serve::ListenerExt::tap_io(listener, |t| {
                            let _ = t.set_nodelay(true);
                        }),
                        app,
                    )
                    .into_future() => {}
                    _ = stop_rx => {}
                }
            });
            runtime.shutdown_timeout(Duration::from_secs(1));
        })?;
    Ok(MockServer {
        shared,
        addr,
        runner: Runner::Thread {
            stop: Some(stop_tx),
            thread: Some(thread),
        },
    })
}
