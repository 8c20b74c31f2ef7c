#include "config/env_overrides.h"

#include <gtest/gtest.h>

namespace flx {
namespace {

StageConfig PipelineStage() {
  const char* yaml =
      "version: 1\n"
      "stages:\n"
      "  - {id: p, kind: pipeline, library: f, type: any, config: {model: m, device: auto}}\n"
      "models: {m: [p]}\n";
  Diagnostics diags;
  auto parsed = ParseGraphConfig(yaml, "g.yaml", Environment(), &diags);
  EXPECT_TRUE(parsed.ok()) << diags.ToString();
  return parsed->stages.at(0);
}

DeclaredSetting Declared(const std::string& key, const std::string& env,
                         flx_setting_type type = FLX_SETTING_STRING) {
  DeclaredSetting setting;
  setting.key = key;
  setting.env = env;
  setting.type = type;
  return setting;
}

TEST(EnvOverridesTest, DeclaredVariablesWinOverTheYaml) {
  StageConfig stage = PipelineStage();
  const std::vector<DeclaredSetting> declared = {
      Declared("device", "ANY_DEVICE"), Declared("slicing", "ANY_SLICING"),
      Declared("dtype", "ANY_DTYPE"), Declared("model", "")};
  auto env = Environment::FromMap({{"ANY_DEVICE", "cpu"},
                                   {"ANY_SLICING", "max"},
                                   {"ANY_DTYPE", ""},
                                   {"FLUX_DEVICE", "cuda"}});
  auto applied = ApplyEnvOverrides(env, declared, &stage);
  ASSERT_EQ(applied.size(), 2u);
  EXPECT_EQ(applied[0], "ANY_DEVICE=cpu overrides stages[0].config.device ('auto')");
  EXPECT_EQ(applied[1], "ANY_SLICING=max overrides stages[0].config.slicing (unset)");
  EXPECT_EQ(stage.config["device"].Scalar(), "cpu") << "only declared variables count";
  EXPECT_EQ(stage.config["slicing"].Scalar(), "max");
  EXPECT_FALSE(stage.config["dtype"]) << "empty variables are ignored";
  EXPECT_EQ(stage.config["model"].Scalar(), "m");
}

TEST(EnvOverridesTest, BooleansAreNormalizedOthersPassedOn) {
  StageConfig stage = PipelineStage();
  const std::vector<DeclaredSetting> declared = {Declared("warmup", "W", FLX_SETTING_BOOL),
                                                 Declared("tiling", "T", FLX_SETTING_BOOL),
                                                 Declared("odd", "O", FLX_SETTING_BOOL),
                                                 Declared("name", "N")};
  auto env = Environment::FromMap({{"W", "1"}, {"T", "Off"}, {"O", "maybe"}, {"N", "1"}});
  ApplyEnvOverrides(env, declared, &stage);
  EXPECT_EQ(stage.config["warmup"].Scalar(), "true");
  EXPECT_EQ(stage.config["tiling"].Scalar(), "false");
  EXPECT_EQ(stage.config["odd"].Scalar(), "maybe") << "the stage reports what it cannot parse";
  EXPECT_EQ(stage.config["name"].Scalar(), "1") << "strings are left alone";
}

TEST(EnvOverridesTest, NothingSetChangesNothing) {
  StageConfig stage = PipelineStage();
  EXPECT_TRUE(ApplyEnvOverrides(Environment(), {Declared("device", "ANY_DEVICE")}, &stage).empty());
  EXPECT_EQ(stage.config["device"].Scalar(), "auto");
}

}  // namespace
}  // namespace flx
