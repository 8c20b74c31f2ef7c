// matmul_roof.h — the machine's practical matrix-multiply throughput, measured with the same
// libtorch, dtype, device and thread count as the model: the benchmark compares the pipeline
// with what this hardware and BLAS reach on one large, well-shaped product (fluxserve bench),
// and the flux stage runs a small product at start to catch a slow BLAS or dtype early.
#ifndef FLX_FLUX_MODEL_MATMUL_ROOF_H_
#define FLX_FLUX_MODEL_MATMUL_ROOF_H_

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>

namespace flx::flux {

// GFLOP/s of the best of `repeats` products [m, k] x [k, n] (2mkn FLOPs each) after one
// untimed product; the operands are random and made once. On an accelerator each product is
// synchronised before its clock stops.
double measure_matmul_roof(c10::ScalarType dtype, c10::Device device, int64_t m, int64_t k,
                           int64_t n, int repeats);

// The stage's start-up check: the best of 3 products of 512 x 512 matrices (0.27 GFLOP
// each, a few milliseconds with a tuned BLAS). Below kSlowMatmulGflopsPerThread per thread
// the stage warns: libtorch is on the reference BLAS (Debian without libopenblas0-openmp
// gives ~5 GFLOP/s) or computes the dtype without native support (bfloat16 on a CPU without
// avx512_bf16/AMX runs ~30x slower than float32 in libtorch 1.13).
double quick_matmul_gflops(c10::ScalarType dtype, c10::Device device);
constexpr double kSlowMatmulGflopsPerThread = 10.0;

}  // namespace flx::flux

#endif  // FLX_FLUX_MODEL_MATMUL_ROOF_H_
