#include "model/weights.h"

#include <ATen/ATen.h>

#include <stdexcept>
#include <utility>

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
  }
  throw LoadError("unknown safetensors dtype");
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

bool Weights::contains(const std::string& name) const { return store_->contains(prefix_ + name); }

at::Tensor Weights::get(const std::string& name, const std::vector<int64_t>& shape) const {
  return get_as(name, shape, dtype_);
}

at::Tensor Weights::get_as(const std::string& name, const std::vector<int64_t>& shape,
                           c10::ScalarType dtype) const {
  const TensorView& view = store_->get(prefix_ + name, shape);
  at::Tensor tensor = tensor_from_view(view);
  if (tensor.scalar_type() != dtype || !device_.is_cpu()) tensor = tensor.to(device_, dtype);
  return registry_ ? registry_->add(prefix_ + name, tensor) : tensor;
}

}  // namespace flx::flux
