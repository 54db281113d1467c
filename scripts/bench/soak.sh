#!/usr/bin/env bash
# Soak: mixed traffic on loopback for SECONDS (default 600), then stops by itself and checks
#   - no 5xx answer, and no status other than the expected ones (200/202, 400, 401, 404, 422,
#     429), read from the server's own /metrics (http_requests_total by route and status);
#   - resident memory at the end within 10% of the level after warm-up (a third of the run,
#     at least 20 s and at most 200 s: caches and pools fill first, and the longest-lived of
#     them, the limiter keys of account identifiers used once, live 3 minutes);
#   - no more threads or open file descriptors at the end than at the end of warm-up, once the
#     load has stopped and idle blocking threads have retired.
# The rate limits are on (production defaults, except the per-user limit raised so that the
# signed-in traffic is served); requests come through a trusted proxy from 2,000 rotating
# client addresses (X-Forwarded-For), and every unknown-email sign-in is a new account key.
#
#   cargo build --release && scripts/bench/soak.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/lib.sh
bench_need_wrk
seconds=${1:-600}
target=${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}
binary=${BENCH_BINARY:-$target/release/gatehouse}
work=$(mktemp -d)
trap 'bench_stop; rm -rf "$work"' EXIT
warmup=$(( seconds / 3 < 20 ? 20 : seconds / 3 > 200 ? 200 : seconds / 3 ))
[ "$warmup" -lt "$seconds" ] || { echo "run for more than 20 s" >&2; exit 1; }

GATEHOUSE_STORAGE__DATA_DIR="$work/data" "$binary" campus add --name Soak --domain soak.edu >/dev/null
bench_start "$binary" "$work/data" GATEHOUSE_RATE_LIMIT__ENABLED=true \
  GATEHOUSE_CAPTCHA__ENABLED=false \
  GATEHOUSE_RATE_LIMIT__AUTHENTICATED_PER_MINUTE=1000000 \
  'GATEHOUSE_SERVER__TRUSTED_PROXIES=["127.0.0.1/32"]'
pid=$BENCH_PID
password=Mixed-Traffic-77
bench_verified_user "$BENCH_URL" "$work/data" soak@soak.edu "$password"
cookie=$(bench_login_cookie "$BENCH_URL" soak@soak.edu "$password")
[ -n "$cookie" ] || { echo "cannot sign in" >&2; exit 1; }

cat >"$work/mixed.lua" <<LUA
-- One request in twenty of each kind below, from rotating client addresses.
local cookie = "gatehouse_session=$cookie"
local n = 0
function request()
  n = n + 1
  -- 2,000 addresses: the limiters' caches (per-address keys live 15 minutes) reach their
  -- working size during warm-up, so growth after it is growth, not caches still filling.
  local ip = "10.0." .. math.random(0, 7) .. "." .. math.random(1, 250)
  local h = { ["X-Forwarded-For"] = ip, ["Content-Type"] = "application/json" }
  local k = n % 20
  if k < 9 then
    h["Cookie"] = cookie
    return wrk.format("GET", "/api/v1/auth/session", h)
  elseif k == 9 then
    h["Cookie"] = cookie
    return wrk.format("GET", "/api/v1/account", h)
  elseif k == 10 or k == 11 then
    return wrk.format("GET", "/health", h)
  elseif k == 12 then
    return wrk.format("POST", "/api/v1/auth/login", h,
      '{"email":"soak@soak.edu","password":"$password"}')
  elseif k == 13 then
    return wrk.format("POST", "/api/v1/auth/login", h,
      '{"email":"nobody' .. n .. '@soak.edu","password":"Wrong-Pass-99"}')
  elseif k == 14 then
    return wrk.format("GET", "/api/v1/no-such-thing", h)
  elseif k == 15 then
    return wrk.format("POST", "/api/v1/auth/register", h, '{"email":"not an email"}')
  elseif k == 16 then
    return wrk.format("POST", "/api/v1/auth/token/refresh", h, '{"refresh_token":"junk' .. n .. '"}')
  elseif k == 17 then
    return wrk.format("GET", "/ready", h)
  elseif k == 18 then
    return wrk.format("GET", "/", h)
  else
    return wrk.format("POST", "/api/v1/auth/password/forgot", h, '{"email":"nobody' .. n .. '@soak.edu"}')
  end
end
LUA

# Rate-limiter keys held, all tiers together and tier by tier, from the server's own gauge.
limiter_keys() {
  curl -fsS "$BENCH_URL/metrics" | awk -F'[" ]' '/^gatehouse_rate_limit_keys\{/ {
    n += $NF; tiers = tiers sep $2 "=" $NF; sep = ","
  } END {print n + 0, tiers}'
}
# One sample: time, RSS KiB, threads, open fds, limiter keys (all, then by tier).
sample() {
  printf '%s %s %s %s %s\n' "$(date +%s)" "$(bench_rss_kib "$pid")" "$(bench_threads "$pid")" \
    "$(bench_fds "$pid")" "$(limiter_keys)"
}
echo "soak: ${seconds}s of mixed traffic against $BENCH_URL (warm-up ${warmup}s)" >&2
wrk -t2 -c32 -d"${seconds}s" --timeout 10s -s "$work/mixed.lua" "$BENCH_URL" >"$work/wrk.txt" 2>&1 &
wrk_pid=$!
sleep "$warmup"
read -r _ rss_warm threads_warm fds_warm keys_warm _ < <(sample)
: >"$work/samples"
while kill -0 "$wrk_pid" 2>/dev/null; do sample >>"$work/samples"; sleep 10; done
wait "$wrk_pid"
read -r _ rss_end threads_end_busy fds_end_busy keys_end _ < <(tail -n 1 "$work/samples")
rss_peak=$(awk 'BEGIN {m = 0} $2 > m {m = $2} END {print m}' "$work/samples")
# Idle blocking threads retire after 10 s without work.
sleep 15
read -r _ rss_idle threads_idle fds_idle _ < <(sample)
# SOAK_SAMPLES=FILE keeps the samples taken every 10 s (time, RSS KiB, threads, fds, keys,
# keys by tier).
[ -z "${SOAK_SAMPLES:-}" ] || cp "$work/samples" "$SOAK_SAMPLES"

curl -fsS "$BENCH_URL/metrics" >"$work/metrics"
requests=$(awk '/^Requests\/sec/ {print $2}' "$work/wrk.txt")
total=$(awk '/requests in/ {print $1}' "$work/wrk.txt")
socket_errors=$(awk '/Socket errors/ {print}' "$work/wrk.txt")
statuses=$(grep -E '^[a-z_]*http_requests_total\{' "$work/metrics" |
  sed -E 's/.*status="([0-9]+)".*\} ([0-9]+)/\1 \2/' |
  awk '{c[$1] += $2} END {for (s in c) printf "%s=%d ", s, c[s]}')
unexpected=$(grep -E '^[a-z_]*http_requests_total\{' "$work/metrics" |
  grep -Ev 'status="(200|202|400|401|404|422|429)"' || true)

growth=$(awk -v a="$rss_end" -v b="$rss_warm" 'BEGIN {printf "%.1f", (a - b) * 100 / b}')
printf '%-40s %s\n' "duration (s)" "$seconds"
printf '%-40s %s\n' "requests (wrk)" "$total"
printf '%-40s %s\n' "requests/s" "$requests"
printf '%-40s %s\n' "answers by status (server metrics)" "$statuses"
printf '%-40s %s\n' "wrk socket errors" "${socket_errors:-none}"
printf '%-40s %s\n' "RSS KiB after warm-up / end / peak" "$rss_warm / $rss_end / $rss_peak"
printf '%-40s %s\n' "RSS growth after warm-up (< 10%)" "$growth%"
printf '%-40s %s\n' "RSS KiB idle after the run" "$rss_idle"
printf '%-40s %s\n' "rate-limiter keys after warm-up / end" "$keys_warm / $keys_end"
printf '%-40s %s\n' "threads after warm-up / end / idle" "$threads_warm / $threads_end_busy / $threads_idle"
printf '%-40s %s\n' "open fds after warm-up / end / idle" "$fds_warm / $fds_end_busy / $fds_idle"

failed=0
if [ -n "$unexpected" ]; then echo "FAIL: unexpected statuses:" >&2; echo "$unexpected" >&2; failed=1; fi
awk -v g="$growth" 'BEGIN {exit !(g >= 10)}' && { echo "FAIL: memory grew by $growth%" >&2; failed=1; }
[ "$threads_idle" -le "$threads_warm" ] || { echo "FAIL: threads grew ($threads_warm -> $threads_idle)" >&2; failed=1; }
[ "$fds_idle" -le "$fds_warm" ] || { echo "FAIL: file descriptors grew ($fds_warm -> $fds_idle)" >&2; failed=1; }
kill -0 "$pid" || { echo "FAIL: the server died" >&2; failed=1; }
[ "$failed" = 0 ] && echo "RESULT: soak passed" || echo "RESULT: soak FAILED"
exit "$failed"
