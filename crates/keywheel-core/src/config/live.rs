//! The settings a running window edits: the config file it writes, the model chains in force
//! (an edit applies at once, without a restart) and the settings panel's view of both. The
//! desktop app holds one [`LiveSettings`]; its commands only call it.
//!
//! A new rotation threshold and `team_cache` apply from the next start (rotation only happens
//! when an instance starts, the ledger reads `team_cache` when it opens), so the panel shows
//! them as saved in the file ([`LiveSettings::saved`]).

use std::path::{Path, PathBuf};
use std::sync::RwLock;

use serde::{Deserialize, Serialize};

use super::{Settings, SettingsEdit, edit_file};
use crate::chains::ModelChoice;
use crate::dispatch::Kind;
use crate::error::{Error, Result};
use crate::pool::{KeychainView, Pool};

/// The chat and vision model chains in force, first choice first, with their pins.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// The chains `settings` gives.
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            chat: settings.chat_models.clone(),
            vision: settings.vision_models.clone(),
            chat_pin: settings.chat_pin.clone(),
            vision_pin: settings.vision_pin.clone(),
        }
    }

    /// The chain (preferences) for `kind`.
    pub fn chain(&self, kind: Kind) -> &[String] {
        match kind {
            Kind::Chat => &self.chat,
            Kind::Ocr => &self.vision,
        }
    }

    /// The pin for `kind`, if any.
    pub fn pin(&self, kind: Kind) -> Option<&str> {
        match kind {
            Kind::Chat => self.chat_pin.as_deref(),
            Kind::Ocr => self.vision_pin.as_deref(),
        }
    }

    /// How a job of `kind` picks its models: the pin alone, else the chain resolved.
    pub fn choice(&self, kind: Kind) -> ModelChoice {
        ModelChoice::from_pin_or_chain(self.chain(kind), self.pin(kind))
    }

    /// Takes what `edit` changed from `saved` (the settings the file gives after the edit).
    fn apply(&mut self, edit: &SettingsEdit, saved: Settings) {
        if edit.chat_models.is_some() {
            self.chat = saved.chat_models;
        }
        if edit.vision_models.is_some() {
            self.vision = saved.vision_models;
        }
        if edit.chat_pin.is_some() {
            self.chat_pin = saved.chat_pin;
        }
        if edit.vision_pin.is_some() {
            self.vision_pin = saved.vision_pin;
        }
    }
}

/// The settings panel.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SettingsView {
    /// Rotate at start once the current key passed this many requests today.
    pub rotate_after: u32,
    /// Default daily cap per key.
    pub daily_cap: u32,
    /// Default per-minute cap per key.
    pub minute_cap: u32,
    /// Chat model chain.
    pub chat_models: Vec<String>,
    /// Vision model chain.
    pub vision_models: Vec<String>,
    /// The config file edits are written to.
    pub config_path: String,
    /// The shared ledger file.
    pub ledger_path: String,
    /// Whether the keychain can be used, and the core's sentence saying so.
    pub keychain: KeychainView,
    /// The OpenRouter API base URL.
    pub base_url: String,
    /// The pinned chat model (used alone instead of the resolved chain), if any.
    pub chat_pin: Option<String>,
    /// The pinned vision model, if any.
    pub vision_pin: Option<String>,
}

/// A settings edit as a window sends it (`null` = unchanged); the app's Settings panel saves
/// it through `catalogue::checked_edit`, which checks its pins first.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SettingsPatch {
    /// Rotation threshold.
    pub rotate_after: Option<u32>,
    /// Chat model chain.
    pub chat_models: Option<Vec<String>>,
    /// Vision model chain.
    pub vision_models: Option<Vec<String>>,
    /// Pin this chat model (`""` unpins).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub chat_pin: Option<String>,
    /// Pin this vision model (`""` unpins).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub vision_pin: Option<String>,
    /// Share the response cache on a team ledger (saved; applies from the next start).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub team_cache: Option<bool>,
}

/// The config file a window writes and the model chains in force.
#[derive(Debug)]
pub struct LiveSettings {
    config_path: Option<PathBuf>,
    chains: RwLock<Chains>,
}

impl LiveSettings {
    /// Starts from `settings` (what this process loaded), writing edits to `config_path`.
    pub fn new(settings: &Settings, config_path: Option<PathBuf>) -> Self {
        Self {
            config_path,
            chains: RwLock::new(Chains::from_settings(settings)),
        }
    }

    /// The config file edits are written to (`None`: the system has no config directory).
    pub fn config_path(&self) -> Option<&Path> {
        self.config_path.as_deref()
    }

    /// The chains in force.
    pub fn chains(&self) -> Chains {
        self.chains.read().expect("chains lock").clone()
    }

    /// The config file as it is now, if there is one that loads: what the next start uses.
    pub fn saved(&self) -> Option<Settings> {
        self.config_path
            .as_deref()
            .filter(|p| p.is_file())
            .and_then(|p| Settings::from_file(p).ok())
    }

    /// What the settings panel shows: `pool`'s settings, the chains in force, the rotation
    /// threshold as saved.
    pub fn view(&self, pool: &Pool) -> SettingsView {
        let s = pool.settings();
        let chains = self.chains();
        SettingsView {
            rotate_after: self.saved().map_or(s.rotate_after, |f| f.rotate_after),
            daily_cap: s.daily_cap,
            minute_cap: s.minute_cap,
            chat_models: chains.chat,
            vision_models: chains.vision,
            config_path: self
                .config_path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            ledger_path: pool.ledger().path().display().to_string(),
            keychain: pool.keychain_view(),
            base_url: s.base_url.clone(),
            chat_pin: chains.chat_pin,
            vision_pin: chains.vision_pin,
        }
    }

    /// Saves `edit` to the config file; the model chains apply at once, the rotation threshold
    /// and the team cache from the next start. Returns the settings the file now gives.
    pub fn edit(&self, edit: &SettingsEdit) -> Result<Settings> {
        let path = self.config_path.as_deref().ok_or_else(|| {
            Error::Usage(
                "there is no config directory on this system; set KEYWHEEL_CONFIG to a file path"
                    .into(),
            )
        })?;
        let saved = edit_file(path, edit)?;
        self.chains
            .write()
            .expect("chains lock")
            .apply(edit, saved.clone());
        Ok(saved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin(id: &str) -> Option<Option<String>> {
        Some(Some(id.into()))
    }

    #[test]
    fn chains_choose_the_pin_alone_else_the_chain() {
        let mut chains = Chains::from_settings(&Settings::default());
        assert_eq!(
            chains.choice(Kind::Ocr),
            ModelChoice::Prefer(Settings::default().vision_models)
        );
        chains.chat_pin = Some("x/y:free".into());
        assert_eq!(
            chains.choice(Kind::Chat),
            ModelChoice::Pinned(vec!["x/y:free".into()])
        );
    }

    #[test]
    fn an_edit_applies_its_chains_at_once_and_leaves_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let live = LiveSettings::new(&Settings::default(), Some(path.clone()));
        assert!(live.saved().is_none(), "no file yet");
        live.edit(&SettingsEdit {
            vision_models: Some(vec![" a/b ".into(), "".into(), "c/d".into()]),
            chat_pin: pin("x/y:free"),
            rotate_after: Some(7),
            ..SettingsEdit::default()
        })
        .unwrap();
        let chains = live.chains();
        assert_eq!(chains.vision, ["a/b", "c/d"]);
        assert_eq!(chains.chat, Settings::default().chat_models, "unchanged");
        assert_eq!(chains.chat_pin.as_deref(), Some("x/y:free"));
        assert_eq!(
            live.saved().unwrap().rotate_after,
            7,
            "saved for the next start"
        );
        live.edit(&SettingsEdit {
            chat_pin: pin("  "),
            ..SettingsEdit::default()
        })
        .unwrap();
        assert_eq!(live.chains().chat_pin, None, "an empty pin unpins");
        assert_eq!(live.chains().vision, ["a/b", "c/d"], "kept");
    }

    #[test]
    fn a_settings_patch_without_pins_leaves_them_and_an_empty_pin_unpins() {
        let p: SettingsPatch = serde_json::from_str(
            r#"{"rotate_after":null,"chat_models":null,"vision_models":null}"#,
        )
        .unwrap();
        assert_eq!((p.chat_pin, p.vision_pin), (None, None));
        let p: SettingsPatch = serde_json::from_str(
            r#"{"rotate_after":null,"chat_models":null,"vision_models":null,"vision_pin":"","chat_pin":"x/y:free"}"#,
        )
        .unwrap();
        assert_eq!(p.vision_pin.as_deref(), Some(""));
        assert_eq!(p.chat_pin.as_deref(), Some("x/y:free"));
    }

    #[test]
    fn without_a_config_path_an_edit_says_how_to_get_one() {
        let live = LiveSettings::new(&Settings::default(), None);
        let e = live.edit(&SettingsEdit::default()).unwrap_err();
        assert!(e.to_string().contains("KEYWHEEL_CONFIG"), "{e}");
        assert_eq!(live.chains(), Chains::from_settings(&Settings::default()));
    }
}
