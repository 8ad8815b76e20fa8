#!/usr/bin/env bash
# Runs a command inside a private D-Bus session with an unlocked gnome-keyring, so key storage
# is tested against a real Secret Service. A fresh XDG_DATA_HOME keeps a stale login keyring
# (with another password) from leaving the collection locked.
set -euo pipefail
if [ "${KEYWHEEL_IN_KEYRING:-}" = 1 ]; then exec "$@"; fi
exec dbus-run-session -- bash -euo pipefail -c '
  export XDG_DATA_HOME="$(mktemp -d)"
  export $(printf "%s" "keywheel-test" | gnome-keyring-daemon --unlock --components=secrets)
  export KEYWHEEL_IN_KEYRING=1
  "$@"
' keyring-session "$@"
