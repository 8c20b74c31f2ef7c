#include "stage_settings.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fake_host_setup.h"

namespace flx::flux {
namespace {

// A CPU-only machine like the development one: no CUDA, no MPS, no bf16 instructions.
HardwareInfo CpuOnly() {
  HardwareInfo hardware;
  hardware.physical_cores = 4;
  hardware.logical_cpus = 8;
  return hardware;
}

class StageSettingsTest : public FakeHostTest {
 protected:
  StageSettings Resolve(const FluxOptions& options, const HardwareInfo& hardware,
                        std::vector<std::string>* errors) {
    return resolve_stage_settings(options, hardware, flx::Config(&config_), errors);
  }

  flx_config config_;
};

TEST_F(StageSettingsTest, DefaultsResolveOnACpuOnlyMachine) {
  std::vector<std::string> errors;
  const StageSettings s = Resolve(FluxOptions(), CpuOnly(), &errors);
  EXPECT_TRUE(errors.empty()) << errors.front();
  EXPECT_EQ(s.device.device_name, "cpu");
  EXPECT_EQ(s.device.dtype_name, "float32");
  EXPECT_NE(s.device.dtype_reason.find("float32"), std::string::npos) << s.device.dtype_reason;
  EXPECT_EQ(s.threads.threads, 4) << "auto is the physical cores";
  EXPECT_EQ(s.attention, AttentionOptions{});
  EXPECT_FALSE(s.vae.slicing);
  EXPECT_FALSE(s.vae.tiling);
  EXPECT_EQ(s.vae.tile, (VaeTiling{512, 128}));
  EXPECT_EQ(s.offload, OffloadMode::kNone);
}

TEST_F(StageSettingsTest, AutoDtypeIsBfloat16OnACpuWithBf16Instructions) {
  HardwareInfo hardware = CpuOnly();
  hardware.cpu_avx512_bf16 = true;
  std::vector<std::string> errors;
  const StageSettings s = Resolve(FluxOptions(), hardware, &errors);
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(s.device.dtype_name, "bfloat16");
}

TEST_F(StageSettingsTest, ExplicitValuesAreTaken) {
  FluxOptions options;
  options.dtype = "BF16";
  options.threads = "3";
  options.attention_slicing = "max";
  options.vae_slicing = true;
  options.vae_tiling = true;
  options.vae_tile_size = 256;
  options.vae_tile_overlap = 64;
  options.offload = "model";
  std::vector<std::string> errors;
  const StageSettings s = Resolve(options, CpuOnly(), &errors);
  EXPECT_TRUE(errors.empty()) << errors.front();
  EXPECT_EQ(s.device.dtype_name, "bfloat16");
  EXPECT_EQ(s.threads.threads, 3);
  EXPECT_EQ(attention_slicing_name(s.attention), "max");
  EXPECT_TRUE(s.vae.slicing);
  EXPECT_TRUE(s.vae.tiling);
  EXPECT_EQ(s.vae.tile, (VaeTiling{256, 64}));
  EXPECT_EQ(s.offload, OffloadMode::kModel);
}

TEST_F(StageSettingsTest, EveryImpossibleValueIsReportedLocatedAndNamed) {
  FluxOptions options;
  options.device = "cuda";
  options.dtype = "int8";
  options.threads = "many";
  options.attention_slicing = "sideways";
  options.offload = "disk";
  std::vector<std::string> errors;
  Resolve(options, CpuOnly(), &errors);
  // device and dtype resolve together, so the device's error stands for both.
  const std::vector<std::string> expected = {"device \"cuda\"", "threads \"many\"",
                                             "attention_slicing", "offload"};
  ASSERT_EQ(errors.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_NE(errors[i].find(expected[i]), std::string::npos) << errors[i];
    EXPECT_EQ(errors[i].rfind("fake.yaml:1:1: ", 0), 0u) << "not located: " << errors[i];
  }

  options.device = "cpu";
  errors.clear();
  Resolve(options, CpuOnly(), &errors);
  ASSERT_FALSE(errors.empty());
  EXPECT_NE(errors[0].find("dtype \"int8\""), std::string::npos) << errors[0];
}

TEST_F(StageSettingsTest, TileGeometryIsCheckedAgainstTheVaeScaleFactor) {
  struct Case {
    VaeTiling tile;
    const char* must_mention;  // "" when accepted
  };
  for (const Case& c :
       {Case{{512, 128}, ""}, Case{{100, 16}, "vae_tile_size"}, Case{{512, 12}, "vae_tile_overlap"},
        Case{{512, 264}, "vae_tile_overlap"}}) {
    SCOPED_TRACE(std::to_string(c.tile.tile_size) + "/" + std::to_string(c.tile.overlap));
    VaeDecodeOptions vae;
    vae.tile = c.tile;
    std::string message;
    try {
      check_stage_vae_tiling(vae, 8, flx::Config(&config_));
    } catch (const flx::Error& e) {
      EXPECT_EQ(e.code(), FLX_INVALID_ARGUMENT);
      message = e.what();
    }
    if (std::string(c.must_mention).empty()) {
      EXPECT_EQ(message, "");
    } else {
      EXPECT_NE(message.find(c.must_mention), std::string::npos) << message;
      EXPECT_EQ(message.rfind("fake.yaml:1:1: ", 0), 0u) << "not located: " << message;
    }
  }
}

TEST_F(StageSettingsTest, RecoveryOverridesReplaceTheStageKnobsForOneCall) {
  std::vector<std::string> errors;
  FluxOptions options;
  options.vae_slicing = true;
  const StageSettings settings = Resolve(options, CpuOnly(), &errors);

  ResolvedRequest plain;
  const CallKnobs defaults = call_knobs(settings, plain);
  EXPECT_EQ(defaults.attention, settings.attention);
  EXPECT_TRUE(defaults.vae.slicing);
  EXPECT_FALSE(defaults.vae.tiling);

  ResolvedRequest overridden;
  overridden.attention_slicing = "4";
  overridden.vae_tiling = true;
  overridden.vae_slicing = false;
  const CallKnobs knobs = call_knobs(settings, overridden);
  EXPECT_EQ(attention_slicing_name(knobs.attention), "4");
  EXPECT_TRUE(knobs.vae.tiling);
  EXPECT_FALSE(knobs.vae.slicing);
  EXPECT_EQ(knobs.vae.tile, settings.vae.tile) << "the stage's tile geometry is kept";
}

TEST_F(StageSettingsTest, MalformedAttentionOverrideNamesTheParam) {
  ResolvedRequest request;
  request.attention_slicing = "sideways";
  try {
    call_knobs(StageSettings(), request);
    FAIL() << "a malformed attention_slicing override was accepted";
  } catch (const flx::Error& e) {
    EXPECT_EQ(e.code(), FLX_INVALID_ARGUMENT);
    EXPECT_NE(std::string(e.what()).find("sideways"), std::string::npos) << e.what();
    ASSERT_FALSE(e.details().empty());
    EXPECT_EQ(e.details()[0], (std::pair<std::string, std::string>{"param", "attention_slicing"}));
  }
}

}  // namespace
}  // namespace flx::flux
