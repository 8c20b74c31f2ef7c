// Bucket arithmetic of one Prometheus histogram series: observations counted into buckets
// with fixed, inclusive upper bounds, plus their sum and count.
#ifndef FLX_PLUGINS_METRICS_HISTOGRAM_COUNTS_H_
#define FLX_PLUGINS_METRICS_HISTOGRAM_COUNTS_H_

#include <cstdint>
#include <vector>

namespace flx::metrics {

// Throws std::invalid_argument, naming the offending entry, unless `upper_bounds` is
// non-empty, finite and strictly increasing. The +Inf bucket is implicit and never listed.
void CheckBucketBounds(const std::vector<double>& upper_bounds);

class HistogramCounts {
 public:
  // `upper_bounds` must pass CheckBucketBounds (throws std::invalid_argument otherwise).
  explicit HistogramCounts(std::vector<double> upper_bounds);

  // Counts `value` in the first bucket whose upper bound is >= value (the +Inf bucket when
  // none is) and adds it to the sum. NaN and infinite values are dropped: a duration is
  // always finite, and one bad report must not turn _sum into NaN forever.
  void Observe(double value);

  // Entry i is the number of observations <= upper bound i; one more entry follows for
  // +Inf, equal to count(). Cumulative, as the exposition format wants `le` buckets.
  std::vector<uint64_t> CumulativeCounts() const;
  double sum() const { return sum_; }
  uint64_t count() const { return count_; }

 private:
  std::vector<double> upper_bounds_;
  std::vector<uint64_t> bucket_counts_;  // per bucket, not cumulative; last is +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

}  // namespace flx::metrics

#endif  // FLX_PLUGINS_METRICS_HISTOGRAM_COUNTS_H_
