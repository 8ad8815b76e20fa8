#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo-fuzz / libFuzzer) of the four targets in fuzz/: the SSE
# decoder, error classification, image preparation, the config parser. Runs each for a share
# of a bounded total time and prints its executions and coverage; any crash, timeout or
# out-of-memory input fails the run (it is left in fuzz/artifacts/<target>/).
#
#   bash scripts/fuzz.sh [TOTAL_SECONDS]      # default 60 (make test); make fuzz gives more
#
# Stable toolchain: cargo-fuzz needs a few unstable rustc flags (sanitizer coverage), which
# RUSTC_BOOTSTRAP=1 allows on stable; `-s none` builds without AddressSanitizer (Rust code is
# memory-safe; what is hunted here is panics, hangs and memory blow-ups).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.tools/bin:$PATH"
total=${1:-${FUZZ_SECONDS:-60}}
targets=(sse_decoder classify image_prepare config)
each=$(( total / ${#targets[@]} ))
[ "$each" -ge 1 ] || each=1

if ! command -v cargo-fuzz >/dev/null; then
  echo "fuzz: installing cargo-fuzz 0.13.2 into .tools (about a minute, once)"
  # --debug: a third of the release build's compile time on a cold machine; these tools are
  # not hot (cargo-deny's check takes ~15 s instead of ~5 s).
  cargo install cargo-fuzz --locked --debug --version 0.13.2 --root "$PWD/.tools" --quiet
fi

export RUSTC_BOOTSTRAP=1
fuzz=(cargo fuzz run -s none -O --target-dir target/fuzz)
echo "==> fuzz: building the targets (instrumented release build; the first one takes minutes)"
cargo fuzz build -s none -O --target-dir target/fuzz

status=0
for t in "${targets[@]}"; do
  # New inputs go to target/, so the committed corpus (fuzz/corpus/) stays small.
  work="target/fuzz-corpus/$t"
  mkdir -p "$work" "fuzz/artifacts/$t"
  log="target/fuzz-corpus/$t.log"
  set +e
  "${fuzz[@]}" "$t" "$work" "fuzz/corpus/$t" -- \
    -max_total_time="$each" -timeout=10 -rss_limit_mb=1024 -malloc_limit_mb=1024 \
    -max_len=65536 -print_final_stats=1 -artifact_prefix="fuzz/artifacts/$t/" >"$log" 2>&1
  rc=$?
  set -e
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[^ ]+' "$log" | tail -1)
  if [ $rc -eq 0 ]; then
    echo "fuzz $t: ${runs:-?} executions in ${each} s; ${cov:-no coverage line}; 0 crashes"
  else
    status=1
    echo "fuzz $t: FAILED (exit $rc) after ${runs:-?} executions; ${cov:-}" >&2
    grep -E 'panicked|ERROR|SUMMARY|Test unit written' "$log" | head -20 >&2
  fi
done
exit $status
