//! End to end, in the real app window: tauri-driver + WebKitWebDriver drive the built
//! `keywheel-app` (its WebKit web view, its IPC, the core, a real SQLite ledger, the real
//! gnome-keyring) against `keywheel-mock` on 127.0.0.1. Needs a display (Xvfb), tauri-driver
//! and a D-Bus session with an unlocked keyring, so the tests are `#[ignore]`d; `make test`
//! runs them with `--include-ignored` inside `scripts/with-keyring.sh` and `xvfb-run`.
//!
//! Every view is screenshotted to `target/e2e-screenshots/` and each picture is checked to
//! be more than a blank window.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use keywheel_mock::{MockConfig, MockServer};
use keywheel_testkit::keys::{fake_key_repeating as fake_key, key_id};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

fn target_dir() -> PathBuf {
    // target/<profile>/keywheel-app → target/
    Path::new(env!("CARGO_BIN_EXE_keywheel-app"))
        .ancestors()
        .nth(2)
        .expect("target dir")
        .to_path_buf()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn tauri_driver() -> PathBuf {
    if let Some(p) = std::env::var_os("TAURI_DRIVER") {
        return p.into();
    }
    let local = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/bin/tauri-driver");
    if local.is_file() {
        return local;
    }
    "tauri-driver".into()
}

/// tauri-driver, stopped with SIGTERM so it also stops WebKitWebDriver (SIGKILL would
/// orphan it on its port).
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

/// One app launch with its own data dir, config, mock server and WebDriver session.
struct World {
    dir: tempfile::TempDir,
    mock: MockServer,
    client: Client,
    _driver: Driver,
}

impl World {
    async fn start(cfg: MockConfig, env: &[(&str, String)]) -> World {
        let dir = tempfile::tempdir().unwrap();
        // A file KEYWHEEL_CONFIG names must exist; the app's settings edits write into it.
        std::fs::write(dir.path().join("config.toml"), "").unwrap();
        let mock = MockServer::start(cfg).await.expect("mock starts");
        let (port, native) = (free_port(), free_port());
        let mut cmd = Command::new(tauri_driver());
        cmd.args(["--port", &port.to_string()])
            .args(["--native-port", &native.to_string()])
            .env("KEYWHEEL_DATA_DIR", dir.path().join("data"))
            .env("KEYWHEEL_CONFIG", dir.path().join("config.toml"))
            .env("OPENROUTER_BASE_URL", mock.base_url())
            .env("NO_AT_BRIDGE", "1")
            .env_remove("OPENROUTER_API_KEYS")
            .env_remove("KEYWHEEL_KEYCHAIN")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let driver = Driver(cmd.spawn().expect(
            "tauri-driver runs (install: cargo install tauri-driver --locked --version 2.1.0)",
        ));
        let deadline = Instant::now() + WAIT;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "tauri-driver did not listen");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut caps = serde_json::Map::new();
        caps.insert(
            "tauri:options".into(),
            json!({ "application": env!("CARGO_BIN_EXE_keywheel-app") }),
        );
        let client = ClientBuilder::native()
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a WebDriver session with the app");
        let w = World {
            dir,
            mock,
            client,
            _driver: driver,
        };
        w.wait_for("[data-testid=nav-ocr]").await;
        w
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Stops every process of this launch still running: those whose environment names its
    /// data dir (the app WebKitWebDriver started, and any it started again and left behind).
    /// A left-behind app would go on beating as a live instance into the next launch.
    fn stop_apps(&self) {
        let needle = format!("KEYWHEEL_DATA_DIR={}", self.data().display());
        let me = std::process::id().to_string();
        let Ok(procs) = std::fs::read_dir("/proc") else {
            return;
        };
        for pid in procs
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
        {
            if !pid.bytes().all(|b| b.is_ascii_digit()) || pid == me {
                continue;
            }
            let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
                continue;
            };
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if comm.trim() == "keywheel-app"
                && environ.split(|b| *b == 0).any(|e| e == needle.as_bytes())
            {
                let _ = Command::new("kill").args(["-TERM", &pid]).status();
            }
        }
    }

    async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .expect("script runs")
    }

    /// The `textContent` of the last element matching `css` (works inside closed `<details>`).
    async fn last_text(&self, css: &str) -> Option<String> {
        let v = self
            .js(
                "const all = document.querySelectorAll(arguments[0]);\
                 return all.length ? all[all.length - 1].textContent : null;",
                vec![json!(css)],
            )
            .await;
        v.as_str().map(str::to_string)
    }

    async fn wait_for(&self, css: &str) {
        let deadline = Instant::now() + WAIT;
        while self.last_text(css).await.is_none() {
            assert!(Instant::now() < deadline, "{css} never appeared");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the last `css` element's text satisfies `ok`; returns it.
    async fn wait_text(&self, css: &str, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let text = self.last_text(css).await;
            if let Some(t) = &text
                && ok(t)
            {
                return t.clone();
            }
            assert!(
                Instant::now() < deadline,
                "{css} never showed {what}; last text: {text:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn click(&self, css: &str) {
        self.wait_for(css).await;
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    async fn type_into(&self, css: &str, text: &str) {
        self.wait_for(css).await;
        let el = self.client.find(Locator::Css(css)).await.unwrap();
        el.clear().await.unwrap();
        el.send_keys(text).await.unwrap();
    }

    /// Screenshot to `target/e2e-screenshots/<name>.png`, checked to be more than blank.
    async fn shot(&self, name: &str) -> PathBuf {
        // WebDriver screenshots can be a few frames stale: let two frames pass first. And
        // WebKitWebDriver's screenshot waits for the page's next frame, which an idle page
        // painted on the CPU (the app's default, `paint_on_cpu`) never draws: a one-pixel,
        // nearly transparent dot changes every frame until the screenshot is in.
        self.client
            .execute_async(
                "const done = arguments[arguments.length - 1];\
                 const dot = document.createElement('div');\
                 dot.style.cssText = 'position:fixed;left:0;top:0;width:1px;height:1px;\
                   opacity:0.01;pointer-events:none';\
                 document.body.appendChild(dot);\
                 window.__kwFrames = true; let n = 0;\
                 const tick = () => {\
                   if (!window.__kwFrames) { dot.remove(); return; }\
                   dot.style.background = n++ % 2 ? '#fff' : '#000';\
                   requestAnimationFrame(tick);\
                 };\
                 requestAnimationFrame(() => requestAnimationFrame(() => { tick(); done(1); }));",
                vec![],
            )
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(400)).await;
        let png = self.client.screenshot().await.expect("a screenshot");
        self.js("window.__kwFrames = false; return 1;", vec![])
            .await;
        let img = image::load_from_memory(&png).expect("a PNG").to_rgb8();
        assert!(
            img.width() > 400 && img.height() > 300,
            "{name}: tiny screenshot"
        );
        let mut colours = std::collections::HashSet::new();
        for p in img.pixels().step_by(7) {
            colours.insert(p.0);
            if colours.len() > 64 {
                break;
            }
        }
        assert!(
            colours.len() > 64,
            "{name}: the screenshot is (nearly) blank: {} colours",
            colours.len()
        );
        let dir = target_dir().join("e2e-screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, &png).unwrap();
        println!("screenshot: {}", path.display());
        path
    }

    /// Everything the page holds as text: markup, visible text and every field's value.
    async fn page_text(&self) -> String {
        self.js(
            "return document.documentElement.outerHTML + '\\n' + document.body.innerText + '\\n' +\
             Array.from(document.querySelectorAll('input, textarea')).map(e => e.value).join('\\n');",
            vec![],
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    async fn end(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for World {
    fn drop(&mut self) {
        self.stop_apps();
    }
}

fn env_keys(keys: &[&str]) -> Vec<(&'static str, String)> {
    vec![
        ("KEYWHEEL_KEYCHAIN", "off".into()),
        ("OPENROUTER_API_KEYS", keys.join(",")),
    ]
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, tauri-driver and a keyring session; run with --include-ignored"]
async fn a_key_added_in_the_keys_view_goes_to_the_keychain_and_shows_only_masked() {
    let w = World::start(MockConfig::default(), &[]).await;
    w.click("[data-testid=nav-keys]").await;
    w.wait_for("[data-testid=keys-empty]").await;
    let secret = fake_key("e2e7");
    let id = key_id(&secret);
    w.type_into("[data-testid=key-secret]", &secret).await;
    w.type_into("[data-testid=key-label]", "work laptop").await;
    w.click("[data-testid=key-add]").await;

    let row = format!("[data-testid=key-row][data-key-id='{id}']");
    w.wait_for(&row).await;
    let masked = w
        .last_text(&format!("{row} [data-testid=key-masked]"))
        .await
        .unwrap();
    assert!(
        masked.contains("sk-or-v1-") && masked.contains(&secret[secret.len() - 4..]),
        "masked form shown: {masked}"
    );
    assert!(!masked.contains(&secret[9..30]), "not the key: {masked}");
    let page = w.page_text().await;
    assert!(
        !page.contains(&secret) && !page.contains(&secret[9..]),
        "the full key is nowhere in the page (markup, text, fields)"
    );
    let status = w.last_text("[data-testid=keychain-status]").await.unwrap();
    assert!(status.contains("available"), "keychain status: {status}");
    w.shot("keys").await;

    // The key is in the real Secret Service, filed under its id.
    let out = Command::new("secret-tool")
        .args(["lookup", "service", "keywheel", "username", &id])
        .output()
        .expect("secret-tool runs");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        secret,
        "the keychain holds the key"
    );
    // It was checked with GET /key (no quota spent), and nothing else was sent.
    let stats = w.mock.stats();
    assert_eq!(stats.total_requests, 0, "no chat request: {stats:?}");
    // Delete, with confirmation: gone from the list and from the keychain.
    w.click(&format!("{row} [data-testid=key-delete]")).await;
    w.click(&format!("{row} [data-testid=key-delete-yes]"))
        .await;
    w.wait_for("[data-testid=keys-empty]").await;
    let out = Command::new("secret-tool")
        .args(["lookup", "service", "keywheel", "username", &id])
        .output()
        .unwrap();
    assert!(out.stdout.is_empty(), "removed from the keychain");
    w.end().await;
}

/// Draws `text` on a canvas in the page and hands the PNG to the file picker, as a person
/// choosing a file would.
const ATTACH_DRAWN_IMAGE: &str = r#"
const done = arguments[arguments.length - 1];
const c = document.createElement('canvas');
c.width = 900; c.height = 220;
const g = c.getContext('2d');
g.fillStyle = '#ffffff'; g.fillRect(0, 0, c.width, c.height);
g.fillStyle = '#000000'; g.font = 'bold 72px sans-serif';
g.fillText(arguments[0], 40, 140);
c.toBlob((blob) => {
  const file = new File([blob], 'invoice.png', { type: 'image/png' });
  const dt = new DataTransfer();
  dt.items.add(file);
  const input = document.querySelector('[data-testid=ocr-file-input]');
  input.files = dt.files;
  input.dispatchEvent(new Event('change', { bubbles: true }));
  done(blob.size);
}, 'image/png');
"#;

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, tauri-driver and a keyring session; run with --include-ignored"]
async fn an_attached_image_is_read_and_the_usage_view_shows_the_request_under_its_key() {
    let key = fake_key("0c5a");
    let id = key_id(&key);
    let cfg = MockConfig {
        ocr_with_tesseract: true,
        ..MockConfig::default()
    };
    let w = World::start(cfg, &env_keys(&[&key])).await;
    let size = w
        .client
        .execute_async(ATTACH_DRAWN_IMAGE, vec![json!("INVOICE 4711")])
        .await
        .unwrap();
    assert!(size.as_u64().unwrap_or(0) > 1000, "a PNG was drawn: {size}");
    w.wait_for("[data-testid=ocr-item]").await;
    let plan = w
        .wait_text("[data-testid=ocr-plan]", "the quota plan", |t| {
            t.contains("1 request")
        })
        .await;
    assert!(plan.contains("1 image"), "plan: {plan}");
    assert_eq!(
        w.mock.stats().total_requests,
        0,
        "nothing sent before Start"
    );
    w.click("[data-testid=ocr-start]").await;
    let text = w
        .wait_text("[data-testid=ocr-result]", "the drawn text", |t| {
            t.to_uppercase().contains("INVOICE")
        })
        .await;
    assert!(text.contains("4711"), "read: {text}");
    let status = w
        .js(
            "return document.querySelector('[data-testid=ocr-item]').dataset.status",
            vec![],
        )
        .await;
    assert_eq!(status, json!("done"));
    assert_eq!(
        w.mock.stats().total_requests,
        1,
        "one request for one image"
    );
    w.shot("ocr").await;

    w.click("[data-testid=nav-usage]").await;
    let gauge = format!("[data-testid=usage-key][data-key-id='{id}']");
    let today = w
        .wait_text(&gauge, "one request today", |t| t.contains("1 / 50"))
        .await;
    assert!(today.contains("1 / 50"), "{today}");
    let row = w
        .wait_text("[data-testid=log-row]", "the OCR request", |t| {
            t.contains("ocr")
        })
        .await;
    assert!(
        row.contains(&key[key.len() - 4..]),
        "the log row names the key (masked): {row}"
    );
    w.wait_for("[data-testid=usage-chart]").await;
    w.shot("usage").await;
    w.end().await;
}

fn newest_thread(data: &Path) -> Value {
    let dir = data.join("chats");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let text = std::fs::read_to_string(files.last().expect("a saved thread")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, tauri-driver and a keyring session; run with --include-ignored"]
async fn r1_streams_reasoning_apart_from_the_answer_and_stop_keeps_what_arrived() {
    let key = fake_key("c4a7");
    // Every answer waits 2 s first, so there is time to press Stop on the second one.
    let w = World::start(
        MockConfig::default().with_latency_ms(2000),
        &env_keys(&[&key]),
    )
    .await;
    w.click("[data-testid=nav-chat]").await;
    w.click("[data-testid=chat-new]").await;
    w.type_into("[data-testid=chat-input]", "What is two plus two?")
        .await;
    w.click("[data-testid=chat-send]").await;
    let answer = w
        .wait_text("[data-testid=chat-answer]", "the answer", |t| {
            t.contains("two plus two")
        })
        .await;
    let reasoning = w.last_text("[data-testid=chat-reasoning]").await.unwrap();
    assert!(
        !reasoning.trim().is_empty() && !reasoning.contains(answer.trim()),
        "reasoning streams into its own block: {reasoning:?} vs answer {answer:?}"
    );
    assert!(
        !answer.contains(reasoning.trim()),
        "the answer holds no reasoning"
    );
    let model = w.last_text("[data-testid=chat-model]").await.unwrap();
    assert!(model.contains("deepseek"), "model shown: {model}");
    w.shot("chat").await;

    // Stop: the second question is stopped while the mock is still thinking.
    w.type_into("[data-testid=chat-input]", "Now tell me a long story")
        .await;
    w.click("[data-testid=chat-send]").await;
    w.click("[data-testid=chat-stop]").await;
    let deadline = Instant::now() + WAIT;
    loop {
        let t = newest_thread(&w.data());
        let msgs = t["messages"].as_array().unwrap();
        if msgs.len() == 4 {
            assert_eq!(msgs[3]["stopped"], json!(true), "saved as stopped: {t}");
            assert_eq!(
                msgs[1]["reasoning"].as_str().map(|s| !s.is_empty()),
                Some(true)
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the stopped answer was never saved: {t}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    w.wait_for("[data-testid=chat-send]").await;
    assert!(
        w.last_text("[data-testid=chat-stop]").await.is_none(),
        "Stop is gone once stopped"
    );
    w.end().await;
}

fn cli_binary() -> PathBuf {
    let bin = keywheel_testkit::world::keywheel_path();
    if !bin.is_file() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--locked", "-p", "keywheel-cli"])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "the CLI builds");
    }
    bin
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, tauri-driver and a keyring session; run with --include-ignored"]
async fn requests_spent_by_a_cli_process_show_up_in_the_open_app_without_a_reload() {
    let cli = cli_binary();
    let key = fake_key("1d3e");
    let id = key_id(&key);
    let w = World::start(MockConfig::default(), &env_keys(&[&key])).await;
    w.click("[data-testid=nav-usage]").await;
    let gauge = format!("[data-testid=usage-key][data-key-id='{id}']");
    w.wait_text(&gauge, "zero today", |t| t.contains("0 / 50"))
        .await;
    // Mark the page: a reload would lose this.
    w.js("window.__e2eNoReload = 42; return 1;", vec![]).await;

    for n in 1..=3 {
        let out = Command::new(&cli)
            .args(["ask", &format!("question {n}")])
            .env("KEYWHEEL_DATA_DIR", w.data())
            .env("KEYWHEEL_CONFIG", w.dir.path().join("config.toml"))
            .env("KEYWHEEL_KEYCHAIN", "off")
            .env("OPENROUTER_API_KEYS", &key)
            .env("OPENROUTER_BASE_URL", w.mock.base_url())
            .stdin(Stdio::null())
            .output()
            .expect("the CLI runs");
        assert!(
            out.status.success(),
            "keywheel ask: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let want = format!("{n} / 50");
        w.wait_text(&gauge, &want, |t| t.contains(&want)).await;
    }
    assert_eq!(
        w.js("return window.__e2eNoReload", vec![]).await,
        json!(42),
        "the page was not reloaded"
    );
    let rows = w
        .js(
            "return document.querySelectorAll('[data-testid=log-row]').length",
            vec![],
        )
        .await;
    assert_eq!(
        rows,
        json!(3),
        "the request log shows the three CLI requests"
    );
    w.end().await;
}

/// Every process whose environment names this data dir: the app and the WebKit processes it
/// started (they inherit its environment), with what their `/proc/<pid>/environ` holds.
fn processes_of(data: &Path) -> Vec<(u32, String, String)> {
    let marker = format!("KEYWHEEL_DATA_DIR={}", data.display());
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().filter_map(|e| e.ok()) {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(env) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        let env = String::from_utf8_lossy(&env).replace('\0', "\n");
        if env.lines().any(|l| l == marker) {
            let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
            out.push((pid, comm.trim().to_string(), env));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, tauri-driver and a keyring session; run with --include-ignored"]
async fn the_window_stays_on_the_app_links_go_to_the_browser_and_no_process_holds_a_key() {
    // A fake `xdg-open` first on PATH records what it is asked to open: no browser starts.
    let fake = tempfile::tempdir().unwrap();
    let opened = fake.path().join("opened.txt");
    let script = format!(
        "#!/bin/sh\necho \"$@\" >> '{o}'\nenv > '{o}.env'\n",
        o = opened.display()
    );
    let xdg = fake.path().join("xdg-open");
    std::fs::write(&xdg, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&xdg, std::fs::Permissions::from_mode(0o755)).unwrap();
    let key = fake_key("9e2a");
    let mut env = env_keys(&[&key]);
    env.push((
        "PATH",
        format!(
            "{}:{}",
            fake.path().display(),
            std::env::var("PATH").unwrap()
        ),
    ));
    let w = World::start(MockConfig::default(), &env).await;
    let home = w.js("return location.href", vec![]).await;
    assert!(
        home.as_str().unwrap().starts_with("tauri://localhost"),
        "{home}"
    );

    let asked = |what: &str| {
        std::fs::read_to_string(&opened)
            .unwrap_or_default()
            .contains(what)
    };
    w.js(
        "location.assign('https://example.invalid/'); return 1;",
        vec![],
    )
    .await;
    let deadline = Instant::now() + WAIT;
    while !asked("https://example.invalid/") {
        assert!(
            Instant::now() < deadline,
            "the link never reached the system opener"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        w.js("return location.href", vec![]).await,
        home,
        "the window stayed on the app"
    );
    w.wait_for("[data-testid=nav-ocr]").await;

    // No new windows: a link with target=_blank, clicked, goes to the browser too.
    w.js(
        "const a = document.createElement('a'); a.href = 'https://example.invalid/popup';\
         a.target = '_blank'; a.textContent = 'popup link'; a.dataset.testid = 'e2e-popup';\
         a.style = 'position:fixed;top:0;left:0;z-index:99999;background:#fff';\
         document.body.appendChild(a); return 1;",
        vec![],
    )
    .await;
    w.click("[data-testid=e2e-popup]").await;
    let deadline = Instant::now() + WAIT;
    while !asked("https://example.invalid/popup") {
        assert!(
            Instant::now() < deadline,
            "the target=_blank link was not handed over"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    w.js(
        "window.open('/', '_blank'); location.assign('file:///etc/passwd'); return 1;",
        vec![],
    )
    .await;
    assert_eq!(
        w.client.windows().await.unwrap().len(),
        1,
        "one window only"
    );
    assert_eq!(w.js("return location.href", vec![]).await, home);

    // Nothing the app started holds the key: the app, its WebKit processes, the opener.
    // (tauri-driver and WebKitWebDriver are the test's own: it gave them the key.)
    let procs: Vec<_> = processes_of(&w.data())
        .into_iter()
        .filter(|(_, comm, _)| comm != "tauri-driver" && comm != "WebKitWebDriver")
        .collect();
    let names: Vec<&str> = procs.iter().map(|(_, c, _)| c.as_str()).collect();
    println!("processes of the app: {names:?}");
    assert!(
        names.contains(&"keywheel-app") && names.iter().any(|n| n.starts_with("WebKitWeb")),
        "the WebKit web process was found: {names:?}"
    );
    let holders: Vec<String> = procs
        .iter()
        .filter(|(_, _, env)| env.contains(&key) || env.contains("OPENROUTER_API_KEYS="))
        .map(|(pid, comm, _)| format!("{comm} ({pid})"))
        .collect();
    assert!(
        holders.is_empty(),
        "the key is in the environment of {holders:?}"
    );
    let opener_env = std::fs::read_to_string(format!("{}.env", opened.display())).unwrap();
    assert!(!opener_env.contains(&key), "the opener saw the key");
    // The app still has the key: it is listed (masked) in the Keys view.
    w.click("[data-testid=nav-keys]").await;
    w.wait_for(&format!(
        "[data-testid=key-row][data-key-id='{}']",
        key_id(&key)
    ))
    .await;
    w.end().await;
}

/// Each entry of one chain in the Models panel, in order: `(id, included, why)`.
async fn chain_entries(w: &World, kind: &str) -> Vec<(String, bool, String)> {
    let v = w
        .js(
            "return Array.from(document.querySelectorAll(\
               `[data-testid=chain-${arguments[0]}] [data-testid=chain-entry]`))\
             .map(li => [li.dataset.modelId, li.dataset.included === 'true',\
               li.querySelector('[data-testid=chain-entry-why]').textContent]);",
            vec![json!(kind)],
        )
        .await;
    serde_json::from_value(v).expect("entries")
}

/// The model ids the open picker lists, in order.
async fn picker_options(w: &World) -> Vec<String> {
    let v = w
        .js(
            "return Array.from(document.querySelectorAll('[data-testid=model-picker-option]'))\
             .map(o => o.dataset.modelId);",
            vec![],
        )
        .await;
    serde_json::from_value(v).expect("options")
}

async fn wait_until<T, F: std::future::Future<Output = T>>(
    what: &str,
    mut probe: impl FnMut() -> F,
    ok: impl Fn(&T) -> bool,
) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        let v = probe().await;
        if ok(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "never {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, tauri-driver and a keyring session; run with --include-ignored"]
async fn the_models_settings_show_the_resolved_chains_and_the_picker_pins_a_model() {
    use fantoccini::key::Key;

    let key = fake_key("d0de");
    let catalog = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/keywheel-mock/fixtures/openrouter/models-2026-08.json");
    let cfg = MockConfig::default()
        .with_catalog_file(&catalog)
        .expect("the August 2026 catalogue")
        .with_no_credits();
    let w = World::start(cfg, &env_keys(&[&key])).await;
    w.click("[data-testid=nav-keys]").await;
    w.wait_for("[data-testid=chain-vision] [data-testid=chain-entry]")
        .await;

    // The vision chain as resolved for a no-credit account against today's catalogue.
    let vision = chain_entries(&w, "vision").await;
    let first = vision.iter().find(|e| e.1).expect("a model is sent");
    assert_eq!(first.0, "google/gemma-4-31b-it:free", "{vision:?}");
    assert!(
        vision.contains(&(
            "meta-llama/llama-3.2-90b-vision-instruct".into(),
            false,
            "no longer offered by OpenRouter".into()
        )),
        "{vision:?}"
    );
    assert!(
        vision.contains(&(
            "qwen/qwen2.5-vl-72b-instruct".into(),
            false,
            "paid, and this account has no credits".into()
        )),
        "{vision:?}"
    );
    let numbers = w
        .js(
            "return Array.from(document.querySelectorAll(\
               '[data-testid=chain-vision] [data-included=true] .num')).map(n => n.textContent);",
            vec![],
        )
        .await;
    assert_eq!(numbers, json!(["1", "2", "3"]));
    let credits = w.last_text("[data-testid=models-credits]").await.unwrap();
    assert!(credits.contains("no credits"), "credits: {credits}");
    let sentences = w
        .js(
            "return Array.from(document.querySelectorAll(\
               '[data-testid=chain-vision] [data-testid=chain-sentence]')).map(p => p.textContent);",
            vec![],
        )
        .await;
    assert!(
        sentences.as_array().unwrap().contains(&json!(
            "meta-llama/llama-3.2-90b-vision-instruct is no longer offered by OpenRouter; reading with google/gemma-4-31b-it:free"
        )),
        "vision sentences: {sentences}"
    );
    let r1 = w
        .last_text("[data-testid=chain-chat] [data-testid=chain-sentence]")
        .await
        .unwrap_or_default();
    assert!(
        r1.starts_with("DeepSeek R1 is a paid model on OpenRouter and this account has no credits; answering with"),
        "chat sentence: {r1}"
    );
    w.js(
        "document.querySelector('[data-testid=models-panel]').scrollIntoView({block: 'start'});",
        vec![],
    )
    .await;
    w.shot("keys-models").await;

    // The vision picker: type to filter (only models that take images), arrows, Enter.
    w.click("[data-testid=chain-vision] [data-testid=chain-pin]")
        .await;
    w.type_into("[data-testid=model-picker-search]", "nemotron")
        .await;
    let options = wait_until(
        "the picker filtered to nemotron vision models",
        || picker_options(&w),
        |o: &Vec<String>| !o.is_empty() && o.iter().all(|id| id.contains("nemotron")),
    )
    .await;
    assert!(
        options.contains(&"nvidia/nemotron-nano-12b-v2-vl:free".to_string()),
        "{options:?}"
    );
    assert!(
        !options.contains(&"nvidia/nemotron-3-super-120b-a12b:free".to_string()),
        "a text-only model is not offered for vision: {options:?}"
    );
    let want = "nvidia/nemotron-nano-12b-v2-vl:free";
    let at = options.iter().position(|o| o == want).unwrap();
    let search = w
        .client
        .find(Locator::Css("[data-testid=model-picker-search]"))
        .await
        .unwrap();
    let downs: String = std::iter::repeat_n(char::from(Key::Down), at).collect();
    search.send_keys(&downs).await.unwrap();
    let active = wait_until(
        "the arrows moved to the model",
        || async {
            w.js(
                "const id = document.querySelector('[data-testid=model-picker-search]')\
                   .getAttribute('aria-activedescendant');\
                 return id ? document.getElementById(id).dataset.modelId : null;",
                vec![],
            )
            .await
        },
        |v: &Value| v.as_str() == Some(want),
    )
    .await;
    assert_eq!(active, json!(want));
    w.shot("keys-model-picker").await;
    search
        .send_keys(&char::from(Key::Enter).to_string())
        .await
        .unwrap();

    // Pinned: the chain is that model alone, and config.toml holds the pin.
    w.wait_text(
        "[data-testid=chain-vision] [data-testid=chain-pinned]",
        "the pinned model",
        |t| t == want,
    )
    .await;
    let pinned = wait_until(
        "the vision chain shows only the pin",
        || chain_entries(&w, "vision"),
        |e: &Vec<(String, bool, String)>| e.len() == 1,
    )
    .await;
    assert_eq!(pinned, vec![(want.to_string(), true, "pinned".to_string())]);
    let config = std::fs::read_to_string(w.dir.path().join("config.toml")).unwrap();
    assert!(
        config.contains(&format!("vision_pin = \"{want}\"")),
        "config.toml: {config}"
    );
    assert!(
        w.last_text("[data-testid=model-picker-search]")
            .await
            .is_none(),
        "the picker closed"
    );
    w.js(
        "document.querySelector('[data-testid=models-panel]').scrollIntoView({block: 'start'});",
        vec![],
    )
    .await;
    w.shot("keys-models-pinned").await;
    // Showing chains and the catalogue spends nothing: no chat request reached OpenRouter.
    assert_eq!(w.mock.stats().total_requests, 0);
    w.end().await;
}

/// Runs `window.__TAURI_INTERNALS__.invoke(cmd)` in the page: the app's own IPC, as the UI uses it.
async fn ipc(w: &World, cmd: &str) -> Value {
    w.client
        .execute_async(
            "const done = arguments[arguments.length - 1];\
             window.__TAURI_INTERNALS__.invoke(arguments[0], {})\
               .then((v) => done({ ok: v }), (e) => done({ err: e }));",
            vec![json!(cmd)],
        )
        .await
        .expect("invoke runs")
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, tauri-driver and a keyring session; run with --include-ignored"]
async fn the_gateway_switch_serves_an_openai_client_shows_it_via_gateway_and_closes_the_port() {
    let key = fake_key("6a7e");
    let id = key_id(&key);
    let mut env = env_keys(&[&key]);
    // A free port, so the test never meets a `keywheel serve` on 8377; the card shows which.
    env.push(("KEYWHEEL_GATEWAY_ADDR", "127.0.0.1:0".into()));
    let w = World::start(MockConfig::default(), &env).await;
    w.click("[data-testid=nav-keys]").await;
    w.wait_text("[data-testid=gateway-state]", "Off", |t| t == "Off")
        .await;
    assert!(w.last_text("[data-testid=gateway-url]").await.is_none());
    // What the copy buttons write to the clipboard is kept in the page's memory, not its DOM.
    w.js(
        "window.__e2eCopied = [];\
         Object.defineProperty(navigator, 'clipboard', { configurable: true,\
           value: { writeText: async (t) => { window.__e2eCopied.push(t); } } });\
         return 1;",
        vec![],
    )
    .await;

    // On: the card shows the address it really listens on.
    w.click("[data-testid=gateway-switch]").await;
    let url = w
        .wait_text("[data-testid=gateway-url]", "the gateway's address", |t| {
            t.starts_with("http://127.0.0.1:") && t.ends_with("/v1")
        })
        .await;
    let addr: std::net::SocketAddr = url
        .trim_start_matches("http://")
        .trim_end_matches("/v1")
        .parse()
        .expect("an address");
    assert_ne!(addr.port(), 0);
    assert_eq!(
        w.last_text("[data-testid=gateway-state]").await.unwrap(),
        "On"
    );

    // The token: made on first start in the 0600 file (no keychain in this run).
    let file = w.data().join("gateway-token");
    let stored = std::fs::read_to_string(&file).expect("the token file");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(
        stored.starts_with("kw-") && stored.len() == 67,
        "{stored:?}"
    );
    let masked = w
        .last_text("[data-testid=gateway-token-masked]")
        .await
        .unwrap();
    assert_eq!(masked, format!("kw-…{}", &stored[63..]));
    w.click("[data-testid=gateway-copy-token]").await;
    w.click("[data-testid=gateway-copy-export]").await;
    let copied = wait_until(
        "both copies reached the clipboard",
        || w.js("return window.__e2eCopied", vec![]),
        |v: &Value| v.as_array().is_some_and(|a| a.len() == 2),
    )
    .await;
    let token = copied[0].as_str().unwrap().to_string();
    assert_eq!(token, stored, "Copy token copies the stored token");
    assert_eq!(
        copied[1].as_str().unwrap(),
        format!("export OPENAI_BASE_URL={url} OPENAI_API_KEY={token}")
    );
    let page = w.page_text().await;
    assert!(
        !page.contains(&token[3..]),
        "the token is nowhere in the page (markup, text, fields)"
    );
    assert!(!page.contains(&key[9..]), "nor the OpenRouter key");

    // A client, as an OpenAI SDK would call it: no token → 401; the copied token → an answer
    // through the pool, from keywheel-mock, with the pool's key.
    #[allow(clippy::disallowed_methods)] // a client of the local gateway, as an SDK would be
    let http = reqwest::Client::new();
    let body = json!({
        "model": "keywheel/chat",
        "messages": [{"role": "user", "content": "Which is bigger, 9.11 or 9.9?"}],
    });
    let endpoint = format!("{url}/chat/completions");
    let refused = http.post(&endpoint).json(&body).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let res = http
        .post(&endpoint)
        .bearer_auth(&token)
        .header("X-Keywheel-Session", "e2e-notebook")
        .json(&body)
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()
            .get("x-keywheel-key-id")
            .and_then(|v| v.to_str().ok()),
        Some(id.as_str())
    );
    let answer: Value = res.json().await.unwrap();
    assert!(
        answer["choices"][0]["message"]["content"]
            .as_str()
            .is_some_and(|c| !c.is_empty()),
        "{answer}"
    );
    assert_eq!(w.mock.stats().total_requests, 1, "one request upstream");
    // The session shows on the card, with the key it holds.
    let sessions = w
        .wait_text("[data-testid=gateway-sessions]", "the session", |t| {
            t.contains("e2e-notebook")
        })
        .await;
    assert!(sessions.contains(&key[key.len() - 4..]), "{sessions}");
    w.js(
        "document.querySelector('[data-testid=gateway-card]').scrollIntoView({block: 'start'});",
        vec![],
    )
    .await;
    w.shot("keys-gateway").await;

    // Usage: the request is in the log like any other, via gateway, with its session.
    w.click("[data-testid=nav-usage]").await;
    let gauge = format!("[data-testid=usage-key][data-key-id='{id}']");
    w.wait_text(&gauge, "one request today", |t| t.contains("1 / 50"))
        .await;
    let row = w
        .wait_text(
            "[data-testid=log-row][data-via=gateway]",
            "the gateway's request",
            |t| t.contains("session e2e-notebook"),
        )
        .await;
    assert!(row.contains("via gateway") && row.contains("chat"), "{row}");
    w.js(
        "document.querySelector('[data-testid=usage-log]').scrollIntoView({block: 'center'});",
        vec![],
    )
    .await;
    w.shot("usage-gateway").await;

    // Off: the port closes, the session's instance ends, the row keeps its label.
    w.click("[data-testid=nav-keys]").await;
    w.wait_text("[data-testid=gateway-state]", "On", |t| t == "On")
        .await;
    w.click("[data-testid=gateway-switch]").await;
    w.wait_text("[data-testid=gateway-state]", "Off", |t| t == "Off")
        .await;
    assert!(w.last_text("[data-testid=gateway-url]").await.is_none());
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "the port is closed"
    );
    assert_eq!(
        ipc(&w, "gateway_status").await["ok"]["running"],
        json!(false)
    );
    assert!(
        ipc(&w, "gateway_token").await["err"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("is off")),
        "no token while off"
    );
    let instances = ipc(&w, "status").await["ok"]["instances"].clone();
    let kinds: Vec<&str> = instances
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["kind"].as_str())
        .collect();
    assert!(
        !kinds.iter().any(|k| k.starts_with("gateway")),
        "no gateway instance is left: {kinds:?}"
    );
    w.click("[data-testid=nav-usage]").await;
    w.wait_text(
        "[data-testid=log-row][data-via=gateway]",
        "the row, still via gateway",
        |t| t.contains("session e2e-notebook"),
    )
    .await;
    assert_eq!(w.mock.stats().total_requests, 1);
    w.end().await;
}

/// An app with one key, against a mock that reads images with tesseract.
async fn reading_world(key: &str) -> World {
    let cfg = MockConfig {
        ocr_with_tesseract: true,
        ..MockConfig::default()
    };
    World::start(cfg, &env_keys(&[key])).await
}

/// Waits until `n` items of the queue are done.
async fn read_all(w: &World, n: u64, what: &str) {
    let deadline = Instant::now() + WAIT;
    while w
        .js(
            "return document.querySelectorAll('[data-testid=ocr-item][data-status=done]').length",
            vec![],
        )
        .await
        != json!(n)
    {
        assert!(Instant::now() < deadline, "{what} were never read");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `xclip -o -selection clipboard`: what a person would paste (None while it holds nothing).
fn clipboard_text() -> Option<String> {
    let out = Command::new("timeout")
        .args(["5", "xclip", "-o", "-selection", "clipboard"])
        .stderr(Stdio::null())
        .output()
        .expect("xclip runs (scripts/setup-system.sh installs it)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.success() && !text.is_empty()).then_some(text)
}

/// Polls the clipboard until `ok` holds; returns its text.
async fn wait_clipboard(what: &str, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let text = clipboard_text();
        if let Some(t) = &text
            && ok(t)
        {
            return t.clone();
        }
        assert!(
            Instant::now() < deadline,
            "the clipboard never held {what}; it holds {text:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An image with text shown on the X display by ImageMagick's `display`, at a known place;
/// closed (by its pid) when dropped.
struct OnScreen(Child);

impl Drop for OnScreen {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Where the known image sits on the screen (X, Y, W, H).
const ON_SCREEN: (u32, u32, u32, u32) = (300, 300, 640, 140);

async fn show_on_screen(dir: &Path, text: &str) -> OnScreen {
    let png = dir.join("on-screen.png");
    let (x, y, w, h) = ON_SCREEN;
    let made = Command::new("convert")
        .args([
            "-size",
            &format!("{w}x{h}"),
            "xc:white",
            "-font",
            "DejaVu-Sans",
        ])
        .args(["-pointsize", "56", "-fill", "black"])
        .args(["-draw", &format!("text 24,96 '{text}'")])
        .arg(&png)
        .status()
        .expect("ImageMagick's convert runs");
    assert!(made.success(), "the on-screen image was drawn");
    let viewer = OnScreen(
        Command::new("display")
            .args(["-geometry", &format!("+{x}+{y}"), "-title", "kw-e2e-target"])
            .arg(&png)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ImageMagick's display runs"),
    );
    let deadline = Instant::now() + WAIT;
    loop {
        let info = Command::new("xwininfo")
            .args(["-name", "kw-e2e-target"])
            .output()
            .expect("xwininfo runs");
        if String::from_utf8_lossy(&info.stdout).contains("IsViewable") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the image never showed on the display"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    viewer
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, tauri-driver and a keyring session; run with --include-ignored"]
async fn a_region_dragged_on_the_frozen_screen_is_read_once_and_its_text_is_on_the_clipboard() {
    use fantoccini::actions::{InputSource, MOUSE_BUTTON_LEFT, MouseActions, PointerAction};

    let key = fake_key("ca97");
    let w = reading_world(&key).await;
    let _viewer = show_on_screen(w.dir.path(), "REGION 5150").await;
    // The shortcut is registered from the start, and `?` shows it.
    w.wait_text("[data-testid=help-capture]", "the default shortcut", |t| {
        t.contains("Ctrl+Alt+O")
    })
    .await;

    w.click("[data-testid=capture-start]").await;
    w.wait_for("[data-testid=capture-overlay]").await;
    // The overlay shows the whole frozen screen, scaled to the window (which now covers it).
    let deadline = Instant::now() + WAIT;
    let (scale_x, scale_y) = loop {
        let g = w
            .js(
                "const o = document.querySelector('[data-testid=capture-overlay]');\
                 const i = o && o.querySelector('img');\
                 if (!o || !i || !i.complete || !i.naturalWidth) return null;\
                 const r = o.getBoundingClientRect();\
                 return [r.width, r.height, i.naturalWidth, i.naturalHeight];",
                vec![],
            )
            .await;
        if let Some(g) = g
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_f64).collect::<Vec<_>>())
            && g.len() == 4
            && g[0] >= 1000.0
        {
            assert_eq!(
                (g[2], g[3]),
                (1280.0, 800.0),
                "the grab is the whole screen"
            );
            break (g[0] / g[2], g[1] / g[3]);
        }
        assert!(
            Instant::now() < deadline,
            "the overlay never covered the screen: {g}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        w.mock.stats().total_requests,
        0,
        "nothing sent while picking"
    );

    // Drag a rectangle around the known image, as a person would with the mouse.
    let (x, y, width, height) = ON_SCREEN;
    let from = (f64::from(x - 12) * scale_x, f64::from(y - 12) * scale_y);
    let to = (
        f64::from(x + width + 12) * scale_x,
        f64::from(y + height + 12) * scale_y,
    );
    let drag = MouseActions::new("mouse".into())
        .then(PointerAction::MoveTo {
            duration: None,
            x: from.0,
            y: from.1,
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::MoveTo {
            duration: Some(Duration::from_millis(150)),
            x: (from.0 + to.0) / 2.0,
            y: (from.1 + to.1) / 2.0,
        })
        .then(PointerAction::MoveTo {
            duration: Some(Duration::from_millis(150)),
            x: to.0,
            y: to.1,
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    w.client.perform_actions(drag).await.expect("the drag");
    let released = Instant::now();
    let copied = wait_clipboard("the region's text", |t| t.contains("5150")).await;
    println!(
        "capture: end of the drag → text on the clipboard: {} ms (keywheel-mock at 0 ms, tesseract in the mock)",
        released.elapsed().as_millis()
    );
    assert!(
        copied.to_uppercase().contains("REGION 5150"),
        "the clipboard holds the region's text: {copied:?}"
    );
    assert_eq!(
        w.mock.stats().total_requests,
        1,
        "exactly one request for the region"
    );
    // The item is in Read images, done, and the app said where the text went.
    let item = w
        .wait_text(
            "[data-testid=ocr-item][data-status=done]",
            "the region's item",
            |t| t.contains("screen-"),
        )
        .await;
    assert!(item.contains("5150"), "{item}");
    let said = w
        .wait_text(
            "[data-testid=capture-message]",
            "the clipboard sentence",
            |t| t.contains("clipboard"),
        )
        .await;
    assert!(said.contains("REGION 5150"), "{said}");
    assert!(
        w.last_text("[data-testid=capture-overlay]").await.is_none(),
        "the overlay is gone"
    );
    w.shot("capture").await;

    // Esc cancels: the window comes back and nothing is sent.
    w.click("[data-testid=capture-start]").await;
    w.wait_for("[data-testid=capture-overlay]").await;
    w.js(
        "document.querySelector('[data-testid=capture-overlay]').dispatchEvent(\
           new KeyboardEvent('keydown', { key: 'Escape', bubbles: true, cancelable: true })); return 1;",
        vec![],
    )
    .await;
    let deadline = Instant::now() + WAIT;
    while w.last_text("[data-testid=capture-overlay]").await.is_some() {
        assert!(Instant::now() < deadline, "Esc did not close the overlay");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        w.mock.stats().total_requests,
        1,
        "a cancelled capture sends nothing"
    );
    w.end().await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, tauri-driver and a keyring session; run with --include-ignored"]
async fn copy_all_puts_every_text_of_the_batch_on_the_clipboard_joined_as_the_cli_prints_them() {
    let key = fake_key("c0a1");
    let w = reading_world(&key).await;
    for text in ["ALPHA 111", "BRAVO 222"] {
        w.client
            .execute_async(ATTACH_DRAWN_IMAGE, vec![json!(text)])
            .await
            .unwrap();
    }
    w.wait_text("[data-testid=ocr-plan]", "the plan for both", |t| {
        t.contains("2 images")
    })
    .await;
    w.click("[data-testid=ocr-start]").await;
    read_all(&w, 2, "both images").await;
    w.click("[data-testid=ocr-copy-all]").await;
    let all = wait_clipboard("both texts", |t| t.contains("BRAVO")).await;
    assert!(
        all.starts_with("## invoice.png\n\n"),
        "a heading per image, as `keywheel ocr a b` prints: {all:?}"
    );
    let second = all
        .find("\n\n## invoice (2).png\n\n")
        .expect("the second heading");
    assert!(all[..second].contains("ALPHA 111"), "{all:?}");
    assert!(all[second..].contains("BRAVO 222"), "{all:?}");
    assert!(all.ends_with("\n\n"), "{all:?}");
    assert_eq!(w.mock.stats().total_requests, 2, "copying spends nothing");
    w.end().await;
}

/// Hands a file's bytes to the file picker (`arguments[0]` bytes, `[1]` name, `[2]` type), as
/// a person choosing that file would.
const ATTACH_FILE: &str = r#"
const done = arguments[arguments.length - 1];
const file = new File([new Uint8Array(arguments[0])], arguments[1], { type: arguments[2] });
const dt = new DataTransfer();
dt.items.add(file);
const input = document.querySelector('[data-testid=ocr-file-input]');
input.files = dt.files;
input.dispatchEvent(new Event('change', { bubbles: true }));
done(file.size);
"#;

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, tauri-driver and a keyring session; run with --include-ignored"]
async fn a_scanned_pdf_is_read_page_by_page_with_its_page_plan_one_request_a_page() {
    let key = fake_key("9df1");
    let w = reading_world(&key).await;
    // Two scanned pages: images, as a scanner makes them (tesseract puts each image on a page,
    // with its invisible OCR layer underneath, so the pages go to the model).
    let dir = w.dir.path();
    let mut list = String::new();
    for (i, text) in ["PAGE ONE 101", "PAGE TWO 202"].iter().enumerate() {
        let png = dir.join(format!("p{i}.png"));
        let ok = Command::new("convert")
            .args(["-size", "1000x300", "xc:white", "-font", "DejaVu-Sans"])
            .args(["-pointsize", "72", "-fill", "black"])
            .args(["-draw", &format!("text 40,180 '{text}'")])
            .arg(&png)
            .status()
            .expect("convert runs");
        assert!(ok.success());
        list.push_str(&format!("{}\n", png.display()));
    }
    std::fs::write(dir.join("pages.txt"), list).unwrap();
    let ok = Command::new("tesseract")
        .arg(dir.join("pages.txt"))
        .arg(dir.join("scan"))
        .arg("pdf")
        .output()
        .expect("tesseract runs");
    assert!(ok.status.success(), "the PDF was made");
    let pdf = dir.join("scan.pdf");
    let bytes = std::fs::read(&pdf).unwrap();
    w.client
        .execute_async(
            ATTACH_FILE,
            vec![json!(bytes), json!("scan.pdf"), json!("application/pdf")],
        )
        .await
        .unwrap();
    let plan = w
        .wait_text("[data-testid=pdf-plan]", "the page plan", |t| {
            t.contains("scan.pdf")
        })
        .await;
    assert!(
        plan.contains("2 pages") && plan.contains("vision model"),
        "plan: {plan}"
    );
    let quota = w
        .wait_text("[data-testid=ocr-plan]", "the quota plan", |t| {
            t.contains("2 requests")
        })
        .await;
    assert!(quota.contains("left today"), "{quota}");
    assert_eq!(w.mock.stats().total_requests, 0, "nothing sent before Read");
    let names = w
        .js(
            "return Array.from(document.querySelectorAll('[data-testid=ocr-item] .file')).map(e => e.textContent)",
            vec![],
        )
        .await;
    assert_eq!(
        names,
        json!(["scan.pdf (page 1)", "scan.pdf (page 2)"]),
        "one item per page"
    );
    w.click("[data-testid=ocr-start]").await;
    read_all(&w, 2, "both pages").await;
    let texts = w
        .js(
            "return Array.from(document.querySelectorAll('[data-testid=ocr-result]')).map(e => e.textContent.toUpperCase())",
            vec![],
        )
        .await;
    let texts: Vec<String> = serde_json::from_value(texts).unwrap();
    assert!(
        texts[0].contains("101") && texts[1].contains("202"),
        "{texts:?}"
    );
    assert_eq!(w.mock.stats().total_requests, 2, "one request a page");
    w.shot("ocr-pdf").await;
    w.end().await;
}

/// The test PostgreSQL server (`scripts/with-postgres.sh` sets it), or a panic that says how
/// to get one: the team-ledger test never skips.
fn test_pg_url() -> String {
    match std::env::var("KEYWHEEL_TEST_PG_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "KEYWHEEL_TEST_PG_URL is not set, so the team-ledger e2e test has no PostgreSQL \
             server: run the e2e tests under `bash scripts/with-postgres.sh …` (as `make test` \
             does; it installs Debian's postgresql when missing and starts a private server), \
             or point KEYWHEEL_TEST_PG_URL at a server where this role may create databases"
        ),
    }
}

/// A client of the test server at `url`, and the task driving its connection.
async fn pg_client(url: &str) -> (tokio_postgres::Client, tokio::task::JoinHandle<()>) {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("the test PostgreSQL server cannot be reached: {e}"));
    let task = tokio::spawn(async move {
        let _ = conn.await;
    });
    (client, task)
}

/// The team ledger's instance rows, one line each (what a failed wait on the live count
/// prints: which instance was still beating, and from which process).
async fn pg_instances(url: &str) -> Vec<String> {
    let (client, task) = pg_client(url).await;
    let rows = client
        .query(
            "SELECT format('%s pid %s %s on %s, started %s, beat %s, now %s', id, pid, kind,
                           host, started_ms, heartbeat_ms,
                           (extract(epoch FROM now()) * 1000)::bigint)
             FROM instances ORDER BY started_ms",
            &[],
        )
        .await
        .map(|rows| rows.iter().map(|r| r.get::<_, String>(0)).collect())
        .unwrap_or_else(|e| vec![format!("the instances could not be read: {e}")]);
    drop(client);
    let _ = task.await;
    rows
}

/// Runs SQL on the test server (its maintenance database, or `db`).
async fn pg_exec(url: &str, sql: &str) {
    let (client, task) = pg_client(url).await;
    client
        .batch_execute(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    drop(client);
    let _ = task.await;
}

/// A fresh database on the test server: its name and URL (the URL holds the test role's
/// password: never print it).
async fn team_database() -> (String, String) {
    let base = test_pg_url();
    let name = format!("kw_e2e_{:016x}", rand::random::<u64>());
    pg_exec(&base, &format!("CREATE DATABASE {name}")).await;
    let (root, _) = base.rsplit_once('/').expect("a URL with a database");
    (name.clone(), format!("{root}/{name}"))
}

/// The part of a postgres URL people may see: `host:port`.
fn host_port(url: &str) -> String {
    let after = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = after.split(['/', '?']).next().unwrap_or_default();
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, h)| h)
        .to_string()
}

/// The password in a postgres URL, if any.
fn url_password(url: &str) -> Option<String> {
    let after = url.split_once("://")?.1;
    let userinfo = after.split(['/', '?']).next()?.rsplit_once('@')?.0;
    userinfo
        .split_once(':')
        .map(|(_, p)| p.to_string())
        .filter(|p| !p.is_empty())
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, tauri-driver, a keyring session and PostgreSQL; run with --include-ignored"]
async fn on_a_team_ledger_usage_shows_the_machines_live_and_settings_names_the_ledger() {
    let (db, url) = team_database().await;
    let location = format!("{}/{db}", host_port(&url));
    let key = fake_key("7ea1");
    let mut env = env_keys(&[&key]);
    env.push(("KEYWHEEL_LEDGER_URL", url.clone()));
    env.push(("KEYWHEEL_MACHINE", "e2e-laptop".into()));
    for (theme, gtk) in [("light", "Adwaita"), ("dark", "Adwaita:dark")] {
        let mut env = env.clone();
        env.push(("GTK_THEME", gtk.into()));
        let w = World::start(MockConfig::default(), &env).await;
        // Another machine on the same team ledger: one live instance whose heartbeat the test
        // keeps fresh (the server's clock) while it looks.
        let beat = "INSERT INTO instances (id, pid, kind, started_ms, heartbeat_ms, host)
             VALUES ('e2e-build', 4242, 'cli', (extract(epoch FROM now()) * 1000)::bigint,
                     (extract(epoch FROM now()) * 1000)::bigint, 'build-server')
             ON CONFLICT (id) DO UPDATE SET heartbeat_ms = EXCLUDED.heartbeat_ms";
        pg_exec(&url, beat).await;

        w.click("[data-testid=nav-usage]").await;
        // An instance of an earlier launch on this data dir (the light pass) may still be
        // live until its heartbeat ages out (the instance TTL); the view follows on its own.
        let want = format!("team ledger: {location} — 2 machines, 2 instances live");
        let deadline = Instant::now() + WAIT * 2;
        loop {
            pg_exec(&url, beat).await;
            let line = w.last_text("[data-testid=usage-team-line]").await;
            if line.as_deref() == Some(want.as_str()) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the Usage view never showed {want:?}; last: {line:?}, instances: {:?}, machines: {:?}",
                pg_instances(&url).await,
                w.js(
                    "return Array.from(document.querySelectorAll('[data-testid=usage-machine]'))\
                     .map(e => e.textContent);",
                    vec![],
                )
                .await
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let machines = w
            .js(
                "return Array.from(document.querySelectorAll('[data-testid=usage-machine]'))\
                 .map(e => e.textContent);",
                vec![],
            )
            .await;
        assert_eq!(
            machines,
            json!([
                "build-server: 1 instance live",
                "e2e-laptop: 1 instance live"
            ])
        );
        w.shot(&format!("usage-team-{theme}")).await;

        w.click("[data-testid=nav-keys]").await;
        let kind = w
            .wait_text(
                "[data-testid=settings-ledger-kind]",
                "the team ledger",
                |t| t.contains("Team ledger"),
            )
            .await;
        assert!(kind.contains(&location), "{kind}");
        let restart = w.last_text("[data-testid=settings-ledger-restart]").await;
        assert!(
            restart
                .as_deref()
                .is_some_and(|t| t.contains("Switching ledgers needs a restart")),
            "{restart:?}"
        );
        let cache = w
            .js(
                "return document.querySelector('[data-testid=settings-team-cache]').checked;",
                vec![],
            )
            .await;
        assert_eq!(cache, json!(false), "team_cache is off by default");
        let help = w
            .last_text("[data-testid=settings-team-cache-help]")
            .await
            .unwrap_or_default();
        assert!(help.contains("OCR text and answers"), "{help}");
        let page = w.page_text().await;
        if let Some(password) = url_password(&url) {
            assert!(
                !page.contains(&password),
                "the team ledger's password is in the page"
            );
        }
        assert!(
            !page.contains("postgres://"),
            "a database URL is in the page"
        );
        w.js(
            "document.querySelector('[data-testid=settings-ledger]').scrollIntoView();",
            vec![],
        )
        .await;
        w.shot(&format!("settings-ledger-{theme}")).await;
        w.end().await;
    }
    pg_exec(
        &test_pg_url(),
        &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
    )
    .await;
}
