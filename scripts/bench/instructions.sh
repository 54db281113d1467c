#!/usr/bin/env bash
# Instructions per request, counted by valgrind's callgrind: the repeatable figure behind the
# throughput ratios, unmoved by whatever else a shared machine is doing (the same binary and
# inputs count the same). Measures, with wrk -t1 -c4 for SECONDS each:
#   - GET /health and GET /api/v1/auth/session (cookie) on a server with the limits off;
#   - GET /api/v1/auth/session on a server with the limits on (set high enough never to
#     refuse): the rate-limit layer's cost.
# Counts are of the server's own user-space code on every thread, from the first request of a
# run to the last; the kernel's socket work and wrk's are not counted. Those are about the
# same for every endpoint, so a throughput ratio (compare.sh, abuse.sh) is nearer 1 than the
# instruction ratio printed here. Under valgrind SHA-256 runs in software (valgrind hides
# the CPU's SHA extensions), which adds about 3,000 instructions to each session check.
#
#   scripts/bench/instructions.sh [SECONDS] [BINARY]
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/lib.sh
bench_need_wrk
command -v valgrind >/dev/null || { echo "valgrind is needed (Debian package valgrind)" >&2; exit 1; }
seconds=${1:-8}
binary=${2:-${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}/release/gatehouse}
work=$(mktemp -d)
vg=""
trap '[ -n "$vg" ] && kill -TERM "$vg" 2>/dev/null; bench_stop; rm -rf "$work"' EXIT

# A campus, a verified user and a signed-in session, made by a normal server.
GATEHOUSE_STORAGE__DATA_DIR="$work/data" "$binary" campus add --name Bench --domain bench.edu >/dev/null
bench_start "$binary" "$work/data"
cookie=$(bench_signed_in_cookie "$BENCH_URL" "$work/data" bench@bench.edu Correct-Horse-42)
bench_stop
BENCH_PID=""

# count NAME PATH [HEADER]: runs wrk against the server under callgrind with counting on and
# prints "NAME requests instructions".
count() {
  local name=$1 path=$2; shift 2
  callgrind_control -z "$vg" >/dev/null 2>&1
  callgrind_control -i on "$vg" >/dev/null 2>&1
  local requests
  requests=$(wrk -t1 -c4 -d"${seconds}s" "$@" "$url$path" | awk '/requests in/ {print $1}')
  callgrind_control -i off "$vg" >/dev/null 2>&1
  callgrind_control -d "$name" "$vg" >/dev/null 2>&1
  local file
  for _ in $(seq 1 100); do
    file=$(grep -l "^desc: Trigger: dump $name\$" "$work"/callgrind.out.* 2>/dev/null | head -n1 || true)
    [ -n "$file" ] && break
    sleep 0.1
  done
  echo "$name $requests $(awk '/^totals:/ {print $2}' "$file")"
}

# serve LIMITS: the same data directory under callgrind, counting off until asked; sets vg, url.
serve() {
  local port; port=$(bench_free_port)
  url="http://127.0.0.1:$port"
  (cd "$work" && exec env MALLOC_ARENA_MAX=2 GATEHOUSE_RATE_LIMIT__ENABLED="$1" \
    GATEHOUSE_RATE_LIMIT__AUTHENTICATED_PER_MINUTE=1000000000 GATEHOUSE_CAPTCHA__ENABLED=false \
    GATEHOUSE_STORAGE__DATA_DIR="$work/data" GATEHOUSE_SERVER__LISTEN="127.0.0.1:$port" \
    GATEHOUSE_LOG__LEVEL=warn valgrind --tool=callgrind --instr-atstart=no "$binary" serve \
    >"$work/valgrind-$1.log" 2>&1) &
  vg=$!
  for _ in $(seq 1 600); do curl -fsS "$url/health" >/dev/null 2>&1 && break; sleep 0.1; done
  # Warm: the caches hold the session and the user before counting starts.
  for _ in 1 2 3; do
    curl -fsS -H "Cookie: gatehouse_session=$cookie" "$url/api/v1/auth/session" >/dev/null
    curl -fsS "$url/health" >/dev/null
  done
}

# The valgrind process is a child of the subshell's exec: the pid is valgrind's own.
serve false
count health /health >>"$work/results"
count session /api/v1/auth/session -H "Cookie: gatehouse_session=$cookie" >>"$work/results"
status=$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: gatehouse_session=$cookie" "$url/api/v1/auth/session")
[ "$status" = 200 ] || { echo "the session check answered $status" >&2; exit 1; }
kill -TERM "$vg"; wait "$vg" 2>/dev/null || true
serve true
count session_limited /api/v1/auth/session -H "Cookie: gatehouse_session=$cookie" >>"$work/results"
kill -TERM "$vg"; wait "$vg" 2>/dev/null || true
vg=""

python3 - "$work/results" <<'PY'
import sys
rows = {}
for line in open(sys.argv[1]):
    name, requests, total = line.split()
    rows[name] = (int(requests), int(total))
per = {name: total / requests for name, (requests, total) in rows.items()}
print("Instructions per request (callgrind; server user space, all threads; wrk -t1 -c4)")
print(f"  {'request':<44}{'requests':>10}{'instructions':>16}")
labels = {
    "health": "GET /health",
    "session": "GET /api/v1/auth/session, limits off",
    "session_limited": "GET /api/v1/auth/session, limits on",
}
for name, label in labels.items():
    print(f"  {label:<44}{rows[name][0]:>10,}{per[name]:>16,.0f}")
print(f"  {'health / session (instructions)':<44}{per['health'] / per['session']:>26.3f}")
print(f"  {'limits off / on (instructions)':<44}{per['session'] / per['session_limited']:>26.3f}")
print(f"  {'the rate-limit layer, per check':<44}{per['session_limited'] - per['session']:>26,.0f}")
PY
