//! Shared set-up: a mock, made-up keys, an isolated data dir, a gateway in-process or as a
//! `keywheel serve` process.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use keywheel_core::keys::OsKeychain;
use keywheel_core::pool::{Pool, PoolOptions};
use keywheel_core::{Settings, SystemClock};
use keywheel_gateway::{Gateway, GatewaySettings, Handle};
use keywheel_mock::MockConfig;
use serde_json::Value;

pub use keywheel_testkit::http::client as http;
pub use keywheel_testkit::keys::fake_key as key;

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Everything one test uses: the kit's world (temp dir, mock, keys, clean env; reached
/// through `Deref`) plus the caps every `keywheel` process and pool of this world gets.
pub struct World {
    pub kit: keywheel_testkit::world::World,
    pub daily_cap: u32,
    pub rotate_after: u32,
}

impl std::ops::Deref for World {
    type Target = keywheel_testkit::world::World;
    fn deref(&self) -> &Self::Target {
        &self.kit
    }
}

impl World {
    pub fn new(n_keys: u8, daily_cap: u32, cfg: MockConfig) -> Self {
        Self {
            kit: keywheel_testkit::world::World::new(n_keys, cfg),
            daily_cap,
            rotate_after: 40,
        }
    }

    pub fn settings(&self) -> Settings {
        Settings {
            data_dir: self.data_dir(),
            base_url: self.mock.base_url(),
            keychain: false,
            daily_cap: self.daily_cap,
            daily_cap_set: true,
            rotate_after: self.rotate_after,
            max_wait_secs: 5,
            ..Settings::default()
        }
    }

    /// A pool on this world's ledger (the same file a `keywheel serve` process uses).
    pub fn pool(&self) -> Pool {
        Pool::open(PoolOptions {
            settings: self.settings(),
            clock: Arc::new(SystemClock),
            store: Arc::new(OsKeychain::disabled()),
            env_keys: Some(self.keys_csv()),
        })
        .expect("pool opens")
    }

    /// A gateway in this process on 127.0.0.1:0.
    pub async fn gateway(&self, settings: GatewaySettings) -> Handle {
        Gateway::start(self.pool(), settings, "127.0.0.1:0".parse().unwrap())
            .await
            .expect("gateway starts")
    }

    /// `keywheel <args>` with this world's isolated environment and caps.
    pub fn cmd(&self, args: &[&str]) -> Command {
        self.kit.cmd_with(
            args,
            &[
                ("KEYWHEEL_DAILY_CAP", self.daily_cap.to_string()),
                ("KEYWHEEL_ROTATE_AFTER", self.rotate_after.to_string()),
            ],
        )
    }

    /// `keywheel serve --addr 127.0.0.1:0` as a process; returns it with its base URL
    /// (`http://127.0.0.1:PORT`) once it listens.
    pub fn serve(&self) -> Served {
        self.serve_with(&[])
    }

    /// [`World::serve`] with `env` on top of the world's environment (another data dir, other
    /// keys: another machine).
    pub fn serve_with(&self, env: &[(&str, String)]) -> Served {
        let mut child = self
            .cmd(&["serve", "--addr", "127.0.0.1:0"])
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("keywheel serve starts");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("serve printed {line:?} first"))
            .to_string();
        let stdout = std::thread::spawn(move || {
            let mut rest = String::new();
            std::io::Read::read_to_string(&mut out, &mut rest).ok();
            rest
        });
        let mut err = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut err, &mut s).ok();
            s
        });
        Served {
            child,
            url,
            stdout: Some(stdout),
            stderr: Some(stderr),
            token: self.token_with(env),
        }
    }

    /// `keywheel serve --token`.
    pub fn token(&self) -> String {
        self.token_with(&[])
    }

    /// `keywheel serve --token` with `env` on top of the world's environment.
    pub fn token_with(&self, env: &[(&str, String)]) -> String {
        let out = self
            .cmd(&["serve", "--token"])
            .envs(env.iter().map(|(k, v)| (k, v)))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// Every (key, day) where the count and the request rows disagree.
    pub fn inconsistencies(&self) -> Vec<(String, String, i64, i64)> {
        self.pool().ledger().inconsistencies().unwrap()
    }
}

/// A running `keywheel serve`.
pub struct Served {
    pub child: Child,
    pub url: String,
    pub token: String,
    stdout: Option<std::thread::JoinHandle<String>>,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl Served {
    pub fn base(&self) -> String {
        format!("{}/v1", self.url)
    }

    /// SIGTERM, then the exit status and what it printed (stdout after the first line, stderr).
    pub fn terminate(mut self) -> (std::process::ExitStatus, String, String) {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let status = wait_with_limit(&mut self.child, Duration::from_secs(30));
        let out = self.stdout.take().unwrap().join().unwrap();
        let err = self.stderr.take().unwrap().join().unwrap();
        (status, out, err)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_with_limit(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let start = std::time::Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        assert!(
            start.elapsed() < limit,
            "keywheel serve did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A chat request body for the gateway's `keywheel/chat` model.
pub fn chat_body(prompt: &str, stream: bool) -> Value {
    let mut body = keywheel_testkit::http::chat_body("keywheel/chat", prompt);
    body["stream"] = stream.into();
    body
}

/// `GET url` with the local token, its JSON body.
pub async fn get_json(url: &str, token: &str) -> Value {
    http()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Polls `f` until it returns `Some`, up to `limit` (a bound on waiting, not a timing check).
pub async fn eventually<T>(limit: Duration, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let start = std::time::Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(start.elapsed() < limit, "gave up waiting after {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
