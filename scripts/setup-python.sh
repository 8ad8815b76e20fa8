#!/usr/bin/env bash
# Creates the Python venv the gateway's SDK test and the Python examples use (.tools/venv) and
# installs examples/python/requirements.txt into it (the official `openai` package, pinned);
# installs the npm `openai` package for the gateway's JS SDK test from its lockfile. Safe to
# run again: each step is skipped when its lock/requirements file has not changed.
set -euo pipefail
cd "$(dirname "$0")/.."

py=${PYTHON:-python3}
if ! command -v "$py" >/dev/null; then
  echo "setup-python: Python 3.9+ is needed for the gateway's SDK test and examples/python; install python3 (Debian: apt install python3 python3-venv)" >&2
  exit 1
fi
venv=.tools/venv
req=examples/python/requirements.txt
stamp=$venv/.keywheel-requirements
if [ ! -x "$venv/bin/python" ]; then
  echo "setup-python: creating the venv $venv"
  "$py" -m venv "$venv" || {
    echo "setup-python: could not create a venv; install the venv module (Debian: apt install python3-venv)" >&2
    exit 1
  }
fi
if [ ! -f "$stamp" ] || ! cmp -s "$req" "$stamp"; then
  echo "setup-python: installing $req into $venv (pip)"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
  cp "$req" "$stamp"
else
  echo "setup-python: Python packages already installed"
fi

js=crates/keywheel-gateway/tests/js
jstamp=$js/node_modules/.keywheel-lock
if [ ! -f "$jstamp" ] || ! cmp -s "$js/package-lock.json" "$jstamp"; then
  echo "setup-python: installing the gateway test's npm packages (npm ci in $js)"
  npm ci --prefix "$js" --no-audit --no-fund --loglevel=error
  cp "$js/package-lock.json" "$jstamp"
else
  echo "setup-python: gateway test npm packages already installed"
fi
