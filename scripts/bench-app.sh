#!/usr/bin/env bash
# `make bench-app`: builds the UI and both release binaries (the app and the empty-window
# baseline, same crate, profile and features), then runs scripts/bench-app.py under Xvfb inside
# a private D-Bus session, so no autolaunched dbus-daemon / at-spi bus is left behind.
# Extra arguments go to the Python script (e.g. `--runs 5`).
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO="${CARGO:-cargo}"

# `make bench-app` has installed the npm packages and built ui/dist (only if it changed).
[ -f ui/dist/index.html ] || { echo "bench-app: build the UI first (make ui)" >&2; exit 1; }

echo "==> building keywheel-app and keywheel-empty-window (release, custom-protocol)"
"$CARGO" build --release --locked -p keywheel-app --features custom-protocol --bins

target_dir="$("$CARGO" metadata --format-version 1 --no-deps --locked \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"

echo "==> benchmarking under Xvfb (1280x800x24) in a private D-Bus session"
exec dbus-run-session -- xvfb-run -a -s "-screen 0 1280x800x24" \
  python3 scripts/bench-app.py \
  "$target_dir/release/keywheel-app" "$target_dir/release/keywheel-empty-window" "$@"
