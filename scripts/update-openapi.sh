#!/usr/bin/env bash
# Regenerates openapi/openapi.yaml from the code (the drift test compares the two).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --quiet -- openapi > openapi/openapi.yaml
echo "openapi/openapi.yaml updated"
