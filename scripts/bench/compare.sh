#!/usr/bin/env bash
# Compares release builds of gatehouse in one run, for the figures a build setting can move:
# idle RSS (3 s after start, empty data dir), GET /health and GET /api/v1/auth/session (cookie)
# req/s, and their ratio (target: 0.80 or more). Each round measures every binary, in reverse
# order every other round, and the table prints each binary's medians over the rounds: on a
# shared 2-core machine one measurement is noise, alternating rounds are not.
#
#   scripts/bench/compare.sh SECONDS ROUNDS BINARY [BINARY ...]
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/lib.sh
bench_need_wrk
[ $# -ge 3 ] || { echo "usage: $0 SECONDS ROUNDS BINARY [BINARY ...]" >&2; exit 2; }
seconds=$1 rounds=$2; shift 2
binaries=("$@")
work=$(mktemp -d)
trap 'bench_stop; rm -rf "$work"' EXIT

# measure BINARY: prints "rss health session" for one fresh server.
measure() {
  local data="$work/data-$RANDOM$RANDOM"
  GATEHOUSE_STORAGE__DATA_DIR="$data" "$1" campus add --name Bench --domain bench.edu >/dev/null
  bench_start "$1" "$data"
  sleep 3
  local rss; rss=$(bench_rss_kib "$BENCH_PID")
  local cookie; cookie=$(bench_signed_in_cookie "$BENCH_URL" "$data" bench@bench.edu Correct-Horse-42)
  local health; health=$(bench_rps "$BENCH_URL/health" "$seconds")
  local session
  session=$(wrk -t2 -c32 -d"${seconds}s" -H "Cookie: gatehouse_session=$cookie" \
    "$BENCH_URL/api/v1/auth/session" | awk '/Requests\/sec/ {print $2}')
  local status
  status=$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: gatehouse_session=$cookie" \
    "$BENCH_URL/api/v1/auth/session")
  [ "$status" = 200 ] || { echo "session check answered $status with $1" >&2; exit 1; }
  bench_stop
  BENCH_PID=""
  rm -rf "$data" "$data.out"
  echo "$rss $health $session"
}

for round in $(seq 1 "$rounds"); do
  order=("${binaries[@]}")
  if [ $((round % 2)) = 0 ]; then
    order=()
    for ((i = ${#binaries[@]} - 1; i >= 0; i--)); do order+=("${binaries[$i]}"); done
  fi
  for binary in "${order[@]}"; do
    read -r rss health session < <(measure "$binary")
    echo "$binary $rss $health $session" >>"$work/results"
    printf 'round %s  %-40s rss %6s KiB  health %9s  session %9s\n' \
      "$round" "$binary" "$rss" "$health" "$session" >&2
  done
done

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
printf '%-40s %10s %10s %10s %10s %10s\n' binary "RSS KiB" "health/s" "session/s" "ratio" "ratio*"
for binary in "${binaries[@]}"; do
  rows=$(awk -v b="$binary" '$1 == b' "$work/results")
  rss=$(awk '{print $2}' <<<"$rows" | median)
  health=$(awk '{print $3}' <<<"$rows" | median)
  session=$(awk '{print $4}' <<<"$rows" | median)
  ratio=$(awk -v a="$session" -v b="$health" 'BEGIN {printf "%.3f", a / b}')
  per_round=$(awk '{printf "%.4f\n", $4 / $3}' <<<"$rows" | median)
  printf '%-40s %10s %10s %10s %10s %10.3f\n' "$binary" "$rss" "$health" "$session" "$ratio" "$per_round"
done
echo "ratio: median session / median health; ratio*: median of the per-server ratios"
