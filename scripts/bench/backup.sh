#!/usr/bin/env bash
# Backup figures for a campus of 100,000 accounts, in one run:
#   - database size, backup time and archive size with the server idle;
#   - request latency p99 (wrk --latency) of GET /ready (a database write per request) and
#     GET /api/v1/auth/session (bearer token) without a backup, then while backups run back to
#     back through POST /api/v1/admin/backups, and the backup times under that load.
# Accounts are seeded with SQL in one transaction, all sharing one precomputed password hash.
#
#   scripts/build-static.sh (or cargo build --release) && scripts/bench/backup.sh [USERS] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/lib.sh
bench_need_wrk
users=${1:-100000}
seconds=${2:-15}
target=${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}
binary=$target/x86_64-unknown-linux-gnu/dist/gatehouse
[ -x "$binary" ] || binary=$target/release/gatehouse
[ -x "$binary" ] || { echo "build first: scripts/build-static.sh" >&2; exit 1; }
work=$(mktemp -d)
trap 'bench_stop || true; rm -rf "$work"' EXIT
data=$work/data
password=Correct-Horse-42

GATEHOUSE_STORAGE__DATA_DIR="$data" "$binary" migrate >/dev/null
GATEHOUSE_STORAGE__DATA_DIR="$data" "$binary" campus add --name Bench --domain bench.edu >/dev/null
printf '%s' "$password" >"$work/admin.pass"
GATEHOUSE_STORAGE__DATA_DIR="$data" "$binary" admin create --email admin@bench.edu \
  --password-file "$work/admin.pass" >/dev/null
# The admin's hash is a real one; every seeded account shares it.
python3 - "$data/gatehouse.db" "$users" <<'PY'
import os, sqlite3, sys, time, uuid
db = sqlite3.connect(sys.argv[1])
users = int(sys.argv[2])
hash_, campus = db.execute("SELECT password_hash, (SELECT id FROM campuses LIMIT 1) FROM users LIMIT 1").fetchone()
now = int(time.time())
db.execute("BEGIN")
for i in range(users):
    uid = str(uuid.uuid4())
    db.execute(
        "INSERT INTO users (id, email_index, email, display_name, password_hash, campus_id, role,"
        " email_verified_at, created_at) VALUES (?, ?, ?, ?, ?, ?, 'user', ?, ?)",
        (uid, os.urandom(32), f"student{i}@bench.edu", f"Student {i}", hash_, campus, now, now))
    db.execute(
        "INSERT INTO audit_log (at, actor_id, action, subject_id, ip, outcome, details)"
        " VALUES (?, ?, 'user.registered', ?, '10.0.0.1', 'success', '{}')", (now, uid, uid))
db.execute("COMMIT")
db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
PY
db_bytes=$(stat -c %s "$data/gatehouse.db")

bench_start "$binary" "$data" GATEHOUSE_BACKUP__SCHEDULE= GATEHOUSE_BACKUP__KEEP=3
access=$(curl -fsS -H 'content-type: application/json' "$BENCH_URL/api/v1/auth/token" \
  -d "{\"email\":\"admin@bench.edu\",\"password\":\"$password\"}" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

# One backup; prints "seconds bytes".
backup_once() {
  local start end body
  start=$(date +%s.%N)
  body=$(curl -fsS -X POST -H "authorization: Bearer $access" "$BENCH_URL/api/v1/admin/backups")
  end=$(date +%s.%N)
  echo "$(echo "$end - $start" | bc) $(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["size_bytes"])' "$body")"
}

read -r idle_seconds archive_bytes < <(backup_once)

# p99 in ms from wrk --latency output.
p99() { awk '$1 == "99%" { v=$2; if (v ~ /us$/) { sub(/us/,"",v); v/=1000 } else if (v ~ /ms$/) { sub(/ms/,"",v) } else if (v ~ /s$/) { sub(/s/,"",v); v*=1000 } print v }'; }
load() { # URL [header]: p99 ms
  if [ -n "${2:-}" ]; then wrk -t2 -c16 -d"${seconds}"s --latency -H "$2" "$1" 2>/dev/null | p99
  else wrk -t2 -c16 -d"${seconds}"s --latency "$1" 2>/dev/null | p99; fi
}

ready_quiet=$(load "$BENCH_URL/ready")
session_quiet=$(load "$BENCH_URL/api/v1/auth/session" "authorization: Bearer $access")

# Backups back to back in the background while the same load runs again.
: >"$work/busy-times"
( while [ ! -e "$work/stop" ]; do backup_once >>"$work/busy-times"; done ) &
loop=$!
sleep 0.5
ready_busy=$(load "$BENCH_URL/ready")
session_busy=$(load "$BENCH_URL/api/v1/auth/session" "authorization: Bearer $access")
touch "$work/stop"
wait "$loop"
busy_count=$(wc -l <"$work/busy-times")
busy_mean=$(awk '{s+=$1} END {if (NR) printf "%.2f", s/NR}' "$work/busy-times")

mib() { echo "scale=1; $1 / 1048576" | bc; }
echo
echo "Backups, $users accounts ($(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $binary)"
echo
printf '| %-52s | %12s |\n' "measure" "value"
printf '|%s|%s|\n' "$(printf -- '-%.0s' {1..54})" "$(printf -- '-%.0s' {1..14})"
printf '| %-52s | %12s |\n' "database size" "$(mib "$db_bytes") MiB"
printf '| %-52s | %12s |\n' "backup archive size (tar.gz)" "$(mib "$archive_bytes") MiB"
printf '| %-52s | %12s |\n' "backup time, server idle" "$(printf '%.2f' "$idle_seconds") s"
printf '| %-52s | %12s |\n' "backup time under load (mean of $busy_count)" "$busy_mean s"
printf '| %-52s | %12s |\n' "GET /ready p99 (one DB write), no backup" "$ready_quiet ms"
printf '| %-52s | %12s |\n' "GET /ready p99, backups running" "$ready_busy ms"
printf '| %-52s | %12s |\n' "GET /api/v1/auth/session p99 (bearer), no backup" "$session_quiet ms"
printf '| %-52s | %12s |\n' "GET /api/v1/auth/session p99, backups running" "$session_busy ms"
