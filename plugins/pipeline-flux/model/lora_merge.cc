#include "model/lora_merge.h"

#include <ATen/ATen.h>

#include <stdexcept>
#include <unordered_map>

namespace flx::flux {
namespace {

using LinearIndex = std::unordered_map<std::string, const Linear*>;

LinearIndex index_linears(const FluxTransformer& transformer) {
  LinearIndex index;
  transformer.for_each_linear([&](const Linear& linear) { index[linear.name] = &linear; });
  return index;
}

[[noreturn]] void misfit(const AppliedLora& lora, const LoraPair& pair, const std::string& why) {
  throw std::invalid_argument("LoRA '" + lora.name + "': \"" + pair.key + "\" " + why);
}

// The layers `pair` changes, checked against its shapes.
std::vector<const Linear*> targets(const LinearIndex& index, const AppliedLora& lora,
                                   const LoraPair& pair) {
  std::vector<const Linear*> layers;
  int64_t rows = 0;
  for (const std::string& module : pair.modules) {
    const auto it = index.find(module);
    if (it == index.end()) misfit(lora, pair, "changes '" + module + "', which this model lacks");
    if (it->second->in_features() != pair.down.size(1)) {
      misfit(lora, pair,
             "has " + std::to_string(pair.down.size(1)) + " inputs but '" + module + "' has " +
                 std::to_string(it->second->in_features()) + " (an adapter for another model?)");
    }
    rows += it->second->out_features();
    layers.push_back(it->second);
  }
  if (rows != pair.up.size(0)) {
    misfit(lora, pair,
           "has " + std::to_string(pair.up.size(0)) + " outputs but its layers have " +
               std::to_string(rows) + " (an adapter for another model?)");
  }
  return layers;
}

// PEFT's get_delta_weight for rows [first, first + count) of the update.
at::Tensor delta(const LoraPair& pair, int64_t first, int64_t count, double scaling,
                 c10::ScalarType dtype, c10::Device device) {
  at::Tensor down = pair.down.to(device, dtype);
  at::Tensor up = pair.up.narrow(0, first, count).to(device, dtype);
  const bool in_float32 = device.is_cpu() && (dtype == at::kBFloat16 || dtype == at::kHalf);
  if (in_float32) {
    down = down.to(at::kFloat);
    up = up.to(at::kFloat);
  }
  at::Tensor update = at::matmul(up, down) * scaling;
  return in_float32 ? update.to(dtype) : update;
}

}  // namespace

std::shared_ptr<const WeightOverlay> merge_loras(const FluxTransformer& transformer,
                                                 const std::vector<AppliedLora>& loras,
                                                 c10::ScalarType dtype, c10::Device device) {
  const LinearIndex index = index_linears(transformer);
  std::unordered_map<std::string, at::Tensor> merged;
  for (const AppliedLora& lora : loras) {
    for (const LoraPair& pair : lora.weights->pairs) {
      int64_t first = 0;
      for (const Linear* layer : targets(index, lora, pair)) {
        const int64_t rows = layer->out_features();
        at::Tensor& weight = merged[layer->name];
        if (!weight.defined()) weight = layer->dense_weight().to(device, dtype);
        // Out of place: the base weight is shared (and may be a read-only file mapping).
        weight = weight + delta(pair, first, rows, pair.scaling * lora.scale, dtype, device);
        first += rows;
      }
    }
  }
  auto overlay = std::make_shared<WeightOverlay>();
  for (auto& [name, weight] : merged) overlay->set(name, std::move(weight));
  return overlay;
}

int64_t merged_bytes(const FluxTransformer& transformer, const std::vector<AppliedLora>& loras,
                     c10::ScalarType dtype) {
  const LinearIndex index = index_linears(transformer);
  std::unordered_map<std::string, int64_t> elements;  // per changed layer, counted once
  for (const AppliedLora& lora : loras) {
    for (const LoraPair& pair : lora.weights->pairs) {
      for (const Linear* layer : targets(index, lora, pair)) {
        elements[layer->name] = layer->out_features() * layer->in_features();
      }
    }
  }
  int64_t total = 0;
  for (const auto& [name, count] : elements) total += count;
  return total * static_cast<int64_t>(c10::elementSize(dtype));
}

}  // namespace flx::flux
