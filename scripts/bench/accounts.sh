#!/usr/bin/env bash
# Accounts and API-token figures, measured in one run so the ratios compare like with like:
#   - sign-ins per second (POST /api/v1/auth/login, right password) against the raw argon2id
#     verification rate of this machine with the same parameters (target: 85% or more);
#   - GET /api/v1/auth/session with a cookie, and with a bearer token, against GET /health
#     (target: 80% or more);
#   - token refreshes per second (two clients, each spending its refresh token and using the
#     next one, as a real client must);
#   - the median time of a wrong password and of an unknown email (should be equal).
#
#   cargo build --release --workspace --bins && scripts/bench/accounts.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/lib.sh
bench_need_wrk
seconds=${1:-10}
target=${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}
binary=$target/release/gatehouse
work=$(mktemp -d)
trap 'bench_stop; rm -rf "$work"' EXIT

GATEHOUSE_STORAGE__DATA_DIR="$work/data" "$binary" campus add --name Bench --domain bench.edu >/dev/null
bench_start "$binary" "$work/data"
email=bench@bench.edu password=Correct-Horse-42
curl -fsS -o /dev/null -H 'content-type: application/json' "$BENCH_URL/api/v1/auth/register" \
  -d "{\"email\":\"$email\",\"password\":\"$password\",\"display_name\":\"Bench\"}"
token=""
for _ in $(seq 1 100); do
  token=$(python3 - "$work/data/mail/new" <<'PY' 2>/dev/null || true
import email, glob, re, sys
from email import policy
for path in glob.glob(sys.argv[1] + "/*"):
    text = email.message_from_file(open(path), policy=policy.default).get_body(("plain",)).get_content()
    print(re.search(r"verify-email\?token=([A-Za-z0-9_-]+)", text).group(1))
PY
)
  [ -n "$token" ] && break
  sleep 0.1
done
curl -fsS -o /dev/null -H 'content-type: application/json' "$BENCH_URL/api/v1/auth/verify-email" -d "{\"token\":\"$token\"}"
cookie=$(curl -fsS -D - -o /dev/null -H 'content-type: application/json' "$BENCH_URL/api/v1/auth/login" \
  -d "{\"email\":\"$email\",\"password\":\"$password\",\"remember_me\":true}" |
  awk -F'[=;]' '/^set-cookie: gatehouse_session=/ {print $2}')

token_pair() {
  curl -fsS -H 'content-type: application/json' "$BENCH_URL/api/v1/auth/token" \
    -d "{\"email\":\"$email\",\"password\":\"$password\"}"
}
access=$(token_pair | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
refresh1=$(token_pair | python3 -c 'import json,sys; print(json.load(sys.stdin)["refresh_token"])')
refresh2=$(token_pair | python3 -c 'import json,sys; print(json.load(sys.stdin)["refresh_token"])')
cat >"$work/refresh.lua" <<'LUA'
-- Each thread chains its own family: spend the token, keep the one the answer returns.
local tokens = { os.getenv("REFRESH1"), os.getenv("REFRESH2") }
local next_id = 1
function setup(thread)
  thread:set("token", tokens[next_id])
  next_id = next_id + 1
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
function request()
  return wrk.format(nil, nil, nil, '{"refresh_token":"' .. token .. '"}')
end
function response(status, headers, body)
  local next = body:match('"refresh_token":"([^"]+)"')
  if next then token = next end
end
LUA

cat >"$work/login.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"email":"$email","password":"$password"}'
LUA

# Uniform answers: the median time of a wrong password and of an unknown email. Each timed
# wrong password is followed by a right one, so the account never reaches its lockout.
median_login_ms() {
  for _ in $(seq 1 21); do
    curl -s -o /dev/null -w '%{time_total}\n' -H 'content-type: application/json' \
      "$BENCH_URL/api/v1/auth/login" -d "{\"email\":\"$1\",\"password\":\"Wrong-Pass-99\"}"
    curl -s -o /dev/null -H 'content-type: application/json' "$BENCH_URL/api/v1/auth/login" \
      -d "{\"email\":\"$email\",\"password\":\"$password\"}"
  done | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)] * 1000}'
}
wrong_ms=$(median_login_ms "$email")
unknown_ms=$(median_login_ms "nobody@bench.edu")

argon2=$("$target/release/argon2_rate" "$seconds")
logins=$(wrk -t2 -c8 -d"${seconds}s" -s "$work/login.lua" "$BENCH_URL/api/v1/auth/login" | awk '/Requests\/sec/ {print $2}')
health=$(bench_rps "$BENCH_URL/health" "$seconds")
session=$(wrk -t2 -c32 -d"${seconds}s" -H "Cookie: gatehouse_session=$cookie" "$BENCH_URL/api/v1/auth/session" | awk '/Requests\/sec/ {print $2}')
status=$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: gatehouse_session=$cookie" "$BENCH_URL/api/v1/auth/session")
bearer=$(wrk -t2 -c32 -d"${seconds}s" -H "Authorization: Bearer $access" "$BENCH_URL/api/v1/auth/session" | awk '/Requests\/sec/ {print $2}')
refreshes=$(REFRESH1=$refresh1 REFRESH2=$refresh2 wrk -t2 -c2 -d"${seconds}s" -s "$work/refresh.lua" "$BENCH_URL/api/v1/auth/token/refresh" | awk '/Requests\/sec/ {print $2}')
refresh_ok=$(curl -s -o /dev/null -w '%{http_code}' -H 'content-type: application/json' "$BENCH_URL/api/v1/auth/token/refresh" -d "{\"refresh_token\":\"$refresh1\"}")

printf '%-34s %12s\n' "measure" "value"
printf '%-34s %12s\n' "argon2id verifications/s (raw)" "$argon2"
printf '%-34s %12s\n' "sign-ins/s (POST login)" "$logins"
printf '%-34s %12s\n' "sign-ins / argon2 (target >= 0.85)" "$(awk -v a="$logins" -v b="$argon2" 'BEGIN {printf "%.2f", a / b}')"
printf '%-34s %12s\n' "GET /health req/s" "$health"
printf '%-34s %12s\n' "GET /api/v1/auth/session req/s" "$session"
printf '%-34s %12s\n' "session / health (target >= 0.80)" "$(awk -v a="$session" -v b="$health" 'BEGIN {printf "%.2f", a / b}')"
printf '%-34s %12s\n' "session check still valid (200)" "$status"
printf '%-34s %12s\n' "GET session, bearer req/s" "$bearer"
printf '%-34s %12s\n' "bearer / health (target >= 0.80)" "$(awk -v a="$bearer" -v b="$health" 'BEGIN {printf "%.2f", a / b}')"
printf '%-34s %12s\n' "token refreshes/s (2 chains)" "$refreshes"
printf '%-34s %12s\n' "first token reused afterwards (401)" "$refresh_ok"
printf '%-34s %12s\n' "median ms, wrong password" "$wrong_ms"
printf '%-34s %12s\n' "median ms, unknown email" "$unknown_ms"
