#!/usr/bin/env bash
# Scale: the same figures with 1,000 and with 1,000,000 accounts in the database (each with a
# session and two audit rows, from `gatehouse seed`):
#   - start-up time, wall: from exec to the first healthy answer, five starts (median and the
#     five sorted; target with 1,000,000 accounts: under 200 ms);
#   - session checks per second with SESSIONS distinct seeded accounts' cookies in turn
#     (default 300, so most checks are not answered from one cached entry; target: 1,000,000
#     / 1,000 >= 0.9), and with one cookie and /health for comparison, in ROUNDS (default 3)
#     alternating rounds;
#   - the database size and how long seeding took.
# Seeded databases are kept in $BENCH_SEED_DIR (default ~/.cache/gatehouse-bench) and reused
# while the binary's migrations match; delete the directory to seed afresh.
#
#   cargo build --release && scripts/bench/scale.sh [SECONDS] [LARGE_USERS]
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/lib.sh
bench_need_wrk
seconds=${1:-10}
large=${2:-1000000}
target=${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}
binary=${BENCH_BINARY:-$target/release/gatehouse}
seed_dir=${BENCH_SEED_DIR:-$HOME/.cache/gatehouse-bench}
sessions=${SESSIONS:-300}
work=$(mktemp -d)
migrations=$(cat migrations/*.sql | sha256sum | cut -c1-12)
trap 'bench_stop; rm -rf "$work"' EXIT
bench_users_lua "$work/users.lua"


# seeded USERS: the data directory with USERS seeded accounts (seeds it when missing).
seeded() {
  local dir="$seed_dir/$1-$migrations"
  if [ ! -f "$dir/seeded" ]; then
    rm -rf "$dir"
    mkdir -p "$dir"
    local started; started=$(date +%s%N)
    GATEHOUSE_STORAGE__DATA_DIR="$dir/data" "$binary" seed --users "$1" --domain seed.edu >&2
    echo $(( ($(date +%s%N) - started) / 1000000 )) >"$dir/seeded"
  fi
  echo "$dir"
}

# start_ms DATA_DIR: five starts, exec to the first healthy answer (polled every 5 ms);
# prints "median (sorted list)".
start_ms() {
  local samples=() port
  for _ in 1 2 3 4 5; do
    port=$(bench_free_port)
    local started; started=$(date +%s%N)
    GATEHOUSE_STORAGE__DATA_DIR="$1" GATEHOUSE_SERVER__LISTEN="127.0.0.1:$port" \
      GATEHOUSE_LOG__LEVEL=warn "$binary" serve >/dev/null 2>&1 &
    local pid=$!
    until curl -fsS -o /dev/null "http://127.0.0.1:$port/health" 2>/dev/null; do sleep 0.005; done
    samples+=($(( ($(date +%s%N) - started) / 1000000 )))
    kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  done
  local sorted; sorted=$(printf '%s\n' "${samples[@]}" | sort -n)
  echo "$(sed -n 3p <<<"$sorted") ($(paste -sd, <<<"$sorted"))"
}

# Both servers run at once, idle but for the one being measured: each round measures the
# small database, then the large one (A B A B), so a machine that gets busier halfway through
# slows both alike and the ratio holds.
declare -A url pid cookies start seed_s db_mib
emails=$(bench_seeded_emails "$sessions")
for users in 1000 "$large"; do
  dir=$(seeded "$users")
  seed_s[$users]=$(awk '{printf "%.1f", $1 / 1000}' "$dir/seeded")
  db_mib[$users]=$(du -m "$dir/data/gatehouse.db" | cut -f1)
  start[$users]=$(start_ms "$dir/data")
  bench_start "$binary" "$dir/data"
  url[$users]=$BENCH_URL pid[$users]=$BENCH_PID
  trap 'kill -TERM ${pid[*]} 2>/dev/null; rm -rf "$work"' EXIT
  list=""
  while read -r email; do
    cookie=$(bench_login_cookie "$BENCH_URL" "$email" Seed-Password-1)
    [ -n "$cookie" ] || { echo "cannot sign in as $email" >&2; exit 1; }
    list+="${list:+,}$cookie"
  done <<<"$emails"
  cookies[$users]=$list
done

declare -A many one health
rounds=${ROUNDS:-3}
for _ in $(seq 1 "$rounds"); do
  for users in 1000 "$large"; do
    u=${url[$users]}
    r=$(COOKIES=${cookies[$users]} wrk -t2 -c32 -d"${seconds}s" -s "$work/users.lua" \
      "$u/api/v1/auth/session" | awk '/Requests\/sec/ {print $2}')
    many[$users]=$(awk -v a="${many[$users]:-0}" -v b="$r" 'BEGIN {print a + b}')
    r=$(wrk -t2 -c32 -d"${seconds}s" -H "Cookie: gatehouse_session=${cookies[$users]%%,*}" \
      "$u/api/v1/auth/session" | awk '/Requests\/sec/ {print $2}')
    one[$users]=$(awk -v a="${one[$users]:-0}" -v b="$r" 'BEGIN {print a + b}')
    r=$(bench_rps "$u/health" "$seconds")
    health[$users]=$(awk -v a="${health[$users]:-0}" -v b="$r" 'BEGIN {print a + b}')
  done
done
mean() { awk -v a="$1" -v n="$rounds" 'BEGIN {printf "%.0f", a / n}'; }

printf '%-10s %8s %8s %-26s %14s %12s %12s\n' users seed_s db_mib "start_ms median (sorted)" \
  "${sessions}_sessions/s" one_cookie/s health/s
for users in 1000 "$large"; do
  printf '%-10s %8s %8s %-26s %14s %12s %12s\n' "$users" "${seed_s[$users]}" \
    "${db_mib[$users]}" "${start[$users]}" "$(mean "${many[$users]}")" \
    "$(mean "${one[$users]}")" "$(mean "${health[$users]}")"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
printf '%-62s %8s\n' "session checks, $sessions sessions, $large / 1000 (target >= 0.9)" \
  "$(ratio "${many[$large]}" "${many[1000]}")"
printf '%-62s %8s\n' "session checks, one cookie, $large / 1000" "$(ratio "${one[$large]}" "${one[1000]}")"
printf '%-62s %8s\n' "/health, $large / 1000 (control: no database)" \
  "$(ratio "${health[$large]}" "${health[1000]}")"
