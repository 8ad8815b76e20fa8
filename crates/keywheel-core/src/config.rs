//! Settings: defaults, then `config.toml`, then `KEYWHEEL_*` environment variables.
//!
//! The file lives in the platform config dir (`~/.config/keywheel/config.toml` on Linux) unless
//! `KEYWHEEL_CONFIG` names another path. Environment wins over the file, the file over defaults.
//! Keys are never part of settings.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::clock::{FixedClock, SharedClock, SystemClock};
use crate::error::{Error, Result};

pub mod live;
pub use live::{Chains, LiveSettings, SettingsPatch, SettingsView};

/// The default OpenRouter API base.
pub const DEFAULT_BASE_URL: &str = "https://openrouter.ai/api/v1";

/// Longest cache TTL accepted (a year), in hours.
pub const MAX_CACHE_TTL_HOURS: u64 = 24 * 366;
/// Longest instance TTL (and heartbeat) accepted (a day), in seconds.
pub const MAX_INSTANCE_TTL_SECS: u64 = 86_400;
/// Longest timeout, stream deadline or total wait accepted (a day), in seconds.
pub const MAX_TIMEOUT_SECS: u64 = 86_400;
/// Longest retention accepted (ten years), in days.
pub const MAX_RETENTION_DAYS: u32 = 3_650;

/// All settings, resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Where the SQLite ledger, cache and logs live.
    pub data_dir: PathBuf,
    /// A team ledger on PostgreSQL (`postgres://user@host:port/db`) instead of the SQLite file
    /// (docs/team.md); `None`: the embedded SQLite ledger.
    pub ledger_url: Option<String>,
    /// Seconds to wait for the team ledger at start before giving up (exit 7).
    pub ledger_connect_timeout_secs: u64,
    /// OpenRouter API base URL.
    pub base_url: String,
    /// Default daily request cap per key and per account.
    pub daily_cap: u32,
    /// Default per-minute request cap per key and per account (sliding 60 s).
    pub minute_cap: u32,
    /// A new instance moves the pool to another key when the current one has MORE than this many
    /// requests today.
    pub rotate_after: u32,
    /// Whether to use the OS keychain (off: only `OPENROUTER_API_KEYS`).
    pub keychain: bool,
    /// Seconds between instance heartbeats.
    pub heartbeat_secs: u64,
    /// Seconds without a heartbeat after which an instance counts as dead.
    pub instance_ttl_secs: u64,
    /// Log filter (EnvFilter syntax), e.g. `info` or `keywheel_core=debug`.
    pub log: String,
    /// Seconds to wait for OpenRouter's first byte (and for a whole non-streamed answer).
    pub timeout_secs: u64,
    /// An error-spike alert fires when this many of a key's last 10 requests failed.
    pub alert_error_spike: u32,
    /// How many daily log files to keep in `<data dir>/logs`.
    pub log_retention: usize,
    /// The R1 chat model chain, first choice first.
    pub chat_models: Vec<String>,
    /// The vision model chain, first choice first: a preference, resolved against OpenRouter's
    /// catalogue before anything is sent (docs/models.md).
    pub vision_models: Vec<String>,
    /// A vision model pinned by the person: used alone, never replaced (must be in the catalogue).
    pub vision_pin: Option<String>,
    /// A chat model pinned by the person: used alone, never replaced (must be in the catalogue).
    pub chat_pin: Option<String>,
    /// Most counted requests one job (a question, an image tile) may send across its whole
    /// model chain, retries included (one model gets at most 2).
    pub max_attempts: u32,
    /// Whether `daily_cap` was set by the person (file or environment); when it was not, the
    /// ceiling OpenRouter reports for an account (`/key`) is its daily cap.
    #[serde(skip)]
    pub daily_cap_set: bool,
    /// Serve repeated identical chat requests from the shared cache (off by default).
    pub cache_chat: bool,
    /// Serve repeated identical OCR requests from the shared cache (on by default).
    pub cache_ocr: bool,
    /// On a team ledger, share the response cache with the team (off by default: it hands one
    /// person's OCR text and answers to another; docs/team.md). Read when the ledger opens.
    pub team_cache: bool,
    /// How long cached answers stay valid, in hours.
    pub cache_ttl_hours: u64,
    /// Longest a request waits for per-minute caps and backoff in total, in seconds.
    pub max_wait_secs: u64,
    /// Longest a streamed answer may take in all, in seconds (keep-alive comments reset the
    /// idle timeout, so this is what stops a stream that never ends).
    pub stream_deadline_secs: u64,
    /// Request rows, OCR jobs, alerts and model skips older than this many days are pruned at
    /// start (per-day totals stay in `usage_daily`); cache entries go when their TTL ends.
    pub retention_days: u32,
    /// `HTTP-Referer` attribution header sent to OpenRouter, if set.
    pub referer: Option<String>,
    /// `X-OpenRouter-Title` attribution header, if set.
    pub title: Option<String>,
    /// The desktop app's global shortcut for reading a region of the screen (`""`: none).
    pub capture_shortcut: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            data_dir: default_data_dir(),
            ledger_url: None,
            ledger_connect_timeout_secs: 10,
            base_url: DEFAULT_BASE_URL.to_string(),
            daily_cap: 50,
            minute_cap: 20,
            rotate_after: 40,
            keychain: true,
            heartbeat_secs: 5,
            instance_ttl_secs: 20,
            log: "info".to_string(),
            timeout_secs: 60,
            alert_error_spike: 5,
            log_retention: 14,
            chat_models: vec![
                "deepseek/deepseek-r1-0528".into(),
                "deepseek/deepseek-r1".into(),
            ],
            vision_models: vec![
                "meta-llama/llama-3.2-90b-vision-instruct".into(),
                "meta-llama/llama-3.2-11b-vision-instruct".into(),
                "qwen/qwen2.5-vl-72b-instruct".into(),
            ],
            vision_pin: None,
            chat_pin: None,
            max_attempts: 4,
            daily_cap_set: false,
            cache_chat: false,
            cache_ocr: true,
            team_cache: false,
            cache_ttl_hours: 24 * 7,
            max_wait_secs: 180,
            stream_deadline_secs: 600,
            retention_days: 90,
            referer: None,
            title: Some("Keywheel".into()),
            capture_shortcut: "Ctrl+Alt+O".into(),
        }
    }
}

/// Reads one environment variable; injectable for tests.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

impl Settings {
    /// Loads settings from the real environment and config file.
    pub fn load() -> Result<Self> {
        Self::load_with(&|k| std::env::var(k).ok())
    }

    /// Loads settings with an injected environment, then [`validate`](Self::validate)s them.
    /// A `KEYWHEEL_CONFIG` naming a file that does not exist is an error (a typo would
    /// otherwise silently give the defaults); set it empty for "no config file".
    pub fn load_with(env: EnvLookup<'_>) -> Result<Self> {
        let named = env("KEYWHEEL_CONFIG");
        let path = config_path(env);
        let mut s = match path {
            Some(p) if p.is_file() => Self::from_file(&p)?,
            Some(p) if named.as_deref().is_some_and(|v| !v.is_empty()) => {
                return Err(Error::Usage(format!(
                    "KEYWHEEL_CONFIG names {}, which is not a file; create it (it may be empty), \
                     fix the path, or set KEYWHEEL_CONFIG= (empty) for no config file",
                    p.display()
                )));
            }
            _ => Self::default(),
        };
        s.apply_env(env)?;
        s.validate()?;
        s.daily_cap_set |= env("KEYWHEEL_DAILY_CAP").is_some_and(|v| !v.is_empty());
        Ok(s)
    }

    /// Parses a `config.toml`; unknown keys are an error naming the file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::io(
                format!("could not read the config file {}", path.display()),
                e,
            )
        })?;
        let mut s: Settings = toml::from_str(&text).map_err(|e| {
            // The one redactor: a type error quotes the value, which may be a pasted key.
            Error::Usage(format!(
                "the config file {} is not valid: {}; fix or remove it",
                path.display(),
                crate::keys::redact(e.message())
            ))
        })?;
        s.daily_cap_set = text
            .parse::<toml::Table>()
            .is_ok_and(|t| t.contains_key("daily_cap"));
        Ok(s)
    }

    fn apply_env(&mut self, env: EnvLookup<'_>) -> Result<()> {
        if let Some(v) = env("KEYWHEEL_DATA_DIR").filter(|v| !v.is_empty()) {
            self.data_dir = PathBuf::from(v);
        }
        if let Some(v) = env("KEYWHEEL_LEDGER_URL").filter(|v| !v.is_empty()) {
            self.ledger_url = Some(v.trim().to_string());
        }
        if let Some(v) = env("OPENROUTER_BASE_URL").filter(|v| !v.is_empty()) {
            self.base_url = v.trim_end_matches('/').to_string();
        }
        if let Some(v) = env("KEYWHEEL_LOG").filter(|v| !v.is_empty()) {
            self.log = v;
        }
        let num = |name: &str, slot: &mut u32| -> Result<()> {
            if let Some(v) = env(name).filter(|v| !v.is_empty()) {
                *slot = v.trim().parse().map_err(|_| {
                    Error::Usage(format!(
                        "{name}={:?} is not a whole number; set it to e.g. 50",
                        crate::keys::redact(&v)
                    ))
                })?;
            }
            Ok(())
        };
        num("KEYWHEEL_DAILY_CAP", &mut self.daily_cap)?;
        num("KEYWHEEL_MINUTE_CAP", &mut self.minute_cap)?;
        num("KEYWHEEL_ROTATE_AFTER", &mut self.rotate_after)?;
        num("KEYWHEEL_MAX_ATTEMPTS", &mut self.max_attempts)?;
        let flag = |name: &str, slot: &mut bool| -> Result<()> {
            if let Some(v) = env(name).filter(|v| !v.is_empty()) {
                *slot = match v.trim().to_ascii_lowercase().as_str() {
                    "1" | "on" | "true" | "yes" => true,
                    "0" | "off" | "false" | "no" => false,
                    _ => {
                        return Err(Error::Usage(format!(
                            "{name}={:?} is neither on nor off; set it to on or off \
                             (also: true/false, yes/no, 1/0)",
                            crate::keys::redact(&v)
                        )));
                    }
                };
            }
            Ok(())
        };
        flag("KEYWHEEL_KEYCHAIN", &mut self.keychain)?;
        flag("KEYWHEEL_CACHE_CHAT", &mut self.cache_chat)?;
        flag("KEYWHEEL_CACHE_OCR", &mut self.cache_ocr)?;
        flag("KEYWHEEL_TEAM_CACHE", &mut self.team_cache)?;
        let mut wait = u32::try_from(self.max_wait_secs).unwrap_or(u32::MAX);
        num("KEYWHEEL_MAX_WAIT_SECS", &mut wait)?;
        self.max_wait_secs = u64::from(wait);
        let mut timeout = u32::try_from(self.timeout_secs).unwrap_or(u32::MAX);
        num("KEYWHEEL_TIMEOUT_SECS", &mut timeout)?;
        self.timeout_secs = u64::from(timeout.max(1));
        let mut deadline = u32::try_from(self.stream_deadline_secs).unwrap_or(u32::MAX);
        num("KEYWHEEL_STREAM_DEADLINE_SECS", &mut deadline)?;
        self.stream_deadline_secs = u64::from(deadline);
        num("KEYWHEEL_RETENTION_DAYS", &mut self.retention_days)?;
        let mut connect = u32::try_from(self.ledger_connect_timeout_secs).unwrap_or(u32::MAX);
        num("KEYWHEEL_LEDGER_CONNECT_TIMEOUT_SECS", &mut connect)?;
        self.ledger_connect_timeout_secs = u64::from(connect);
        Ok(())
    }

    /// Checks values that parse but cannot work, so they fail here as a sentence (exit 2)
    /// instead of as a panic or a surprise later: empty model chains, durations past what the
    /// clock arithmetic holds, a heartbeat not shorter than the instance TTL, a log filter
    /// `tracing` cannot read, a base URL without a scheme or with `http://` off loopback.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::Usage(msg));
        for (name, chain) in [("chat", &self.chat_models), ("vision", &self.vision_models)] {
            if chain.iter().all(|m| m.trim().is_empty()) {
                return bad(format!(
                    "the {name} model chain ({name}_models) is empty; give at least one model id"
                ));
            }
        }
        let ranges: [(&str, u64, u64, u64); 7] = [
            (
                "ledger_connect_timeout_secs",
                self.ledger_connect_timeout_secs,
                1,
                MAX_TIMEOUT_SECS,
            ),
            (
                "cache_ttl_hours",
                self.cache_ttl_hours,
                0,
                MAX_CACHE_TTL_HOURS,
            ),
            (
                "instance_ttl_secs",
                self.instance_ttl_secs,
                2,
                MAX_INSTANCE_TTL_SECS,
            ),
            (
                "heartbeat_secs",
                self.heartbeat_secs,
                1,
                MAX_INSTANCE_TTL_SECS,
            ),
            ("timeout_secs", self.timeout_secs, 1, MAX_TIMEOUT_SECS),
            (
                "stream_deadline_secs",
                self.stream_deadline_secs,
                1,
                MAX_TIMEOUT_SECS,
            ),
            ("max_wait_secs", self.max_wait_secs, 0, MAX_TIMEOUT_SECS),
        ];
        for (name, v, lo, hi) in ranges {
            if !(lo..=hi).contains(&v) {
                return bad(format!(
                    "{name} = {v} is out of range; give a value from {lo} to {hi}"
                ));
            }
        }
        if self.heartbeat_secs >= self.instance_ttl_secs {
            return bad(format!(
                "heartbeat_secs ({}) must be shorter than instance_ttl_secs ({}), or live \
                 instances would count as dead between two heartbeats",
                self.heartbeat_secs, self.instance_ttl_secs
            ));
        }
        if !(1..=MAX_RETENTION_DAYS).contains(&self.retention_days) {
            return bad(format!(
                "retention_days = {} is out of range; give a value from 1 to {MAX_RETENTION_DAYS}",
                self.retention_days
            ));
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log) {
            return bad(format!(
                "the log filter {:?} (log / KEYWHEEL_LOG) is not valid: {e}; use e.g. info or \
                 keywheel_core=debug",
                crate::keys::redact(&self.log)
            ));
        }
        if let Some(url) = &self.ledger_url {
            crate::ledger::pg::Target::parse(url)?;
        }
        crate::openrouter::check_base_url(
            "the base URL (base_url / OPENROUTER_BASE_URL)",
            &self.base_url,
        )
    }

    /// Path of the SQLite ledger file.
    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("keywheel.sqlite3")
    }
}

/// The clock for this process: the system clock, or — in debug builds only — a fixed instant
/// from `KEYWHEEL_FAKE_NOW` (RFC 3339), which whole-process tests use to simulate a UTC day
/// rollover. A release build ignores the variable (and logs that it did).
pub fn clock_from_env(env: EnvLookup<'_>) -> Result<SharedClock> {
    clock_from_env_in(env, cfg!(debug_assertions))
}

fn clock_from_env_in(env: EnvLookup<'_>, debug_build: bool) -> Result<SharedClock> {
    let fake = env("KEYWHEEL_FAKE_NOW").filter(|v| !v.is_empty());
    if fake.is_some() && !debug_build {
        tracing::warn!("KEYWHEEL_FAKE_NOW is ignored: it works only in debug (test) builds");
        return Ok(Arc::new(SystemClock));
    }
    match fake {
        None => Ok(Arc::new(SystemClock)),
        Some(v) => {
            let at = chrono::DateTime::parse_from_rfc3339(&v).map_err(|_| {
                Error::Usage(format!("KEYWHEEL_FAKE_NOW={v:?} is not an RFC 3339 time"))
            })?;
            Ok(Arc::new(FixedClock(at.with_timezone(&chrono::Utc))))
        }
    }
}

fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "keywheel")
}

fn default_data_dir() -> PathBuf {
    project_dirs()
        .map(|d| d.data_dir().to_path_buf())
        .unwrap_or_else(|| PathBuf::from(".keywheel"))
}

/// The config file a process reads: `KEYWHEEL_CONFIG`, else the platform default.
pub fn config_path(env: EnvLookup<'_>) -> Option<PathBuf> {
    env("KEYWHEEL_CONFIG")
        .map(PathBuf::from)
        .or_else(default_config_path)
}

/// A change to the settings a person edits in the app (`None` = unchanged).
#[derive(Debug, Clone, Default)]
pub struct SettingsEdit {
    /// The rotation threshold.
    pub rotate_after: Option<u32>,
    /// The chat model chain, first choice first.
    pub chat_models: Option<Vec<String>>,
    /// The vision model chain, first choice first.
    pub vision_models: Option<Vec<String>>,
    /// The pinned chat model (`Some(None)` unpins).
    pub chat_pin: Option<Option<String>>,
    /// The pinned vision model (`Some(None)` unpins).
    pub vision_pin: Option<Option<String>>,
    /// The app's screen-capture shortcut (`Some("")`: none); the app checks its syntax.
    pub capture_shortcut: Option<String>,
    /// Share the response cache on a team ledger (from the next start).
    pub team_cache: Option<bool>,
}

/// Writes `edit` into the config file at `path`, keeping every other setting in it, and
/// returns the settings the file now gives. The new file is checked before it replaces the
/// old one (written to a temporary file, then renamed), so a bad edit loses nothing.
pub fn edit_file(path: &Path, edit: &SettingsEdit) -> Result<Settings> {
    let mut table = if path.is_file() {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::io(
                format!("could not read the config file {}", path.display()),
                e,
            )
        })?;
        text.parse::<toml::Table>().map_err(|e| {
            Error::Usage(format!(
                "the config file {} is not valid TOML ({e}); fix or remove it first",
                path.display()
            ))
        })?
    } else {
        toml::Table::new()
    };
    let models = |name: &str, list: &[String]| -> Result<toml::Value> {
        let list: Vec<String> = list
            .iter()
            .map(|m| m.trim().to_string())
            .filter(|m| !m.is_empty())
            .collect();
        if list.is_empty() {
            return Err(Error::Usage(format!(
                "the {name} model chain is empty; give at least one model id"
            )));
        }
        Ok(toml::Value::Array(
            list.into_iter().map(toml::Value::String).collect(),
        ))
    };
    if let Some(n) = edit.rotate_after {
        if n == 0 {
            return Err(Error::Usage(
                "a rotation threshold of 0 would rotate at every start; give 1 or more".into(),
            ));
        }
        table.insert("rotate_after".into(), toml::Value::Integer(i64::from(n)));
    }
    if let Some(list) = &edit.chat_models {
        table.insert("chat_models".into(), models("chat", list)?);
    }
    if let Some(list) = &edit.vision_models {
        table.insert("vision_models".into(), models("vision", list)?);
    }
    for (name, pin) in [
        ("chat_pin", &edit.chat_pin),
        ("vision_pin", &edit.vision_pin),
    ] {
        match pin {
            None => {}
            Some(None) => {
                table.remove(name);
            }
            Some(Some(id)) if id.trim().is_empty() => {
                table.remove(name);
            }
            Some(Some(id)) => {
                table.insert(name.into(), toml::Value::String(id.trim().to_string()));
            }
        }
    }
    if let Some(on) = edit.team_cache {
        table.insert("team_cache".into(), toml::Value::Boolean(on));
    }
    if let Some(shortcut) = &edit.capture_shortcut {
        table.insert(
            "capture_shortcut".into(),
            toml::Value::String(shortcut.trim().to_string()),
        );
    }
    let text = toml::to_string_pretty(&table)
        .map_err(|e| Error::Usage(format!("could not write the settings: {e}")))?;
    let mut settings: Settings = toml::from_str(&text).map_err(|e| {
        Error::Usage(format!(
            "the edited config file {} would not load ({e}); nothing was written",
            path.display()
        ))
    })?;
    settings.daily_cap_set = table.contains_key("daily_cap");
    if let Some(dir) = path.parent() {
        // The config dir is 0700 and the file 0600, written through a unique temporary file
        // with fsync before the rename (two windows saving at once never mix).
        crate::private::create_dir(dir).map_err(|e| {
            Error::io(
                format!("could not create the config directory {}", dir.display()),
                e,
            )
        })?;
    }
    crate::private::write_atomic(path, text.as_bytes()).map_err(|e| {
        Error::io(
            format!("could not write the config file {}", path.display()),
            e,
        )
    })?;
    Ok(settings)
}

/// The default `config.toml` path in the platform config dir.
pub fn default_config_path() -> Option<PathBuf> {
    project_dirs().map(|d| d.config_dir().join("config.toml"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn edit_file_keeps_other_settings_and_refuses_bad_edits() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("sub/config.toml");
        std::fs::create_dir_all(cfg.parent().unwrap()).unwrap();
        std::fs::write(&cfg, "daily_cap = 30\n").unwrap();
        let edit = SettingsEdit {
            rotate_after: Some(12),
            chat_models: Some(vec![" a/b ".into(), "".into(), "c/d".into()]),
            vision_pin: Some(Some("x/y:free".into())),
            ..SettingsEdit::default()
        };
        let s = edit_file(&cfg, &edit).unwrap();
        assert_eq!((s.daily_cap, s.rotate_after), (30, 12));
        assert_eq!(s.vision_pin.as_deref(), Some("x/y:free"));
        assert_eq!(s.chat_models, vec!["a/b".to_string(), "c/d".to_string()]);
        assert_eq!(Settings::from_file(&cfg).unwrap(), s);

        let before = std::fs::read_to_string(&cfg).unwrap();
        let empty = SettingsEdit {
            vision_models: Some(vec!["  ".into()]),
            ..SettingsEdit::default()
        };
        let err = edit_file(&cfg, &empty).unwrap_err().to_string();
        assert!(err.contains("vision model chain is empty"), "{err}");
        let zero = SettingsEdit {
            rotate_after: Some(0),
            ..SettingsEdit::default()
        };
        assert!(edit_file(&cfg, &zero).is_err());
        assert_eq!(
            std::fs::read_to_string(&cfg).unwrap(),
            before,
            "nothing lost"
        );
        let unpin = SettingsEdit {
            vision_pin: Some(None),
            ..SettingsEdit::default()
        };
        assert_eq!(edit_file(&cfg, &unpin).unwrap().vision_pin, None);
    }

    #[test]
    fn env_wins_over_file_and_file_over_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("config.toml");
        std::fs::write(&cfg, "daily_cap = 30\nrotate_after = 20\n").unwrap();
        let p = cfg.to_str().unwrap();
        let s = Settings::load_with(&env_of(&[
            ("KEYWHEEL_CONFIG", p),
            ("KEYWHEEL_ROTATE_AFTER", "3"),
        ]))
        .unwrap();
        assert_eq!(s.daily_cap, 30, "the file overrides the default");
        assert_eq!(s.rotate_after, 3, "the environment overrides the file");
        assert_eq!(s.minute_cap, 20, "untouched settings keep their default");
    }

    #[test]
    fn team_cache_is_off_unless_the_file_the_edit_or_the_environment_turns_it_on() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("config.toml");
        let p = cfg.to_str().unwrap();
        assert!(!Settings::default().team_cache, "off by default");
        let edit = SettingsEdit {
            team_cache: Some(true),
            ..SettingsEdit::default()
        };
        assert!(edit_file(&cfg, &edit).unwrap().team_cache);
        let load = |pairs: &[(&str, &str)]| Settings::load_with(&env_of(pairs)).unwrap();
        assert!(load(&[("KEYWHEEL_CONFIG", p)]).team_cache, "the file");
        let off = load(&[("KEYWHEEL_CONFIG", p), ("KEYWHEEL_TEAM_CACHE", "off")]);
        assert!(!off.team_cache, "the environment wins");
        let opts = crate::ledger::pg::Options::from_settings(&load(&[("KEYWHEEL_CONFIG", p)]));
        assert!(opts.team_cache, "the team ledger opens with it");
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = Settings::load_with(&env_of(&[
            ("KEYWHEEL_CONFIG", ""),
            ("KEYWHEEL_DAILY_CAP", "lots"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("KEYWHEEL_DAILY_CAP"), "{err}");
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn unknown_file_keys_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("config.toml");
        std::fs::write(&cfg, "daly_cap = 30\n").unwrap();
        let err = Settings::from_file(&cfg).unwrap_err();
        assert!(err.to_string().contains("config.toml"), "{err}");
    }

    /// Each bad value: an exit-2 sentence naming it, never a panic.
    #[test]
    fn validate_turns_bad_values_into_sentences() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("config.toml");
        let p = cfg.to_str().unwrap().to_string();
        let file = |text: &str| {
            std::fs::write(&cfg, text).unwrap();
            Settings::load_with(&env_of(&[("KEYWHEEL_CONFIG", &p)]))
        };
        let enva = |pairs: &[(&str, &str)]| {
            let mut all = vec![("KEYWHEEL_CONFIG", "")];
            all.extend_from_slice(pairs);
            Settings::load_with(&env_of(&all))
        };
        let cases: Vec<(Result<Settings>, &str)> = vec![
            (file("chat_models = []\n"), "chat model chain"),
            (file("vision_models = [\" \"]\n"), "vision model chain"),
            (
                file("cache_ttl_hours = 9223372036854775807\n"),
                "cache_ttl_hours",
            ),
            (
                file("instance_ttl_secs = 9223372036854775807\n"),
                "instance_ttl_secs",
            ),
            (
                file("heartbeat_secs = 30\ninstance_ttl_secs = 20\n"),
                "shorter than",
            ),
            (file("heartbeat_secs = 0\n"), "heartbeat_secs"),
            (file("retention_days = 0\n"), "retention_days"),
            (file("log = \"info,[=\"\n"), "log filter"),
            (file("base_url = \"openrouter.ai/api/v1\"\n"), "no scheme"),
            (
                file("base_url = \"http://openrouter.ai/api/v1\"\n"),
                "https is needed",
            ),
            (enva(&[("KEYWHEEL_KEYCHAIN", "maybe")]), "KEYWHEEL_KEYCHAIN"),
            (
                enva(&[("KEYWHEEL_CACHE_OCR", "nope")]),
                "KEYWHEEL_CACHE_OCR",
            ),
            (
                enva(&[("KEYWHEEL_LOG", "keywheel_core=loud")]),
                "log filter",
            ),
            (
                enva(&[("OPENROUTER_BASE_URL", "127.0.0.1:9/api")]),
                "no scheme",
            ),
            (
                Settings::load_with(&env_of(&[(
                    "KEYWHEEL_CONFIG",
                    "/nonexistent/keywheel.toml",
                )])),
                "KEYWHEEL_CONFIG names /nonexistent/keywheel.toml",
            ),
        ];
        for (result, says) in cases {
            let err = result.expect_err(says);
            assert_eq!(err.exit_code(), 2, "{err}");
            assert!(err.to_string().contains(says), "want {says:?} in: {err}");
        }
    }

    #[test]
    fn flags_read_on_and_off_in_any_case() {
        for (v, want) in [
            ("OFF", false),
            ("On", true),
            ("no", false),
            ("TRUE", true),
            ("0", false),
            ("yes", true),
        ] {
            let s = Settings::load_with(&env_of(&[
                ("KEYWHEEL_CONFIG", ""),
                ("KEYWHEEL_KEYCHAIN", v),
            ]))
            .unwrap();
            assert_eq!(s.keychain, want, "{v}");
        }
    }

    #[test]
    fn type_errors_in_the_file_do_not_echo_a_key() {
        let key = format!("sk-or-v1-{}", "ab".repeat(32));
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("config.toml");
        std::fs::write(&cfg, format!("daily_cap = \"{key}\"\n")).unwrap();
        let err = Settings::from_file(&cfg).unwrap_err().to_string();
        assert!(!err.contains(&key[9..]), "{err}");
        let err = Settings::load_with(&env_of(&[
            ("KEYWHEEL_CONFIG", ""),
            ("KEYWHEEL_DAILY_CAP", &key),
        ]))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("KEYWHEEL_DAILY_CAP") && !err.contains(&key[9..]),
            "{err}"
        );
    }

    #[test]
    fn fake_now_works_only_in_debug_builds() {
        let env = env_of(&[("KEYWHEEL_FAKE_NOW", "2030-01-02T03:04:05Z")]);
        let debug = clock_from_env_in(&env, true).unwrap();
        assert_eq!(debug.now().to_rfc3339(), "2030-01-02T03:04:05+00:00");
        let release = clock_from_env_in(&env, false).unwrap();
        assert_ne!(release.now().to_rfc3339(), "2030-01-02T03:04:05+00:00");
    }
}
