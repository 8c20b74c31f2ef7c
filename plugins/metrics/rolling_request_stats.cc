#include "rolling_request_stats.h"

#include <cmath>
#include <stdexcept>

#include "exposition_format.h"

namespace flx::metrics {
namespace {

// A running mean that stays empty until it sees a value.
class Mean {
 public:
  void Add(double value, double weight = 1) {
    sum_ += value;
    weight_ += weight;
  }
  std::optional<double> Get() const {
    if (weight_ <= 0) return std::nullopt;
    return sum_ / weight_;
  }

 private:
  double sum_ = 0;
  double weight_ = 0;
};

void AppendJsonNumberOrNull(std::string* out, const std::optional<double>& value) {
  if (value && std::isfinite(*value)) {
    AppendSampleValue(out, *value);
  } else {
    out->append("null");
  }
}

}  // namespace

RollingRequestStats::RollingRequestStats(size_t window) : window_(window) {
  if (window_ == 0) throw std::invalid_argument("rolling window must hold at least 1 request");
}

void RollingRequestStats::Add(const RequestSample& sample) {
  samples_.push_back(sample);
  while (samples_.size() > window_) samples_.pop_front();
}

RollingSummary RollingRequestStats::Summarize() const {
  RollingSummary summary;
  summary.window = window_;
  summary.requests = samples_.size();
  Mean total, queue, step, denoise, vae_decode, errors;
  for (const RequestSample& s : samples_) {
    errors.Add(s.failed ? 1 : 0);
    if (s.failed) continue;
    total.Add(s.total_s);
    if (s.queue_s) queue.Add(*s.queue_s);
    if (s.steps > 0) step.Add(s.step_s, s.steps);
    if (s.denoise_s) denoise.Add(*s.denoise_s);
    if (s.vae_decode_s) vae_decode.Add(*s.vae_decode_s);
  }
  summary.avg_total_s = total.Get();
  summary.avg_queue_s = queue.Get();
  summary.avg_step_s = step.Get();
  summary.avg_denoise_s = denoise.Get();
  summary.avg_vae_decode_s = vae_decode.Get();
  summary.error_rate = errors.Get();
  return summary;
}

std::string RollingSummaryJson(const RollingSummary& summary) {
  std::string out = "{\"window\":" + std::to_string(summary.window) +
                    ",\"requests\":" + std::to_string(summary.requests);
  auto field = [&](const char* key, const std::optional<double>& value) {
    out.append(",\"").append(key).append("\":");
    AppendJsonNumberOrNull(&out, value);
  };
  field("avg_total_s", summary.avg_total_s);
  field("avg_queue_s", summary.avg_queue_s);
  field("avg_step_s", summary.avg_step_s);
  field("avg_denoise_s", summary.avg_denoise_s);
  field("avg_vae_decode_s", summary.avg_vae_decode_s);
  field("error_rate", summary.error_rate);
  out.push_back('}');
  return out;
}

}  // namespace flx::metrics
