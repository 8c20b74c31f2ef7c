// weight_overlay.h — replacement weights for some linear layers, in force on one thread while
// a request runs: how a request's LoRA adapters reach the transformer without touching the
// weights other requests share.
//
// Why thread-local and not a copy of the network: a merged LoRA changes a few hundred of the
// transformer's matrices, and two requests with different adapters may run at once on the
// same loaded model (max_concurrent > 1, or two stages sharing a process). The overlay holds
// only the changed matrices; a request's thread installs it (ScopedWeightOverlay) around the
// denoising loop, and each Linear looks itself up by name there before using its own weight.
// libtorch's intra-op worker threads run kernels only, never a Linear, so the calling thread
// is the only one that needs to see it.
#ifndef FLX_FLUX_MODEL_WEIGHT_OVERLAY_H_
#define FLX_FLUX_MODEL_WEIGHT_OVERLAY_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <unordered_map>

namespace flx::flux {

class WeightOverlay {
 public:
  // Replaces the weight of the linear layer `name` (its full name without ".weight", as
  // Linear::name holds it).
  void set(const std::string& name, at::Tensor weight);
  // The replacement for `name`, or nullptr.
  const at::Tensor* find(const std::string& name) const;
  size_t size() const { return weights_.size(); }
  // Bytes the replacement weights hold.
  int64_t bytes() const;

 private:
  std::unordered_map<std::string, at::Tensor> weights_;
};

// The overlay installed on this thread, or nullptr.
const WeightOverlay* active_weight_overlay();

// Installs `overlay` (may be nullptr: none) on this thread for its lifetime, then restores
// what was there. The overlay must outlive the scope.
class ScopedWeightOverlay {
 public:
  explicit ScopedWeightOverlay(const WeightOverlay* overlay);
  ~ScopedWeightOverlay();
  ScopedWeightOverlay(const ScopedWeightOverlay&) = delete;
  ScopedWeightOverlay& operator=(const ScopedWeightOverlay&) = delete;

 private:
  const WeightOverlay* previous_;
};

}  // namespace flx::flux

#endif  // FLX_FLUX_MODEL_WEIGHT_OVERLAY_H_
