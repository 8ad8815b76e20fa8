#!/usr/bin/env bash
# Runs a command with a private PostgreSQL server for its lifetime, its URL in
# KEYWHEEL_TEST_PG_URL (the team-ledger tests read it; docs/team.md). Installs Debian's
# `postgresql` package first when it is missing (root). The server is stopped by its pid when
# the command ends, and its directory removed. An URL already set is used as it is.
set -euo pipefail
if [ -n "${KEYWHEEL_TEST_PG_URL:-}" ]; then exec "$@"; fi
here=$(cd "$(dirname "$0")" && pwd)
bash "$here/pg.sh" install
dir=$(mktemp -d /tmp/keywheel-pg.XXXXXX)
cleanup() { bash "$here/pg.sh" stop "$dir"; rm -rf "$dir"; }
trap cleanup EXIT
KEYWHEEL_TEST_PG_URL=$(bash "$here/pg.sh" start "$dir")
export KEYWHEEL_TEST_PG_URL
set +e
"$@"
status=$?
set -e
exit "$status"
