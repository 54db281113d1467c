#!/usr/bin/env bash
# Calibration of the proof-of-work captcha: the web UI's solver (a Web Worker) in Chromium,
# hashes per second on this machine, and the mean solve time per difficulty here and on a
# phone taken as 4x (mid-tier) or 6x (low-end) slower (Chrome DevTools' CPU slowdowns).
# Needs what scripts/e2e.sh installs (node, chromium, tests/e2e/node_modules).
#
#   cargo build && scripts/bench/captcha.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}"
export GATEHOUSE_BIN="${GATEHOUSE_BIN:-$CARGO_TARGET_DIR/debug/gatehouse}"
cd tests/e2e
[ -d node_modules ] || npm ci --no-audit --no-fund
node bench-captcha.mjs
