#!/usr/bin/env bash
# Builds fluxserve instrumented with sanitizers into its own folder, build-sanitize-<list>
# (e.g. build-sanitize-address-undefined), and prints that folder on the last line.
#   scripts/build-sanitized.sh address,undefined      # ASan + UBSan (+ the fuzz targets)
#   scripts/build-sanitized.sh thread                 # TSan
# clang-16 is used when installed (it also builds the libFuzzer targets); gcc otherwise.
# libtorch is left out unless FLX_WITH_TORCH=ON: it is not instrumented, and the torch-free
# part (host, HTTP, scheduler, recovery, metrics, SDK, io) is what the sanitizers can check.
# FLX_BUILD_TARGETS limits the build as in scripts/build.sh. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
sanitizers=${1:?usage: scripts/build-sanitized.sh address,undefined|thread}
build_dir=${FLX_BUILD_DIR:-build-sanitize-${sanitizers//,/-}}
with_torch=${FLX_WITH_TORCH:-OFF}
fuzz=OFF
if command -v clang++-16 >/dev/null; then
  export CC=clang-16 CXX=clang++-16
  [[ $sanitizers == *address* ]] && fuzz=ON
else
  echo "[sanitize] clang-16 not found: building with the default compiler, without fuzz targets"
fi
echo "[sanitize] $sanitizers build in $build_dir (${CXX:-c++}, libtorch $with_torch, fuzz $fuzz)"
configure=()
if [ ! -f "$build_dir/build.ninja" ]; then
  configure=(-DFLX_SANITIZE="$sanitizers" -DFLX_FUZZ=$fuzz -DFLX_WITH_TORCH="$with_torch"
             -DCMAKE_BUILD_TYPE=RelWithDebInfo)
fi
FLX_BUILD_DIR=$build_dir scripts/build.sh "${configure[@]}" >&2
echo "$build_dir"
