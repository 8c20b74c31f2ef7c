#include "metric_registry.h"

#include <stdexcept>

namespace flx::metrics {

template <class Family>
Family& MetricRegistry::Add(std::unique_ptr<Family> family) {
  for (const auto& existing : families_) {
    if (existing->name() == family->name()) {
      throw std::invalid_argument("metric " + family->name() + " is registered twice");
    }
  }
  Family& added = *family;
  families_.push_back(std::move(family));
  return added;
}

CounterFamily& MetricRegistry::AddCounter(std::string name, std::string help,
                                          std::vector<std::string> label_names) {
  return Add(
      std::make_unique<CounterFamily>(std::move(name), std::move(help), std::move(label_names)));
}

GaugeFamily& MetricRegistry::AddGauge(std::string name, std::string help,
                                      std::vector<std::string> label_names) {
  return Add(
      std::make_unique<GaugeFamily>(std::move(name), std::move(help), std::move(label_names)));
}

HistogramFamily& MetricRegistry::AddHistogram(std::string name, std::string help,
                                              std::vector<std::string> label_names,
                                              std::vector<double> upper_bounds) {
  return Add(std::make_unique<HistogramFamily>(std::move(name), std::move(help),
                                               std::move(label_names), std::move(upper_bounds)));
}

std::string MetricRegistry::Exposition() const {
  std::string out;
  for (const auto& family : families_) family->AppendTo(&out);
  return out;
}

}  // namespace flx::metrics
