#!/usr/bin/env bash
# Runs a command beside a throwaway PostgreSQL server:
#
#   scripts/with-postgres.sh CMD ARGS...
#
# It installs Debian's postgresql package when no server binaries are found (and says so),
# starts a fresh cluster in a temporary directory (listening on 127.0.0.1 only, on a free port,
# its Unix socket in that directory, trust authentication), creates the database gatehouse_test
# and runs the command with
#
#   GATEHOUSE_TEST_POSTGRES_URL=postgres://gatehouse@127.0.0.1:PORT/gatehouse_test
#   PGBIN=/usr/lib/postgresql/NN/bin   (psql, pg_dump, ... of that server)
#
# The role `gatehouse` is the cluster's superuser, so tests may create and drop databases of
# their own. The cluster uses the C locale (text sorts bytewise, like SQLite's BINARY
# collation) and UTF-8. The server is stopped and the directory removed when the command ends,
# however it ends; the script exits with the command's exit status.
#
# As root (CI) the server runs as the `postgres` system user (or `nobody` when there is none),
# because PostgreSQL refuses to run as root; as any other user it runs as that user.
#
# Environment: PGBIN (use these server binaries instead of the newest
# /usr/lib/postgresql/*/bin), GATEHOUSE_PG_START_TIMEOUT (seconds, default 30).
set -euo pipefail

if [ $# -eq 0 ]; then
  echo "usage: $0 CMD [ARGS...]" >&2
  exit 2
fi

say() { printf '==> %s\n' "$*" >&2; }
die() {
  printf 'with-postgres: %s\n' "$*" >&2
  exit 1
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# The newest /usr/lib/postgresql/NN/bin with a server, or $PGBIN when it has one.
find_pgbin() {
  if [ -n "${PGBIN:-}" ] && [ -x "$PGBIN/initdb" ]; then
    printf '%s\n' "$PGBIN"
    return
  fi
  local d best=""
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V); do
    if [ -x "$d/initdb" ] && [ -x "$d/postgres" ]; then best="$d"; fi
  done
  printf '%s\n' "$best"
}

PGBIN="$(find_pgbin)"
if [ -z "$PGBIN" ]; then
  if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
    die "no PostgreSQL server found (/usr/lib/postgresql/*/bin/initdb), and not root to install it (apt-get install postgresql)"
  fi
  say "installing PostgreSQL: Debian's postgresql package (apt-get update, apt-get install)"
  # Only the binaries are wanted: not the `main` cluster the package would otherwise create and
  # start on port 5432 (postgresql-common reads createcluster.d before creating it).
  as_root mkdir -p /etc/postgresql-common/createcluster.d
  echo 'create_main_cluster = false' |
    as_root tee /etc/postgresql-common/createcluster.d/50-gatehouse-no-main-cluster.conf >/dev/null
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    postgresql >/dev/null
  PGBIN="$(find_pgbin)"
  [ -n "$PGBIN" ] || die "installed postgresql, but found no /usr/lib/postgresql/*/bin/initdb"
fi

# Who runs the server: PostgreSQL refuses to run as root.
run_pg=()
if [ "$(id -u)" -eq 0 ]; then
  if id postgres >/dev/null 2>&1; then pg_user=postgres; else pg_user=nobody; fi
  run_pg=(runuser -u "$pg_user" --)
fi

# The server's user must reach the directory: as root, a TMPDIR it cannot enter means /tmp.
base="${TMPDIR:-/tmp}"
if [ "${#run_pg[@]}" -gt 0 ] && ! "${run_pg[@]}" test -x "$base"; then base=/tmp; fi
tmp="$(mktemp -d "$base/gatehouse-pg.XXXXXX")"
data="$tmp/data"
log="$tmp/server.log"
server_pid=""

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ -n "$server_pid" ]; then
    # A server still starting may not have written postmaster.pid yet (it does so first).
    local i
    for i in $(seq 100); do
      if [ -e "$data/postmaster.pid" ] || ! kill -0 "$server_pid" 2>/dev/null; then break; fi
      sleep 0.05
    done
    if [ -e "$data/postmaster.pid" ]; then
      # Immediate: the data is thrown away, there is nothing to flush.
      "${run_pg[@]}" "$PGBIN/pg_ctl" -D "$data" -m immediate -w -t 10 stop >/dev/null 2>&1 || {
        # pg_ctl could not stop it: end the postmaster by its own pid (and only it).
        local pid
        pid="$(head -n 1 "$data/postmaster.pid" 2>/dev/null || true)"
        if [ -n "$pid" ]; then kill -QUIT "$pid" 2>/dev/null || true; fi
      }
    else
      kill "$server_pid" 2>/dev/null || true
    fi
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ "${#run_pg[@]}" -gt 0 ]; then chown "$pg_user" "$tmp"; fi
chmod 700 "$tmp"

"${run_pg[@]}" "$PGBIN/initdb" -D "$data" -U gatehouse --auth=trust --encoding=UTF8 \
  --locale=C --no-sync --no-instructions >"$tmp/initdb.log" 2>&1 || {
  cat "$tmp/initdb.log" >&2
  die "initdb failed"
}

# Only TCP from 127.0.0.1, and the socket in $tmp (mode 700): trust is safe enough for a
# throwaway server.
printf '%s\n' 'local all all trust' 'host all all 127.0.0.1/32 trust' |
  "${run_pg[@]}" tee "$data/pg_hba.conf" >/dev/null

free_port() {
  python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

timeout="${GATEHOUSE_PG_START_TIMEOUT:-30}"
port=""
ready=0
# A port found free can be taken by someone else before the server binds it: try again then.
for attempt in 1 2 3; do
  port="$(free_port)"
  # fsync and friends off: nothing here must survive a crash.
  printf '%s\n' \
    "listen_addresses = '127.0.0.1'" \
    "port = $port" \
    "unix_socket_directories = '$tmp'" \
    "max_connections = 200" \
    "fsync = off" \
    "synchronous_commit = off" \
    "full_page_writes = off" |
    "${run_pg[@]}" tee "$data/postgresql.auto.conf" >/dev/null
  : >"$log"
  "${run_pg[@]}" "$PGBIN/postgres" -D "$data" >>"$log" 2>&1 &
  server_pid=$!
  deadline=$((SECONDS + timeout))
  while [ "$SECONDS" -lt "$deadline" ] && kill -0 "$server_pid" 2>/dev/null; do
    if "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$port" -U gatehouse -d postgres -t 1; then
      ready=1
      break
    fi
    sleep 0.05
  done
  if [ "$ready" = 1 ]; then break; fi
  if ! kill -0 "$server_pid" 2>/dev/null && grep -q 'could not bind' "$log" && [ "$attempt" -lt 3 ]; then
    wait "$server_pid" 2>/dev/null || true
    say "port $port was taken meanwhile; trying another one"
    continue
  fi
  break
done
if [ "$ready" != 1 ]; then
  cat "$log" >&2 || true
  die "PostgreSQL did not start within ${timeout}s (its log is above)"
fi

"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U gatehouse -d postgres \
  -c 'CREATE DATABASE gatehouse_test' >/dev/null

export PGBIN
export GATEHOUSE_TEST_POSTGRES_URL="postgres://gatehouse@127.0.0.1:$port/gatehouse_test"
say "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') at $GATEHOUSE_TEST_POSTGRES_URL"

# Not exec: the trap must stop the server afterwards. `|| status=$?` keeps set -e from exiting.
status=0
"$@" || status=$?
exit "$status"
