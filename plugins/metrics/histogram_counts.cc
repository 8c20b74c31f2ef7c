#include "histogram_counts.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "exposition_format.h"

namespace flx::metrics {

void CheckBucketBounds(const std::vector<double>& upper_bounds) {
  if (upper_bounds.empty()) {
    throw std::invalid_argument("histogram buckets: at least one upper bound is required");
  }
  for (size_t i = 0; i < upper_bounds.size(); ++i) {
    if (!std::isfinite(upper_bounds[i])) {
      throw std::invalid_argument("histogram buckets: bound " + std::to_string(i) + " is " +
                                  FormatSampleValue(upper_bounds[i]) +
                                  "; bounds must be finite (+Inf is implicit)");
    }
    if (i > 0 && upper_bounds[i] <= upper_bounds[i - 1]) {
      throw std::invalid_argument("histogram buckets: bound " + std::to_string(i) + " (" +
                                  FormatSampleValue(upper_bounds[i]) +
                                  ") is not greater than the one before it (" +
                                  FormatSampleValue(upper_bounds[i - 1]) + ")");
    }
  }
}

HistogramCounts::HistogramCounts(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)) {
  CheckBucketBounds(upper_bounds_);
  bucket_counts_.assign(upper_bounds_.size() + 1, 0);
}

void HistogramCounts::Observe(double value) {
  if (!std::isfinite(value)) return;
  auto bucket = std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value);
  ++bucket_counts_[size_t(bucket - upper_bounds_.begin())];
  sum_ += value;
  ++count_;
}

std::vector<uint64_t> HistogramCounts::CumulativeCounts() const {
  std::vector<uint64_t> cumulative(bucket_counts_.size());
  uint64_t running = 0;
  for (size_t i = 0; i < bucket_counts_.size(); ++i) {
    running += bucket_counts_[i];
    cumulative[i] = running;
  }
  return cumulative;
}

}  // namespace flx::metrics
