#!/usr/bin/env bash
# Webhooks against a verifier this project did not write: tests/webhooks/test_webhooks.py runs
# the real binary as a separate process, over real HTTP on 127.0.0.1, and checks every delivery
# with the `standardwebhooks` package from PyPI (Webhook(secret).verify(body, headers)).
#
#   scripts/webhooks-test.sh [BINARY]    (default: $CARGO_TARGET_DIR/debug/gatehouse)
#
# It uses the Python venv of scripts/fuzz-api.sh (${GATEHOUSE_VENV:-~/.cache/gatehouse-venv})
# and installs into it, only when missing, a pinned standardwebhooks (no dependencies, so
# schemathesis' pins are left alone) and pytest (which schemathesis brings already). Each test
# starts `gatehouse serve` on a free loopback port with a temporary data dir and maildir mail,
# captcha and rate limits off (GATEHOUSE_* variables), and uses the CLI on the same data dir
# (`campus add`, `admin create`, `webhook add --json`). It takes about 45 s: the retries and
# the 10 s timeout are waited out in real time. Any missing or unverifiable delivery fails it.
set -euo pipefail
cd "$(dirname "$0")/.."

STANDARDWEBHOOKS_VERSION=1.3.0
# Only when the venv has no pytest (schemathesis depends on it and brings its own).
PYTEST_VERSION=9.2.0
target=${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}
binary=${1:-$target/debug/gatehouse}
venv=${GATEHOUSE_VENV:-$HOME/.cache/gatehouse-venv}

if [ ! -x "$binary" ]; then
  echo "no gatehouse binary at $binary: run cargo build first" >&2
  exit 1
fi

[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
installed() { "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('$1') != '$2')" 2>/dev/null; }
if ! installed standardwebhooks "$STANDARDWEBHOOKS_VERSION"; then
  echo "installing standardwebhooks $STANDARDWEBHOOKS_VERSION into $venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps \
    "standardwebhooks==$STANDARDWEBHOOKS_VERSION"
fi
if ! "$venv/bin/python" -c "import pytest" 2>/dev/null; then
  echo "installing pytest $PYTEST_VERSION into $venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check "pytest==$PYTEST_VERSION"
fi

# Only pytest's own plugins (not schemathesis' or hypothesis'), and no cache in the clone.
export PYTEST_DISABLE_PLUGIN_AUTOLOAD=1
export GATEHOUSE_BIN
GATEHOUSE_BIN=$(realpath "$binary")
echo "webhooks: standardwebhooks $STANDARDWEBHOOKS_VERSION against $GATEHOUSE_BIN" >&2
exec "$venv/bin/python" -m pytest tests/webhooks -v -p no:cacheprovider --tb=short ${WEBHOOKS_TEST_ARGS:-}
