// The settings of a `prometheus` metrics stage, with their defaults.
#ifndef FLX_PLUGINS_METRICS_METRICS_SETTINGS_H_
#define FLX_PLUGINS_METRICS_METRICS_SETTINGS_H_

#include <cstddef>
#include <string>
#include <vector>

namespace flx::metrics {

// Upper bounds, in seconds, of the duration histograms when `buckets` is not configured:
// 1 ms to 10 min in 1-2.5-5 steps, enough for a tokenizer on one end and a large image on a
// CPU on the other.
std::vector<double> DefaultDurationBuckets();

// The largest rolling window accepted; averages are recomputed per /v1/models call.
inline constexpr size_t kMaxRollingWindow = 100000;

struct MetricsSettings {
  std::string path = "/metrics";  // the GET path that serves the exposition
  size_t rolling_window = 50;     // completed requests averaged per model, 1..kMaxRollingWindow
  std::vector<double> duration_buckets = DefaultDurationBuckets();
};

}  // namespace flx::metrics

#endif  // FLX_PLUGINS_METRICS_METRICS_SETTINGS_H_
