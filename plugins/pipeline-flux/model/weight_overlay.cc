#include "model/weight_overlay.h"

#include <utility>

namespace flx::flux {
namespace {

thread_local const WeightOverlay* t_active = nullptr;

}  // namespace

void WeightOverlay::set(const std::string& name, at::Tensor weight) {
  weights_[name] = std::move(weight);
}

const at::Tensor* WeightOverlay::find(const std::string& name) const {
  const auto it = weights_.find(name);
  return it == weights_.end() ? nullptr : &it->second;
}

int64_t WeightOverlay::bytes() const {
  int64_t total = 0;
  for (const auto& [name, weight] : weights_) total += weight.numel() * weight.element_size();
  return total;
}

const WeightOverlay* active_weight_overlay() { return t_active; }

ScopedWeightOverlay::ScopedWeightOverlay(const WeightOverlay* overlay) : previous_(t_active) {
  t_active = overlay;
}

ScopedWeightOverlay::~ScopedWeightOverlay() { t_active = previous_; }

}  // namespace flx::flux
