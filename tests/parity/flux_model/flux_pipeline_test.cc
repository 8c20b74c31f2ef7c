// FluxPipeline's contract on the tiny-flux checkpoint: argument checks, progress callbacks,
// cancellation, several images per call, token id validation and the VAE encoder.
#include "model/flux_pipeline.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "golden_tensors.h"
#include "support/golden.h"

namespace flx::flux {
namespace {

class FluxPipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FLX_GOLDEN_OR_SKIP(model_dir, "tiny-flux");
    const std::vector<flx::test::GoldenCase> cases = flx::test::golden_cases(model_dir);
    ASSERT_FALSE(cases.empty());
    pipeline_ = &flx::test::tiny_flux_pipeline(model_dir);
    params_ = flx::test::golden_params(cases.front());
  }

  std::string invalid_argument_of(const GenerateParams& params) const {
    try {
      pipeline_->generate(params);
    } catch (const std::invalid_argument& error) {
      return error.what();
    }
    return "<no std::invalid_argument>";
  }

  const FluxPipeline* pipeline_ = nullptr;
  GenerateParams params_;
};

TEST_F(FluxPipelineTest, ReadsTheVaeScaleFactorFromTheConfig) {
  EXPECT_EQ(pipeline_->vae_scale_factor(), 4) << "tiny-flux has 3 VAE blocks: 2^(3-1)";
}

TEST_F(FluxPipelineTest, RejectsBadParametersNamingThem) {
  const struct {
    std::function<void(GenerateParams&)> change;
    std::string message;
  } cases[] = {
      {[](GenerateParams& p) { p.width = 100; },
       "width 100 must be a positive multiple of 8 (2 x the VAE scale factor 4)"},
      {[](GenerateParams& p) { p.height = 0; },
       "height 0 must be a positive multiple of 8 (2 x the VAE scale factor 4)"},
      {[](GenerateParams& p) { p.steps = 0; }, "steps must be at least 1, got 0"},
      {[](GenerateParams& p) { p.n = 0; }, "n must be at least 1, got 0"},
      {[](GenerateParams& p) { p.t5_ids.clear(); }, "t5_ids must not be empty"},
      {[](GenerateParams& p) { p.clip_ids[3] = 49408; },
       "CLIP text encoder: token id 49408 at sequence 0, position 3 is outside the vocabulary "
       "of 49408"},
      {[](GenerateParams& p) { p.t5_ids[1] = -1; },
       "T5 encoder: token id -1 at sequence 0, position 1 is outside the vocabulary of 32128"},
      {[](GenerateParams& p) { p.clip_ids.resize(78, 49407); },
       "CLIP text encoder: 78 tokens exceed max_position_embeddings 77"},
  };
  for (const auto& c : cases) {
    GenerateParams params = params_;
    c.change(params);
    EXPECT_EQ(invalid_argument_of(params), c.message);
  }
}

TEST_F(FluxPipelineTest, ReportsEveryStepAndPhaseInOrder) {
  std::vector<std::string> events;
  GenerateCallbacks callbacks;
  callbacks.on_step = [&](int step, int total, double seconds) {
    EXPECT_GE(seconds, 0.0);
    events.push_back("step " + std::to_string(step) + "/" + std::to_string(total));
  };
  callbacks.on_phase = [&](const std::string& phase, double seconds) {
    EXPECT_GE(seconds, 0.0);
    events.push_back(phase);
  };
  params_.steps = 3;
  pipeline_->generate(params_, callbacks);
  EXPECT_EQ(events, (std::vector<std::string>{FLX_PHASE_TEXT_ENCODE, "step 1/3", "step 2/3",
                                              "step 3/3", FLX_PHASE_DENOISE,
                                              FLX_PHASE_VAE_DECODE}));
}

TEST_F(FluxPipelineTest, CancellationIsCheckedBeforeEveryStep) {
  int steps_done = 0;
  GenerateCallbacks callbacks;
  callbacks.on_step = [&](int, int, double) { ++steps_done; };
  callbacks.cancelled = [&] { return steps_done == 2; };
  params_.steps = 4;
  EXPECT_THROW(pipeline_->generate(params_, callbacks), Cancelled);
  EXPECT_EQ(steps_done, 2);

  steps_done = 0;
  callbacks.cancelled = [] { return true; };
  try {
    pipeline_->generate(params_, callbacks);
    ADD_FAILURE() << "expected Cancelled";
  } catch (const Cancelled& cancelled) {
    // The text encoder's first block, or the first step when the prompt's embedding is cached.
    const std::string what = cancelled.what();
    EXPECT_TRUE(what == "generation cancelled in the T5 encoder" ||
                what == "generation cancelled before step 1 of 4")
        << what;
  }
  EXPECT_EQ(steps_done, 0);
}

// Long phases stop inside themselves: the check runs at every transformer block, attention
// slice and VAE block, so a cancelled 4096x4096 request does not run a whole step first.
TEST_F(FluxPipelineTest, CancellationIsCheckedInsideEveryPhase) {
  params_.steps = 1;
  params_.attention.slicing = AttentionOptions::Slicing::kMax;
  int checks = 0;
  GenerateCallbacks callbacks;
  callbacks.cancelled = [&] {
    ++checks;
    return false;
  };
  pipeline_->generate(params_, callbacks);
  const int between_phases = 2;  // before the step, before decoding
  EXPECT_GT(checks, between_phases + 8) << "blocks, slices and VAE blocks are checked too";

  // Cancel at each check in turn: every one of them stops the generation where it is.
  std::set<std::string> places;
  for (int stop_at = 1; stop_at <= checks; ++stop_at) {
    int seen = 0;
    callbacks.cancelled = [&] { return ++seen == stop_at; };
    try {
      pipeline_->generate(params_, callbacks);
      ADD_FAILURE() << "check " << stop_at << " did not cancel";
    } catch (const Cancelled& cancelled) {
      places.insert(cancelled.what());
    }
  }
  for (const char* place : {"in the transformer", "in attention", "in the VAE decoder",
                            "before step 1 of 1", "before decoding"}) {
    EXPECT_EQ(places.count(std::string("generation cancelled ") + place), 1u) << place;
  }
}

TEST_F(FluxPipelineTest, ImageIOfNUsesSeedPlusI) {
  params_.steps = 2;
  params_.seed = 41;
  params_.n = 2;
  const std::vector<Image> batch = pipeline_->generate(params_);
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_EQ(batch[0].seed, 41u);
  EXPECT_EQ(batch[1].seed, 42u);
  EXPECT_NE(batch[0].rgb, batch[1].rgb);

  params_.n = 1;
  params_.seed = 42;
  const std::vector<Image> single = pipeline_->generate(params_);
  EXPECT_EQ(single[0].rgb, batch[1].rgb) << "image 1 of seed 41 must equal image 0 of seed 42";
  EXPECT_EQ(single[0].rgb.size(), static_cast<size_t>(params_.width * params_.height * 3));
}

TEST_F(FluxPipelineTest, VaeEncoderRoundTripRuns) {
  const AutoencoderKL& vae = pipeline_->vae();
  at::manual_seed(5);
  const at::Tensor image = at::rand({1, 3, 32, 48}) * 2 - 1;
  const LatentDistribution latents = vae.encode(image);
  EXPECT_EQ(latents.mean.sizes(), at::IntArrayRef({1, 16, 8, 12}));
  EXPECT_EQ(latents.logvar.sizes(), latents.mean.sizes());
  EXPECT_LE(latents.logvar.max().item<float>(), 20.0f);
  EXPECT_GE(latents.logvar.min().item<float>(), -30.0f);

  const at::Tensor draw = latents.sample(at::make_generator<at::CPUGeneratorImpl>(3));
  EXPECT_TRUE(draw.equal(latents.sample(at::make_generator<at::CPUGeneratorImpl>(3))));
  EXPECT_FALSE(draw.equal(latents.mean));

  const at::Tensor decoded = vae.decode(latents.mean);
  EXPECT_EQ(decoded.sizes(), image.sizes());
  EXPECT_TRUE(at::isfinite(decoded).all().item<bool>());
}

}  // namespace
}  // namespace flx::flux
