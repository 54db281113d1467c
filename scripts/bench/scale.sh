#!/usr/bin/env bash
# Scale: the same figures with 1,000 and with 1,000,000 accounts in the database (each with a
# session and two audit rows, from `gatehouse seed`):
#   - start-up time: from exec to the first healthy answer, median of 5 starts (target with
#     1,000,000 accounts: under 200 ms);
#   - session checks per second for a seeded account (target: 1,000,000 / 1,000 >= 0.9);
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
migrations=$(cat migrations/*.sql | sha256sum | cut -c1-12)
trap 'bench_stop' EXIT

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

start_ms() {
  local samples=()
  for _ in 1 2 3 4 5; do
    local started; started=$(date +%s%N)
    bench_start "$binary" "$1"
    samples+=($(( ($(date +%s%N) - started) / 1000000 )))
    bench_stop
  done
  printf '%s\n' "${samples[@]}" | sort -n | sed -n 3p
}

printf '%-10s %10s %10s %10s %14s %14s\n' users seed_s db_mib start_ms session_rps health_rps
declare -A rps
for users in 1000 "$large"; do
  dir=$(seeded "$users")
  seed_s=$(awk '{printf "%.1f", $1 / 1000}' "$dir/seeded")
  db_mib=$(du -m "$dir/data/gatehouse.db" | cut -f1)
  start=$(start_ms "$dir/data")
  bench_start "$binary" "$dir/data"
  # Account number 7 of the seed (any would do), with the seed's password.
  email=chloe.agarwal.7@seed.edu
  cookie=$(bench_login_cookie "$BENCH_URL" "$email" Seed-Password-1)
  [ -n "$cookie" ] || { echo "cannot sign in as $email" >&2; exit 1; }
  session=$(wrk -t2 -c32 -d"${seconds}s" -H "Cookie: gatehouse_session=$cookie" "$BENCH_URL/api/v1/auth/session" | awk '/Requests\/sec/ {print $2}')
  health=$(bench_rps "$BENCH_URL/health" "$seconds")
  bench_stop
  rps[$users]=$session
  printf '%-10s %10s %10s %10s %14s %14s\n' "$users" "$seed_s" "$db_mib" "$start" "$session" "$health"
done
printf '%-46s %8s\n' "session checks, $large / 1000 (target >= 0.9)" \
  "$(awk -v a="${rps[$large]}" -v b="${rps[1000]}" 'BEGIN {printf "%.2f", a / b}')"
