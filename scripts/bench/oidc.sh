#!/usr/bin/env bash
# OpenID Connect provider figures, measured in one run against the release binary over HTTP on
# 127.0.0.1, with a trusted confidential client (no consent page) and one signed-in student:
#   - authorization-code exchanges per second (POST /oauth/token, grant_type=authorization_code,
#     client_secret_basic, PKCE S256), with p50/p99 latency: tools/src/bin/oidc_load.rs makes
#     the codes first (GET /oauth/authorize with the student's session cookie, a new verifier
#     each) and times only the exchanges, on CONNECTIONS connections (default 8), in batches
#     (a code lives 60 seconds) until they have taken SECONDS; also the server's own CPU time
#     per exchange. Then the same for a second client whose ID tokens are signed with EdDSA
#     instead of RS256 (the default): the ratio shows what the RSA signature costs; and RS256
#     on one connection, where no two exchanges' write transactions wait for each other;
#   - GET /oauth/userinfo (Bearer, an access token from those exchanges) against GET
#     /api/v1/auth/session (session cookie): ROUNDS rounds (default 6) of one wrk run of each
#     (-t2 -c32, SECONDS each), the order flipped every round; the ratio userinfo / session of
#     the medians, the median of the rounds' own ratios, and the ratio of the server's CPU
#     time per request.
# The rate limits are off (bench_start in lib.sh): the token endpoint allows 600 requests a
# minute per client and 120 per address, so one client on one address would measure the
# limiter (2/s), not the exchange.
#
#   cargo build --release --workspace --bins && scripts/bench/oidc.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/lib.sh
bench_need_wrk
seconds=${1:-10}
connections=${CONNECTIONS:-8}
rounds=${ROUNDS:-6}
target=${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}
binary=${BENCH_BINARY:-$target/release/gatehouse}
work=$(mktemp -d)
trap 'bench_stop; rm -rf "$work"' EXIT

redirect=https://bench.example/callback
GATEHOUSE_STORAGE__DATA_DIR="$work/data" "$binary" campus add --name Bench --domain bench.edu >/dev/null
registered=$(GATEHOUSE_STORAGE__DATA_DIR="$work/data" "$binary" client add --name Bench \
  --redirect-uri "$redirect" --trusted --json)
client_id=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])' <<<"$registered")
client_secret=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])' <<<"$registered")
registered=$(GATEHOUSE_STORAGE__DATA_DIR="$work/data" "$binary" client add --name BenchEd \
  --redirect-uri "$redirect" --trusted --id-token-alg EdDSA --json)
ed_id=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])' <<<"$registered")
ed_secret=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])' <<<"$registered")
bench_start "$binary" "$work/data"
password=Open-Id-Bench-42
bench_verified_user "$BENCH_URL" "$work/data" student@bench.edu "$password"
cookie=$(bench_login_cookie "$BENCH_URL" student@bench.edu "$password")

# 1. Code exchanges: RS256 ID tokens (the default), then EdDSA ones, then RS256 on one connection.
exchanges() { # exchanges CLIENT_ID SECRET OUT [CONNECTIONS]
  SERVER_PID=$BENCH_PID CLK_TCK=$(getconf CLK_TCK) "$target/release/oidc_load" "$BENCH_URL" \
    "$cookie" "$1" "$2" "$redirect" "$seconds" "${4:-$connections}" >"$3"
}
exchanges "$client_id" "$client_secret" "$work/exchanges.txt"
exchanges "$ed_id" "$ed_secret" "$work/exchanges-ed.txt"
exchanges "$client_id" "$client_secret" "$work/exchanges-1.txt" 1
figure() { awk -v k="$1" '$1 == k {print $2}' "${2:-$work/exchanges.txt}"; }
access=$(figure access_token)

# 2. Userinfo against a session check, A B B A A B ...
status() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
userinfo_args=(-H "Authorization: Bearer $access" "$BENCH_URL/oauth/userinfo")
session_args=(-H "Cookie: gatehouse_session=$cookie" "$BENCH_URL/api/v1/auth/session")
[ "$(status "${userinfo_args[@]}")" = 200 ] || { echo "userinfo refused the access token" >&2; exit 1; }
[ "$(status "${session_args[@]}")" = 200 ] || { echo "the session check refused the cookie" >&2; exit 1; }
tick_us=$((1000000 / $(getconf CLK_TCK)))
cpu_ticks() { awk '{print $14 + $15}' "/proc/$BENCH_PID/stat"; }
# run WRK-ARGS...: prints "req/s server-CPU-µs-per-request non-2xx" for one wrk run.
run() {
  local before after out
  before=$(cpu_ticks)
  out=$(wrk -t2 -c32 -d"${seconds}s" "$@" 2>/dev/null)
  after=$(cpu_ticks)
  awk -v ticks=$((after - before)) -v tick_us="$tick_us" '
    / requests in / {requests = $1}
    /Requests\/sec/ {rps = $2}
    /Non-2xx/ {bad = $NF}
    END {printf "%s %.2f %d\n", rps, ticks * tick_us / requests, bad}' <<<"$out"
}
userinfo_runs=() session_runs=()
for round in $(seq 1 "$rounds"); do
  if [ $((round % 2)) = 1 ]; then
    userinfo_runs+=("$(run "${userinfo_args[@]}")")
    session_runs+=("$(run "${session_args[@]}")")
  else
    session_runs+=("$(run "${session_args[@]}")")
    userinfo_runs+=("$(run "${userinfo_args[@]}")")
  fi
done
userinfo_after=$(status "${userinfo_args[@]}") session_after=$(status "${session_args[@]}")

# column N RUN...: the median of the Nth field of the runs.
column() {
  local n=$1; shift
  printf '%s\n' "$@" | awk -v n="$n" '{print $n}' | sort -g |
    awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2] + a[NR/2+1]) / 2}'
}
# round_ratios: userinfo / session req/s of each round, one a line.
round_ratios() {
  paste -d' ' <(printf '%s\n' "${userinfo_runs[@]}") <(printf '%s\n' "${session_runs[@]}") |
    awk '{printf "%.3f\n", $1 / $4}'
}
ratios=$(round_ratios | sort -g)
median_ratio=$(awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2] + a[NR/2+1]) / 2}' <<<"$ratios")
userinfo_rps=$(column 1 "${userinfo_runs[@]}") session_rps=$(column 1 "${session_runs[@]}")
userinfo_cpu=$(column 2 "${userinfo_runs[@]}") session_cpu=$(column 2 "${session_runs[@]}")
non_2xx=$(printf '%s\n' "${userinfo_runs[@]}" "${session_runs[@]}" | awk '{s += $3} END {print s + 0}')

row() { printf '%-52s %14s\n' "$1" "$2"; }
echo "rate limits off (rate_limit.enabled = false): the token endpoint's 600/min per client and"
echo "120/min per address would otherwise hold one client on one address to 2 exchanges/s"
echo
row "measure" "value"
row "code exchanges timed ($(figure connections) connections)" "$(figure exchanges)"
row "code exchanges/s (POST /oauth/token), RS256 ID tokens" "$(figure exchanges_per_s)"
row "exchange p50 ms, RS256" "$(figure exchange_p50_ms)"
row "exchange p99 ms, RS256" "$(figure exchange_p99_ms)"
row "exchange max ms, RS256" "$(figure exchange_max_ms)"
row "server CPU ms per exchange, RS256" "$(figure server_cpu_ms_per_exchange)"
row "failed exchanges, failed authorize requests" "$(figure failed_exchanges) $(figure failed_codes)"
row "codes made/s (GET /oauth/authorize, untimed part)" "$(figure codes_per_s)"
ed=$work/exchanges-ed.txt
row "code exchanges/s, EdDSA ID tokens" "$(figure exchanges_per_s "$ed")"
row "exchange p50 / p99 ms, EdDSA ID tokens" "$(figure exchange_p50_ms "$ed") / $(figure exchange_p99_ms "$ed")"
row "server CPU ms per exchange, EdDSA ID tokens" "$(figure server_cpu_ms_per_exchange "$ed")"
row "failed exchanges, EdDSA ID tokens" "$(figure failed_exchanges "$ed")"
one=$work/exchanges-1.txt
row "code exchanges/s, RS256, one connection" "$(figure exchanges_per_s "$one")"
row "exchange p50 / p99 ms, RS256, one connection" "$(figure exchange_p50_ms "$one") / $(figure exchange_p99_ms "$one")"
row "failed exchanges, one connection" "$(figure failed_exchanges "$one")"
row "server CPU ms per exchange, RS256 - EdDSA" "$(awk -v a="$(figure server_cpu_ms_per_exchange)" -v b="$(figure server_cpu_ms_per_exchange "$ed")" 'BEGIN {printf "%.3f", a - b}')"
row "RS256 / EdDSA exchanges/s" "$(awk -v a="$(figure exchanges_per_s)" -v b="$(figure exchanges_per_s "$ed")" 'BEGIN {printf "%.3f", a / b}')"
row "GET /oauth/userinfo req/s (median of $rounds)" "$userinfo_rps"
row "GET /api/v1/auth/session req/s (median of $rounds)" "$session_rps"
row "userinfo / session (ratio of medians)" "$(awk -v a="$userinfo_rps" -v b="$session_rps" 'BEGIN {printf "%.3f", a / b}')"
row "userinfo / session (median of round ratios)" "$median_ratio"
row "  round ratios, lowest - highest" "$(head -1 <<<"$ratios") - $(tail -1 <<<"$ratios")"
row "server CPU µs per request, userinfo" "$userinfo_cpu"
row "server CPU µs per request, session" "$session_cpu"
row "session / userinfo, by server CPU per request" "$(awk -v a="$session_cpu" -v b="$userinfo_cpu" 'BEGIN {printf "%.3f", a / b}')"
row "non-2xx answers during the rounds" "$non_2xx"
row "userinfo and session still answer 200 after" "$userinfo_after $session_after"
