// quantized_matrix.h — a linear layer's weight kept in its file's quantized form (ggml blocks
// or fp8, io/dequantize.h) and expanded only while the layer runs: the bytes stay in the
// read-only file mapping (zero-copy), so a Q8_0 transformer takes about half the memory of a
// bfloat16 one and a Q4_K one about a quarter. Each call dequantizes exactly (the float32
// values ggml defines) and rounds them once into the compute dtype, a few rows at a time
// (no float32 copy of the whole matrix), then moves the result to the device: the GEMM sees
// the weight a float checkpoint of the dequantized values would give it. On CUDA the
// expansion runs on the host and the dense weight is copied over per call (not tested here).
#ifndef FLX_FLUX_MODEL_QUANTIZED_MATRIX_H_
#define FLX_FLUX_MODEL_QUANTIZED_MATRIX_H_

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>

#include "io/tensor.h"

namespace flx::flux {

class QuantizedMatrix {
 public:
  // `view` must be a 2-D quantized tensor ([out, in]); throws LoadError naming it otherwise.
  QuantizedMatrix(TensorView view, c10::ScalarType dtype, c10::Device device);

  // The weight as a dense [out, in] tensor in the compute dtype on the device, computed now
  // (rows in parallel on libtorch's intra-op pool).
  at::Tensor materialize() const;

  // Seconds all materialize() calls of the process have taken so far (benchmarks read it
  // before and after the runs they time).
  static double total_materialize_seconds();

  DType storage_type() const { return view_.dtype; }
  // Bytes the quantized weight occupies (what it costs to keep resident).
  size_t stored_bytes() const { return view_.nbytes; }
  const std::vector<int64_t>& shape() const { return view_.shape; }

 private:
  at::Tensor expand() const;

  TensorView view_;
  c10::ScalarType dtype_;
  c10::Device device_;
};

}  // namespace flx::flux

#endif  // FLX_FLUX_MODEL_QUANTIZED_MATRIX_H_
