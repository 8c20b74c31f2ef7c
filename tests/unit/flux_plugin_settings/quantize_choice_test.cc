#include "quantize_choice.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace flx::flux {
namespace {

// Bytes a component holds under a quantize-on-load type, about as FLUX.1 does (MB).
int64_t HeldBytes(int64_t float_bytes, std::optional<DType> type) {
  if (!type) return float_bytes;
  switch (*type) {
    case DType::Q8_0:
      return float_bytes * 34 / 64;
    case DType::Q6_K:
      return float_bytes * 210 / 512;
    case DType::Q5_K:
      return float_bytes * 176 / 512;
    case DType::Q4_K:
      return float_bytes * 144 / 512;
    default:
      return float_bytes;
  }
}

// A bfloat16 model whose float weights are all views into the files (releasable); quantized
// ones are copies made at load, which releasing cannot give back.
struct FakeModel {
  int64_t transformer = 24000;
  int64_t t5 = 9500;
  int64_t clip_and_vae = 400;
  bool accelerator = false;
  std::vector<std::string> asked;

  // Float components are dense, 95% of the bytes in 20 (transformer) or 24 (T5) equal
  // blocks; quantized ones hold nothing dense and expand 200 B per call.
  WeightsPlan Plan(std::optional<DType> transformer_type, std::optional<DType> t5_type) {
    asked.push_back(std::string(transformer_type ? dtype_name(*transformer_type) : "none") + "/" +
                    (t5_type ? dtype_name(*t5_type) : "none"));
    WeightsPlan plan(accelerator ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU));
    auto add = [&](const char* name, int64_t float_bytes, std::optional<DType> type, int blocks) {
      ComponentWeights weights;
      weights.bytes = HeldBytes(float_bytes, type);
      weights.file_backed_bytes = type ? 0 : weights.bytes;
      if (type) {
        weights.largest_expansion_bytes = 200;
      } else {
        weights.dense_bytes = weights.bytes;
        for (int i = 0; i < blocks; ++i) {
          weights.block_dense_bytes["b." + std::to_string(i) + "."] =
              float_bytes * 95 / 100 / blocks;
        }
      }
      plan.add(name, weights);
    };
    add("transformer", transformer, transformer_type, 20);
    add("text_encoder_2", t5, t5_type, 24);
    add("vae", clip_and_vae, std::nullopt, 0);
    return plan;
  }
  WeightsPlanFor Planner() {
    return [this](std::optional<DType> a, std::optional<DType> b) { return Plan(a, b); };
  }
};

ResidencySettings Settings(const std::string& transformer, const std::string& t5,
                           std::optional<bool> release = std::nullopt) {
  ResidencySettings settings;
  settings.transformer = transformer;
  settings.text_encoder_2 = t5;
  settings.release_unused = release;
  return settings;
}

TEST(QuantizeChoiceTest, PicksTheLeastLossyTypeThatFitsBesideADefaultRequest) {
  struct Case {
    int64_t budget;
    std::optional<DType> expected;
  };
  // Weights: none 33900, q8_0 18196, q6_k 14139, q5_k 11915, q4_k 9821; activations 1000.
  for (const Case& c :
       {Case{40000, std::nullopt}, Case{34900, std::nullopt}, Case{34899, DType::Q8_0},
        Case{19196, DType::Q8_0}, Case{19195, DType::Q6_K}, Case{15139, DType::Q6_K},
        Case{15138, DType::Q5_K}, Case{12915, DType::Q5_K}, Case{12914, DType::Q4_K},
        Case{10821, DType::Q4_K}}) {
    FakeModel model;
    const QuantizeChoice choice =
        choose_quantization(Settings("auto", "auto"), 1000, c.budget, model.Planner());
    EXPECT_TRUE(choice.fits) << c.budget << ": " << choice.summary;
    EXPECT_EQ(choice.transformer, c.expected) << c.budget << ": " << choice.summary;
    EXPECT_EQ(choice.text_encoder_2, c.expected) << c.budget;
    EXPECT_FALSE(choice.release_unused) << c.budget;
  }
}

TEST(QuantizeChoiceTest, WhenNothingFitsTheSmallestIsKeptAndSaysSo) {
  FakeModel model;
  model.transformer = 2000;
  // q4_k whole: 562 + 2671 + 400 = 3633; released, the float ones give back the most: none
  // peaks at max(11900 - 2000, 11900 - 9500) = 9900; quantized copies cannot be given back.
  const QuantizeChoice choice =
      choose_quantization(Settings("auto", "auto"), 100, 3000, model.Planner());
  EXPECT_FALSE(choice.fits);
  EXPECT_EQ(choice.transformer, DType::Q4_K) << "the smallest is kept";
  EXPECT_EQ(choice.text_encoder_2, DType::Q4_K);
  EXPECT_TRUE(choice.release_unused);
  EXPECT_EQ(model.asked.size(), 10u) << "five whole, five released";
  EXPECT_NE(choice.summary.find("nothing fits, kept transformer q4_k"), std::string::npos)
      << choice.summary;
}

TEST(QuantizeChoiceTest, ExactWeightsReleasedWinOverQuantizingOnlyWhenWholeDoesNotFit) {
  // The transformer is kept float (explicit none), T5 is auto: T5's type cannot shrink the
  // transformer, so whole never fits, and released exact weights are the first that do.
  FakeModel model;
  const QuantizeChoice choice =
      choose_quantization(Settings("none", "auto"), 1000, 26000, model.Planner());
  EXPECT_TRUE(choice.fits) << choice.summary;
  EXPECT_TRUE(choice.release_unused);
  EXPECT_EQ(choice.transformer, std::nullopt);
  // Released: max(everything but the transformer, everything but T5's file-backed bytes).
  EXPECT_EQ(choice.text_encoder_2, std::nullopt) << choice.summary;
  EXPECT_EQ(model.asked.front(), "none/none");
  EXPECT_EQ(model.asked.size(), 6u) << "five whole candidates, then the first released one";
}

TEST(QuantizeChoiceTest, AGivenTypeIsKeptAndAnExplicitReleaseSettingIsObeyed) {
  FakeModel model;
  QuantizeChoice choice =
      choose_quantization(Settings("auto", "q8_0", false), 1000, 16000, model.Planner());
  EXPECT_EQ(choice.text_encoder_2, DType::Q8_0);
  // T5 q8_0 5046 + VAE 400 + the transformer: q6_k 9843 is 15289, q5_k 8250 is 13696.
  EXPECT_EQ(choice.transformer, DType::Q5_K) << choice.summary;
  for (const std::string& asked : model.asked) {
    EXPECT_EQ(asked.substr(asked.find('/')), "/Q8_0") << asked;
  }

  FakeModel never;
  choice = choose_quantization(Settings("auto", "auto", false), 1000, 1000, never.Planner());
  EXPECT_FALSE(choice.fits);
  EXPECT_FALSE(choice.release_unused) << "release_unused_weights: false is never overridden";
  EXPECT_EQ(never.asked.size(), 5u);
}

TEST(QuantizeChoiceTest, TheSummaryListsEveryCandidateTriedAndTheBudget) {
  FakeModel model;
  const QuantizeChoice choice =
      choose_quantization(Settings("auto", "auto"), 1000, 19195, model.Planner());
  EXPECT_EQ(choice.summary,
            "quantize auto: chose transformer q6_k, text_encoder_2 q6_k (weights held at once: "
            "none 33900 B, q8_0 18196 B, q6_k 14139 B; with 1000 B for a default request "
            "against memory_budget 19195 B)");
}

ResidencySettings OnAccelerator(const std::string& quantize, OffloadMode offload) {
  ResidencySettings settings = Settings(quantize, quantize);
  settings.offload = offload;
  settings.accelerator = true;
  return settings;
}

TEST(QuantizeChoiceTest, OnAnAcceleratorModelOffloadComesBeforeTheNextTypeAndSequentialLast) {
  // On the device: none/none 33900, none/model 24000 (the transformer alone), q8_0/none 600
  // (the float VAE and one expansion), none/sequential 2340 (the transformer's 1200 outside
  // its blocks plus one 1140 block).
  struct Case {
    std::string quantize;
    int64_t budget;
    std::optional<DType> type;
    OffloadMode offload;
  };
  for (const Case& c : {Case{"auto", 40000, std::nullopt, OffloadMode::kNone},
                        Case{"auto", 25000, std::nullopt, OffloadMode::kModel},
                        Case{"auto", 24999, DType::Q8_0, OffloadMode::kNone},
                        Case{"none", 24999, std::nullopt, OffloadMode::kSequential}}) {
    FakeModel model;
    model.accelerator = true;
    const QuantizeChoice choice = choose_quantization(OnAccelerator(c.quantize, OffloadMode::kAuto),
                                                      1000, c.budget, model.Planner());
    EXPECT_TRUE(choice.fits) << choice.summary;
    EXPECT_EQ(choice.transformer, c.type) << choice.summary;
    EXPECT_EQ(choice.offload, c.offload) << choice.summary;
    EXPECT_FALSE(choice.release_unused) << "releasing host pages never helps the device";
  }
  FakeModel model;
  model.accelerator = true;
  const QuantizeChoice choice =
      choose_quantization(OnAccelerator("none", OffloadMode::kAuto), 1000, 24999, model.Planner());
  EXPECT_EQ(choice.summary,
            "residency auto: chose transformer none, text_encoder_2 none, offload sequential "
            "(weights on the accelerator at once: none 33900 B, model 24000 B, sequential 2340 "
            "B; with 1000 B for a default request against memory_budget 24999 B)");
}

TEST(QuantizeChoiceTest, AGivenOffloadModeIsKeptWhileTheTypeIsChosen) {
  FakeModel model;
  model.accelerator = true;
  const QuantizeChoice choice =
      choose_quantization(OnAccelerator("auto", OffloadMode::kModel), 1000, 20000, model.Planner());
  EXPECT_EQ(choice.offload, OffloadMode::kModel);
  EXPECT_EQ(choice.transformer, DType::Q8_0) << choice.summary;
  EXPECT_EQ(model.asked, (std::vector<std::string>{"none/none", "Q8_0/Q8_0"}));
  EXPECT_EQ(choice.summary.find("quantize auto: chose transformer q8_0"), 0u) << choice.summary;
}

TEST(QuantizeChoiceTest, OffloadAutoOnTheCpuTriesNothingButTheTypes) {
  FakeModel model;
  ResidencySettings settings = Settings("auto", "auto");
  settings.offload = OffloadMode::kAuto;
  const QuantizeChoice choice = choose_quantization(settings, 1000, 19196, model.Planner());
  EXPECT_EQ(choice.offload, OffloadMode::kNone);
  EXPECT_EQ(choice.transformer, DType::Q8_0);
  EXPECT_EQ(model.asked.size(), 2u);
}

TEST(ResidencySettingsTest, HasAutoWhenAnyPartIsAuto) {
  EXPECT_FALSE(Settings("none", "q8_0").has_auto());
  EXPECT_TRUE(Settings("none", "auto").has_auto());
  EXPECT_TRUE(OnAccelerator("none", OffloadMode::kAuto).has_auto());
  EXPECT_FALSE(OnAccelerator("none", OffloadMode::kModel).has_auto());
}

}  // namespace
}  // namespace flx::flux
