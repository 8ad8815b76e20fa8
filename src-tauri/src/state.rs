//! The one managed state: the core's pool, this launch's instance (the rotation rule runs
//! once, when the app starts) and its dispatcher, the core's OCR queue and chat threads, and
//! the gateway's switch.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use keywheel_core::chains::ModelChoice;
use keywheel_core::chat::Threads;
use keywheel_core::config::{SettingsEdit, config_path, edit_file};
use keywheel_core::dispatch::Dispatcher;
use keywheel_core::ocr::OcrOptions;
use keywheel_core::ocr::queue::Queue;
use keywheel_core::pool::Pool;
use keywheel_core::telemetry::Telemetry;
use keywheel_core::{Error, Result};
use keywheel_gateway::embedded::Switch;

use crate::dto::SettingsView;

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
    /// The model chains in force (edited in the Keys view, saved to the config file).
    pub chains: RwLock<Chains>,
    /// Where settings edits are written.
    pub config_path: Option<PathBuf>,
    /// The local gateway (Keys → settings), stopped until its switch is turned on.
    pub gateway: Switch,
    _telemetry: Telemetry,
}

/// The chat and vision model chains, first choice first.
#[derive(Debug, Clone)]
pub struct Chains {
    /// DeepSeek R1 first, then fallbacks.
    pub chat: Vec<String>,
    /// Llama 3.2 90B Vision first, then fallbacks.
    pub vision: Vec<String>,
    /// The pinned chat model: used alone instead of the resolved chain.
    pub chat_pin: Option<String>,
    /// The pinned vision model.
    pub vision_pin: Option<String>,
}

impl Chains {
    /// How a chat job picks its models: the pin alone, else the chain resolved.
    pub fn chat_choice(&self) -> ModelChoice {
        choice(&self.chat, &self.chat_pin)
    }

    /// How an OCR job picks its models: the pin alone, else the chain resolved.
    pub fn vision_choice(&self) -> ModelChoice {
        choice(&self.vision, &self.vision_pin)
    }
}

fn choice(chain: &[String], pin: &Option<String>) -> ModelChoice {
    match pin {
        Some(p) => ModelChoice::Pinned(vec![p.clone()]),
        None => ModelChoice::Prefer(chain.to_vec()),
    }
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
        let chains = Chains {
            chat: pool.settings().chat_models.clone(),
            vision: pool.settings().vision_models.clone(),
            chat_pin: pool.settings().chat_pin.clone(),
            vision_pin: pool.settings().vision_pin.clone(),
        };
        let threads = Threads::in_data_dir(&pool.settings().data_dir, pool.clock())?;
        Ok(Self(Arc::new(Inner {
            images: Queue::default(),
            threads,
            chains: RwLock::new(chains),
            config_path: config_path(&|k| std::env::var(k).ok()),
            gateway: Switch::default(),
            dispatcher,
            pool,
            _telemetry: telemetry,
        })))
    }

    /// The chains in force.
    pub fn chains(&self) -> Chains {
        self.chains.read().expect("chains lock").clone()
    }

    /// How the app reads images: the vision chain in force, local fallback on (a person at
    /// the window would rather see a labelled local reading than a queue that waits).
    pub fn ocr_options(&self) -> OcrOptions {
        OcrOptions {
            models: self.chains().vision_choice(),
            concurrency: OCR_CONCURRENCY,
            local_fallback: true,
            use_cache: self.pool.settings().cache_ocr,
        }
    }

    /// What the settings panel shows.
    pub fn settings_view(&self) -> SettingsView {
        let s = self.pool.settings();
        let chains = self.chains();
        let rotate_after = self
            .config_path
            .as_deref()
            .filter(|p| p.is_file())
            .and_then(|p| keywheel_core::Settings::from_file(p).ok())
            .map_or(s.rotate_after, |f| f.rotate_after);
        SettingsView {
            rotate_after,
            daily_cap: s.daily_cap,
            minute_cap: s.minute_cap,
            chat_models: chains.chat,
            vision_models: chains.vision,
            config_path: self
                .config_path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            ledger_path: self.pool.ledger().path().display().to_string(),
            keychain: self.pool.keychain_view(),
            base_url: s.base_url.clone(),
            chat_pin: chains.chat_pin,
            vision_pin: chains.vision_pin,
        }
    }

    /// Saves a settings edit to the config file; the model chains apply at once, the
    /// rotation threshold from the next start (rotation only happens when an instance starts).
    pub fn edit_settings(&self, edit: &SettingsEdit) -> Result<SettingsView> {
        let path = self.config_path.as_deref().ok_or_else(|| {
            Error::Usage(
                "there is no config directory on this system; set KEYWHEEL_CONFIG to a file path"
                    .into(),
            )
        })?;
        let saved = edit_file(path, edit)?;
        let mut chains = self.chains.write().expect("chains lock");
        if edit.chat_models.is_some() {
            chains.chat = saved.chat_models;
        }
        if edit.vision_models.is_some() {
            chains.vision = saved.vision_models;
        }
        if edit.chat_pin.is_some() {
            chains.chat_pin = saved.chat_pin;
        }
        if edit.vision_pin.is_some() {
            chains.vision_pin = saved.vision_pin;
        }
        drop(chains);
        Ok(self.settings_view())
    }
}
