#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for a bounded time and prints a table of executions.
# Needs the nightly toolchain (rustup toolchain install nightly) and cargo-fuzz (installed here
# when missing). The code is `#![forbid(unsafe_code)]`, so the targets are built without a
# sanitizer (`-s none`): address sanitizing finds memory errors that safe Rust cannot make, and
# would cost most of the executions; panics, overflows (debug assertions on) and timeouts
# are what is looked for. Corpora are kept in fuzz/corpus/ (not committed); crashes land in
# fuzz/artifacts/<target>/ and fail the run.
#
#   scripts/bench/fuzz.sh [SECONDS_PER_TARGET] [TARGET ...]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
shift || true
export CARGO_TARGET_DIR=${FUZZ_TARGET_DIR:-$HOME/.cache/gatehouse-fuzz-target}
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz" >&2
  cargo +nightly install cargo-fuzz --locked
fi
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo +nightly fuzz list)
flags=(--sanitizer none --debug-assertions --release)
cargo +nightly fuzz build "${flags[@]}" >&2

printf '%-14s %8s %14s %10s %8s %8s\n' target seconds executions exec_per_s corpus result
failed=0
for t in "${targets[@]}"; do
  log=$(mktemp)
  mkdir -p "fuzz/corpus/$t"
  result=ok
  cargo +nightly fuzz run "${flags[@]}" "$t" -- -max_total_time="$seconds" -timeout=5 \
    -rss_limit_mb=1024 -print_final_stats=1 >"$log" 2>&1 || { result=CRASH; failed=1; }
  runs=$(awk '/stat::number_of_executed_units/ {print $NF}' "$log")
  rate=$(awk '/stat::average_exec_per_sec/ {print $NF}' "$log")
  corpus=$(find "fuzz/corpus/$t" -type f | wc -l)
  printf '%-14s %8s %14s %10s %8s %8s\n' "$t" "$seconds" "${runs:-?}" "${rate:-?}" "$corpus" "$result"
  if [ "$result" != ok ]; then grep -E -A20 'panicked|ERROR|SUMMARY' "$log" | head -40 >&2; fi
  rm -f "$log"
done
exit "$failed"
