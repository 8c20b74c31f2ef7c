// matmul_roof.h — the machine's practical matrix-multiply throughput, measured with the same
// libtorch, dtype, device and thread count as the model, so the benchmark's ratios compare
// the pipeline with what this hardware and BLAS reach on one large, well-shaped product.
#ifndef FLX_BENCH_FLUX_MATMUL_ROOF_H_
#define FLX_BENCH_FLUX_MATMUL_ROOF_H_

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>

namespace flx::bench {

// GFLOP/s of the best of `repeats` products [m, k] x [k, n] (2mkn FLOPs each) after one
// untimed product; the operands are random and made once. On an accelerator each product is
// synchronised before its clock stops.
double measure_matmul_roof(c10::ScalarType dtype, c10::Device device, int64_t m, int64_t k,
                           int64_t n, int repeats);

}  // namespace flx::bench

#endif  // FLX_BENCH_FLUX_MATMUL_ROOF_H_
