#!/usr/bin/env bash
# Session checks during a sign-in storm, measured together in one run:
#   - the machine's argon2id rate (every core hashing, normal priority: tools' argon2_rate);
#   - session checks (GET /api/v1/auth/session) at a fixed arrival rate, quiet and while 16
#     clients sign in as fast as the server lets them. The checks come from an open-loop
#     generator (tools' open_loop): each request is sent when it is due, whatever earlier
#     ones take, and its latency counts from then, so a stall shows in every request it
#     delayed (no coordinated omission, unlike wrk's closed loop);
#   - sign-ins per second, alone and during the checks, against the argon2id rate (measured
#     before and after the server's runs; their mean is the machine's rate).
# Targets: sign-ins >= 0.85 of the argon2id rate while p99 of session checks <= 5 ms. The
# checks take CPU of their own (the server's and the generator's, both above the hashing
# threads' priority), so the ratio during them is lower the higher CHECKS_PER_SECOND is.
#
#   cargo build --release --workspace && scripts/bench/storm.sh [SECONDS] [CHECKS_PER_SECOND]
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/lib.sh
bench_need_wrk
seconds=${1:-10}
rate=${2:-1000}
target=${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}
binary=${BENCH_BINARY:-$target/release/gatehouse}
open_loop=$target/release/open_loop
[ -x "$open_loop" ] && [ -x "$target/release/argon2_rate" ] || {
  echo "build the tools first: cargo build --release -p gatehouse-tools" >&2
  exit 1
}
work=$(mktemp -d)
trap 'bench_stop; rm -rf "$work"' EXIT

argon2_before=$("$target/release/argon2_rate" "$seconds")

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

checks() {
  "$open_loop" "$BENCH_URL/api/v1/auth/session" "$rate" "$seconds" \
    "Cookie: gatehouse_session=$cookie"
}
figure() { awk -v k="$1" '$1 == k {print $2}' <<<"$2"; }

storm() {
  wrk -t1 -c16 -d"$1s" -s "$work/login.lua" "$BENCH_URL/api/v1/auth/login" |
    awk '/Requests\/sec/ {print $2}'
}

quiet=$(checks)
alone=$(storm "$seconds")
storm "$((seconds + 2))" >"$work/storm.txt" &
storm=$!
sleep 1
busy=$(checks)
wait "$storm"
sign_ins=$(cat "$work/storm.txt")
bench_stop
argon2_after=$("$target/release/argon2_rate" "$seconds")
argon2=$(awk -v a="$argon2_before" -v b="$argon2_after" 'BEGIN {printf "%.1f", (a + b) / 2}')
ratio() { awk -v a="$1" -v b="$argon2" 'BEGIN {printf "%.2f", a / b}'; }

printf '%-56s %12s\n' "measure" "value"
printf '%-56s %12s\n' "argon2id verifications/s, every core, before / after" "$argon2_before / $argon2_after"
printf '%-56s %12s\n' "session checks due per second (open loop)" "$rate"
printf '%-56s %12s\n' "session check p50 ms, quiet" "$(figure p50_ms "$quiet")"
printf '%-56s %12s\n' "session check p99 ms, quiet" "$(figure p99_ms "$quiet")"
printf '%-56s %12s\n' "session check errors, quiet" "$(figure errors "$quiet")"
printf '%-56s %12s\n' "sign-ins/s alone (16 clients)" "$alone"
printf '%-56s %12s\n' "sign-ins alone / argon2id rate" "$(ratio "$alone")"
printf '%-56s %12s\n' "sign-ins/s during the checks" "$sign_ins"
printf '%-56s %12s\n' "sign-ins during the checks / argon2id (target >= 0.85)" "$(ratio "$sign_ins")"
printf '%-56s %12s\n' "session check p50 ms, storm" "$(figure p50_ms "$busy")"
printf '%-56s %12s\n' "session check p99 ms, storm (target <= 5)" "$(figure p99_ms "$busy")"
printf '%-56s %12s\n' "session check p99.9 ms, storm" "$(figure p999_ms "$busy")"
printf '%-56s %12s\n' "session check max ms, storm" "$(figure max_ms "$busy")"
printf '%-56s %12s\n' "session check errors, storm" "$(figure errors "$busy")"
