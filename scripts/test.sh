#!/usr/bin/env bash
# Installs and builds (scripts/setup.sh), then runs every test with ctest.
# Extra arguments go to ctest, e.g. scripts/test.sh -L unit
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh build
ctest --test-dir build --output-on-failure -j "$(nproc)" "$@"
