#!/usr/bin/env bash
# Session checks during a sign-in storm: GET /api/v1/auth/session latency (p50/p99) alone, and
# while other clients sign in as fast as the server lets them (every password check is an
# argon2id hash on the bounded hashing pool, one thread fewer than the cores). Target: p99 <= 5 ms.
# The session checks run on a closed loop of 4 connections (a busy campus app, not a flood:
# a flood would measure queueing behind itself, not behind the sign-ins).
#
#   cargo build --release && scripts/bench/storm.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/lib.sh
bench_need_wrk
seconds=${1:-10}
target=${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}
binary=${BENCH_BINARY:-$target/release/gatehouse}
work=$(mktemp -d)
trap 'bench_stop; rm -rf "$work"' EXIT

GATEHOUSE_STORAGE__DATA_DIR="$work/data" "$binary" campus add --name Bench --domain bench.edu >/dev/null
bench_start "$binary" "$work/data" GATEHOUSE_CAPTCHA__ENABLED=false
password=Sign-In-Flood-42
bench_verified_user "$BENCH_URL" "$work/data" storm@bench.edu "$password"
cookie=$(bench_login_cookie "$BENCH_URL" storm@bench.edu "$password")
cat >"$work/login.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"email":"storm@bench.edu","password":"$password"}'
LUA

# wrk --latency prints "99%  1.23ms" (or us/s); in milliseconds.
percentile_ms() {
  awk -v p="$1" '$1 == p {v = $2; if (v ~ /us$/) {sub(/us$/, "", v); v /= 1000} else if (v ~ /ms$/) {sub(/ms$/, "", v)} else if (v ~ /s$/) {sub(/s$/, "", v); v *= 1000}; printf "%.2f", v}'
}
session_run() {
  wrk -t1 -c4 -d"${seconds}s" --latency -H "Cookie: gatehouse_session=$cookie" \
    "$BENCH_URL/api/v1/auth/session"
}

quiet=$(session_run)
wrk -t2 -c16 -d"$((seconds + 2))s" -s "$work/login.lua" "$BENCH_URL/api/v1/auth/login" >"$work/storm.txt" &
storm=$!
sleep 1
busy=$(session_run)
wait "$storm"

printf '%-46s %12s\n' "measure" "value"
printf '%-46s %12s\n' "session checks/s, quiet" "$(awk '/Requests\/sec/ {print $2}' <<<"$quiet")"
printf '%-46s %12s\n' "session check p50 ms, quiet" "$(percentile_ms 50% <<<"$quiet")"
printf '%-46s %12s\n' "session check p99 ms, quiet" "$(percentile_ms 99% <<<"$quiet")"
printf '%-46s %12s\n' "sign-ins/s during the storm (16 clients)" "$(awk '/Requests\/sec/ {print $2}' "$work/storm.txt")"
printf '%-46s %12s\n' "session checks/s, during the storm" "$(awk '/Requests\/sec/ {print $2}' <<<"$busy")"
printf '%-46s %12s\n' "session check p50 ms, during the storm" "$(percentile_ms 50% <<<"$busy")"
printf '%-46s %12s\n' "session check p99 ms, storm (target <= 5)" "$(percentile_ms 99% <<<"$busy")"
