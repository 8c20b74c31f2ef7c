// Averages over the last N completed requests of one model, for /v1/models.
#ifndef FLX_PLUGINS_METRICS_ROLLING_REQUEST_STATS_H_
#define FLX_PLUGINS_METRICS_ROLLING_REQUEST_STATS_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>

namespace flx::metrics {

// What one completed request contributes. Phases it never reached stay empty.
struct RequestSample {
  bool failed = false;            // answered with an HTTP status >= 400
  double total_s = 0;             // from arrival to answer
  std::optional<double> queue_s;  // time waiting for admission
  double step_s = 0;              // summed durations of its denoising steps...
  uint32_t steps = 0;             // ...and how many there were
  std::optional<double> denoise_s;
  std::optional<double> vae_decode_s;
};

// The averages over a window. Timing averages cover the window's successful requests only
// (a fast 400 or 429 says nothing about how long generation takes) and are empty when none
// of them reported that timing; error_rate covers every request and is empty when the
// window is.
struct RollingSummary {
  size_t window = 0;
  size_t requests = 0;
  std::optional<double> avg_total_s;
  std::optional<double> avg_queue_s;
  std::optional<double> avg_step_s;  // total step time / total steps
  std::optional<double> avg_denoise_s;
  std::optional<double> avg_vae_decode_s;
  std::optional<double> error_rate;  // failed / requests
};

// Not thread-safe; the owner serialises calls.
class RollingRequestStats {
 public:
  // `window` >= 1 (throws std::invalid_argument otherwise): how many samples are kept.
  explicit RollingRequestStats(size_t window);

  // Adds a sample, dropping the oldest once `window` are held.
  void Add(const RequestSample& sample);
  RollingSummary Summarize() const;

 private:
  size_t window_;
  std::deque<RequestSample> samples_;
};

// The summary as a JSON object with the keys of RollingSummary; empty values are null.
std::string RollingSummaryJson(const RollingSummary& summary);

}  // namespace flx::metrics

#endif  // FLX_PLUGINS_METRICS_ROLLING_REQUEST_STATS_H_
