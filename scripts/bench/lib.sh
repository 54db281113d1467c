# Shared helpers for the benchmarks: start a gatehouse binary on a free loopback port with a
# temporary data directory, wait until it is healthy, read its memory, stop it.
# Source this file; it defines functions only.

bench_need_wrk() {
  if ! command -v wrk >/dev/null 2>&1; then
    echo "installing wrk (Debian package) for the load generator" >&2
    if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq wrk >/dev/null
    else sudo apt-get update -qq && sudo apt-get install -y -qq wrk >/dev/null; fi
  fi
}

bench_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# bench_start BINARY DATA_DIR [ENV=VALUE ...]: sets BENCH_PID and BENCH_URL.
bench_start() {
  local binary=$1 data=$2; shift 2
  local port; port=$(bench_free_port)
  # Rate limits and the sign-up captcha off: a load generator is one client hammering from one
  # address. (Arguments come after, so a benchmark can turn either back on.) Two malloc arenas,
  # as the systemd unit sets (systemd/gatehouse.service says why).
  env MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}" \
    GATEHOUSE_RATE_LIMIT__ENABLED=false GATEHOUSE_CAPTCHA__ENABLED=false "$@" \
    GATEHOUSE_STORAGE__DATA_DIR="$data" \
    GATEHOUSE_SERVER__LISTEN="127.0.0.1:$port" GATEHOUSE_LOG__LEVEL=warn "$binary" serve \
    >"$data.out" 2>&1 &
  BENCH_PID=$!
  BENCH_URL="http://127.0.0.1:$port"
  for _ in $(seq 1 200); do
    curl -fsS "$BENCH_URL/health" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "gatehouse did not start: $(cat "$data.out")" >&2
  return 1
}

# bench_start_campus WORK BINARY NAME [ENV=VALUE ...]: a server on WORK/NAME with a campus
# (bench.edu); sets URL and PID, and keeps the PID in BENCH_PIDS for bench_stop_all.
BENCH_PIDS=()
bench_start_campus() {
  local work=$1 binary=$2 name=$3
  shift 3
  GATEHOUSE_STORAGE__DATA_DIR="$work/$name" "$binary" campus add --name Bench --domain bench.edu >/dev/null
  bench_start "$binary" "$work/$name" "$@"
  BENCH_PIDS+=("$BENCH_PID")
  URL=$BENCH_URL PID=$BENCH_PID
}
bench_stop_all() {
  local p
  for p in "${BENCH_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; done
}

# bench_signed_in_cookies URL DATA_DIR COUNT: signs up and in bench1..COUNT@bench.edu, prints
# their session cookies comma-separated (for tools' open_loop SESSION_COOKIES).
bench_signed_in_cookies() {
  local list="" i
  for i in $(seq 1 "$3"); do
    bench_verified_user "$1" "$2" "bench$i@bench.edu" Correct-Horse-42
    list+="${list:+,}$(bench_login_cookie "$1" "bench$i@bench.edu" Correct-Horse-42)"
  done
  echo "$list"
}

bench_rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

bench_stop() { [ -n "${BENCH_PID:-}" ] || return 0; kill -TERM "$BENCH_PID" 2>/dev/null; wait "$BENCH_PID" 2>/dev/null || true; }

# bench_rps URL SECONDS: requests per second that wrk measured (2 threads, 32 connections).
bench_rps() {
  wrk -t2 -c32 -d"$2"s --latency "$1" 2>/dev/null | awk '/Requests\/sec/ {print $2}'
}

# bench_signed_in_cookie URL DATA_DIR EMAIL PASSWORD: registers (the campus of EMAIL must
# exist), confirms by the emailed link, signs in (remember me); prints the session cookie value.
bench_signed_in_cookie() {
  local url=$1 data=$2 email=$3 password=$4 token=""
  curl -fsS -o /dev/null -H 'content-type: application/json' "$url/api/v1/auth/register" \
    -d "{\"email\":\"$email\",\"password\":\"$password\",\"display_name\":\"Bench\"}"
  for _ in $(seq 1 100); do
    token=$(python3 - "$data/mail/new" <<'PY' 2>/dev/null || true
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
  curl -fsS -o /dev/null -H 'content-type: application/json' "$url/api/v1/auth/verify-email" \
    -d "{\"token\":\"$token\"}"
  curl -fsS -D - -o /dev/null -H 'content-type: application/json' "$url/api/v1/auth/login" \
    -d "{\"email\":\"$email\",\"password\":\"$password\",\"remember_me\":true}" |
    awk -F'[=;]' '/^set-cookie: gatehouse_session=/ {print $2}'
}

# bench_mail_token DATA_DIR EMAIL: the verification token mailed to EMAIL (waits up to 10 s).
bench_mail_token() {
  local token=""
  for _ in $(seq 1 100); do
    token=$(python3 - "$1/mail/new" "$2" <<'PY' 2>/dev/null || true
import email, glob, re, sys
from email import policy
for path in glob.glob(sys.argv[1] + "/*"):
    message = email.message_from_file(open(path), policy=policy.default)
    if message["To"] is None or sys.argv[2] not in str(message["To"]):
        continue
    text = message.get_body(("plain",)).get_content()
    found = re.search(r"verify-email\?token=([A-Za-z0-9_-]+)", text)
    if found:
        print(found.group(1))
        break
PY
)
    [ -n "$token" ] && { echo "$token"; return 0; }
    sleep 0.1
  done
  echo "no verification mail to $2" >&2
  return 1
}

# bench_verified_user URL DATA_DIR EMAIL PASSWORD: registers and verifies an account.
bench_verified_user() {
  curl -fsS -o /dev/null -H 'content-type: application/json' "$1/api/v1/auth/register" \
    -d "{\"email\":\"$3\",\"password\":\"$4\",\"display_name\":\"Bench\"}"
  local token; token=$(bench_mail_token "$2" "$3")
  curl -fsS -o /dev/null -H 'content-type: application/json' "$1/api/v1/auth/verify-email" \
    -d "{\"token\":\"$token\"}"
}

# bench_login_cookie URL EMAIL PASSWORD: signs in (remember me) and prints the session cookie.
bench_login_cookie() {
  curl -fsS -D - -o /dev/null -H 'content-type: application/json' "$1/api/v1/auth/login" \
    -d "{\"email\":\"$2\",\"password\":\"$3\",\"remember_me\":true}" |
    awk -F'[=;]' 'tolower($0) ~ /^set-cookie: gatehouse_session=/ {print $2}'
}

bench_threads() { awk '/^Threads/ {print $2}' "/proc/$1/status"; }
bench_fds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }

# bench_users_lua FILE: writes a wrk script that sends each request with the next of the
# comma-separated session cookies in $COOKIES (one user after another, as a campus app's
# traffic is).
bench_users_lua() {
  cat >"$1" <<'LUA'
local cookies = {}
for c in string.gmatch(os.getenv("COOKIES"), "[^,]+") do table.insert(cookies, c) end
local n = 0
function request()
  n = n + 1
  return wrk.format("GET", nil, { ["Cookie"] = "gatehouse_session=" .. cookies[n % #cookies + 1] })
end
LUA
}

# bench_seeded_emails COUNT: the addresses of `gatehouse seed` accounts 0..COUNT-1 on
# seed.edu (as src/seed.rs names them). Run from the repository's root.
bench_seeded_emails() {
  python3 - "$1" <<'PY'
import re, sys
src = open("src/seed.rs").read()
names = lambda n: re.findall(r'"([a-z]+)"', re.search(n + r": &\[&str\] = &\[(.*?)\];", src, re.S).group(1))
first, last = names("FIRST"), names("LAST")
for n in range(int(sys.argv[1])):
    print(f"{first[n % len(first)]}.{last[(n // len(first)) % len(last)]}.{n}@seed.edu")
PY
}
