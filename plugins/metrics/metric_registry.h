// An ordered set of metric families and their text exposition (Prometheus format 0.0.4).
//
// Not thread-safe: its owner serialises every call, including calls on the families it
// hands out. Families live as long as the registry; the references returned stay valid.
#ifndef FLX_PLUGINS_METRICS_METRIC_REGISTRY_H_
#define FLX_PLUGINS_METRICS_METRIC_REGISTRY_H_

#include <memory>
#include <string>
#include <vector>

#include "metric_family.h"

namespace flx::metrics {

class MetricRegistry {
 public:
  // Each Add* throws std::invalid_argument when the name is invalid or already registered,
  // or when a label name is invalid (see MetricFamily and HistogramFamily).
  CounterFamily& AddCounter(std::string name, std::string help,
                            std::vector<std::string> label_names);
  GaugeFamily& AddGauge(std::string name, std::string help, std::vector<std::string> label_names);
  HistogramFamily& AddHistogram(std::string name, std::string help,
                                std::vector<std::string> label_names,
                                std::vector<double> upper_bounds);

  // Every family in registration order, each as HELP, TYPE and sample lines; every line
  // ends with a line feed.
  std::string Exposition() const;

 private:
  template <class Family>
  Family& Add(std::unique_ptr<Family> family);

  std::vector<std::unique_ptr<MetricFamily>> families_;
};

}  // namespace flx::metrics

#endif  // FLX_PLUGINS_METRICS_METRIC_REGISTRY_H_
