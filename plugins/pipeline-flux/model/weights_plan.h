// weights_plan.h — what a pipeline's weights hold once loaded, known from the files' headers
// alone: per component the bytes, the storage types, the part that stays a view into the
// file and the part that sits on an accelerator, and the most held at once. The pipeline keeps the
// plan it loaded by; the stage computes plans for other settings before loading (quantize: auto).
#ifndef FLX_FLUX_MODEL_WEIGHTS_PLAN_H_
#define FLX_FLUX_MODEL_WEIGHTS_PLAN_H_

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <map>
#include <string>

#include "io/tensor_store.h"
#include "model/offload_planner.h"
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
  // Of `bytes`, the dense tensors: what sits on an accelerator while the component is there.
  // Quantized matrices stay on the host and expand per call (quantized_matrix.h).
  int64_t dense_bytes = 0;
  // Of dense_bytes, each block's (offload_planner.h block_prefix_of), which sequential
  // offload streams one at a time.
  std::map<std::string, int64_t> block_dense_bytes;
  // The largest quantized matrix expanded into the compute dtype: what one call adds on the
  // device beside the dense weights.
  int64_t largest_expansion_bytes = 0;
};

class WeightsPlan {
 public:
  // A plan for weights computed on `device`: on the CPU the budget covers every byte; on an
  // accelerator only what sits on the device (see peak_bytes).
  explicit WeightsPlan(c10::Device device = c10::Device(c10::kCPU)) : device_(device) {}

  // Counts `store`'s tensors under `component` as Weights will hold them in `dtype`,
  // quantized on load by `policy`.
  void add(const TensorStore& store, const std::string& component, c10::ScalarType dtype,
           const QuantizeOnLoad& policy);

  // Adds a component already summarized (its bytes count into total_bytes()).
  void add(const std::string& component, const ComponentWeights& weights);

  // Every component's bytes: what the networks hold when they are all loaded (on an
  // accelerator, host and device together).
  int64_t total_bytes() const { return total_bytes_; }
  // The most the budget sees held at once during a generation.
  // On the CPU (offload has no effect there): total_bytes(), or when unused components are
  // released the larger of (everything but the transformer's file-backed bytes) while
  // encoding and (everything but the text encoders') while denoising.
  // On an accelerator, the device's share: every component's dense bytes (offload none), the
  // largest component's (model), the largest of a component's dense bytes outside its blocks
  // plus its largest block (sequential); plus the largest expansion of a quantized matrix.
  // kAuto counts as none.
  int64_t peak_bytes(OffloadMode offload, bool release_unused) const;
  const std::map<std::string, ComponentWeights>& components() const { return components_; }
  bool on_accelerator() const { return !device_.is_cpu(); }

 private:
  int64_t cpu_peak_bytes(bool release_unused) const;
  int64_t accelerator_peak_bytes(OffloadMode offload) const;

  c10::Device device_;
  std::map<std::string, ComponentWeights> components_;
  int64_t total_bytes_ = 0;
};

}  // namespace flx::flux

#endif  // FLX_FLUX_MODEL_WEIGHTS_PLAN_H_
