#!/usr/bin/env bash
# Runs one stage of `make test` / `make run`: says what it is doing, runs it, and prints its
# own wall time (and appends it to target/stage-times.txt, which `make test` prints at the end).
#   bash scripts/stage.sh "Rust tests" cargo test --workspace
set -uo pipefail
name=$1
shift
echo "==> $name"
start=$(date +%s.%N)
"$@"
status=$?
end=$(date +%s.%N)
secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
mkdir -p target
printf '%8s s  %s%s\n' "$secs" "$name" "$([ "$status" -eq 0 ] || echo "  (FAILED, exit $status)")" >> target/stage-times.txt
echo "==> $name: ${secs} s"
exit "$status"
