#!/usr/bin/env bash
# Configures and builds fluxserve into ./build (Release, Ninja, ccache when present).
# Idempotent: reruns only rebuild what changed. Extra arguments go to cmake's configure step.
# FLX_BUILD_TARGETS (space-separated) builds only those targets (README command 1 builds what
# serving needs); unset builds everything, tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${FLX_BUILD_DIR:-build}
jobs=${FLX_JOBS:-$(nproc)}
if [ ! -f "$build_dir/build.ninja" ] || [ $# -gt 0 ]; then
  echo "[build] configuring $build_dir"
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
fi
targets=()
for t in ${FLX_BUILD_TARGETS:-}; do targets+=(--target "$t"); done
echo "[build] building ${FLX_BUILD_TARGETS:-everything} with $jobs jobs"
cmake --build "$build_dir" -j "$jobs" "${targets[@]}"
echo "[build] done: $build_dir/bin/fluxserve"
