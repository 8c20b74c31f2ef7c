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
  // Rows are independent; a grain of 16 rows keeps each task well above the pool's overhead.
  at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
    dequantize_view(view_, begin * cols, (end - begin) * cols, out + begin * cols);
  });
  if (dtype_ == at::kFloat && device_.is_cpu()) return values;
  return values.to(device_, dtype_);
}

}  // namespace flx::flux
