#!/usr/bin/env bash
# Builds the .deb: the static `dist` binary (scripts/build-static.sh), the systemd unit, the
# sysusers file and maintainer scripts (packaging/debian/), and the commented production
# config as a conffile. Prints the path of the .deb on its last line.
#
#   scripts/package-deb.sh            build the binary, then the package
#   scripts/package-deb.sh --no-build package the binary built before (CI builds it once)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}"
target=x86_64-unknown-linux-gnu

if ! cargo deb --version >/dev/null 2>&1; then
  echo "==> installing cargo-deb (once)" >&2
  cargo install cargo-deb --locked
fi
if [ "${1:-}" != "--no-build" ]; then
  bash scripts/build-static.sh >&2
fi
binary="$CARGO_TARGET_DIR/$target/dist/gatehouse"
[ -x "$binary" ] || { echo "error: no static binary at $binary (run without --no-build)" >&2; exit 1; }
out="$CARGO_TARGET_DIR/debian"
mkdir -p "$out"
cargo deb --no-build --profile dist --target "$target" --output "$out" >&2
deb=$(ls -t "$out"/gatehouse_*.deb | head -n1)
echo "$deb"
