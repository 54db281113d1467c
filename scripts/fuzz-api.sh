#!/usr/bin/env bash
# API fuzzing: schemathesis against the running binary's own /openapi.json, every check on.
#
#   scripts/fuzz-api.sh [BINARY]         (default: $CARGO_TARGET_DIR/debug/gatehouse)
#   FUZZ_API_EXAMPLES=50 FUZZ_API_SECONDS=240 scripts/fuzz-api.sh
#
# It creates a Python venv with a pinned schemathesis (under ~/.cache, reused), starts the
# binary on a free loopback port with a temporary data directory (one campus, maildir mail,
# rate limits, account lockout and captcha off), creates an admin with the CLI and signs it
# in for a bearer token, so protected and admin operations are exercised as a signed-in user; the
# `ignored_auth` check then proves they refuse the same requests without it. The run fails on
# any check failure (exit status of schemathesis). Reports go to $FUZZ_API_REPORT_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
target=${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}
binary=${1:-$target/debug/gatehouse}
examples=${FUZZ_API_EXAMPLES:-40}
# A hard bound for the whole schemathesis run (the step must stay a few minutes in CI).
seconds=${FUZZ_API_SECONDS:-240}
venv=${GATEHOUSE_VENV:-$HOME/.cache/gatehouse-venv}

if [ ! -x "$binary" ]; then
  echo "no gatehouse binary at $binary: run cargo build first" >&2
  exit 1
fi

if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  echo "installing schemathesis $SCHEMATHESIS_VERSION into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

work=$(mktemp -d)
report_dir=${FUZZ_API_REPORT_DIR:-$work/report}
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  if [ "${FUZZ_API_KEEP:-}" = 1 ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

export GATEHOUSE_STORAGE__DATA_DIR="$work/data"
# A free port chosen here, so that public_url can name it as localhost: browsers (and so
# Gatehouse) offer passkeys only on a domain name, and the passkey operations are fuzzed too.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export GATEHOUSE_SERVER__LISTEN=127.0.0.1:$port
export GATEHOUSE_SERVER__PUBLIC_URL=http://localhost:$port
export GATEHOUSE_RATE_LIMIT__ENABLED=false
# The fuzzer reads the admin's email from the API and sends it with made-up passwords: with
# lockout on, enough of them lock its own identity out for an hour (the 100-failures cap).
export GATEHOUSE_RATE_LIMIT__LOCKOUT=false
export GATEHOUSE_CAPTCHA__ENABLED=false
export GATEHOUSE_MAIL__TRANSPORT=maildir
export GATEHOUSE_LOG__LEVEL=warn

"$binary" campus add --name "Fuzz University" --domain fuzz.edu >/dev/null
email=fuzz-admin@fuzz.edu password=Fuzzing-Admin-42
printf '%s\n' "$password" >"$work/password"
"$binary" admin create --email "$email" --password-file "$work/password" --display-name Fuzz >/dev/null

"$binary" serve >"$work/server.out" 2>&1 &
pid=$!
url=""
for _ in $(seq 1 300); do
  url=$(sed -n 's/^Gatehouse [^ ]* is serving on \(.*\)$/http:\/\/\1/p' "$work/server.out")
  [ -n "$url" ] && curl -fsS "$url/health" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/server.out" >&2; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { echo "gatehouse did not start:" >&2; cat "$work/server.out" >&2; exit 1; }

# The admin signs in for a bearer token (scripts/fuzz_api_auth.py, refreshed every 2 s:
# logout and token revocation, which the fuzzer calls too, end it). The cookie schemes are
# left to schemathesis: it sends made-up cookies, which must be refused (ignored_auth).
# scripts/fuzz_api_hooks.py loads that and drops one kind of false failure (see below).
export GATEHOUSE_FUZZ_URL=$url GATEHOUSE_FUZZ_EMAIL=$email GATEHOUSE_FUZZ_PASSWORD=$password
export SCHEMATHESIS_HOOKS=fuzz_api_hooks PYTHONPATH="$PWD/scripts${PYTHONPATH:+:$PYTHONPATH}"

# Every check runs except positive_data_acceptance, which expects every schema-valid body to
# get a 2xx. The server checks more than JSON Schema can say (campus email domains, the
# password policy, phone numbering plans, single-use tokens and codes that exist only in its
# database) and answers such bodies 400/422 with a problem code, as it answers every error
# (application/problem+json with a stable `code`).
#
# negative_data_rejection is on: every JSON body goes through StrictJson
# (src/http/strict_json.rs), which refuses what the published schema refuses (a number or
# boolean in a string field, null in any field) with 400 malformed_request, where poem-openapi
# alone read 5 as "5" and null as absent. The one failure dropped is the fuzzer's own: a body
# it calls schema-violating because of a constraint it inferred from a 4xx message, which the
# published schema accepts (scripts/fuzz_api_hooks.py; counted as "dropped by filter_failure").
echo "fuzzing $url/openapi.json: at most $examples examples per operation, $seconds s" >&2
status=0
timeout --signal=INT "$((seconds + 60))" \
  "$venv/bin/schemathesis" run "$url/openapi.json" \
  --checks all \
  --exclude-checks positive_data_acceptance \
  --max-examples "$examples" \
  --max-time "$seconds" \
  --seed "${FUZZ_API_SEED:-1}" \
  --workers 1 \
  --request-timeout 10 \
  --suppress-health-check too_slow \
  --report junit,vcr --report-dir "$report_dir" ${FUZZ_API_ARGS:-} \
  || status=$?

# A server error must also never leave a trace of a panic or internal detail in its output.
if grep -Eq 'panicked|RUST_BACKTRACE' "$work/server.out"; then
  echo "the server panicked during fuzzing:" >&2
  grep -E -A5 'panicked' "$work/server.out" >&2
  status=1
fi
kill -0 "$pid" 2>/dev/null || { echo "the server died during fuzzing" >&2; status=1; }
# On a failure the server's own warnings say what it saw (its log holds no secrets).
if [ "$status" != 0 ]; then
  echo "the last lines the server logged (level warn):" >&2
  tail -n 40 "$work/server.out" >&2
fi
exit "$status"
