// fluxserve-lora-bench: what applying a LoRA costs per linear layer of FLUX.1, measured both
// ways the flux stage could apply it, on this machine:
//   merged    y = x W'^T with W' = W + s (B A) made once per adapter set (what the stage does:
//             the step costs what the base step costs, the merge is paid once, and W' is held);
//   low-rank  y = x W^T + s (x A^T) B^T at every call (no copy, two thin matmuls more per call).
// The roof is the base layer itself (x W^T, measured in the same run): each result is its
// time over the base's. Shapes: FLUX.1's attention projection (3072 x 3072) and MLP up
// projection (12288 x 3072) over the tokens of a 512x512 (1024 image + 512 text) and a
// 1024x1024 (4096 + 512) image.
//   fluxserve-lora-bench [--dtype float32|bfloat16] [--threads N] [--rank R]...
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

// The median of `runs` timed calls of `work` (after one untimed), in milliseconds.
double MedianMs(const std::function<void()>& work, int runs = 5) {
  work();
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    const Clock::time_point start = Clock::now();
    work();
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

struct Shape {
  const char* layer;
  int64_t out, in, tokens;
};

void MeasureShape(const Shape& s, int64_t rank, c10::ScalarType dtype) {
  const at::Tensor x = at::randn({1, s.tokens, s.in}).to(dtype);
  const at::Tensor w = (at::randn({s.out, s.in}) * 0.02).to(dtype);
  const at::Tensor a = (at::randn({rank, s.in}) * 0.02).to(dtype);
  const at::Tensor b = (at::randn({s.out, rank}) * 0.02).to(dtype);
  const double scale = 0.8;
  at::Tensor merged;
  const double base_ms = MedianMs([&] { at::linear(x, w); });
  const double merge_ms = MedianMs([&] { merged = w + at::matmul(b, a) * scale; });
  const double merged_ms = MedianMs([&] { at::linear(x, merged); });
  const double low_rank_ms =
      MedianMs([&] { at::linear(x, w).add_(at::linear(at::linear(x, a), b), scale); });
  std::printf(
      "%-12s %6lld x %-6lld %5lld tokens  r=%-3lld  base %8.2f ms  merged %5.3fx  "
      "low-rank %5.3fx  merge once %7.2f ms  merged copy %6.1f MiB\n",
      s.layer, static_cast<long long>(s.out), static_cast<long long>(s.in),
      static_cast<long long>(s.tokens), static_cast<long long>(rank), base_ms, merged_ms / base_ms,
      low_rank_ms / base_ms, merge_ms, static_cast<double>(merged.nbytes()) / (1 << 20));
}

}  // namespace

int main(int argc, char** argv) {
  c10::ScalarType dtype = at::kFloat;
  int threads = 0;
  std::vector<int64_t> ranks;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
    if (flag == "--dtype" && value != nullptr) {
      dtype = std::strcmp(value, "bfloat16") == 0 ? at::kBFloat16 : at::kFloat;
    } else if (flag == "--threads" && value != nullptr) {
      threads = std::atoi(value);
    } else if (flag == "--rank" && value != nullptr) {
      ranks.push_back(std::atoll(value));
    } else {
      std::fprintf(stderr,
                   "usage: fluxserve-lora-bench [--dtype float32|bfloat16] [--threads N] "
                   "[--rank R]...\n");
      return 2;
    }
    ++i;
  }
  if (threads > 0) at::set_num_threads(threads);
  if (ranks.empty()) ranks = {16, 64};
  at::manual_seed(0);
  std::printf("LoRA per linear layer, %s, %d threads (times: median of 5; ratios: over base)\n",
              dtype == at::kFloat ? "float32" : "bfloat16", at::get_num_threads());
  const std::vector<Shape> shapes = {{"attention", 3072, 3072, 1536},
                                     {"mlp up", 12288, 3072, 1536},
                                     {"attention", 3072, 3072, 4608}};
  for (int64_t rank : ranks) {
    for (const Shape& shape : shapes) MeasureShape(shape, rank, dtype);
  }
  return 0;
}
