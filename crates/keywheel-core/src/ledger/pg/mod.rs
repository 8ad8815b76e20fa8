//! The team ledger: the same tables and rules as the SQLite file, on a PostgreSQL server that
//! several machines share (docs/team.md).
//!
//! Driver: `tokio-postgres` with the `deadpool-postgres` pool — the well-kept async driver, and
//! a pool that recycles a connection the server dropped (a restart, `pg_terminate_backend`)
//! instead of handing it out again. [`super::Ledger`]'s API is synchronous (the core calls it
//! from `spawn_blocking` and its ledger threads, the CLI from plain threads), so this handle owns
//! a current-thread runtime that the calling thread drives itself ([`PgLedger::block`]): the
//! connections' tasks run on the thread that waits for their answers, so a round trip wakes no
//! other thread (as a plain synchronous client). It works on any thread, even one already
//! inside a tokio runtime, where the sync `postgres` crate would panic.
//!
//! Exactness across machines: a reservation locks the rows of its account's keys
//! (`SELECT … FOR UPDATE`, in id order) before it reads the day counts and minute windows, so
//! two machines can never both take request #50. In team mode "now" is the server's clock
//! (`clock_timestamp()`), read inside the transaction; a machine whose own clock is off by more
//! than [`SKEW_WARN`] is warned at start.

pub mod accounts;
pub mod alerts;
pub mod cache;
pub mod changes;
pub mod instances;
pub mod jobs;
pub mod keys;
pub mod password;
pub mod request_log;
pub mod reserve;
pub mod retention;
pub mod summary;
pub mod target;
pub mod tls;
pub mod transfer;
pub mod usage;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

pub use target::Target;

/// Runs `$body` (an async block's contents, using `$tx`, returning `PgResult<T>`) in one
/// transaction on the team ledger, from synchronous code: READ COMMITTED, the row locks the
/// body takes, retried on a deadlock or serialization failure (rolled back by the server). A
/// connection lost before the COMMIT was sent (the server restarted, the backend was
/// terminated) is retried on a fresh connection for up to the connect timeout: the server
/// rolled that transaction back, so nothing was counted twice. A COMMIT whose answer is lost
/// may have committed: with `idempotent` (a body that does nothing the second time, e.g. a
/// completion) it is retried too; otherwise it is an error (exit 7), and what it wrote stays
/// (a reservation's row stays counted until its instance expires, never lost; reservations
/// resolve this case themselves, ledger/pg/reserve.rs). A macro, not a closure, so the body
/// borrows what it likes.
macro_rules! pg_tx {
    ($pg:expr, |$tx:ident| $body:block) => {
        $crate::ledger::pg::pg_tx!(@run $pg, false, |$tx| $body)
    };
    ($pg:expr, idempotent, |$tx:ident| $body:block) => {
        $crate::ledger::pg::pg_tx!(@run $pg, true, |$tx| $body)
    };
    (@run $pg:expr, $again:expr, |$tx:ident| $body:block) => {{
        let pg: &$crate::ledger::pg::PgLedger = $pg;
        pg.block(async {
            let mut retry = $crate::ledger::pg::Retry::default();
            loop {
                let mut committing = false;
                let attempt: $crate::ledger::pg::PgResult<_> = async {
                    let mut client = pg.client().await?;
                    let open = client.transaction().await?;
                    let $tx = &open;
                    let out = $crate::ledger::pg::typed(async $body).await?;
                    committing = true;
                    open.commit().await?;
                    Ok(out)
                }
                .await;
                match pg.settle(attempt, &mut retry, !committing || $again) {
                    Some(done) => break done,
                    None => retry.pause().await,
                }
            }
        })
    }};
}
pub(crate) use pg_tx;

/// Runs `$body` (using the client `$c`) outside a transaction: reads. A dropped connection
/// (the server restarted, the backend was terminated) is retried on a fresh one for up to the
/// connect timeout.
macro_rules! pg_read {
    ($pg:expr, |$c:ident| $body:block) => {{
        let pg: &$crate::ledger::pg::PgLedger = $pg;
        pg.block(async {
            let mut retry = $crate::ledger::pg::Retry::default();
            loop {
                let attempt: $crate::ledger::pg::PgResult<_> = async {
                    let client = pg.client().await?;
                    let $c: &tokio_postgres::Client = &client;
                    $crate::ledger::pg::typed(async $body).await
                }
                .await;
                match pg.settle(attempt, &mut retry, true) {
                    Some(done) => break done,
                    None => retry.pause().await,
                }
            }
        })
    }};
}
pub(crate) use pg_read;

use crate::clock::from_millis;
use crate::error::{Error, Result};

/// A machine whose clock differs from the server's by more than this is warned at start.
pub const SKEW_WARN: Duration = Duration::from_secs(5);

/// The advisory lock the migrations run under (any fixed number; "kwledger" in ASCII).
const MIGRATION_LOCK: i64 = 0x6b77_6c65_6467_6572;

/// Connections per process.
const POOL_SIZE: usize = 4;

/// The schema, in order: the same numbers as the SQLite migrations (ledger/db.rs).
const MIGRATIONS: [&str; 12] = [
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_cache_models.sql"),
    include_str!("migrations/0003_ocr_jobs.sql"),
    include_str!("migrations/0004_alerts.sql"),
    include_str!("migrations/0005_request_indexes.sql"),
    include_str!("migrations/0006_accounts_observed.sql"),
    include_str!("migrations/0007_retention.sql"),
    include_str!("migrations/0008_window_ring.sql"),
    include_str!("migrations/0009_request_via.sql"),
    include_str!("migrations/0010_request_hours.sql"),
    include_str!("migrations/0011_imports.sql"),
    include_str!("migrations/0012_reserve_function.sql"),
];

/// The schema version this build knows.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// How to open a team ledger.
#[derive(Debug, Clone)]
pub struct Options {
    /// Give up connecting after this long (exit 7).
    pub connect_timeout: Duration,
    /// This machine's name, stored with its instances.
    pub host: String,
    /// Whether "now" for windows, days, heartbeats and expiry is the server's clock (team
    /// mode). Off only in tests that drive time themselves.
    pub server_clock: bool,
    /// Whether opening runs pending migrations (`false`: a schema behind is an error).
    pub migrate: bool,
    /// Whether the response cache is shared by the team (`team_cache = true`). Off by
    /// default: it hands one person's OCR text and answers to another. When off, a team
    /// ledger caches no responses at all (ledger/pg/cache.rs).
    pub team_cache: bool,
    /// Whether a URL without a password may take it from the OS keychain (`keychain` in the
    /// settings); the password file (`PGPASSFILE`) is read either way (ledger/pg/password.rs).
    pub keychain: bool,
}

impl Options {
    /// The options the settings give (server clock on).
    pub fn from_settings(s: &crate::config::Settings) -> Self {
        Self {
            connect_timeout: Duration::from_secs(s.ledger_connect_timeout_secs),
            host: machine_name(),
            server_clock: true,
            migrate: true,
            team_cache: s.team_cache,
            keychain: s.keychain,
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            host: machine_name(),
            server_clock: true,
            migrate: true,
            team_cache: false,
            keychain: true,
        }
    }
}

/// This machine's name: `KEYWHEEL_MACHINE` if set, else the kernel's host name.
pub fn machine_name() -> String {
    std::env::var("KEYWHEEL_MACHINE")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// A handle on a team ledger (cheap to clone).
#[derive(Clone)]
pub struct PgLedger {
    inner: Arc<Inner>,
}

struct Inner {
    rt: tokio::runtime::Runtime,
    pool: Pool,
    target: Target,
    opts: Options,
    /// Whether a connection was ever had (a lost one is then worth trying again).
    connected: std::sync::atomic::AtomicBool,
    /// The server process (pid, start time) behind each pooled connection, asked once per
    /// connection: a reservation whose answer was lost waits for that process to be gone
    /// before it asks what became of its call (ledger/pg/reserve.rs).
    backends:
        std::sync::Mutex<std::collections::HashMap<deadpool_postgres::ObjectId, reserve::Backend>>,
}

impl std::fmt::Debug for PgLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgLedger")
            .field("target", &self.inner.target.display())
            .finish()
    }
}

/// What a migration run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migrated {
    /// The version before.
    pub from: i64,
    /// The version after.
    pub to: i64,
}

impl PgLedger {
    /// Connects (within the connect timeout, else exit 7 naming host:port), checks the schema
    /// and migrates it when behind (if `opts.migrate`), and warns about clock skew. A URL
    /// without a password takes it from the password file or the keychain
    /// ([`password::find`]); `sslmode` decides TLS ([`tls`]).
    pub fn open(target: &Target, opts: &Options) -> Result<Self> {
        // Current-thread: whichever thread waits in `block` drives the connections' tasks (one
        // at a time; another caller meanwhile waits for its own answer, driven by the first).
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::io("could not start the team ledger's runtime", e))?;
        let mut config = target.config().clone();
        config.connect_timeout(opts.connect_timeout);
        config.application_name("keywheel");
        let (found, source) = password::find(target, opts.keychain)?;
        if let Some(pw) = &found {
            config.password(pw.expose());
        }
        drop(found);
        tracing::debug!(?source, "team ledger password source");
        let manager_config = ManagerConfig {
            // `Fast`: a connection the server closed is found closed (`is_closed`) and replaced;
            // one closed unnoticed fails its first statement and is retried (`settle`). No
            // test query before every transaction (a round trip per reservation).
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = match target.tls().connector()? {
            Some(tls) => Manager::from_config(config, tls, manager_config),
            None => Manager::from_config(config, NoTls, manager_config),
        };
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .create_timeout(Some(opts.connect_timeout))
            .wait_timeout(Some(opts.connect_timeout.max(Duration::from_secs(30))))
            .build()
            .map_err(|e| Error::Storage(format!("the team ledger's pool: {e}")))?;
        let ledger = Self {
            inner: Arc::new(Inner {
                rt,
                pool,
                target: target.clone(),
                opts: opts.clone(),
                connected: std::sync::atomic::AtomicBool::new(false),
                backends: std::sync::Mutex::default(),
            }),
        };
        if opts.migrate {
            ledger.migrate()?;
        } else {
            ledger.check_schema()?;
        }
        ledger.check_clock();
        Ok(ledger)
    }

    /// Where it is, for people.
    pub fn target(&self) -> &Target {
        &self.inner.target
    }

    /// This machine's name as stored with its instances.
    pub fn host(&self) -> &str {
        &self.inner.opts.host
    }

    /// Whether the response cache is shared (`team_cache`).
    pub fn team_cache(&self) -> bool {
        self.inner.opts.team_cache
    }

    /// Whether "now" is the server's clock.
    pub fn server_clock(&self) -> bool {
        self.inner.opts.server_clock
    }

    /// Runs `fut` on this handle's runtime and waits for it, from any thread. The calling
    /// thread drives it (and the connections' tasks): no hand-off to another thread per round
    /// trip.
    pub(crate) fn block<T: Send>(&self, fut: impl Future<Output = T> + Send) -> T {
        use tokio::runtime::{Handle, RuntimeFlavor};
        // A call from inside one of ours would wait for the runtime this thread holds.
        assert!(
            !DRIVING.get(),
            "a team-ledger call was made from inside another one on the same thread"
        );
        let drive = |fut| {
            DRIVING.set(true);
            let _reset = ResetDriving;
            self.inner.rt.block_on(fut)
        };
        match Handle::try_current().map(|h| h.runtime_flavor()) {
            // A plain thread, or one of our own callers' ledger threads.
            Err(_) => drive(fut),
            // Inside a multi-thread runtime (a task, `block_on`, or `spawn_blocking`):
            // `block_in_place` leaves that runtime (a worker hands its other tasks on first),
            // so this thread may drive ours.
            Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(|| drive(fut)),
            // Inside a current-thread runtime `block_on` would panic, and `block_in_place` is
            // not offered there: wait from a thread of our own.
            Ok(_) => std::thread::scope(|s| {
                s.spawn(|| self.inner.rt.block_on(fut))
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p))
            }),
        }
    }

    /// A pooled connection (one the server dropped is replaced by the pool's recycling).
    pub(crate) async fn client(&self) -> PgResult<deadpool_postgres::Object> {
        // The connections' tasks run only while a call drives this runtime: let them read what
        // the server said meanwhile (a terminated backend's goodbye), so the pool's
        // `is_closed` check sees a dropped connection before handing it out. The first yield
        // polls the sockets (waking the tasks that have something to read), the second lets
        // those tasks run before this call goes on.
        tokio::task::yield_now().await;
        tokio::task::yield_now().await;
        let client = self
            .inner
            .pool
            .get()
            .await
            .map_err(|e| Fail::Core(self.pool_error(e)))?;
        self.inner
            .connected
            .store(true, std::sync::atomic::Ordering::Relaxed);
        Ok(client)
    }

    /// What to do with one try of a transaction or read: its result, or `None` to try again
    /// (after [`Retry::pause`]). A deadlock or serialization failure was rolled back by the
    /// server and is retried; so is a lost connection when `retry_lost` (the server rolled the
    /// transaction back, or it was a read), for up to the connect timeout — but only on a
    /// ledger that has connected before: unreachable at start fails at once (exit 7).
    pub(crate) fn settle<T>(
        &self,
        attempt: PgResult<T>,
        retry: &mut Retry,
        retry_lost: bool,
    ) -> Option<Result<T>> {
        retry.tries += 1;
        match attempt {
            Ok(v) => Some(Ok(v)),
            Err(Fail::Pg(e)) if retry.tries < 20 && is_conflict(&e) => None,
            Err(f) if retry_lost && f.is_lost() && self.may_reconnect(retry) => {
                tracing::debug!("the team ledger's connection was lost; trying a fresh one");
                None
            }
            Err(e) => Some(Err(self.fail(e))),
        }
    }

    /// Whether a lost connection may be tried again: this handle connected before, and the
    /// connection has been gone for less than the connect timeout.
    pub(crate) fn may_reconnect(&self, retry: &mut Retry) -> bool {
        if !self
            .inner
            .connected
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            return false;
        }
        let since = *retry.lost_since.get_or_insert_with(std::time::Instant::now);
        since.elapsed() < self.inner.opts.connect_timeout
    }

    /// The server's clock.
    pub fn server_now(&self) -> Result<DateTime<Utc>> {
        pg_read!(self, |c| {
            let row = c.query_one(NOW_MS, &[]).await?;
            Ok(from_millis(row.get(0)))
        })
    }

    fn check_clock(&self) {
        let before = crate::clock::system_now();
        let Ok(server) = self.server_now() else {
            return;
        };
        let after = crate::clock::system_now();
        let local = before + (after - before) / 2;
        let skew = (server - local).num_milliseconds().unsigned_abs();
        if skew > SKEW_WARN.as_millis() as u64 {
            tracing::warn!(
                skew_ms = skew,
                "this machine's clock is {} s off the team ledger's ({}); the ledger's clock is \
                 used for caps, days and heartbeats, but fix this machine's time (NTP)",
                skew / 1000,
                self.inner.target.display()
            );
        }
    }

    /// The schema version the server's ledger is at (0: empty database).
    pub fn schema_version(&self) -> Result<i64> {
        pg_read!(self, |c| {
            {
                let exists: bool = c
                    .query_one("SELECT to_regclass('keywheel_schema') IS NOT NULL", &[])
                    .await?
                    .get(0);
                if !exists {
                    return Ok(0);
                }
                let row = c
                    .query_one("SELECT COALESCE(MAX(version), 0) FROM keywheel_schema", &[])
                    .await?;
                Ok(row.get::<_, i64>(0))
            }
        })
    }

    fn check_schema(&self) -> Result<()> {
        let found = self.schema_version()?;
        if found < SCHEMA_VERSION {
            return Err(Error::Storage(format!(
                "the team ledger {} is at schema {found}, this Keywheel needs {SCHEMA_VERSION}; \
                 run `keywheel ledger migrate`",
                self.inner.target.display()
            )));
        }
        self.not_newer(found)
    }

    fn not_newer(&self, found: i64) -> Result<()> {
        if found > SCHEMA_VERSION {
            return Err(Error::Storage(format!(
                "the team ledger {} was written by a newer Keywheel (schema {found}, this one \
                 knows {SCHEMA_VERSION}); upgrade Keywheel on this machine",
                self.inner.target.display()
            )));
        }
        Ok(())
    }

    /// Applies the pending migrations under a session advisory lock, so that many machines
    /// starting at once migrate exactly once: the others wait on the lock, then find nothing
    /// to do. Each migration commits with its version row (`keywheel_schema`, which also says
    /// which machine and process applied it).
    ///
    /// A connection lost meanwhile (the server restarted, the backend was terminated while it
    /// waited for the lock) is tried again for up to the connect timeout: each migration commits
    /// with its version row, so a second try starts after the last one that committed.
    pub fn migrate(&self) -> Result<Migrated> {
        let mut retry = Retry::default();
        loop {
            match self.migrate_once() {
                Err(e @ Error::LedgerUnreachable(_)) => {
                    if !self.may_reconnect(&mut retry) {
                        return Err(e);
                    }
                    tracing::debug!("the team ledger's connection was lost while migrating; again");
                    retry.tries += 1;
                    self.block(retry.pause());
                }
                done => return done,
            }
        }
    }

    fn migrate_once(&self) -> Result<Migrated> {
        let pool = &self.inner.pool;
        let host = self.inner.opts.host.clone();
        let pid = i64::from(std::process::id());
        // Up to date: nothing to lock or create, so a role with only the ledger's table
        // privileges (docs/team.md, "Least privilege") opens it.
        let found = self.schema_version()?;
        self.not_newer(found)?;
        if found == SCHEMA_VERSION {
            return Ok(Migrated {
                from: found,
                to: found,
            });
        }
        self.block(async {
            let mut client = pool.get().await.map_err(|e| self.pool_error(e))?;
            client
                .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
                .await
                .map_err(|e| self.error(e))?;
            let run = async {
                client
                    .batch_execute(
                        "CREATE TABLE IF NOT EXISTS keywheel_schema (
                           version     BIGINT PRIMARY KEY,
                           applied_ms  BIGINT NOT NULL,
                           applied_by  TEXT NOT NULL
                         )",
                    )
                    .await
                    .map_err(|e| self.error(e))?;
                let from: i64 = client
                    .query_one("SELECT COALESCE(MAX(version), 0) FROM keywheel_schema", &[])
                    .await
                    .map_err(|e| self.error(e))?
                    .get(0);
                self.not_newer(from)?;
                for (i, sql) in MIGRATIONS.iter().enumerate().skip(from as usize) {
                    let version = i as i64 + 1;
                    let tx = client.transaction().await.map_err(|e| self.error(e))?;
                    tx.batch_execute(sql).await.map_err(|e| {
                        if is_connection_error(&e) {
                            // Lost, not refused: `migrate` tries again.
                            return self.error(e);
                        }
                        Error::Storage(format!(
                            "the team ledger {} could not be upgraded to schema {version}: {e}",
                            self.inner.target.display()
                        ))
                    })?;
                    tx.execute(
                        "INSERT INTO keywheel_schema (version, applied_ms, applied_by)
                         VALUES ($1, (extract(epoch FROM clock_timestamp()) * 1000)::bigint, $2)",
                        &[&version, &format!("{host} pid {pid}")],
                    )
                    .await
                    .map_err(|e| self.error(e))?;
                    tx.commit().await.map_err(|e| self.error(e))?;
                    tracing::info!(version, "team ledger migrated");
                }
                Ok(Migrated {
                    from,
                    to: SCHEMA_VERSION.max(from),
                })
            }
            .await;
            // The lock ends with the session anyway; unlock so the pooled connection is clean.
            let _ = client
                .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
                .await;
            run
        })
    }

    /// The sentence for a pool that could not hand out a connection.
    fn pool_error(&self, e: PoolError) -> Error {
        match e {
            PoolError::Backend(e) => self.error(e),
            PoolError::Timeout(_) => self.unreachable("the connection timed out"),
            other => self.unreachable(&other.to_string()),
        }
    }

    pub(crate) fn fail(&self, f: Fail) -> Error {
        match f {
            Fail::Pg(e) => self.error(e),
            Fail::Core(e) => e,
        }
    }

    /// The sentence for a failed statement: a lost or refused connection is "unreachable"
    /// (exit 7); anything else names the ledger and the server's message.
    pub(crate) fn error(&self, e: tokio_postgres::Error) -> Error {
        if let Some(why) = tls::explain(&e, self.inner.target.tls()) {
            return Error::LedgerUnreachable(format!(
                "the team ledger at {} cannot be reached over TLS: {}",
                self.inner.target.host_port(),
                target::redact_url(&crate::keys::redact(&why))
            ));
        }
        if e.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) {
            return Error::Storage(format!(
                "the team ledger {} refused this role: {}; the role needs the privileges in \
                 docs/team.md (\"Least privilege\"), and migrations need the schema's owner — run \
                 `keywheel ledger migrate` once as that role",
                self.inner.target.display(),
                crate::keys::redact(&cause(&e))
            ));
        }
        if is_connection_error(&e) {
            return self.unreachable(&cause(&e));
        }
        Error::Storage(format!(
            "the team ledger {} failed: {}",
            self.inner.target.display(),
            crate::keys::redact(&cause(&e))
        ))
    }

    fn unreachable(&self, why: &str) -> Error {
        Error::LedgerUnreachable(format!(
            "the team ledger at {} cannot be reached ({}); check that the PostgreSQL server is \
             running and ledger_url (KEYWHEEL_LEDGER_URL) is right, or unset it to use this \
             machine's own ledger",
            self.inner.target.host_port(),
            target::redact_url(&crate::keys::redact(why))
        ))
    }
}

thread_local! {
    /// Whether this thread is driving a team ledger's runtime ([`PgLedger::block`]).
    static DRIVING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Clears [`DRIVING`] when a [`PgLedger::block`] ends (or unwinds).
struct ResetDriving;

impl Drop for ResetDriving {
    fn drop(&mut self) {
        DRIVING.set(false);
    }
}

/// What a statement inside the team ledger can fail with: the driver's error (mapped to a
/// sentence, or retried, at the edge of [`PgLedger::tx`]) or a core error.
#[derive(Debug)]
pub(crate) enum Fail {
    /// From the driver.
    Pg(tokio_postgres::Error),
    /// Decided by the ledger's own rules (e.g. an unknown key).
    Core(Error),
}

impl From<tokio_postgres::Error> for Fail {
    fn from(e: tokio_postgres::Error) -> Self {
        Fail::Pg(e)
    }
}

impl From<Error> for Fail {
    fn from(e: Error) -> Self {
        Fail::Core(e)
    }
}

impl Fail {
    /// Whether this is a lost or refused connection (rather than the server's answer).
    pub(crate) fn is_lost(&self) -> bool {
        match self {
            Fail::Pg(e) => is_connection_error(e),
            Fail::Core(e) => matches!(e, Error::LedgerUnreachable(_)),
        }
    }
}

/// The retry state of one ledger call: tries so far, and since when the connection is lost.
#[derive(Debug, Default)]
pub(crate) struct Retry {
    pub(crate) tries: u32,
    pub(crate) lost_since: Option<std::time::Instant>,
}

impl Retry {
    /// The pause before the next try: a little longer each time, at most 200 ms.
    pub(crate) async fn pause(&self) {
        tokio::time::sleep(Duration::from_millis(u64::from(self.tries.min(40)) * 5)).await;
    }
}

/// Fixes the error type of a [`pg_tx!`] / [`pg_read!`] body.
pub(crate) fn typed<T, F: Future<Output = PgResult<T>>>(f: F) -> F {
    f
}

/// Results inside the team ledger's transactions.
pub(crate) type PgResult<T> = std::result::Result<T, Fail>;

/// The server's clock in ms since the epoch.
pub(crate) const NOW_MS: &str = "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint";

/// A deadlock or serialization failure: the server rolled the transaction back; retry it.
pub(crate) fn is_conflict(e: &tokio_postgres::Error) -> bool {
    e.code().is_some_and(|c| {
        *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::T_R_SERIALIZATION_FAILURE
    })
}

/// Whether the error means the connection is gone or was never made.
pub(crate) fn is_connection_error(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    if let Some(code) = e.code() {
        let c = code.code();
        // 08: connection exceptions; 57P01-57P03: admin shutdown, crash shutdown, cannot connect now.
        return c.starts_with("08") || matches!(c, "57P01" | "57P02" | "57P03");
    }
    // No SQLSTATE: an I/O error, a timeout, a refused connection.
    e.as_db_error().is_none()
}

/// The innermost cause's sentence (tokio-postgres's own `Display` says only "db error").
fn cause(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return db.message().to_string();
    }
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s = inner.to_string();
        src = inner.source();
    }
    s
}

/// A ledger count as stored (BIGINT) in the type the rules use.
pub(crate) fn count(v: i64) -> u32 {
    u32::try_from(v.max(0)).unwrap_or(u32::MAX)
}

/// An optional cap as stored.
pub(crate) fn opt_count(v: Option<i64>) -> Option<u32> {
    v.map(count)
}
