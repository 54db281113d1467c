#!/usr/bin/env bash
# The rate-limit layer at the production quotas (abuse.sh raises them so that wrk is never
# refused; this one keeps a campus's defaults: 600 requests a minute per signed-in user).
#
# Two servers at once: "on" with the default rate limits (only the two sign-in tiers raised,
# so that USERS accounts can sign in from this one address; session checks never touch them),
# "off" with the limits off. USERS signed-in users' session checks arrive at a fixed RATE
# (open loop, tools' open_loop), each user at RATE / USERS per second (default 640 / 64: 600
# a minute, right at the quota), for SECONDS, in ROUNDS rounds that alternate the order.
# Printed for each server: the server's own CPU time per answered request (from
# /proc/PID/stat, the steady figure on a shared machine), p50 and p99, and how many were
# refused (must be 0 at the quota). Then one user over the quota: OVER requests/s for SECONDS
# on the "on" server, expecting about 600 a minute answered and the rest refused (429), and
# the CPU time of a refusal.
#
#   cargo build --release --workspace --bins && scripts/bench/quotas.sh [SECONDS] [RATE]
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/lib.sh
seconds=${1:-20}
rate=${2:-640}
users=${USERS:-64}
over=${OVER:-50}
rounds=${ROUNDS:-4}
target=${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}
binary=${BENCH_BIN:-$target/release/gatehouse}
open_loop=$target/release/open_loop
[ -x "$open_loop" ] || { echo "build first: cargo build --release --workspace --bins" >&2; exit 1; }
work=$(mktemp -d)
trap 'bench_stop_all; rm -rf "$work"' EXIT
start() { bench_start_campus "$work" "$binary" "$@"; } # start NAME [ENV=VALUE ...]
cookies() { bench_signed_in_cookies "$1" "$2" "$users"; } # cookies URL DATA_DIR

start on GATEHOUSE_RATE_LIMIT__ENABLED=true GATEHOUSE_RATE_LIMIT__AUTH_PER_IP=1000000 \
  GATEHOUSE_RATE_LIMIT__AUTH_PER_ACCOUNT=1000000
on_url=$URL on_pid=$PID
start off
off_url=$URL off_pid=$PID
on_cookies=$(cookies "$on_url" "$work/on") off_cookies=$(cookies "$off_url" "$work/off")
# The sign-ins above counted against nothing the session checks use; a minute's pause would
# not change the figures, so none is taken.

tick_us=$((1000000 / $(getconf CLK_TCK)))
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# measure PID URL COOKIES RATE: "answered refused errors p50 p99 cpu_us_per_answer"
measure() {
  local before after out
  before=$(cpu_ticks "$1")
  out=$(SESSION_COOKIES=$3 "$open_loop" "$2/api/v1/auth/session" "$4" "$seconds")
  after=$(cpu_ticks "$1")
  awk -v ticks=$((after - before)) -v tick_us="$tick_us" '
    {v[$1] = $2}
    END {
      handled = v["answered"] + v["refused"]
      printf "%d %d %d %s %s %.1f\n", v["answered"], v["refused"], v["errors"], v["p50_ms"],
        v["p99_ms"], handled ? ticks * tick_us / handled : 0
    }' <<<"$out"
}

on_runs=() off_runs=()
for round in $(seq 1 "$rounds"); do
  if [ $((round % 2)) = 1 ]; then
    on_runs+=("$(measure "$on_pid" "$on_url" "$on_cookies" "$rate")")
    off_runs+=("$(measure "$off_pid" "$off_url" "$off_cookies" "$rate")")
  else
    off_runs+=("$(measure "$off_pid" "$off_url" "$off_cookies" "$rate")")
    on_runs+=("$(measure "$on_pid" "$on_url" "$on_cookies" "$rate")")
  fi
done

printf 'session checks at %s/s from %s users (%s a minute each), %s s x %s rounds\n' \
  "$rate" "$users" "$((rate * 60 / users))" "$seconds" "$rounds"
printf '%-6s %-10s %8s %8s %7s %8s %8s %14s\n' limits round answered refused errors p50_ms p99_ms cpu_us/request
for i in $(seq 0 $((rounds - 1))); do
  printf '%-6s %-10s %8s %8s %7s %8s %8s %14s\n' on $((i + 1)) ${on_runs[$i]}
  printf '%-6s %-10s %8s %8s %7s %8s %8s %14s\n' off $((i + 1)) ${off_runs[$i]}
done
median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
on_cpu=$(printf '%s\n' "${on_runs[@]}" | awk '{print $6}' | median)
off_cpu=$(printf '%s\n' "${off_runs[@]}" | awk '{print $6}' | median)
# Each round's two runs are back to back, so their ratio shares that moment's machine; the
# median of the rounds' ratios is the steady figure (one round's CPU time swings by half).
ratios=$(for i in $(seq 0 $((rounds - 1))); do
  read -r _ _ _ _ _ on_us <<<"${on_runs[$i]}"
  read -r _ _ _ _ _ off_us <<<"${off_runs[$i]}"
  awk -v a="$off_us" -v b="$on_us" 'BEGIN {printf "%.3f\n", a / b}'
done)
printf '%-62s %8s\n' "median CPU µs per request, limits on / off" "$on_cpu / $off_cpu"
printf '%-62s %8s\n' "each round's ratio, off / on" "$(echo $ratios)"
printf '%-62s %8s\n' "median of the rounds' ratios, off / on (target >= 0.95)" \
  "$(printf '%s\n' $ratios | median)"
refused=$(printf '%s\n' "${on_runs[@]}" | awk '{s += $2} END {print s}')
printf '%-62s %8s\n' "refused at the quota (expected 0)" "$refused"

# One user over the quota. The allowance is a bucket of 600 that refills at 10 a second, and
# this user has kept it full at exactly the quota: expect 600 + 10 x SECONDS answered.
one=${on_cookies%%,*}
read -r answered refused errors p50 p99 cpu <<<"$(measure "$on_pid" "$on_url" "$one" "$over")"
printf '%-62s %8s\n' "one user at $over/s for $seconds s: answered / refused / errors (expect $(((600 + 10 * seconds) < over * seconds ? 600 + 10 * seconds : over * seconds)) answered)" \
  "$answered / $refused / $errors"
printf '%-62s %8s\n' "CPU µs per request, answered and refused together" "$cpu"
