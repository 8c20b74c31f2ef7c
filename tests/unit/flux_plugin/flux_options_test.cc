#include "flux_options.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "fake_host_setup.h"

namespace flx::flux {
namespace {

class FluxOptionsTest : public FakeHostTest {
 protected:
  FluxOptions Read(const std::map<std::string, std::string>& scalars) {
    config_.scalars = scalars;
    return read_flux_options(flx::Config(&config_));
  }
  // The message of the error Read() throws, or "" when it does not.
  std::string ErrorOf(const std::map<std::string, std::string>& scalars) {
    try {
      Read(scalars);
    } catch (const flx::Error& e) {
      EXPECT_EQ(e.code(), FLX_INVALID_ARGUMENT);
      return e.what();
    }
    return "";
  }

  flx_config config_;
};

TEST_F(FluxOptionsTest, OnlyModelGivesTheDocumentedDefaults) {
  const FluxOptions options = Read({{"model", "/models/demo"}});
  EXPECT_EQ(options.model, "/models/demo");
  EXPECT_EQ(options.base, "");
  EXPECT_EQ(options.load, LoadMode::kEager);
  EXPECT_TRUE(options.warmup);
  EXPECT_EQ(options.device, "auto");
  EXPECT_EQ(options.dtype, "auto");
  EXPECT_EQ(options.threads, "auto");
  EXPECT_EQ(options.attention_slicing, "off");
  EXPECT_FALSE(options.vae_slicing);
  EXPECT_FALSE(options.vae_tiling);
  EXPECT_EQ(options.vae_tile_size, 512);
  EXPECT_EQ(options.vae_tile_overlap, 128);
  EXPECT_EQ(options.offload, "none");
  EXPECT_EQ(options.override_variants, 1);
  EXPECT_TRUE(options.buffer_pool);
  EXPECT_EQ(options.text_cache_size, 16);
  EXPECT_EQ(options.progress, ProgressMode::kOff);
  EXPECT_FALSE(options.default_steps.has_value());
  EXPECT_FALSE(options.default_guidance.has_value());
  EXPECT_FALSE(options.default_max_sequence_length.has_value());
  EXPECT_EQ(options.default_width, 1024);
  EXPECT_EQ(options.default_height, 1024);
  EXPECT_FALSE(options.fault_injection.enabled()) << "fault injection is off by default";
  EXPECT_FALSE(options.release_unused_weights.has_value()) << "auto";
}

TEST_F(FluxOptionsTest, EveryKeyIsRead) {
  const FluxOptions options = Read({{"model", "black-forest-labs/FLUX.1-dev"},
                                    {"base", "/models/base"},
                                    {"load", "lazy"},
                                    {"warmup", "false"},
                                    {"device", "cpu"},
                                    {"dtype", "bfloat16"},
                                    {"threads", "3"},
                                    {"default_steps", "20"},
                                    {"default_guidance", "4.5"},
                                    {"default_max_sequence_length", "128"},
                                    {"default_width", "512"},
                                    {"default_height", "768"},
                                    {"attention_slicing", "max"},
                                    {"vae_slicing", "true"},
                                    {"vae_tiling", "true"},
                                    {"vae_tile_size", "256"},
                                    {"vae_tile_overlap", "64"},
                                    {"offload", "model"},
                                    {"override_variants", "0"},
                                    {"buffer_pool", "false"},
                                    {"text_cache_size", "0"},
                                    {"progress", "log"},
                                    {"text_encoder_2_file", "/models/t5-Q8_0.gguf"}});
  EXPECT_EQ(options.model, "black-forest-labs/FLUX.1-dev");
  EXPECT_EQ(options.base, "/models/base");
  EXPECT_EQ(options.text_encoder_2_file, "/models/t5-Q8_0.gguf");
  EXPECT_EQ(Read({{"model", "m"}, {"quantize", "q4_k"}}).quantize_transformer, "q4_k");
  EXPECT_EQ(Read({{"model", "m"}, {"quantize", "fp8"}}).quantize_text_encoder_2, "fp8");
  EXPECT_EQ(Read({{"model", "m"}}).quantize_transformer, "none");
  EXPECT_EQ(quantize_dtype("q8_0"), DType::Q8_0);
  EXPECT_EQ(quantize_dtype("fp8"), DType::F8_E4M3);
  EXPECT_FALSE(quantize_dtype("none"));
  EXPECT_EQ(Read({{"model", "m"}, {"quantize", "auto"}}).quantize_text_encoder_2, "auto");
  for (const char* name : {"q8_0", "q4_k", "q5_k", "q6_k", "fp8", "none"}) {
    EXPECT_EQ(quantize_name(quantize_dtype(name)), name);
  }
  EXPECT_EQ(Read({{"model", "m"}, {"release_unused_weights", "true"}}).release_unused_weights,
            std::optional<bool>(true));
  EXPECT_EQ(Read({{"model", "m"}, {"release_unused_weights", "false"}}).release_unused_weights,
            std::optional<bool>(false));
  EXPECT_FALSE(Read({{"model", "m"}, {"release_unused_weights", "auto"}})
                   .release_unused_weights.has_value());
  EXPECT_EQ(options.load, LoadMode::kLazy);
  EXPECT_FALSE(options.warmup);
  EXPECT_EQ(options.device, "cpu");
  EXPECT_EQ(options.dtype, "bfloat16");
  EXPECT_EQ(options.threads, "3");
  EXPECT_EQ(options.default_steps, 20);
  EXPECT_EQ(options.default_guidance, 4.5);
  EXPECT_EQ(options.default_max_sequence_length, 128);
  EXPECT_EQ(options.default_width, 512);
  EXPECT_EQ(options.default_height, 768);
  EXPECT_EQ(options.attention_slicing, "max");
  EXPECT_TRUE(options.vae_slicing);
  EXPECT_TRUE(options.vae_tiling);
  EXPECT_EQ(options.vae_tile_size, 256);
  EXPECT_EQ(options.vae_tile_overlap, 64);
  EXPECT_EQ(options.offload, "model");
  EXPECT_EQ(options.override_variants, 0);
  EXPECT_FALSE(options.buffer_pool);
  EXPECT_EQ(options.text_cache_size, 0);
  EXPECT_EQ(options.progress, ProgressMode::kLog);
}

TEST_F(FluxOptionsTest, ProgressBarIsAMode) {
  EXPECT_EQ(Read({{"model", "m"}, {"progress", "bar"}}).progress, ProgressMode::kBar);
  EXPECT_STREQ(progress_mode_name(ProgressMode::kBar), "bar");
}

struct BadCase {
  const char* name;
  std::map<std::string, std::string> scalars;
  const char* must_mention;
};

// Names the case in test listings instead of dumping its bytes.
void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

class FluxOptionsBadTest : public FluxOptionsTest, public ::testing::WithParamInterface<BadCase> {};

TEST_P(FluxOptionsBadTest, IsRefusedWithALocatedMessage) {
  const BadCase& c = GetParam();
  const std::string message = ErrorOf(c.scalars);
  ASSERT_FALSE(message.empty()) << c.name << " was accepted";
  EXPECT_NE(message.find(c.must_mention), std::string::npos)
      << "message: " << message << "\nexpected to mention: " << c.must_mention;
  EXPECT_EQ(message.rfind("fake.yaml:1:1: ", 0), 0u) << "not located: " << message;
}

INSTANTIATE_TEST_SUITE_P(
    Keys, FluxOptionsBadTest,
    ::testing::Values(
        BadCase{"no_model", {}, "model is required"},
        BadCase{"quantize",
                {{"model", "m"}, {"quantize", "q3_k"}},
                "quantize must be one of none, q8_0, q4_k, q5_k, q6_k, fp8, auto, got \"q3_k\""},
        BadCase{"empty_model", {{"model", ""}}, "model must not be empty"},
        BadCase{"load",
                {{"model", "m"}, {"load", "sometimes"}},
                "load must be one of eager, lazy, got \"sometimes\""},
        BadCase{"vae_slicing_type", {{"model", "m"}, {"vae_slicing", "often"}}, "vae_slicing"},
        BadCase{"vae_tiling_type", {{"model", "m"}, {"vae_tiling", "often"}}, "vae_tiling"},
        BadCase{"vae_tile_size",
                {{"model", "m"}, {"vae_tile_size", "0"}},
                "vae_tile_size must be between 1 and 8192, got 0"},
        BadCase{"vae_tile_overlap",
                {{"model", "m"}, {"vae_tile_overlap", "-8"}},
                "vae_tile_overlap must be between 0 and 8192, got -8"},
        BadCase{"override_variants",
                {{"model", "m"}, {"override_variants", "9"}},
                "override_variants must be between 0 and 4, got 9"},
        BadCase{"text_cache_size",
                {{"model", "m"}, {"text_cache_size", "4096"}},
                "text_cache_size must be between 0 and 1024, got 4096"},
        BadCase{"progress",
                {{"model", "m"}, {"progress", "spinner"}},
                "progress must be one of off, log, bar, got \"spinner\""},
        BadCase{"steps",
                {{"model", "m"}, {"default_steps", "0"}},
                "default_steps must be between 1 and 1000, got 0"},
        BadCase{"guidance",
                {{"model", "m"}, {"default_guidance", "-1"}},
                "default_guidance must be between 0 and 100, got -1"},
        BadCase{"sequence",
                {{"model", "m"}, {"default_max_sequence_length", "513"}},
                "default_max_sequence_length must be between 1 and 512, got 513"},
        BadCase{"width",
                {{"model", "m"}, {"default_width", "0"}},
                "default_width must be between 1 and 8192, got 0"},
        BadCase{"height_type", {{"model", "m"}, {"default_height", "tall"}}, "default_height"},
        BadCase{"warmup_type", {{"model", "m"}, {"warmup", "maybe"}}, "warmup"},
        BadCase{"release_unused_weights",
                {{"model", "m"}, {"release_unused_weights", "sometimes"}},
                "release_unused_weights"},
        BadCase{"fault_injection_scalar",
                {{"model", "m"}, {"fault_injection", "oom"}},
                "fault_injection"}),
    [](const ::testing::TestParamInfo<BadCase>& info) { return std::string(info.param.name); });

TEST_F(FluxOptionsTest, EveryBadKeyIsReportedAtOnce) {
  const std::string message =
      ErrorOf({{"model", "m"}, {"load", "later"}, {"progress", "loud"}, {"default_steps", "0"}});
  for (const char* key : {"load must", "progress must", "default_steps must"}) {
    EXPECT_NE(message.find(key), std::string::npos) << key << " missing from:\n" << message;
  }
  EXPECT_EQ(std::count(message.begin(), message.end(), '\n'), 2) << message;
}

}  // namespace
}  // namespace flx::flux
