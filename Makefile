# Keywheel — the two commands: `make run` and `make test`. Both install what they need.
SHELL := /bin/bash
CARGO ?= cargo
export CARGO_TERM_COLOR ?= never
export PATH := $(CURDIR)/.tools/bin:$(PATH)
XVFB := xvfb-run -a -s "-screen 0 1280x800x24"

.PHONY: run test setup ui lint fmt bench bench-app bindings fuzz deny
STAGE := bash scripts/stage.sh

## Install system packages (as root), the UI's npm packages, tauri-driver; fetch crates.
setup:
	@echo "==> checking system packages"
	@bash scripts/setup-system.sh
	@echo "==> checking tools (Node.js, npm packages, tauri-driver)"
	@bash scripts/setup-tools.sh
	@echo "==> Python venv and npm packages for the gateway's SDK tests (the official openai packages)"
	@bash scripts/setup-python.sh
	@echo "==> fetching crates (cargo fetch --locked)"
	@$(CARGO) fetch --locked

## Build the UI (ui/dist, embedded into the app at compile time). Only when its sources
## changed: cargo tracks the embedded files, so a needless rebuild would relink the app.
UI_SOURCES := $(shell find ui/src ui/public -type f 2>/dev/null) ui/index.html ui/vite.config.ts \
	ui/svelte.config.js ui/tsconfig.json ui/package-lock.json
ui: ui/dist/index.html
ui/dist/index.html: $(UI_SOURCES)
	@echo "==> building the UI (vite)"
	@npm --prefix ui run build --silent
	@touch $@

## Build and open the desktop app.
run: setup ui
	@echo "==> building the desktop app (release; the first build takes several minutes)"
	@$(CARGO) build --release --locked -p keywheel-app --features custom-protocol
	@if [ -z "$${DISPLAY:-}$${WAYLAND_DISPLAY:-}" ]; then \
		echo "make run: no display (DISPLAY is unset); run it from a desktop session, or try: xvfb-run make run" >&2; exit 1; fi
	@echo "==> starting Keywheel (target/release/keywheel-app)"
	@./target/release/keywheel-app

## The e2e stage selects its test with `--workspace --test e2e`, not `-p keywheel-app`: `-p` unifies
## dependency features for the app alone (hyper, hyper-util, futures-util come out different),
## which rebuilds everything above them; `--workspace` reuses the Rust-tests stage's build.
## Every test: formatting, lints, the UI's type check and unit tests, all Rust tests inside a
## private D-Bus session with an unlocked gnome-keyring, then the app end to end in its real
## WebKit window under Xvfb.
test: setup ui
	@rm -f target/stage-times.txt
	@$(STAGE) "cargo fmt --check" $(CARGO) fmt --all -- --check
	@$(STAGE) "cargo clippy -D warnings" $(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	@$(STAGE) "UI: svelte-check" npm --prefix ui run check --silent
	@$(STAGE) "UI: Vitest (mocked IPC)" npm --prefix ui test --silent
	@$(STAGE) "dependencies: cargo deny, npm audit" bash scripts/deny.sh
	@$(STAGE) "Rust tests (real SQLite files, a private PostgreSQL, real processes, real gnome-keyring, the openai SDKs, mock HTTP on 127.0.0.1)" \
		env KEYWHEEL_TEST_KEYCHAIN=1 bash scripts/with-postgres.sh bash scripts/with-keyring.sh \
		$(CARGO) test --workspace --locked --no-fail-fast
	@$(STAGE) "end to end: the app in its WebKit window (tauri-driver + WebKitWebDriver, Xvfb, keyring, a private PostgreSQL)" \
		bash scripts/with-postgres.sh bash scripts/with-keyring.sh $(XVFB) \
		$(CARGO) test --workspace --locked --test e2e -- --ignored --test-threads=1 --show-output
	@$(STAGE) "fuzzing (60 s in all, coverage-guided, stable toolchain)" bash scripts/fuzz.sh 60
	@echo "==> screenshots: target/e2e-screenshots/"
	@echo "==> wall time per stage:"; cat target/stage-times.txt

## Longer fuzzing (10 minutes in all; FUZZ_SECONDS=… for another budget).
fuzz:
	@bash scripts/fuzz.sh $${FUZZ_SECONDS:-600}

## cargo deny (advisories from the vendored RustSec snapshot, licenses, bans, sources), npm audit.
deny:
	@bash scripts/deny.sh

lint: ui
	@echo "==> cargo fmt --check"
	@$(CARGO) fmt --all -- --check
	@echo "==> cargo clippy -D warnings"
	@$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

fmt:
	@$(CARGO) fmt --all

## Regenerate ui/src/api/bindings.ts from the Rust types (the tests fail when it is stale).
bindings:
	@UPDATE_BINDINGS=1 $(CARGO) test --locked -p keywheel-app --lib bindings -- --quiet

## The app vs an empty Tauri window under Xvfb: first paint and PSS (a benchmark: a MISS still exits 0).
bench-app: setup ui
	@bash scripts/bench-app.sh

## Benchmarks: ledger reservations vs a bare SQLite loop; the request path vs bare reqwest; image preparation;
## process start; PDF pages rendered per second and a screen region to the clipboard (bench-capture.py);
## the whole `keywheel ocr photo.jpg` process vs Python + Pillow (bench-ocr-pillow.py).
bench: setup
	@$(CARGO) bench --locked -p keywheel-core --bench ledger
	@$(CARGO) bench --locked -p keywheel-core --bench request_path
	@bash scripts/with-postgres.sh $(CARGO) bench --locked -p keywheel-core --bench ledger_pg
	@$(CARGO) bench --locked -p keywheel-vision --bench prep
	@$(CARGO) bench --locked -p keywheel-gateway --bench gateway
	@$(CARGO) build --locked --release -p keywheel-cli -p keywheel-mock
	@python3 scripts/bench-start.py
	@python3 scripts/bench-capture.py
	@python3 scripts/bench-ocr-pillow.py

## The gateway end to end: the real `keywheel serve` over keywheel-mock, the Python and npm
## `openai` SDKs, and the four Python examples (examples/python); a private PostgreSQL for the
## team-ledger case (`team`).
.PHONY: test-gateway
test-gateway:
	@bash scripts/setup-python.sh
	@$(CARGO) build --locked -p keywheel-cli
	@bash scripts/with-postgres.sh $(CARGO) test --locked -p keywheel-gateway
