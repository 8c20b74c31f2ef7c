#!/usr/bin/env bash
# Runs one libFuzzer target for SECONDS with its seed corpus and dictionary.
#   scripts/fuzz.sh TARGET SECONDS [libFuzzer flags...]
#   scripts/fuzz.sh all SECONDS        # every target in turn (what CI does, briefly)
# Targets: images_request graph_config safetensors gguf clip_tokenizer t5_tokenizer image_encoders
# image_edits.
# Builds the target with ASan+UBSan (scripts/build-sanitized.sh address,undefined, clang-16).
# New inputs go to fuzz/work/<target>/ (untracked), crashes to fuzz/work/<target>/crashes/;
# the exit status is non-zero when the target found a crash, leak or property violation.
# The tokenizer targets load the real tokenizers from $FLX_GOLDEN_DIR (../shared/golden).
set -euo pipefail
cd "$(dirname "$0")/.."
all_targets=(images_request graph_config safetensors gguf clip_tokenizer t5_tokenizer image_encoders image_edits)
target=${1:?usage: scripts/fuzz.sh TARGET|all SECONDS [libFuzzer flags...]}
seconds=${2:?usage: scripts/fuzz.sh TARGET|all SECONDS [libFuzzer flags...]}
shift 2
command -v clang++-16 >/dev/null || { echo "[fuzz] clang-16 is required (scripts/install-deps.sh)" >&2; exit 1; }
if [ "$target" = all ]; then
  for t in "${all_targets[@]}"; do "$0" "$t" "$seconds" "$@"; done
  exit 0
fi
[[ " ${all_targets[*]} " == *" $target "* ]] || { echo "[fuzz] unknown target '$target' (${all_targets[*]})" >&2; exit 2; }
export FLX_GOLDEN_DIR=${FLX_GOLDEN_DIR:-$(cd .. && pwd)/shared/golden}
build_dir=$(FLX_BUILD_TARGETS=fuzz_$target scripts/build-sanitized.sh address,undefined | tail -n 1)
work=fuzz/work/$target
mkdir -p "$work/corpus" "$work/crashes"
flags=(-max_total_time="$seconds" -artifact_prefix="$work/crashes/" -print_final_stats=1
       -timeout=10 -rss_limit_mb=2048 -max_len=65536)
[ -f "fuzz/dict/$target.dict" ] && flags+=(-dict="fuzz/dict/$target.dict")
seeds=("fuzz/corpus/$target")
# The graph loader also starts from the shipped configs and the config tests' good and bad files.
[ "$target" = graph_config ] && seeds+=(configs tests/configs/good tests/configs/bad)
echo "[fuzz] $target for ${seconds}s (corpus fuzz/corpus/$target + $work/corpus)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_SYMBOLIZER_PATH=${ASAN_SYMBOLIZER_PATH:-/usr/lib/llvm-16/bin/llvm-symbolizer}
"$build_dir/bin/fuzz_$target" "${flags[@]}" "$@" "$work/corpus" "${seeds[@]}" 2>"$work/log" || {
  status=$?
  tail -n 60 "$work/log" >&2
  echo "[fuzz] $target FAILED (exit $status): reproducer in $work/crashes/, log $work/log" >&2
  exit $status
}
grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|cov:" "$work/log" | tail -n 3
echo "[fuzz] $target: no findings"
