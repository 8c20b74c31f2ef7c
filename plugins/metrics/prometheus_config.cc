#include "prometheus_config.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "exposition_format.h"

namespace flx::metrics {
namespace {

// Reads keys one by one and keeps every problem, so a config is fixed in one pass.
class SettingsReader {
 public:
  explicit SettingsReader(const flx::Config& config) : config_(config) {}

  std::string Path(const std::string& fallback) {
    try {
      std::optional<std::string> path = config_.string("path");
      if (!path) return fallback;
      if (path->empty() || (*path)[0] != '/') {
        Fail(config_, "path must start with '/', got '" + *path + "'");
        return fallback;
      }
      if (path->find_first_of(" \t\r\n?#") != std::string::npos) {
        Fail(config_, "path must not contain spaces, '?' or '#', got '" + *path + "'");
        return fallback;
      }
      return *path;
    } catch (const flx::Error& e) {
      errors_.push_back(e.what());
      return fallback;
    }
  }

  size_t RollingWindow(size_t fallback) {
    try {
      std::optional<int64_t> window = config_.integer("rolling_window");
      if (!window) return fallback;
      if (*window < 1 || uint64_t(*window) > kMaxRollingWindow) {
        Fail(config_, "rolling_window must be between 1 and " + std::to_string(kMaxRollingWindow) +
                          ", got " + std::to_string(*window));
        return fallback;
      }
      return size_t(*window);
    } catch (const flx::Error& e) {
      errors_.push_back(e.what());
      return fallback;
    }
  }

  std::vector<double> Buckets(const std::vector<double>& fallback) {
    try {
      flx::Config list = config_.node("buckets");
      if (!list) return fallback;
      if (list.size() == 0) {
        Fail(list, "buckets must be a non-empty list of seconds, e.g. [0.01, 0.1, 1, 10]");
        return fallback;
      }
      std::vector<double> bounds;
      bool valid = true;
      for (size_t i = 0; i < list.size(); ++i) {
        flx::Config element = list.at(i);
        std::optional<double> bound = Seconds(element);
        const std::string where = "buckets[" + std::to_string(i) + "]";
        if (!bound) {
          Fail(element, where + " must be a number of seconds, got " +
                            (element.scalar() ? "'" + *element.scalar() + "'" : "a list or map"));
          valid = false;
        } else if (!(*bound > 0) || !std::isfinite(*bound)) {
          Fail(element,
               where + " must be a finite number of seconds > 0, got " + FormatSampleValue(*bound));
          valid = false;
        } else if (!bounds.empty() && *bound <= bounds.back()) {
          Fail(element, where + " (" + FormatSampleValue(*bound) +
                            ") must be greater than the bucket before it (" +
                            FormatSampleValue(bounds.back()) + ")");
          valid = false;
        }
        if (bound) bounds.push_back(*bound);
      }
      return valid ? bounds : fallback;
    } catch (const flx::Error& e) {
      errors_.push_back(e.what());
      return fallback;
    }
  }

  void ThrowIfAnyError() const { flx::throw_config_errors(errors_); }

 private:
  // The scalar of `node` as a number, or nullopt when it is not a whole number text.
  static std::optional<double> Seconds(const flx::Config& node) {
    std::optional<std::string> text = node.scalar();
    if (!text || text->empty()) return std::nullopt;
    errno = 0;
    char* end = nullptr;
    double value = std::strtod(text->c_str(), &end);
    if (end != text->c_str() + text->size() || errno == ERANGE) return std::nullopt;
    return value;
  }

  void Fail(const flx::Config& node, const std::string& message) {
    errors_.push_back(node.error(message).what());
  }

  const flx::Config& config_;
  std::vector<std::string> errors_;
};

}  // namespace

MetricsSettings ReadMetricsSettings(const flx::Config& config) {
  MetricsSettings settings;
  if (!config) return settings;
  SettingsReader reader(config);
  settings.path = reader.Path(settings.path);
  settings.rolling_window = reader.RollingWindow(settings.rolling_window);
  settings.duration_buckets = reader.Buckets(settings.duration_buckets);
  reader.ThrowIfAnyError();
  return settings;
}

}  // namespace flx::metrics
