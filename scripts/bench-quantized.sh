#!/usr/bin/env bash
# Benchmarks quantize-on-load against the float checkpoint at one size and prints README rows.
#   scripts/bench-quantized.sh MODEL_DIR SIZE [bench flags...]
#   scripts/bench-quantized.sh models/wide 512 --dtype bfloat16 --threads 2
# Runs `fluxserve bench --json` (2 steps, one warm-up, one timed run unless overridden) with
# --quantize none, q8_0 and q4_k in turn, and prints one Markdown row each: step seconds, the
# step's ratio to the float one, dequantization seconds per image, weights held, peak RSS and
# load seconds. FLX_QUANTIZE_TYPES overrides the list ("none q8_0 q4_k").
# A benchmark, not a test: the numbers are for README, measured on the machine at hand.
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:?usage: scripts/bench-quantized.sh MODEL_DIR SIZE [bench flags...]}
size=${2:?usage: scripts/bench-quantized.sh MODEL_DIR SIZE [bench flags...]}
shift 2
types=${FLX_QUANTIZE_TYPES:-none q8_0 q4_k}
python=/usr/bin/python3
baseline=""
echo "| quantize | size | step s | step vs none | dequantization s per image | weights held | peak RSS | load s |"
echo "|---|---|---|---|---|---|---|---|"
for type in $types; do
  echo "[bench-quantized] $model ${size}x${size} --quantize $type $*" >&2
  json=$(build/bin/fluxserve bench --model "$model" --width "$size" --height "$size" --steps 2 \
           --runs 1 --warmup 1 --quantize "$type" --json "$@")
  step=$(echo "$json" | "$python" -c 'import json,sys; print(json.load(sys.stdin)["step_seconds"])')
  [ "$type" = none ] && baseline=$step
  echo "$json" | BASELINE="$baseline" TYPE="$type" SIZE="$size" "$python" -c '
import json, os, sys
d = json.load(sys.stdin)
base = os.environ["BASELINE"]
ratio = "%.2fx" % (d["step_seconds"] / float(base)) if base else "n/a"
gb = lambda b: "%.2f GB" % (b / 1e9)
print("| %s | %sx%s | %.2f | %s | %.2f | %s | %s | %.1f |" % (
    os.environ["TYPE"], os.environ["SIZE"], os.environ["SIZE"], d["step_seconds"], ratio,
    d["dequant_seconds"], gb(d["weights_bytes"]), gb(d["peak_rss_bytes"]), d["load_seconds"]))'
done
