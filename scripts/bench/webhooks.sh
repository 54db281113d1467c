#!/usr/bin/env bash
# Webhook figures, in one run:
#   - events delivered per second to a local receiver: DELIVERIES deliveries are queued while
#     the server is stopped (rows written straight into webhook_deliveries: the queueing is not
#     what is measured), then the server starts and the receiver counts arrivals; the rate is
#     arrivals over the time from the first to the last. The receiver's own rate (wrk against
#     it) is printed beside it: a delivery rate near it is the receiver's bound, not ours.
#   - the cost a webhook adds to the request that causes it: PATCH /api/v1/account (a profile
#     change, which queues `user.updated`) with no endpoint (A) and with one endpoint taking
#     the event and a live receiver (B), alternated A B A B, each SECONDS long under wrk, on
#     16 connections and on one; the ratio is B/A of requests per second (1.00: no cost).
#
#   cargo build --release && scripts/bench/webhooks.sh [SECONDS] [DELIVERIES]
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/lib.sh
bench_need_wrk
seconds=${1:-10}
deliveries=${2:-5000}
target=${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}
binary=$target/release/gatehouse
work=$(mktemp -d)
receiver_pid=""
cleanup() {
  bench_stop || true
  if [ -n "$receiver_pid" ]; then kill "$receiver_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
export GATEHOUSE_STORAGE__DATA_DIR="$work/data"

# A receiver that answers 204 at once and appends each arrival's time to a file.
receiver_port=$(bench_free_port)
python3 - "$receiver_port" "$work/arrivals" <<'PY' &
import http.server, sys, time, socketserver
port, out = int(sys.argv[1]), open(sys.argv[2], "a", buffering=1)
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        out.write(f"{time.monotonic()} {self.headers.get('webhook-id')}\n")
        self.send_response(204); self.send_header("content-length", "0"); self.end_headers()
    do_GET = do_POST
    def log_message(self, *args): pass
class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    # wrk and the server's pool close idle connections: not an error worth a traceback.
    def handle_error(self, request, client_address): pass
Server(("127.0.0.1", port), Handler).serve_forever()
PY
receiver_pid=$!
receiver="http://127.0.0.1:$receiver_port/hooks"
for _ in $(seq 1 100); do curl -fsS -o /dev/null -X POST "$receiver" 2>/dev/null && break; sleep 0.05; done
receiver_rps=$(wrk -t2 -c16 -d5s -s <(printf 'wrk.method = "POST"\n') "$receiver" 2>/dev/null |
  awk '/Requests\/sec/ {print $2}')
: >"$work/arrivals"

# Deliveries per second.
"$binary" campus add --name Bench --domain bench.edu >/dev/null
hook=$("$binary" webhook add --url "$receiver" --events user.updated --json |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
python3 - "$work/data/gatehouse.db" "$hook" "$deliveries" <<'PY'
import json, sqlite3, sys, time
db, hook, n = sqlite3.connect(sys.argv[1]), sys.argv[2], int(sys.argv[3])
now = int(time.time())
body = json.dumps({"type": "user.updated", "timestamp": "2026-12-05T00:00:00+00:00",
                   "data": {"user_id": "bench", "campus_id": 1, "changed": ["display_name"]}})
db.executemany(
    "INSERT INTO webhook_deliveries (message_id, endpoint_id, event_type, payload, created_at,"
    " next_attempt_at) VALUES (?, ?, 'user.updated', ?, ?, ?)",
    [(f"msg_bench_{i}", hook, body, now, now) for i in range(n)])
db.commit()
PY
bench_start "$binary" "$work/data"
# (Arrivals without a webhook-id are wrk's last requests, landing after it stopped.)
arrived() { grep -c ' msg_' "$work/arrivals" || true; }
for _ in $(seq 1 600); do
  [ "$(arrived)" -ge "$deliveries" ] && break
  sleep 0.1
done
got=$(arrived)
repeats=$(awk '$2 ~ /^msg_/ {print $2}' "$work/arrivals" | sort | uniq -d | wc -l)
retried=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*), group_concat(DISTINCT last_error) FROM webhook_deliveries WHERE attempts > 1").fetchone())' "$work/data/gatehouse.db")
delivery_rate=$(awk '$2 ~ /^msg_/ {n++; if (n == 1) first = $1; last = $1} END {if (last > first) printf "%.0f", (n - 1) / (last - first); else print 0}' "$work/arrivals")
bench_stop
BENCH_PID=""
echo "webhooks: $got arrivals for $deliveries deliveries ($repeats sent more than once; tried again: $retried); ${delivery_rate}/s delivered (the receiver alone takes ${receiver_rps}/s)"

# The cost on the causing request.
"$binary" webhook remove "$hook" >/dev/null
bench_start "$binary" "$work/data"
email=bench@bench.edu password=Correct-Horse-42
bench_verified_user "$BENCH_URL" "$work/data" "$email" "$password"
access=$(curl -fsS -H 'content-type: application/json' "$BENCH_URL/api/v1/auth/token" \
  -d "{\"email\":\"$email\",\"password\":\"$password\"}" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
cat >"$work/patch.lua" <<LUA
wrk.method = "PATCH"
wrk.headers["content-type"] = "application/json"
wrk.headers["authorization"] = "Bearer $access"
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, '{"display_name":"Bench ' .. n .. '"}')
end
LUA
patch_rps() { wrk -t"$1" -c"$2" -d"${seconds}"s -s "$work/patch.lua" "$BENCH_URL/api/v1/account" 2>/dev/null | awk '/Requests\/sec/ {print $2}'; }
# Two loads: 16 connections (the cores saturated: the deliveries and the receiver take CPU from
# the requests) and one connection (the cores mostly idle: what the queued event adds to the
# request's own path, its delivery running beside it).
declare -a a_runs b_runs a_one b_one
for round in 1 2; do
  a_runs+=("$(patch_rps 2 16)")
  a_one+=("$(patch_rps 1 1)")
  hook=$("$binary" webhook add --url "$receiver" --events user.updated --json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  b_runs+=("$(patch_rps 2 16)")
  b_one+=("$(patch_rps 1 1)")
  "$binary" webhook remove "$hook" >/dev/null
done
bench_stop
BENCH_PID=""
python3 - "${a_runs[@]}" "${b_runs[@]}" "${a_one[@]}" "${b_one[@]}" <<'PY'
import sys
v = [float(x) for x in sys.argv[1:]]
for label, a, b in (("16 connections", v[0:2], v[2:4]), ("one connection", v[4:6], v[6:8])):
    print(f"profile changes, {label}: {sum(a)/2:.0f}/s without a webhook, {sum(b)/2:.0f}/s with "
          f"one (rounds A {a[0]:.0f} {a[1]:.0f}, B {b[0]:.0f} {b[1]:.0f}); "
          f"ratio with/without {sum(b)/sum(a):.2f}")
PY
