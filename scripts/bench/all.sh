#!/usr/bin/env bash
# Every benchmark, one after the other, each printing its table; the output is also written
# to $BENCH_OUT (default bench-results.txt) with the date and the machine. The soak runs for
# SOAK_SECONDS (default 600), the fuzz targets FUZZ_SECONDS each (default 60; 0 skips them).
#
#   cargo build --release --workspace --bins && scripts/bench/all.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-10}
out=${BENCH_OUT:-bench-results.txt}
{
  echo "# Gatehouse benchmarks, $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo "# $(nproc) cores, $(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2}'), $(free -g | awk '/Mem:/ {print $2}') GiB"
  for script in skeleton accounts instructions storm oidc webhooks scale; do
    echo
    echo "## $script.sh $seconds"
    bash "scripts/bench/$script.sh" "$seconds"
  done
  echo
  echo "## crash.sh"
  bash scripts/bench/crash.sh
  echo
  echo "## soak.sh ${SOAK_SECONDS:-600}"
  bash scripts/bench/soak.sh "${SOAK_SECONDS:-600}"
  if [ "${FUZZ_SECONDS:-60}" != 0 ]; then
    echo
    echo "## fuzz.sh ${FUZZ_SECONDS:-60}"
    bash scripts/bench/fuzz.sh "${FUZZ_SECONDS:-60}"
  fi
} 2>&1 | tee "$out"
