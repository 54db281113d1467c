#!/usr/bin/env bash
# Crash durability: sign-ups with email verification, sign-ins, refresh-token rotations and
# phone-code sign-ins against the real binary, which is killed with SIGKILL at a random moment
# (0.5-3 s into each round) ROUNDS times (default 20). After every restart each write the
# server answered 2xx must still be in effect, and `PRAGMA integrity_check` must be ok; at the
# end every outbox message must have been delivered (at least once, by its outbox id).
# The driver is tools/src/bin/crash_load.rs; it prints a line per round and exits non-zero on
# a loss.
#
#   cargo build --release --workspace --bins && scripts/bench/crash.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
target=${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}
binary=${BENCH_BINARY:-$target/release/gatehouse}
"$target/release/crash_load" "$binary" "${1:-20}"
