#include "model/quantized_matrix.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <atomic>
#include <chrono>

#include "io/dequantize.h"

namespace flx::flux {
namespace {

std::atomic<int64_t> materialize_nanoseconds{0};

}  // namespace

double QuantizedMatrix::total_materialize_seconds() {
  return static_cast<double>(materialize_nanoseconds.load()) * 1e-9;
}

QuantizedMatrix::QuantizedMatrix(TensorView view, c10::ScalarType dtype, c10::Device device)
    : view_(std::move(view)), dtype_(dtype), device_(device) {
  if (!is_quantized(view_.dtype) || view_.shape.size() != 2) {
    throw LoadError("tensor " + view_.name + " (" + dtype_name(view_.dtype) + " " +
                    shape_string(view_.shape) + ") is not a quantized matrix");
  }
}

at::Tensor QuantizedMatrix::materialize() const {
  const auto start = std::chrono::steady_clock::now();
  at::Tensor dense = expand();
  materialize_nanoseconds += std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 std::chrono::steady_clock::now() - start)
                                 .count();
  return dense;
}

at::Tensor QuantizedMatrix::expand() const {
  const int64_t rows = view_.shape[0];
  const int64_t cols = view_.shape[1];
  at::Tensor values = at::empty({rows, cols}, at::TensorOptions().dtype(at::kFloat));
  float* out = values.data_ptr<float>();
  const size_t row_bytes = rows == 0 ? 0 : view_.nbytes / static_cast<size_t>(rows);
  const auto* bytes = static_cast<const unsigned char*>(view_.data);
  const bool fp8 = view_.dtype == DType::F8_E4M3 || view_.dtype == DType::F8_E5M2;
  // Rows are independent; a grain of 16 rows keeps each task well above the pool's overhead.
  at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const void* src = bytes + static_cast<size_t>(row) * row_bytes;
      float* dst = out + row * cols;
      if (fp8) {
        dequantize_scaled_fp8(view_.dtype, src, cols, view_.scale, dst);
      } else {
        dequantize(view_.dtype, src, cols, dst);
      }
    }
  });
  if (dtype_ == at::kFloat && device_.is_cpu()) return values;
  return values.to(device_, dtype_);
}

}  // namespace flx::flux
