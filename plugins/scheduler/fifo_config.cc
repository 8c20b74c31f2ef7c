#include "fifo_config.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace flx::sched {
namespace {

// Reads keys one by one and keeps every problem, so a config is fixed in one pass.
class LimitReader {
 public:
  explicit LimitReader(const flx::Config& config) : config_(config) {}

  int64_t Integer(const char* key, int64_t fallback, int64_t min, int64_t max) {
    try {
      std::optional<int64_t> value = config_.integer(key);
      if (!value) return fallback;
      if (*value < min || *value > max) {
        Fail(std::string(key) + " must be between " + std::to_string(min) + " and " +
             std::to_string(max) + ", got " + std::to_string(*value));
        return fallback;
      }
      return *value;
    } catch (const flx::Error& e) {
      errors_.push_back(e.what());
      return fallback;
    }
  }

  // Accepts finite values in (min, max], or [min, max] when `min_inclusive`.
  double Number(const char* key, double fallback, double min, double max, bool min_inclusive) {
    try {
      std::optional<double> value = config_.number(key);
      if (!value) return fallback;
      bool above_min = min_inclusive ? *value >= min : *value > min;
      if (!std::isfinite(*value) || !above_min || *value > max) {
        Fail(std::string(key) + " must be " + (min_inclusive ? ">= " : "> ") + Format(min) +
             " and <= " + Format(max) + ", got " + Format(*value));
        return fallback;
      }
      return *value;
    } catch (const flx::Error& e) {
      errors_.push_back(e.what());
      return fallback;
    }
  }

  void ThrowIfAnyError() const { flx::throw_config_errors(errors_); }

 private:
  void Fail(const std::string& message) { errors_.push_back(config_.error(message).what()); }
  static std::string Format(double value) {
    char text[32];
    std::snprintf(text, sizeof(text), "%g", value);
    return text;
  }

  const flx::Config& config_;
  std::vector<std::string> errors_;
};

}  // namespace

FifoLimits ReadFifoLimits(const flx::Config& config) {
  FifoLimits limits;
  if (!config) return limits;
  constexpr int64_t kIntMax = std::numeric_limits<int>::max();
  LimitReader reader(config);
  limits.max_concurrent =
      static_cast<int>(reader.Integer("max_concurrent", limits.max_concurrent, 1, kIntMax));
  limits.max_queue = static_cast<int>(reader.Integer("max_queue", limits.max_queue, 0, kIntMax));
  // Bounded so deadlines stay representable on the steady clock; a week is beyond any client.
  limits.queue_timeout = std::chrono::duration<double>(reader.Number(
      "queue_timeout_s", limits.queue_timeout.count(), 0, 7 * 86400, /*min_inclusive=*/false));
  // An hour is far beyond any useful polling period and keeps the arithmetic in range.
  limits.poll_interval = std::chrono::milliseconds(
      reader.Integer("poll_interval_ms", limits.poll_interval.count(), 1, 3600 * 1000));
  limits.retry_after_window =
      static_cast<int>(reader.Integer("retry_after_window", limits.retry_after_window, 1, 1 << 20));
  limits.min_retry_after_s = reader.Number("min_retry_after_s", limits.min_retry_after_s, 0, 86400,
                                           /*min_inclusive=*/true);
  reader.ThrowIfAnyError();
  return limits;
}

}  // namespace flx::sched
