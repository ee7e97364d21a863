#!/usr/bin/env bash
# Installs dependencies, builds everything and runs the whole test suite (CTest). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh --with-torch
scripts/build.sh
ctest --test-dir build --output-on-failure -j"$(nproc)" --timeout 600
