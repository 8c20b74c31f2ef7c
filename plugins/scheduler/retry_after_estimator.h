// RetryAfterEstimator: how long a client refused with "queue full" should wait before trying
// again, estimated from how long recent jobs took.
#ifndef FLX_PLUGINS_SCHEDULER_RETRY_AFTER_ESTIMATOR_H_
#define FLX_PLUGINS_SCHEDULER_RETRY_AFTER_ESTIMATOR_H_

#include <cstddef>
#include <cstdint>
#include <deque>

namespace flx::sched {

// Keeps the service times of the last `window` jobs and turns them into a Retry-After value.
// Not thread-safe: the owner serialises access.
class RetryAfterEstimator {
 public:
  // `window` >= 1 is how many recent service times are averaged; `min_seconds` >= 0 is the
  // smallest estimate ever returned, and the estimate while no job has finished yet.
  RetryAfterEstimator(size_t window, double min_seconds);

  // Records how long one job ran. Negative or non-finite values are ignored: they say nothing
  // about service time.
  void Record(double seconds);

  // The mean of the recorded service times, or 0 when nothing was recorded.
  double AverageSeconds() const;

  // Whole seconds until a slot is likely to be free for a job that has `jobs_ahead` jobs
  // waiting before it, with `max_concurrent` (>= 1) jobs served at once:
  //   ceil(max(average * (jobs_ahead + 1) / max_concurrent, min_seconds)).
  // Without history the estimate is ceil(min_seconds).
  int64_t EstimateSeconds(size_t jobs_ahead, int max_concurrent) const;

 private:
  size_t window_;
  double min_seconds_;
  std::deque<double> recent_;
  double sum_ = 0;
};

}  // namespace flx::sched

#endif  // FLX_PLUGINS_SCHEDULER_RETRY_AFTER_ESTIMATOR_H_
