# Keywheel — the two commands: `make run` and `make test`. Both install what they need.
SHELL := /bin/bash
CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: run test setup lint fmt bench

## Install system packages (as root) and fetch crates.
setup:
	@echo "==> checking system packages"
	@bash scripts/setup-system.sh
	@echo "==> fetching crates (cargo fetch --locked)"
	@$(CARGO) fetch --locked

## Build and run Keywheel. (Until the desktop app lands: the CLI's status view.)
run: setup
	@echo "==> building keywheel (release)"
	@$(CARGO) build --release --locked -p keywheel-cli
	@echo "==> keywheel status"
	@./target/release/keywheel status

## Every test: formatting, lints, then all Rust tests inside a private D-Bus session with an
## unlocked gnome-keyring (the real Secret Service).
test: setup lint
	@echo "==> running the test suite (real SQLite files, real processes, real gnome-keyring, mock HTTP on 127.0.0.1)"
	@KEYWHEEL_TEST_KEYCHAIN=1 bash scripts/with-keyring.sh \
		$(CARGO) test --workspace --locked --no-fail-fast

lint:
	@echo "==> cargo fmt --check"
	@$(CARGO) fmt --all -- --check
	@echo "==> cargo clippy -D warnings"
	@$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

fmt:
	@$(CARGO) fmt --all

## Benchmarks: ledger reservations vs a bare SQLite loop; the request path vs bare reqwest; image preparation.
bench: setup
	@$(CARGO) bench --locked -p keywheel-core --bench ledger
	@$(CARGO) bench --locked -p keywheel-core --bench request_path
	@$(CARGO) bench --locked -p keywheel-vision --bench prep
