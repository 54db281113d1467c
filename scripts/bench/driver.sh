#!/usr/bin/env bash
# Driver licence extraction figures (tools/src/bin/driver_bench.rs):
#   - success rate and time per licence over generated backs (clean, rotated, blurred, noisy,
#     PNG and JPEG, 1600 to 3000 pixels wide): decode + PDF417 + AAMVA parse, as an upload does;
#   - peak memory of one process decoding and reading the largest image the default
#     configuration accepts (24 MP JPEG), measured in a fresh process (VmHWM).
#
#   scripts/bench/driver.sh [COUNT per set, default 10]
set -euo pipefail
cd "$(dirname "$0")/../.."
count=${1:-10}
target=${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}
cargo build --quiet --release -p gatehouse-tools --bin driver_bench
bench=$target/release/driver_bench
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== extraction over the generated set ($count licences per set)"
"$bench" set "$count"
echo
echo "== memory while decoding the largest allowed image"
"$bench" write-largest "$work/largest.jpg"
"$bench" decode "$work/largest.jpg"
