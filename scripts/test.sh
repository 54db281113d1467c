#!/usr/bin/env bash
# Every check there is, in the order a failure is cheapest to find. CI runs this (.ci/run).
# It installs what it needs that is missing and says what it is doing.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

# A target directory outside the clone keeps CI's fresh clones fast; a cold one works too.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
mkdir -p "$CARGO_TARGET_DIR"

step "toolchain: $(cargo --version)"
for component in rustfmt clippy; do
  if ! rustup component list --installed 2>/dev/null | grep -q "^$component"; then
    step "installing the $component component"
    rustup component add "$component"
  fi
done

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, -D warnings)"
cargo clippy --locked --all-targets -- -D warnings

# Licence OCR (the driver feature) is tested only where tesseract is installed; the .deb
# recommends tesseract-ocr, so CI installs it too. Without root it stays skipped, and says so.
if ! command -v tesseract >/dev/null 2>&1; then
  step "installing tesseract-ocr (Debian package) for the licence OCR test"
  if [ "$(id -u)" = 0 ]; then
    { apt-get update -qq && apt-get install -y -qq tesseract-ocr >/dev/null; } ||
      echo "could not install tesseract-ocr: the OCR test will be skipped" >&2
  elif command -v sudo >/dev/null 2>&1; then
    { sudo apt-get update -qq && sudo apt-get install -y -qq tesseract-ocr >/dev/null; } ||
      echo "could not install tesseract-ocr: the OCR test will be skipped" >&2
  else
    echo "tesseract is not installed and this is not root: the OCR test will be skipped" >&2
  fi
fi

step "cargo test (unit and integration tests)"
cargo test --locked --no-fail-fast

step "OpenAPI drift: openapi/openapi.yaml against 'gatehouse openapi'"
if ! diff -u openapi/openapi.yaml <("$CARGO_TARGET_DIR/debug/gatehouse" openapi); then
  echo "openapi/openapi.yaml is out of date: run scripts/update-openapi.sh and commit it" >&2
  exit 1
fi

step "browser tests (scripts/e2e.sh)"
bash scripts/e2e.sh

step "all checks passed"
