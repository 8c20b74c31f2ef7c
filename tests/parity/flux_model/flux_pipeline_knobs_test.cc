// FluxPipeline's memory and speed settings on the tiny-flux checkpoint: attention slicing,
// VAE slicing and tiling per request, the prompt-embedding cache and offload on the CPU. Every
// setting off is covered by the golden parity tests; these check what each one changes.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "golden_tensors.h"
#include "model/flux_pipeline.h"
#include "support/golden.h"

namespace flx::flux {
namespace {

using flx::test::max_abs_diff;

class FluxPipelineKnobs : public ::testing::Test {
 protected:
  void SetUp() override {
    FLX_GOLDEN_OR_SKIP(model_dir, "tiny-flux");
    model_dir_ = model_dir;
    const std::vector<flx::test::GoldenCase> cases = flx::test::golden_cases(model_dir);
    ASSERT_FALSE(cases.empty());
    pipeline_ = &flx::test::tiny_flux_pipeline(model_dir);
    params_ = flx::test::golden_params(cases.front());
    std::string pattern =
        (std::filesystem::temp_directory_path() / "flx_flux_knobs_XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    scratch_ = pattern;
  }
  void TearDown() override {
    if (!scratch_.empty()) std::filesystem::remove_all(scratch_);
  }

  // The raw decoder output of a generation with `params`, read back from a tensor dump.
  at::Tensor decoded(GenerateParams params, const std::string& name) const {
    params.dump_dir = scratch_ + "/" + name;
    pipeline_->generate(params);
    return flx::test::read_tensor_dir(params.dump_dir, "vae_decoded");
  }

  std::string model_dir_;
  std::string scratch_;
  const FluxPipeline* pipeline_ = nullptr;
  GenerateParams params_;
};

TEST_F(FluxPipelineKnobs, AttentionSlicingKeepsTheImage) {
  params_.steps = 1;
  const at::Tensor reference = decoded(params_, "off");
  for (const std::string setting : {"max", "3"}) {
    GenerateParams params = params_;
    params.attention = parse_attention_slicing(setting);
    EXPECT_LE(max_abs_diff(decoded(params, setting), reference), 1e-5) << setting;
  }
}

TEST_F(FluxPipelineKnobs, VaeTilingReachesTheDecoder) {
  params_.steps = 1;
  const at::Tensor whole = decoded(params_, "whole");
  GenerateParams params = params_;
  params.vae.tiling = true;
  params.vae.tile = VaeTiling{32, 8};
  const at::Tensor tiled = decoded(params, "tiled");
  ASSERT_EQ(tiled.sizes(), whole.sizes());
  EXPECT_FALSE(tiled.equal(whole)) << "a 16x16 latent map in 8x8 tiles must be tiled";

  at::manual_seed(4);
  const at::Tensor packed = at::randn({1, (96 / 8) * (128 / 8), 64});
  VaeDecodeOptions one_tile;
  one_tile.tiling = true;
  one_tile.tile = VaeTiling{128, 32};
  EXPECT_TRUE(pipeline_->decode_latents(packed, 128, 96, one_tile)
                  .equal(pipeline_->decode_latents(packed, 128, 96)))
      << "a map within one tile is decoded whole";
}

TEST_F(FluxPipelineKnobs, BadTilingFailsBeforeDenoising) {
  params_.vae.tiling = true;
  params_.vae.tile = VaeTiling{30, 0};
  int steps = 0;
  GenerateCallbacks callbacks;
  callbacks.on_step = [&](int, int, double) { ++steps; };
  try {
    pipeline_->generate(params_, callbacks);
    ADD_FAILURE() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& error) {
    EXPECT_EQ(std::string(error.what()),
              "vae_tile_size 30 must be a positive multiple of 4 (the VAE scale factor)");
  }
  EXPECT_EQ(steps, 0);
  params_.vae.tiling = false;
  params_.steps = 1;
  EXPECT_NO_THROW(pipeline_->generate(params_)) << "the tile size only matters when tiling";
}

TEST_F(FluxPipelineKnobs, VaeSlicingDecodesABatchOneImageAtATime) {
  at::manual_seed(17);
  const int64_t width = 48, height = 32;
  const int64_t tokens = (height / 8) * (width / 8);
  const at::Tensor packed = at::randn({2, tokens, 64});
  VaeDecodeOptions slicing;
  slicing.slicing = true;
  const at::Tensor sliced = pipeline_->decode_latents(packed, width, height, slicing);
  const at::Tensor batched = pipeline_->decode_latents(packed, width, height);
  ASSERT_EQ(sliced.sizes(), at::IntArrayRef({2, 3, height, width}));
  for (int64_t i = 0; i < 2; ++i) {
    EXPECT_TRUE(
        sliced[i].equal(pipeline_->decode_latents(packed.slice(0, i, i + 1), width, height)[0]))
        << "image " << i << " decoded alone";
  }
  EXPECT_LE(max_abs_diff(sliced, batched), 1e-5);
}

TEST_F(FluxPipelineKnobs, PromptCacheSkipsTheTextEncoders) {
  FluxPipelineOptions options;
  options.text_cache_size = 2;
  const FluxPipeline cached(model_dir_, at::kFloat, at::kCPU, options);
  ASSERT_NE(cached.prompt_cache(), nullptr);
  params_.steps = 1;
  const std::vector<Image> first = cached.generate(params_);
  const std::vector<Image> second = cached.generate(params_);
  EXPECT_EQ(cached.prompt_encodings(), 1u) << "the second call must not run the encoders";
  EXPECT_EQ(cached.prompt_cache()->hits(), 1u);
  EXPECT_EQ(cached.prompt_cache()->misses(), 1u);
  EXPECT_EQ(second[0].rgb, first[0].rgb);

  std::vector<int64_t> other_t5_ids = params_.t5_ids;
  other_t5_ids[1] = other_t5_ids[1] + 1;
  cached.encode_prompt(params_.clip_ids, other_t5_ids);
  EXPECT_EQ(cached.prompt_encodings(), 2u) << "another prompt_2 is another key";
  EXPECT_EQ(cached.prompt_cache()->misses(), 2u);
  cached.encode_prompt(params_.clip_ids, other_t5_ids);
  EXPECT_EQ(cached.prompt_encodings(), 2u) << "encode_prompt() uses the cache too";

  EXPECT_EQ(pipeline_->prompt_cache(), nullptr) << "no cache unless asked for";
}

TEST_F(FluxPipelineKnobs, OffloadIsAcceptedAndHasNoEffectOnTheCpu) {
  params_.steps = 1;
  for (const OffloadMode mode : {OffloadMode::kModel, OffloadMode::kSequential}) {
    FluxPipelineOptions options;
    options.offload = mode;
    const FluxPipeline offloaded(model_dir_, at::kFloat, at::kCPU, options);
    EXPECT_EQ(offloaded.offload_summary(),
              std::string("offload ") + offload_mode_name(mode) + " has no effect on cpu");
    if (mode == OffloadMode::kSequential) {
      EXPECT_EQ(offloaded.generate(params_)[0].rgb, pipeline_->generate(params_)[0].rgb);
    }
  }
  EXPECT_EQ(pipeline_->offload_summary(), "offload none: every component on cpu");
}

// Releasing unused components gives file pages back between phases; the image must not
// change, and the plan must count only what stays a view into the files.
TEST_F(FluxPipelineKnobs, ReleasingUnusedWeightsKeepsTheImageAndLowersThePeak) {
  params_.steps = 2;
  const at::Tensor reference = decoded(params_, "kept");
  FluxPipeline releasing(model_dir_, at::kFloat, c10::Device(c10::kCPU));
  EXPECT_EQ(releasing.peak_weights_bytes(), releasing.weights_bytes()) << "off by default";
  releasing.set_release_unused_weights(true);
  GenerateParams params = params_;
  params.dump_dir = scratch_ + "/released";
  releasing.generate(params);
  releasing.generate(params);  // the second call faults the released pages back in
  EXPECT_TRUE(flx::test::read_tensor_dir(params.dump_dir, "vae_decoded").equal(reference));

  // float32 files computed in float32 on the CPU are zero-copy: every byte is file-backed.
  const auto& components = releasing.component_weights();
  for (const auto& [name, weights] : components) {
    EXPECT_EQ(weights.file_backed_bytes, weights.bytes) << name;
  }
  const int64_t text = components.at("text_encoder").bytes + components.at("text_encoder_2").bytes;
  const int64_t transformer = components.at("transformer").bytes;
  EXPECT_EQ(releasing.peak_weights_bytes(),
            std::max(releasing.weights_bytes() - transformer, releasing.weights_bytes() - text));

  // In bfloat16 the float32 files are converted into memory: nothing to give back.
  FluxPipeline converted(model_dir_, at::kBFloat16, c10::Device(c10::kCPU));
  converted.set_release_unused_weights(true);
  EXPECT_EQ(converted.peak_weights_bytes(), converted.weights_bytes());
}

}  // namespace
}  // namespace flx::flux
