#include "jobs/run_times.h"

#include <algorithm>
#include <tuple>

namespace flx {
namespace {
constexpr double kNewestWeight = 0.25;
}  // namespace

bool RunShape::operator<(const RunShape& other) const {
  return std::tie(model, width, height, steps, n) <
         std::tie(other.model, other.width, other.height, other.steps, other.n);
}

void RunTimes::Record(const RunShape& shape, uint32_t steps, double step_seconds,
                      double run_seconds) {
  if (steps == 0) return;
  const double step_s = step_seconds / steps;
  const double rest_s = std::max(0.0, run_seconds - step_seconds);
  std::lock_guard<std::mutex> lock(mutex_);
  auto [it, fresh] = means_.emplace(shape, Mean{step_s, rest_s, double(steps)});
  if (fresh) return;
  Mean& mean = it->second;
  mean.step_s += kNewestWeight * (step_s - mean.step_s);
  mean.rest_s += kNewestWeight * (rest_s - mean.rest_s);
  mean.steps = steps;
}

std::optional<double> RunTimes::Remaining(const RunShape& shape, uint32_t step, uint32_t steps,
                                          double step_seconds) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto found = means_.find(shape);
  const Mean* mean = found != means_.end() ? &found->second : nullptr;
  if (step == 0 && mean == nullptr) return std::nullopt;
  if (steps == 0 && mean == nullptr) return std::nullopt;
  const double pace = step > 0 ? step_seconds / step : mean->step_s;
  const double steps_left = steps > 0 ? double(steps > step ? steps - step : 0) : mean->steps;
  return steps_left * pace + (mean != nullptr ? mean->rest_s : 0.0);
}

std::optional<double> RunTimes::Waiting(const RunShape& shape, size_t position) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto found = means_.find(shape);
  if (found == means_.end()) return std::nullopt;
  const Mean& mean = found->second;
  const double run = mean.steps * mean.step_s + mean.rest_s;
  return run * static_cast<double>(position + 1);
}

}  // namespace flx
