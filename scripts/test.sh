#!/usr/bin/env bash
# README command 2: install dependencies, build, and run the whole test suite (CTest).
# Parity tests read the reference outputs from $FLX_GOLDEN_DIR (default ../shared/golden)
# and say so when they are absent. Idempotent; exits non-zero when any test fails.
#
#   scripts/test.sh                                # the suite, in ./build
#   scripts/test.sh --sanitize address,undefined   # ASan+UBSan build in its own folder, its suite
#   scripts/test.sh --sanitize thread              # TSan build, its suite
# Sanitized builds leave libtorch out unless FLX_WITH_TORCH=ON (scripts/build-sanitized.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
sanitizers=""
while [ $# -gt 0 ]; do
  case "$1" in
    --sanitize) sanitizers=${2:?--sanitize needs a list, e.g. address,undefined}; shift 2 ;;
    --sanitize=*) sanitizers=${1#--sanitize=}; shift ;;
    *) echo "usage: scripts/test.sh [--sanitize address,undefined|thread]" >&2; exit 2 ;;
  esac
done

echo "[test] step 1/3: dependencies"
scripts/install-deps.sh
echo "[test] step 2/3: build"
if [ -n "$sanitizers" ]; then
  build_dir=$(scripts/build-sanitized.sh "$sanitizers" | tail -n 1)
  # Every finding fails its test: UBSan aborts, ASan/LSan and TSan exit non-zero.
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
  export ASAN_SYMBOLIZER_PATH=${ASAN_SYMBOLIZER_PATH:-/usr/lib/llvm-16/bin/llvm-symbolizer}
  export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
else
  scripts/build.sh
  build_dir=${FLX_BUILD_DIR:-build}
fi
echo "[test] step 3/3: ctest in $build_dir"
golden=${FLX_GOLDEN_DIR:-$(cd .. && pwd)/shared/golden}
if [ -d "$golden" ]; then
  echo "[test] golden outputs: $golden"
else
  echo "[test] golden outputs not found at $golden: parity tests will be skipped"
fi
ctest --test-dir "$build_dir" --output-on-failure -j "${FLX_TEST_JOBS:-2}" --timeout 900
