#!/usr/bin/env bash
# Dependency checks: cargo deny (advisories, licenses, bans, sources) against the vendored
# RustSec snapshot (deny/README.md), then npm audit of the UI's runtime dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.tools/bin:$PATH"

if ! command -v cargo-deny >/dev/null; then
  echo "deny: installing cargo-deny 0.20.2 into .tools (a few minutes, once)"
  # --debug: a third of the release build's compile time on a cold machine; these tools are
  # not hot (cargo-deny's check takes ~15 s instead of ~5 s).
  cargo install cargo-deny --locked --debug --version 0.20.2 --root "$PWD/.tools" --quiet
fi

# cargo-deny wants a git checkout named after the database URL; build it from the snapshot.
read -r rev date < deny/advisory-db/SNAPSHOT
db=target/advisory-dbs/advisory-db-3157b0e258782691
if [ "$(cat "$db/.snapshot" 2>/dev/null)" != "$rev" ]; then
  rm -rf "$db"
  mkdir -p "$db"
  cp -r deny/advisory-db/crates deny/advisory-db/LICENSE.txt "$db/"
  git -C "$db" init -q
  git -C "$db" add -A
  GIT_AUTHOR_DATE="$date" GIT_COMMITTER_DATE="$date" \
    git -C "$db" -c user.name=snapshot -c user.email=snapshot@localhost commit -qm "advisory-db $rev"
  echo "$rev" > "$db/.snapshot"
fi
echo "==> cargo deny check (advisory snapshot ${rev:0:12} of ${date%%T*})"
# Errors only: duplicate versions (through Tauri's and image's trees) are warnings, hundreds of lines.
cargo deny --log-level error --offline --locked check advisories licenses bans sources

echo "==> npm audit --omit=dev (ui/)"
# Findings fail the check. A registry that refuses npm's audit endpoint (the mirror on these
# machines answers POST …/advisories/bulk with 405) cannot be asked: say so and go on.
set +e
out=$(npm --prefix ui audit --omit=dev 2>&1)
rc=$?
set -e
echo "$out" | grep -v "^npm error A complete log" || true
if [ $rc -ne 0 ]; then
  if echo "$out" | grep -q "405 Method Not Allowed"; then
    echo "npm audit: SKIPPED — this registry refuses the audit endpoint (HTTP 405); the runtime packages are:"
    npm --prefix ui ls --omit=dev --all --parseable 2>/dev/null | sed -n 's|.*/node_modules/||p' | sort -u | sed 's/^/  /'
  else
    exit $rc
  fi
fi
