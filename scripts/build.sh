#!/usr/bin/env bash
# Configures and builds fluxserve into ./build (Release, Ninja, ccache when present).
# Idempotent: reruns only rebuild what changed. Extra arguments go to cmake's configure step.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${FLX_BUILD_DIR:-build}
jobs=${FLX_JOBS:-$(nproc)}
if [ ! -f "$build_dir/build.ninja" ] || [ $# -gt 0 ]; then
  echo "[build] configuring $build_dir"
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
fi
echo "[build] building with $jobs jobs"
cmake --build "$build_dir" -j "$jobs"
echo "[build] done: $build_dir/bin/fluxserve"
