#!/usr/bin/env bash
# Installs the non-apt tools: checks Node.js (Vite 8 needs 20.19+), installs the UI's npm
# packages from the lockfile when they changed, and tauri-driver (the WebDriver bridge for the
# end-to-end tests) into ./.tools. Safe to run again: each step skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "setup: Node.js 20.19+ and npm are needed for the UI; install them (e.g. from nodejs.org or" >&2
  echo "setup: the NodeSource Debian repository) and run this again" >&2
  exit 1
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "setup: Node.js $(node --version) is too old for the UI build (Vite 8 needs 20.19+); upgrade it" >&2
  exit 1
fi

stamp=ui/node_modules/.keywheel-lock
if [ ! -f "$stamp" ] || ! cmp -s ui/package-lock.json "$stamp"; then
  echo "setup: installing the UI's npm packages (npm ci)"
  npm ci --prefix ui --no-audit --no-fund --loglevel=error
  cp ui/package-lock.json "$stamp"
else
  echo "setup: npm packages already installed"
fi

if [ ! -x .tools/bin/tauri-driver ]; then
  echo "setup: installing tauri-driver 2.1.0 into .tools (about a minute)"
  # --debug: a third of the release build's compile time on a cold machine; these tools are
  # not hot (cargo-deny's check takes ~15 s instead of ~5 s).
  cargo install tauri-driver --locked --debug --version 2.1.0 --root "$PWD/.tools" --quiet
else
  echo "setup: tauri-driver already installed"
fi
