#include "model/weight_registry.h"

#include <ATen/ATen.h>

namespace flx::flux {

WeightRegistry::WeightRegistry(c10::Device accelerator)
    : accelerator_(accelerator), pin_(accelerator.is_cuda()) {}

at::Tensor WeightRegistry::add(const std::string& name, const at::Tensor& tensor) {
  const at::Tensor held = pin_ ? tensor.pin_memory() : tensor;
  // A second tensor object over the same memory: move() rebinds `held`, never this one.
  const at::Tensor host = held.alias();
  std::lock_guard<std::mutex> lock(mutex_);
  entries_.push_back(Entry{name, held, host, false});
  return held;
}

int64_t WeightRegistry::move(const std::function<bool(const std::string& name)>& selects,
                             bool to_accelerator) {
  std::lock_guard<std::mutex> lock(mutex_);
  int64_t bytes = 0;
  for (Entry& entry : entries_) {
    if (entry.on_accelerator == to_accelerator || !selects(entry.name)) continue;
    if (to_accelerator) {
      // copy = true so that even a CPU "accelerator" gets its own memory, like a device would.
      entry.held.set_data(entry.host.to(accelerator_, entry.host.scalar_type(),
                                        /*non_blocking=*/pin_, /*copy=*/true));
    } else {
      entry.held.set_data(entry.host);
    }
    entry.on_accelerator = to_accelerator;
    bytes += static_cast<int64_t>(entry.host.nbytes());
  }
  return bytes;
}

int64_t WeightRegistry::accelerator_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  int64_t bytes = 0;
  for (const Entry& entry : entries_) {
    if (entry.on_accelerator) bytes += static_cast<int64_t>(entry.host.nbytes());
  }
  return bytes;
}

int64_t WeightRegistry::total_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  int64_t bytes = 0;
  for (const Entry& entry : entries_) bytes += static_cast<int64_t>(entry.host.nbytes());
  return bytes;
}

std::vector<std::string> WeightRegistry::on_accelerator() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::string> names;
  for (const Entry& entry : entries_) {
    if (entry.on_accelerator) names.push_back(entry.name);
  }
  return names;
}

}  // namespace flx::flux
