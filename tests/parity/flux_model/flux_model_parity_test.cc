// Numerical parity of the networks and the sampler with diffusers 0.32.2 FluxPipeline
// (float32, CPU) on every tiny-flux golden case, stage by stage: text encoders from the
// golden token ids, schedule and initial noise, each transformer step on the golden inputs,
// the VAE on the golden latents, and a whole generation.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include "golden_tensors.h"
#include "model/flow_match_scheduler.h"
#include "model/latents.h"
#include "support/golden.h"

namespace flx::flux {
namespace {

using flx::test::GoldenCase;
using flx::test::max_abs_diff;
using flx::test::psnr;
using flx::test::read_golden;

at::Tensor float_tensor(const std::vector<float>& values) {
  return at::tensor(at::ArrayRef<float>(values), at::kFloat);
}

class FluxModelParity : public ::testing::Test {
 protected:
  void SetUp() override {
    FLX_GOLDEN_OR_SKIP(model_dir, "tiny-flux");
    model_dir_ = model_dir;
    cases_ = flx::test::golden_cases(model_dir);
    ASSERT_GE(cases_.size(), 2u) << "expected the tiny-flux golden cases";
    pipeline_ = &flx::test::tiny_flux_pipeline(model_dir);
  }

  std::string model_dir_;
  std::vector<GoldenCase> cases_;
  const FluxPipeline* pipeline_ = nullptr;
};

TEST_F(FluxModelParity, TextEncodersFromGoldenTokenIds) {
  for (const GoldenCase& golden_case : cases_) {
    SCOPED_TRACE(golden_case.name);
    const GenerateParams params = flx::test::golden_params(golden_case);
    const PromptEmbeddings prompt = pipeline_->encode_prompt(params.clip_ids, params.t5_ids);
    const at::Tensor prompt_embeds = read_golden(golden_case, "prompt_embeds");
    const at::Tensor pooled = read_golden(golden_case, "pooled_prompt_embeds");
    ASSERT_EQ(prompt.prompt_embeds.sizes(), prompt_embeds.sizes());
    ASSERT_EQ(prompt.pooled.sizes(), pooled.sizes());
    EXPECT_LE(max_abs_diff(prompt.prompt_embeds, prompt_embeds), 1e-4) << "prompt_embeds";
    EXPECT_LE(max_abs_diff(prompt.pooled, pooled), 1e-4) << "pooled_prompt_embeds";
    EXPECT_TRUE(prompt.text_ids.equal(read_golden(golden_case, "text_ids")));
  }
}

TEST_F(FluxModelParity, ScheduleInitialLatentsAndPositionIdsAreIdentical) {
  for (const GoldenCase& golden_case : cases_) {
    SCOPED_TRACE(golden_case.name);
    const int64_t scale = pipeline_->vae_scale_factor();
    const int64_t latent_height = latent_size(golden_case.height, scale);
    const int64_t latent_width = latent_size(golden_case.width, scale);
    const int64_t channels = pipeline_->transformer().config().in_channels / 4;
    const at::Tensor latents = pack_latents(
        initial_noise(channels, latent_height, latent_width, golden_case.seed, at::kFloat));
    EXPECT_TRUE(latents.equal(read_golden(golden_case, "initial_latents")));
    EXPECT_TRUE(latent_image_ids(latent_height / 2, latent_width / 2, at::kFloat)
                    .equal(read_golden(golden_case, "latent_image_ids")));

    const FlowMatchSchedule schedule =
        flow_match_schedule(golden_case.steps, latents.size(1), pipeline_->scheduler_config());
    EXPECT_TRUE(float_tensor(schedule.sigmas).equal(read_golden(golden_case, "sigmas")));
    EXPECT_TRUE(float_tensor(schedule.timesteps).equal(read_golden(golden_case, "timesteps")));
  }
}

TEST_F(FluxModelParity, EveryTransformerStepOnGoldenInputs) {
  for (const GoldenCase& golden_case : cases_) {
    SCOPED_TRACE(golden_case.name);
    const at::Tensor latents_in = read_golden(golden_case, "step_latents_in");
    const at::Tensor timesteps_in = read_golden(golden_case, "step_timestep_in");
    const at::Tensor noise_pred = read_golden(golden_case, "step_noise_pred");
    FluxTransformerInputs inputs;
    inputs.encoder_hidden_states = read_golden(golden_case, "prompt_embeds");
    inputs.pooled_projections = read_golden(golden_case, "pooled_prompt_embeds");
    inputs.img_ids = read_golden(golden_case, "latent_image_ids");
    inputs.txt_ids = read_golden(golden_case, "text_ids");
    for (int step = 0; step < golden_case.steps; ++step) {
      SCOPED_TRACE("step " + std::to_string(step));
      inputs.hidden_states = latents_in[step];
      inputs.timestep = timesteps_in[step];
      const at::Tensor ours = pipeline_->transformer().forward(inputs);
      ASSERT_EQ(ours.sizes(), noise_pred[step].sizes());
      EXPECT_LE(max_abs_diff(ours, noise_pred[step]), 1e-4);
    }
  }
}

TEST_F(FluxModelParity, BlackForestLabsSingleFileTransformerComputesTheSame) {
  const ModelPaths paths{model_dir_, model_dir_ + "/flux1-small-schnell-bfl.safetensors", "", ""};
  const FluxPipeline bfl(paths, at::kFloat, at::kCPU);
  for (const GoldenCase& golden_case : cases_) {
    SCOPED_TRACE(golden_case.name);
    FluxTransformerInputs inputs;
    inputs.hidden_states = read_golden(golden_case, "step_latents_in")[0];
    inputs.timestep = read_golden(golden_case, "step_timestep_in")[0];
    inputs.encoder_hidden_states = read_golden(golden_case, "prompt_embeds");
    inputs.pooled_projections = read_golden(golden_case, "pooled_prompt_embeds");
    inputs.img_ids = read_golden(golden_case, "latent_image_ids");
    inputs.txt_ids = read_golden(golden_case, "text_ids");
    EXPECT_TRUE(bfl.transformer().forward(inputs).equal(pipeline_->transformer().forward(inputs)))
        << "the same weights under other names must give the same numbers";
  }
}

TEST_F(FluxModelParity, VaeDecodesGoldenLatents) {
  for (const GoldenCase& golden_case : cases_) {
    SCOPED_TRACE(golden_case.name);
    const at::Tensor final_latents = read_golden(golden_case, "final_latents");
    EXPECT_TRUE(pipeline_->vae_input_latents(final_latents, golden_case.width, golden_case.height)
                    .equal(read_golden(golden_case, "vae_input_latents")));
    const at::Tensor decoded =
        pipeline_->decode_latents(final_latents, golden_case.width, golden_case.height);
    const at::Tensor golden = read_golden(golden_case, "vae_decoded");
    ASSERT_EQ(decoded.sizes(), golden.sizes());
    EXPECT_LE(max_abs_diff(decoded, golden), 1e-4);
  }
}

class FluxGenerationParity : public FluxModelParity {
 protected:
  void SetUp() override {
    FluxModelParity::SetUp();
    if (IsSkipped()) return;
    std::string pattern =
        (std::filesystem::temp_directory_path() / "flx_flux_parity_XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    scratch_ = pattern;
  }
  void TearDown() override {
    if (!scratch_.empty()) std::filesystem::remove_all(scratch_);
  }
  std::string scratch_;
};

TEST_F(FluxGenerationParity, WholeGenerationMatchesTheReference) {
  for (const GoldenCase& golden_case : cases_) {
    SCOPED_TRACE(golden_case.name);
    GenerateParams params = flx::test::golden_params(golden_case);
    params.dump_dir = scratch_ + "/" + golden_case.name;
    const std::vector<Image> images = pipeline_->generate(params);
    ASSERT_EQ(images.size(), 1u);

    // Every reference tensor is dumped under the same name, with the same shape.
    for (const auto& entry : std::filesystem::directory_iterator(golden_case.dir)) {
      if (entry.path().extension() != ".bin") continue;
      const std::string name = entry.path().stem().string();
      const at::Tensor ours = flx::test::read_tensor_dir(params.dump_dir, name);
      EXPECT_EQ(ours.sizes(), read_golden(golden_case, name).sizes()) << name;
    }
    const auto dumped = [&](const std::string& name) {
      return flx::test::read_tensor_dir(params.dump_dir, name);
    };
    EXPECT_TRUE(dumped("initial_latents").equal(read_golden(golden_case, "initial_latents")));
    EXPECT_LE(max_abs_diff(dumped("final_latents"), read_golden(golden_case, "final_latents")),
              1e-3);

    const at::Tensor image = dumped("image");
    const at::Tensor golden_image = read_golden(golden_case, "image");
    EXPECT_LE(max_abs_diff(image, golden_image), 1.0 / 255) << "image, per pixel";
    EXPECT_GE(psnr(image, golden_image, 1.0), 45.0) << "image PSNR in dB";

    // The returned bytes are the dumped image, rounded like numpy_to_pil.
    const Image& ours = images[0];
    EXPECT_EQ(ours.width, golden_case.width);
    EXPECT_EQ(ours.height, golden_case.height);
    EXPECT_EQ(ours.seed, golden_case.seed);
    const at::Tensor bytes = at::from_blob(const_cast<uint8_t*>(ours.rgb.data()),
                                           {ours.height, ours.width, 3}, at::kByte);
    EXPECT_TRUE(bytes.equal((image * 255).round().to(at::kByte)));
    EXPECT_LE(max_abs_diff(bytes, (golden_image * 255).round()), 1.0) << "8-bit RGB";
  }
}

TEST_F(FluxGenerationParity, SameSeedTwiceIsBitIdentical) {
  const GoldenCase& golden_case = cases_.front();
  GenerateParams params = flx::test::golden_params(golden_case);
  params.dump_dir = scratch_ + "/first";
  const std::vector<Image> first = pipeline_->generate(params);
  params.dump_dir = scratch_ + "/second";
  const std::vector<Image> second = pipeline_->generate(params);
  EXPECT_EQ(first[0].rgb, second[0].rgb);
  for (const char* name : {"prompt_embeds", "step_noise_pred", "final_latents", "vae_decoded"}) {
    EXPECT_TRUE(flx::test::read_tensor_dir(scratch_ + "/first", name)
                    .equal(flx::test::read_tensor_dir(scratch_ + "/second", name)))
        << name;
  }
}

}  // namespace
}  // namespace flx::flux
