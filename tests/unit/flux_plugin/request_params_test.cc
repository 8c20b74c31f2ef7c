#include "request_params.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <map>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "fake_host_setup.h"

namespace flx::flux {
namespace {

constexpr int64_t kMultiple = 16;

FluxOptions Options() {
  FluxOptions options;
  options.model = "m";
  return options;
}

class RequestParamsTest : public FakeHostTest {
 protected:
  void SetUp() override {
    FakeHostTest::SetUp();
    request_ = flx::testing::DefaultRequest("a red fox", nullptr);
  }

  void SetOverrides(std::vector<std::pair<std::string, std::string>> overrides) {
    override_text_ = std::move(overrides);
    override_kvs_.clear();
    for (const auto& [key, value] : override_text_) {
      override_kvs_.push_back({key.c_str(), value.c_str()});
    }
    request_.overrides = override_kvs_.data();
    request_.n_overrides = override_kvs_.size();
  }

  // The error resolve_request() throws for request_ (code checked), or a failed expectation.
  flx::Error ErrorFor(const ModelDefaults& defaults) {
    try {
      resolve_request(request_, defaults, kMultiple);
    } catch (const flx::Error& e) {
      EXPECT_EQ(e.code(), FLX_INVALID_ARGUMENT) << e.what();
      return e;
    }
    ADD_FAILURE() << "the request was accepted";
    return flx::Error(FLX_OK, "");
  }

  static std::string Param(const flx::Error& e) {
    for (const auto& [key, value] : e.details()) {
      if (key == "param") return value;
    }
    return "";
  }

  flx_request request_;
  std::vector<std::pair<std::string, std::string>> override_text_;
  std::vector<flx_kv> override_kvs_;
};

TEST_F(RequestParamsTest, ModelDefaultsFollowTheGuidanceEmbedding) {
  const ModelDefaults schnell = model_defaults(false, Options());
  EXPECT_EQ(schnell.steps, 4);
  EXPECT_FALSE(schnell.guidance.has_value());
  EXPECT_EQ(schnell.max_sequence_length, 256);
  EXPECT_EQ(schnell.width, 1024);
  EXPECT_EQ(schnell.height, 1024);

  const ModelDefaults dev = model_defaults(true, Options());
  EXPECT_EQ(dev.steps, 28);
  EXPECT_EQ(dev.guidance, 3.5);
  EXPECT_EQ(dev.max_sequence_length, 512);
}

TEST_F(RequestParamsTest, ConfigDefaultsOverrideTheModelDerivedOnes) {
  FluxOptions options = Options();
  options.default_steps = 8;
  options.default_guidance = 5;
  options.default_max_sequence_length = 64;
  options.default_width = 256;
  options.default_height = 128;
  const ModelDefaults dev = model_defaults(true, options);
  EXPECT_EQ(dev.steps, 8);
  EXPECT_EQ(dev.guidance, 5);
  EXPECT_EQ(dev.max_sequence_length, 64);
  EXPECT_EQ(dev.width, 256);
  EXPECT_EQ(dev.height, 128);
  EXPECT_FALSE(model_defaults(false, options).guidance.has_value())
      << "a schnell-like model ignores guidance whatever the config says";
}

TEST_F(RequestParamsTest, OpenValuesTakeTheDefaults) {
  const ModelDefaults defaults = model_defaults(true, Options());
  request_.seed = 42;
  const ResolvedRequest r = resolve_request(request_, defaults, kMultiple);
  EXPECT_EQ(r.prompt, "a red fox");
  EXPECT_EQ(r.prompt_2, "a red fox") << "prompt_2 defaults to the prompt";
  EXPECT_EQ(r.width, 1024);
  EXPECT_EQ(r.height, 1024);
  EXPECT_EQ(r.steps, 28);
  EXPECT_EQ(r.guidance, 3.5);
  EXPECT_EQ(r.max_sequence_length, 512);
  EXPECT_EQ(r.seed, 42u);
  EXPECT_EQ(r.n, 1);
  EXPECT_EQ(r.dump_dir, "");
}

TEST_F(RequestParamsTest, RequestValuesWin) {
  const ModelDefaults defaults = model_defaults(true, Options());
  request_.prompt_2 = "fox, watercolor";
  request_.width = 768;
  request_.height = 512;
  request_.steps = 12;
  request_.guidance = 2.0f;
  request_.max_sequence_length = 77;
  request_.n = 3;
  const ResolvedRequest r = resolve_request(request_, defaults, kMultiple);
  EXPECT_EQ(r.prompt_2, "fox, watercolor");
  EXPECT_EQ(r.width, 768);
  EXPECT_EQ(r.height, 512);
  EXPECT_EQ(r.steps, 12);
  EXPECT_EQ(r.guidance, 2.0);
  EXPECT_EQ(r.max_sequence_length, 77);
  EXPECT_EQ(r.n, 3);
}

TEST_F(RequestParamsTest, GuidanceIsDroppedForModelsThatIgnoreIt) {
  request_.guidance = 7.0f;
  const ResolvedRequest r = resolve_request(request_, model_defaults(false, Options()), kMultiple);
  EXPECT_FALSE(r.guidance.has_value());
}

struct SizeCase {
  uint32_t width;
  uint32_t height;
  const char* must_mention;
};

// Names the case in test listings instead of dumping its bytes.
void PrintTo(const SizeCase& c, std::ostream* os) { *os << c.width << "x" << c.height; }

class RequestSizeTest : public RequestParamsTest, public ::testing::WithParamInterface<SizeCase> {};

TEST_P(RequestSizeTest, InvalidSizesAreRefusedNotRounded) {
  const SizeCase& c = GetParam();
  request_.width = c.width;
  request_.height = c.height;
  const flx::Error e = ErrorFor(model_defaults(false, Options()));
  EXPECT_EQ(Param(e), "size");
  EXPECT_NE(std::string(e.what()).find(c.must_mention), std::string::npos)
      << e.what() << "\nexpected to mention: " << c.must_mention;
}

INSTANTIATE_TEST_SUITE_P(
    Sizes, RequestSizeTest,
    ::testing::Values(
        SizeCase{1000, 1024,
                 "width 1000 is not a multiple of 16 (2 x this model's VAE scale factor 8); use "
                 "992 or 1008"},
        SizeCase{512, 8,
                 "height 8 is not a multiple of 16 (2 x this model's VAE scale factor 8); "
                 "use 16"},
        SizeCase{8208, 512, "width 8208 is above the largest size 8192"}));

TEST_F(RequestParamsTest, OutOfRangeValuesNameTheirField) {
  const ModelDefaults defaults = model_defaults(false, Options());
  request_.steps = 1001;
  EXPECT_EQ(Param(ErrorFor(defaults)), "steps");
  request_.steps = 0;
  request_.max_sequence_length = 513;
  const flx::Error e = ErrorFor(defaults);
  EXPECT_EQ(Param(e), "max_sequence_length");
  EXPECT_NE(std::string(e.what()).find("between 1 and 512"), std::string::npos) << e.what();
  request_.max_sequence_length = 0;
  request_.n = 0;
  EXPECT_EQ(Param(ErrorFor(defaults)), "n");
}

TEST_F(RequestParamsTest, OverridesReplaceValuesAndRoundSizesDown) {
  request_.width = 1024;
  request_.height = 1024;
  request_.steps = 28;
  SetOverrides({{"steps", "14"},
                {"width", "500"},
                {"height", "7"},
                {"attention_slicing", "max"},
                {"steps", "7"}});
  const ResolvedRequest r = resolve_request(request_, model_defaults(true, Options()), kMultiple);
  EXPECT_EQ(r.steps, 7) << "later overrides win";
  EXPECT_EQ(r.width, 496);
  EXPECT_EQ(r.height, 16) << "never below one multiple";
}

TEST_F(RequestParamsTest, TheDumpFolderComesFromItsOwnRequestField) {
  SetOverrides({{"dump_dir", "/tmp/not-a-knob"}});
  EXPECT_EQ(resolve_request(request_, model_defaults(true, Options()), kMultiple).dump_dir, "")
      << "an override is a knob, never a dump request";
  request_.dump_dir = "/tmp/dump";
  EXPECT_EQ(resolve_request(request_, model_defaults(true, Options()), kMultiple).dump_dir,
            "/tmp/dump");
  request_.struct_size = offsetof(flx_request, dump_dir);  // a 1.0 host
  EXPECT_EQ(resolve_request(request_, model_defaults(true, Options()), kMultiple).dump_dir, "")
      << "a field beyond struct_size is never read";
}

TEST_F(RequestParamsTest, RelativeOverridesScaleTheResolvedValues) {
  struct Case {
    std::vector<std::pair<std::string, std::string>> overrides;
    int steps;
    int64_t width;
    int64_t height;
  };
  request_.steps = 28;
  request_.width = 1024;
  request_.height = 768;
  const std::vector<Case> cases = {
      {{{"steps_factor", "0.25"}}, 7, 1024, 768},
      {{{"steps_factor", "0.25"}, {"min_steps", "10"}}, 10, 1024, 768},
      {{{"steps", "4"}, {"steps_factor", "0.5"}, {"min_steps", "10"}}, 4, 1024, 768},
      {{{"resolution_factor", "0.5"}}, 28, 512, 384},
      {{{"resolution_factor", "0.3"}}, 28, 304, 224},
      {{{"resolution_factor", "0.5"}, {"min_side", "500"}}, 28, 512, 512},
      {{{"resolution_factor", "0.01"}}, 28, 16, 16},
      {{{"width", "512"}, {"resolution_factor", "0.5"}}, 28, 256, 384},
  };
  for (const Case& c : cases) {
    SetOverrides(c.overrides);
    const ResolvedRequest r = resolve_request(request_, model_defaults(true, Options()), kMultiple);
    std::string label;
    for (const auto& [key, value] : c.overrides) label += key + "=" + value + " ";
    EXPECT_EQ(r.steps, c.steps) << label;
    EXPECT_EQ(r.width, c.width) << label;
    EXPECT_EQ(r.height, c.height) << label;
  }
}

TEST_F(RequestParamsTest, AppliedRecoveryOverridesAreListedForTheResult) {
  SetOverrides({{"steps_factor", "0.5"},
                {"resolution_factor", "0.5"},
                {"min_side", "64"},
                {"empty_cache", "true"},
                {"steps", "8"},
                {"attention_slicing", "max"},
                {"vae_tiling", "true"},
                {"dtype", "bfloat16"},
                {"offload", "model"},
                {"resolution_factor", "0.25"}});
  const ResolvedRequest r = resolve_request(request_, model_defaults(false, Options()), kMultiple);
  const std::map<std::string, std::string> expected = {
      {"steps_factor", "0.5"}, {"resolution_factor", "0.25"}, {"min_side", "64"},
      {"empty_cache", "true"}, {"attention_slicing", "max"},  {"vae_tiling", "true"}};
  EXPECT_EQ(r.applied_overrides, expected)
      << "absolute values are reported as effective ones; dtype and offload are the stage's "
         "to apply";
}

TEST_F(RequestParamsTest, MemoryOverridesAreKeptForTheStage) {
  SetOverrides({{"attention_slicing", "4"},
                {"vae_tiling", "true"},
                {"vae_slicing", "false"},
                {"dtype", "bf16"},
                {"offload", "sequential"}});
  const ResolvedRequest r = resolve_request(request_, model_defaults(false, Options()), kMultiple);
  EXPECT_EQ(r.attention_slicing, "4");
  EXPECT_EQ(r.vae_tiling, true);
  EXPECT_EQ(r.vae_slicing, false);
  EXPECT_EQ(r.dtype, "bf16");
  EXPECT_EQ(r.offload, "sequential");

  SetOverrides({});
  const ResolvedRequest plain =
      resolve_request(request_, model_defaults(false, Options()), kMultiple);
  EXPECT_FALSE(plain.attention_slicing || plain.vae_tiling || plain.vae_slicing || plain.dtype ||
               plain.offload)
      << "no override, nothing to apply";
}

TEST_F(RequestParamsTest, MalformedVaeOverridesNameTheirKey) {
  for (const char* key : {"vae_tiling", "vae_slicing"}) {
    SetOverrides({{key, "yes"}});
    EXPECT_EQ(Param(ErrorFor(model_defaults(false, Options()))), key);
  }
}

TEST_F(RequestParamsTest, EmptyCacheOverrideAsksForTheCacheToBeReleased) {
  const std::vector<std::pair<std::vector<std::pair<std::string, std::string>>, bool>> cases = {
      {{}, false},
      {{{"empty_cache", "true"}}, true},
      {{{"empty_cache", "false"}}, false},
      {{{"empty_cache", "true"}, {"empty_cache", "false"}}, false},
  };
  for (const auto& [overrides, empty_cache] : cases) {
    SetOverrides(overrides);
    const ResolvedRequest r =
        resolve_request(request_, model_defaults(false, Options()), kMultiple);
    EXPECT_EQ(r.empty_cache, empty_cache) << overrides.size() << " overrides";
  }
}

TEST_F(RequestParamsTest, MalformedOverridesAreRefused) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"steps", "half"},         {"width", "-3"},         {"height", "1e3"},
      {"steps_factor", "0"},     {"steps_factor", "1.5"}, {"resolution_factor", "x"},
      {"resolution_factor", ""}, {"min_steps", "0"},      {"min_side", "big"},
      {"empty_cache", "yes"}};
  for (const auto& [key, value] : cases) {
    SetOverrides({{key, value}});
    const flx::Error e = ErrorFor(model_defaults(false, Options()));
    EXPECT_EQ(Param(e), key) << key << "=" << value;
    EXPECT_NE(std::string(e.what()).find("override " + key + " must be"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace flx::flux
