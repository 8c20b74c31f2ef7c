// lora_merge.h — LoRA adapters merged into copies of the transformer's layers they change,
// with the arithmetic of diffusers' fuse_lora (PEFT's LoraLayer.merge, diffusers 0.32.2):
// for each adapter in order and each layer it changes,
//     W <- W + ((B @ A) * scaling * scale)
// with A and B first cast to the compute dtype (PEFT moves the adapter to its base layer's
// dtype), the product taken in float32 when the compute dtype is half precision on the CPU
// (PEFT's cast_to_fp32) and cast back before the add. The result is a WeightOverlay: the
// shared base weights are never written, so requests without the adapters (or with others)
// keep seeing the base model. A quantized base layer is expanded first (its dequantized
// values, as the layer computes with them) and its merged copy is dense.
#ifndef FLX_FLUX_MODEL_LORA_MERGE_H_
#define FLX_FLUX_MODEL_LORA_MERGE_H_

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/flux_transformer.h"
#include "model/lora_weights.h"
#include "model/weight_overlay.h"

namespace flx::flux {

struct AppliedLora {
  std::string name;  // for messages
  std::shared_ptr<const LoraWeights> weights;
  double scale = 1.0;
};

// The merged layers of `loras` over `transformer`, in `dtype` on `device`. Throws
// std::invalid_argument naming the adapter and its key when a module is not a linear layer
// of this transformer or the shapes do not fit it.
std::shared_ptr<const WeightOverlay> merge_loras(const FluxTransformer& transformer,
                                                 const std::vector<AppliedLora>& loras,
                                                 c10::ScalarType dtype, c10::Device device);

// The bytes merge_loras() would hold for `loras` in `dtype`: one dense copy of each layer the
// adapters change. Checks the adapters against the transformer and throws as merge_loras().
int64_t merged_bytes(const FluxTransformer& transformer, const std::vector<AppliedLora>& loras,
                     c10::ScalarType dtype);

}  // namespace flx::flux

#endif  // FLX_FLUX_MODEL_LORA_MERGE_H_
