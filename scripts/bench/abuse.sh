#!/usr/bin/env bash
# Abuse-protection figures (the rate limits per client address, per account and per user),
# measured in one run:
#   - the overhead of the rate-limit layer: GET /api/v1/auth/session with session cookies on
#     two servers, one with the limits on (set high enough never to refuse) and one with them
#     off, measured alternately (ROUNDS runs each, default 10); the ratio of the medians
#     (target: 0.95 or more), the median of the rounds' own ratios, and the same ratio by the
#     server's CPU time per request. Twice: with one user's cookie (every
#     request counts against one limiter key, whose state both server threads update: the
#     worst case) and with USERS users' cookies in turn (default 32; a campus app's traffic,
#     one key per user);
#   - memory under an address-spraying attack: a server with the default limits and
#     trusted_proxies = 127.0.0.1 gets requests from 10,000 and then 100,000 distinct client
#     addresses (X-Forwarded-For). Each is a sign-in-class request (a made-up email link
#     token), which creates a key in three tiers: per address, per (address, account) and
#     anonymous. RSS at start, after 10,000 and after 100,000 addresses.
#
#   - the cost of one limiter check in-process (tools/src/bin/ratelimit_bench.rs): one hot key,
#     a new key per check, a refused check.
#
#   cargo build --release --workspace --bins && scripts/bench/abuse.sh [SECONDS]
# (BENCH_BIN picks another binary; SMALL and LARGE change the address counts; USERS the
# number of signed-in users of the second overhead measurement. PIN=1 runs the
# two servers on CPU 1 and wrk, with one thread, on CPU 0: the layer's cost without the
# load generator and the server competing for the same cores. AA=1 turns the limits off on
# the "on" server too: a control, showing how far two server processes differ alone.)
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/lib.sh
bench_need_wrk
seconds=${1:-8}
target=${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}
binary=${BENCH_BIN:-$target/release/gatehouse}
small=${SMALL:-10000} large=${LARGE:-100000}
work=$(mktemp -d)
trap 'bench_stop_all; rm -rf "$work"' EXIT
start() { bench_start_campus "$work" "$binary" "$@"; } # start NAME [ENV=VALUE ...]

# 1. The rate-limit layer's overhead.
# (The sign-in tiers are raised too, so that the users can sign up and in from one address.)
on_limits=true
[ "${AA:-0}" = 1 ] && on_limits=false # the control run: limits off on both servers
start on GATEHOUSE_RATE_LIMIT__ENABLED=$on_limits GATEHOUSE_RATE_LIMIT__AUTHENTICATED_PER_MINUTE=4000000000 \
  GATEHOUSE_RATE_LIMIT__ANONYMOUS_PER_IP=4000000000 GATEHOUSE_RATE_LIMIT__AUTH_PER_IP=4000000000 \
  GATEHOUSE_RATE_LIMIT__AUTH_PER_ACCOUNT=4000000000
on_url=$URL
start off
off_url=$URL
users=${USERS:-32}
cookies() { bench_signed_in_cookies "$1" "$2" "$users"; } # cookies URL DATA_DIR
on_cookies=$(cookies "$on_url" "$work/on") off_cookies=$(cookies "$off_url" "$work/off")
on_cookie=${on_cookies%%,*} off_cookie=${off_cookies%%,*}
bench_users_lua "$work/users.lua"
load=(wrk -t2)
if [ "${PIN:-0}" = 1 ]; then
  taskset -a -p -c 1 "${BENCH_PIDS[0]}" >/dev/null
  taskset -a -p -c 1 "${BENCH_PIDS[1]}" >/dev/null
  load=(taskset -c 0 wrk -t1)
fi
# run PID WRK-ARGS...: prints "req/s server-CPU-µs-per-request" for one wrk run against the
# server PID. The CPU time (user + system, all threads, from /proc/PID/stat) counts only the
# server's own work, so it does not move when wrk or another process takes a share of the
# cores: the steadier of the two figures on a shared machine.
tick_us=$((1000000 / $(getconf CLK_TCK)))
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
run() {
  local pid=$1; shift
  local before after out
  before=$(cpu_ticks "$pid")
  out=$("${load[@]}" -c32 -d"$seconds"s "$@" 2>/dev/null)
  after=$(cpu_ticks "$pid")
  awk -v ticks=$((after - before)) -v tick_us="$tick_us" '
    / requests in / {requests = $1}
    /Requests\/sec/ {rps = $2}
    END {printf "%s %.2f\n", rps, ticks * tick_us / requests}' <<<"$out"
}
rps() { run "$3" -H "Cookie: gatehouse_session=$2" "$1/api/v1/auth/session"; }
rps_users() { COOKIES=$2 run "$3" -s "$work/users.lua" "$1/api/v1/auth/session"; }
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: gatehouse_session=$on_cookie" "$on_url/api/v1/auth/session")" = 200 ]
on_runs=() off_runs=() on_users=() off_users=()
on_pid=${BENCH_PIDS[0]} off_pid=${BENCH_PIDS[1]}
rounds=${ROUNDS:-10}
# The rounds flip their order each time (on-off, off-on, ...), so that drift in the
# machine's load falls on both sides alike.
for round in $(seq 1 "$rounds"); do
  if [ $((round % 2)) = 1 ]; then
    on_runs+=("$(rps "$on_url" "$on_cookie" "$on_pid")")
    off_runs+=("$(rps "$off_url" "$off_cookie" "$off_pid")")
    on_users+=("$(rps_users "$on_url" "$on_cookies" "$on_pid")")
    off_users+=("$(rps_users "$off_url" "$off_cookies" "$off_pid")")
  else
    off_users+=("$(rps_users "$off_url" "$off_cookies" "$off_pid")")
    on_users+=("$(rps_users "$on_url" "$on_cookies" "$on_pid")")
    off_runs+=("$(rps "$off_url" "$off_cookie" "$off_pid")")
    on_runs+=("$(rps "$on_url" "$on_cookie" "$on_pid")")
  fi
done
kill -TERM "${BENCH_PIDS[0]}" "${BENCH_PIDS[1]}"; wait "${BENCH_PIDS[0]}" "${BENCH_PIDS[1]}" 2>/dev/null || true; BENCH_PIDS=()

# 2. Memory after many distinct client addresses.
start spray GATEHOUSE_RATE_LIMIT__ENABLED=true 'GATEHOUSE_SERVER__TRUSTED_PROXIES=["127.0.0.1/32"]'
spray_url=$URL spray_pid=$PID
cat >"$work/spray.lua" <<'LUA'
-- Thread i sends addresses i, i+threads, i+2*threads, ... below ADDRESSES, starting at FIRST,
-- each once; past its share it asks /health, which touches no limiter.
local first = tonumber(os.getenv("FIRST"))
local total = tonumber(os.getenv("ADDRESSES"))
local threads, next_id = {}, 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end
function init(args)
  count = 0
end
local body = '{"token":"made-up-link-token"}'
function request()
  local i = first + id + count * 2
  if i >= total then return wrk.format("GET", "/health") end
  count = count + 1
  local a, b, c = math.floor(i / 65536) % 256, math.floor(i / 256) % 256, i % 256
  return wrk.format("POST", "/api/v1/auth/verify-email",
    { ["Content-Type"] = "application/json", ["X-Forwarded-For"] = string.format("10.%d.%d.%d", a, b, c) }, body)
end
function done(summary, latency, requests)
  local sent = 0
  for _, t in ipairs(threads) do sent = sent + t:get("count") end
  io.write(string.format("ADDRESSES_SENT %d\n", sent))
end
LUA
spray() { # spray FIRST ADDRESSES SECONDS: prints how many addresses were sent
  FIRST=$1 ADDRESSES=$2 wrk -t2 -c16 -d"$3"s -s "$work/spray.lua" "$spray_url" 2>/dev/null |
    awk '/ADDRESSES_SENT/ {print $2}'
}
sleep 1
rss_start=$(bench_rss_kib "$spray_pid")
sent_10k=$(spray 0 "$small" 30)
sleep 1
rss_10k=$(bench_rss_kib "$spray_pid")
sent_100k=$(( sent_10k + $(spray "$small" "$large" 150) ))
sleep 1
rss_100k=$(bench_rss_kib "$spray_pid")

micro=$("$target/release/ratelimit_bench")

python3 - "$seconds" "$(IFS=,; echo "${on_runs[*]}")" "$(IFS=,; echo "${off_runs[*]}")" "$rss_start" "$sent_10k" "$rss_10k" "$sent_100k" "$rss_100k" "$micro" "$(IFS=,; echo "${on_users[*]}")" "$(IFS=,; echo "${off_users[*]}")" "$users" <<'PY'
import os, statistics, sys
seconds = sys.argv[1]
rss_start, sent_10k, rss_10k, sent_100k, rss_100k = map(int, sys.argv[4:9])
load = "servers on CPU 1, wrk -t1 -c32 on CPU 0" if os.environ.get("PIN") == "1" else "wrk -t2 -c32"
rounds = len(sys.argv[2].split(","))
if os.environ.get("AA") == "1":
    print("CONTROL RUN (AA=1): the limits are off on both servers")
print(f"Rate-limit layer overhead: GET /api/v1/auth/session, {load}, "
      f"{rounds} alternating runs of {seconds} s each, medians")
print("  (req/s is wrk's throughput; CPU/req is the server's own CPU time per request, which")
print("   another process's share of the cores does not move: on/off for it is off-CPU / on-CPU)")
def parse(arg):
    runs = [tuple(map(float, run.split())) for run in arg.split(",")]
    return [r for r, _ in runs], [c for _, c in runs]
for title, on_arg, off_arg in ((f"{sys.argv[12]} users' cookies in turn", sys.argv[10], sys.argv[11]),
                               ("one user's cookie (one hot limiter key)", sys.argv[2], sys.argv[3])):
    on, on_cpu = parse(on_arg)
    off, off_cpu = parse(off_arg)
    on_m, off_m = statistics.median(on), statistics.median(off)
    print(f" {title}")
    print(f"  {'limits on (req/s)':<28}{on_m:>12,.0f}   runs: {', '.join(f'{x:,.0f}' for x in on)}")
    print(f"  {'limits off (req/s)':<28}{off_m:>12,.0f}   runs: {', '.join(f'{x:,.0f}' for x in off)}")
    print(f"  {'ratio on/off':<28}{on_m / off_m:>12.3f}   target >= 0.95")
    rounds = [a / b for a, b in zip(on, off)]
    print(f"  {'median of round ratios':<28}{statistics.median(rounds):>12.3f}   rounds: {', '.join(f'{x:.2f}' for x in rounds)}")
    on_c, off_c = statistics.median(on_cpu), statistics.median(off_cpu)
    print(f"  {'server CPU/req on, off (µs)':<28}{on_c:>6.1f}{off_c:>6.1f}   on: {', '.join(f'{x:.1f}' for x in on_cpu)}")
    print(f"  {'ratio by CPU/req':<28}{off_c / on_c:>12.3f}   median of rounds {statistics.median([b / a for a, b in zip(on_cpu, off_cpu)]):.3f}")
print("Memory under address spraying (limits on; 3 limiter keys per address)")
print(f"  {'distinct addresses':<28}{'RSS (MiB)':>12}{'growth (MiB)':>15}")
for label, sent, rss in (("0 (at start)", 0, rss_start), (f"{sent_10k:,}", sent_10k, rss_10k), (f"{sent_100k:,}", sent_100k, rss_100k)):
    print(f"  {label:<28}{rss / 1024:>12.1f}{(rss - rss_start) / 1024:>15.1f}")
print("One limiter check in-process (ns; tools/src/bin/ratelimit_bench.rs)")
for line in sys.argv[9].splitlines():
    name, value = line.split()
    print(f"  {name.removeprefix('ns_per_'):<40}{int(value):>8,}")
print(f"  limiter keys are capped at 200,000 per tier and are forgotten once their limiter is full again")
PY
