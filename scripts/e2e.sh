#!/usr/bin/env bash
# Browser tests of the web UI (tests/e2e): playwright-core drives Debian's chromium against the
# real gatehouse binary, which each test file starts with a temporary data directory. It
# installs what is missing (chromium and sqlite3 with apt, the npm packages with `npm ci`) and says what it
# is doing. Screenshots of every page land in tests/e2e/artifacts/.
#
# Environment: GATEHOUSE_BIN (default $CARGO_TARGET_DIR/debug/gatehouse, built when missing),
# LICENCE_IMAGE_BIN (default $CARGO_TARGET_DIR/debug/licence_image, built when missing),
# CHROMIUM_PATH (default /usr/bin/chromium), E2E_ARTIFACTS (screenshot folder).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}"
export GATEHOUSE_BIN="${GATEHOUSE_BIN:-$CARGO_TARGET_DIR/debug/gatehouse}"
export CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
  step "installing $* (apt)"
  as_root apt-get update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
}

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  apt_install nodejs npm
fi
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 20 ]; then
  echo "the browser tests need Node.js 20 or newer; this is $(node --version)" >&2
  exit 1
fi
step "node $(node --version), npm $(npm --version)"

if [ ! -x "$CHROMIUM_PATH" ]; then
  apt_install chromium
fi
step "browser: $("$CHROMIUM_PATH" --version 2>/dev/null | head -n 1)"

# The outbox test marks a failed message as given up on with the sqlite3 command.
if ! command -v sqlite3 >/dev/null 2>&1; then
  apt_install sqlite3
fi

if [ ! -x "$GATEHOUSE_BIN" ]; then
  step "building gatehouse (no binary at $GATEHOUSE_BIN)"
  cargo build --locked
fi
step "binary: $GATEHOUSE_BIN"
# The driver tests upload generated licence images (tools/src/bin/licence_image.rs).
export LICENCE_IMAGE_BIN="${LICENCE_IMAGE_BIN:-$CARGO_TARGET_DIR/debug/licence_image}"
if [ ! -x "$LICENCE_IMAGE_BIN" ]; then
  step "building the licence image generator (no binary at $LICENCE_IMAGE_BIN)"
  cargo build --locked -p gatehouse-tools --bin licence_image
fi

cd tests/e2e
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "npm ci (tests/e2e)"
  npm ci --no-audit --no-fund
fi

step "browser tests (node --test tests/e2e/*.test.js)"
node --test --test-concurrency=1 --test-reporter=spec ./*.test.js
