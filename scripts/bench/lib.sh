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
  # Rate limits off: a load generator is one client hammering from one address.
  env GATEHOUSE_RATE_LIMIT__ENABLED=false "$@" GATEHOUSE_STORAGE__DATA_DIR="$data" \
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

bench_rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

bench_stop() { [ -n "${BENCH_PID:-}" ] || return 0; kill -TERM "$BENCH_PID" 2>/dev/null; wait "$BENCH_PID" 2>/dev/null || true; }

# bench_rps URL SECONDS: requests per second that wrk measured (2 threads, 32 connections).
bench_rps() {
  wrk -t2 -c32 -d"$2"s --latency "$1" 2>/dev/null | awk '/Requests\/sec/ {print $2}'
}
