// Metric families as the Prometheus text format (0.0.4) exposes them: one name, one HELP and
// one TYPE line, fixed label names, and one series per distinct tuple of label values.
//
// Families are not thread-safe: their owner serialises every call. Series are created on
// first use and kept for the life of the family; they are written sorted by label values so
// an exposition is deterministic.
#ifndef FLX_PLUGINS_METRICS_METRIC_FAMILY_H_
#define FLX_PLUGINS_METRICS_METRIC_FAMILY_H_

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "histogram_counts.h"

namespace flx::metrics {

// Label values in the order of the family's label names.
using LabelValues = std::vector<std::string>;

class MetricFamily {
 public:
  // Throws std::invalid_argument when `name` or a label name is invalid or repeated.
  MetricFamily(std::string name, std::string help, std::vector<std::string> label_names);
  virtual ~MetricFamily() = default;
  MetricFamily(const MetricFamily&) = delete;
  MetricFamily& operator=(const MetricFamily&) = delete;

  const std::string& name() const { return name_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  // "counter", "gauge" or "histogram".
  virtual const char* type() const = 0;

  // Appends the HELP and TYPE lines, then every sample line. A family without series writes
  // its HELP and TYPE lines only.
  void AppendTo(std::string* out) const;

 protected:
  // Throws std::invalid_argument unless there is one value per label name.
  void CheckLabelCount(const LabelValues& values) const;
  // Appends `<name><suffix>{<labels>[,<extra_label>="<extra_value>"]} <value>\n`, without
  // braces when there is no label at all.
  void AppendSample(std::string* out, std::string_view suffix, const LabelValues& values,
                    double value, std::string_view extra_label = {},
                    std::string_view extra_value = {}) const;

 private:
  virtual void AppendSamples(std::string* out) const = 0;

  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
};

// A value that only goes up (requests, images, failures).
class CounterFamily final : public MetricFamily {
 public:
  using MetricFamily::MetricFamily;
  const char* type() const override { return "counter"; }
  // Adds `amount` (>= 0; throws std::invalid_argument otherwise) to the series of `values`,
  // creating it at 0 first. Add(values, 0) makes a series visible before its first event.
  void Add(const LabelValues& values, double amount = 1);

 private:
  void AppendSamples(std::string* out) const override;
  std::map<LabelValues, double> series_;
};

// A level that goes up and down (queue depth, memory).
class GaugeFamily final : public MetricFamily {
 public:
  using MetricFamily::MetricFamily;
  const char* type() const override { return "gauge"; }
  void Set(const LabelValues& values, double value);
  // Drops the series of `values`, so that it is no longer exposed (an unknown level).
  void Remove(const LabelValues& values);

 private:
  void AppendSamples(std::string* out) const override;
  std::map<LabelValues, double> series_;
};

// A distribution (durations) counted into buckets with shared upper bounds; exposed as
// cumulative <name>_bucket{...,le="<bound>"} lines ending with le="+Inf", then _sum and _count.
class HistogramFamily final : public MetricFamily {
 public:
  // Throws std::invalid_argument for a label named "le" (reserved for buckets) and for
  // bounds that fail CheckBucketBounds.
  HistogramFamily(std::string name, std::string help, std::vector<std::string> label_names,
                  std::vector<double> upper_bounds);
  const char* type() const override { return "histogram"; }
  void Observe(const LabelValues& values, double value);

 private:
  void AppendSamples(std::string* out) const override;
  std::vector<double> upper_bounds_;
  std::vector<std::string> bound_labels_;  // the `le` text of each bound, formatted once
  std::map<LabelValues, HistogramCounts> series_;
};

}  // namespace flx::metrics

#endif  // FLX_PLUGINS_METRICS_METRIC_FAMILY_H_
