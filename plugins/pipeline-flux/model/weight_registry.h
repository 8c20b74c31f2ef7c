// weight_registry.h — every weight tensor a Weights handed out, by full name, so that a
// component's weights can move between host and accelerator after the networks already hold
// them (offload: model and sequential).
//
// A move rebinds the tensor the networks hold with at::Tensor::set_data, the mechanism behind
// PyTorch's module.to(): every copy of that tensor sees the new device. set_data only rebinds
// between dense backends (CPU, CUDA, MPS, ...), not to the meta device. The host copy is kept
// for the whole lifetime, so moving back to the host is free (weights are read-only) and
// moving to the accelerator is one host-to-device copy, asynchronous from pinned memory on
// CUDA.
#ifndef FLX_FLUX_MODEL_WEIGHT_REGISTRY_H_
#define FLX_FLUX_MODEL_WEIGHT_REGISTRY_H_

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace flx::flux {

class WeightRegistry {
 public:
  // `accelerator` is where moves to the accelerator go. Host copies are pinned (page-locked,
  // for asynchronous copies) when it is a CUDA device; pinning needs a CUDA build.
  explicit WeightRegistry(c10::Device accelerator);

  // Records `tensor`, a host tensor under `name` (the full weight name), and returns the
  // tensor the networks should hold: `tensor` itself, or its pinned copy when pinning.
  at::Tensor add(const std::string& name, const at::Tensor& tensor);

  // Moves every recorded tensor whose name `selects` to the accelerator (to_accelerator) or
  // back to its host copy. Tensors already there are skipped. Returns the bytes that changed
  // place. Thread-safe, but callers must not run a network while its weights move.
  int64_t move(const std::function<bool(const std::string& name)>& selects, bool to_accelerator);

  // Bytes of the recorded tensors now on the accelerator / in total.
  int64_t accelerator_bytes() const;
  int64_t total_bytes() const;
  // The names of the recorded tensors now on the accelerator, in recording order.
  std::vector<std::string> on_accelerator() const;

  c10::Device accelerator() const { return accelerator_; }

 private:
  struct Entry {
    std::string name;
    at::Tensor held;  // what the networks hold; rebound by move()
    at::Tensor host;  // the host copy, never rebound
    bool on_accelerator = false;
  };

  c10::Device accelerator_;
  bool pin_;
  mutable std::mutex mutex_;
  std::vector<Entry> entries_;
};

}  // namespace flx::flux

#endif  // FLX_FLUX_MODEL_WEIGHT_REGISTRY_H_
