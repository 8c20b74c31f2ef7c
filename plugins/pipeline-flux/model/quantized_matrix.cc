#include "model/quantized_matrix.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <vector>

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

namespace {

// Rows dequantized per pass when the compute dtype is a 16-bit float: a float32 scratch of
// this many rows stays in cache, and each value is rounded once (to nearest even, as
// Tensor::to() rounds) straight into the output.
constexpr int64_t kRowsPerPass = 8;

template <typename Half>
void dequantize_rows_to(const TensorView& view, int64_t begin, int64_t end, int64_t cols,
                        Half* out) {
  std::vector<float> scratch(static_cast<size_t>(kRowsPerPass * cols));
  for (int64_t row = begin; row < end; row += kRowsPerPass) {
    const int64_t count = std::min(kRowsPerPass, end - row) * cols;
    dequantize_view(view, row * cols, count, scratch.data());
    Half* dst = out + row * cols;
    for (int64_t i = 0; i < count; ++i) dst[i] = static_cast<Half>(scratch[static_cast<size_t>(i)]);
  }
}

}  // namespace

at::Tensor QuantizedMatrix::expand() const {
  const int64_t rows = view_.shape[0];
  const int64_t cols = view_.shape[1];
  // Rows are independent; a grain of 16 rows keeps each task well above the pool's overhead.
  constexpr int64_t kGrain = 16;
  if (dtype_ == at::kBFloat16 || dtype_ == at::kHalf) {
    at::Tensor values = at::empty({rows, cols}, at::TensorOptions().dtype(dtype_));
    at::parallel_for(0, rows, kGrain, [&](int64_t begin, int64_t end) {
      if (dtype_ == at::kBFloat16) {
        dequantize_rows_to(view_, begin, end, cols, values.data_ptr<c10::BFloat16>());
      } else {
        dequantize_rows_to(view_, begin, end, cols, values.data_ptr<c10::Half>());
      }
    });
    return device_.is_cpu() ? values : values.to(device_);
  }
  at::Tensor values = at::empty({rows, cols}, at::TensorOptions().dtype(at::kFloat));
  float* out = values.data_ptr<float>();
  at::parallel_for(0, rows, kGrain, [&](int64_t begin, int64_t end) {
    dequantize_view(view_, begin * cols, (end - begin) * cols, out + begin * cols);
  });
  if (dtype_ == at::kFloat && device_.is_cpu()) return values;
  return values.to(device_, dtype_);
}

}  // namespace flx::flux
