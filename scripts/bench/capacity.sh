#!/usr/bin/env bash
# Capacity figures: what docs/capacity.md builds its model from, in one run.
#   1. idle RSS after start with the 1,000 and the 1,000,000-account databases (median of
#      three starts, two seconds after the first healthy answer): memory per 100,000 accounts;
#   2. RSS of a server on the 1,000,000 database before and after SESSIONS distinct seeded
#      accounts (default 10,000) sign in (four clients at once) and then each make one session
#      check (GET /api/v1/auth/session), so that the in-process caches hold them: memory per
#      10,000 live sessions; and RSS once the caches' 60 s lifetime has passed;
#   3. database size per account, and its split by table (sqlite's dbstat; every seeded account
#      has one session and two audit rows);
#   4. `gatehouse backup` of the 1,000,000 database, server stopped: wall and CPU time, archive
#      size;
#   5. session checks per second (wrk -t2 -c32, 300 accounts' cookies in turn) and /health,
#      per core (the load generator shares the cores: a lower bound);
#   6. sign-ins per second: the machine's argon2id rate (tools' argon2_rate) per core, and the
#      server's (wrk -t1 -c16 POST /api/v1/auth/login, one account). Beside both sign-in
#      figures: the sign-ins the audit log holds for the hour before (the lockout check's cost
#      grows with them, see docs/capacity.md; the seeded ones age out an hour after seeding).
# Every server runs with MALLOC_ARENA_MAX=2 and rate limits off (lib.sh's bench_start).
# It reuses the seeded databases of scale.sh (run that first) and works on copies of them
# (start-up and sign-ins write; the 1,000,000 copy needs about 1.2 GB of disk in $TMPDIR).
#
#   cargo build --release --workspace && scripts/bench/scale.sh 10 1000000 &&
#   scripts/bench/capacity.sh [SESSIONS] [SECONDS] [LARGE_USERS]
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/lib.sh
bench_need_wrk
sessions=${1:-10000}
seconds=${2:-10}
large=${3:-1000000}
target=${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}
binary=${BENCH_BINARY:-$target/release/gatehouse}
argon2_rate=$target/release/argon2_rate
seed_dir=${BENCH_SEED_DIR:-$HOME/.cache/gatehouse-bench}
migrations=$(cat migrations/*.sql | sha256sum | cut -c1-12)
password=Seed-Password-1
cores=$(nproc)
[ -x "$binary" ] && [ -x "$argon2_rate" ] || {
  echo "build first: cargo build --release --workspace" >&2
  exit 1
}
for users in 1000 "$large"; do
  [ -f "$seed_dir/$users-$migrations/seeded" ] || {
    echo "no seeded database of $users accounts in $seed_dir: run scripts/bench/scale.sh 10 $large" >&2
    exit 1
  }
done
work=$(mktemp -d)
trap 'bench_stop || true; rm -rf "$work"' EXIT


rss_anon_kib() { awk '/^RssAnon/ {print $2}' "/proc/$1/status"; }
median3() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
div() { awk -v a="$1" -v b="$2" -v f="${3:-%.1f}" 'BEGIN {printf f, a / b}'; }

# idle_rss DATA_DIR: median VmRSS (KiB) of three starts, read 2 s after the first healthy answer.
idle_rss() {
  local samples=()
  for _ in 1 2 3; do
    bench_start "$binary" "$1" GATEHOUSE_BACKUP__SCHEDULE=
    sleep 2
    samples+=("$(bench_rss_kib "$BENCH_PID")")
    bench_stop
  done
  median3 "${samples[@]}"
}

# The client of part 2: signs EMAILS in, four at a time (one keep-alive connection each),
# writing one cookie a line; or checks each cookie of a file once, in order. Prints what it did.
cat >"$work/client.py" <<'PY'
import concurrent.futures, http.client, sys, threading, time, json
mode, port = sys.argv[1], int(sys.argv[2])
local = threading.local()
def conn():
    if not hasattr(local, "c"):
        local.c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    return local.c
def send(method, path, body=None, headers={}):
    for attempt in (1, 2):  # once more on a fresh connection if the server closed this one
        try:
            c = conn()
            c.request(method, path, body, headers)
            r = c.getresponse(); r.read()
            return r
        except (http.client.HTTPException, OSError):
            local.c.close(); del local.c
            if attempt == 2:
                raise
def login(email):
    body = json.dumps({"email": email, "password": "Seed-Password-1", "remember_me": True})
    started = time.monotonic()
    r = send("POST", "/api/v1/auth/login", body, {"content-type": "application/json"})
    for h, v in r.getheaders():
        if h.lower() == "set-cookie" and v.startswith("gatehouse_session="):
            return v.split(";")[0].split("=", 1)[1], time.monotonic() - started
    return None, time.monotonic() - started
if mode == "login":
    emails = [l.strip() for l in open(sys.argv[3]) if l.strip()]
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(login, emails))
    elapsed = time.monotonic() - started
    with open(sys.argv[4], "w") as out:
        for cookie, _ in results:
            if cookie:
                out.write(cookie + "\n")
    ok = sum(1 for c, _ in results if c)
    lat = sorted(t for _, t in results)
    print(f"ok {ok} failed {len(results) - ok} seconds {elapsed:.1f} "
          f"p50_ms {lat[len(lat) // 2] * 1000:.0f} p99_ms {lat[int(len(lat) * 0.99)] * 1000:.0f}")
else:
    cookies = [l.strip() for l in open(sys.argv[3]) if l.strip()]
    ok, started = 0, time.monotonic()
    for cookie in cookies:
        r = send("GET", "/api/v1/auth/session", headers={"cookie": "gatehouse_session=" + cookie})
        ok += r.status == 200
    print(f"ok {ok} failed {len(cookies) - ok} seconds {time.monotonic() - started:.1f}")
PY
field() { awk -v k="$1" '{for (i = 1; i < NF; i++) if ($i == k) print $(i + 1)}' <<<"$2"; }

bench_users_lua "$work/users.lua"

# 6a. The machine's argon2id rate first, with nothing else of ours running.
argon2=$("$argon2_rate" "$seconds")

# 3. Database size per account, from the seeded databases (read only).
small_src=$seed_dir/1000-$migrations/data
large_src=$seed_dir/$large-$migrations/data
db_small=$(stat -c %s "$small_src/gatehouse.db")
db_large=$(stat -c %s "$large_src/gatehouse.db")
echo "copying the $large-account data dir ($((db_large / 1048576)) MiB) to $work" >&2
cp -a "$small_src" "$work/small"
cp -a "$large_src" "$work/large"
# Bytes by table (indexes counted with their table) and rows, on the copy before any start.
python3 - "$work/large/gatehouse.db" >"$work/tables.txt" <<'PY'
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?immutable=1", uri=True)
sizes = dict(db.execute(
    "SELECT m.tbl_name, SUM(d.pgsize) FROM dbstat d JOIN sqlite_master m ON m.name = d.name"
    " GROUP BY m.tbl_name"))
for table in ("users", "sessions", "audit_log"):
    rows = db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    print(table, sizes.get(table, 0), rows)
print("other", sum(v for k, v in sizes.items() if k not in ("users", "sessions", "audit_log")), 0)
PY
table_bytes() { awk -v t="$1" '$1 == t {print $2}' "$work/tables.txt"; }
table_rows() { awk -v t="$1" '$1 == t {print $3}' "$work/tables.txt"; }
# Sign-ins recorded in the hour before now: every sign-in's lockout check counts the account's
# failures of the last hour, and how long that takes depends on the plan SQLite picks.
login_rows_hour() {
  python3 - "$1" <<'PY'
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
print(db.execute("SELECT count(*) FROM audit_log WHERE action = 'login' AND at > ?",
                 (int(time.time()) - 3600,)).fetchone()[0])
PY
}
login_rows_hour=$(login_rows_hour "$work/large/gatehouse.db")

# 1. Idle RSS, 1,000 and 1,000,000 accounts.
rss_small=$(idle_rss "$work/small")
rss_large=$(idle_rss "$work/large")

# 2. Live sessions on the 1,000,000 copy; 5 and 6b on the same server afterwards.
bench_seeded_emails "$sessions" >"$work/emails.txt"
bench_start "$binary" "$work/large" GATEHOUSE_BACKUP__SCHEDULE=
port=${BENCH_URL##*:}
sleep 2
rss_idle=$(bench_rss_kib "$BENCH_PID")
echo "signing in $sessions accounts, four at a time" >&2
signed=$(python3 "$work/client.py" login "$port" "$work/emails.txt" "$work/cookies.txt")
sleep 2
rss_signed=$(bench_rss_kib "$BENCH_PID") anon_signed=$(rss_anon_kib "$BENCH_PID")
checked=$(python3 "$work/client.py" check "$port" "$work/cookies.txt")
rss_checked=$(bench_rss_kib "$BENCH_PID") anon_checked=$(rss_anon_kib "$BENCH_PID")
echo "waiting 70 s for the caches' 60 s lifetime" >&2
sleep 70
curl -fsS -o /dev/null -H "Cookie: gatehouse_session=$(head -1 "$work/cookies.txt")" \
  "$BENCH_URL/api/v1/auth/session"
rss_expired=$(bench_rss_kib "$BENCH_PID")
ok_signed=$(field ok "$signed")
per_10k=$(awk -v a="$rss_checked" -v b="$rss_signed" -v n="$(field ok "$checked")" \
  'BEGIN {printf "%.1f", (a - b) / 1024 * 10000 / n}')
per_10k_anon=$(awk -v a="$anon_checked" -v b="$anon_signed" -v n="$(field ok "$checked")" \
  'BEGIN {printf "%.1f", (a - b) / 1024 * 10000 / n}')

# 5. Session checks (300 accounts' cookies in turn) and /health.
COOKIES=$(head -300 "$work/cookies.txt" | paste -sd,)
session_rps=$(COOKIES=$COOKIES wrk -t2 -c32 -d"${seconds}s" -s "$work/users.lua" \
  "$BENCH_URL/api/v1/auth/session" | awk '/Requests\/sec/ {print $2}')
health_rps=$(bench_rps "$BENCH_URL/health" "$seconds")

# 6b. The server's sign-in rate, one account, 16 clients.
login_rows_6b=$(login_rows_hour "$work/large/gatehouse.db")
cat >"$work/login.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"email":"$(head -1 "$work/emails.txt")","password":"$password"}'
LUA
login_out=$(wrk -t1 -c16 -d"${seconds}s" --timeout 60s --latency -s "$work/login.lua" "$BENCH_URL/api/v1/auth/login")
login_rps=$(awk '/Requests\/sec/ {print $2}' <<<"$login_out")
login_p50=$(awk '$1 == "50%" {print $2}' <<<"$login_out")
login_p99=$(awk '$1 == "99%" {print $2}' <<<"$login_out")
login_errors=$(awk '/Non-2xx/ {print $NF}' <<<"$login_out")
threads=$(bench_threads "$BENCH_PID")
rss_end=$(bench_rss_kib "$BENCH_PID")
bench_stop

# 4. Backup of the 1,000,000 copy, server stopped.
db_backed=$(stat -c %s "$work/large/gatehouse.db")
TIMEFORMAT='%R %U %S'
{ time GATEHOUSE_STORAGE__DATA_DIR="$work/large" GATEHOUSE_LOG__LEVEL=warn \
    "$binary" backup >"$work/backup.out" 2>&1; } 2>"$work/backup.time" ||
  { cat "$work/backup.out" >&2; exit 1; }
read -r backup_wall backup_user backup_sys <"$work/backup.time"
archive=$(ls "$work/large/backups/"gatehouse-*.tar.gz)
archive_bytes=$(stat -c %s "$archive")

mib() { div "$1" 1048576; }
kib_mib() { div "$1" 1024; }
printf '%-66s %14s\n' measure value
printf '%-66s %14s\n' "cores (nproc)" "$cores"
printf '%-66s %14s\n' "1. idle RSS MiB, 1,000 accounts (median of 3 starts)" "$(kib_mib "$rss_small")"
printf '%-66s %14s\n' "1. idle RSS MiB, $large accounts (median of 3 starts)" "$(kib_mib "$rss_large")"
printf '%-66s %14s\n' "1. RSS MiB per 100,000 accounts" \
  "$(awk -v a="$rss_large" -v b="$rss_small" -v n="$large" \
    'BEGIN {if (n > 1000) printf "%.2f", (a - b) / 1024 * 100000 / (n - 1000); else print "n/a"}')"
printf '%-66s %14s\n' "2. RSS MiB idle, before sign-ins ($large accounts)" "$(kib_mib "$rss_idle")"
printf '%-66s %14s\n' "2. login audit rows of the hour before the sign-ins" "$login_rows_hour"
printf '%-66s %14s\n' "2. sign-ins ok / failed (4 clients)" "$ok_signed / $(field failed "$signed")"
printf '%-66s %14s\n' "2. sign-ins/s, 4 clients, distinct accounts" "$(div "$ok_signed" "$(field seconds "$signed")")"
printf '%-66s %14s\n' "2. sign-in latency p50 / p99 ms, 4 clients" "$(field p50_ms "$signed") / $(field p99_ms "$signed")"
printf '%-66s %14s\n' "2. RSS MiB after the sign-ins (anonymous)" "$(kib_mib "$rss_signed") ($(kib_mib "$anon_signed"))"
printf '%-66s %14s\n' "2. session checks ok / failed, one per session, seconds" \
  "$(field ok "$checked") / $(field failed "$checked"), $(field seconds "$checked")"
printf '%-66s %14s\n' "2. RSS MiB after the checks (anonymous)" "$(kib_mib "$rss_checked") ($(kib_mib "$anon_checked"))"
printf '%-66s %14s\n' "2. RSS MiB per 10,000 live sessions (anonymous)" "$per_10k ($per_10k_anon)"
printf '%-66s %14s\n' "2. RSS MiB 70 s later (cache lifetime 60 s)" "$(kib_mib "$rss_expired")"
printf '%-66s %14s\n' "3. database MiB, 1,000 / $large accounts" "$(mib "$db_small") / $(mib "$db_large")"
printf '%-66s %14s\n' "3. database bytes per account ($large)" "$(div "$db_large" "$large" %.0f)"
for t in users sessions audit_log; do
  printf '%-66s %14s\n' "3. $t: MiB / rows / bytes per row (with its indexes)" \
    "$(mib "$(table_bytes $t)") / $(table_rows $t) / $(div "$(table_bytes $t)" "$(table_rows $t)" %.0f)"
done
printf '%-66s %14s\n' "3. other tables MiB" "$(mib "$(table_bytes other)")"
printf '%-66s %14s\n' "4. backup: database MiB" "$(mib "$db_backed")"
printf '%-66s %14s\n' "4. backup: wall s / CPU s (user + sys)" \
  "$backup_wall / $(awk -v u="$backup_user" -v s="$backup_sys" 'BEGIN {printf "%.2f", u + s}')"
printf '%-66s %14s\n' "4. backup: archive MiB" "$(mib "$archive_bytes")"
printf '%-66s %14s\n' "5. session checks/s (300 cookies, wrk -t2 -c32)" "$session_rps"
printf '%-66s %14s\n' "5. session checks/s per core (lower bound: wrk shares the cores)" "$(div "$session_rps" "$cores" %.0f)"
printf '%-66s %14s\n' "5. /health req/s (wrk -t2 -c32)" "$health_rps"
printf '%-66s %14s\n' "5. /health req/s per core" "$(div "$health_rps" "$cores" %.0f)"
printf '%-66s %14s\n' "6. argon2id verifications/s, every core (argon2_rate)" "$argon2"
printf '%-66s %14s\n' "6. argon2id verifications/s per core" "$(div "$argon2" "$cores")"
printf '%-66s %14s\n' "6. login audit rows of the hour before" "$login_rows_6b"
printf '%-66s %14s\n' "6. sign-ins/s, one account (wrk -t1 -c16)" "$login_rps"
printf '%-66s %14s\n' "6. sign-ins/s per core" "$(div "$login_rps" "$cores")"
printf '%-66s %14s\n' "6. sign-in latency p50 / p99, 16 clients" "$login_p50 / $login_p99"
printf '%-66s %14s\n' "6. sign-in answers not 2xx" "${login_errors:-0}"
printf '%-66s %14s\n' "server threads / RSS MiB at the end" "$threads / $(kib_mib "$rss_end")"
