// weights_plan.h — what a pipeline's weights hold once loaded, known from the files' headers
// alone: per component the bytes, the storage types and the part that stays a view into the
// file, and the most held at once. The pipeline keeps the plan it loaded by; the stage
// computes plans for other settings before loading (quantize: auto).
#ifndef FLX_FLUX_MODEL_WEIGHTS_PLAN_H_
#define FLX_FLUX_MODEL_WEIGHTS_PLAN_H_

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <map>
#include <string>

#include "io/tensor_store.h"
#include "model/weights.h"

namespace flx::flux {

// One component's weights as held: how many tensors in each storage type ("F32"/"BF16"/...
// for float ones held in the compute dtype, the file's or the quantize-on-load type
// otherwise) and the bytes they hold.
struct ComponentWeights {
  std::map<std::string, int64_t> tensor_types;
  int64_t bytes = 0;
  // Of `bytes`, what stays a view into the weight file's read-only mapping (matrices the
  // file stores quantized, tensors already in the compute dtype, on the CPU): what
  // releasing the component gives back.
  int64_t file_backed_bytes = 0;
};

class WeightsPlan {
 public:
  // Counts `store`'s tensors under `component` as Weights will hold them in `dtype` on
  // `device` (on the host when `offloading`), quantized on load by `policy`.
  void add(const TensorStore& store, const std::string& component, c10::ScalarType dtype,
           c10::Device device, bool offloading, const QuantizeOnLoad& policy);

  // Adds a component already summarized (its bytes count into total_bytes()).
  void add(const std::string& component, const ComponentWeights& weights);

  // Every component's bytes: what the networks hold when they are all loaded.
  int64_t total_bytes() const { return total_bytes_; }
  // The most held at once during a generation: total_bytes(), or when unused components are
  // released the larger of (everything but the transformer's file-backed bytes) while
  // encoding and (everything but the text encoders') while denoising.
  int64_t peak_bytes(bool release_unused) const;
  const std::map<std::string, ComponentWeights>& components() const { return components_; }

 private:
  std::map<std::string, ComponentWeights> components_;
  int64_t total_bytes_ = 0;
};

}  // namespace flx::flux

#endif  // FLX_FLUX_MODEL_WEIGHTS_PLAN_H_
