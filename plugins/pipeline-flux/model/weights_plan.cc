#include "model/weights_plan.h"

#include <algorithm>

#include "io/tensor.h"

namespace flx::flux {

namespace {

// The safetensors spelling of a compute dtype ("F32", "BF16", "F16").
const char* compute_dtype_name(c10::ScalarType dtype) {
  switch (dtype) {
    case at::kFloat:
      return "F32";
    case at::kBFloat16:
      return "BF16";
    case at::kHalf:
      return "F16";
    default:
      return c10::toString(dtype);
  }
}

struct HeldWeight {
  const char* type;
  int64_t bytes;
  bool file_backed;  // a zero-copy view into the file's mapping
};

// How `view` is held once loaded. Mirrors Weights::get_quantized: matrices stay (or become)
// quantized unless offloaded; everything else is held in the compute dtype, zero-copy when
// the file has it on the CPU.
HeldWeight held_weight(const TensorView& view, c10::ScalarType dtype, c10::Device device,
                       bool offloading, const QuantizeOnLoad& policy) {
  const bool in_file = view.file != nullptr && device.is_cpu() && !offloading;
  if (!offloading && is_quantized(view.dtype) && view.shape.size() == 2) {
    return {dtype_name(view.dtype), static_cast<int64_t>(view.nbytes), in_file};
  }
  if (!offloading && policy.applies(view)) {
    return {dtype_name(*policy.type), static_cast<int64_t>(*tensor_bytes(*policy.type, view.shape)),
            false};
  }
  const char* held_type = compute_dtype_name(dtype);
  return {held_type, view.numel() * static_cast<int64_t>(c10::elementSize(dtype)),
          in_file && std::string(dtype_name(view.dtype)) == held_type};
}

}  // namespace

void WeightsPlan::add(const TensorStore& store, const std::string& component, c10::ScalarType dtype,
                      c10::Device device, bool offloading, const QuantizeOnLoad& policy) {
  ComponentWeights& summary = components_[component];
  for (const std::string& name : store.names()) {
    const HeldWeight held = held_weight(store.get(name), dtype, device, offloading, policy);
    summary.bytes += held.bytes;
    if (held.file_backed) summary.file_backed_bytes += held.bytes;
    total_bytes_ += held.bytes;
    ++summary.tensor_types[held.type];
  }
}

void WeightsPlan::add(const std::string& component, const ComponentWeights& weights) {
  ComponentWeights& summary = components_[component];
  summary.bytes += weights.bytes;
  summary.file_backed_bytes += weights.file_backed_bytes;
  for (const auto& [type, count] : weights.tensor_types) summary.tensor_types[type] += count;
  total_bytes_ += weights.bytes;
}

int64_t WeightsPlan::peak_bytes(bool release_unused) const {
  if (!release_unused) return total_bytes_;
  auto releasable = [&](const char* component) -> int64_t {
    const auto it = components_.find(component);
    return it == components_.end() ? 0 : it->second.file_backed_bytes;
  };
  const int64_t encoding = total_bytes_ - releasable("transformer");
  const int64_t denoising =
      total_bytes_ - releasable("text_encoder") - releasable("text_encoder_2");
  return std::max(encoding, denoising);
}

}  // namespace flx::flux
