#!/usr/bin/env bash
# README command 2 (and CI, through .ci/run): install dependencies, build, and run everything
# that checks fluxserve. Parity tests read the reference outputs from $FLX_GOLDEN_DIR (default
# ../shared/golden) and say so when they are absent. Idempotent; non-zero when anything fails.
#
#   scripts/test.sh                              # all three phases below (what CI runs)
#   scripts/test.sh --suite-only                 # phase 1 only: the CTest suite in ./build
#   scripts/test.sh --sanitize address,undefined # one sanitized suite only (or: thread)
#
# Phases: (1) the CTest suite in ./build; (2) the same suite, torch-free, under ASan+UBSan in
# build-sanitize-address-undefined; (3) every fuzz target for FLX_FUZZ_SECONDS (default 10)
# from its seed corpus (scripts/fuzz.sh). Phases 2 and 3 need clang-16 (installed below).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=all
sanitizers=""
while [ $# -gt 0 ]; do
  case "$1" in
    --suite-only) mode=suite; shift ;;
    --sanitize) mode=sanitize; sanitizers=${2:?--sanitize needs a list, e.g. address,undefined}; shift 2 ;;
    --sanitize=*) mode=sanitize; sanitizers=${1#--sanitize=}; shift ;;
    *) echo "usage: scripts/test.sh [--suite-only | --sanitize address,undefined|thread]" >&2; exit 2 ;;
  esac
done

golden=${FLX_GOLDEN_DIR:-$(cd .. && pwd)/shared/golden}
run_ctest() {  # build folder
  if [ -d "$golden" ]; then
    echo "[test] golden outputs: $golden"
  else
    echo "[test] golden outputs not found at $golden: parity tests will be skipped"
  fi
  ctest --test-dir "$1" --output-on-failure -j "${FLX_TEST_JOBS:-2}" --timeout 900
}

run_sanitized_suite() {  # sanitizer list
  local build_dir
  build_dir=$(scripts/build-sanitized.sh "$1" | tail -n 1)
  # Every finding fails its test: UBSan aborts, ASan/LSan and TSan exit non-zero.
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
  export ASAN_SYMBOLIZER_PATH=${ASAN_SYMBOLIZER_PATH:-/usr/lib/llvm-16/bin/llvm-symbolizer}
  export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tests/support/tsan.supp}
  echo "[test] ctest in $build_dir ($1)"
  run_ctest "$build_dir"
}

echo "[test] dependencies"
scripts/install-deps.sh
case "$mode" in
  sanitize)
    run_sanitized_suite "$sanitizers" ;;
  suite|all)
    echo "[test] phase 1/$([ $mode = all ] && echo 3 || echo 1): build and run the suite in ${FLX_BUILD_DIR:-build}"
    scripts/build.sh
    run_ctest "${FLX_BUILD_DIR:-build}"
    if [ $mode = all ]; then
      echo "[test] phase 2/3: the suite under ASan+UBSan"
      run_sanitized_suite address,undefined
      echo "[test] phase 3/3: fuzz smoke, ${FLX_FUZZ_SECONDS:-10}s per target"
      scripts/fuzz.sh all "${FLX_FUZZ_SECONDS:-10}"
    fi ;;
esac
echo "[test] all passed"
