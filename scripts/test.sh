#!/usr/bin/env bash
# README command 2: install dependencies, build, and run the whole test suite (CTest).
# Parity tests read the reference outputs from $FLX_GOLDEN_DIR (default ../shared/golden)
# and say so when they are absent. Idempotent; exits non-zero when any test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "[test] step 1/3: dependencies"
scripts/install-deps.sh
echo "[test] step 2/3: build"
scripts/build.sh
echo "[test] step 3/3: ctest"
golden=${FLX_GOLDEN_DIR:-$(cd .. && pwd)/shared/golden}
if [ -d "$golden" ]; then
  echo "[test] golden outputs: $golden"
else
  echo "[test] golden outputs not found at $golden: parity tests will be skipped"
fi
ctest --test-dir "${FLX_BUILD_DIR:-build}" --output-on-failure -j "${FLX_TEST_JOBS:-2}" --timeout 900
