#include "config/env_overrides.h"

#include <gtest/gtest.h>

namespace flx {
namespace {

GraphConfig TwoStages() {
  const char* yaml =
      "version: 1\n"
      "stages:\n"
      "  - {id: q, kind: scheduler, library: s, type: fifo, config: {max_queue: 1}}\n"
      "  - {id: p, kind: pipeline, library: f, type: flux, config: {model: m, device: auto}}\n"
      "models: {m: [q, p]}\n";
  Diagnostics diags;
  auto parsed = ParseGraphConfig(yaml, "g.yaml", Environment(), &diags);
  EXPECT_TRUE(parsed.ok()) << diags.ToString();
  return *parsed;
}

TEST(EnvOverridesTest, EnvironmentWinsOverYamlForPipelineStagesOnly) {
  GraphConfig config = TwoStages();
  auto env = Environment::FromMap(
      {{"FLUX_DEVICE", "cpu"}, {"FLUX_ATTENTION_SLICING", "max"}, {"FLUX_DTYPE", ""}});
  auto applied = ApplyPipelineEnvOverrides(env, &config);
  ASSERT_EQ(applied.size(), 2u);
  EXPECT_EQ(applied[0], "FLUX_DEVICE=cpu overrides stages[1].config.device ('auto')");
  EXPECT_EQ(applied[1], "FLUX_ATTENTION_SLICING=max overrides stages[1].config.attention_slicing (unset)");
  EXPECT_EQ(config.stages[1].config["device"].Scalar(), "cpu");
  EXPECT_EQ(config.stages[1].config["attention_slicing"].Scalar(), "max");
  EXPECT_FALSE(config.stages[1].config["dtype"]) << "empty variables are ignored";
  EXPECT_FALSE(config.stages[0].config["device"]) << "schedulers are left alone";
}

TEST(EnvOverridesTest, NothingSetChangesNothing) {
  GraphConfig config = TwoStages();
  EXPECT_TRUE(ApplyPipelineEnvOverrides(Environment(), &config).empty());
  EXPECT_EQ(config.stages[1].config["device"].Scalar(), "auto");
}

}  // namespace
}  // namespace flx
