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

step "cargo clippy (workspace: the server and tools/, all targets, -D warnings)"
cargo clippy --locked --workspace --all-targets -- -D warnings

# Licence OCR (the driver feature) is tested only where tesseract is installed, with DejaVu Sans
# to print the generated licence fronts; the .deb recommends tesseract-ocr, so CI installs both.
# Without root they stay missing and the OCR test is skipped, and says so.
ocr_packages=()
command -v tesseract >/dev/null 2>&1 || ocr_packages+=(tesseract-ocr)
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || [ -e /usr/share/fonts/TTF/DejaVuSans.ttf ] ||
  ocr_packages+=(fonts-dejavu-core)
if [ ${#ocr_packages[@]} -gt 0 ]; then
  step "installing ${ocr_packages[*]} (Debian packages) for the licence OCR test"
  if [ "$(id -u)" = 0 ]; then
    { apt-get update -qq && apt-get install -y -qq "${ocr_packages[@]}" >/dev/null; } ||
      echo "could not install ${ocr_packages[*]}: the OCR test will be skipped" >&2
  elif command -v sudo >/dev/null 2>&1; then
    { sudo apt-get update -qq && sudo apt-get install -y -qq "${ocr_packages[@]}" >/dev/null; } ||
      echo "could not install ${ocr_packages[*]}: the OCR test will be skipped" >&2
  else
    echo "${ocr_packages[*]} not installed and this is not root: the OCR test will be skipped" >&2
  fi
fi
# Where tesseract is, the OCR test must run: a skip there (no font) fails it instead.
if command -v tesseract >/dev/null 2>&1; then
  export GATEHOUSE_REQUIRE_OCR=1
fi

# A throwaway PostgreSQL (Debian's package, installed when missing) for the tests of the second
# storage engine (SPEC section 14): scripts/with-postgres.sh starts it on a free loopback port,
# passes its URL in GATEHOUSE_TEST_POSTGRES_URL and removes it afterwards.
step "PostgreSQL schema: migrations/postgres/ against the SQLite migrations (scripts/postgres/compare-schemas.py)"
scripts/with-postgres.sh python3 scripts/postgres/compare-schemas.py

step "cargo test (unit and integration tests on SQLite; the storage layer, the two-node test, migrate-to-postgres and PostgreSQL backups on PostgreSQL)"
scripts/with-postgres.sh cargo test --locked --no-fail-fast

# The whole integration suite again with every test server on PostgreSQL (each in a database
# of its own: tests/it/support/engine.rs). Tests about SQLite itself say they are skipped.
step "integration tests on PostgreSQL (GATEHOUSE_IT_ENGINE=postgres)"
GATEHOUSE_IT_ENGINE=postgres scripts/with-postgres.sh cargo test --locked --no-fail-fast --test it

step "OpenAPI drift: openapi/openapi.yaml against 'gatehouse openapi'"
if ! diff -u openapi/openapi.yaml <("$CARGO_TARGET_DIR/debug/gatehouse" openapi); then
  echo "openapi/openapi.yaml is out of date: run scripts/update-openapi.sh and commit it" >&2
  exit 1
fi

step "API fuzzing: schemathesis against the binary's own /openapi.json (scripts/fuzz-api.sh)"
bash scripts/fuzz-api.sh "$CARGO_TARGET_DIR/debug/gatehouse"

step "webhooks: the standardwebhooks verifier against the binary (scripts/webhooks-test.sh)"
bash scripts/webhooks-test.sh "$CARGO_TARGET_DIR/debug/gatehouse"

step "browser tests (scripts/e2e.sh)"
bash scripts/e2e.sh

# The .deb: one static `dist` build (minutes), reused by the package; then installed on this
# machine, checked and purged (scripts/check-package.sh says why not a throwaway root). That
# changes the machine it runs on, so it runs only in CI (`CI` set, as .ci/run does) or when
# asked with GATEHOUSE_PACKAGE_CHECK=1; a developer's own run leaves the machine alone
# (GATEHOUSE_PACKAGE_CHECK=0 skips it in CI too). It needs root, dpkg and systemd-analyze: in
# CI their absence is an error, so that the check cannot quietly stop running there.
package_check=${GATEHOUSE_PACKAGE_CHECK:-}
if [ -z "$package_check" ]; then
  if [ -n "${CI:-}" ]; then package_check=1; else package_check=0; fi
fi
if [ "$package_check" != 1 ]; then
  step "package: skipped (it installs and purges a .deb on this machine; it runs when CI is set or GATEHOUSE_PACKAGE_CHECK=1)"
elif [ "$(id -u)" != 0 ] || ! command -v dpkg >/dev/null || ! command -v systemd-analyze >/dev/null; then
  if [ -n "${CI:-}" ]; then
    echo "error: the package check needs root, dpkg and systemd-analyze, and CI has not got them" >&2
    exit 1
  fi
  step "package: skipped (needs root, dpkg and systemd-analyze)"
else
  step "package: static dist build and .deb (scripts/package-deb.sh)"
  deb=$(bash scripts/package-deb.sh | tail -n1)
  step "package: install and check $deb (scripts/check-package.sh)"
  bash scripts/check-package.sh "$deb"
fi

step "all checks passed"
