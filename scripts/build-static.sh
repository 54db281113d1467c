#!/usr/bin/env bash
# Builds a statically linked gatehouse (glibc with crt-static) for the .deb, with the `dist`
# profile (fat LTO, one codegen unit: Cargo.toml says why), and prints where it is. glibc rather than musl because the musl
# target is not part of this toolchain; scripts/bench/skeleton.sh compares its throughput with
# the default build.
#
# The target is named explicitly so that RUSTFLAGS apply to the binary only, not to build
# scripts and proc macros (which cannot be static).
set -euo pipefail
cd "$(dirname "$0")/.."
target=x86_64-unknown-linux-gnu
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}"
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
  cargo build --profile dist --locked --target "$target"
binary="$CARGO_TARGET_DIR/$target/dist/gatehouse"
if ldd "$binary" 2>&1 | grep -q "statically linked\|not a dynamic executable"; then
  echo "static binary: $binary ($(du -h "$binary" | cut -f1))"
else
  echo "error: $binary is not statically linked:" >&2
  ldd "$binary" >&2
  exit 1
fi
