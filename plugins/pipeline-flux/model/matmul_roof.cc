#include "model/matmul_roof.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>

#include "model/device_sync.h"

namespace flx::flux {

double measure_matmul_roof(c10::ScalarType dtype, c10::Device device, int64_t m, int64_t k,
                           int64_t n, int repeats) {
  const auto options = at::TensorOptions().dtype(dtype).device(device);
  const at::Tensor a = at::randn({m, k}, options);
  const at::Tensor b = at::randn({k, n}, options);
  at::Tensor c = at::empty({m, n}, options);
  at::mm_out(c, a, b);
  wait_for(c);
  double best = 0;
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    at::mm_out(c, a, b);
    wait_for(c);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    best = std::max(best, 2.0 * static_cast<double>(m) * static_cast<double>(k) *
                              static_cast<double>(n) / seconds / 1e9);
  }
  return best;
}

double quick_matmul_gflops(c10::ScalarType dtype, c10::Device device) {
  constexpr int64_t kSide = 512;
  return measure_matmul_roof(dtype, device, kSide, kSide, kSide, 3);
}

}  // namespace flx::flux
