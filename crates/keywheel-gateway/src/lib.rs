//! `keywheel serve`: a local, OpenAI-compatible HTTP gateway over the key pool.
//!
//! Any tool that speaks OpenAI's API (the `openai` SDKs, editor plugins, notebooks, curl) can
//! point `OPENAI_BASE_URL` at it and present the local token as `OPENAI_API_KEY`; every request
//! then goes through the same [`keywheel_core::dispatch::Dispatcher`] as the CLI and the app:
//! the shared ledger, the caps, rotation at instance start, key and model fallback, the cache.
//! No OpenRouter key ever reaches a client.
//!
//! - [`Gateway::start`] binds, opens the server's own instance, and serves until
//!   [`Handle::shutdown`] (the CLI wires SIGTERM / Ctrl-C to it; the app its switch).
//! - Routes (see `docs/gateway.md`): `POST /v1/chat/completions` (also `/api/v1/…`), JSON and
//!   SSE; `GET /v1/models`; `GET /v1/keywheel/status`; `GET /health` (no token).
//! - [`token`]: the local `kw-…` token (keychain, or a 0600 file).
//! - [`sessions`]: `X-Keywheel-Session: <id>` gives a client its own instance, started (with the
//!   rotation rule) at the session's first request and expired after idling.
//! - [`openai`]: OpenAI's request, answer, chunk and error shapes.
//! - `follow`: the aliases' chains as the config file has them now (re-read when it changes).
//!
//! Every response carries `X-Keywheel-Overhead-Us`; answers from upstream also carry
//! `X-Keywheel-Key-Id` and `X-Keywheel-Model`.
#![warn(missing_docs)]

pub mod embedded;
mod follow;
pub mod openai;
mod server;
pub mod sessions;
mod stream;
pub mod token;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use keywheel_core::pool::Pool;
use keywheel_core::{Error, Result};

pub use token::{LocalToken, TokenStore};

/// How the gateway runs.
#[derive(Debug, Clone)]
pub struct GatewaySettings {
    /// Allow a non-loopback address (anyone who can reach it and has the token can spend the pool).
    pub allow_remote: bool,
    /// A session idle this long is ended (its instance deregistered). Default 10 minutes.
    pub session_idle: Duration,
    /// At most this many live sessions; a new one beyond it is refused with 503.
    pub max_sessions: usize,
    /// On shutdown, answers in flight get this long to finish before they are cancelled.
    pub shutdown_grace: Duration,
    /// The token clients must present; `None` loads (or makes) the pool's stored token.
    pub token: Option<LocalToken>,
    /// The config file the pool's settings were read from: the aliases follow its model
    /// chains, pins and cache switches while the gateway runs (`None`: they keep the pool's).
    pub config: Option<std::path::PathBuf>,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        Self {
            allow_remote: false,
            session_idle: Duration::from_secs(600),
            max_sessions: 256,
            shutdown_grace: Duration::from_secs(10),
            token: None,
            config: None,
        }
    }
}

/// The sentence printed when binding to a non-loopback address without `--allow-remote`.
pub fn remote_refusal(addr: SocketAddr) -> String {
    format!(
        "{addr} is not a loopback address: anyone who can reach it and holds the local token could spend your keys' quota; bind to 127.0.0.1 (the default), or pass --allow-remote to expose the gateway on purpose"
    )
}

/// The sentence logged when a non-loopback address is allowed.
pub fn remote_warning(addr: SocketAddr) -> String {
    format!(
        "the gateway listens on {addr}, beyond this machine: every client on that network that holds the local token can use the pool's quota (the OpenRouter keys themselves stay here)"
    )
}

/// The gateway.
#[derive(Debug)]
pub struct Gateway;

impl Gateway {
    /// Binds `addr`, starts the server's instance (the rotation rule applies) and serves in
    /// the background on the current tokio runtime. A non-loopback `addr` without
    /// [`GatewaySettings::allow_remote`] is [`Error::Usage`].
    pub async fn start(pool: Pool, settings: GatewaySettings, addr: SocketAddr) -> Result<Handle> {
        if !addr.ip().is_loopback() && !settings.allow_remote {
            return Err(Error::Usage(remote_refusal(addr)));
        }
        let token = match settings.token.clone() {
            Some(t) => t,
            None => {
                let p = pool.clone();
                blocking(move || LocalToken::load_or_create(&p)).await?
            }
        };
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| Error::io(format!("could not listen on {addr}"), e))?;
        let local = listener
            .local_addr()
            .map_err(|e| Error::io("could not read the listening address", e))?;
        if !local.ip().is_loopback() {
            tracing::warn!("{}", remote_warning(local));
        }
        let state = server::Inner::new(pool, settings, token).await?;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(server::serve(listener, state.clone(), stop_rx));
        tracing::info!(addr = %local, "gateway listening");
        Ok(Handle {
            addr: local,
            stop: stop_tx,
            task,
            state,
        })
    }
}

/// A running gateway.
#[derive(Debug)]
pub struct Handle {
    addr: SocketAddr,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<Result<()>>,
    state: Arc<server::Inner>,
}

impl Handle {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The OpenAI base URL clients use: `http://ADDR/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The local token clients present.
    pub fn token(&self) -> &LocalToken {
        &self.state.token
    }

    /// Live sessions.
    pub fn session_count(&self) -> usize {
        self.state.sessions.len()
    }

    /// Chat requests received so far (past the token check), as `GET /v1/keywheel/status`
    /// counts them.
    pub fn chat_requests(&self) -> u64 {
        self.state
            .counters
            .chat_requests
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Stops accepting, lets answers in flight finish (up to the grace period, then cancels
    /// them: what was sent stays counted, what was never sent is released), ends every
    /// session's instance and the server's own, and returns.
    pub async fn shutdown(self) -> Result<()> {
        let _ = self.stop.send(true);
        self.wait().await
    }

    /// Waits until the gateway has stopped (after [`Handle::shutdown`] from elsewhere, or a
    /// fatal accept error).
    pub async fn wait(self) -> Result<()> {
        let r = match self.task.await {
            Ok(r) => r,
            Err(e) => Err(Error::Upstream(format!("the gateway task failed: {e}"))),
        };
        self.state.close().await;
        r
    }

    /// A sender that stops the gateway when it sends `true` (for signal handlers).
    pub fn stopper(&self) -> tokio::sync::watch::Sender<bool> {
        self.stop.clone()
    }
}

/// Runs blocking ledger or keychain work off the async workers.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Upstream(format!("a background task failed: {e}")))?
}
