#include "model/weights.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "io/dequantize.h"
#include "io/quantize.h"

namespace flx::flux {

c10::ScalarType to_scalar_type(DType dtype) {
  switch (dtype) {
    case DType::F32:
      return at::kFloat;
    case DType::F16:
      return at::kHalf;
    case DType::BF16:
      return at::kBFloat16;
    case DType::F64:
      return at::kDouble;
    case DType::I64:
      return at::kLong;
    case DType::I32:
      return at::kInt;
    case DType::I16:
      return at::kShort;
    case DType::I8:
      return at::kChar;
    case DType::U8:
      return at::kByte;
    case DType::BOOL:
      return at::kBool;
    default:
      break;
  }
  throw LoadError(std::string(dtype_name(dtype)) +
                  " is a storage format with no libtorch type; dequantize it first");
}

at::Tensor dequantized_tensor(const TensorView& view) {
  at::Tensor values = at::empty(view.shape, at::TensorOptions().dtype(at::kFloat));
  dequantize_view(view, 0, view.numel(), values.data_ptr<float>());
  return values;
}

at::Tensor tensor_from_view(const TensorView& view) {
  std::shared_ptr<const void> owner = view.owner;
  // from_blob wants a mutable pointer; the networks only ever read weights (no in-place op
  // touches them), which is what makes handing out the read-only mapping safe.
  void* data = const_cast<void*>(view.data);
  return at::from_blob(
      data, view.shape, [owner](void*) {}, at::TensorOptions().dtype(to_scalar_type(view.dtype)));
}

Weights::Weights(TensorStore store, c10::ScalarType dtype, c10::Device device,
                 std::shared_ptr<WeightRegistry> registry)
    : store_(std::make_shared<const TensorStore>(std::move(store))),
      registry_(std::move(registry)),
      dtype_(dtype),
      device_(device) {
  if (registry_ && !device_.is_cpu()) {
    throw std::invalid_argument("weights of " + store_->description() +
                                " are recorded for offloading, so they must load on the cpu, "
                                "not on " +
                                device_.str());
  }
}

Weights Weights::scoped(const std::string& prefix) const {
  Weights child = *this;
  child.prefix_ += prefix;
  return child;
}

bool QuantizeOnLoad::applies(const TensorView& view) const {
  if (!type || is_quantized(view.dtype) || view.shape.size() != 2) return false;
  if (view.dtype != DType::F32 && view.dtype != DType::F16 && view.dtype != DType::BF16) {
    return false;
  }
  if (view.shape[1] % dtype_layout(*type).block_elements != 0) return false;
  for (const std::string& prefix : keep_float) {
    if (view.name.compare(0, prefix.size(), prefix) == 0) return false;
  }
  return true;
}

namespace {

// `view` (a float matrix) quantized to `type`, rows in parallel, in a buffer the new view owns.
TensorView quantized_copy(const TensorView& view, DType type) {
  const at::Tensor values = tensor_from_view(view).to(at::kFloat).contiguous();
  const int64_t rows = view.shape[0], cols = view.shape[1];
  const size_t row_bytes = static_cast<size_t>(*tensor_bytes(type, {cols}));
  std::shared_ptr<unsigned char[]> buffer(new unsigned char[std::max<size_t>(1, row_bytes * rows)]);
  const float* src = values.data_ptr<float>();
  at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      quantize(type, src + row * cols, cols, buffer.get() + row * row_bytes);
    }
  });
  TensorView out;
  out.name = view.name;
  out.dtype = type;
  out.shape = view.shape;
  out.data = buffer.get();
  out.nbytes = row_bytes * static_cast<size_t>(rows);
  out.owner = std::shared_ptr<const void>(buffer, buffer.get());
  return out;
}

}  // namespace

std::shared_ptr<const QuantizedMatrix> Weights::get_quantized(
    const std::string& name, const std::vector<int64_t>& shape) const {
  if (!keep_quantized_) return nullptr;
  const TensorView& view = store_->get(prefix_ + name, shape);
  // A quantized matrix stays on the host whether or not its component is offloaded, and
  // expands per call onto the device the layer computes on.
  const c10::Device compute_device = registry_ ? registry_->accelerator() : device_;
  if (is_quantized(view.dtype) && view.shape.size() == 2) {
    return std::make_shared<const QuantizedMatrix>(view, dtype_, compute_device);
  }
  if (!quantize_on_load_.applies(view)) return nullptr;
  return std::make_shared<const QuantizedMatrix>(quantized_copy(view, *quantize_on_load_.type),
                                                 dtype_, compute_device);
}

Weights Weights::quantize_on_load(QuantizeOnLoad policy) const {
  Weights copy = *this;
  copy.quantize_on_load_ = std::move(policy);
  return copy;
}

Weights Weights::keep_quantized(bool keep) const {
  Weights copy = *this;
  copy.keep_quantized_ = keep;
  return copy;
}

bool Weights::contains(const std::string& name) const { return store_->contains(prefix_ + name); }

at::Tensor Weights::get(const std::string& name, const std::vector<int64_t>& shape) const {
  return get_as(name, shape, dtype_);
}

at::Tensor Weights::get_as(const std::string& name, const std::vector<int64_t>& shape,
                           c10::ScalarType dtype) const {
  const TensorView& view = store_->get(prefix_ + name, shape);
  at::Tensor tensor = is_quantized(view.dtype) ? dequantized_tensor(view) : tensor_from_view(view);
  if (tensor.scalar_type() != dtype || !device_.is_cpu()) tensor = tensor.to(device_, dtype);
  return registry_ ? registry_->add(prefix_ + name, tensor) : tensor;
}

}  // namespace flx::flux
