#include "model/flow_match_scheduler.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/tensor.h"

namespace flx::flux {
namespace {

FlowMatchSchedulerConfig config_with_shift(double shift, bool dynamic) {
  FlowMatchSchedulerConfig config;
  config.shift = shift;
  config.use_dynamic_shifting = dynamic;
  return config;
}

void expect_floats(const std::vector<float>& actual, const std::vector<double>& expected,
                   const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_FLOAT_EQ(actual[i], static_cast<float>(expected[i])) << what << "[" << i << "]";
  }
}

TEST(FlowMatchScheduler, UnshiftedScheduleIsLinspaceFromOneToOneOverSteps) {
  const FlowMatchSchedule schedule = flow_match_schedule(4, 64, config_with_shift(1.0, false));
  expect_floats(schedule.sigmas, {1.0, 0.75, 0.5, 0.25, 0.0}, "sigmas");
  expect_floats(schedule.timesteps, {1000, 750, 500, 250}, "timesteps");

  const FlowMatchSchedule three = flow_match_schedule(3, 64, config_with_shift(1.0, false));
  expect_floats(three.sigmas, {1.0, 2.0 / 3.0, 1.0 / 3.0, 0.0}, "sigmas for 3 steps");

  const FlowMatchSchedule one = flow_match_schedule(1, 64, config_with_shift(1.0, false));
  expect_floats(one.sigmas, {1.0, 0.0}, "sigmas for 1 step");
  expect_floats(one.timesteps, {1000}, "timesteps for 1 step");
}

TEST(FlowMatchScheduler, StaticShiftMapsSigmaToShiftSOverOnePlusShiftMinusOneS) {
  // 3s / (1 + 2s) at s = 1, 0.75, 0.5, 0.25.
  const FlowMatchSchedule schedule = flow_match_schedule(4, 64, config_with_shift(3.0, false));
  expect_floats(schedule.sigmas, {1.0, 0.9, 0.75, 0.5, 0.0}, "sigmas");
  expect_floats(schedule.timesteps, {1000, 900, 750, 500}, "timesteps");
}

TEST(FlowMatchScheduler, CalculateShiftIsLinearInTheTokenCount) {
  const FlowMatchSchedulerConfig config;  // 256 -> 0.5, 4096 -> 1.15
  EXPECT_DOUBLE_EQ(calculate_shift(256, config), 0.5);
  EXPECT_DOUBLE_EQ(calculate_shift(4096, config), 1.15);
  EXPECT_DOUBLE_EQ(calculate_shift(2176, config), 0.825);
  EXPECT_NEAR(calculate_shift(64, config), 0.4675, 1e-12);
}

TEST(FlowMatchScheduler, DynamicShiftingUsesTheExponentialTimeShift) {
  // sigma = e^mu / (e^mu + 1/s - 1); with 4096 tokens mu = max_shift = 1.15.
  const FlowMatchSchedule schedule = flow_match_schedule(4, 4096, config_with_shift(1.0, true));
  const double e = std::exp(1.15);
  std::vector<double> expected;
  for (double s : {1.0, 0.75, 0.5, 0.25}) expected.push_back(e / (e + 1.0 / s - 1.0));
  expected.push_back(0.0);
  expect_floats(schedule.sigmas, expected, "sigmas");
  EXPECT_FLOAT_EQ(schedule.timesteps[2], static_cast<float>(1000 * e / (e + 1.0)));

  // The static shift is ignored when shifting is dynamic; fewer tokens shift less.
  const FlowMatchSchedule small = flow_match_schedule(4, 256, config_with_shift(3.0, true));
  EXPECT_FLOAT_EQ(small.sigmas[2], static_cast<float>(std::exp(0.5) / (std::exp(0.5) + 1.0)));
}

TEST(FlowMatchScheduler, RejectsFewerThanOneStep) {
  EXPECT_THROW(flow_match_schedule(0, 64, FlowMatchSchedulerConfig()), std::invalid_argument);
}

TEST(FlowMatchScheduler, EulerStepMovesAlongTheVelocity) {
  const at::Tensor sample = at::tensor({1.0f, -2.0f, 0.5f});
  const at::Tensor velocity = at::tensor({4.0f, 1.0f, -8.0f});
  const at::Tensor next = euler_step(sample, velocity, 0.75f, 0.5f);
  EXPECT_TRUE(next.equal(at::tensor({0.0f, -2.25f, 2.5f}))) << next;
  EXPECT_EQ(
      euler_step(sample.to(at::kBFloat16), velocity.to(at::kBFloat16), 1.0f, 0.0f).scalar_type(),
      at::kBFloat16);
}

std::string load_error_of(const std::string& json) {
  try {
    FlowMatchSchedulerConfig::from_json(JsonConfig::parse(json, "scheduler_config.json"));
  } catch (const LoadError& error) {
    return error.what();
  }
  return "<no LoadError>";
}

TEST(FlowMatchScheduler, ConfigReadsFluxKeysAndRejectsUnsupportedOptions) {
  const FlowMatchSchedulerConfig config = FlowMatchSchedulerConfig::from_json(JsonConfig::parse(
      R"({"num_train_timesteps": 1000, "shift": 3.0, "use_dynamic_shifting": true,
          "base_shift": 0.5, "max_shift": 1.15, "base_image_seq_len": 256,
          "max_image_seq_len": 4096, "shift_terminal": null, "use_karras_sigmas": false})",
      "scheduler_config.json"));
  EXPECT_DOUBLE_EQ(config.shift, 3.0);
  EXPECT_TRUE(config.use_dynamic_shifting);
  EXPECT_EQ(config.max_image_seq_len, 4096);

  EXPECT_EQ(load_error_of(R"({"use_karras_sigmas": true})"),
            "scheduler_config.json: key \"use_karras_sigmas\" is set, which is not supported");
  EXPECT_EQ(load_error_of(R"({"shift_terminal": 0.1})"),
            "scheduler_config.json: key \"shift_terminal\" is set, which is not supported");
  EXPECT_EQ(load_error_of(R"({"shift": "large"})"),
            "scheduler_config.json: key \"shift\" must be a number, got large");
}

}  // namespace
}  // namespace flx::flux
