//! The one managed state: the core's pool, this launch's instance (the rotation rule runs
//! once, when the app starts) and its dispatcher, the core's OCR queue, chat threads and live
//! settings (the chains in force), and the gateway's switch.

use std::sync::Arc;

use keywheel_core::Result;
use keywheel_core::chat::Threads;
use keywheel_core::config::{Chains, LiveSettings, config_path};
use keywheel_core::dispatch::{Dispatcher, Kind};
use keywheel_core::ocr::OcrOptions;
use keywheel_core::ocr::queue::Queue;
use keywheel_core::pool::Pool;
use keywheel_core::telemetry::Telemetry;
use keywheel_gateway::embedded::Switch;

/// OCR requests in flight at once (well under the 20/min cap; keeps the window responsive).
const OCR_CONCURRENCY: usize = 4;

/// Cheap to clone; every command and background task holds one.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// What the state holds.
pub struct Inner {
    /// Settings, keys, ledger.
    pub pool: Pool,
    /// This launch's instance and its HTTP client.
    pub dispatcher: Dispatcher,
    /// Images waiting to be read, and their results.
    pub images: Queue,
    /// Chat threads and the answers being streamed.
    pub threads: Threads,
    /// The config file edits go to, and the model chains in force (edited in the Keys view).
    pub settings: LiveSettings,
    /// The local gateway (Keys → settings), stopped until its switch is turned on.
    pub gateway: Switch,
    _telemetry: Telemetry,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Opens the pool from the environment (with `env_keys`, the value `OPENROUTER_API_KEYS`
    /// had before it was taken out of the environment), starts logging and registers this
    /// launch as an instance (applying the rotation rule).
    pub fn open(env_keys: Option<&str>) -> Result<Self> {
        let pool = Pool::from_env_with_keys(env_keys.map(str::to_string))?;
        let telemetry = keywheel_core::telemetry::init(pool.settings(), pool.clock(), "app")?;
        for w in pool.warnings() {
            tracing::warn!("{w}");
        }
        let instance = Arc::new(pool.start_instance("app")?);
        let dispatcher = Dispatcher::new(instance)?;
        let settings = LiveSettings::new(pool.settings(), config_path(&|k| std::env::var(k).ok()));
        let threads = Threads::in_data_dir(&pool.settings().data_dir, pool.clock())?;
        Ok(Self(Arc::new(Inner {
            images: Queue::default(),
            threads,
            settings,
            gateway: Switch::default(),
            dispatcher,
            pool,
            _telemetry: telemetry,
        })))
    }

    /// The chains in force.
    pub fn chains(&self) -> Chains {
        self.settings.chains()
    }

    /// How the app reads images: the vision chain in force, local fallback on (a person at
    /// the window would rather see a labelled local reading than a queue that waits).
    pub fn ocr_options(&self) -> OcrOptions {
        OcrOptions {
            models: self.chains().choice(Kind::Ocr),
            concurrency: OCR_CONCURRENCY,
            local_fallback: true,
            use_cache: self.pool.settings().cache_ocr,
        }
    }

    /// The sentence the CLI prints at start when this machine lacks the team ledger's current
    /// key and uses its own least-used key (`Adoption::sentence`); the Ledger card shows it.
    pub fn adoption_notice(&self) -> Option<String> {
        self.dispatcher.instance().adoption().sentence()
    }
}
