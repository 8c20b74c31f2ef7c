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
  bool dense;        // not a quantized matrix: goes to the accelerator with its component
};

// How `view` is held once loaded. Mirrors Weights::get_quantized: matrices stay (or become)
// quantized; everything else is held in the compute dtype, zero-copy when the file has it
// on the CPU.
HeldWeight held_weight(const TensorView& view, c10::ScalarType dtype, c10::Device device,
                       const QuantizeOnLoad& policy) {
  const bool in_file = view.file != nullptr && device.is_cpu();
  if (is_quantized(view.dtype) && view.shape.size() == 2) {
    return {dtype_name(view.dtype), static_cast<int64_t>(view.nbytes), in_file, false};
  }
  if (policy.applies(view)) {
    return {dtype_name(*policy.type), static_cast<int64_t>(*tensor_bytes(*policy.type, view.shape)),
            false, false};
  }
  const char* held_type = compute_dtype_name(dtype);
  return {held_type, view.numel() * static_cast<int64_t>(c10::elementSize(dtype)),
          in_file && std::string(dtype_name(view.dtype)) == held_type, true};
}

}  // namespace

void WeightsPlan::add(const TensorStore& store, const std::string& component, c10::ScalarType dtype,
                      const QuantizeOnLoad& policy) {
  ComponentWeights weights;
  for (const std::string& name : store.names()) {
    const TensorView& view = store.get(name);
    const HeldWeight held = held_weight(view, dtype, device_, policy);
    weights.bytes += held.bytes;
    if (held.file_backed) weights.file_backed_bytes += held.bytes;
    ++weights.tensor_types[held.type];
    if (held.dense) {
      weights.dense_bytes += held.bytes;
      const std::string block = block_prefix_of(name);
      if (!block.empty()) weights.block_dense_bytes[block] += held.bytes;
    } else {
      weights.largest_expansion_bytes =
          std::max(weights.largest_expansion_bytes,
                   view.numel() * static_cast<int64_t>(c10::elementSize(dtype)));
    }
  }
  add(component, weights);
}

void WeightsPlan::add(const std::string& component, const ComponentWeights& weights) {
  ComponentWeights& summary = components_[component];
  summary.bytes += weights.bytes;
  summary.file_backed_bytes += weights.file_backed_bytes;
  summary.dense_bytes += weights.dense_bytes;
  for (const auto& [block, bytes] : weights.block_dense_bytes) {
    summary.block_dense_bytes[block] += bytes;
  }
  summary.largest_expansion_bytes =
      std::max(summary.largest_expansion_bytes, weights.largest_expansion_bytes);
  for (const auto& [type, count] : weights.tensor_types) summary.tensor_types[type] += count;
  total_bytes_ += weights.bytes;
}

int64_t WeightsPlan::peak_bytes(OffloadMode offload, bool release_unused) const {
  return on_accelerator() ? accelerator_peak_bytes(offload) : cpu_peak_bytes(release_unused);
}

int64_t WeightsPlan::cpu_peak_bytes(bool release_unused) const {
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

int64_t WeightsPlan::accelerator_peak_bytes(OffloadMode offload) const {
  int64_t resident = 0;
  int64_t expansion = 0;
  for (const auto& [component, weights] : components_) {
    expansion = std::max(expansion, weights.largest_expansion_bytes);
    int64_t on_device = weights.dense_bytes;
    if (offload == OffloadMode::kSequential && !weights.block_dense_bytes.empty()) {
      int64_t blocks = 0, largest_block = 0;
      for (const auto& [block, bytes] : weights.block_dense_bytes) {
        blocks += bytes;
        largest_block = std::max(largest_block, bytes);
      }
      on_device = weights.dense_bytes - blocks + largest_block;
    }
    const bool one_at_a_time =
        offload == OffloadMode::kModel || offload == OffloadMode::kSequential;
    resident = one_at_a_time ? std::max(resident, on_device) : resident + on_device;
  }
  return resident + expansion;
}

}  // namespace flx::flux
