//! The gateway embedded in another program (the desktop app's Keys → settings → "Local
//! gateway"): the same server as `keywheel serve` (see docs/gateway.md), started and stopped
//! by a [`Switch`] in that process, loopback only, and what the request log says about the
//! requests it served. The app's commands call [`Switch::start`], [`Switch::stop`],
//! [`Switch::status`] (a [`GatewayStatus`], never the token itself) and [`Switch::label`].
//!
//! The address is `127.0.0.1:8377` (as `keywheel serve`), or `KEYWHEEL_GATEWAY_ADDR`
//! (port 0 picks a free one); a non-loopback address is refused, the app never exposes the
//! pool beyond this machine. Sessions idle for `KEYWHEEL_SESSION_IDLE_SECS` (600) end.
//!
//! **Via.** A request row records the face that sent it (`via`: `gateway`, `app`, `cli`, …)
//! and its gateway session, from the kind of its instance (ledger migration 9). Rows written
//! before that migration do not; for them the app still uses the kinds of the instances it
//! has seen during this launch (all live ones whenever the request log is read, and its own
//! gateway's while it runs and when it stops).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use keywheel_core::keys::KeyId;
use keywheel_core::ledger::request_log::RequestRow;
use keywheel_core::pool::Pool;
use keywheel_core::{Error, Result};
use serde::Serialize;

use crate::sessions::SESSION_KIND_PREFIX;
use crate::{Gateway, GatewaySettings, Handle};

/// Where the gateway listens unless `KEYWHEEL_GATEWAY_ADDR` says otherwise.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8377";

/// The environment variable naming another loopback address (`127.0.0.1:0` picks a free port).
pub const ADDR_ENV: &str = "KEYWHEEL_GATEWAY_ADDR";

/// The environment variable `keywheel serve` reads for the session idle limit, in seconds.
pub const IDLE_ENV: &str = "KEYWHEEL_SESSION_IDLE_SECS";

/// How often the kinds of the gateway's instances are noted while it runs (its sessions
/// live at least the idle limit, so none is missed).
const NOTE_EVERY: Duration = Duration::from_secs(2);

/// What the "Local gateway" card shows. Never the token itself.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct GatewayStatus {
    /// Whether it is serving.
    pub running: bool,
    /// `127.0.0.1:PORT` while running.
    pub addr: Option<String>,
    /// `http://127.0.0.1:PORT/v1`, the `OPENAI_BASE_URL` clients use.
    pub base_url: Option<String>,
    /// The local token masked (`kw-…1a2b`).
    pub token_masked: Option<String>,
    /// Where the token is kept (the OS keychain, or its 0600 file).
    pub token_store: Option<String>,
    /// Live sessions (`X-Keywheel-Session`), each its own instance with its own key.
    pub sessions: Vec<GatewaySession>,
    /// A session idle this long ends.
    pub session_idle_secs: u64,
}

/// One live gateway session.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct GatewaySession {
    /// The client's session id.
    pub id: String,
    /// The key it holds.
    pub key_id: Option<KeyId>,
}

/// A request log row with what sent it (`row.via`, `row.session`), when known.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LoggedRequest {
    /// The row as the ledger has it; `via` and `session` filled from the instances seen in
    /// this launch when the ledger did not record them (rows from before migration 9).
    #[serde(flatten)]
    #[cfg_attr(feature = "ts", ts(flatten))]
    pub row: RequestRow,
    /// [`RequestRow::outcome`]: `cached`, its class (`ok`, `rate_limited`, …) or its state;
    /// the word the request log's badge shows.
    pub outcome: String,
}

/// The switch: the gateway stopped, or running with its handle.
#[derive(Default)]
pub struct Switch {
    running: tokio::sync::Mutex<Option<Running>>,
    /// Instance id → kind, for every instance seen in this launch.
    kinds: Arc<Mutex<HashMap<String, String>>>,
}

struct Running {
    handle: Handle,
    noter: tokio::task::JoinHandle<()>,
    idle: Duration,
}

impl Switch {
    /// Starts the gateway on the configured address ([`ADDR_ENV`], else [`DEFAULT_ADDR`];
    /// loopback only), with the session idle limit of [`IDLE_ENV`] and the aliases following
    /// the config file, and says how it runs. Already running: nothing changes.
    pub async fn start(&self, pool: &Pool) -> Result<GatewayStatus> {
        let addr = addr_from(std::env::var(ADDR_ENV).ok().as_deref())?;
        let settings = GatewaySettings {
            session_idle: idle_from(std::env::var(IDLE_ENV).ok().as_deref()),
            // The aliases follow the settings view's edits (saved to this file).
            config: keywheel_core::config::config_path(&|k| std::env::var(k).ok()),
            ..GatewaySettings::default()
        };
        self.start_at(pool, settings, addr).await
    }

    /// Starts the gateway on `addr` (loopback, checked by the caller) with `settings`.
    pub async fn start_at(
        &self,
        pool: &Pool,
        settings: GatewaySettings,
        addr: SocketAddr,
    ) -> Result<GatewayStatus> {
        let mut running = self.running.lock().await;
        if running.is_none() {
            let idle = settings.session_idle;
            let handle = Gateway::start(pool.clone(), settings, addr)
                .await
                .map_err(|e| explain_bind(e, addr))?;
            tracing::info!(addr = %handle.addr(), "gateway started from the app");
            let noter = tokio::spawn(note_loop(pool.clone(), self.kinds.clone()));
            *running = Some(Running {
                handle,
                noter,
                idle,
            });
        }
        let status = status_of(running.as_ref(), pool);
        drop(running);
        Ok(status)
    }

    /// Stops it: no new connections, answers in flight finish (bounded), every session's
    /// instance ends. Already stopped: nothing happens.
    pub async fn stop(&self, pool: &Pool) -> Result<GatewayStatus> {
        let taken = self.running.lock().await.take();
        if let Some(Running { handle, noter, .. }) = taken {
            noter.abort();
            // Note the instances before they end: their rows stay labelled.
            note(pool, &self.kinds);
            handle.shutdown().await?;
            tracing::info!("gateway stopped from the app");
        }
        Ok(status_of(None, pool))
    }

    /// How it runs now.
    pub async fn status(&self, pool: &Pool) -> GatewayStatus {
        status_of(self.running.lock().await.as_ref(), pool)
    }

    /// The local token, for the copy buttons only (`None` when stopped).
    pub async fn token(&self) -> Option<zeroize::Zeroizing<String>> {
        let running = self.running.lock().await;
        running
            .as_ref()
            .map(|r| zeroize::Zeroizing::new(r.handle.token().expose().to_string()))
    }

    /// Labels request rows with the kind of instance that sent them (noting the live
    /// instances first).
    pub fn label(&self, pool: &Pool, rows: Vec<RequestRow>) -> Vec<LoggedRequest> {
        note(pool, &self.kinds);
        let kinds = self.kinds.lock().expect("kinds lock");
        rows.into_iter()
            .map(|mut row| {
                if row.via.is_none()
                    && let Some(kind) = kinds.get(&row.instance_id)
                {
                    (row.via, row.session) = via_of(kind);
                }
                LoggedRequest {
                    outcome: row.outcome().to_string(),
                    row,
                }
            })
            .collect()
    }
}

/// `(via, session)` for an instance kind: `gateway-session:s1` → `("gateway", "s1")`.
pub fn via_of(kind: &str) -> (Option<String>, Option<String>) {
    let (via, session) = keywheel_core::ledger::request_log::via_of(kind);
    (Some(via.to_string()), session.map(str::to_string))
}

/// The address to listen on: the default, or the one given, loopback only.
pub fn addr_from(given: Option<&str>) -> Result<SocketAddr> {
    let text = given.map(str::trim).filter(|s| !s.is_empty());
    let addr: SocketAddr = text.unwrap_or(DEFAULT_ADDR).parse().map_err(|_| {
        Error::Usage(format!(
            "{ADDR_ENV}={:?} is not an address; give IP:PORT, e.g. 127.0.0.1:8377",
            text.unwrap_or_default()
        ))
    })?;
    if !addr.ip().is_loopback() {
        return Err(Error::Usage(format!(
            "{ADDR_ENV}={addr} is not a loopback address, and the app serves only this machine; use 127.0.0.1:PORT (to expose the pool on a network on purpose, run `keywheel serve --allow-remote` in a terminal)"
        )));
    }
    Ok(addr)
}

/// The session idle limit: the setting in seconds (at least 1), else 10 minutes.
pub fn idle_from(given: Option<&str>) -> Duration {
    given
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map_or(GatewaySettings::default().session_idle, |s| {
            Duration::from_secs(s.max(1))
        })
}

/// A port already taken gets a sentence that says by whom it may be and what to do.
pub fn explain_bind(e: Error, addr: SocketAddr) -> Error {
    match &e {
        Error::Io { source, .. } if source.kind() == std::io::ErrorKind::AddrInUse => {
            Error::Usage(format!(
                "{addr} is already in use, perhaps by `keywheel serve` in a terminal (its clients share the same pool and can keep using it); stop that one, or start the app with {ADDR_ENV}=127.0.0.1:PORT to use another port"
            ))
        }
        _ => e,
    }
}

fn status_of(running: Option<&Running>, pool: &Pool) -> GatewayStatus {
    let Some(r) = running else {
        return GatewayStatus {
            running: false,
            addr: None,
            base_url: None,
            token_masked: None,
            token_store: None,
            sessions: Vec::new(),
            session_idle_secs: idle_from(std::env::var(IDLE_ENV).ok().as_deref()).as_secs(),
        };
    };
    let token = r.handle.token();
    GatewayStatus {
        running: true,
        addr: Some(r.handle.addr().to_string()),
        base_url: Some(r.handle.base_url()),
        token_masked: Some(mask_token(token.expose())),
        token_store: Some(token.store().to_string()),
        sessions: sessions(pool),
        session_idle_secs: r.idle.as_secs(),
    }
}

/// `kw-…` and the last four characters.
pub fn mask_token(token: &str) -> String {
    let tail = token.get(token.len().saturating_sub(4)..).unwrap_or("");
    format!("kw-…{tail}")
}

/// This process's gateway sessions, from the ledger's instances (none once it stopped).
pub fn sessions(pool: &Pool) -> Vec<GatewaySession> {
    let me = std::process::id();
    let mut out: Vec<GatewaySession> = live(pool)
        .into_iter()
        .filter(|i| i.pid == me)
        .filter_map(|i| {
            let id = i.kind.strip_prefix(SESSION_KIND_PREFIX)?.to_string();
            Some(GatewaySession {
                id,
                key_id: i.key_id,
            })
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// Every instance row the ledger holds now (stale ones too: their kind is still true).
fn live(pool: &Pool) -> Vec<keywheel_core::ledger::instances::InstanceInfo> {
    pool.ledger()
        .live_instances(pool.now(), chrono::Duration::days(3650))
        .unwrap_or_default()
}

fn note(pool: &Pool, kinds: &Mutex<HashMap<String, String>>) {
    let seen = live(pool);
    let mut kinds = kinds.lock().expect("kinds lock");
    for i in seen {
        kinds.insert(i.id, i.kind);
    }
}

async fn note_loop(pool: Pool, kinds: Arc<Mutex<HashMap<String, String>>>) {
    loop {
        let (p, k) = (pool.clone(), kinds.clone());
        let _ = tokio::task::spawn_blocking(move || note(&p, &k)).await;
        tokio::time::sleep(NOTE_EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_kinds_read_as_via_gateway_with_the_session() {
        assert_eq!(
            via_of("gateway-session:nightly-ocr-3"),
            (Some("gateway".into()), Some("nightly-ocr-3".into()))
        );
        assert_eq!(via_of("gateway"), (Some("gateway".into()), None));
        assert_eq!(via_of("cli"), (Some("cli".into()), None));
    }

    #[test]
    fn the_app_listens_on_loopback_only() {
        assert_eq!(addr_from(None).unwrap().to_string(), DEFAULT_ADDR);
        assert_eq!(addr_from(Some(" ")).unwrap().to_string(), DEFAULT_ADDR);
        assert_eq!(addr_from(Some("127.0.0.1:0")).unwrap().port(), 0);
        assert!(addr_from(Some("[::1]:9000")).is_ok());
        let e = addr_from(Some("0.0.0.0:8377")).unwrap_err();
        assert_eq!(e.code(), keywheel_core::ErrorCode::Usage);
        assert!(e.to_string().contains("not a loopback address"), "{e}");
        let e = addr_from(Some("localhost")).unwrap_err();
        assert!(e.to_string().contains("is not an address"), "{e}");
    }

    #[test]
    fn idle_limit_and_token_mask() {
        assert_eq!(idle_from(None), Duration::from_secs(600));
        assert_eq!(idle_from(Some("0")), Duration::from_secs(1));
        assert_eq!(idle_from(Some("30")), Duration::from_secs(30));
        assert_eq!(idle_from(Some("soon")), Duration::from_secs(600));
        let token = format!("kw-{}", "ab".repeat(30) + "1f2e");
        let m = mask_token(&token);
        assert_eq!(m, "kw-…1f2e");
        assert!(!m.contains(&token[3..20]));
    }

    #[test]
    fn a_taken_port_is_a_sentence() {
        let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = held.local_addr().unwrap();
        let io = std::net::TcpListener::bind(addr).unwrap_err();
        let e = explain_bind(Error::io(format!("could not listen on {addr}"), io), addr);
        assert_eq!(e.code(), keywheel_core::ErrorCode::Usage);
        assert!(e.to_string().contains("already in use"), "{e}");
    }
}
