#include "metric_family.h"

#include <stdexcept>

#include "exposition_format.h"

namespace flx::metrics {

MetricFamily::MetricFamily(std::string name, std::string help, std::vector<std::string> label_names)
    : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {
  if (!IsValidMetricName(name_)) {
    throw std::invalid_argument("invalid metric name '" + name_ + "'");
  }
  for (size_t i = 0; i < label_names_.size(); ++i) {
    if (!IsValidLabelName(label_names_[i])) {
      throw std::invalid_argument("metric " + name_ + ": invalid label name '" + label_names_[i] +
                                  "'");
    }
    for (size_t j = 0; j < i; ++j) {
      if (label_names_[j] == label_names_[i]) {
        throw std::invalid_argument("metric " + name_ + ": label '" + label_names_[i] +
                                    "' is listed twice");
      }
    }
  }
}

void MetricFamily::AppendTo(std::string* out) const {
  out->append("# HELP ").append(name_).push_back(' ');
  AppendEscapedHelp(out, help_);
  out->append("\n# TYPE ").append(name_).push_back(' ');
  out->append(type()).push_back('\n');
  AppendSamples(out);
}

void MetricFamily::CheckLabelCount(const LabelValues& values) const {
  if (values.size() != label_names_.size()) {
    throw std::invalid_argument("metric " + name_ + " takes " +
                                std::to_string(label_names_.size()) + " label values, got " +
                                std::to_string(values.size()));
  }
}

void MetricFamily::AppendSample(std::string* out, std::string_view suffix,
                                const LabelValues& values, double value,
                                std::string_view extra_label, std::string_view extra_value) const {
  out->append(name_).append(suffix);
  if (!values.empty() || !extra_label.empty()) {
    out->push_back('{');
    for (size_t i = 0; i < values.size(); ++i) {
      if (i > 0) out->push_back(',');
      out->append(label_names_[i]).append("=\"");
      AppendEscapedLabelValue(out, values[i]);
      out->push_back('"');
    }
    if (!extra_label.empty()) {
      if (!values.empty()) out->push_back(',');
      out->append(extra_label).append("=\"");
      AppendEscapedLabelValue(out, extra_value);
      out->push_back('"');
    }
    out->push_back('}');
  }
  out->push_back(' ');
  AppendSampleValue(out, value);
  out->push_back('\n');
}

void CounterFamily::Add(const LabelValues& values, double amount) {
  CheckLabelCount(values);
  if (!(amount >= 0)) {
    throw std::invalid_argument("counter " + name() + " cannot go down (amount " +
                                FormatSampleValue(amount) + ")");
  }
  series_[values] += amount;
}

void CounterFamily::AppendSamples(std::string* out) const {
  for (const auto& [values, value] : series_) AppendSample(out, "", values, value);
}

void GaugeFamily::Set(const LabelValues& values, double value) {
  CheckLabelCount(values);
  series_[values] = value;
}

void GaugeFamily::Remove(const LabelValues& values) { series_.erase(values); }

void GaugeFamily::AppendSamples(std::string* out) const {
  for (const auto& [values, value] : series_) AppendSample(out, "", values, value);
}

HistogramFamily::HistogramFamily(std::string name, std::string help,
                                 std::vector<std::string> label_names,
                                 std::vector<double> upper_bounds)
    : MetricFamily(std::move(name), std::move(help), std::move(label_names)),
      upper_bounds_(std::move(upper_bounds)) {
  for (const std::string& label : this->label_names()) {
    if (label == "le") {
      throw std::invalid_argument("histogram " + this->name() +
                                  ": the label name 'le' is reserved for buckets");
    }
  }
  CheckBucketBounds(upper_bounds_);
  for (double bound : upper_bounds_) bound_labels_.push_back(FormatSampleValue(bound));
}

void HistogramFamily::Observe(const LabelValues& values, double value) {
  CheckLabelCount(values);
  auto it = series_.find(values);
  if (it == series_.end()) it = series_.emplace(values, HistogramCounts(upper_bounds_)).first;
  it->second.Observe(value);
}

void HistogramFamily::AppendSamples(std::string* out) const {
  for (const auto& [values, counts] : series_) {
    std::vector<uint64_t> cumulative = counts.CumulativeCounts();
    for (size_t i = 0; i < bound_labels_.size(); ++i) {
      AppendSample(out, "_bucket", values, double(cumulative[i]), "le", bound_labels_[i]);
    }
    AppendSample(out, "_bucket", values, double(cumulative.back()), "le", "+Inf");
    AppendSample(out, "_sum", values, counts.sum());
    AppendSample(out, "_count", values, double(counts.count()));
  }
}

}  // namespace flx::metrics
