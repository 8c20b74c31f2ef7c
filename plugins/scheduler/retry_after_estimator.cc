#include "retry_after_estimator.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace flx::sched {

RetryAfterEstimator::RetryAfterEstimator(size_t window, double min_seconds)
    : window_(std::max<size_t>(window, 1)), min_seconds_(std::max(min_seconds, 0.0)) {}

void RetryAfterEstimator::Record(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return;
  recent_.push_back(seconds);
  if (recent_.size() > window_) recent_.pop_front();
  // Summing afresh keeps rounding error from accumulating over millions of jobs.
  sum_ = std::accumulate(recent_.begin(), recent_.end(), 0.0);
}

double RetryAfterEstimator::AverageSeconds() const {
  return recent_.empty() ? 0.0 : sum_ / static_cast<double>(recent_.size());
}

int64_t RetryAfterEstimator::EstimateSeconds(size_t jobs_ahead, int max_concurrent) const {
  double slots = static_cast<double>(std::max(max_concurrent, 1));
  double estimate = AverageSeconds() * static_cast<double>(jobs_ahead + 1) / slots;
  return static_cast<int64_t>(std::ceil(std::max(estimate, min_seconds_)));
}

}  // namespace flx::sched
