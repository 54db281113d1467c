#!/usr/bin/env bash
# Personal-data encryption figures, in one run:
#   - the cost of sealing at rest on sign-in (POST /api/v1/auth/login) and on the session check
#     (GET /api/v1/auth/session), as a ratio "with encryption / without";
#   - the time `gatehouse keys rotate` takes per 100,000 users.
#
# How "without" is measured: there is no switch to store personal data in plain text (a
# bench-only flag would be a way to weaken production). Instead the tool privacy_bench
# times, in-process, what encryption adds to a request: opening one user row's four sealed
# columns (store::find_by_id) against the same query reading them unopened. A sign-in opens
# one row; a session check opens one row only when the user cache (60 s) misses. The server's
# CPU time per request is cores / (requests per second) under wrk; the ratio is
# cpu / (cpu - encryption cost).
#
#   cargo build --release --workspace --bins && scripts/bench/privacy.sh [SECONDS] [USERS]
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/lib.sh
bench_need_wrk
seconds=${1:-10}
users=${2:-100000}
target=${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}
binary=$target/release/gatehouse
tool=$target/release/privacy_bench
work=$(mktemp -d)
trap 'bench_stop; rm -rf "$work"' EXIT
cores=$(nproc)

micro=$("$tool" "$work/micro" micro)
value() { awk -v k="$1" '$1 == k {print $2}' <<<"$2"; }
open_us=$(value open_cost_us "$micro")
seal_us=$(value seal_us "$micro")
row_us=$(value user_row_opened_us "$micro")

GATEHOUSE_STORAGE__DATA_DIR="$work/data" "$binary" campus add --name Bench --domain bench.edu >/dev/null
bench_start "$binary" "$work/data"
email=bench@bench.edu password=Correct-Horse-42
curl -fsS -o /dev/null -H 'content-type: application/json' "$BENCH_URL/api/v1/auth/register" \
  -d "{\"email\":\"$email\",\"password\":\"$password\",\"display_name\":\"Bench Student\",\"legal_name\":\"Bench Legal\",\"phone\":\"+919876543210\"}"
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
cat >"$work/login.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"email":"$email","password":"$password"}'
LUA
logins=$(wrk -t2 -c8 -d"${seconds}s" -s "$work/login.lua" "$BENCH_URL/api/v1/auth/login" | awk '/Requests\/sec/ {print $2}')
session=$(wrk -t2 -c32 -d"${seconds}s" -H "Cookie: gatehouse_session=$cookie" "$BENCH_URL/api/v1/auth/session" | awk '/Requests\/sec/ {print $2}')
bench_stop

rotation=$("$tool" "$work/rotation" rotate "$users")

ratio() { awk -v rps="$1" -v cost="$2" -v cores="$cores" 'BEGIN {cpu = cores * 1e6 / rps; printf "%.4f", cpu / (cpu - cost)}'; }
cpu_us() { awk -v rps="$1" -v cores="$cores" 'BEGIN {printf "%.1f", cores * 1e6 / rps}'; }
# A session check opens the user row once per cache lifetime (60 s) per user; under load that
# is one open among (60 x req/s) requests. The worst case (every request misses) is shown too.
session_amortised=$(awk -v o="$open_us" -v rps="$session" 'BEGIN {printf "%.4f", o / (60 * rps)}')

printf '%-46s %14s\n' "measure" "value"
printf '%-46s %14s\n' "open one user row (4 sealed columns), us" "$row_us"
printf '%-46s %14s\n' "  of which opening (AES-256-GCM), us" "$open_us"
printf '%-46s %14s\n' "seal one value, us" "$seal_us"
printf '%-46s %14s\n' "sign-ins/s" "$logins"
printf '%-46s %14s\n' "  server CPU per sign-in, us" "$(cpu_us "$logins")"
printf '%-46s %14s\n' "  ratio with/without encryption" "$(ratio "$logins" "$open_us")"
printf '%-46s %14s\n' "GET /api/v1/auth/session req/s" "$session"
printf '%-46s %14s\n' "  server CPU per check, us" "$(cpu_us "$session")"
printf '%-46s %14s\n' "  ratio with/without (user cached, 60 s)" "$(ratio "$session" "$session_amortised")"
printf '%-46s %14s\n' "  ratio with/without (every check misses)" "$(ratio "$session" "$open_us")"
printf '%-46s %14s\n' "users seeded for rotation" "$(value seeded_users "$rotation")"
printf '%-46s %14s\n' "values re-sealed" "$(value rotated_values "$rotation")"
printf '%-46s %14s\n' "rotation, seconds" "$(value rotate_seconds "$rotation")"
printf '%-46s %14s\n' "rotation, seconds per 100,000 users" "$(value rotate_seconds_per_100k_users "$rotation")"
