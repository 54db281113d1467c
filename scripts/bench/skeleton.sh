#!/usr/bin/env bash
# Skeleton figures: binary size, start-up time, idle RSS, and /health vs an /api path
# throughput, for the default release build and (when built) the static build, measured in one
# run so that the ratios compare like with like on a shared, noisy machine.
#
#   cargo build --release && scripts/build-static.sh && scripts/bench/skeleton.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/lib.sh
bench_need_wrk
seconds=${1:-10}
target=${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}
binaries=("default:$target/release/gatehouse")
[ -x "$target/x86_64-unknown-linux-gnu/dist/gatehouse" ] &&
  binaries+=("static:$target/x86_64-unknown-linux-gnu/dist/gatehouse")

printf '%-8s %10s %12s %10s %14s %14s %8s\n' build size start_ms rss_kib health_rps api404_rps ratio
for entry in "${binaries[@]}"; do
  name=${entry%%:*} binary=${entry#*:}
  work=$(mktemp -d)
  size=$(du -h "$binary" | cut -f1)
  # Start-up: from exec to the first healthy answer, on an already-migrated data directory.
  bench_start "$binary" "$work/data" && bench_stop
  started=$(date +%s%N)
  bench_start "$binary" "$work/data"
  start_ms=$(( ($(date +%s%N) - started) / 1000000 ))
  sleep 1
  rss=$(bench_rss_kib "$BENCH_PID")
  health=$(bench_rps "$BENCH_URL/health" "$seconds")
  api=$(bench_rps "$BENCH_URL/api/v1/bench-missing" "$seconds")
  ratio=$(awk -v a="$api" -v h="$health" 'BEGIN {printf "%.2f", a / h}')
  bench_stop
  printf '%-8s %10s %12s %10s %14s %14s %8s\n' "$name" "$size" "$start_ms" "$rss" "$health" "$api" "$ratio"
  rm -rf "$work"
done
