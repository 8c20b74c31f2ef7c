#!/usr/bin/env bash
# Builds fluxserve's benchmark against a CUDA libtorch and measures FLUX.1-schnell-sized
# generation on the GPU: a random checkpoint with all 19 + 38 transformer blocks in bfloat16
# (`make-demo-model --preset schnell --dtype bfloat16`), 1024x1024, 4 steps, 256 text tokens.
# Prints the step time, the whole image's time and the transformer's MFU against the GPU's
# dense bf16 peak. See README.md, "Performance".
#
# usage: scripts/gpu-bench.sh [--cpu]
#   --cpu   check the script on a CPU-only machine: the system libtorch, the tiny preset at
#           256x256, 2 steps; prints the ratio to the matmul roof instead of an MFU.
#
# Environment (all optional):
#   TORCH_DIR       the CUDA libtorch's CMake folder (.../share/cmake/Torch). Default: asked
#                   from the python3 that imports a CUDA PyTorch (torch.utils.cmake_prefix_path).
#                   It must use the C++11 ABI (PyTorch >= 2.7 wheels, or pytorch.org's
#                   "cxx11 ABI" libtorch), as Debian's Poco, yaml-cpp and spdlog do.
#   FLX_DEBS_DIR    a folder of Debian .deb files (libpoco-dev, libyaml-cpp-dev, libspdlog-dev,
#                   libfmt-dev, libgtest-dev, libsentencepiece-dev and their runtime packages)
#                   unpacked with `dpkg -x` when the machine has no apt access.
#   FLX_BUILD_DIR   build folder (default build-gpu, build-gpu-cpu with --cpu)
#   FLX_MODEL_DIR   where the random checkpoint goes (default $HOME/fluxserve-schnell-bf16)
#   FLX_PEAK_TFLOPS the GPU's dense bf16 peak (default 989: H100 SXM; H200 the same)
#   FLX_BENCH_RUNS  timed runs (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."

mode=cuda
if [ "${1:-}" = "--cpu" ]; then mode=cpu; shift; fi
if [ $# -gt 0 ]; then echo "usage: scripts/gpu-bench.sh [--cpu]" >&2; exit 2; fi

say() { echo "[gpu-bench] $*"; }

prefix_path=()
if [ -n "${FLX_DEBS_DIR:-}" ]; then
  sysroot="$PWD/.gpu-bench-sysroot"
  say "unpacking the .deb files of $FLX_DEBS_DIR into $sysroot"
  mkdir -p "$sysroot"
  for deb in "$FLX_DEBS_DIR"/*.deb; do dpkg -x "$deb" "$sysroot"; done
  prefix_path+=("$sysroot/usr")
  export LD_LIBRARY_PATH="$sysroot/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export PKG_CONFIG_PATH="$sysroot/usr/lib/x86_64-linux-gnu/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
fi

cmake_args=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DFLX_WITH_TORCH=ON -DFLX_BUILD_TESTS=OFF)
if [ "$mode" = cuda ]; then
  build_dir=${FLX_BUILD_DIR:-build-gpu}
  torch_dir=${TORCH_DIR:-}
  if [ -z "$torch_dir" ]; then
    say "asking python3 for a CUDA PyTorch's CMake folder"
    torch_dir=$(python3 -c 'import torch, os
assert torch.cuda.is_available(), "this PyTorch sees no CUDA device"
assert torch._C._GLIBCXX_USE_CXX11_ABI, "this PyTorch uses the old C++ ABI"
print(os.path.join(torch.utils.cmake_prefix_path, "Torch"))') || {
      echo "[gpu-bench] no usable CUDA PyTorch: set TORCH_DIR to a CUDA libtorch (C++11 ABI)" >&2
      exit 1
    }
  fi
  say "libtorch: $torch_dir"
  cmake_args+=("-DTorch_DIR=$torch_dir")
else
  build_dir=${FLX_BUILD_DIR:-build-gpu-cpu}
fi
if [ ${#prefix_path[@]} -gt 0 ]; then
  cmake_args+=("-DCMAKE_PREFIX_PATH=$(IFS=';'; echo "${prefix_path[*]}")")
fi

say "configuring $build_dir"
cmake -S . -B "$build_dir" "${cmake_args[@]}"
say "building the benchmark, the demo-model writer and the T5 tokenizer module"
cmake --build "$build_dir" -j "$(nproc)" --target fluxserve fluxserve-bench \
  fluxserve-make-demo-model flx_flux_t5_tokenizer

if [ "$mode" = cuda ]; then
  model=${FLX_MODEL_DIR:-$HOME/fluxserve-schnell-bf16}
  preset=(--preset schnell --dtype bfloat16)
  bench=(--device cuda --dtype bfloat16 --width 1024 --height 1024 --steps 4
         --roof 8192x8192x8192)
else
  model=${FLX_MODEL_DIR:-$PWD/$build_dir/demo-tiny}
  preset=(--preset tiny)
  bench=(--device cpu --dtype float32 --width 256 --height 256 --steps 2)
fi
if [ ! -f "$model/model_index.json" ]; then
  say "writing the random checkpoint to $model (${preset[*]})"
  "$build_dir/bin/fluxserve" make-demo-model "$model" "${preset[@]}"
else
  say "reusing the checkpoint in $model"
fi

out="$build_dir/gpu-bench.json"
say "running: fluxserve bench --model $model ${bench[*]}"
"$build_dir/bin/fluxserve" bench --model "$model" "${bench[@]}" \
  --max-sequence-length 256 --runs "${FLX_BENCH_RUNS:-3}" --warmup 1 --json > "$out"
say "figures in $out"
python3 - "$out" "${FLX_PEAK_TFLOPS:-989}" "$mode" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
peak_tflops, mode = float(sys.argv[2]), sys.argv[3]
print(f"[gpu-bench] {r['width']}x{r['height']}, {r['steps']} steps, {r['dtype']} on {r['device']}")
print(f"[gpu-bench] step {r['step_seconds']:.4f} s, text encode {r['text_encode_seconds']:.4f} s,"
      f" VAE decode {r['vae_decode_seconds']:.4f} s, whole image {r['total_seconds']:.3f} s")
print(f"[gpu-bench] transformer {r['transformer_gflops'] / 1000:.1f} TFLOP/s,"
      f" matmul roof {r['roof_gflops'] / 1000:.1f} TFLOP/s, ratio {r['roof_ratio']:.2f}")
if mode == "cuda":
    print(f"[gpu-bench] MFU {r['transformer_gflops'] / 1000 / peak_tflops:.3f}"
          f" of {peak_tflops:g} TFLOP/s bf16 peak")
EOF
