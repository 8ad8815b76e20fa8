//! A world for one test: a temporary home with the data dir inside it, keywheel-mock on
//! 127.0.0.1, fake keys, and commands that start with a clean environment: only `PATH`, `HOME`,
//! the data dir, no config file, keychain off, the mock as OpenRouter, the world's keys, the
//! temp dir as working directory and stdin closed, then the test's own variables. Nothing
//! from the developer's environment (a real `OPENROUTER_API_KEYS`, a `KEYWHEEL_*` setting)
//! reaches the program under test, and nothing reaches the internet.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use keywheel_mock::{MockConfig, MockServer};

use crate::keys::fake_keys;

/// The `keywheel` binary next to the running test binary (`target/<profile>/keywheel`), present
/// or not. Cargo builds it before the keywheel-cli tests; other crates' tests need
/// `cargo build -p keywheel-cli` first.
pub fn keywheel_path() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    // target/<profile>/deps/<test> → target/<profile>/
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary is under target/<profile>/deps");
    dir.join(format!("keywheel{}", std::env::consts::EXE_SUFFIX))
}

/// [`keywheel_path`], which must exist.
///
/// # Panics
/// When it is missing, with the command that builds it.
pub fn keywheel_bin() -> PathBuf {
    let bin = keywheel_path();
    assert!(
        bin.is_file(),
        "{} is missing; build it first with `cargo build -p keywheel-cli` (make test-gateway does)",
        bin.display()
    );
    bin
}

/// The catalogue snapshot the CLI tests run against (a real `GET /models` answer of
/// 2026-05-07; provenance in keywheel-mock's fixture README).
pub fn catalogue_snapshot() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../keywheel-mock/fixtures/openrouter/models-2026-05-07.json")
}

/// A temporary home and a clean environment, without a mock (commands that never reach
/// OpenRouter).
pub struct Sandbox {
    /// The temporary home; the data dir is `data/` inside it. Removed on drop.
    pub dir: tempfile::TempDir,
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Sandbox {
    /// A new empty temporary home.
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    /// The temporary home (`HOME` of every command).
    pub fn home(&self) -> &Path {
        self.dir.path()
    }

    /// The data dir (`KEYWHEEL_DATA_DIR`): `data/` in the home.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// `name` in the home.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `bytes` to `name` in the home; returns the path as text (for argv).
    pub fn write(&self, name: &str, bytes: &[u8]) -> String {
        let p = self.path(name);
        std::fs::write(&p, bytes).expect("write into the sandbox");
        p.display().to_string()
    }

    /// `program` with an empty environment but `PATH`, `HOME`, `KEYWHEEL_DATA_DIR`,
    /// `KEYWHEEL_CONFIG=""` (no config file: a named one must exist), `KEYWHEEL_KEYCHAIN=off`;
    /// the home as working directory and stdin closed.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut c = Command::new(program);
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .env("KEYWHEEL_DATA_DIR", self.data_dir())
            .env("KEYWHEEL_CONFIG", "")
            .env("KEYWHEEL_KEYCHAIN", "off")
            .current_dir(self.home())
            .stdin(Stdio::null());
        c
    }
}

/// Everything one test uses: a [`Sandbox`] (reached through `Deref`: `w.dir`, `w.path(…)`),
/// keywheel-mock, fake keys and extra variables for the `keywheel` binary.
pub struct World {
    /// The temporary home and its data dir.
    pub sandbox: Sandbox,
    /// keywheel-mock on 127.0.0.1, stopped on drop.
    pub mock: MockServer,
    /// The keys every command gets in `OPENROUTER_API_KEYS`.
    pub keys: Vec<String>,
    /// Extra variables, set last (they win over the defaults).
    pub env: Vec<(String, String)>,
    /// The program [`World::cmd`] starts: [`keywheel_bin`] unless changed.
    pub program: PathBuf,
}

impl std::ops::Deref for World {
    type Target = Sandbox;
    fn deref(&self) -> &Sandbox {
        &self.sandbox
    }
}

impl World {
    /// Fake keys 1 to `n_keys` and a mock started with `cfg`.
    pub fn new(n_keys: u8, cfg: MockConfig) -> Self {
        Self::with_keys(fake_keys(n_keys), cfg)
    }

    /// These keys and a mock started with `cfg`.
    pub fn with_keys(keys: Vec<String>, cfg: MockConfig) -> Self {
        Self {
            sandbox: Sandbox::new(),
            mock: keywheel_mock::start_blocking(cfg).expect("mock starts"),
            keys,
            env: Vec::new(),
            program: keywheel_bin(),
        }
    }

    /// One more variable for every command.
    pub fn with(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }

    /// The keys as `OPENROUTER_API_KEYS` takes them.
    pub fn keys_csv(&self) -> String {
        self.keys.join(",")
    }

    /// `keywheel <args>` in this world's clean environment ([`Sandbox::command`], the mock as
    /// `OPENROUTER_BASE_URL`, the keys), with `defaults` set before the world's own variables
    /// (so a test's [`World::with`] still wins).
    pub fn cmd_with(&self, args: &[&str], defaults: &[(&str, String)]) -> Command {
        let mut c = self.sandbox.command(&self.program);
        c.args(args)
            .env("OPENROUTER_BASE_URL", self.mock.base_url())
            .env("OPENROUTER_API_KEYS", self.keys_csv());
        for (k, v) in defaults {
            c.env(k, v);
        }
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    /// `keywheel <args>` in this world's clean environment.
    pub fn cmd(&self, args: &[&str]) -> Command {
        self.cmd_with(args, &[])
    }

    /// Runs `keywheel <args>` to the end.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("keywheel runs")
    }
}
