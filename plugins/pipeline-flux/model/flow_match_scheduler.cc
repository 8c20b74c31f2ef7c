#include "model/flow_match_scheduler.h"

#include <ATen/ATen.h>

#include <cmath>
#include <stdexcept>
#include <string>

#include "io/tensor.h"

namespace flx::flux {
namespace {

void reject_if_set(const JsonConfig& json, const std::string& key) {
  if (json.get_bool(key, false)) {
    throw LoadError(json.path() + ": key \"" + key + "\" is set, which is not supported");
  }
}

// np.linspace(start, stop, num) in float64 (endpoint included).
std::vector<double> linspace(double start, double stop, int num) {
  std::vector<double> values(num);
  if (num == 1) {
    values[0] = start;
    return values;
  }
  const double step = (stop - start) / (num - 1);
  for (int i = 0; i < num; ++i) values[i] = i * step + start;
  values[num - 1] = stop;
  return values;
}

}  // namespace

FlowMatchSchedulerConfig FlowMatchSchedulerConfig::from_json(const JsonConfig& json) {
  FlowMatchSchedulerConfig config;
  config.num_train_timesteps = json.get_int("num_train_timesteps", 1000);
  config.shift = json.get_double("shift", 1.0);
  config.use_dynamic_shifting = json.get_bool("use_dynamic_shifting", false);
  config.base_shift = json.get_double("base_shift", 0.5);
  config.max_shift = json.get_double("max_shift", 1.15);
  config.base_image_seq_len = json.get_int("base_image_seq_len", 256);
  config.max_image_seq_len = json.get_int("max_image_seq_len", 4096);
  for (const char* key :
       {"use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas", "invert_sigmas"}) {
    reject_if_set(json, key);
  }
  if (json.has("shift_terminal")) {
    throw LoadError(json.path() + ": key \"shift_terminal\" is set, which is not supported");
  }
  if (config.max_image_seq_len == config.base_image_seq_len) {
    throw LoadError(json.path() + ": keys \"base_image_seq_len\" and \"max_image_seq_len\" " +
                    "must differ");
  }
  return config;
}

double calculate_shift(int64_t image_seq_len, const FlowMatchSchedulerConfig& config) {
  const double m = (config.max_shift - config.base_shift) /
                   static_cast<double>(config.max_image_seq_len - config.base_image_seq_len);
  const double b = config.base_shift - m * static_cast<double>(config.base_image_seq_len);
  return static_cast<double>(image_seq_len) * m + b;
}

FlowMatchSchedule flow_match_schedule(int steps, int64_t image_seq_len,
                                      const FlowMatchSchedulerConfig& config) {
  if (steps < 1) {
    throw std::invalid_argument("steps must be at least 1, got " + std::to_string(steps));
  }
  FlowMatchSchedule schedule;
  // numpy mixes Python floats into float32 arrays by first rounding them to float32, then
  // every operation rounds to float32; the explicit casts reproduce that.
  const float exp_mu = static_cast<float>(std::exp(calculate_shift(image_seq_len, config)));
  const float shift = static_cast<float>(config.shift);
  const float shift_minus_one = static_cast<float>(config.shift - 1.0);
  for (double value : linspace(1.0, 1.0 / steps, steps)) {
    const float s = static_cast<float>(value);
    float sigma;
    if (config.use_dynamic_shifting) {
      const float odds = 1.0f / s - 1.0f;
      sigma = exp_mu / (exp_mu + odds);
    } else {
      const float numerator = shift * s;
      const float denominator = 1.0f + shift_minus_one * s;
      sigma = numerator / denominator;
    }
    schedule.sigmas.push_back(sigma);
    schedule.timesteps.push_back(sigma * static_cast<float>(config.num_train_timesteps));
  }
  schedule.sigmas.push_back(0.0f);
  return schedule;
}

at::Tensor euler_step(const at::Tensor& sample, const at::Tensor& velocity, float sigma,
                      float sigma_next) {
  const float dt = sigma_next - sigma;
  return (sample.to(at::kFloat) + velocity * static_cast<double>(dt)).to(velocity.scalar_type());
}

}  // namespace flx::flux
