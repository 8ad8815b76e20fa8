//! The examples' backend choice: with `OPENROUTER_API_KEYS` set, OpenRouter for real with the
//! normal settings (config file, `KEYWHEEL_DATA_DIR`, `OPENROUTER_BASE_URL`); without it,
//! keywheel-mock in this process on 127.0.0.1, fake keys and a temporary ledger, so an example
//! runs offline by default. The OS keychain is off either way. Each example says which one it
//! got in its own words.

use keywheel_core::keys::env;
use keywheel_core::{Error, Result, Settings};
use keywheel_mock::{MockConfig, MockServer};

use crate::keys::fake_key_repeating;

/// Where an example's requests go (the mock and the temporary ledger live as long as this).
pub struct Backend {
    /// The settings to open the pool with.
    pub settings: Settings,
    /// The keys, as `OPENROUTER_API_KEYS` takes them.
    pub keys: String,
    /// The mock, when `OPENROUTER_API_KEYS` is not set.
    pub mock: Option<MockServer>,
    /// The temporary ledger's directory, with the mock.
    pub dir: Option<tempfile::TempDir>,
}

impl Backend {
    /// OpenRouter when `OPENROUTER_API_KEYS` is set and not blank; otherwise the mock with one
    /// fake key per seed (`"3f"` → `sk-or-v1-3f3f…`; the mock takes each as its own account).
    ///
    /// # Errors
    /// A settings file that does not load, or a mock or temporary directory that cannot be made.
    pub fn choose(fake_seeds: &[&str]) -> Result<Self> {
        if let Some(keys) = std::env::var(env::VAR)
            .ok()
            .filter(|v| !v.trim().is_empty())
        {
            let settings = Settings {
                keychain: false,
                ..Settings::load()?
            };
            return Ok(Self {
                settings,
                keys,
                mock: None,
                dir: None,
            });
        }
        let mock = keywheel_mock::start_blocking(MockConfig::default())
            .map_err(|e| Error::io("could not start keywheel-mock", e))?;
        let dir = tempfile::tempdir()
            .map_err(|e| Error::io("could not create a temporary directory", e))?;
        let settings = Settings {
            data_dir: dir.path().to_path_buf(),
            base_url: mock.base_url(),
            keychain: false,
            ..Settings::default()
        };
        let keys = fake_seeds
            .iter()
            .map(|s| fake_key_repeating(s))
            .collect::<Vec<_>>()
            .join(",");
        Ok(Self {
            settings,
            keys,
            mock: Some(mock),
            dir: Some(dir),
        })
    }

    /// Says on stderr which backend this is: `doing` is what the example does with it
    /// (`"asking"`), `cost` what that spends for real, `canned` what the mock answers instead.
    pub fn announce(&self, doing: &str, cost: &str, canned: &str) {
        let var = env::VAR;
        match (&self.mock, &self.dir) {
            (Some(mock), Some(dir)) => {
                let n = self.keys.split(',').count();
                let keys = if n == 1 {
                    "a made-up key".to_string()
                } else {
                    format!("{n} made-up keys")
                };
                eprintln!(
                    "{var} is not set: using keywheel-mock at {} (offline) with {keys} and a \
                     temporary ledger in {}; {canned} (set {var} to ask OpenRouter)",
                    mock.base_url(),
                    dir.path().display()
                );
            }
            _ => eprintln!(
                "{var} is set: {doing} {} for real ({cost}); ledger {}",
                self.settings.base_url,
                self.settings.db_path().display()
            ),
        }
    }

    /// Whether requests go to the in-process mock.
    pub fn is_mock(&self) -> bool {
        self.mock.is_some()
    }
}
